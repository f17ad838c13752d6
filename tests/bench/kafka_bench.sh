#!/usr/bin/env bash
# Kafka end to end on the dev broker (`x402rec broker`, librdkafka's mock cluster, loopback):
#  1. produces N generated events to x402.events (P partitions) with `x402rec gen --brokers`
#     and checks with kcat that all N are still on the topic (the mock cluster keeps only the
#     last ~5 MB of compressed batches per partition: use more partitions if it dropped some);
#  2. times a raw consume of the topic, `kcat -C -e -o beginning` to /dev/null;
#  3. times `x402rec run --brokers --until-caught-up --clock event` from an empty data dir
#     and prints its rate as a percentage of the raw consume rate (target >= 70 %);
#  4. latency: a running engine on a fresh topic while `gen --rate 10000` produces
#     LAT_EVENTS events; the engine prints event-to-committed-state latency percentiles
#     (Kafka message timestamp -> state committed) at exit (`run --latency-stats`; target:
#     median < 50 ms). The generator produces with linger.ms=5, so the figure includes it.
#
# Usage: tests/bench/kafka_bench.sh BUILD_DIR [EVENTS] [PARTITIONS]
#   BUILD_DIR   the CMake build directory holding x402rec (e.g. ./build)
#   EVENTS      events to produce (default 2000000)
#   PARTITIONS  partitions of every topic (default 16)
# Environment: LAT_EVENTS (default 100000) events for the latency phase; RUN_ARGS extra
# arguments for both `x402rec run`s (e.g. "--kafka-prop linger.ms=0"); KEEP=1 keeps the work
# directory.
set -euo pipefail

build=${1:?usage: kafka_bench.sh BUILD_DIR [EVENTS] [PARTITIONS]}
events=${2:-2000000}
partitions=${3:-16}
lat_events=${LAT_EVENTS:-100000}
read -r -a run_args <<<"${RUN_ARGS:-}"
bin="$build/x402rec"
[[ -x "$bin" ]] || { echo "kafka_bench: $bin not found; build first (ninja -C $build x402rec)" >&2; exit 2; }
[[ "$events" =~ ^[1-9][0-9]*$ ]] || { echo "kafka_bench: EVENTS must be a positive integer, got '$events'" >&2; exit 2; }
[[ "$partitions" =~ ^[1-9][0-9]*$ ]] || { echo "kafka_bench: PARTITIONS must be a positive integer, got '$partitions'" >&2; exit 2; }
command -v kcat >/dev/null || { echo "kafka_bench: kcat is required (Debian: apt-get install kcat)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/x402-kafka-bench.XXXXXX")
broker_pid=""
engine_pid=""
cleanup() {
  [[ -n "$engine_pid" ]] && kill "$engine_pid" 2>/dev/null || true
  [[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kafka_bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }

"$bin" broker --partitions "$partitions" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do grep -q '^bootstrap: ' "$work/broker.log" && break; sleep 0.1; done
brokers=$(sed -n 's/^bootstrap: //p' "$work/broker.log" | head -1)
[[ -n "$brokers" ]] || { echo "kafka_bench: broker did not start:" >&2; cat "$work/broker.log" >&2; exit 1; }
echo "kafka_bench: dev broker $brokers, $partitions partitions; $events events"

t=$(now)
"$bin" gen --brokers "$brokers" --events "$events" --agents 1000 --seed 1 --anomalies 0.001 >"$work/gen.log"
printf "  produce (x402rec gen --brokers):   %8.2f s\n" "$(since "$t")"

on_topic=$(kcat -C -b "$brokers" -t x402.events -e -o beginning -q -f 'x' 2>/dev/null | wc -c)
if [[ "$on_topic" -ne "$events" ]]; then
  echo "kafka_bench: only $on_topic of $events events are on the topic: the mock cluster dropped the oldest" >&2
  echo "  (it keeps ~5 MB of batches per partition); rerun with more partitions" >&2
  exit 1
fi

t=$(now)
kcat -C -b "$brokers" -t x402.events -e -o beginning -q >/dev/null 2>&1
raw=$(since "$t")
raw_rate=$(echo "$events / $raw" | bc -l)
printf "  raw consume (kcat -C -e):           %8.2f s  %10.0f events/s\n" "$raw" "$raw_rate"

t=$(now)
"$bin" run --brokers "$brokers" --data-dir "$work/state" --until-caught-up --clock event --group bench \
  --drain-timeout 600 "${run_args[@]}" >"$work/run.log" 2>"$work/run.err"
eng=$(since "$t")
applied=$(sed -n 's/^  events: \([0-9,]*\) applied.*/\1/p' "$work/run.log" | tr -d ,)
[[ "$applied" == "$events" ]] || echo "kafka_bench: the engine applied ${applied:-?} of $events events" >&2
eng_rate=$(echo "${applied:-0} / $eng" | bc -l)
printf "  engine (run --until-caught-up):     %8.2f s  %10.0f events/s = %.0f %% of raw consume (target >= 70 %%)\n" \
  "$eng" "$eng_rate" "$(echo "100 * $eng_rate / $raw_rate" | bc -l)"
grep -E '^  events:' "$work/run.log" | sed 's/^/    /'

# Latency at 10,000 events/s on topics of its own (events topic created by producing one
# event first; the vendor-facts topic is auto-created by the mock cluster with 4 partitions).
"$bin" gen --brokers "$brokers" --topic bench.latency --events 1 --seed 2 >/dev/null
"$bin" run --brokers "$brokers" --data-dir "$work/lat" --clock event --group bench-lat --topic bench.latency \
  --vendor-facts-topic bench.latency.facts --latency-stats "${run_args[@]}" >"$work/lat.log" 2>"$work/lat.err" &
engine_pid=$!
for _ in $(seq 1 1200); do grep -q 'x402rec run: ready' "$work/lat.err" && break; sleep 0.1; done
grep -q 'x402rec run: ready' "$work/lat.err" || { echo "kafka_bench: latency engine not ready:" >&2; cat "$work/lat.err" >&2; exit 1; }
"$bin" gen --brokers "$brokers" --topic bench.latency --events "$lat_events" --seed 3 --agents 1000 \
  --start 2025-11-18T00:00:00Z --rate 10000 --kafka-prop linger.ms=5 >/dev/null
sleep 3
kill -TERM "$engine_pid"
wait "$engine_pid" || true
engine_pid=""
printf "  latency at 10,000 events/s (%s events):\n" "$lat_events"
grep -E 'latency' "$work/lat.log" | sed 's/^ */    /'

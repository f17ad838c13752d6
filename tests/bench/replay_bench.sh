#!/usr/bin/env bash
# End-to-end throughput of `x402rec replay`: generates N events with
#   x402rec gen --agents 1000 --events N --seed 1
# then times `x402rec replay --input FILE` under GNU time (/usr/bin/time -v) and prints the
# wall time, events/s, ns/event and peak RSS. The input is read once beforehand so that the
# page cache holds it: this measures the engine, not the disk.
#
# Usage: tests/bench/replay_bench.sh [BUILD_DIR] [N]
#   BUILD_DIR  the CMake build directory holding x402rec (default: ./build)
#   N          events to generate (default: 2000000)
# Environment: ANOMALIES=RATE adds `--anomalies RATE` to gen (issue 3 measures with 0.01: every
# finding kind injected at 1 %); KEEP=1 keeps the work directory (events, replay output, time report) and
# prints its path; TMPDIR chooses where it is made (it needs ~1.1 GB for 2,000,000 events,
# the replay's temporary store included).
set -euo pipefail

build=${1:-build}
events=${2:-2000000}
bin="$build/x402rec"

if [[ ! -x "$bin" ]]; then
  echo "replay_bench: $bin not found; build first (ninja -C $build x402rec)" >&2
  exit 2
fi
if [[ ! "$events" =~ ^[1-9][0-9]*$ ]]; then
  echo "replay_bench: N must be a positive integer, got '$events'" >&2
  exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "replay_bench: /usr/bin/time (GNU time) is required (Debian: apt-get install time)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/x402-replay-bench.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "replay_bench: keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi
input="$work/events.jsonl"

anomalies=()
if [[ -n "${ANOMALIES:-}" ]]; then anomalies=(--anomalies "$ANOMALIES"); fi
"$bin" gen --agents 1000 --events "$events" --seed 1 "${anomalies[@]}" --out "$input" >"$work/gen.txt"
cat "$input" >/dev/null  # warm the page cache

# The replay's temporary store goes under $work too.
TMPDIR="$work" /usr/bin/time -v -o "$work/time.txt" \
  "$bin" replay --input "$input" >"$work/replay.txt"

# GNU time: "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34" and
# "Maximum resident set size (kbytes): 123456".
wall=$(sed -n 's/^.*Elapsed (wall clock) time.*): //p' "$work/time.txt")
rss_kb=$(sed -n 's/^.*Maximum resident set size (kbytes): //p' "$work/time.txt")
cpu_user=$(sed -n 's/^.*User time (seconds): //p' "$work/time.txt")
cpu_sys=$(sed -n 's/^.*System time (seconds): //p' "$work/time.txt")

if [[ -z "$wall" || -z "$rss_kb" ]]; then
  echo "replay_bench: cannot read $work/time.txt" >&2
  exit 1
fi

awk -v anomalies="${ANOMALIES:-}" -v wall="$wall" -v rss_kb="$rss_kb" -v n="$events" -v user="$cpu_user" -v sys="$cpu_sys" \
    -v bytes="$(stat -c %s "$input")" 'BEGIN {
  k = split(wall, p, ":"); s = 0
  for (i = 1; i <= k; i++) s = s * 60 + p[i]
  printf "x402rec replay: %d events (%.0f MB of JSONL%s) in %.2f s wall (%.2f s user, %.2f s sys)\n",
         n, bytes / 1e6, anomalies == "" ? "" : ", anomalies " anomalies, s, user, sys
  printf "  %.0f events/s, %.0f ns/event\n", n / s, s * 1e9 / n
  printf "  peak RSS %.1f MB\n", rss_kb / 1024
}'
echo "  replay said: $(head -n 1 "$work/replay.txt")"

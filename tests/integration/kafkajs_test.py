#!/usr/bin/env python3
"""Interop with an independent Kafka client: kafkajs (pure JavaScript, not librdkafka).

Against `x402rec broker` (the dev broker) on loopback:
  1. kafkajs produces a generated stream (key = subject) to x402.events;
  2. `x402rec run --brokers --clock event --until-caught-up` consumes it: every event applied,
     no dead letter, and its state digest equals `replay --brokers` of the same topic;
  3. the findings open as of the stream's end (`replay --brokers --as-of`) are exactly the
     generator's ground truth;
  4. kafkajs consumes x402.alerts (written by the engine's idempotent librdkafka producer) and
     sees every delivered alert with its x402-alert-id header.
Needs tests/node/node_modules (ops/install-deps.sh runs `npm ci` there).
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

BIN = os.path.join(os.environ.get("X402_BINARY_DIR", "."), "x402rec")
SRC = os.environ.get("X402_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PEER = os.path.join(SRC, "tests", "node", "kafkajs_peer.js")

failures = []


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def run(args, timeout=180):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def digest_of(out):
    m = re.search(r"state digest: ([0-9a-f]{64})", out)
    return m.group(1) if m else None


def main():
    if not os.path.exists(os.path.join(SRC, "tests", "node", "node_modules", "kafkajs")):
        print("FAIL: tests/node/node_modules/kafkajs missing: run ops/install-deps.sh")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        berr = open(os.path.join(tmp, "broker.log"), "w+")
        broker = subprocess.Popen([BIN, "broker", "--partitions", "4"], stdout=subprocess.PIPE, stderr=berr,
                                  text=True)
        try:
            m = re.search(r"bootstrap: (\S+)", broker.stdout.readline())
            check(m is not None, "broker prints its bootstrap address")
            if not m:
                return 1
            brokers = m.group(1)
            events = os.path.join(tmp, "events.jsonl")
            truth_path = os.path.join(tmp, "truth.json")
            g = run([BIN, "gen", "--out", events, "--events", "6000", "--agents", "12", "--seed", "7",
                     "--anomalies", "0.05", "--truth", truth_path])
            check(g.returncode == 0, "gen: %s" % g.stderr.strip())

            p = run(["node", PEER, "produce", brokers, "x402.events", events])
            check(p.returncode == 0 and json.loads(p.stdout or "{}").get("produced") == 6000,
                  "kafkajs produced 6000 events: %s %s" % (p.stdout.strip(), p.stderr.strip()))

            r = run([BIN, "run", "--brokers", brokers, "--data-dir", os.path.join(tmp, "d"), "--group", "interop",
                     "--clock", "event", "--until-caught-up", "--http", "off",
                     "--kafka-prop", "session.timeout.ms=6000", "--kafka-prop", "heartbeat.interval.ms=500"])
            check(r.returncode == 0, "run --until-caught-up exits 0: %s" % r.stderr[-800:])
            check("6,000 applied" in r.stdout and ", 0 dead letters" in r.stdout,
                  "every kafkajs message applied, none dead-lettered: %s" % r.stdout[:400])
            live = digest_of(r.stdout)
            m = re.search(r"alerts: (\d+) delivered to kafka-x402\.alerts", r.stdout)
            delivered = int(m.group(1)) if m else 0
            check(delivered > 50, "alerts delivered to x402.alerts: %d" % delivered)

            rep = run([BIN, "replay", "--brokers", brokers])
            check(rep.returncode == 0 and live is not None and digest_of(rep.stdout) == live,
                  "replay --brokers digest %s == live %s" % (digest_of(rep.stdout), live))

            truth = json.load(open(truth_path))
            report = os.path.join(tmp, "at_end.json")
            at_end = run([BIN, "replay", "--brokers", brokers, "--as-of", truth["as_of"], "--report-json", report])
            check(at_end.returncode == 0, "replay --as-of: %s" % at_end.stderr.strip())
            if at_end.returncode == 0:
                got = {(f["kind"], f["key"]) for f in json.load(open(report))["findings"] if f["status"] == "open"}
                want = {(f["kind"], f["key"]) for f in truth["open_findings"]}
                check(got == want, "open findings as of the end == ground truth (%d expected, %d missing, %d extra)"
                      % (len(want), len(want - got), len(got - want)))

            c = run(["node", PEER, "consume", brokers, "x402.alerts", str(delivered)])
            ok = c.returncode == 0
            ids = json.loads(c.stdout).get("ids", []) if ok else []
            check(ok and len(ids) >= delivered and None not in ids,
                  "kafkajs read %d alerts, each with x402-alert-id: %s" % (len(ids), c.stderr.strip()))
            check(len(set(ids)) == delivered, "distinct alert ids %d == delivered %d" % (len(set(ids)), delivered))
        finally:
            broker.send_signal(signal.SIGTERM)
            try:
                broker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                broker.kill()
    print("%d failure(s)" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

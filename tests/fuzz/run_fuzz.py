#!/usr/bin/env python3
"""Runs one libFuzzer target of tests/fuzz on its seed corpus (tests/fuzz/README.md).

  run_fuzz.py TARGET --runs N        a fixed number of runs (ctest: fuzz_TARGET_smoke)
  run_fuzz.py TARGET --seconds S     a time budget (an hour: --seconds 3600)
  run_fuzz.py TARGET ... --keep DIR  keep the corpus it grows in DIR (reused next time)

TARGET is decoder, jsonl, config, http or rpc. The seeds are built here, each run, from what the
repository already has: schemas/examples (valid and invalid events), a generated stream with
malformed lines, ops/config's example configuration, one request per API route, and JSON-RPC
answer sequences of a node (blocks, logs, a reorg, faults). A crash,
a sanitizer report or a failed property is written to the run's directory as crash-* and the
exit code is non-zero. Needs X402_BINARY_DIR (a build with -DX402_FUZZ=ON) and X402_SOURCE_DIR.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("X402_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("X402_BINARY_DIR", ".")

HTTP_SEEDS = [
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n\r\n",
    "GET /v1/agents/builder_agent HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v1/agents/builder_agent/can-spend?amount=2.50&at=2025-11-17T10:00:00Z HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v1/findings?status=open&kind=recon.reorged&agent=a&severity=critical&limit=3&cursor=abc HTTP/1.1\r\n"
    "Host: x\r\n\r\n",
    "GET /v1/findings/" + "0" * 64 + " HTTP/1.1\r\nHost: x\r\nauthorization: bearer  s3cret-token\r\n\r\n",
    "GET /v1/payments/pay_%41%2Fb HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v1/report HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v1/report.html HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /v1/report HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody",
    "HEAD /v1/agents/a%7Cb?x=1 HTTP/1.0\r\n\r\n",
]

def rpc_seeds():
    """Answer sequences a node could give the watcher's first steps ("id":0 = the request's)."""
    def ok(result):
        return '{"jsonrpc":"2.0","id":0,"result":%s}' % result

    def header(n, parent=None):
        return ok('{"number":"0x%x","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x%x"}'
                  % (n, 1000 + n, 1000 + n - 1 if parent is None else parent, 1763337600 + 2 * n))
    wallet = "0x0000000000000000000000002c59f56771ac91e5314fa240ecff7f994fdc0466"
    transfer = ('{"address":"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913","topics":['
                '"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","%s",'
                '"0x0000000000000000000000005b55deed0b5320512d43730a59b352df20cc028f"],'
                '"data":"0x%064x","blockNumber":"0x%x","blockHash":"0x%064x","transactionHash":"0x%064x",'
                '"logIndex":"0x0","removed":false}')
    used = ('{"address":"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913","topics":['
            '"0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5","%s","0x%064x"],'
            '"data":"0x","blockNumber":"0x2","blockHash":"0x%064x","transactionHash":"0x%064x",'
            '"logIndex":"0x1","removed":false}' % (wallet, 7, 1002, 99))
    logs = ok("[" + transfer % (wallet, 15000, 2, 1002, 99) + "," + used + "]")
    balance = ok('"0x%064x"' % 250000000)
    seqs = [
        [ok('"0x3"'), header(1), ok("[]"), header(2), logs, header(3), ok("[]"), balance],
        [ok('"0x3"'), header(1), header(2), header(3), logs, balance, ok('"0x4"'), header(4), ok("[]")],
        [ok('"0x2"'), header(1), header(2), logs, ok('"0x3"'), header(3, parent=77), header(2, parent=55),
         header(1), logs],
        ["!429", ok('"0x2"'), "!500", header(1), "!drop", header(2), logs],
        ['{"jsonrpc":"2.0","id":0,"error":{"code":-32005,"message":"query returned more than 10000 results"}}',
         ok('"0x2"'), header(1), logs],
    ]
    return ["\n--\n".join(s) for s in seqs]


CONFIG_SEEDS = [
    "[engine]\nbatch_size = 1000\ndedupe_horizon = 3600\nstate_cache_mb = 64\n",
    "[limits]\ndaily = \"100.00\"\nmonthly = \"1000\"\nper_transaction = \"10.5\"\n",
    "[http]\nmax_connections = 10\nhead_timeout_ms = 100\n",
    "[alerts.discord]\nwebhook = \"https://discord.com/api/webhooks/1/abc\"\n",
    "x = [1, 2\n",
]


def write_seeds(target, seeds, tmp):
    x402rec = os.path.join(BIN_DIR, "x402rec")
    if target in ("decoder", "jsonl"):
        stream = os.path.join(tmp, "stream.jsonl")
        subprocess.run([x402rec, "gen", "--out", stream, "--agents", "5", "--events", "400", "--anomalies", "0.2",
                        "--bad-lines", "0.1", "--seed", "3"], check=True, stdout=subprocess.DEVNULL)
        lines = open(stream, "rb").read().split(b"\n")
    if target == "decoder":
        for path in glob.glob(os.path.join(SRC, "schemas", "examples", "*.json")) + \
                glob.glob(os.path.join(SRC, "schemas", "examples", "invalid", "*.json")):
            shutil.copy(path, os.path.join(seeds, os.path.basename(path)))
        for i, line in enumerate(lines[:120]):
            open(os.path.join(seeds, "gen-%03d.json" % i), "wb").write(line)
    elif target == "jsonl":
        for i in range(0, min(len(lines), 200), 20):
            chunk = b"\n".join(lines[i:i + 20])
            open(os.path.join(seeds, "chunk-%03d.jsonl" % i), "wb").write(chunk + b"\n")
            open(os.path.join(seeds, "crlf-%03d.jsonl" % i), "wb").write(chunk.replace(b"\n", b"\r\n\n"))
        open(os.path.join(seeds, "no-newline.jsonl"), "wb").write(lines[0])
        open(os.path.join(seeds, "long.jsonl"), "wb").write(b"{" + b"a" * 70000 + b"}\n" + lines[1] + b"\n")
    elif target == "config":
        for path in glob.glob(os.path.join(SRC, "ops", "config", "*.toml")):
            shutil.copy(path, os.path.join(seeds, os.path.basename(path)))
        for i, text in enumerate(CONFIG_SEEDS):
            open(os.path.join(seeds, "snippet-%d.toml" % i), "w").write(text)
    elif target == "rpc":
        for i, text in enumerate(rpc_seeds()):
            open(os.path.join(seeds, "answers-%d.txt" % i), "w").write(text)
    elif target == "http":
        for i, text in enumerate(HTTP_SEEDS):
            open(os.path.join(seeds, "request-%02d.txt" % i), "wb").write(text.encode())
    else:
        sys.exit("run_fuzz.py: unknown target %r (decoder, jsonl, config, http, rpc)" % target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--keep", help="corpus directory to grow and keep")
    args = ap.parse_args()
    fuzzer = os.path.join(BIN_DIR, "tests", "fuzz", "fuzz_" + args.target)
    if not os.path.exists(fuzzer):
        sys.exit("run_fuzz.py: %s is not built (configure with -DX402_FUZZ=ON, clang)" % fuzzer)
    tmp = tempfile.mkdtemp(prefix="x402-fuzz-%s-" % args.target)
    ok = False
    try:
        seeds, grown = os.path.join(tmp, "seeds"), args.keep or os.path.join(tmp, "grown")
        os.makedirs(seeds)
        os.makedirs(grown, exist_ok=True)
        write_seeds(args.target, seeds, tmp)
        cmd = [fuzzer, "-seed=1", "-timeout=20", "-rss_limit_mb=4096", "-max_len=131072",
               "-print_final_stats=1", "-artifact_prefix=" + tmp + "/"]
        if args.runs is not None:
            cmd.append("-runs=%d" % args.runs)
        if args.seconds is not None:
            cmd.append("-max_total_time=%d" % args.seconds)
        cmd += [grown, seeds]
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        rc = subprocess.run(cmd, env=env, cwd=tmp).returncode
        crashes = glob.glob(os.path.join(tmp, "crash-*")) + glob.glob(os.path.join(tmp, "leak-*")) + \
            glob.glob(os.path.join(tmp, "timeout-*")) + glob.glob(os.path.join(tmp, "oom-*"))
        for c in crashes:
            data = open(c, "rb").read()
            print("%s (%d bytes): %r" % (os.path.basename(c), len(data), data[:300]), file=sys.stderr)
        ok = rc == 0 and not crashes
        if not ok:
            print("fuzz_%s failed (exit %d); its inputs are in %s" % (args.target, rc, tmp), file=sys.stderr)
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

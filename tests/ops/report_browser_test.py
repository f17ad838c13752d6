#!/usr/bin/env python3
"""The HTML report in a real browser (Debian's chromium-headless-shell), run by ctest.

A generated stream with every finding kind, plus events whose agent, vendor and payment id are
`<script>` and quote characters, is replayed with --report-json and --report-html. Then:
  - the page loads without a single console message (its Content-Security-Policy forbids every
    fetch and script, so anything the page tried to load would be one); the detector itself is
    checked first on a page that does make console messages;
  - the DOM chromium builds (--dump-dom) shows the same totals and finding counts as
    report.json, no element came from an event's text, and the hostile strings are text;
  - a screenshot is not blank and shows the charts laid out (pixels of their exact fills);
  - --print-to-pdf gives a PDF of several pages.
Everything is local files; nothing leaves the machine.
"""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SRC = os.environ.get("X402_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("X402_BINARY_DIR", "."), "x402rec")
FAILURES = []
HOSTILE = '<script>alert("x")</script>\'"&<img src=x onerror=alert(1)>'


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def chromium():
    for name in ("chromium-headless-shell", "chromium"):
        path = shutil.which(name)
        if path:
            return path
    print("FAIL: neither chromium-headless-shell nor chromium is installed (ops/install-deps.sh "
          "installs chromium-headless-shell)", file=sys.stderr)
    sys.exit(1)


def browse(browser, url, *args, timeout=120):
    """Runs headless chromium on url; returns (stdout, console lines)."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--hide-scrollbars", "--enable-logging=stderr", "--v=0", *args, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
    if p.returncode != 0:
        FAILURES.append(f"chromium exited {p.returncode}: {p.stderr[-2000:]}")
    return p.stdout, console


class Dom(html.parser.HTMLParser):
    """Elements by id, rows by data-kind, element counts by tag, and the page's text."""

    def __init__(self):
        super().__init__()
        self.by_id, self.kinds, self.tags, self.text = {}, {}, {}, []
        self._open_ids = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if "id" in a:
            self.by_id[a["id"]] = {"attrs": a, "text": ""}
            self._open_ids.append((tag, a["id"]))
        if "data-kind" in a:
            self.kinds[a["data-kind"]] = a

    def handle_endtag(self, tag):
        if self._open_ids and self._open_ids[-1][0] == tag:
            self._open_ids.pop()

    def handle_data(self, data):
        self.text.append(data)
        for _, i in self._open_ids:
            self.by_id[i]["text"] += data


def num(text):
    return int(text.replace(",", "").split()[0])


def png_pixels(path):
    """Decodes an 8-bit, non-interlaced RGB or RGBA PNG: (width, height, set of RGB colours
    with their counts)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    counts = {}
    i = 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 0xFF
        for x in range(0, stride, bpp):
            rgb = bytes(line[x:x + 3])
            counts[rgb] = counts.get(rgb, 0) + 1
        prev = line
    return width, height, counts


def hostile_events(path):
    """Appends events whose strings are markup: an authorization over the per-transaction
    maximum by a vendor and with a payment id of markup (a finding naming them), one whose
    agent id is markup (agent ids are checked: a dead letter whose reason quotes it), and a
    malformed line."""
    last_time = None
    with open(path) as f:
        for line in f:
            if '"time"' in line:
                try:
                    last_time = json.loads(line)["time"]
                except json.JSONDecodeError:
                    pass
    ev = {
        "specversion": "1.0", "id": "hostile-1", "source": "test/" + HOSTILE,
        "type": "x402.payment.authorized", "time": last_time, "subject": "hostile_agent",
        "datacontenttype": "application/json",
        "data": {"payment_id": "pay_" + HOSTILE, "vendor": HOSTILE, "resource": "https://x.example/" + HOSTILE,
                 "network": "base", "asset": "0x833589FCd6EDB6e08F4C7C32d4F71B54BDA02913",
                 "payer": "0x2C59F56771Ac91e5314fA240ecfF7f994fdC0466",
                 "pay_to": "0x5b55deed0b5320512d43730a59b352df20cc028f", "amount": "999000000",
                 "valid_after": "1763337092", "valid_before": "1863337992",
                 "nonce": "0x" + "ab" * 32}}
    with open(path, "a") as f:
        f.write(json.dumps(ev) + "\n")
        ev = dict(ev, id="hostile-2", subject=HOSTILE)  # agent ids are checked: a dead letter
        f.write(json.dumps(ev) + "\n")
        f.write('{"id": "' + HOSTILE.replace('"', '\\"') + '", "type": "' + HOSTILE.replace('"', '\\"') + '"\n')


def main():
    browser = chromium()
    tmp = tempfile.mkdtemp(prefix="x402-report-browser-")
    try:
        events = os.path.join(tmp, "events.jsonl")
        subprocess.run([BIN, "gen", "--out", events, "--agents", "30", "--events", "30000", "--anomalies", "0.03",
                        "--seed", "11", "--payments-per-second", "0.02"], check=True, stdout=subprocess.DEVNULL,
                       timeout=120)
        hostile_events(events)
        rj, rh = os.path.join(tmp, "report.json"), os.path.join(tmp, "report.html")
        subprocess.run([BIN, "replay", "--input", events, "--report-json", rj, "--report-html", rh],
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
        report = json.load(open(rj))
        url = "file://" + rh

        # The console detector sees a page that fetches and runs script.
        bad = os.path.join(tmp, "bad.html")
        with open(bad, "w") as f:
            f.write("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
                    "<img src=\"http://127.0.0.1:9/x.png\"><script>console.error('x')</script>")
        _, bad_console = browse(browser, "file://" + bad, "--dump-dom")
        check(len(bad_console) >= 1, f"the console detector saw nothing on a page that fetches: {bad_console}")

        dom_text, console = browse(browser, url, "--dump-dom")
        check(console == [], f"console messages while loading the report: {console}")
        dom = Dom()
        dom.feed(dom_text)
        check(dom.tags.get("script", 0) == 0, f"script elements in the page: {dom.tags.get('script')}")
        check(dom.tags.get("img", 0) == 0, f"img elements in the page: {dom.tags.get('img')}")
        check(dom.tags.get("svg", 0) >= 4, f"expected the charts' SVGs, got {dom.tags.get('svg', 0)}")
        text = "".join(dom.text)
        check(dom.by_id["state-digest"]["text"] == report["state_digest"], "state digest differs")
        ev = report["events"]
        for el, key in (("events-applied", "applied"), ("events-duplicates", "duplicates"),
                        ("events-dead-letters", "dead_letters"), ("events-skipped", "skipped_after_as_of")):
            check(num(dom.by_id[el]["text"]) == ev[key], f"{el}: page {dom.by_id[el]['text']} vs json {ev[key]}")
        check(ev["dead_letters"] >= 2, "the hostile agent id and the malformed line were not dead-lettered")
        check(num(dom.by_id["agents-count"]["text"]) == len(report["agents"]), "agent count differs")
        check(any(f["agent_id"] == "hostile_agent" and HOSTILE in f["message"] for f in report["findings"]),
              "no finding names the hostile vendor in report.json")
        check(text.count(HOSTILE) >= 2, "the hostile strings are not shown as text in the finding and "
              f"the dead letters: {text.count(HOSTILE)}")
        for kind, c in report["findings_summary"].items():
            row = dom.kinds.get(kind)
            check(row is not None, f"no row for {kind}")
            if row:
                check(int(row["data-open"]) == c["open"] and int(row["data-resolved"]) == c["resolved"],
                      f"{kind}: page {row['data-open']}/{row['data-resolved']} vs json {c}")
        total_open = sum(c["open"] for c in report["findings_summary"].values())
        check(num(dom.by_id["open-findings"]["text"]) == total_open, "open findings total differs")
        by_sev = {"critical": 0, "warning": 0, "info": 0}
        for f in report["findings"]:
            if f["status"] == "open":
                by_sev[f["severity"]] += 1
        for sev, n in by_sev.items():
            check(int(dom.by_id["open-" + sev]["attrs"]["data-count"]) == n, f"open {sev} differs")
        rec, row = report["reconciliation"], dom.by_id["recon-total"]
        # The total row's cells carry their counts as data- attributes.
        cells = re.search(r'<tr id="recon-total">(.*?)</tr>', dom_text, re.S).group(1)
        for part in ("matched", "pending", "discrepant", "unrecorded"):
            m = re.search(rf'data-{part}="(\d+)"', cells)
            check(m and int(m.group(1)) == rec[part], f"reconciliation {part} differs")
        m = re.search(r'data-settled="(\d+)"', cells)
        check(m and int(m.group(1)) == rec["payments_settled"], "settled payments differ")
        check(sum(n["payments_settled"] for n in rec["by_network"].values()) == rec["payments_settled"],
              "per-network settled payments do not add up")
        check(rec["payments_settled"] > 0 and rec["matched"] > 0 and total_open > 0,
              "the generated stream has no settled, matched or open findings: nothing was compared")

        shot = os.path.join(tmp, "shot.png")
        browse(browser, url, "--window-size=1280,4000", "--screenshot=" + shot)
        width, height, colours = png_pixels(shot)
        check((width, height) == (1280, 4000), f"screenshot size {width}x{height}")
        white = colours.get(b"\xff\xff\xff", 0)
        check(white < width * height * 0.97, f"screenshot is blank: {white} of {width * height} pixels white")
        for name, rgb in (("matched bar", "4f9a55"), ("heat map cell under 50 %", "d7ecd4"),
                          ("over-limit cell", "b3261e"), ("warning findings", "e0a030")):
            n = colours.get(bytes.fromhex(rgb), 0)
            check(n >= 50, f"the screenshot shows no {name} (#{rgb}): {n} pixels")

        pdf = os.path.join(tmp, "report.pdf")
        browse(browser, url, "--no-pdf-header-footer", "--print-to-pdf=" + pdf)
        data = open(pdf, "rb").read() if os.path.exists(pdf) else b""
        pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
        check(data.startswith(b"%PDF") and pages >= 2, f"PDF: {len(data)} bytes, {pages} pages")
        print(f"report.html {os.path.getsize(rh)} bytes; screenshot {width}x{height}, "
              f"{len(colours)} colours; PDF {len(data)} bytes, {pages} pages")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()

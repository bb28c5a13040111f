#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# hupburst.py: how many reloads a burst of SIGHUPs causes, and how long the control API stalls.
"""Measure a burst of SIGHUPs against a large registry (issue 13, item 3).

Writes a registry of N services (genreg.py, 4 instances each, checks off) with
server.http on a free loopback port, starts srvd on 127.0.0.1, waits until
/healthz answers, then sends COUNT SIGHUPs at once while a thread asks
GET /healthz every 10 ms. After a quiet period it prints the reloads logged
(`reload (SIGHUP): ...`), srvd_reloads_total from /metrics, and the longest
time /healthz went unanswered (the main thread's stall).

Usage: hupburst.py SRVD [-n SERVICES] [-c COUNT] [--gap SECONDS] [--quiet-for SECONDS]
A measurement, not a test: nothing is asserted.
"""

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import genreg  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


class Poller(threading.Thread):
    """GET /healthz every 10 ms; records the longest gap between two answers."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.longest = 0.0
        self.answers = 0

    def run(self):
        last = time.monotonic()
        while not self.stop.is_set():
            try:
                get(self.port, "/healthz")
                self.answers += 1
            except OSError:
                pass
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now
            time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser(description="SIGHUP burst against a large registry")
    ap.add_argument("srvd")
    ap.add_argument("-n", type=int, default=20000, help="services (default 20000)")
    ap.add_argument("-c", "--count", type=int, default=30, help="SIGHUPs (default 30)")
    ap.add_argument("--gap", type=float, default=0.001,
                    help="seconds between two signals (default 0.001: a loop of kill(1); "
                    "0 sends them so fast that the kernel merges most while one is pending)")
    ap.add_argument("--quiet-for", type=float, default=5.0,
                    help="seconds without a new reload line that end the run (default 5)")
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="srvd-hupburst-")
    path = os.path.join(folder, "srvd.yaml")
    http_port = free_port()
    with open(path, "w") as f:
        genreg.write_registry(f, args.n, 4, "svc.example.", "127.0.0.1:0")
    with open(path) as f:
        text = f.read().replace("  watch: false\n",
                                "  watch: false\n  http: 127.0.0.1:%d\n" % http_port)
    with open(path, "w") as f:
        f.write(text)
    log = open(os.path.join(folder, "srvd.log"), "w+")
    p = subprocess.Popen([args.srvd, "-c", path, "-w", "1"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=log)
    try:
        t0 = time.monotonic()
        while True:
            try:
                if get(http_port, "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if p.poll() is not None or time.monotonic() - t0 > 120:
                sys.exit("srvd did not start; see " + log.name)
            time.sleep(0.05)
        print("srvd up with %d services after %.2f s" % (args.n, time.monotonic() - t0))
        poller = Poller(http_port)
        poller.start()
        time.sleep(0.2)
        t1 = time.monotonic()
        for _ in range(args.count):
            os.kill(p.pid, signal.SIGHUP)
            if args.gap:
                time.sleep(args.gap)
        seen, last_change = 0, time.monotonic()
        while time.monotonic() - last_change < args.quiet_for:
            time.sleep(0.1)
            with open(log.name) as f:
                n = len(re.findall(r"reload \(SIGHUP\)", f.read()))
            if n != seen:
                seen, last_change = n, time.monotonic()
        busy = last_change - t1
        poller.stop.set()
        poller.join(120)
        metrics = get(http_port, "/metrics")[1]
        totals = re.findall(r'srvd_reloads_total\{result="(\w+)"\} (\d+)', metrics)
        print("%d SIGHUPs: %d reloads logged `reload (SIGHUP)`; srvd_reloads_total %s"
              % (args.count, seen, ", ".join("%s=%s" % kv for kv in totals)))
        print("last reload logged %.2f s after the burst; longest /healthz gap %.2f s"
              % (busy, poller.longest))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        log.close()


if __name__ == "__main__":
    main()

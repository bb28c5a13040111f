#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# etcd.py: a fleet of srvd on one etcd cluster (issue 17): write-to-answer and cold start.
"""Measures srvd with its registry in a real 3-member etcd cluster on 127.0.0.1.

    SRVD=build/srvd /usr/bin/python3 tests/bench/etcd.py [--writes 1000] [--cold 10000]

converge  3 srvd on the cluster, ETCD_BENCH_SERVICES (10) small services. --writes
          changes, half written to etcd (the gateway's /v3/kv/put, what etcdctl does), half
          through a srvd's API (PUT /v1/services/NAME, rotating over the three); each
          changes one service's address. Time from sending the write to the new address in
          the answer of *every* srvd (UDP, polled every 0.5 ms): p50, p99, max.
cold      --cold services put into etcd (txn of 100 puts each), then one srvd started:
          exec to `_ready` answering; also the range read as srvd logs it. Then --writes/10
          changes with that registry (each reload loads every etcd service again).
Prints figures, asserts nothing. Only 127.0.0.1 is used (SPEC: loopback only).
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from etcd_cluster import Cluster  # noqa: E402

SRVD = os.environ.get("SRVD") or os.path.join(HERE, "..", "..", "build", "srvd")
ZONE = "svc.test."


def b64(text):
    return base64.b64encode(text.encode()).decode()


def address(i):
    return "198.18.%d.%d" % ((i >> 8) & 255, i & 255)


def service(addr):
    return json.dumps({"port": 80, "check": {"type": "none"},
                       "instances": [{"name": "a", "address": addr}]})


def query_a(port, name, sock, qid):
    """The A addresses of name on 127.0.0.1:port (one UDP query), or None on timeout."""
    labels = (name + "." + ZONE).rstrip(".").split(".")
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\0" + struct.pack(">HH", 1, 1)
    sock.sendto(q, ("127.0.0.1", port))
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return None
    an = struct.unpack(">H", data[6:8])[0]
    # the answers' A records: skip the question, read RDATA of type 1
    p = 12
    while data[p]:
        p += data[p] + 1
    p += 5
    out = []
    for _ in range(an):
        if data[p] & 0xC0 == 0xC0:
            p += 2
        else:
            while data[p]:
                p += data[p] + 1
            p += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[p:p + 10])
        p += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(data[p:p + rdlen]))
        p += rdlen
    return out


class Daemon:
    def __init__(self, folder, endpoints, n):
        self.folder = os.path.join(folder, "srvd%d" % n)
        os.makedirs(os.path.join(self.folder, "services.d"), exist_ok=True)
        self.config = os.path.join(self.folder, "srvd.yaml")
        with open(self.config, "w") as f:
            f.write("server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
                    "  registry:\n    etcd:\n      endpoints: [%s]\n"
                    "include: services.d/*.yaml\n"
                    % (ZONE, ", ".join('"%s"' % e for e in endpoints)))
        self.log = open(os.path.join(self.folder, "stderr"), "w+")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([SRVD, "-c", self.config, "-l", "127.0.0.1:0", "-w", "2"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = int(self.wait_log(r"listening on 127\.0\.0\.1:(\d+) \(udp")[1])
        self.api = int(self.wait_log(r"api listening on 127\.0\.0\.1:(\d+)")[1])

    def wait_log(self, pattern, timeout=60):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.log.name) as f:
                m = rx.search(f.read())
            if m:
                return m
            time.sleep(0.01)
        raise SystemExit("srvd: no %r in its log:\n%s" % (pattern, open(self.log.name).read()))

    def ready_s(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        while query_a(self.port, "_ready", s, 1) != ["127.0.0.1"]:
            time.sleep(0.005)
        return time.monotonic() - self.t0

    def put(self, name, body):
        req = urllib.request.Request("http://127.0.0.1:%d/v1/services/%s" % (self.api, name),
                                     data=body.encode(), method="PUT")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def converge(cluster, daemons, writes, names):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in daemons]
    for s in socks:
        s.settimeout(1.0)
    lat = {"etcd": [], "api": []}
    qid = 0
    for i in range(writes):
        name = names[i % len(names)]
        addr = address(1000 + i)
        how = "etcd" if i % 2 == 0 else "api"
        t0 = time.monotonic()
        if how == "etcd":
            cluster.put("/srvd/services/" + name, service(addr))
        else:
            daemons[(i // 2) % len(daemons)].put(name, service(addr))
        for d, s in zip(daemons, socks):
            while True:
                qid = (qid + 1) & 0xFFFF
                if query_a(d.port, name, s, qid) == [addr]:
                    break
                if time.monotonic() - t0 > 30:
                    raise SystemExit("write %d never reached srvd port %d" % (i, d.port))
                time.sleep(0.0005)
        lat[how].append((time.monotonic() - t0) * 1000)
    return lat


def report(label, ms):
    print("  %-28s n=%-5d p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms"
          % (label, len(ms), pct(ms, 50), pct(ms, 99), max(ms)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--cold", type=int, default=10000)
    args = ap.parse_args()
    etcd, ctl = shutil.which("etcd"), shutil.which("etcdctl")
    if not etcd or not ctl:
        raise SystemExit("install etcd-server and etcd-client (./dev test does)")
    folder = tempfile.mkdtemp(prefix="srvd-bench-etcd-")
    cluster = Cluster(os.path.join(folder, "etcd"), etcd, ctl)
    daemons = []
    try:
        cluster.start()
        names = ["bench%d" % i for i in range(10)]
        for i, n in enumerate(names):
            cluster.put("/srvd/services/" + n, service(address(i)))
        daemons = [Daemon(folder, cluster.endpoints, n) for n in range(3)]
        for d in daemons:
            d.ready_s()
        print("converge: 3 srvd, 3 etcd members, %d services; write -> new answer on every "
              "srvd" % len(names))
        lat = converge(cluster, daemons, args.writes, names)
        report("etcd put", lat["etcd"])
        report("API PUT", lat["api"])
        report("all", lat["etcd"] + lat["api"])
        for d in daemons:
            d.stop()
        daemons = []

        print("cold start: %d services in etcd" % args.cold)
        t = time.monotonic()
        for base in range(0, args.cold, 100):
            ops = [{"request_put": {"key": b64("/srvd/services/cold%d" % i),
                                    "value": b64(service(address(i)))}}
                   for i in range(base, min(args.cold, base + 100))]
            cluster.call("/v3/kv/txn", {"success": ops}, timeout=30)
        print("  written in %.1f s" % (time.monotonic() - t))
        d = Daemon(folder, cluster.endpoints, 9)
        daemons = [d]
        ready = d.ready_s()
        m = d.wait_log(r"read (\d+) keys")
        print("  exec to _ready: %.2f s (srvd read %s keys)" % (ready, m[1]))
        lat = converge(cluster, [d], max(10, args.writes // 10), ["cold%d" % i for i in range(10)])
        report("a write, %d services" % (args.cold + len(names)), lat["etcd"] + lat["api"])
    finally:
        for d in daemons:
            d.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

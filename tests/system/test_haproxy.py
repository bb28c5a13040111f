# SPDX-License-Identifier: BSD-3-Clause
# test_haproxy.py: Debian's HAProxy 2.6 follows srvd's SRV answers with docs/haproxy.cfg.
"""HAProxy over SRV (README "Discovery over HTTP", issue 19).

docs/haproxy.cfg, with its addresses and ports replaced, runs against srvd
(service `web`, `max_answers: 0`, HTTP checks every 200 ms) and real HTTP
backends on 127.0.0.x. HAProxy's server list (runtime API `show servers
state` on the stats socket) and the traffic through its frontend must be
exactly the passing instances: one never passes from the start, one is
stopped and leaves, one registered through the API joins. Each backend
answers with its name, so a response says which instance served it.

Needs the Debian package haproxy (./dev test installs it); skipped, saying
so, under SRVD_TEST_TOOLS=0 (the sanitizer and distcheck runs).
"""

import os
import socket

import pytest

from api_helpers import ZONE, registry_text, request_json, start
from conftest import SLOW, SRCDIR, free_port
from tools import Backend, Process, http_get, need_tool, poll

CFG = os.path.join(SRCDIR, "docs", "haproxy.cfg")
CHECK = {"type": "http", "path": "/", "interval": "200ms", "timeout": "200ms", "rise": 1,
         "fall": 1}
# a change reaches HAProxy within a check round, then its next resolution (1 s): the
# bound is for a loaded CI machine
BOUND = 20.0 * SLOW


def web(instances):
    """The service body of a PUT: HTTP-checked, every instance in every answer."""
    return {"port": 80, "max_answers": 0, "check": CHECK,
            "instances": [{"name": n, "address": b.addr, "port": b.port}
                          for n, b in instances]}


def haproxy_config(folder, dns_port, fe_port):
    """docs/haproxy.cfg with the test's srvd, frontend, stats socket and zone."""
    sock = os.path.join(folder, "haproxy.sock")
    with open(CFG) as f:
        text = f.read()
    for old, new in (("/run/haproxy/srvd.sock", sock),
                     ("tcp@127.0.0.1:5353", "tcp@127.0.0.1:%d" % dns_port),
                     ("bind 127.0.0.1:8000", "bind 127.0.0.1:%d" % fe_port),
                     ("_web._tcp.svc.example ", "_web._tcp.%s " % ZONE.rstrip("."))):
        assert old in text, "docs/haproxy.cfg no longer has %r" % old
        text = text.replace(old, new)
    path = os.path.join(folder, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path, sock


def servers_state(sock):
    """{(addr, port)} of the servers HAProxy's runtime API shows running and not in
    maintenance (the spare server-template slots are in resolution maintenance)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5 * SLOW)
        s.connect(sock)
        s.sendall(b"show servers state web\n")
        text = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            text += chunk
    lines = text.decode().splitlines()
    header = next(line for line in lines if line.startswith("# be_id"))
    names = header[2:].split()
    up = set()
    for line in lines:
        if not line or line.startswith("#") or len(line.split()) != len(names):
            continue
        row = dict(zip(names, line.split()))
        # admin state: FMAINT 0x01, IMAINT 0x02, CMAINT 0x04, RMAINT 0x20
        if row["srv_op_state"] == "2" and int(row["srv_admin_state"]) & 0x27 == 0:
            up.add((row["srv_addr"], int(row["srv_port"])))
    return up


def served_by(fe_port, n=24):
    """The backend names that n requests through HAProxy's frontend reached (None for a
    request that failed, e.g. 503 with no server)."""
    seen = set()
    for _ in range(n):
        status, body = http_get("127.0.0.1", fe_port, "/")
        seen.add(body if status == 200 else None)
    return seen


@pytest.fixture
def haproxy_exe():
    return need_tool("haproxy", "haproxy", "/usr/sbin/haproxy")


def test_haproxy_follows_srvd(haproxy_exe, tmp_path):
    b = {n: Backend(n, "127.0.0.%d" % (60 + i)) for i, n in enumerate(("w1", "w2", "w3", "w4"))}
    b["w3"].stop()  # never passes: HAProxy must never get it
    d = start(tmp_path, registry_text())
    proxy = None
    try:
        status, body = request_json(d, "PUT", "/v1/services/web",
                                    web([(n, b[n]) for n in ("w1", "w2", "w3")]))
        assert status == 201, body
        fe_port = free_port()
        cfg, sock = haproxy_config(str(tmp_path), d.port, fe_port)
        proxy = Process([haproxy_exe, "-db", "-f", cfg], str(tmp_path / "haproxy.log"))

        def context():
            return "haproxy:\n%s\nsrvd:\n%s" % (proxy.log(), d.stderr_text()[-4000:])

        def servers_are(names):
            want = {(b[n].addr, b[n].port) for n in names}
            return lambda: os.path.exists(sock) and servers_state(sock) == want

        poll(servers_are(("w1", "w2")), BOUND, "HAProxy's servers = the passing w1, w2",
             context)
        assert served_by(fe_port) == {"w1", "w2"}, context()

        # a stopped backend leaves the server list and the traffic
        b["w2"].stop()
        poll(servers_are(("w1",)), BOUND, "w2 gone from HAProxy's servers", context)
        assert served_by(fe_port) == {"w1"}, context()

        # an instance registered through the API joins
        status, body = request_json(d, "PUT", "/v1/services/web",
                                    web([(n, b[n]) for n in ("w1", "w2", "w3", "w4")]))
        assert status == 200, body
        poll(servers_are(("w1", "w4")), BOUND, "w4 among HAProxy's servers", context)
        poll(lambda: served_by(fe_port) == {"w1", "w4"}, BOUND,
             "traffic through HAProxy reaches w1 and w4", context)
        assert proxy.alive(), context()
    finally:
        if proxy:
            proxy.stop()
        for x in b.values():
            x.stop()
        d.stop()

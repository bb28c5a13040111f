# SPDX-License-Identifier: BSD-3-Clause
# test_faults.py: bad registries at reload, hostile health backends, running out of descriptors.
"""Faults (issue 6): each is logged, counted, and answering goes on.

- The registry deleted, emptied, cut mid-line or replaced by a folder, and
  a zone file with a syntax error, at a reload by SIGHUP and by the API:
  rejected with the file's name, counted in srvd_reloads_total, and the
  last good registry keeps answering.
- HTTP backends that reset, hang, answer garbage, close mid-response or
  send an endless header: withdrawn after `fall` probes, counted in
  srvd_health_probes_total, logged once per change, DNS unaffected.
- RLIMIT_NOFILE 40 and 60 checked instances, with idle TCP clients taking
  the last descriptors: UDP and open TCP connections keep answering, the
  shortage is logged a few times (not per probe), srvd does not spin, no
  instance is withdrawn for srvd's own shortage, and it all recovers.
"""

import http.client
import os
import re
import signal
import socket
import struct
import threading
import time

import dns.message
import dns.query
import pytest

from conftest import HOST, Srvd, query, tcp_read_msg, wait_until, write_registry

ZONE = "svc.test."
API_RE = r"api listening on 127\.0\.0\.1:(\d+)"


def addrs(d, name, transport="udp"):
    r = query(d, name, "A", transport=transport, use_edns=0, payload=4096)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def txt(d, name):
    r = query(d, name, "TXT")
    return [s.decode() for rrset in r.answer for rr in rrset for s in rr.strings]


def http_call(port, method, path, timeout=5):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def metric(port, name, labels=""):
    """The value of one sample of /metrics (labels as written, e.g. 'result="failed"')."""
    _, body = http_call(port, "GET", "/metrics")
    want = name + ("{%s}" % labels if labels else "")
    for line in body.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    pytest.fail("no %s in /metrics:\n%s" % (want, body))


# --- registry and zone faults at reload ---------------------------------------------------------

GOOD = ("server:\n"
        "  zone: %s\n"
        "  http: 127.0.0.1:0\n"
        "  watch: false\n"
        "zones: [static.zone]\n"
        "services:\n"
        "  api:\n"
        "    port: 80\n"
        "    check: {type: none}\n"
        "    instances:\n"
        "      - {name: a1, address: 192.0.2.1}\n"
        "      - {name: a2, address: 192.0.2.2}\n" % ZONE)
GOOD_ZONE = "www 60 IN A 192.0.2.80\n"


def fault_deleted(folder):
    os.unlink(os.path.join(folder, "srvd.yaml"))
    return "srvd.yaml: cannot open"


def fault_empty(folder):
    open(os.path.join(folder, "srvd.yaml"), "w").close()
    return "srvd.yaml: empty"


def fault_cut(folder):
    # cut inside the last instance's flow mapping, as a full disk would
    with open(os.path.join(folder, "srvd.yaml"), "w") as f:
        f.write(GOOD[:GOOD.rindex("address: 192.0.2.2") + 12])
    return "srvd.yaml:"


def fault_folder(folder):
    os.unlink(os.path.join(folder, "srvd.yaml"))
    os.mkdir(os.path.join(folder, "srvd.yaml"))
    return "srvd.yaml: cannot open: Is a directory"


def fault_zone_syntax(folder):
    with open(os.path.join(folder, "static.zone"), "w") as f:
        f.write("www 60 IN A 192.0.2.81\nbad 60 IN A not-an-address\n")
    return "static.zone:"


def restore(folder):
    p = os.path.join(folder, "srvd.yaml")
    if os.path.isdir(p):
        os.rmdir(p)
    write_registry(folder, GOOD.replace("192.0.2.2}", "192.0.2.3}"),
                   {"static.zone": GOOD_ZONE.replace(".80", ".82")})


@pytest.mark.parametrize("trigger", ["sighup", "api"])
@pytest.mark.parametrize("fault", [fault_deleted, fault_empty, fault_cut, fault_folder,
                                   fault_zone_syntax], ids=lambda f: f.__name__[6:])
def test_bad_registry_at_reload_keeps_last_good(tmp_path, fault, trigger):
    folder = str(tmp_path)
    path = write_registry(folder, GOOD, {"static.zone": GOOD_ZONE})
    d = Srvd(path, ZONE).start()
    api = int(d.wait_log(API_RE)[-1].group(1))
    assert addrs(d, "api." + ZONE) == ["192.0.2.1", "192.0.2.2"]
    assert addrs(d, "www." + ZONE) == ["192.0.2.80"]
    failed = metric(api, "srvd_reloads_total", 'result="failed"')

    names = fault(folder)
    if trigger == "sighup":
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"reload rejected: .*\(SIGHUP\)")
    else:
        status, body = http_call(api, "POST", "/v1/reload")
        assert status == 400, body
        assert names.split(":")[0] in body, body
    # logged with the file's name, counted, and the last good data answers
    d.wait_log(r"error: \S*%s" % re.escape(names))
    assert metric(api, "srvd_reloads_total", 'result="failed"') == failed + 1
    assert metric(api, "srvd_reload_last_failure_timestamp_seconds") > 0
    for transport in ("udp", "tcp"):
        assert addrs(d, "api." + ZONE, transport) == ["192.0.2.1", "192.0.2.2"]
        assert addrs(d, "www." + ZONE, transport) == ["192.0.2.80"]

    # and a good file is taken again
    restore(folder)
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: addrs(d, "api." + ZONE) == ["192.0.2.1", "192.0.2.3"], 6.0, "good reload",
               d)
    assert addrs(d, "www." + ZONE) == ["192.0.2.82"]
    d.stop()


# --- hostile health backends --------------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Backend:
    """A raw TCP 'HTTP server' on addr whose behaviour .mode picks:
    ok, reset (RST on accept), hang (accept, never answer), garbage (not HTTP),
    midclose (close in the middle of the headers), hugeheader (an endless header)."""

    def __init__(self, addr, mode="ok"):
        self.mode = mode
        self.held = []
        self.most_sent = 0  # hugeheader: the most bytes one connection took
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(c, self.mode), daemon=True).start()

    @staticmethod
    def _read_request(c):
        c.settimeout(1.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass

    def _serve(self, c, mode):
        try:
            if mode == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if mode == "hang":
                self.held.append(c)
                c = None
                return
            self._read_request(c)
            if mode == "ok":
                c.sendall(OK)
            elif mode == "garbage":
                c.sendall(b"\x00\xff\x16\x03 this is not HTTP at all\r\n\r\n" * 4)
            elif mode == "midclose":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: te")
            elif mode == "hugeheader":
                c.sendall(b"HTTP/1.1 200 OK\r\nX-Big: ")
                c.settimeout(2.0)
                chunk = b"a" * 65536
                for i in range(1024):  # up to 64 MiB, unless srvd hangs up first
                    c.sendall(chunk)
                    self.most_sent = max(self.most_sent, (i + 1) * len(chunk))
        except OSError:
            pass
        finally:
            if c is not None:
                c.close()

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()
        for c in self.held:
            c.close()


MODES = ["reset", "hang", "garbage", "midclose", "hugeheader"]


def test_hostile_backends_are_withdrawn_and_logged_once(srvd_factory):
    backends = {m: Backend("127.0.0.%d" % (60 + i)) for i, m in enumerate(MODES)}
    try:
        text = ("server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
                "services:\n  ok:\n    port: 80\n    check: {type: none}\n"
                "    instances: [{name: o1, address: 192.0.2.1}]\n" % ZONE)
        for m, b in backends.items():
            text += ("  %s:\n    port: %d\n"
                     "    check: {type: http, interval: 300ms, timeout: 250ms, rise: 1, fall: 2}\n"
                     "    instances: [{name: i1, address: %s}]\n"
                     % (m, b.port, b.sock.getsockname()[0]))
        d = srvd_factory(text, ZONE)
        api = int(d.wait_log(API_RE)[-1].group(1))
        for m, b in backends.items():
            wait_until(lambda: addrs(d, "%s.%s" % (m, ZONE)) == [b.sock.getsockname()[0]],
                       6.0, "%s served while it answers 200" % m, d)
        before = {o: metric(api, "srvd_health_probes_total", 'type="http",outcome="%s"' % o)
                  for o in ("fail", "timeout")}
        for m, b in backends.items():
            b.mode = m
        for m in MODES:
            wait_until(lambda: addrs(d, "%s.%s" % (m, ZONE)) == [], 6.0, "%s withdrawn" % m, d)
            assert addrs(d, "ok." + ZONE) == ["192.0.2.1"]
        time.sleep(2.0)  # several more failing probes of each
        log = d.stderr_text()
        for m in MODES:
            lines = [ln for ln in log.splitlines() if (" %s/i1:" % m) in ln]
            assert len(lines) == 2, "want unchecked->passing, passing->failing only:\n" + log
            assert "passing -> failing" in lines[1]
            fields = txt(d, "_health.i1.%s.%s" % (m, ZONE))
            assert "status=failing" in fields and "served=no" in fields, fields
        after = {o: metric(api, "srvd_health_probes_total", 'type="http",outcome="%s"' % o)
                 for o in ("fail", "timeout")}
        # two failures at least per instance: hang times out, the others fail
        assert after["timeout"] - before["timeout"] >= 2
        assert after["fail"] - before["fail"] >= 2 * 4
        last = txt(d, "_health.i1.hugeheader." + ZONE)
        assert "last=http: malformed response" in last, last
        # srvd hung up early instead of reading the endless header until the
        # timeout (socket buffers hold a few MiB at most)
        assert backends["hugeheader"].most_sent < 16 << 20, backends["hugeheader"].most_sent
        # srvd's memory stayed bounded under the endless header
        with open("/proc/%d/status" % d.proc.pid) as f:
            rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        assert rss_kb < 200 * 1024, rss_kb
        # and they all come back
        for b in backends.values():
            b.mode = "ok"
        for m, b in backends.items():
            wait_until(lambda: addrs(d, "%s.%s" % (m, ZONE)) == [b.sock.getsockname()[0]],
                       6.0, "%s restored" % m, d)
    finally:
        for b in backends.values():
            b.close()


# --- running out of file descriptors ------------------------------------------------------------

N_INSTANCES = 60
NOFILE = 40


class Acceptors:
    """Listeners on 127.0.0.(100+i):port that accept and close at once."""

    def __init__(self, n):
        self.socks = []
        first = socket.socket()
        first.bind(("127.0.0.100", 0))
        self.port = first.getsockname()[1]
        self.socks.append(first)
        for i in range(1, n):
            s = socket.socket()
            s.bind(("127.0.0.%d" % (100 + i), self.port))
            self.socks.append(s)
        for s in self.socks:
            s.listen(128)
            s.setblocking(False)
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        import selectors
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        while not self.stopping:
            for key, _ in sel.select(0.1):
                try:
                    c, _ = key.fileobj.accept()
                    c.close()
                except OSError:
                    pass
        sel.close()

    def close(self):
        self.stopping = True
        self.thread.join(2)
        for s in self.socks:
            s.close()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def tcp_query(sock, name):
    q = dns.message.make_query(name, "A")
    wire = q.to_wire()
    sock.sendall(struct.pack("!H", len(wire)) + wire)
    return dns.message.from_wire(tcp_read_msg(sock))


def start_low_nofile(d):
    """Starts d with RLIMIT_NOFILE at NOFILE."""
    d.nofile = NOFILE
    return d.start()


def exhaust(d, held):
    """Opens idle TCP connections to d until it has no descriptor left, and 10 more."""
    for _ in range(NOFILE + 10):
        held.append(socket.create_connection((HOST, d.port), timeout=2))
        if fd_count(d.proc.pid) >= NOFILE:
            break
        time.sleep(0.02)
    for _ in range(10):  # these wait in the backlog
        held.append(socket.create_connection((HOST, d.port), timeout=2))


def test_out_of_descriptors_during_probes(tmp_path):
    acc = Acceptors(N_INSTANCES)
    held = []
    try:
        text = ("server:\n  zone: %s\n  max_answers: 0\n  watch: false\n"
                "services:\n  many:\n    port: %d\n"
                "    check: {type: tcp, interval: 250ms, timeout: 200ms, rise: 1, fall: 2}\n"
                "    instances:\n" % (ZONE, acc.port))
        for i in range(N_INSTANCES):
            text += "      - {name: m%d, address: 127.0.0.%d}\n" % (i, 100 + i)
        path = write_registry(str(tmp_path), text)

        d = start_low_nofile(Srvd(path, ZONE))
        pid = d.proc.pid
        d.wait_log(r"file descriptor limit \d+: at most \d+ probes in flight")
        wait_until(lambda: "passing=%d/%d" % (N_INSTANCES, N_INSTANCES)
                   in txt(d, "_health.many." + ZONE), 6.0, "all instances passing", d)

        # idle TCP clients take every descriptor srvd has left
        exhaust(d, held)
        d.wait_log(r"health: many/m\d+: cannot probe: socket: Too many open files")
        lines_before = len(d.stderr_text().splitlines())
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        end = t0 + 5.0
        answered_tcp = 0
        while time.monotonic() < end:
            # UDP answers with every instance still served: a shortage on
            # srvd's side withdraws nobody
            assert len(addrs(d, "many." + ZONE)) == N_INSTANCES
            # a connection srvd accepted earlier answers
            r = tcp_query(held[answered_tcp % 5], "_health.many." + ZONE)
            assert r.rcode() == 0
            answered_tcp += 1
            time.sleep(0.1)
        ticks = cpu_ticks(pid) - c0
        elapsed = time.monotonic() - t0
        hz = os.sysconf("SC_CLK_TCK")
        print("out of descriptors: %.2f s CPU in %.1f s, %d log lines, %d TCP answers" % (
            ticks / hz, elapsed, len(d.stderr_text().splitlines()) - lines_before, answered_tcp))
        assert ticks / hz < 0.25 * elapsed, "srvd used %.2f s CPU in %.1f s" % (ticks / hz,
                                                                             elapsed)
        new_lines = d.stderr_text().splitlines()[lines_before:]
        # the accept pause logs once a second per worker; health nothing more
        assert len(new_lines) <= 2 * 2 * elapsed + 4, "\n".join(new_lines)
        assert not [ln for ln in new_lines if "cannot probe" in ln], "\n".join(new_lines)
        assert fd_count(pid) <= NOFILE

        for s in held:
            s.close()
        held = []
        d.wait_log(r"health: probes get sockets again \(\d+ could not start\)", timeout=8)
        wait_until(lambda: len(addrs(d, "many." + ZONE, "tcp")) == N_INSTANCES,
                   6.0, "TCP accepted again", d)
        assert "passing=%d/%d" % (N_INSTANCES, N_INSTANCES) in txt(d, "_health.many." + ZONE)
        d.stop()
    finally:
        for s in held:
            s.close()
        acc.close()


def test_api_listener_out_of_descriptors(tmp_path):
    """A client of the control API while srvd has no descriptor left: the
    listener must pause (as DNS over TCP does), not spin on a readable
    socket whose accept() fails, logging a libevent warning each time."""
    text = ("server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
            "services:\n  api:\n    port: 80\n    check: {type: none}\n"
            "    instances: [{name: a1, address: 192.0.2.1}]\n" % ZONE)
    path = write_registry(str(tmp_path), text)
    d = start_low_nofile(Srvd(path, ZONE))
    api = int(d.wait_log(API_RE)[-1].group(1))
    held = []
    try:
        exhaust(d, held)
        held.append(socket.create_connection((HOST, api), timeout=2))
        time.sleep(0.5)
        lines_before = len(d.stderr_text().splitlines())
        t0, c0 = time.monotonic(), cpu_ticks(d.proc.pid)
        while time.monotonic() < t0 + 3.0:
            assert addrs(d, "api." + ZONE) == ["192.0.2.1"]
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        cpu = (cpu_ticks(d.proc.pid) - c0) / os.sysconf("SC_CLK_TCK")
        new_lines = d.stderr_text().splitlines()[lines_before:]
        assert cpu < 0.25 * elapsed, "srvd used %.2f s CPU in %.1f s" % (cpu, elapsed)
        assert len(new_lines) <= 2 * 2 * elapsed + 4, "%d lines, e.g.:\n%s" % (
            len(new_lines), "\n".join(new_lines[:10]))
        for s in held:
            s.close()
        held = []
        # and the API serves again
        wait_until(lambda: http_call(api, "GET", "/healthz", timeout=1)[0] == 200,
                   6.0, "API answering again", d)
        d.stop()
    finally:
        for s in held:
            s.close()

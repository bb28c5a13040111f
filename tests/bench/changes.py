# SPDX-License-Identifier: BSD-3-Clause
# changes.py: what one change costs srvd with a large registry (issue 15), in one run.
#
# The registry: CHANGES_SIZE services x instances (genreg.py: check none, documentation
# addresses as record data only) in CHANGES_FILES include files, plus CHANGES_API_SERVICES
# small services (2 instances, one file each, so the API may change them); server.http on a
# free 127.0.0.1 port, server.watch: true, srvd -w CHANGES_WORKERS. Phases (CHANGES_PHASES):
#   cold     exec to `_ready` answering 127.0.0.1: wall, srvd CPU, VmRSS then and once srvd
#            was idle for 1 s (steady), VmHWM; the same for an empty registry; bytes per
#            instance = (steady RSS - empty registry's) / instances
#   api      CHANGES_N PUTs of one small service each (instance i0 gets a new address),
#            then CHANGES_DELETES DELETE + re-PUT pairs: from sending the request to the
#            new answer over UDP (the later of the answer and the PUT's response)
#   edit     CHANGES_EDITS rewrites of one include file (one address changed; write, then
#            rename, as an editor does): from the end of the watcher's debounce (200 ms
#            after the rename) to the new answer
#   sustain  dnsperf -Q CHANGES_QPS for CHANGES_SUSTAIN s alone, then again while API PUTs
#            run at CHANGES_RATE per second over CHANGES_CONNS keep-alive connections:
#            queries lost, p50/p99 latency and their ratio, changes done, RSS before/after
#   reload   on a restarted srvd (the steady RSS of the registry, not of the earlier phases'
#            changes), SIGHUP right after changing one service in an include file, then after
#            changing server.ttl (every answer changes): wall until the new answer, CPU,
#            (the watcher's reload of that change, due first, yields to the pending SIGHUP
#            one in today's daemon.c, so the SIGHUP reload is the one measured)
#            peak RSS (VmHWM reset through /proc/PID/clear_refs, VmRSS also sampled every
#            20 ms) against the steady RSS before
# Each change waits for its answer before the next one is sent. srvd CPU is utime+stime
# from /proc/PID/stat over the whole phase (dead threads included), with the main thread's
# share (/proc/PID/task/PID/stat) beside it: the other threads are the DNS workers, whose
# share is mostly answering this script's polls. Every phase but sustain stops starting
# changes after CHANGES_BUDGET seconds and reports what it completed. Prints figures,
# asserts nothing. Only 127.0.0.1 is used.
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import genreg  # tests/bench/genreg.py: the registry
import peers  # tests/bench/peers.py: free_port(), read_dnsperf(), percentile()

ENV = os.environ.get
QUICK = ENV("CHANGES_QUICK", "") not in ("", "0")


def env_int(name, default, quick):
    return int(ENV(name, str(quick if QUICK else default)))


SIZE = ENV("CHANGES_SIZE", "1000x10" if QUICK else "100000x10")
N_SVC, N_INST = (int(x) for x in SIZE.split("x"))
N_FILES = env_int("CHANGES_FILES", 1000, 10)
N_SMALL = env_int("CHANGES_API_SERVICES", 100, 20)
N_CHANGES = env_int("CHANGES_N", 1000, 100)
N_DELETES = env_int("CHANGES_DELETES", 100, 20)
N_EDITS = env_int("CHANGES_EDITS", 100, 20)
RATE = env_int("CHANGES_RATE", 1000, 1000)
SUSTAIN_S = env_int("CHANGES_SUSTAIN", 60, 10)
QPS = env_int("CHANGES_QPS", 50000, 50000)
CONNS = env_int("CHANGES_CONNS", 4, 4)
WORKERS = env_int("CHANGES_WORKERS", 1, 1)
BUDGET_S = env_int("CHANGES_BUDGET", 180, 60)
POLL_US = env_int("CHANGES_POLL_US", 250, 250)
DNSPERF_ARGS = ENV("CHANGES_DNSPERF_ARGS", "-c 4 -T 1").split()
PHASES = ENV("CHANGES_PHASES", "cold,api,edit,sustain,reload").split(",")
OUTDIR = ENV("CHANGES_OUT", ".")
SRVD = os.path.abspath(ENV("SRVD", "./srvd"))
ZONE = "svc.example."
DEBOUNCE_S = 0.2  # registry/source_files.c DEBOUNCE_MS
HUP_DELAY_S = 0.2  # daemon/daemon_int.h DAEMON_HUP_DELAY_MS
ANSWER_TIMEOUT_S = 120.0  # one change; today's code needs ~10 s at 100,000 x 10
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    print("changes: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


# --- srvd's process ---------------------------------------------------------------------------

def cpu_s(pid, task=None):
    """utime+stime in seconds: of the process (threads that exited included), or of one task."""
    path = "/proc/%d/stat" % pid if task is None else "/proc/%d/task/%d/stat" % (pid, task)
    with open(path) as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mb(pid):
    return status_kb(pid, "VmRSS") / 1024.0


def hwm_mb(pid):
    return status_kb(pid, "VmHWM") / 1024.0


def reset_hwm(pid):
    """VmHWM := VmRSS now (Linux 4.0+: clear_refs 5); False when not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class Cpu:
    """srvd CPU over a stretch: the process and its main thread (the rest: other threads)."""

    def __init__(self, pid):
        self.pid = pid
        self.t0, self.m0 = cpu_s(pid), cpu_s(pid, pid)

    def settle(self, quiet=0.3, limit=30.0):
        """Waits until srvd has been idle for `quiet` s (a retired table is freed after the
        answer changed: that is part of the change's cost). Returns (total, main) seconds."""
        end, last, since = time.monotonic() + limit, cpu_s(self.pid), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.05)
            now = cpu_s(self.pid)
            if now - last > 0.02:  # more than 2 ticks: still working
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return cpu_s(self.pid) - self.t0, cpu_s(self.pid, self.pid) - self.m0


class Srvd:
    def __init__(self, config, dns_port, logpath):
        self.dns_port, self.logpath = dns_port, logpath
        with open(logpath, "a") as logf:
            self.t_exec = time.monotonic()
            self.proc = subprocess.Popen(
                [SRVD, "-c", config, "-l", "127.0.0.1:%d" % dns_port, "-w", str(WORKERS)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def wait_ready(self, dns, timeout=300.0):
        """Seconds from exec until `_ready.<zone>` answers A 127.0.0.1, polled every 5 ms."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("srvd exited with %d: see %s" % (self.proc.returncode,
                                                                    self.logpath))
            r = dns.ask("_ready." + ZONE, timeout=0.005)
            if r and r[0] == 0 and "127.0.0.1" in r[1]:
                return time.monotonic() - self.t_exec
            time.sleep(0.005)
        raise RuntimeError("srvd not ready after %.0f s: see %s" % (timeout, self.logpath))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)  # a reload in progress delays the exit
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- DNS over UDP, by hand: cheap enough to poll in a tight loop --------------------------------

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n >= 0xC0:
            return off + 2
        off += 1 + n


def parse_answer(msg):
    """(id, rcode, set of A addresses, TTL of the first A record or None)."""
    qid, flags, qd, an = struct.unpack_from("!HHHH", msg)
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    addrs, ttl = set(), None
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, rttl, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.add(socket.inet_ntoa(msg[off:off + 4]))
            ttl = rttl if ttl is None else ttl
        off += rdlen
    return qid, flags & 0xF, addrs, ttl


class Dns:
    """A queries to srvd over one connected UDP socket."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.qid = 0
        self.sent = 0

    def send(self, name):
        self.qid = (self.qid + 1) & 0xFFFF
        try:
            self.sock.send(struct.pack("!HHHHHH", self.qid, 0, 1, 0, 0, 0) + encode_name(name)
                           + struct.pack("!HH", 1, 1))
            self.sent += 1
        except OSError:  # ECONNREFUSED from an earlier query while srvd starts
            pass
        return self.qid

    def recv(self):
        """The answer to the last query sent, or None (another one, or nothing yet)."""
        while True:
            try:
                msg = self.sock.recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                return None
            try:
                r = parse_answer(msg)
            except (struct.error, IndexError):
                continue
            if r[0] == self.qid:
                return r[1:]

    def ask(self, name, timeout=1.0):
        """(rcode, addrs, ttl) or None after timeout."""
        self.send(name)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            sel = selectors.DefaultSelector()
            sel.register(self.sock, selectors.EVENT_READ)
            sel.select(max(0.0, end - time.monotonic()))
            sel.close()
            r = self.recv()
            if r:
                return r
        return None


# --- the control API: a keep-alive HTTP/1.1 client small enough to drive by hand ---------------

class Http:
    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""
        self.req = None
        self.status = None

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""

    def start(self, method, path, body=b""):
        """Sends one request (srvd closes idle connections after 10 s: then reconnects)."""
        if self.sock is None:
            self.connect()
        self.req = (method, path, body)
        self.status, self.buf, self.retried = None, b"", False
        self._send()

    def _send(self):
        method, path, body = self.req
        head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (method, path, len(body))).encode()
        self.sock.setblocking(True)
        try:
            self.sock.sendall(head + body)
        except OSError:
            self._reconnect()
            return
        finally:
            if self.sock:
                self.sock.setblocking(False)

    def _reconnect(self):
        """The connection closed before any answer: send the (idempotent) request again."""
        if self.retried:
            raise RuntimeError("API connection closed twice for %s %s" % self.req[:2])
        self.close()
        self.connect()
        self.retried = True
        self._send()

    def on_readable(self):
        """Reads what arrived; True once the whole response is in (self.status, self.body)."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            if self.buf:
                raise RuntimeError("API closed the connection mid-response")
            self._reconnect()
            return False
        self.buf += data
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        if len(rest) < length:
            return False
        self.status, self.body = int(lines[0].split()[1]), rest[:length]
        self.buf = rest[length:]
        if any(line.lower().startswith("connection: close") for line in lines):
            self.close()
        return True

    def request(self, method, path, body=b"", timeout=ANSWER_TIMEOUT_S):
        self.start(method, path, body)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            sel = selectors.DefaultSelector()
            sel.register(self.sock, selectors.EVENT_READ)
            sel.select(max(0.0, end - time.monotonic()))
            sel.close()
            if self.on_readable():
                return self.status, self.body
        raise RuntimeError("no API response to %s %s in %.0f s" % (method, path, timeout))

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None


def wait_answer(dns, qname, want, http=None, timeout=ANSWER_TIMEOUT_S):
    """Polls qname A every POLL_US until want(rcode, addrs, ttl); meanwhile reads http's
    response if one is pending. Returns (t_answer, t_http or None, http status)."""
    sel = selectors.DefaultSelector()
    sel.register(dns.sock, selectors.EVENT_READ, "dns")
    if http:
        sel.register(http.sock, selectors.EVENT_READ, "http")
    t_ans = t_http = None
    end = time.monotonic() + timeout
    next_q, sent_at, waiting = time.monotonic(), 0.0, False
    try:
        while t_ans is None or (http and t_http is None):
            now = time.monotonic()
            if now > end:
                raise RuntimeError("%s: no new answer after %.0f s" % (qname, timeout))
            if t_ans is None and now >= next_q and (not waiting or now - sent_at > 0.05):
                dns.send(qname)
                sent_at, waiting, next_q = now, True, now + POLL_US / 1e6
            wait = max(0.0, next_q - time.monotonic()) if t_ans is None else 1.0
            for key, _ in sel.select(wait):
                if key.data == "dns":
                    r = dns.recv()
                    if r:
                        waiting = False
                        if t_ans is None and want(*r):
                            t_ans = time.monotonic()
                elif http.on_readable():
                    t_http = time.monotonic()
                    sel.unregister(key.fileobj)
                    if http.status >= 300:
                        raise RuntimeError("%s %s: %d %s" % (http.req[0], http.req[1],
                                                             http.status, http.body[:300]))
                elif http.sock is not key.fileobj:  # reconnected after a close
                    sel.unregister(key.fileobj)
                    sel.register(http.sock, selectors.EVENT_READ, "http")
    finally:
        sel.close()
    return t_ans, t_http, http.status if http else None


# --- figures ------------------------------------------------------------------------------------

ROWS = []  # (phase, metric, value)


def out(phase, metric, value):
    ROWS.append((phase, metric, value))
    log("%-8s %-44s %s" % (phase, metric, value))


def ms_stats(phase, what, secs):
    if not secs:
        out(phase, what, "none completed")
        return
    s = sorted(secs)
    out(phase, what + " p50 / p99 / max ms", "%.1f / %.1f / %.1f (n=%d)" % (
        1e3 * peers.percentile(s, 0.5), 1e3 * peers.percentile(s, 0.99), 1e3 * s[-1], len(s)))


def cpu_per(phase, what, cpu, n):
    if n:
        out(phase, "srvd CPU per %s ms (main thread)" % what,
            "%.2f (%.2f)" % (1e3 * cpu[0] / n, 1e3 * cpu[1] / n))


# --- the phases ---------------------------------------------------------------------------------

class Ctx:
    pass


def small_body(j, gen):
    inst = ['{"name": "i0", "address": "%s"}' % genreg.small_address(j, 0, gen),
            '{"name": "i1", "address": "%s"}' % genreg.small_address(j, 1, 0)]
    return ('{"instances": [%s]}' % ", ".join(inst)).encode()


def small_want(j, gen):
    want = {genreg.small_address(j, 0, gen), genreg.small_address(j, 1, 0)}
    return lambda rcode, addrs, ttl: rcode == 0 and addrs == want


def phase_cold(c):
    """An empty registry first (the RSS that is not the registry's), then the big one."""
    empty = os.path.join(c.tmp, "empty", "srvd.yaml")
    os.makedirs(os.path.dirname(empty))
    with open(empty, "w") as fh:
        fh.write(genreg.server_text(0, 0, ZONE, "127.0.0.1:0", http="127.0.0.1:%d"
                                    % peers.free_port(), watch=True))
    srv = Srvd(empty, c.dns_port, c.logpath)
    try:
        srv.wait_ready(c.dns)
        Cpu(srv.pid).settle(quiet=1.0)
        c.empty_rss = rss_mb(srv.pid)
    finally:
        srv.stop()
    out("cold", "empty registry: steady VmRSS MB", "%.1f" % c.empty_rss)
    start_big(c, report=True)


def start_big(c, report=False):
    srv = Srvd(c.main, c.dns_port, c.logpath)
    c.srv = srv
    wall = srv.wait_ready(c.dns)
    cpu, rss0, hwm = cpu_s(srv.pid), rss_mb(srv.pid), hwm_mb(srv.pid)
    # after _ready srvd still works for seconds (the first IXFR history version: a sorted
    # copy of the zone) and its RSS rises and falls: steady is once it has been idle for 1 s
    t_ready = time.monotonic()
    Cpu(srv.pid).settle(quiet=1.0)
    c.steady_rss, settled = rss_mb(srv.pid), time.monotonic() - t_ready
    c.hwm_settled = hwm_mb(srv.pid)
    c.http = Http(c.http_port)
    if not report:
        return
    out("cold", "exec to _ready: wall s / srvd CPU s", "%.2f / %.2f" % (wall, cpu))
    out("cold", "VmRSS at _ready / steady (idle 1 s) MB", "%.0f / %.0f" % (rss0, c.steady_rss))
    out("cold", "srvd busy after _ready s (CPU s)", "%.1f (%.2f)" % (settled - 1.0,
                                                                   cpu_s(srv.pid) - cpu))
    out("cold", "VmHWM MB at _ready / once steady", "%.0f / %.0f" % (hwm, c.hwm_settled))
    if c.empty_rss is not None:
        out("cold", "bytes per instance (steady - empty RSS)",
            "%.0f (%d instances)" % ((c.steady_rss - c.empty_rss) * 1048576 / c.instances,
                                      c.instances))


def phase_api(c):
    lat, lat_http, lat_udp, gens = [], [], [], [0] * N_SMALL
    cpu, t_end, n = Cpu(c.srv.pid), time.monotonic() + BUDGET_S, 0
    polls0 = c.dns.sent
    for i in range(N_CHANGES):
        if time.monotonic() > t_end:
            log("api: budget of %d s spent after %d of %d PUTs" % (BUDGET_S, i, N_CHANGES))
            break
        j = i % N_SMALL
        gens[j] += 1
        t0 = time.monotonic()
        c.http.start("PUT", "/v1/services/api%d" % j, small_body(j, gens[j]))
        t_ans, t_http, _ = wait_answer(c.dns, "api%d.%s" % (j, ZONE), small_want(j, gens[j]),
                                       c.http)
        lat.append(max(t_ans, t_http) - t0)
        lat_http.append(t_http - t0)
        lat_udp.append(t_ans - t0)
        n += 1
    used = cpu.settle()
    out("api", "PUT: changes done", "%d of %d" % (n, N_CHANGES))
    ms_stats("api", "PUT to new answer", lat)
    ms_stats("api", "PUT to its response", lat_http)
    ms_stats("api", "PUT to new answer over UDP alone", lat_udp)
    cpu_per("api", "PUT", used, n)
    out("api", "poll queries sent per PUT", "%.0f" % ((c.dns.sent - polls0) / max(n, 1)))

    dl, rl, n = [], [], 0
    cpu, t_end = Cpu(c.srv.pid), time.monotonic() + BUDGET_S
    for i in range(N_DELETES):
        if time.monotonic() > t_end:
            log("api: budget of %d s spent after %d of %d DELETE + re-PUT" % (BUDGET_S, i,
                                                                                N_DELETES))
            break
        j = i % N_SMALL
        t0 = time.monotonic()
        c.http.start("DELETE", "/v1/services/api%d" % j)
        t_ans, t_http, _ = wait_answer(c.dns, "api%d.%s" % (j, ZONE),
                                       lambda rcode, addrs, ttl: rcode == 3, c.http)
        dl.append(max(t_ans, t_http) - t0)
        t0 = time.monotonic()
        c.http.start("PUT", "/v1/services/api%d" % j, small_body(j, gens[j]))
        t_ans, t_http, _ = wait_answer(c.dns, "api%d.%s" % (j, ZONE), small_want(j, gens[j]),
                                       c.http)
        rl.append(max(t_ans, t_http) - t0)
        n += 1
    used = cpu.settle()
    out("api", "DELETE + re-PUT: pairs done", "%d of %d" % (n, N_DELETES))
    ms_stats("api", "DELETE to NXDOMAIN", dl)
    ms_stats("api", "re-PUT to new answer", rl)
    cpu_per("api", "DELETE or re-PUT", used, 2 * n)


def edit_one(c, e):
    """Rewrites one include file with instance i0 of one service at a new address; returns
    (query name, wanted address, the monotonic time the rename was done)."""
    j = (e * 37) % len(c.ranges)
    first, end = c.ranges[j]
    i = first + (e * 13) % (end - first)
    old = c.overrides.get(i)
    addr = "%s%d" % (genreg.V4_NETS[e % 3], 1 + e % 254)
    if addr == old:
        addr = "%s%d" % (genreg.V4_NETS[(e + 1) % 3], 1 + e % 254)
    c.overrides[i] = addr
    text = "services:\n" + "".join(
        genreg.service_text(s, N_INST, {0: c.overrides[s]} if s in c.overrides else None)
        for s in range(first, end))
    genreg.write_atomic(os.path.join(c.dir, genreg.part_name(j)), text)
    return "i0.s%d.%s" % (i, ZONE), addr, time.monotonic()


def phase_edit(c):
    lat, raw, n = [], [], 0
    cpu, t_end = Cpu(c.srv.pid), time.monotonic() + BUDGET_S
    for e in range(N_EDITS):
        if time.monotonic() > t_end:
            log("edit: budget of %d s spent after %d of %d edits" % (BUDGET_S, e, N_EDITS))
            break
        qname, addr, t_w = edit_one(c, e)
        t_ans, _, _ = wait_answer(c.dns, qname,
                                  lambda rcode, addrs, ttl, a=addr: rcode == 0 and addrs == {a})
        raw.append(t_ans - t_w)
        lat.append(t_ans - t_w - DEBOUNCE_S)
        n += 1
    used = cpu.settle()
    out("edit", "file edits done", "%d of %d" % (n, N_EDITS))
    ms_stats("edit", "debounce end to new answer", lat)
    ms_stats("edit", "rename to new answer", raw)
    cpu_per("edit", "edit", used, n)


def dnsperf_run(c, name):
    path = os.path.join(c.tmp, "dnsperf-%s.out" % name)
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(c.dns_port), "-d", c.qfile,
            "-l", str(SUSTAIN_S), "-Q", str(QPS), "-v"] + DNSPERF_ARGS
    fh = open(path, "w")
    return subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT), fh, path


def dnsperf_result(c, name, proc, fh, path):
    rc = proc.wait()
    fh.close()
    if rc != 0:
        raise RuntimeError("dnsperf failed (%d): see %s" % (rc, path))
    stats, lat = peers.read_dnsperf(path)
    os.unlink(path)
    res = {"sent": int(stats["Queries sent"].split()[0]),
           "lost": int(stats["Queries lost"].split()[0]),
           "qps": float(stats["Queries per second"])}
    if lat:
        res["p50"], res["p99"] = 1e6 * peers.percentile(lat, 0.5), 1e6 * peers.percentile(lat,
                                                                                          0.99)
        res["max"] = 1e6 * lat[-1]
    out("sustain", "dnsperf %s: sent / lost / QPS" % name,
        "%d / %d / %.0f" % (res["sent"], res["lost"], res["qps"]))
    if lat:
        out("sustain", "dnsperf %s: p50 / p99 / max us" % name,
            "%.0f / %.0f / %.0f" % (res["p50"], res["p99"], res["max"]))
    return res


def change_load(c, duration):
    """API PUTs at RATE per second for duration s over CONNS keep-alive connections, one
    request in flight on each (a late response delays the following changes: the rate
    reached is what counts). Returns (done, latencies, errors, seconds)."""
    conns = [Http(c.http_port) for _ in range(CONNS)]
    for h in conns:
        h.connect()
    sel = selectors.DefaultSelector()
    for h in conns:
        sel.register(h.sock, selectors.EVENT_READ, h)
    idle, busy, lat, errors = list(conns), {}, [], 0
    gens, k, t0 = [0] * N_SMALL, 0, time.monotonic()
    stop = t0 + duration
    drain_end = stop + ANSWER_TIMEOUT_S
    while busy or time.monotonic() < stop:
        now = time.monotonic()
        if now > drain_end:
            log("sustain: %d PUTs unanswered %.0f s after the end" % (len(busy),
                                                                     ANSWER_TIMEOUT_S))
            break
        while idle and now < stop and k <= (now - t0) * RATE:
            h = idle.pop()
            j = k % N_SMALL
            gens[j] += 1
            old = h.sock
            h.start("PUT", "/v1/services/api%d" % j, small_body(j, gens[j]))
            if h.sock is not old:
                sel.unregister(old)
                sel.register(h.sock, selectors.EVENT_READ, h)
            busy[h] = now
            k += 1
        due = t0 + k / RATE
        wait = max(0.0, due - time.monotonic()) if idle and now < stop else 0.5
        for key, _ in sel.select(wait):
            h = key.data
            old = h.sock
            if h in busy and h.on_readable():
                lat.append(time.monotonic() - busy.pop(h))
                errors += h.status >= 300
                idle.append(h)
            if h.sock is not old:
                sel.unregister(old)
                if h.sock:
                    sel.register(h.sock, selectors.EVENT_READ, h)
    took = time.monotonic() - t0
    sel.close()
    for h in conns:
        h.close()
    return len(lat), lat, errors, took


def phase_sustain(c):
    pid = c.srv.pid
    out("sustain", "load average before", loadavg())
    p = dnsperf_run(c, "alone")
    base = dnsperf_result(c, "alone", *p)
    rss0, cpu = rss_mb(pid), Cpu(pid)
    p = dnsperf_run(c, "with changes")
    me0 = os.times()
    done, lat, errors, took = change_load(c, SUSTAIN_S)
    me1 = os.times()
    busy = dnsperf_result(c, "with changes", *p)
    used = cpu.settle()
    rss1 = rss_mb(pid)
    out("sustain", "API PUTs: asked / done / errors",
        "%d/s x %d s / %d / %d" % (RATE, SUSTAIN_S, done, errors))
    out("sustain", "changes per second reached", "%.1f" % (done / SUSTAIN_S))
    # whether this script could have sent more: its own CPU per PUT (1 ms = 1,000/s on a core)
    out("sustain", "this script's CPU per PUT ms", "%.3f" % (
        1e3 * (me1.user + me1.system - me0.user - me0.system) / max(done, 1)))
    if took > SUSTAIN_S + 1:
        out("sustain", "last PUT answered after s", "%.1f" % took)
    ms_stats("sustain", "PUT to its response", lat)
    cpu_per("sustain", "PUT (with the queries)", used, done)
    if "p99" in base and "p99" in busy:
        out("sustain", "p99 with changes / alone", "%.2f" % (busy["p99"] / base["p99"]))
    out("sustain", "VmRSS MB after start / before / after the changes",
        "%.0f / %.0f / %.0f" % (c.steady_rss, rss0, rss1))
    out("sustain", "load average after", loadavg())


def sampler(pid, stop, peak):
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], rss_mb(pid))
        except OSError:
            return
        time.sleep(0.02)


def full_reload(c, name, change, want):
    """SIGHUP right after change(): wall from the reload's start (the signal + srvd's 200 ms
    delay) to the new answer; CPU until idle; peak RSS from VmHWM reset just before."""
    pid = c.srv.pid
    time.sleep(0.5)
    steady = rss_mb(pid)
    has_hwm = reset_hwm(pid)
    stop, peak = threading.Event(), [steady]
    th = threading.Thread(target=sampler, args=(pid, stop, peak), daemon=True)
    th.start()
    cpu = Cpu(pid)
    qname = change()
    t_hup = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    t_ans, _, _ = wait_answer(c.dns, qname, want)
    used = cpu.settle()
    stop.set()
    th.join()
    after = rss_mb(pid)
    out("reload", "%s: SIGHUP + 200 ms to new answer s" % name,
        "%.2f" % (t_ans - t_hup - HUP_DELAY_S))
    out("reload", "%s: srvd CPU s (main thread)" % name, "%.2f (%.2f)" % used)
    hwm = hwm_mb(pid) if has_hwm else None
    out("reload", "%s: steady / peak VmRSS MB" % name, "%.0f / %.0f (%s)" % (
        steady, hwm if hwm else peak[0], "VmHWM after clear_refs" if hwm else
        "VmRSS every 20 ms"))
    out("reload", "%s: peak / steady RSS" % name, "%.2f (sampled every 20 ms: %.2f)" % (
        (hwm if hwm else peak[0]) / steady, peak[0] / steady))
    out("reload", "%s: VmRSS MB after" % name, "%.0f" % after)
    out("reload", "%s: peak / steady RSS after the restart" % name,
        "%.2f" % ((hwm if hwm else peak[0]) / c.fresh_rss))


def phase_reload(c):
    # a fresh srvd: the RSS the earlier phases' changes left behind (freed memory that malloc
    # keeps, the IXFR history) is not the registry's steady RSS
    c.srv.stop()
    start_big(c)
    time.sleep(2.0)
    c.fresh_rss = rss_mb(c.srv.pid)
    out("reload", "srvd restarted: steady VmRSS MB", "%.0f" % c.fresh_rss)
    e = 10 ** 6  # edits past the edit phase's

    def one_service():
        qname, addr, _ = edit_one(c, e)
        c.want_addr = addr
        return qname

    full_reload(c, "one service", one_service,
                lambda rcode, addrs, ttl: rcode == 0 and addrs == {c.want_addr})

    def ttl():
        with open(c.main, "w") as fh:
            fh.write(genreg.server_text(N_SVC, N_INST, ZONE, "127.0.0.1:%d" % c.dns_port,
                                        ttl=7, http="127.0.0.1:%d" % c.http_port,
                                        watch=True) + "include: services.d/*.yaml\n")
        return "s0." + ZONE

    full_reload(c, "server.ttl", ttl, lambda rcode, addrs, ttl: rcode == 0 and ttl == 7)


class Stop(Exception):
    """SIGTERM/SIGHUP (timeout(1), a closed terminal): unwind so that srvd is stopped."""


def on_signal(signum, frame):
    raise Stop("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if not os.access(SRVD, os.X_OK):
        log("no srvd at %s (set SRVD)" % SRVD)
        return 1
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="srvd-changes-")
    c.dir = os.path.join(c.tmp, "reg")
    os.makedirs(c.dir)
    c.main = os.path.join(c.dir, "srvd.yaml")
    c.qfile = os.path.join(c.tmp, "queries.txt")
    c.logpath = os.path.join(c.tmp, "srvd.log")
    c.dns_port, c.http_port = peers.free_port(), peers.free_port()
    c.dns = Dns(c.dns_port)
    c.srv, c.empty_rss, c.overrides = None, None, {}
    c.ranges = genreg.file_ranges(N_SVC, N_FILES)
    c.instances = N_SVC * N_INST + 2 * N_SMALL
    t_start, load_start = time.monotonic(), loadavg()
    log("%d x %d in %d files + %d small services, srvd -w %d, phases %s; files in %s" % (
        N_SVC, N_INST, N_FILES, N_SMALL, WORKERS, ",".join(PHASES), c.tmp))
    log("machine: %d CPUs, Linux %s, load average %s" % (os.cpu_count(), os.uname().release,
                                                         loadavg()))
    genreg.write_files(c.main, N_SVC, N_INST, ZONE, "127.0.0.1:%d" % c.dns_port, N_FILES,
                       N_SMALL, "127.0.0.1:%d" % c.http_port, True)
    with open(c.qfile, "w") as fh:
        genreg.write_queries(fh, N_SVC, ZONE, 100000)
    ok = False
    try:
        if "cold" in PHASES:
            phase_cold(c)
        else:
            start_big(c)
        for name, fn in (("api", phase_api), ("edit", phase_edit), ("sustain", phase_sustain),
                         ("reload", phase_reload)):
            if name in PHASES:
                log("%s: load average %s" % (name, loadavg()))
                fn(c)
        ok = True
    finally:
        if c.srv:
            c.srv.stop()
        if ok and not ENV("CHANGES_KEEP"):
            subprocess.run(["rm", "-rf", c.tmp])
        elif not ok:
            log("kept %s (srvd.log)" % c.tmp)
    legend = ("make bench-changes: %d x %d in %d include files + %d small API services, "
              "srvd -w %d (%s); %d CPUs, Linux %s; load average at the start %s, at the end "
              "%s; %.0f s" % (N_SVC, N_INST, N_FILES, N_SMALL, WORKERS, SRVD, os.cpu_count(),
                              os.uname().release, load_start, loadavg(),
                              time.monotonic() - t_start))
    text = [legend, "", "| phase | figure | value |", "|---|---|---|"]
    text += ["| %s | %s | %s |" % r for r in ROWS]
    print("\n".join(text))
    os.makedirs(OUTDIR, exist_ok=True)
    with open(os.path.join(OUTDIR, "bench-changes.md"), "w") as fh:
        fh.write("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

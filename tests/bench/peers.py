# SPDX-License-Identifier: BSD-3-Clause
# peers.py: srvd against NSD, Knot and a zero-work ceiling on the same registry, same machine.
#
# Generates N services x K instances (check none, documentation addresses as
# record data only), the equivalent RFC 1035 zone for the peers and a dnsperf
# query file (70 % A <svc>.<zone>, 20 % SRV _<svc>._tcp.<zone>, 10 % names
# that do not exist). Each server runs alone on a free 127.0.0.1 port, one
# worker, its answers checked with dnspython before it is measured. Modes:
#   udp      dnsperf saturating over UDP, nothing pinned
#   tcp      the same over TCP (dnsperf -m tcp: pipelined on -c connections)
#   udp-pin  saturating UDP, server on CPU 0 and dnsperf on CPU 1 (per-core figure)
#   lat      fixed rate (-Q) with per-query latency (p50, p99), pinned as udp-pin
# Every (server, mode) runs REPS times; each repetition visits the servers in
# a rotated order. Server CPU is utime+stime of every process in its session,
# from /proc/PID/stat, over the dnsperf run. Only 127.0.0.1 is ever used.
# A second srvd binary (SRVD_BASE, server name srvd-base in BENCH_SERVERS)
# measures a change against its base in the same run.
import csv
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import chart  # tests/bench/chart.py: the SVG beside the table

ENV = os.environ.get
N_SERVICES = int(ENV("BENCH_SERVICES", "100"))
N_INSTANCES = int(ENV("BENCH_INSTANCES", "4"))
LOAD_S = ENV("BENCH_LOAD", "10")
REPS = int(ENV("BENCH_REPS", "3"))
QPS = ENV("BENCH_QPS", "20000")
CLIENTS = ENV("BENCH_CLIENTS", "4")
THREADS = ENV("BENCH_THREADS", "1")
OUTSTANDING = ENV("BENCH_OUTSTANDING", "100")
SERVERS = ENV("BENCH_SERVERS", "srvd,nsd,knot,ceiling").split(",")
MODES = ENV("BENCH_MODES", "udp,tcp,udp-pin,lat").split(",")
SERVER_CPU = ENV("BENCH_SERVER_CPU", "0")
CLIENT_CPU = ENV("BENCH_CLIENT_CPU", "1")
OUTDIR = ENV("BENCH_OUT", ".")
ZONE = "svc.example."
TTL = 5
N_QUERIES = 20000  # lines in the query file; dnsperf loops over it
CLK_TCK = os.sysconf("SC_CLK_TCK")
PINNED_MODES = ("udp-pin", "lat")
DNSPERF_ARGS = {
    "udp": ["-c", CLIENTS, "-T", THREADS, "-q", OUTSTANDING],
    "tcp": ["-m", "tcp", "-c", CLIENTS, "-T", THREADS, "-q", OUTSTANDING],
    "udp-pin": ["-c", CLIENTS, "-T", THREADS, "-q", OUTSTANDING],
    "lat": ["-c", CLIENTS, "-T", THREADS, "-Q", QPS, "-v"],
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pinned(cpu, argv):
    """argv pinned to one CPU when taskset exists and that CPU is ours."""
    if shutil.which("taskset") and int(cpu) in os.sched_getaffinity(0):
        return ["taskset", "-c", cpu] + argv
    return argv


class Stop(Exception):
    """SIGTERM/SIGHUP: unwind through the finally blocks that stop servers."""


def on_signal(signum, frame):
    raise Stop("signal %d" % signum)


# --- the data -------------------------------------------------------------------

def svc(s):
    return "s%03d" % s if N_SERVICES <= 1000 else "s%06d" % s


def inst_addr(s, k):
    """Documentation addresses only: every fourth instance IPv6, the rest IPv4."""
    n = s * N_INSTANCES + k
    if k % 4 == 3:
        return "AAAA", "2001:db8::%x:%x" % (n >> 16, n & 0xFFFF)
    block = ("192.0.2", "198.51.100", "203.0.113")[n % 3]
    return "A", "%s.%d" % (block, 1 + (n // 3) % 254)


def n_v4():
    return sum(1 for k in range(N_INSTANCES) if inst_addr(0, k)[0] == "A")


def write_registry(path):
    out = ["server:", '  listen: ["127.0.0.1:0"]', "  zone: " + ZONE, "  ttl: %d" % TTL,
           "  max_answers: 0",
           "  soa: {mname: ns1.%s, rname: hostmaster.%s, ttl: 3600, refresh: 3600, "
           "retry: 600, expire: 86400, minimum: 5}" % (ZONE, ZONE),
           "  ns: [ns1.%s]" % ZONE, "defaults:", "  check: {type: none}",
           "  policy: round-robin", "services:"]
    for s in range(N_SERVICES):
        out += ["  %s:" % svc(s), "    port: %d" % (8000 + s % 1000), "    instances:"]
        for k in range(N_INSTANCES):
            out.append('      - {name: i%d, address: "%s"}' % (k, inst_addr(s, k)[1]))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def write_zone(path):
    """What srvd serves for the registry, as RFC 1035 records."""
    out = ["$ORIGIN " + ZONE, "$TTL 3600",
           "@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 5", "@ 3600 IN NS ns1"]
    for s in range(N_SERVICES):
        name, port = svc(s), 8000 + s % 1000
        for k in range(N_INSTANCES):
            rtype, addr = inst_addr(s, k)
            target = "i%d.%s" % (k, name)
            out.append("%s %d IN %s %s" % (target, TTL, rtype, addr))
            out.append("%s %d IN %s %s" % (name, TTL, rtype, addr))
            out.append("%s %d IN SRV 0 1 %d %s" % (name, TTL, port, target))
            out.append("_%s._tcp %d IN SRV 0 1 %d %s" % (name, TTL, port, target))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def write_queries(path):
    rnd = random.Random(5)
    with open(path, "w") as fh:
        for i in range(N_QUERIES):
            s, x = svc(rnd.randrange(N_SERVICES)), rnd.random()
            if x < 0.7:
                fh.write("%s.%s A\n" % (s, ZONE))
            elif x < 0.9:
                fh.write("_%s._tcp.%s SRV\n" % (s, ZONE))
            else:
                fh.write("nx%d-%s.%s A\n" % (i, s, ZONE))


# --- the servers -----------------------------------------------------------------

def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port on 127.0.0.1")


def nsd_conf(tmp, port, zonefile):
    d = os.path.join(tmp, "nsd")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nsd.conf")
    with open(conf, "w") as fh:
        fh.write("""server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{d}"
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
  zonefiles-write: 0
  zonefiles-check: no
  rrl-ratelimit: 0
  hide-version: no
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: {zone}
  zonefile: "{zonefile}"
""".format(port=port, d=d, zone=ZONE, zonefile=zonefile))
    return ["nsd", "-d", "-c", conf]


def knot_conf(tmp, port, zonefile):
    d = os.path.join(tmp, "knot")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as fh:
        fh.write("""server:
  rundir: "{d}"
  listen: 127.0.0.1@{port}
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "{d}"
control:
  listen: "{d}/knot.sock"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {zone}
    file: "{zonefile}"
""".format(port=port, d=d, zone=ZONE, zonefile=zonefile))
    return ["knotd", "-c", conf]


class Server:
    def __init__(self, name, argv, port, logpath, pin):
        self.name, self.port = name, port
        argv = pinned(SERVER_CPU, argv) if pin else argv
        with open(logpath, "w") as logf:
            # its own session: the whole tree (NSD forks) is measured and stopped together
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.logpath = logpath

    def wait_ready(self, probe, timeout=20):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d: see %s"
                                   % (self.name, self.proc.returncode, self.logpath))
            try:
                query(self.port, probe, "A", timeout=0.2)
                return
            except (dns.exception.Timeout, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("%s not answering after %d s: see %s"
                           % (self.name, timeout, self.logpath))

    def pids(self):
        """Every process of the server's session (NSD runs a main, xfrd and server child)."""
        out = []
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % e) as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[3]) == self.proc.pid:  # field 6, session id
                out.append(int(e))
        return out

    def cpu_ticks(self):
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
                total += int(f[11]) + int(f[12])  # fields 14 and 15: utime, stime
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        # children left behind by a parent that died first
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_server(name, ctx, pin):
    port = free_port()
    tmp = ctx["tmp"]
    logpath = os.path.join(tmp, "%s-%d.log" % (name, port))
    if name in ("srvd", "srvd-base"):
        argv = [ctx[name], "-c", ctx["registry"], "-w", "1", "-q",
                "-l", "127.0.0.1:%d" % port]
    elif name == "nsd":
        argv = nsd_conf(tmp, port, ctx["zonefile"])
    elif name == "knot":
        argv = knot_conf(tmp, port, ctx["zonefile"])
    elif name == "ceiling":
        argv = [ctx["ceiling"], "127.0.0.1", str(port)]
    else:
        raise RuntimeError("unknown server " + name)
    srv = Server(name, argv, port, logpath, pin)
    try:
        srv.wait_ready("%s.%s" % (svc(0), ZONE))
    except BaseException:
        srv.stop()
        raise
    return srv


# --- answer checks -----------------------------------------------------------------

def query(port, name, rdtype, timeout=1.0):
    return dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port,
                         timeout=timeout)


def check_answers(srv):
    """A sample of the query mix: rcode, AA, answer count and data, SOA on NXDOMAIN."""
    if srv.name == "ceiling":
        r = query(srv.port, "%s.%s" % (svc(0), ZONE), "A")
        if not r.flags & dns.flags.QR or r.answer:
            raise RuntimeError("ceiling: expected the query back with QR set: %s" % r)
        return 1
    v4 = n_v4()
    errors, n = [], 0
    for s in sorted({0, N_SERVICES - 1} | set(range(0, N_SERVICES, max(1, N_SERVICES // 10)))):
        name = svc(s)
        want_a = {inst_addr(s, k)[1] for k in range(N_INSTANCES) if inst_addr(s, k)[0] == "A"}
        want_srv = {"0 1 %d i%d.%s.%s" % (8000 + s % 1000, k, name, ZONE)
                    for k in range(N_INSTANCES)}
        cases = [("%s.%s" % (name, ZONE), "A", dns.rcode.NOERROR, v4, want_a),
                 ("_%s._tcp.%s" % (name, ZONE), "SRV", dns.rcode.NOERROR, N_INSTANCES,
                  want_srv),
                 ("nx%d-%s.%s" % (s, name, ZONE), "A", dns.rcode.NXDOMAIN, 0, set())]
        for qname, qtype, rcode, count, data in cases:
            n += 1
            r = query(srv.port, qname, qtype)
            got = {rd.to_text() for rrset in r.answer for rd in rrset}
            nrec = sum(len(rrset) for rrset in r.answer)
            soa = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
            why = []
            if r.rcode() != rcode:
                why.append("rcode %s" % dns.rcode.to_text(r.rcode()))
            if not r.flags & dns.flags.AA:
                why.append("no AA")
            if nrec != count or got != data:
                why.append("answer %d records %s" % (nrec, sorted(got)))
            if rcode == dns.rcode.NXDOMAIN and not soa:
                why.append("no SOA in authority")
            if why:
                errors.append("%s %s %s: %s" % (srv.name, qname, qtype, ", ".join(why)))
    if errors:
        raise RuntimeError("wrong answers:\n  " + "\n  ".join(errors))
    return n


# --- dnsperf --------------------------------------------------------------------------

def check_rcodes(name, mode, text, done):
    """A server that refuses or fails fast would look fast: only the mix's rcodes may count."""
    counts = {}
    for part in text.split(","):
        f = part.split()
        if len(f) >= 2:
            counts[f[0]] = int(f[1])
    want = {"NOERROR"} if name == "ceiling" else {"NOERROR", "NXDOMAIN"}
    nx = counts.get("NXDOMAIN", 0) / done if done else 0.0
    if set(counts) - want or (name != "ceiling" and not 0.05 <= nx <= 0.15):
        raise RuntimeError("%s %s: unexpected response codes: %s" % (name, mode, text))


def read_dnsperf(path):
    """dnsperf's report as {"Queries sent": "...", ...} and, with -v, every answered query's
    latency in seconds, sorted (changes.py reads its runs the same way)."""
    lat, stats = [], {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("> "):
                lat.append(float(line.rsplit(None, 1)[1]))
            elif ":" in line:
                k, _, v = line.strip().partition(":")
                stats[k.strip()] = v.strip()
    lat.sort()
    return stats, lat


def percentile(sorted_vals, q):
    """The q-quantile (0..1) of sorted values: the element at floor(n * q), the last at most."""
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * q))]


def dnsperf(srv, qfile, mode):
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(srv.port), "-d", qfile, "-l", LOAD_S]
    argv += DNSPERF_ARGS[mode]
    if mode in PINNED_MODES:
        argv = pinned(CLIENT_CPU, argv)
    out = os.path.join(os.path.dirname(qfile), "dnsperf.out")
    c0, t0 = srv.cpu_ticks(), time.monotonic()
    with open(out, "w") as fh:
        rc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT).returncode
    wall, c1 = time.monotonic() - t0, srv.cpu_ticks()
    if rc != 0:
        raise RuntimeError("dnsperf failed (%d): %s; see %s" % (rc, " ".join(argv), out))
    stats, lat = read_dnsperf(out)
    os.unlink(out)
    if srv.proc.poll() is not None:
        raise RuntimeError("%s died during %s: see %s" % (srv.name, mode, srv.logpath))
    done = int(stats["Queries completed"].split()[0])
    check_rcodes(srv.name, mode, stats.get("Response codes", ""), done)
    cpu_s = (c1 - c0) / CLK_TCK
    res = {
        "qps": float(stats["Queries per second"]),
        "sent": int(stats["Queries sent"].split()[0]),
        "lost": int(stats["Queries lost"].split()[0]),
        "avg_us": 1e6 * float(stats["Average Latency (s)"].split()[0]),
        "rcodes": stats.get("Response codes", ""),
        "cpu_pct": 100.0 * cpu_s / wall,
        "us_per_q": 1e6 * cpu_s / done if done else float("nan"),
    }
    res["qps_core"] = res["qps"] / (res["cpu_pct"] / 100.0) if cpu_s else float("nan")
    if lat:
        res["p50_us"] = 1e6 * percentile(lat, 0.5)
        res["p99_us"] = 1e6 * percentile(lat, 0.99)
    return res


# --- results -----------------------------------------------------------------------------

COLS = [("server", "server"), ("mode", "mode"), ("runs", "runs"),
        ("qps_med", "QPS median"), ("qps_min", "QPS min"), ("qps_max", "QPS max"),
        ("avg_us", "lat avg us"), ("p50_us", "p50 us"), ("p99_us", "p99 us"),
        ("lost", "lost"), ("cpu_pct", "server CPU %"), ("qps_core", "QPS per core"),
        ("us_per_q", "CPU us/query"), ("work_us", "DNS work us/query")]


def med(rows, key):
    vals = [r[key] for r in rows if key in r and r[key] == r[key]]
    return statistics.median(vals) if vals else None


def summarise(runs):
    table = []
    for mode in MODES:
        ceil = [r for r in runs if r["server"] == "ceiling" and r["mode"] == mode]
        ceil_us = med(ceil, "us_per_q")
        for name in SERVERS:
            rs = [r for r in runs if r["server"] == name and r["mode"] == mode]
            if not rs:
                continue
            us = med(rs, "us_per_q")
            table.append({
                "server": name, "mode": mode, "runs": len(rs),
                "qps_med": med(rs, "qps"), "qps_min": min(r["qps"] for r in rs),
                "qps_max": max(r["qps"] for r in rs), "avg_us": med(rs, "avg_us"),
                "p50_us": med(rs, "p50_us"), "p99_us": med(rs, "p99_us"),
                "lost": sum(r["lost"] for r in rs), "cpu_pct": med(rs, "cpu_pct"),
                "qps_core": med(rs, "qps_core"), "us_per_q": us,
                "work_us": us - ceil_us if us is not None and ceil_us is not None else None,
            })
    return table


def fmt(key, v):
    if v is None:
        return "-"
    if key in ("server", "mode", "runs", "lost"):
        return str(v)
    if key in ("us_per_q", "work_us"):
        return "%.2f" % v
    if key in ("cpu_pct",):
        return "%.1f" % v
    return "%.0f" % v


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def ratios(table):
    """srvd's figures over each peer's: (mode, metric, {peer: ratio}, better-when)."""
    out = []
    by = {(r["server"], r["mode"]): r for r in table}
    metrics = [("qps_med", "QPS median", "higher"), ("qps_core", "QPS per core", "higher"),
               ("us_per_q", "CPU us/query", "lower"), ("work_us", "DNS work us/query", "lower"),
               ("p50_us", "p50 latency", "lower"), ("p99_us", "p99 latency", "lower")]
    for mode in MODES:
        me = by.get(("srvd", mode))
        if not me:
            continue
        for key, label, better in metrics:
            rr = {p: ratio(me[key], by[(p, mode)][key]) for p in SERVERS
                  if p != "srvd" and (p, mode) in by}
            if key == "work_us":
                rr.pop("ceiling", None)
            if any(v is not None for v in rr.values()):
                out.append((mode, label, rr, better))
    return out


def targets(table):
    """The issue's targets that one run can decide, with the measured ratio."""
    by = {(r["server"], r["mode"]): r for r in table}

    def get(s, m, k):
        return by[(s, m)][k] if (s, m) in by and by[(s, m)][k] is not None else None

    lines = []

    def add(text, a, b, ok):
        r = ratio(a, b)
        if r is None:
            lines.append("- %s: not measured" % text)
        else:
            lines.append("- %s: %s (ratio %.2f)" % (text, "met" if ok(r) else "NOT met", r))

    for peer in ("nsd", "knot"):
        add("UDP pinned QPS per core above %s's" % peer, get("srvd", "udp-pin", "qps_core"),
            get(peer, "udp-pin", "qps_core"), lambda r: r > 1.0)
    add("UDP pinned QPS per core within 10 % of the ceiling's",
        get("srvd", "udp-pin", "qps_core"), get("ceiling", "udp-pin", "qps_core"),
        lambda r: r >= 0.9)
    add("UDP pinned DNS work per query at most 1/3 of NSD's",
        get("srvd", "udp-pin", "work_us"), get("nsd", "udp-pin", "work_us"),
        lambda r: r <= 1 / 3)
    peers = [get(p, "udp", "qps_med") for p in ("nsd", "knot")]
    peers = [p for p in peers if p is not None]
    add("UDP saturating QPS at least the better peer's", get("srvd", "udp", "qps_med"),
        max(peers) if peers else None, lambda r: r >= 1.0)
    add("TCP QPS at least Knot's", get("srvd", "tcp", "qps_med"), get("knot", "tcp", "qps_med"),
        lambda r: r >= 1.0)
    for k in ("p50_us", "p99_us"):
        add("%s at %s QPS no worse than NSD's" % (k[:3], QPS), get("srvd", "lat", k),
            get("nsd", "lat", k), lambda r: r <= 1.0)
    return lines


def render(table, machine):
    head = [label for _, label in COLS]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        md.append("| " + " | ".join(fmt(k, r[k]) for k, _ in COLS) + " |")
    peers = [p for p in SERVERS if p != "srvd"]
    md += ["", "srvd / peer (for QPS higher is better; for CPU, work and latency lower is):", "",
           "| mode | metric | " + " | ".join("srvd/%s" % p for p in peers) + " |",
           "|---|---|" + "---|" * len(peers)]
    for mode, label, rr, _ in ratios(table):
        cells = ["%.2f" % rr[p] if rr.get(p) is not None else "-" for p in peers]
        md.append("| %s | %s | %s |" % (mode, label, " | ".join(cells)))
    md += ["", "Targets (issue 5):", ""] + targets(table)
    md += ["", "Machine: " + machine]
    return "\n".join(md) + "\n"


def machine_line():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d CPUs (%s), Linux %s" % (os.cpu_count(), cpu, os.uname().release)


def versions():
    out = []
    for argv in (["nsd", "-v"], ["knotd", "-V"], ["dnsperf", "-h"]):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            text = (p.stdout + p.stderr).splitlines()
            line = next((t for t in text if "ersion" in t), text[0] if text else "?")
            out.append("%s: %s" % (argv[0], line.strip()))
        except (OSError, subprocess.TimeoutExpired):
            out.append("%s: missing" % argv[0])
    return "; ".join(out)


LEGEND = """\
{ns} services x {ni} instances ({v4} A + {v6} AAAA each, check none, max_answers 0), zone
{zone}; query mix 70 % A <svc>, 20 % SRV _<svc>._tcp, 10 % NXDOMAIN ({nq} lines, looped).
Every server: one worker on 127.0.0.1 (srvd -w 1; NSD server-count 1, rrl-ratelimit 0;
Knot udp-workers 1, tcp-workers 1, background-workers 1; ceiling = tests/bench/ceiling,
no DNS work). dnsperf -l {load} -c {c} -T {t}:
  udp      -q {q}, saturating, nothing pinned (knotd pins its UDP worker to CPU 0 itself)
  tcp      -m tcp -q {q} (pipelined), nothing pinned (the ceiling has no TCP)
  udp-pin  -q {q}, server on CPU {scpu} (taskset), dnsperf on CPU {ccpu}
  lat      -Q {qps} -v (per-query latency), pinned as udp-pin
{reps} runs per row, servers visited in rotated order each round. QPS per core = QPS /
(server CPU / 100); CPU us/query = server utime+stime (all its processes) / answered
queries; DNS work = CPU us/query minus the ceiling's in the same mode."""


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ctx = {"srvd": os.path.abspath(ENV("SRVD", "./srvd")),
           "srvd-base": os.path.abspath(ENV("SRVD_BASE", "./srvd-base")),
           "ceiling": os.path.abspath(ENV("CEILING", "./tests/bench/ceiling"))}
    need = {"srvd": ctx["srvd"], "srvd-base": ctx["srvd-base"], "ceiling": ctx["ceiling"]}
    for name in SERVERS:
        if name in need and not os.access(need[name], os.X_OK):
            log("peers.py: no %s at %s" % (name, need[name]))
            return 1
    for name, tool in (("nsd", "nsd"), ("knot", "knotd")):
        if name in SERVERS and not shutil.which(tool):
            log("peers.py: %s is not installed" % tool)
            return 1
    tmp = tempfile.mkdtemp(prefix="srvd-peers-")
    ctx.update(tmp=tmp, registry=os.path.join(tmp, "registry.yaml"),
               zonefile=os.path.join(tmp, "svc.example.zone"))
    qfile = os.path.join(tmp, "queries.txt")
    write_registry(ctx["registry"])
    write_zone(ctx["zonefile"])
    write_queries(qfile)
    log("peers: %d x %d, servers %s, modes %s, %d rounds, -l %s; files in %s"
        % (N_SERVICES, N_INSTANCES, ",".join(SERVERS), ",".join(MODES), REPS, LOAD_S, tmp))
    runs, srv, t_start = [], None, time.monotonic()
    ok, interrupted = False, False
    try:
        checked = set()
        for rep in range(REPS):
            order = SERVERS[rep % len(SERVERS):] + SERVERS[:rep % len(SERVERS)]
            for name in order:
                for pin in (False, True):
                    modes = [m for m in MODES if (m in PINNED_MODES) == pin
                             and not (name == "ceiling" and m == "tcp")]
                    if not modes:
                        continue
                    srv = start_server(name, ctx, pin)
                    if name not in checked:
                        n = check_answers(srv)
                        checked.add(name)
                        log("peers: %s answers %d sample queries correctly" % (name, n))
                    for mode in modes:
                        r = dnsperf(srv, qfile, mode)
                        r.update(server=name, mode=mode, round=rep + 1)
                        runs.append(r)
                        log("peers: round %d %-7s %-7s %7.0f QPS, CPU %5.1f %%, %5.2f us/q, "
                            "lost %d%s" % (rep + 1, name, mode, r["qps"], r["cpu_pct"],
                                           r["us_per_q"], r["lost"],
                                           ", p50 %.0f us p99 %.0f us" % (r["p50_us"],
                                                                           r["p99_us"])
                                           if "p50_us" in r else ""))
                    srv.stop()
                    srv = None
        ok = True
    except (KeyboardInterrupt, Stop):
        interrupted = True
        log("peers: interrupted")
    finally:
        if srv is not None:
            srv.stop()
        # kept after an error, for its logs
        if (ok or interrupted) and not ENV("BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    if not runs:
        return 1
    table = summarise(runs)
    legend = LEGEND.format(ns=N_SERVICES, ni=N_INSTANCES, v4=n_v4(), v6=N_INSTANCES - n_v4(),
                           zone=ZONE, nq=N_QUERIES, load=LOAD_S, c=CLIENTS, t=THREADS,
                           q=OUTSTANDING, scpu=SERVER_CPU, ccpu=CLIENT_CPU, qps=QPS, reps=REPS)
    text = render(table, machine_line() + "; " + versions())
    print(legend + "\n\n" + text)
    os.makedirs(OUTDIR, exist_ok=True)
    with open(os.path.join(OUTDIR, "bench-peers.md"), "w") as fh:
        fh.write(legend + "\n\n" + text)
    with open(os.path.join(OUTDIR, "bench-peers.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([k for k, _ in COLS])
        for r in table:
            w.writerow(["" if r[k] is None else
                        (r[k] if isinstance(r[k], (str, int)) else "%.3f" % r[k])
                        for k, _ in COLS])
    with open(os.path.join(OUTDIR, "bench-peers-runs.csv"), "w", newline="") as fh:
        keys = ["round", "server", "mode", "qps", "sent", "lost", "avg_us", "p50_us", "p99_us",
                "cpu_pct", "qps_core", "us_per_q", "rcodes"]
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(runs)
    # the chart next to the table; chart.py redraws it from any bench-peers.csv
    csv_path = os.path.join(OUTDIR, "bench-peers.csv")
    if chart.main([csv_path, "-o", os.path.join(OUTDIR, "bench-peers.svg")]) != 0:
        ok = False
    log("peers: %.0f s; wrote bench-peers.md, bench-peers.csv, bench-peers-runs.csv, "
        "bench-peers.svg in %s" % (time.monotonic() - t_start, os.path.abspath(OUTDIR)))
    return 0 if ok else (130 if interrupted else 1)


if __name__ == "__main__":
    sys.exit(main())

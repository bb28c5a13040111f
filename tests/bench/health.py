# SPDX-License-Identifier: BSD-3-Clause
# health.py: what 10,000 health-checked instances cost srvd: checker CPU and DNS QPS/latency.
#
# Two registries with the same 100 services x 100 instances on 127.0.0.0/8:
# "tcp" checks every instance (tcp, interval 1s, timeout 500ms); 10 % point at
# listeners this script runs (passing), the rest at closed ports below 32768
# (Connection refused). "none" is the same registry with `check: {type: none}`.
# Runs alternate tcp, none, tcp, none. Each run starts srvd (one worker, pinned
# to CPU 0), waits for `_ready`, measures srvd's CPU while no query arrives,
# then runs dnsperf (pinned to CPU 1) at a fixed rate with per-query output
# (p50, p99) and then saturating. Probes per second come from the consecutive
# counters in `_health` TXT of a sample of instances. Only for 127.0.0.0/8.
#
# Then the cost of one probe per check type, in the same run: BENCH_COST_N
# (1,000; BENCH_COST_TLS_N, 200, for the TLS ones, which a Python backend
# cannot serve faster) instances, interval 1s, all passing against one backend of each
# kind (tcp listeners; HTTP/1.1 and HTTPS servers on asyncio; gRPC health
# servers, h2c and TLS, on grpcio; certificates from a CA the check trusts,
# made with openssl; tls against the HTTPS server; dns against a UDP responder; exec runs
# /bin/true), the backends on the client CPU. BENCH_COST_TYPES picks rows. Each row: probes per
# second and the checker's (srvd's main thread's) CPU per probe.
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

N_SERVICES = 100
N_INSTANCES = 100  # per service
N_PASSING = 10  # per service, on a listener
N_LISTENERS = N_PASSING  # one address each: 127.0.0.245..254
CLOSED_PORT_BASE = 20000  # below the ephemeral range: no self-connects
ZONE = "svc.example."
IDLE_S = float(os.environ.get("BENCH_IDLE", "10"))
LOAD_S = int(os.environ.get("BENCH_LOAD", "10"))
QPS = int(os.environ.get("BENCH_QPS", "20000"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "2"))
OUTSTANDING = os.environ.get("BENCH_OUTSTANDING", "100")  # dnsperf -q when saturating
SRVD_CPU = os.environ.get("BENCH_SRVD_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
CLK_TCK = os.sysconf("SC_CLK_TCK")
COST_N = int(os.environ.get("BENCH_COST_N", "1000"))
COST_TLS_N = int(os.environ.get("BENCH_COST_TLS_N", "200"))
COST_TYPES = os.environ.get("BENCH_COST_TYPES",
                            "tcp http https tls grpc grpc-tls dns exec").split()
HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pinned(cpu, argv):
    """argv pinned to one CPU when taskset exists and that CPU is ours."""
    if shutil.which("taskset") and int(cpu) in os.sched_getaffinity(0):
        return ["taskset", "-c", cpu] + argv
    return argv


# --- backends ---------------------------------------------------------------

def serve_listeners():
    """Child mode: N listeners that accept and close; prints addr:port lines."""
    sel = selectors.DefaultSelector()
    for i in range(N_LISTENERS):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.%d" % (255 - N_LISTENERS + i), 0))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        print("%s:%d" % s.getsockname(), flush=True)
    # never accepted: once its one-slot queue is full, SYNs are dropped and
    # connects hang until the probe's timeout
    tarpit = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tarpit.bind(("127.0.0.%d" % (254 - N_LISTENERS), 0))
    tarpit.listen(0)
    print("tarpit %s:%d" % tarpit.getsockname(), flush=True)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            for _ in range(64):
                try:
                    c, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # reset before accept (the probe closes with RST)
                    continue
                c.close()


def serve_cost_backends(certdir):
    """Child mode: HTTP/1.1 and HTTPS (asyncio) and gRPC health (grpcio, h2c and TLS)
    servers that always pass; prints `KIND addr:port` lines, then `ca PATH`, `ready`."""
    import asyncio
    import ssl
    sys.path.insert(0, os.path.join(HERE, "..", "system"))
    from check_backends import GrpcHealth, make_certs

    certs = make_certs(certdir, ips=("127.0.0.240",))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs["good"])
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    async def handle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        except Exception:  # the probe hung up, a handshake failed
            pass
        finally:
            writer.close()

    class DnsBackend(asyncio.DatagramProtocol):
        """Answers every query NOERROR with no records: the question echoed, QR set."""

        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            if len(data) >= 12:
                self.transport.sendto(data[:2] + bytes([data[2] | 0x80, 0]) +
                                      data[4:6] + b"\0\0\0\0\0\0" + data[12:], addr)

    grpc_plain = GrpcHealth("127.0.0.242")
    grpc_tls = GrpcHealth("127.0.0.243", certs["good"])

    async def main():
        http = await asyncio.start_server(handle, "127.0.0.240", 0, backlog=4096)
        https = await asyncio.start_server(handle, "127.0.0.241", 0, backlog=4096, ssl=ctx)
        print("http %s:%d" % http.sockets[0].getsockname(), flush=True)
        print("https %s:%d" % https.sockets[0].getsockname(), flush=True)
        print("grpc %s:%d" % (grpc_plain.addr, grpc_plain.port), flush=True)
        print("grpc-tls %s:%d" % (grpc_tls.addr, grpc_tls.port), flush=True)
        print("tls %s:%d" % https.sockets[0].getsockname(), flush=True)
        dns_t, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            DnsBackend, local_addr=("127.0.0.244", 0))
        print("dns %s:%d" % dns_t.get_extra_info("sockname"), flush=True)
        print("ca %s" % certs["ca"], flush=True)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def listening_ports():
    """TCP ports something listens on (any address), from /proc/net/tcp*."""
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    p = line.split()
                    if p[3] == "0A":
                        ports.add(int(p[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def closed_ports(n):
    busy = listening_ports()
    base = CLOSED_PORT_BASE
    while any(p in busy for p in range(base, base + n)):
        base += n
    return base


# --- registry, queries ------------------------------------------------------

def write_registry(path, check, listeners, port_base, tarpit=None):
    """100 services x 100 instances; the first N_PASSING of each service on a
    listener, the others on 127.0.0.1..254 ports nothing listens on; with
    tarpit, the next N_PASSING of each service on that never-accepting port."""
    out = ["server:", '  listen: ["127.0.0.1:0"]', "  zone: " + ZONE, "  max_answers: 8",
           "defaults:", "  check: " + check, "services:"]
    k = 0
    for s in range(N_SERVICES):
        out += ["  s%03d:" % s, "    port: 80", "    instances:"]
        for i in range(N_INSTANCES):
            if i < N_PASSING:
                addr, port = listeners[i % len(listeners)]
            elif tarpit and i < 2 * N_PASSING:
                addr, port = tarpit
            else:
                addr, port = "127.0.0.%d" % (1 + k % 254), port_base + k // 254
                k += 1
            out.append("      - {name: i%02d, address: %s, port: %d}" % (i, addr, port))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    return k // 254 + 1


def cost_n(kind):
    # TLS: what a Python backend can serve; exec: a process per probe
    return COST_TLS_N if kind in ("https", "tls", "grpc-tls", "exec") else COST_N


def write_cost_registry(path, kind, addr, port, ca):
    """cost_n(kind) instances checked with kind, all on the one backend addr:port."""
    n = cost_n(kind)
    tls = "tls: {server_name: api.internal, ca: %s}" % ca
    check = {
        "tcp": "{type: tcp, interval: 1s, timeout: 500ms}",
        "http": "{type: http, interval: 1s, timeout: 500ms}",
        "https": "{type: https, interval: 1s, timeout: 500ms, %s}" % tls,
        "grpc": "{type: grpc, interval: 1s, timeout: 500ms}",
        "grpc-tls": "{type: grpc, interval: 1s, timeout: 500ms, %s}" % tls,
        "tls": "{type: tls, interval: 1s, timeout: 500ms, %s}" % tls,
        "dns": "{type: dns, interval: 1s, timeout: 500ms, dns: {name: probe.example.}}",
        "exec": '{type: exec, interval: 1s, timeout: 500ms, command: ["/bin/true"]}',
    }[kind]
    out = ["server:", '  listen: ["127.0.0.1:0"]', "  zone: " + ZONE]
    if kind == "exec":
        # exec checks are off by default and never run as root
        out += ["  exec_checks: true"] + (["  user: nobody"] if os.geteuid() == 0 else [])
    out += ["defaults:", "  check: " + check, "services:"]
    per = 100
    for s in range((n + per - 1) // per):
        out += ["  s%03d:" % s, "    port: %d" % port, "    instances:"]
        for i in range(min(per, n - s * per)):
            out.append("      - {name: i%02d, address: %s}" % (i, addr))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def run_cost(srvd, tmp, kind, addr, port, ca):
    """One type's probes: checks/s, checker CPU per probe, share passing."""
    reg = os.path.join(tmp, "cost-%s.yaml" % kind)
    write_cost_registry(reg, kind, addr, port, ca)
    p, dport, _ = start_srvd(srvd, reg, os.path.join(tmp, "srvd-cost-%s.log" % kind))
    n = cost_n(kind)
    try:
        n_svc = (n + 99) // 100
        sample = [(s, i) for s in range(n_svc) for i in range(0, 100, 10) if s * 100 + i < n]
        time.sleep(1.5)  # past the random first offsets
        c0 = probe_counts(dport, sample)
        m = CpuMeter(p.pid)
        time.sleep(IDLE_S)
        whole, main_thread = m.percent()
        c1 = probe_counts(dport, sample)
        rate = n * probe_rate(c0, c1)
        passing = sum(1 for k in c1[0] if c1[0][k][0] > 0) / len(sample)
    finally:
        stop_srvd(p)
    return {"kind": kind, "n": n, "checks": rate, "main": main_thread, "whole": whole,
            "us_per_probe": 1e4 * main_thread / rate if rate else float("nan"),
            "passing": passing}


def cost_table(rows):
    lines = ["| check type | instances | checks/s | checker CPU % | checker CPU per probe | "
             "passing |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %d | %.0f | %.1f | %.0f us | %.0f %% |"
                     % (r["kind"], r["n"], r["checks"], r["main"], r["us_per_probe"],
                        100 * r["passing"]))
    return "\n".join(lines)


def write_queries(path):
    with open(path, "w") as fh:
        for s in range(N_SERVICES):
            fh.write("s%03d.%s A\n_s%03d._tcp.%s SRV\n" % (s, ZONE, s, ZONE))


# --- srvd ---------------------------------------------------------------------

def query(port, name, rdtype, timeout=0.5):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def start_srvd(srvd, reg, logpath):
    logf = open(logpath, "w")
    p = subprocess.Popen(pinned(SRVD_CPU, [srvd, "-c", reg, "-w", "1"]), stderr=logf,
                         stdin=subprocess.DEVNULL)
    logf.close()
    t0 = time.monotonic()
    port = None
    while time.monotonic() - t0 < 10 and port is None:
        if p.poll() is not None:
            raise RuntimeError("srvd exited with %d: see %s" % (p.returncode, logpath))
        with open(logpath) as fh:
            for line in fh:
                if "listening on 127.0.0.1:" in line:
                    port = int(line.split("listening on 127.0.0.1:")[1].split()[0])
        time.sleep(0.02)
    if port is None:
        raise RuntimeError("srvd did not log its port: see " + logpath)
    while time.monotonic() - t0 < 20:
        try:
            r = query(port, "_ready." + ZONE, "A", timeout=0.2)
            if r.answer:
                return p, port, time.monotonic() - t0
        except dns.exception.Timeout:
            pass
    raise RuntimeError("srvd not ready after 20 s: see " + logpath)


def stop_srvd(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_ticks(pid):
    """(whole process, main thread) utime+stime in clock ticks. The main
    thread runs the checker; the DNS worker is another thread."""
    def ticks(path):
        with open(path) as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])  # fields 14 and 15 of stat(5)
    return ticks("/proc/%d/stat" % pid), ticks("/proc/%d/task/%d/stat" % (pid, pid))


class CpuMeter:
    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.c0 = cpu_ticks(pid)

    def percent(self):
        """% of one CPU since creation: (whole process, main thread)."""
        wall = time.monotonic() - self.t0
        c1 = cpu_ticks(self.pid)
        return tuple(100.0 * (b - a) / CLK_TCK / wall for a, b in zip(self.c0, c1))


def probe_counts(port, sample):
    """Consecutive pass/fail counts of (service, instance) pairs from _health TXT."""
    counts = {}
    for s, i in sample:
        r = query(port, "_health.i%02d.s%03d.%s" % (i, s, ZONE), "TXT")
        kv = {}
        for rrset in r.answer:
            for rd in rrset:
                for st in rd.strings:
                    k, _, v = st.decode().partition("=")
                    kv[k] = v
        counts[(s, i)] = (int(kv["successes"]), int(kv["failures"]))
    return counts, time.monotonic()


def probe_rate(before, after):
    """Probes per second per instance, over the instances whose state stayed."""
    (c0, t0), (c1, t1) = before, after
    deltas = []
    for k, (s0, f0) in c0.items():
        s1, f1 = c1[k]
        if s1 >= s0 and f1 >= f0 and (s1 - s0 == 0 or f1 - f0 == 0):
            deltas.append((s1 - s0) + (f1 - f0))
    return statistics.mean(deltas) / (t1 - t0) if deltas else float("nan")


# --- dnsperf --------------------------------------------------------------------

def dnsperf(port, qfile, args, verbose):
    argv = pinned(CLIENT_CPU, ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
                               "-l", str(LOAD_S)] + args + (["-v"] if verbose else []))
    out = os.path.join(os.path.dirname(qfile), "dnsperf.out")
    with open(out, "w") as fh:
        rc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise RuntimeError("dnsperf failed: %s" % " ".join(argv))
    lat, rcodes, stats = [], {}, {}
    with open(out) as fh:
        lines = fh.readlines()
    os.unlink(out)
    for line in lines:
        if line.startswith("> "):
            f = line.split()
            rcodes[f[1]] = rcodes.get(f[1], 0) + 1
            if len(f) >= 5:
                lat.append(float(f[-1]))
        elif ":" in line:
            k, _, v = line.strip().partition(":")
            stats[k.strip()] = v.strip()
    res = {
        "qps": float(stats["Queries per second"]),
        "sent": int(stats["Queries sent"].split()[0]),
        "lost": int(stats["Queries lost"].split()[0]),
        "avg_us": 1e6 * float(stats["Average Latency (s)"].split()[0]),
        "rcodes": rcodes,
    }
    if lat:
        lat.sort()
        res["p50_us"] = 1e6 * lat[len(lat) // 2]
        res["p99_us"] = 1e6 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return res


# --- one run ----------------------------------------------------------------------

def run_one(srvd, tmp, config, n, qfile, saturate):
    reg = os.path.join(tmp, config + ".yaml")
    logpath = os.path.join(tmp, "srvd-%s-%d.log" % (config, n))
    p, port, ready_s = start_srvd(srvd, reg, logpath)
    row = {"config": config, "n": n, "ready_s": ready_s}
    try:
        # sanity: the services answer with records in every configuration
        r = query(port, "s000." + ZONE, "A")
        if not r.answer:
            raise RuntimeError("%s: s000 A has no records: %s" % (config, r))
        # failing instances (10..99, so some tarpitted ones) and passing ones (0..9)
        sample = [(s, N_PASSING + s % (N_INSTANCES - N_PASSING)) for s in range(N_SERVICES)]
        sample += [(s, s % N_PASSING) for s in range(0, N_SERVICES, 4)]
        n_checked = 0 if config == "none" else N_SERVICES * N_INSTANCES
        c0 = probe_counts(port, sample)
        m = CpuMeter(p.pid)
        time.sleep(IDLE_S)
        row["idle_cpu"], _ = m.percent()
        c1 = probe_counts(port, sample)
        row["checks_idle"] = n_checked * probe_rate(c0, c1) if n_checked else 0.0
        m = CpuMeter(p.pid)
        row["fixed"] = dnsperf(port, qfile, ["-Q", str(QPS)], verbose=True)
        row["fixed_cpu"], _ = m.percent()
        if saturate:
            c2 = probe_counts(port, sample)
            m = CpuMeter(p.pid)
            row["sat"] = dnsperf(port, qfile, ["-c", "4", "-q", OUTSTANDING], verbose=False)
            row["sat_cpu"], row["sat_main"] = m.percent()
            c3 = probe_counts(port, sample)
            row["checks_sat"] = n_checked * probe_rate(c2, c3) if n_checked else 0.0
    finally:
        stop_srvd(p)
    bad = {k: v for k, v in row["fixed"]["rcodes"].items() if k != "NOERROR"}
    if bad:
        log("%s run %d: unexpected rcodes %s" % (config, n, bad))
    return row


def table(rows):
    hdr = ("config", "run", "ready s", "idle CPU %", "checks/s", "QPS", "p50 us", "p99 us",
           "lost", "CPU %", "max QPS", "avg us", "lost", "CPU %", "checker %", "checks/s")
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for r in rows:
        f = r["fixed"]
        cells = [r["config"], str(r["n"]), "%.1f" % r["ready_s"], "%.1f" % r["idle_cpu"],
                 "%.0f" % r["checks_idle"], "%.0f" % f["qps"], "%.0f" % f.get("p50_us", -1),
                 "%.0f" % f.get("p99_us", -1), str(f["lost"]), "%.1f" % r["fixed_cpu"]]
        if "sat" in r:
            s = r["sat"]
            cells += ["%.0f" % s["qps"], "%.0f" % s["avg_us"], str(s["lost"]),
                      "%.1f" % r["sat_cpu"], "%.1f" % r["sat_main"], "%.0f" % r["checks_sat"]]
        else:
            cells += ["-"] * 6
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = """\
Each run: srvd -w 1 on CPU {srvd_cpu}, started fresh, `_ready` awaited ("ready s").
  idle CPU %   srvd over {idle:g} s with no queries (the checker alone), % of one core
  checks/s     probes per second, from the consecutive pass/fail counts in _health TXT of
               {n_sample} sampled instances, times {n} instances
  QPS..CPU %   dnsperf -l {load} -Q {qps} -v on CPU {client_cpu}: achieved QPS, per-query p50 and
               p99 latency, queries lost, srvd CPU %
  max QPS..    dnsperf -l {load} -c 4 -q {outstanding} (as fast as it goes): QPS, average
               latency, lost, srvd CPU %, its main thread's CPU % (the checker), checks/s
Configs: tcp = {n} instances checked (tcp, interval 1s, timeout 500ms), 10 % passing, the
  rest refused; none = the same with check type none; tarpit = as tcp, but another 10 % on
  a port that never completes a connect (every such probe runs into its timeout)."""


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--listen":
        serve_listeners()
        return 0
    if len(sys.argv) > 2 and sys.argv[1] == "--cost-backends":
        serve_cost_backends(sys.argv[2])
        return 0
    srvd = os.environ.get("SRVD", "./srvd")
    if not os.access(srvd, os.X_OK):
        log("health.py: no srvd at %s (set SRVD)" % srvd)
        return 1
    if not shutil.which("dnsperf"):
        log("health.py: dnsperf is not installed")
        return 1
    tmp = tempfile.mkdtemp(prefix="srvd-bench-")
    lp = subprocess.Popen(pinned(CLIENT_CPU, [sys.executable, os.path.abspath(__file__),
                                              "--listen"]),
                          stdout=subprocess.PIPE, text=True)
    try:
        listeners, tarpit = [], None
        for line in lp.stdout:
            w = line.split()
            if w == ["ready"]:
                break
            a, _, pt = w[-1].rpartition(":")
            if w[0] == "tarpit":
                tarpit = (a, int(pt))
            else:
                listeners.append((a, int(pt)))
        base = closed_ports(N_SERVICES * (N_INSTANCES - N_PASSING) // 254 + 1)
        tcp = "{type: tcp, interval: 1s, timeout: 500ms}"
        write_registry(os.path.join(tmp, "tcp.yaml"), tcp, listeners, base)
        write_registry(os.path.join(tmp, "none.yaml"), "{type: none}", listeners, base)
        write_registry(os.path.join(tmp, "tarpit.yaml"), tcp, listeners, base, tarpit)
        qfile = os.path.join(tmp, "queries.txt")
        write_queries(qfile)
        log("bench: %d services x %d instances (%d on %d listeners, the rest on closed "
            "ports %d+), srvd -w 1 on CPU %s, dnsperf on CPU %s, %s"
            % (N_SERVICES, N_INSTANCES, N_SERVICES * N_PASSING, len(listeners), base,
               SRVD_CPU, CLIENT_CPU, tmp))
        rows = []
        for n in range(1, PAIRS + 1):
            for config in ("tcp", "none"):
                log("bench: run %d, checks %s ..." % (n, config))
                rows.append(run_one(srvd, tmp, config, n, qfile, True))
        if os.environ.get("BENCH_TARPIT", "1") != "0":
            log("bench: run 1, checks tarpit ...")
            rows.append(run_one(srvd, tmp, "tarpit", 1, qfile, False))
        print(LEGEND.format(srvd_cpu=SRVD_CPU, client_cpu=CLIENT_CPU, idle=IDLE_S, load=LOAD_S,
                            qps=QPS, outstanding=OUTSTANDING, n=N_SERVICES * N_INSTANCES,
                            n_sample=N_SERVICES + N_SERVICES // 4))
        print()
        print(table(rows))
        print()
        for config in ("tcp", "none"):
            rs = [r for r in rows if r["config"] == config]
            if not rs:
                continue
            print("%-5s mean: idle CPU %5.1f %%, p50 %4.0f us, p99 %5.0f us, max QPS %6.0f"
                  % (config, statistics.mean(r["idle_cpu"] for r in rs),
                     statistics.mean(r["fixed"]["p50_us"] for r in rs),
                     statistics.mean(r["fixed"]["p99_us"] for r in rs),
                     statistics.mean(r["sat"]["qps"] for r in rs)))
        if COST_TYPES:
            costs = []
            bp = subprocess.Popen(pinned(CLIENT_CPU, [sys.executable, os.path.abspath(__file__),
                                                      "--cost-backends", tmp]),
                                  stdout=subprocess.PIPE, text=True)
            try:
                # exec runs /bin/true: the address is only for the registry
                backends = {"tcp": listeners[0], "exec": listeners[0]}
                for line in bp.stdout:
                    w = line.split()
                    if w == ["ready"]:
                        break
                    if w[0] == "ca":
                        ca = w[1]
                    else:
                        a, _, pt = w[1].rpartition(":")
                        backends[w[0]] = (a, int(pt))
                for kind in COST_TYPES:
                    log("bench: cost of a %s probe ..." % kind)
                    costs.append(run_cost(srvd, tmp, kind, backends[kind][0],
                                          backends[kind][1], ca))
            finally:
                bp.kill()
                bp.wait()
            print()
            print("Cost of one probe (interval 1s, all instances on one passing backend; "
                  "checker = srvd's main thread, over %g s):" % IDLE_S)
            print()
            print(cost_table(costs))
    finally:
        lp.kill()
        lp.wait()
        if os.environ.get("BENCH_KEEP"):
            log("bench: kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

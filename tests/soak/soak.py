# SPDX-License-Identifier: BSD-3-Clause
# soak.py: drives one soak run of a built srvd (see soak.sh) and judges it.
"""Usage: soak.py SECONDS SRVD WORKDIR

Writes two registry versions (A, B) of 200 services, starts flapping HTTP backends
(backends.py), srvd, and dnsperf at a fixed rate for SECONDS; meanwhile every second it
swaps the registry file and sends SIGHUP, and samples answers with dnspython; every 5 s it
samples VmRSS and the open fds of srvd. Prints the figures and exits 1 if srvd died or exited
badly, a sampled answer was invalid, or RSS grew beyond the bound (SOAK_RSS_GROWTH_MB, default
4: the largest RSS after the warm-up minute may exceed the RSS at the end of the warm-up by at
most that much; a 10-minute run does 600 reloads, so a table leaked per reload shows).
"""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
ZONE = "soak.test."
N_PLAIN = 180           # check none, documentation addresses
N_ONLY_A = 10           # exist in version A only (NXDOMAIN in B)
N_CHECKED = 10          # http checks on the flapping backends
BACKENDS = ["127.0.0.%d" % i for i in range(101, 121)]
QPS = int(os.environ.get("SOAK_QPS", "20000"))
RSS_GROWTH_KB = int(os.environ.get("SOAK_RSS_GROWTH_MB", "4")) * 1024
WARMUP = 60
SAMPLES_PER_SECOND = 8


def plain_instances(i, version):
    """Instances (name, address, port) of plain service i in a version: the second address
    and the port differ between A and B, so an answer mixing them is caught."""
    second = ("198.51.100.%d" if version == "A" else "203.0.113.%d") % (i % 250 + 1)
    port = 8080 if version == "A" else 8081
    return [("a", "192.0.2.%d" % (i % 250 + 1), port), ("b", second, port)]


def checked_instances(i):
    return [("h%d" % k, BACKENDS[(i * 2 + k) % len(BACKENDS)], None) for k in range(2)]


def registry(version, backend_port):
    lines = ["server:", "  zone: %s" % ZONE, "  ttl: %d" % (5 if version == "A" else 7),
             "  watch: false", "defaults:", "  check: {type: none}", "services:"]
    n = N_PLAIN + (N_ONLY_A if version == "A" else 0)
    for i in range(n):
        lines.append("  s%03d:" % i)
        lines.append("    instances:")
        for name, addr, port in plain_instances(i, version):
            lines.append("      - {name: %s, address: %s, port: %d}" % (name, addr, port))
    for i in range(N_CHECKED):
        lines.append("  c%02d:" % i)
        lines.append("    port: %d" % backend_port)
        lines.append("    check: {type: http, path: /, interval: 500ms, timeout: 300ms, "
                     "rise: 2, fall: 2}")
        lines.append("    instances:")
        for name, addr, _ in checked_instances(i):
            lines.append("      - {name: %s, address: %s}" % (name, addr))
    return "\n".join(lines) + "\n"


def free_port():
    """A TCP port free on every backend address (each binds it separately)."""
    for _ in range(100):
        port = random.randint(20000, 30000)
        socks = []
        try:
            for a in BACKENDS:
                s = socket.socket()
                socks.append(s)
                s.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("no free backend port")


class Validator:
    """Checks one sampled answer against both registry versions (a sample may race a reload,
    but one answer must come from one version)."""

    def __init__(self):
        self.sampled = 0
        self.invalid = []
        self.timeouts = 0

    def bad(self, what, r):
        if len(self.invalid) < 20:
            self.invalid.append("%s\n%s" % (what, r))
        else:
            self.invalid.append(what)

    def check(self, port, rng):
        kind = rng.choice(["a", "a", "srv", "only_a", "checked", "nx"])
        i = rng.randrange(N_PLAIN)
        if kind in ("a", "only_a"):
            if kind == "only_a":
                i = N_PLAIN + rng.randrange(N_ONLY_A)
            name, rdtype = "s%03d.%s" % (i, ZONE), "A"
        elif kind == "srv":
            name, rdtype = "_s%03d._tcp.%s" % (i, ZONE), "SRV"
        elif kind == "checked":
            i = rng.randrange(N_CHECKED)
            name, rdtype = "c%02d.%s" % (i, ZONE), "A"
        else:
            name, rdtype = "nope%d.%s" % (i, ZONE), "A"
        q = dns.message.make_query(name, rdtype)
        try:
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        except dns.exception.Timeout:
            # dnsperf keeps srvd busy: a lost datagram is counted, not judged invalid
            self.timeouts += 1
            return
        self.sampled += 1
        if not r.flags & dns.flags.AA:
            return self.bad("%s %s: no AA" % (name, rdtype), r)
        if r.question != q.question:
            return self.bad("%s %s: question not echoed" % (name, rdtype), r)
        rcode = r.rcode()
        if kind == "nx":
            if rcode != dns.rcode.NXDOMAIN:
                self.bad("%s: want NXDOMAIN" % name, r)
            return
        if kind == "only_a" and rcode == dns.rcode.NXDOMAIN:
            return  # version B has no such service
        if rcode != dns.rcode.NOERROR:
            return self.bad("%s %s: rcode %s" % (name, rdtype, dns.rcode.to_text(rcode)), r)
        rrs = [rr for rrset in r.answer for rr in rrset]
        if kind == "checked":
            want = {a for _, a, _ in checked_instances(i)}
            got = {rr.address for rr in rrs}
            if not got <= want:
                self.bad("%s: addresses %s not among %s" % (name, sorted(got), sorted(want)), r)
            return
        if kind == "srv":
            got = {(rr.port, rr.target.to_text()) for rr in rrs}
            ok = [{(p, "%s.s%03d.%s" % (n, i, ZONE)) for n, _, p in plain_instances(i, v)}
                  for v in "AB"]
        else:
            got = {rr.address for rr in rrs}
            ok = [{a for _, a, _ in plain_instances(i, v)} for v in "AB"]
        if got not in ok:
            self.bad("%s %s: %s is neither version" % (name, rdtype, sorted(got)), r)


def proc_sample(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def main():
    seconds, srvd_bin, work = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    bport = free_port()
    versions = {v: registry(v, bport) for v in "AB"}
    cfg = os.path.join(work, "srvd.yaml")
    with open(cfg, "w") as f:
        f.write(versions["A"])
    log_path = os.path.join(work, "srvd.log")
    logf = open(log_path, "w")
    backends = subprocess.Popen([sys.executable, os.path.join(HERE, "backends.py"), str(bport),
                                 str(seconds + 5)] + BACKENDS, stdout=subprocess.PIPE, text=True)
    srvd = subprocess.Popen([srvd_bin, "-c", cfg, "-l", "127.0.0.1:0", "-w", "2"],
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline and srvd.poll() is None:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(udp, tcp\)", open(log_path).read())
        if m:
            port = int(m.group(1))
        time.sleep(0.1)
    if port is None:
        srvd.kill()
        backends.kill()
        raise SystemExit("srvd did not start:\n" + open(log_path).read())

    qfile = os.path.join(work, "queries.txt")
    with open(qfile, "w") as f:
        for i in range(N_PLAIN):
            f.write("s%03d.%s A\n_s%03d._tcp.%s SRV\ns%03d.%s AAAA\n" % (i, ZONE, i, ZONE,
                                                                      i, ZONE))
        for i in range(N_CHECKED):
            f.write("c%02d.%s A\n" % (i, ZONE))
        f.write("nope.%s A\n" % ZONE)
    perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
                             "-Q", str(QPS), "-l", str(int(seconds)), "-c", "4", "-q", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    rng = random.Random(6)
    val = Validator()
    hups = 0
    rss, fds = [], []
    start = time.monotonic()
    next_hup = start + 1
    next_proc = start
    version = "A"
    died = False
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if srvd.poll() is not None:
            died = True
            break
        if now >= next_proc:
            r, n = proc_sample(srvd.pid)
            rss.append((now - start, r))
            fds.append(n)
            next_proc += 5
        if now >= next_hup:
            version = "B" if version == "A" else "A"
            tmp = cfg + ".tmp"
            with open(tmp, "w") as f:
                f.write(versions[version])
            os.rename(tmp, cfg)
            srvd.send_signal(signal.SIGHUP)
            hups += 1
            next_hup += 1
        for _ in range(SAMPLES_PER_SECOND // 4):
            val.check(port, rng)
        time.sleep(0.25)
    if srvd.poll() is None:
        r, n = proc_sample(srvd.pid)
        rss.append((time.monotonic() - start, r))
        fds.append(n)
    perf_out = perf.communicate(timeout=seconds + 60)[0] if not died else ""
    if died:
        perf.kill()
        perf_out = perf.communicate()[0]
        backends.terminate()
    alive = srvd.poll() is None
    rc = None
    if alive:
        srvd.send_signal(signal.SIGTERM)
        try:
            rc = srvd.wait(30)
        except subprocess.TimeoutExpired:
            srvd.kill()
            rc = "hung on SIGTERM"
    else:
        rc = srvd.returncode
    backends.wait(60)
    flaps = [line for line in backends.stdout.read().split("\n") if len(line.split()) == 3]
    logf.close()
    log = open(log_path).read()

    sent = re.search(r"Queries sent:\s+(\d+)", perf_out)
    lost = re.search(r"Queries lost:\s+(\d+)", perf_out)
    qps = re.search(r"Queries per second:\s+([\d.]+)", perf_out)
    done = len(re.findall(r"reload \(SIGHUP\): serial", log))
    unchanged = len(re.findall(r"reload \(SIGHUP\): nothing that alters", log))
    rejected = len(re.findall(r"reload rejected", log))
    changes = len(re.findall(r"(passing|failing) -> (passing|failing)", log))
    sanitizer = re.search(r"runtime error|AddressSanitizer|LeakSanitizer", log)
    warm = [r for t, r in rss if t >= WARMUP]
    ref = warm[0] if warm else rss[-1][1]
    growth = max(warm) - ref if warm else 0

    print("soak: %g s, srvd %s, registry %d/%d services (%d checked on %d flapping backends)" %
          (seconds, srvd_bin, N_PLAIN + N_ONLY_A + N_CHECKED, N_PLAIN + N_CHECKED, N_CHECKED,
           len(BACKENDS)))
    print("dnsperf (-Q %d): sent %s, lost %s, %s qps" % (
        QPS, sent.group(1) if sent else "?", lost.group(1) if lost else "?",
        qps.group(1) if qps else "?"))
    print("reloads: %d SIGHUP sent, %d done (new serial), %d unchanged, %d rejected, "
          "%d not logged" % (hups, done, unchanged, rejected, hups - done - unchanged - rejected))
    print("health changes logged: %d; backend up/down cycles: %s" % (
        changes, sum(int(line.split()[1]) for line in flaps)))
    print("answers: %d sampled, %d invalid, %d sample timeouts" % (
        val.sampled, len(val.invalid), val.timeouts))
    print("RSS kB: start %d, max %d, end %d; after the %d s warm-up: at %d, max growth %d "
          "(bound %d)" % (rss[0][1], max(r for _, r in rss), rss[-1][1], WARMUP, ref, growth,
                          RSS_GROWTH_KB))
    print("fds: start %d, max %d, end %d" % (fds[0], max(fds), fds[-1]))
    print("crashes: %d (srvd %s; exit status: %s)" % (
        0 if alive else 1, "alive at the end, then SIGTERM" if alive else "DIED", rc))
    for s in val.invalid[:5]:
        print("INVALID:", s)
    fail = []
    if not alive or rc != 0:
        fail.append("srvd died or did not exit 0")
    if val.invalid:
        fail.append("%d invalid answers" % len(val.invalid))
    if growth > RSS_GROWTH_KB:
        fail.append("RSS grew %d kB > %d kB" % (growth, RSS_GROWTH_KB))
    if sanitizer:
        fail.append("sanitizer report in the log")
    if hups - done - unchanged > max(3, hups // 100):
        fail.append("reloads failed or not done")
    if val.sampled < seconds:
        fail.append("too few answers sampled")
    print("log: %s" % log_path)
    print("RESULT: %s" % ("FAIL: " + "; ".join(fail) if fail else "PASS"))
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: BSD-3-Clause
# conftest.py: starts the real srvd on 127.0.0.1 with a port picked by the kernel, and stops it.
"""Shared fixtures and helpers of the system tests.

Every daemon is started with `-l 127.0.0.1:0 -w 2`; the port comes from its
`listening on ADDR:PORT (udp, tcp)` log line. Teardown always stops it with
SIGTERM (SIGKILL after 5 s) and fails the test if it did not exit 0 or if a
sanitizer reported anything on stderr.

SRVD_WRAPPER (e.g. "valgrind -q --error-exitcode=1 ...", see tests/valgrind.mk) is put in
front of every srvd command line; under it the start-up, stop and query deadlines are
multiplied by SRVD_TIMEOUT_FACTOR (default 10 with a wrapper, else 1), a valgrind report
on stderr fails the test even where the exit status is not checked, and tests marked
`timing` (TIMING_TESTS below) are skipped because they assert wall-clock bounds that an
emulated daemon cannot meet.
"""

import os
import re
import resource
import select
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(HERE, "data")
SRVD = os.environ.get("SRVD") or os.path.join(SRCDIR, "srvd")
HOST = "127.0.0.1"
WRAPPER = shlex.split(os.environ.get("SRVD_WRAPPER", ""))
SLOW = float(os.environ.get("SRVD_TIMEOUT_FACTOR") or (10 if WRAPPER else 1))
TIMEOUT = 2.0 * SLOW

LISTEN_RE = re.compile(r"listening on (\S+):(\d+) \(udp, tcp\)")
SANITIZER_RE = re.compile(r"runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                          r"SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer")
# valgrind -q prints nothing but its reports, each line prefixed with ==PID==; a report on
# stderr is an error even when the exit status is not checked (SIGKILL, expected exit 2).
VALGRIND_RE = re.compile(r"^==\d+== ", re.M)

# Tests that assert wall-clock bounds (health fall/rise, panic, reload latency, "within N s"):
# skipped under SRVD_WRAPPER only. Node ids relative to this folder; a prefix matches every
# parametrisation. Kept here (not as decorators) so the test files stay their owners'.
TIMING_TESTS = (
    # HTTP probes with a 250 ms timeout expect "malformed response"; valgrind's srvd times out
    "test_faults.py::test_hostile_backends_are_withdrawn_and_logged_once",
    # bounds srvd's CPU share while paused, and counts /proc/PID/fd, where valgrind's own
    # descriptors (and its 12 reserved ones) skew the exhaustion it relies on
    "test_faults.py::test_api_listener_out_of_descriptors",
    # NOTIFY retry gaps of 1/2/4/8 s and a 200 ms coalescing window, measured on the wall clock
    "test_secondary.py::test_notify_retried_with_backoff_then_given_up",
    "test_secondary.py::test_burst_of_withdrawals_coalesced",
)


def srvd_cmd(args):
    """The command line that runs srvd with args, behind SRVD_WRAPPER if set."""
    return WRAPPER + [SRVD] + list(args)


def run_srvd(args, timeout=10, cwd=None):
    """Runs srvd to completion (for -t, -h, --version); returns CompletedProcess."""
    p = subprocess.run(srvd_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout * SLOW, cwd=cwd)
    assert_no_valgrind(p.stderr)
    return p


def assert_no_valgrind(text):
    if WRAPPER:
        assert VALGRIND_RE.search(text) is None, "valgrind report in srvd stderr:\n" + text


def assert_clean_stderr(text):
    m = SANITIZER_RE.search(text)
    assert m is None, "sanitizer report in srvd stderr:\n" + text
    assert_no_valgrind(text)


def pytest_configure(config):
    config.addinivalue_line("markers", "timing: asserts wall-clock bounds; skipped under "
                            "SRVD_WRAPPER (valgrind)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = os.path.relpath(str(item.fspath), HERE) + "::" + item.name
        if any(rel == t or rel.startswith(t + "[") for t in TIMING_TESTS):
            item.add_marker(pytest.mark.timing)
        if WRAPPER and item.get_closest_marker("timing"):
            item.add_marker(pytest.mark.skip(reason="timing test, SRVD_WRAPPER is set"))


# Every daemon started, so that one a failing test never reached its stop() for is
# stopped all the same (_stop_leftovers) instead of serving, and loading the machine,
# through the tests that follow.
STARTED = []


@pytest.fixture(autouse=True)
def _stop_leftovers():
    before = len(STARTED)
    yield
    for d in STARTED[before:]:
        d.stop(check=False)
    del STARTED[before:]


class Srvd:
    """One running daemon. Attributes: host, port, zone, proc, config."""

    def __init__(self, config, zone, args=None, workers=2, nofile=None):
        self.config = str(config)
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) to start with, if set
        self.zone = zone
        self.host = HOST
        self.port = None
        self.args = list(args) if args is not None else ["-l", HOST + ":0"]
        self.workers = workers
        self.proc = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None

    @property
    def addr(self):
        return (self.host, self.port)

    def stderr_text(self):
        with self._cond:
            return "".join(self._lines)

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._lines.append("")  # EOF marker: wakes waiters
            self._cond.notify_all()

    def start(self):
        assert os.access(SRVD, os.X_OK), "srvd binary not found at %s (set SRVD)" % SRVD
        cmd = srvd_cmd(["-c", self.config] + self.args + ["-w", str(self.workers)])
        limit = None
        if self.nofile:
            n = self.nofile
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))  # noqa: E731
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        STARTED.append(self)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 10 * SLOW
        with self._cond:
            while True:
                for line in self._lines:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.port = int(m.group(2))
                        break
                if self.port is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    break
                self._cond.wait(min(left, 0.2))
        if self.port is None:
            self.stop(check=False)
            pytest.fail("srvd did not log its listen address within %g s; stderr:\n%s" %
                        (10 * SLOW, self.stderr_text()))
        if self.zone is not None:
            self.wait_ready(deadline)
        return self

    def wait_ready(self, deadline):
        q = dns.message.make_query("_ready." + self.zone, "A")
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "srvd died at start:\n" + self.stderr_text()
            try:
                r = dns.query.udp(q, self.host, port=self.port, timeout=0.2)
                if r.answer:
                    return
            except dns.exception.Timeout:
                pass
            time.sleep(0.05)
        self.stop(check=False)
        pytest.fail("_ready.%s A never answered; stderr:\n%s" % (self.zone, self.stderr_text()))

    def wait_log(self, pattern, count=1, timeout=5.0):
        """Waits until count stderr lines match pattern (the log is read by a thread);
        returns the matches, or fails the test."""
        rx = re.compile(pattern)
        timeout *= SLOW
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in map(rx.search, self._lines) if m]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        pytest.fail("no %d log lines matching %r in %g s; stderr:\n%s" %
                    (count, pattern, timeout, self.stderr_text()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True, sig=signal.SIGTERM):
        """Stops the daemon; with check, asserts exit 0 and no sanitizer report. Under
        SRVD_WRAPPER a valgrind report fails even without check: it is the daemon's bug,
        whatever the test expected of the exit status."""
        if self.proc is None:
            return None
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5 * SLOW)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        rc = self.proc.returncode
        self.proc = None
        assert_no_valgrind(self.stderr_text())
        if check:
            err = self.stderr_text()
            assert not killed, "srvd ignored %s for 5 s; stderr:\n%s" % (sig.name, err)
            assert rc == 0, "srvd exited %r after %s; stderr:\n%s" % (rc, sig.name, err)
            assert_clean_stderr(err)
        return rc


def write_registry(folder, yaml_text, files=None):
    """Writes srvd.yaml (and extra files, name -> text) into folder; returns its path."""
    for name, text in (files or {}).items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    path = os.path.join(folder, "srvd.yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    return path


@pytest.fixture
def srvd_factory(tmp_path):
    """Starts daemons on demand: factory(yaml_text, zone, files=None, args=None, workers=2).
    Each is stopped (and checked) at teardown."""
    started = []

    def factory(yaml_text, zone, files=None, args=None, workers=2):
        path = write_registry(str(tmp_path), yaml_text, files)
        d = Srvd(path, zone, args=args, workers=workers)
        started.append(d)
        return d.start()

    yield factory
    for d in started:
        d.stop()


# --- raw transport helpers ------------------------------------------------------------------


def udp_raw(port, data, timeout=TIMEOUT, host=HOST):
    """Sends one datagram; returns the reply bytes or None when nothing came within timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def tcp_read_msg(sock):
    (n,) = struct.unpack("!H", recv_exact(sock, 2))
    return recv_exact(sock, n)


def tcp_raw(port, data, timeout=TIMEOUT, host=HOST):
    """Sends one length-prefixed query on a fresh connection; returns the reply bytes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(data)) + data)
        return tcp_read_msg(s)


def query(d, name, rdtype, transport="udp", **kw):
    """dnspython query to daemon d over transport; returns the parsed response."""
    q = dns.message.make_query(name, rdtype, **kw)
    if transport == "udp":
        return dns.query.udp(q, d.host, port=d.port, timeout=TIMEOUT)
    return dns.query.tcp(q, d.host, port=d.port, timeout=TIMEOUT)


def health_fields(d, name):
    """The _health TXT at name (e.g. _health.web-1.web.<zone>.) as a dict:
    {"status": "passing", "served": "yes", "last": ...}."""
    r = query(d, name, "TXT")
    fields = {}
    for rrset in r.answer:
        for rd in rrset:
            for s in rd.strings:
                k, _, v = s.decode().partition("=")
                fields[k] = v
    return fields


def wait_closed(sock, timeout):
    """True if the peer closes sock (EOF or reset) within timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], end - time.monotonic())
        if r:
            try:
                if sock.recv(4096) == b"":
                    return True
            except ConnectionError:
                return True
    return False


def copy_data(folder, *names):
    """Copies data files into folder (registries name their zone files relatively)."""
    for name in names:
        with open(os.path.join(DATA, name)) as src, open(os.path.join(folder, name), "w") as dst:
            dst.write(src.read())
    return os.path.join(folder, names[0])


@pytest.fixture(scope="module")
def answers_srvd(tmp_path_factory):
    """The daemon serving data/answers.yaml (zone svc.test.), shared by a module."""
    folder = str(tmp_path_factory.mktemp("answers"))
    path = copy_data(folder, "answers.yaml", "answers.zone", "static-test.zone")
    d = Srvd(path, "svc.test.").start()
    yield d
    d.stop()


def free_port():
    """A port free on HOST for both UDP and TCP right now (NSD, Knot, unbound and dnsmasq
    bind both; the caller binds it soon after, so a clash is possible but unlikely)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((HOST, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((HOST, port))
                except OSError:
                    continue
                return port
    pytest.fail("no port free for UDP and TCP on " + HOST)


def wait_until(pred, bound, what, context=None):
    """Polls pred every 20 ms; returns the seconds it took, or fails the test after bound
    seconds with context: a Srvd (its stderr), a callable returning text, or text."""
    start = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - start
        if time.monotonic() - start > bound:
            if isinstance(context, Srvd):
                context = context.stderr_text()
            elif callable(context):
                context = context()
            pytest.fail("%s: not within %.1f s\n%s" % (what, bound, context or ""))
        time.sleep(0.02)


_SANITIZED = None


def sanitized():
    """True if SRVD is built with AddressSanitizer (--enable-sanitizers): its RSS then
    holds shadow memory and freed blocks in quarantine, so RSS bounds do not apply."""
    global _SANITIZED
    if _SANITIZED is None:
        with open(SRVD, "rb") as f:
            _SANITIZED = b"__asan_init" in f.read()
    return _SANITIZED

# SPDX-License-Identifier: BSD-3-Clause
# test_cli.py: the command line (README "Command line", srvd(8)): -t, errors, exit statuses and signals.
"""Flags, configuration errors and process life cycle of the real binary."""

import os
import re
import signal
import socket
import struct
import subprocess
import time

import dns.message
import dns.query
import pytest

from conftest import (DATA, HOST, LISTEN_RE, SRCDIR, TIMEOUT, Srvd, assert_clean_stderr, copy_data,
                      run_srvd, tcp_read_msg)

EXAMPLE = os.path.join(SRCDIR, "zones", "example.yaml")

# Each bad registry in data/ and the exact lines -t prints for it (FILE is the path as given).
BAD = {
    "bad-address.yaml": [
        '{f}:10:32: services.web.instances[1].address: "10.0.0.300" is not an IPv4 or IPv6 address',
    ],
    "unknown-key.yaml": [
        "{f}:4:3: server.bogus: unknown key",
    ],
    "bad-label.yaml": [
        '{f}:9:16: services.web.instances[0].name: "web_1" is not a DNS label (letters, digits, '
        'hyphens; 1 to 63 characters; no hyphen first or last)',
    ],
    "dup-instance.yaml": [
        '{f}:10:16: services.web.instances[1].name: duplicate instance "web-1" (first at {f}:9:16)',
    ],
    "many-errors.yaml": [
        "{f}:4:8: server.ttl: 99999999999 is out of range (0..2147483647)",
        "{f}:9:5: services.web.colour: unknown key",
        '{f}:12:32: services.web.instances[1].address: "10.0.0.300" is not an IPv4 or IPv6 address',
    ],
}


def output_lines(p):
    return [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]


def test_check_example_ok():
    p = run_srvd(["-c", EXAMPLE, "-t"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert output_lines(p) == [EXAMPLE + ": ok"]
    assert_clean_stderr(p.stderr)


def test_check_file_after_t():
    # `srvd -t FILE`, the form the README and the issue use
    p = run_srvd(["-t", EXAMPLE])
    assert p.returncode == 0, p.stdout + p.stderr
    assert output_lines(p) == [EXAMPLE + ": ok"]
    bad = os.path.join(DATA, "bad-address.yaml")
    p = run_srvd(["-t", bad])
    assert p.returncode == 2
    assert output_lines(p) == [line.format(f=bad) for line in BAD["bad-address.yaml"]]


def test_check_long_options_and_test_data_ok():
    for name in ("minimal.yaml", "answers.yaml"):
        path = os.path.join(DATA, name)
        p = run_srvd(["--check", "--config", path])
        assert p.returncode == 0, p.stdout + p.stderr
        assert output_lines(p) == [path + ": ok"]


@pytest.mark.parametrize("name", sorted(BAD))
def test_check_bad_registry(name):
    path = os.path.join(DATA, name)
    p = run_srvd(["-c", path, "-t"])
    assert p.returncode == 2, p.stdout + p.stderr
    assert output_lines(p) == [line.format(f=path) for line in BAD[name]]
    assert_clean_stderr(p.stderr)


def test_check_relative_path_named_as_given():
    p = run_srvd(["-t", "-c", "bad-address.yaml"], cwd=DATA)
    assert p.returncode == 2
    expected = [line.format(f="bad-address.yaml") for line in BAD["bad-address.yaml"]]
    assert output_lines(p) == expected


def test_check_missing_file():
    path = os.path.join(DATA, "no-such-file.yaml")
    p = run_srvd(["-c", path, "-t"])
    assert p.returncode == 2
    assert output_lines(p) == [path + ": cannot open: No such file or directory"]


@pytest.mark.parametrize("name", ["bad-address.yaml", "many-errors.yaml"])
def test_start_with_bad_registry_exits_2(name):
    path = os.path.join(DATA, name)
    p = run_srvd(["-c", path, "-l", HOST + ":0", "-w", "1"])
    assert p.returncode == 2, p.stderr
    for line in BAD[name]:
        assert line.format(f=path) in p.stderr.splitlines(), p.stderr
    assert not LISTEN_RE.search(p.stderr), "listened despite a bad registry"
    assert_clean_stderr(p.stderr)


def test_version():
    p = run_srvd(["--version"])
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert re.match(r"srvd \d+\.\d+\.\d+", out), out
    for lib in ("ldns", "libevent", "libyaml"):
        assert lib in out.lower(), "--version does not mention %s:\n%s" % (lib, out)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(flag):
    p = run_srvd([flag])
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert "usage" in out.lower()
    for opt in ("-c", "-t", "-l", "-w", "--version"):
        assert opt in out, "help does not mention %s" % opt


@pytest.mark.parametrize("args", [["--bogus"], ["-x"], ["-w"], ["-w", "zero"], ["-l", "nowhere"],
                                  ["extra-argument"]])
def test_usage_errors_exit_2(args):
    p = run_srvd(["-c", os.path.join(DATA, "minimal.yaml")] + args)
    assert p.returncode == 2, "srvd %s exited %d: %s" % (args, p.returncode, p.stderr)
    assert p.stderr.strip(), "no message for a usage error"
    assert not LISTEN_RE.search(p.stderr)


def bound_port():
    """A UDP and a TCP socket on one port of 127.0.0.1, without SO_REUSEPORT."""
    for _ in range(20):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind((HOST, 0))
        tcp.listen(1)
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((HOST, port))
        except OSError:
            tcp.close()
            udp.close()
            continue
        return port, tcp, udp
    pytest.fail("no free port")


def test_cannot_bind_exits_1():
    port, tcp, udp = bound_port()
    try:
        p = run_srvd(["-c", os.path.join(DATA, "minimal.yaml"), "-l", "%s:%d" % (HOST, port),
                      "-w", "1"])
    finally:
        tcp.close()
        udp.close()
    assert p.returncode == 1, "exit %d when the port is taken: %s" % (p.returncode, p.stderr)
    assert str(port) in p.stderr, "the error does not name the address: %s" % p.stderr
    assert_clean_stderr(p.stderr)


def start_minimal(tmp_path, args=None):
    path = copy_data(str(tmp_path), "minimal.yaml")
    return Srvd(path, "min.test.", args=args).start()


def test_serves_minimal_registry(tmp_path):
    d = start_minimal(tmp_path)
    try:
        r = dns.query.udp(dns.message.make_query("web.min.test.", "A"), HOST, port=d.port,
                          timeout=TIMEOUT)
        assert [rd.address for rd in r.answer[0]] == ["192.0.2.1"]
        d.wait_log(r"serving min\.test\.")
    finally:
        d.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_idle_tcp_connection_exits_0(tmp_path, sig):
    d = start_minimal(tmp_path)
    s = socket.create_connection((HOST, d.port), timeout=TIMEOUT)
    try:
        # One answered query, then the connection just sits there.
        w = dns.message.make_query("web.min.test.", "A").to_wire()
        s.sendall(struct.pack("!H", len(w)) + w)
        assert dns.message.from_wire(tcp_read_msg(s)).answer
        # A second idle connection that never sent anything.
        s2 = socket.create_connection((HOST, d.port), timeout=TIMEOUT)
        t0 = time.monotonic()
        assert d.stop(sig=sig) == 0
        assert time.monotonic() - t0 < 5
        s2.close()
    finally:
        s.close()
        d.stop(check=False)


def test_listen_twice_ipv4_and_ipv6(tmp_path):
    d = start_minimal(tmp_path, args=["-l", HOST + ":0", "-l", "[::1]:0"])
    try:
        addrs = dict((m.group(1), int(m.group(2)))
                     for m in d.wait_log(LISTEN_RE.pattern, count=2))
        assert set(addrs) == {HOST, "[::1]"}, d.stderr_text()
        q = dns.message.make_query("web.min.test.", "AAAA")
        for transport in (dns.query.udp, dns.query.tcp):
            r = transport(q, "::1", port=addrs["[::1]"], timeout=TIMEOUT)
            assert [rd.address for rd in r.answer[0]] == ["::1"]
    finally:
        d.stop()


def test_second_srvd_on_a_served_port_exits_1(tmp_path):
    # SO_REUSEPORT must not let a second srvd share the port and take part of the queries
    first = start_minimal(tmp_path)
    try:
        args = ["-c", first.config, "-l", "%s:%d" % (HOST, first.port), "-w", "1"]
        try:
            p = run_srvd(args, timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("a second srvd kept running on port %d, which another one serves" %
                        first.port)
        assert p.returncode == 1, "exit %d on a served port: %s" % (p.returncode, p.stderr)
        assert "%s:%d" % (HOST, first.port) in p.stderr, p.stderr
        assert "Address already in use" in p.stderr, p.stderr
        assert not LISTEN_RE.search(p.stderr), p.stderr
        assert_clean_stderr(p.stderr)
        q = dns.message.make_query("web.min.test.", "A")
        for transport in (dns.query.udp, dns.query.tcp):
            for _ in range(8):
                r = transport(q, HOST, port=first.port, timeout=TIMEOUT)
                assert [rd.address for rd in r.answer[0]] == ["192.0.2.1"]
        assert first.alive()
    finally:
        first.stop()

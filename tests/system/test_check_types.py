# SPDX-License-Identifier: BSD-3-Clause
# test_check_types.py: the https, tls, grpc, dns and exec checks, and http's method/headers/body_match.
"""The richer check types (README "Health checks") against real backends.

Every backend runs on 127.0.0.x (check_backends.py): TLS servers with
certificates the test makes with `openssl` (good, expired, wrong name,
self-signed), an HTTP server that records requests, a gRPC health server
switched between SERVING and NOT_SERVING, a second srvd for the dns check,
and shell scripts for exec. Each failure mode must withdraw its instance
with its reason in `_health` TXT; the good ones are served.
"""

import os
import re
import shutil
import tempfile
import time

import pytest

from api_helpers import registry_text, request, request_json, start
from check_backends import GrpcHealth, HttpBackend, make_certs
from conftest import (HOST, SLOW, Srvd, health_fields, query, run_srvd, wait_until,
                      write_registry)

ZONE = "svc.test."
CHECK = "interval: 300ms, timeout: 250ms, rise: 1, fall: 1"
BOUND = 8.0 * SLOW


def health(d, svc, inst="i"):
    """The _health TXT of one instance as a dict (status, served, last, ...)."""
    return health_fields(d, "_health.%s.%s.%s" % (inst, svc, ZONE))


def served(d, svc):
    r = query(d, "%s.%s" % (svc, ZONE), "A")
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def service(name, addr, port, check, inst="i"):
    return ("  %s:\n    port: %d\n    check: {%s, %s}\n"
            "    instances: [{name: %s, address: %s}]\n" % (name, port, check, CHECK, inst, addr))


def registry(services, server=""):
    return ("server:\n  zone: %s\n  watch: false\n%s"
            "services:\n%s" % (ZONE, server, services))


def wait_last(d, svc, want, inst="i"):
    """Waits until the instance's last result is want (a string, or a compiled regex)."""
    def ok():
        last = health(d, svc, inst).get("last", "")
        return want.search(last) if hasattr(want, "search") else last == want
    wait_until(ok, BOUND, "%s: last=%s (now %r)" % (svc, want, health(d, svc, inst)), d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"), ips=("127.0.0.41",))


# --- https and tls ---------------------------------------------------------------------------

def test_https_and_tls_each_failure_mode_withdraws_with_its_reason(srvd_factory, certs):
    good = HttpBackend("127.0.0.41", certs["good"])
    expired = HttpBackend("127.0.0.42", certs["expired"])
    wrong = HttpBackend("127.0.0.43", certs["wrongname"])
    selfsigned = HttpBackend("127.0.0.44", certs["selfsigned"])
    ca = certs["ca"]
    named = "tls: {server_name: api.internal, ca: %s}" % ca
    try:
        text = registry(
            service("good", good.addr, good.port, "type: https, " + named) +
            service("byaddress", good.addr, good.port, "type: https, tls: {ca: %s}" % ca) +
            service("systemstore", good.addr, good.port,
                    "type: https, tls: {server_name: api.internal}") +
            service("expired", expired.addr, expired.port, "type: https, " + named) +
            service("wrongname", wrong.addr, wrong.port, "type: https, " + named) +
            service("selfsigned", selfsigned.addr, selfsigned.port, "type: https, " + named) +
            service("insecure", selfsigned.addr, selfsigned.port,
                    "type: https, tls: {server_name: api.internal, verify: false}") +
            service("handshake", good.addr, good.port, "type: tls, " + named) +
            service("handshakeself", selfsigned.addr, selfsigned.port, "type: tls, " + named))
        d = srvd_factory(text, ZONE)
        wait_last(d, "good", "http: status 200")
        wait_last(d, "byaddress", "http: status 200")
        wait_last(d, "insecure", "http: status 200")
        wait_last(d, "handshake", re.compile(r"^tls: handshake done \(TLSv1\.[23]\)$"))
        fail = "tls: certificate verify failed: "
        wait_last(d, "systemstore", fail + "unable to get local issuer certificate")
        wait_last(d, "expired", fail + "certificate has expired")
        wait_last(d, "wrongname", fail + "hostname mismatch")
        wait_last(d, "selfsigned", fail + "self-signed certificate")
        wait_last(d, "handshakeself", fail + "self-signed certificate")
        for svc in ("good", "byaddress", "insecure", "handshake"):
            assert served(d, svc) == [good.addr if svc != "insecure" else selfsigned.addr], svc
            assert health(d, svc)["status"] == "passing"
        for svc in ("systemstore", "expired", "wrongname", "selfsigned", "handshakeself"):
            assert served(d, svc) == [], svc
            assert health(d, svc)["served"] == "no"
        # SNI carries the name, never an address (RFC 6066); the address is what is
        # verified without a name
        assert "api.internal" in good.sni and None in good.sni, good.sni
        assert set(good.sni) == {"api.internal", None}
        # verify: false is logged once (per load), not per probe
        time.sleep(1.0)
        warned = [ln for ln in d.stderr_text().splitlines() if "tls.verify is false" in ln]
        assert len(warned) == 1 and "insecure:" in warned[0], warned
    finally:
        for b in (good, expired, wrong, selfsigned):
            b.close()


# --- method, headers, body_match over http and https -------------------------------------------

def test_http_and_https_method_headers_and_body_match(srvd_factory, certs):
    plain = HttpBackend("127.0.0.45", None, body='{"status":"ok"}')
    tls = HttpBackend("127.0.0.41", certs["good"], body='{"status":"ok"}')
    match = "body_match: '\"status\":\"ok\"'"
    try:
        text = registry(
            service("post", plain.addr, plain.port,
                    "type: http, method: POST, path: /healthz, "
                    "headers: {Host: api.internal, X-Probe: srvd}, " + match) +
            service("secure", tls.addr, tls.port,
                    "type: https, tls: {ca: %s}, headers: {X-Probe: tls}, %s" % (certs["ca"], match)) +
            service("head", plain.addr, plain.port, "type: http, method: HEAD"))
        d = srvd_factory(text, ZONE)
        wait_last(d, "post", "http: status 200, body matches")
        wait_last(d, "secure", "http: status 200, body matches")
        wait_last(d, "head", "http: status 200")
        posts = [r for r in plain.requests if r["method"] == "POST"]
        heads = [r for r in plain.requests if r["method"] == "HEAD"]
        assert posts and heads, plain.requests
        assert posts[-1]["path"] == "/healthz"
        assert posts[-1]["headers"]["host"] == "api.internal"
        assert posts[-1]["headers"]["x-probe"] == "srvd"
        assert posts[-1]["headers"]["content-length"] == "0"
        # without a Host header of its own, a check sends the address it probes
        assert heads[-1]["headers"]["host"] == "127.0.0.45:%d" % plain.port
        assert tls.requests[-1]["headers"]["x-probe"] == "tls"
        assert tls.requests[-1]["headers"]["host"] == "127.0.0.41:%d" % tls.port

        # the body no longer says ok: withdrawn, with the reason
        plain.set(body='{"status":"down"}')
        tls.set(body='{"status":"down"}')
        wait_last(d, "post", "http: status 200, body_match not in the first 17 bytes")
        wait_last(d, "secure", "http: status 200, body_match not in the first 17 bytes")
        assert served(d, "post") == [] and served(d, "secure") == []
        # chunked, the match split over chunks: back
        plain.set(body='{"status":"ok"}', chunked=True)
        tls.set(body='{"status":"ok"}', chunked=True)
        wait_last(d, "post", "http: status 200, body matches")
        wait_last(d, "secure", "http: status 200, body matches")
        assert served(d, "post") == [plain.addr]
        # only the first 4 KiB count
        plain.set(body="x" * 5000 + '{"status":"ok"}', chunked=False)
        wait_last(d, "post", "http: status 200, body_match not in the first 4096 bytes")
        # the status decides first
        plain.set(status=503, body='{"status":"ok"}')
        wait_last(d, "post", "http: status 503")
        wait_last(d, "head", "http: status 503")
    finally:
        plain.close()
        tls.close()


# --- grpc ----------------------------------------------------------------------------------------

def test_grpc_health_plaintext_and_tls(srvd_factory, certs):
    plain = GrpcHealth("127.0.0.46", services=("", "web"))
    secure = GrpcHealth("127.0.0.41", certs["good"])
    try:
        text = registry(
            service("h2c", plain.addr, plain.port, "type: grpc") +
            service("named", plain.addr, plain.port, "type: grpc, grpc_service: web") +
            service("unknown", plain.addr, plain.port, "type: grpc, grpc_service: nope") +
            service("tls", secure.addr, secure.port,
                    "type: grpc, tls: {server_name: api.internal, ca: %s}" % certs["ca"]) +
            service("tlsbyaddress", secure.addr, secure.port,
                    "type: grpc, tls: {ca: %s}" % certs["ca"]))
        d = srvd_factory(text, ZONE)
        for svc in ("h2c", "named", "tls", "tlsbyaddress"):
            wait_last(d, svc, "grpc: SERVING")
        wait_last(d, "unknown", "grpc: status 5 (NOT_FOUND): unknown service")
        assert served(d, "h2c") == [plain.addr] and served(d, "tls") == [secure.addr]
        assert served(d, "unknown") == []
        assert "web" in plain.requests and "" in plain.requests
        plain.serving = secure.serving = False
        for svc in ("h2c", "named", "tls"):
            wait_last(d, svc, "grpc: NOT_SERVING")
            assert served(d, svc) == []
        plain.serving = secure.serving = True
        for svc in ("h2c", "tls"):
            wait_last(d, svc, "grpc: SERVING")
        assert served(d, "h2c") == [plain.addr]
        # a server that is gone
        plain.close()
        wait_last(d, "h2c", "connect: Connection refused")
    finally:
        plain.close()
        secure.close()


def test_grpc_against_a_server_without_the_health_service(srvd_factory):
    """An HTTP/1.1 server cannot speak HTTP/2: the probe fails, it does not hang."""
    http1 = HttpBackend("127.0.0.47", None)
    try:
        d = srvd_factory(registry(service("old", http1.addr, http1.port, "type: grpc")), ZONE)
        wait_last(d, "old", re.compile(r"^grpc: "))
        assert served(d, "old") == []
    finally:
        http1.close()


# --- dns -----------------------------------------------------------------------------------------

def test_dns_check_asks_another_srvd(srvd_factory, tmp_path):
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = Srvd(write_registry(str(other_dir),
                                "server: {zone: other.test., watch: false}\n"
                                "services:\n  db:\n    port: 5432\n    check: {type: none}\n"
                                "    instances: [{name: d1, address: 192.0.2.7}]\n"),
                 "other.test.").start()
    try:
        port = other.port

        def dns(name, check):
            return service(name, HOST, port, "type: dns, dns: {%s}" % check)
        text = registry(
            dns("found", "name: db.other.test., type: A") +
            dns("srv", "name: _db._tcp.other.test., type: SRV") +
            dns("missing", "name: nope.other.test.") +
            dns("missingok", "name: nope.other.test., rcode: NXDOMAIN") +
            dns("elsewhere", "name: example.org.") +
            service("closed", "127.0.0.48", port, "type: dns, dns: {name: db.other.test.}"))
        d = srvd_factory(text, ZONE)
        wait_last(d, "found", "dns: NOERROR")
        wait_last(d, "srv", "dns: NOERROR")
        wait_last(d, "missingok", "dns: NXDOMAIN")
        wait_last(d, "missing", "dns: NXDOMAIN, expected NOERROR")
        wait_last(d, "elsewhere", "dns: REFUSED, expected NOERROR")
        wait_last(d, "closed", "dns: Connection refused")
        assert served(d, "found") == [HOST] and served(d, "missingok") == [HOST]
        assert served(d, "missing") == [] and served(d, "closed") == []
        # the other server stops: its check fails
        other.stop()
        wait_last(d, "found", "dns: Connection refused")
        assert served(d, "found") == []
    finally:
        other.stop(check=False)


# --- exec ----------------------------------------------------------------------------------------

SCRIPTS = {
    "ok.sh": "#!/bin/sh\necho 'all good'\nexit 0\n",
    "one.sh": "#!/bin/sh\necho 'db down'\necho 'more detail'\nexit 1\n",
    "two.sh": "#!/bin/sh\necho 'replica lag 30s' >&2\nexit 2\n",
    "args.sh": "#!/bin/sh\necho \"$1 $2 $3\" > \"$(dirname \"$0\")/run/args\"\nexit 0\n",
    "sleep.sh": "#!/bin/sh\necho $$ >> \"$(dirname \"$0\")/run/sleep.pids\"\nsleep 30\n",
    "mega.sh": "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x\necho\nexit 0\n",
    "endless.sh": "#!/bin/sh\nexec yes endless\n",
}


@pytest.fixture
def script_dir():
    """Scripts in a folder the dropped user (root runs srvd as nobody) can read, and a
    run/ folder it can write."""
    d = tempfile.mkdtemp(prefix="srvd-exec-")
    os.chmod(d, 0o755)
    for name, text in SCRIPTS.items():
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    os.mkdir(os.path.join(d, "run"))
    os.chmod(os.path.join(d, "run"), 0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def exec_server():
    """server: keys for exec checks; as root, srvd must drop to a user for them."""
    text = "  exec_checks: true\n"
    if os.geteuid() == 0:
        text += "  user: nobody\n"
    return text


def children(pid):
    """(pid, state) of every process whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


def test_exec_checks_exit_status_timeout_and_output(script_dir):
    def ex(name, script, extra="", check=None):
        return ("  %s:\n    port: 7000\n    check: {type: exec, command: [%s%s], %s}\n"
                "    instances: [{name: i, address: 127.0.0.49}]\n"
                % (name, os.path.join(script_dir, script), extra,
                   check or CHECK))
    text = registry(
        ex("ok", "ok.sh") + ex("one", "one.sh") + ex("two", "two.sh") +
        ex("args", "args.sh", ", '{address}', 'port={port}', '{other}'") +
        ex("sleeper", "sleep.sh", check="interval: 1s, timeout: 300ms, rise: 1, fall: 1") +
        ex("mega", "mega.sh", check="interval: 1s, timeout: 900ms, rise: 1, fall: 1") +
        ex("endless", "endless.sh", check="interval: 1s, timeout: 300ms, rise: 1, fall: 1"),
        exec_server())
    path = os.path.join(script_dir, "srvd.yaml")
    with open(path, "w") as f:
        f.write(text)
    d = Srvd(path, ZONE).start()
    try:
        wait_last(d, "ok", "exec: exit 0: all good")
        wait_last(d, "one", "exec: exit 1: db down")
        wait_last(d, "two", "exec: exit 2: replica lag 30s")
        wait_last(d, "args", "exec: exit 0")
        with open(os.path.join(script_dir, "run", "args")) as f:
            assert f.read() == "127.0.0.49 port=7000 {other}\n"
        wait_last(d, "mega", re.compile(r"^exec: exit 0: x{50,}$"))
        assert served(d, "ok") == ["127.0.0.49"] and served(d, "mega") == ["127.0.0.49"]
        assert served(d, "one") == [] and served(d, "two") == []
        # the sleeper runs into its timeout, several times
        wait_last(d, "sleeper", "timeout after 300 ms")
        # a command that writes without end is cut off at its timeout too: reading
        # its output never holds the checker (which also keeps the others going)
        wait_last(d, "endless", "timeout after 300 ms")
        pids_file = os.path.join(script_dir, "run", "sleep.pids")
        wait_until(lambda: os.path.exists(pids_file) and len(open(pids_file).read().split()) >= 3,
                   BOUND, "three timed-out runs of sleep.sh", d)
        time.sleep(0.5)
        # killed with its group (sleep 30 included) and reaped: no zombie stays with srvd
        for pid in [int(p) for p in open(pids_file).read().split()[:-1]]:
            assert not os.path.exists("/proc/%d" % pid) or \
                open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z" and \
                int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1]) != d.proc.pid
        zombies = [c for c in children(d.proc.pid) if c[1] == "Z"]
        assert zombies == [], zombies
        sleeps = [c for c in children(1) if open("/proc/%d/cmdline" % c[0]).read().startswith("sleep\0" "30")]
        assert sleeps == [], sleeps
        # srvd read the megabyte without keeping it
        with open("/proc/%d/status" % d.proc.pid) as f:
            rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        assert rss_kb < 200 * 1024, rss_kb
    finally:
        d.stop()


def test_exec_needs_exec_checks_and_never_runs_as_root(tmp_path):
    body = ("services:\n  db:\n    port: 5432\n"
            "    check: {type: exec, command: [/bin/true]}\n"
            "    instances: [{name: d1, address: 127.0.0.1}]\n")
    path = write_registry(str(tmp_path), "server: {zone: svc.test.}\n" + body)
    p = run_srvd(["-t", path])
    assert p.returncode == 2
    assert "%s:5:13: services.db.check.type: type exec runs commands: allow it with " \
        "server.exec_checks: true" % path in p.stdout, p.stdout
    path = write_registry(str(tmp_path), "server: {zone: svc.test., exec_checks: true}\n" + body)
    p = run_srvd(["-t", path])
    if os.geteuid() == 0:
        assert p.returncode == 2
        assert "%s:5:13: services.db.check.type: type exec never runs as root: srvd runs as " \
            "root, set server.user" % path in p.stdout, p.stdout
        path = write_registry(str(tmp_path), "server: {zone: svc.test., exec_checks: true, "
                                             "user: nobody}\n" + body)
        p = run_srvd(["-t", path])
    assert p.returncode == 0 and p.stdout == "%s: ok\n" % path, p.stdout


def test_api_refuses_exec_and_shows_the_new_keys(tmp_path):
    # exec_checks on: the API refuses exec all the same (the main file has none, so
    # srvd may run as root here)
    d = start(tmp_path, registry_text(extra="  exec_checks: true\n"))
    try:
        body = {"port": 5432, "check": {"type": "exec", "command": ["/bin/true"]},
                "instances": [{"name": "d1", "address": "127.0.0.1"}]}
        status, _, data = request(d, "PUT", "/v1/services/db", body)
        assert status == 400, data
        assert b"type exec is not allowed in services written through the API" in data, data
        assert not os.path.exists(os.path.join(str(tmp_path), "services.d", "db.yaml"))
        # the other new keys are fine through the API, and its view shows them
        web = {"port": 8443,
               "check": {"type": "https", "method": "HEAD", "headers": {"Host": "api.internal"},
                         "tls": {"server_name": "api.internal", "verify": False},
                         "path": "/ready", "interval": "1s"},
               "instances": [{"name": "w1", "address": "127.0.0.50"}]}
        status, body = request_json(d, "PUT", "/v1/services/web", web)
        assert status == 201, body
        status, body = request_json(d, "GET", "/v1/services/web")
        check = body["check"]
        assert check["type"] == "https" and check["method"] == "HEAD"
        assert check["headers"] == {"Host": "api.internal"}
        assert check["tls"] == {"server_name": "api.internal", "verify": False}
        assert check["path"] == "/ready" and "dns" not in check and "command" not in check
    finally:
        d.stop()


def test_keys_of_another_type_are_errors(tmp_path):
    path = write_registry(str(tmp_path),
                          "server: {zone: svc.test.}\n"
                          "services:\n  a:\n    port: 80\n"
                          "    check: {type: tcp, body_match: ok, tls: {verify: false}}\n"
                          "    instances: [{name: i, address: 127.0.0.1}]\n"
                          "  b:\n    port: 80\n"
                          "    check: {type: http, grpc_service: x, headers: {'Bad Name': 1}}\n"
                          "    instances: [{name: i, address: 127.0.0.1}]\n")
    p = run_srvd(["-t", path])
    assert p.returncode == 2
    lines = p.stdout.splitlines()
    assert "%s:5:24: services.a.check.body_match: only for http, https, not type tcp" \
        % path in lines, lines
    assert "%s:5:40: services.a.check.tls: only for https, tls, grpc, not type tcp" \
        % path in lines, lines
    assert "%s:9:25: services.b.check.grpc_service: only for grpc, not type http" \
        % path in lines, lines
    assert any("services.b.check.headers.Bad Name: \"Bad Name\" is not an HTTP header name"
               in ln for ln in lines), lines

# SPDX-License-Identifier: BSD-3-Clause
# test_srvctl.py: srvctl, the command-line client (README "srvctl"), against a real daemon.
"""Every srvctl command against srvd's API on 127.0.0.1: its table, its
--json, and its exit status and error text, which follow `curl -f`."""

import json
import os
import subprocess

import dns.rcode

from api_helpers import ZONE, registry_text, start
from conftest import SRVD, free_port, query

SRVCTL = os.path.join(os.path.dirname(SRVD), "srvctl")
TOKEN = "admin-secret"
BEAT = "beat-secret"
SERVICES = ("  web:\n"
            "    port: 8080\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: web-1, address: 192.0.2.11}\n"
            "      - {name: web-2, address: 192.0.2.12}\n"
            "  worker:\n"
            "    port: 9000\n"
            "    check: {type: ttl, ttl: 2s}\n"
            "    instances: [{name: w-1, address: 127.0.0.51}]\n")


def ctl(d, *args, token=TOKEN, tmp=None):
    argv = [SRVCTL, "--api", "http://127.0.0.1:%d" % d.api_port]
    if token is not None:
        path = os.path.join(str(tmp), "token-%s" % token)
        with open(path, "w") as f:
            f.write(token + "\n")
        argv += ["--token-file", path]
    return subprocess.run(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=30)


def addresses(d, name):
    r = query(d, name, "A")
    assert r.rcode() == dns.rcode.NOERROR
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def test_srvctl_drives_the_api(tmp_path):
    assert os.access(SRVCTL, os.X_OK), SRVCTL
    d = start(tmp_path, registry_text(SERVICES, token=TOKEN,
                                      extra="  heartbeat_token: %s\n" % BEAT))
    try:
        p = ctl(d, "services", tmp=tmp_path)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0].split() == ["SERVICE", "PASSING", "POLICY", "PORT", "MAINTENANCE"]
        assert lines[1].split() == ["web", "2/2", "round-robin", "8080/tcp", "-"], lines
        assert lines[2].split()[:2] == ["worker", "0/1"], lines

        p = ctl(d, "drain", "web", "web-1", "kernel upgrade", tmp=tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "web/web-1: drained: kernel upgrade\n"
        assert addresses(d, "web." + ZONE) == ["192.0.2.12"]
        p = ctl(d, "show", "web", tmp=tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("service web: 1/2 passing, policy round-robin, port 8080/tcp")
        row = [line for line in p.stdout.splitlines() if line.startswith("web-1 ")][0]
        assert row.split()[:6] == ["web-1", "192.0.2.11", "8080", "1", "passing", "no"], row
        assert "kernel upgrade" in row
        p = ctl(d, "--json", "show", "web", tmp=tmp_path)
        body = json.loads(p.stdout)
        assert body["instances"][0]["drained"] is True
        p = ctl(d, "undrain", "web", "web-1", tmp=tmp_path)
        assert p.returncode == 0 and "not drained" in p.stdout, (p.stdout, p.stderr)
        assert addresses(d, "web." + ZONE) == ["192.0.2.11", "192.0.2.12"]

        # the heartbeat token is enough for pass and fail, and for nothing else
        p = ctl(d, "pass", "worker", "w-1", "lag 2s", token=BEAT, tmp=tmp_path)
        assert p.returncode == 0 and p.stdout == "worker/w-1: passing (lag 2s)\n", p
        assert addresses(d, "worker." + ZONE) == ["127.0.0.51"]
        p = ctl(d, "fail", "worker", "w-1", token=BEAT, tmp=tmp_path)
        assert p.stdout == "worker/w-1: failing (ttl: fail)\n", p
        p = ctl(d, "drain", "web", "web-1", token=BEAT, tmp=tmp_path)
        assert p.returncode == 22, p
        assert p.stderr.startswith("srvctl: (22) The requested URL returned error: 403: "), p

        # register FILE.yaml (named after the file) and deregister
        spec = os.path.join(str(tmp_path), "api.yaml")
        with open(spec, "w") as f:
            f.write("port: 7000\ncheck: {type: none}\n"
                    "instances:\n  - {name: a-1, address: 192.0.2.21}\n")
        p = ctl(d, "register", spec, tmp=tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("service api: 1/1 passing"), p.stdout
        assert addresses(d, "api." + ZONE) == ["192.0.2.21"]
        p = ctl(d, "reload", tmp=tmp_path)
        assert p.returncode == 0 and p.stdout.startswith("reload unchanged, serial "), p.stdout
        p = ctl(d, "deregister", "api", tmp=tmp_path)
        assert p.returncode == 0 and p.stdout == "deregistered api (reload ok)\n", p
        assert query(d, "api." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN

        # errors as curl -f gives them
        p = ctl(d, "show", "nope", tmp=tmp_path)
        assert p.returncode == 22 and p.stdout == ""
        assert p.stderr == ('srvctl: (22) The requested URL returned error: 404: '
                            'no service named "nope"\n'), p.stderr
        p = ctl(d, "deregister", "web", token=None)
        assert p.returncode == 22 and ": 401: " in p.stderr, p.stderr
        with open(spec, "w") as f:
            f.write("port: 7000\ninstances:\n  - {name: a-1, address: 10.0.0.300}\n")
        p = ctl(d, "register", spec, tmp=tmp_path)
        assert p.returncode == 22 and ": 400: services.api.instances[0].address: " in p.stderr
        # the error points into the file sent, as srvd -t would
        col = "  - {name: a-1, address: 10.0.0.300}".index("10.0.0.300") + 1
        assert p.stderr.splitlines()[0] == (
            '%s:3:%d: services.api.instances[0].address: "10.0.0.300" is not an IPv4 or IPv6 '
            'address' % (spec, col)), p.stderr
        p = ctl(d, "show", tmp=tmp_path)
        assert p.returncode == 2 and "usage: srvctl show SERVICE" in p.stderr
        p = ctl(d, "frobnicate", tmp=tmp_path)
        assert p.returncode == 2 and "unknown command frobnicate" in p.stderr
    finally:
        d.stop()
    port = free_port()
    p = subprocess.run([SRVCTL, "--api", "http://127.0.0.1:%d" % port, "services"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 7, p
    assert p.stderr == ("srvctl: (7) Failed to connect to 127.0.0.1 port %d: Connection "
                        "refused\n" % port)
    p = subprocess.run([SRVCTL, "--api", "https://127.0.0.1:1", "services"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 2 and "only http://" in p.stderr
    # a port past 65535 is a usage error, not another port (getaddrinfo would wrap it)
    p = subprocess.run([SRVCTL, "--api", "http://127.0.0.1:99999", "services"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 2 and "bad port" in p.stderr, p
    # a token file without a token: said at once, not a 401 later
    blank = os.path.join(str(tmp_path), "blank-token")
    with open(blank, "w") as f:
        f.write(" \r\n")
    p = subprocess.run([SRVCTL, "--api", "http://127.0.0.1:%d" % port, "--token-file", blank,
                        "services"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    assert p.returncode == 2 and "no token" in p.stderr, p

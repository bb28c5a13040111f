# SPDX-License-Identifier: BSD-3-Clause
# test_container.py: glibc's stub resolver against srvd on 127.0.0.1:53, as a container sees it.
"""srvd listens on 127.0.0.1:53 (the tests run as root) and forwards names outside
svc.test to a second srvd serving other.example on a loopback port. Every lookup
runs `getent` in a child made with `unshare -m` that bind-mounts a resolv.conf
(`nameserver 127.0.0.1`, `search svc.test`, `options ndots:5`) over /etc/resolv.conf,
and an nsswitch.conf with `hosts: files dns` if the machine's lacks dns. The
mounts live in the child's private mount namespace only: the machine's files are
never touched. No `options timeout:` is set: glibc's default 5 s timeout stays,
so a dropped or unanswered query shows as a stall and fails the time bounds.
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import SLOW, Srvd, write_registry

N_BIG = 60  # instances of big.svc.test: 60 A records need TCP after truncation
LOOKUP_LIMIT = 2.0 * SLOW  # seconds for any one getent: no 5 s stall

SVC_YAML = """server:
  zone: svc.test
  max_answers: 0
  forward: ["127.0.0.1:%(up)d"]
  forward_timeout: 500ms
  http: 127.0.0.1:%(http)d
services:
  web:
    port: 80
    check: {type: none}
    instances:
      - {name: web-1, address: 192.0.2.1}
      - {name: web-6, address: "2001:db8::1"}
  big:
    port: 80
    check: {type: none}
    instances:
%(big)s
"""

OTHER_YAML = """server:
  zone: other.example
services:
  www:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.7}
"""


def port53_user():
    """None if 127.0.0.1:53 is free for UDP and TCP, else a description of the holder."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 53))
        except OSError as e:
            who = ""
            if shutil.which("ss"):
                who = subprocess.run(["ss", "-lntup", "sport", "= :53"], text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
            return "%s (%s)\n%s" % ("udp" if kind == socket.SOCK_DGRAM else "tcp", e, who)
        finally:
            s.close()
    return None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    for tool in ("unshare", "mount", "getent"):
        assert shutil.which(tool), "%s not found (Debian packages util-linux, mount, libc-bin)" % tool
    assert os.geteuid() == 0, "the container test needs root: unshare -m and port 53"
    busy = port53_user()
    if busy:
        pytest.fail("127.0.0.1:53 is taken, the container test needs it: " + busy)

    folder = tmp_path_factory.mktemp("container")
    up_dir, svc_dir = folder / "other", folder / "svc"
    up_dir.mkdir()
    svc_dir.mkdir()
    up = Srvd(write_registry(str(up_dir), OTHER_YAML), "other.example.").start()
    big = "\n".join("      - {name: b%d, address: 192.0.2.%d}" % (i, 100 + i)
                    for i in range(N_BIG))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http = s.getsockname()[1]
    svc = Srvd(write_registry(str(svc_dir), SVC_YAML % {"up": up.port, "big": big,
                                                         "http": http}),
               "svc.test.", args=["-l", "127.0.0.1:53"])
    svc.start()
    assert svc.port == 53

    resolv = folder / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\nsearch svc.test\noptions ndots:5\n")
    mounts = [(str(resolv), "/etc/resolv.conf")]
    with open("/etc/nsswitch.conf") as f:
        hosts = [line.split() for line in f if line.split()[:1] == ["hosts:"]]
    if not hosts or "dns" not in hosts[-1]:
        nss = folder / "nsswitch.conf"
        nss.write_text("passwd: files\ngroup: files\nhosts: files dns\n")
        mounts.append((str(nss), "/etc/nsswitch.conf"))
    yield {"mounts": mounts, "svc": svc, "up": up, "http": http}
    svc.stop()
    up.stop()


def getent(env, *args):
    """Runs getent ARGS in a private mount namespace with our resolv.conf;
    returns (exit status, stdout, seconds)."""
    script = "".join('mount --bind "%s" "%s" && ' % m for m in env["mounts"]) + 'exec getent "$@"'
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"] + list(args)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    took = time.monotonic() - t0
    assert "mount" not in p.stderr, p.stderr
    return p.returncode, p.stdout, took


def metric(env, name):
    url = "http://127.0.0.1:%d/metrics" % env["http"]
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("no metric " + name)


def addresses(out):
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_resolv_conf_is_ours_in_the_child_only(env):
    script = "".join('mount --bind "%s" "%s" && ' % m for m in env["mounts"])
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        script + "cat /etc/resolv.conf"], stdout=subprocess.PIPE, text=True,
                       check=True)
    assert "search svc.test" in p.stdout
    with open("/etc/resolv.conf") as f:
        assert "search svc.test" not in f.read()


def test_hosts_web(env):
    rc, out, took = getent(env, "hosts", "web")
    assert rc == 0, out
    assert out.split()[1].rstrip(".") == "web.svc.test"
    assert addresses(out) & {"192.0.2.1", "2001:db8::1"}
    assert took < LOOKUP_LIMIT, took


def test_ahosts_web_a_and_aaaa_in_parallel(env):
    rc, out, took = getent(env, "ahosts", "web")
    assert rc == 0, out
    assert addresses(out) == {"192.0.2.1", "2001:db8::1"}
    assert took < LOOKUP_LIMIT, "getent ahosts web took %.2f s (a stall?)" % took


def test_truncated_answer_retried_over_tcp(env):
    tc0 = metric(env, "srvd_dns_truncated_total")
    tcp0 = metric(env, "srvd_tcp_connections_total")
    rc, out, took = getent(env, "ahosts", "big")
    assert rc == 0, out
    want = {"192.0.2.%d" % (100 + i) for i in range(N_BIG)}
    assert addresses(out) == want
    assert took < LOOKUP_LIMIT, took
    # the UDP answer was truncated and glibc came back over TCP
    assert metric(env, "srvd_dns_truncated_total") > tc0
    assert metric(env, "srvd_tcp_connections_total") > tcp0


def test_nonexistent_name_fails_fast(env):
    for args in (("hosts", "nosuch"), ("ahosts", "nosuch"), ("hosts", "nosuch.svc.test")):
        rc, out, took = getent(env, *args)
        assert rc == 2, (args, rc, out)
        assert out == ""
        assert took < LOOKUP_LIMIT, (args, took)


def test_forwarded_name_through_srvd(env):
    rc, out, took = getent(env, "hosts", "www.other.example")
    assert rc == 0, out
    assert addresses(out) == {"192.0.2.7"}
    assert took < LOOKUP_LIMIT, took
    rc, out, took = getent(env, "ahosts", "www.other.example")
    assert rc == 0, out
    assert addresses(out) == {"192.0.2.7"}
    assert took < LOOKUP_LIMIT, took

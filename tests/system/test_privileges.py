# SPDX-License-Identifier: BSD-3-Clause
# test_privileges.py: server.user drops root after binding a low port; files others could write refused.
"""Privileges (README "Running as root": server.user).

These tests need root (as CI and ./dev test run): they start srvd as root,
on a port below 1024, and check what the kernel says about the process.
Registries live in a 0755 folder outside pytest's 0700 tmp tree, so that
the dropped user can read them at reload.
"""

import errno
import http.client
import http.server
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import HOST, SRVD, Srvd, query, run_srvd, wait_until

ZONE = "svc.test."
NOBODY = pwd.getpwnam("nobody")


def test_runs_as_root():
    # every test below depends on it: fail loudly rather than skip
    assert os.geteuid() == 0, "the privilege tests must run as root"


def port_free(port):
    """True if port is free on 127.0.0.1 for both UDP and TCP."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((HOST, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
        finally:
            s.close()
    return True


def low_ports(n):
    """n free ports below 1024 on 127.0.0.1, 53 first if it is free."""
    found = []
    for port in [53] + list(range(980, 1024)):
        if port_free(port):
            found.append(port)
            if len(found) == n:
                return found
    pytest.fail("no %d free ports below 1024 on 127.0.0.1" % n)


@pytest.fixture
def public_dir():
    """A folder the dropped user can read (pytest's tmp_path is 0700 root)."""
    d = tempfile.mkdtemp(prefix="srvd-priv-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


@pytest.fixture
def backend():
    """An HTTP health endpoint on 127.0.0.41; .handler.status picks the answer."""
    handler = type("H", (Health,), {"status": 200})
    srv = http.server.ThreadingHTTPServer(("127.0.0.41", 0), handler)
    srv.handler = handler
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def registry(dns_port, http_port, backend_port, user="nobody", extra_services=""):
    return ("server:\n"
            "  listen: [\"127.0.0.1:%d\"]\n"
            "  zone: %s\n"
            "  user: %s\n"
            "  http: 127.0.0.1:%d\n"
            "  watch: false\n"
            "services:\n"
            "  web:\n"
            "    port: %d\n"
            "    check: {type: http, path: /h, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n"
            "    instances:\n"
            "      - {name: w1, address: 127.0.0.41}\n"
            "  api:\n"
            "    port: 80\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: a1, address: 192.0.2.1}\n"
            "%s" % (dns_port, ZONE, user, http_port, backend_port, extra_services))


def addrs(d, name):
    r = query(d, name, "A")
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids


def api_post(port, path):
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        c.request("POST", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_user_drops_root_after_binding_low_ports(public_dir, backend):
    dns_port, http_port = low_ports(2)
    path = write(os.path.join(public_dir, "srvd.yaml"),
                 registry(dns_port, http_port, backend.server_address[1]))
    d = Srvd(path, ZONE, args=[]).start()
    assert d.port == dns_port
    d.wait_log(r"dropped root privileges: now user nobody \(uid %d, gid %d"
               % (NOBODY.pw_uid, NOBODY.pw_gid))
    ids = proc_ids(d.proc.pid)
    assert ids["Uid"] == [NOBODY.pw_uid] * 4, ids
    assert ids["Gid"] == [NOBODY.pw_gid] * 4, ids
    assert 0 not in ids["Groups"], ids
    # the drop comes after every bind: the API on a low port too
    text = d.stderr_text()
    assert text.index("api listening on 127.0.0.1:%d" % http_port) < text.index("dropped root")
    assert text.index("listening on 127.0.0.1:%d (udp, tcp)" % dns_port) < \
        text.index("dropped root")

    # answers over UDP and TCP
    assert addrs(d, "api." + ZONE) == ["192.0.2.1"]
    r = query(d, "api." + ZONE, "A", transport="tcp")
    assert [rr.address for rr in r.answer[0]] == ["192.0.2.1"]

    # health checks run as nobody: the backend passes, then fails, then passes
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.41"], 5.0, "web served", d)
    backend.handler.status = 503
    wait_until(lambda: addrs(d, "web." + ZONE) == [], 5.0, "web withdrawn after 503", d)
    backend.handler.status = 200
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.41"], 5.0, "web restored", d)

    # SIGHUP reload of a registry readable by nobody
    write(path, registry(dns_port, http_port, backend.server_address[1], extra_services=(
        "  db:\n    port: 5432\n    check: {type: none}\n"
        "    instances: [{name: d1, address: 192.0.2.9}]\n")))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial")
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    # and through the API
    status, body = api_post(http_port, "/v1/reload")
    assert status == 200, body

    # a registry nobody cannot read: the reload fails naming the file, answers stay
    os.chmod(path, 0o600)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload rejected")
    d.wait_log(r"%s: .*(Permission denied|cannot)" % path.replace(".", r"\."))
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    assert d.alive()
    d.stop()


def test_unknown_user_exits_2_before_binding(public_dir, backend):
    (port,) = low_ports(1)
    path = write(os.path.join(public_dir, "srvd.yaml"),
                 registry(port, 8053, backend.server_address[1], user="no-such-user-x"))
    r = run_srvd(["-c", path])
    assert r.returncode == 2, r.stderr
    assert 'server.user: no user "no-such-user-x" on this system' in r.stderr
    assert "listening on" not in r.stderr


def test_user_ignored_with_warning_when_not_root(public_dir, backend):
    text = registry(0, 0, backend.server_address[1]).replace(
        "  http: 127.0.0.1:0\n", "")
    path = write(os.path.join(public_dir, "srvd.yaml"), text)

    def become_nobody():
        os.setgroups([])
        os.setgid(NOBODY.pw_gid)
        os.setuid(NOBODY.pw_uid)

    # nobody may not be able to reach the build folder (a CI checkout under
    # a 0700 folder): run a copy from the public folder
    srvd = os.path.join(public_dir, "srvd")
    shutil.copy(SRVD, srvd)
    os.chmod(srvd, 0o755)
    # Srvd.start() has no preexec hook: start it by hand
    p = subprocess.run([srvd, "-c", path, "-t"], preexec_fn=become_nobody,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    assert p.returncode == 0, p.stdout + p.stderr
    proc = subprocess.Popen([srvd, "-c", path, "-l", HOST + ":0", "-w", "1"],
                            preexec_fn=become_nobody, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        end = time.monotonic() + 10
        while time.monotonic() < end:
            line = proc.stderr.readline()
            lines.append(line)
            if "srvd 0" in line and "serving" in line or not line:
                break
        text = "".join(lines)
        assert "server.user nobody: srvd is not running as root" in text, text
        assert "dropped root" not in text
        assert proc.poll() is None, text
    finally:
        proc.terminate()
        proc.wait(5)


# --- files others could write (issue 6, issue 13) ------------------------------------------
# As root srvd refuses a file whose path someone else could write or replace: the file, its
# folder and every folder above up to / must be owned by root (or server.user) and writable
# by no group or others; a root-owned sticky folder passes as a parent only. public_dir sits
# in /tmp (root, 1777): a safe parent.

DAEMON = pwd.getpwnam("daemon")

UNSAFE_MAIN = ("server:\n"
               "  zone: %s\n"
               "  watch: false\n"
               "zones: [static.zone]\n"
               "include: services.d/*.yaml\n"
               "services:\n"
               "  api:\n"
               "    port: 80\n"
               "    check: {type: none}\n"
               "    instances: [{name: a1, address: 192.0.2.1}]\n" % ZONE)
SERVICE = ("services:\n"
           "  db:\n"
           "    port: 5432\n"
           "    check: {type: none}\n"
           "    instances: [{name: d1, address: 192.0.2.9}]\n")
ZONEFILE = "www 60 IN A 192.0.2.80\n"


def unsafe_tree(folder, main=UNSAFE_MAIN):
    os.makedirs(os.path.join(folder, "services.d"))
    os.chmod(os.path.join(folder, "services.d"), 0o755)
    write(os.path.join(folder, "services.d", "db.yaml"), SERVICE)
    write(os.path.join(folder, "static.zone"), ZONEFILE)
    return write(os.path.join(folder, "srvd.yaml"), main)


def writable(path, by, what="it"):
    """The refusal of path, writable by `by` ("group", "others" or "group and others")."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    who = {"group": "g", "others": "o", "group and others": "go"}[by]
    return "%s: writable by %s (mode %04o); refusing to load %s as root (chmod %s-w %s)" % (
        path, by, mode, what, who, path)


def owned(path, uid, what="it"):
    return ("%s: owned by uid %d, not root or server.user; refusing to load %s as root "
            "(chown root %s)" % (path, uid, what, path))


def refused(main, line):
    """srvd -t and a start both exit 2 with line, binding nothing."""
    r = run_srvd(["-t", main])
    assert r.returncode == 2, r.stdout + r.stderr
    assert line in r.stdout.splitlines(), r.stdout
    r = run_srvd(["-c", main, "-l", HOST + ":0"])
    assert r.returncode == 2, r.stderr
    assert line in r.stderr, r.stderr
    assert "listening on" not in r.stderr


def accepted(main):
    r = run_srvd(["-t", main])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == main + ": ok"


@pytest.mark.parametrize("which", ["srvd.yaml", "services.d", "services.d/db.yaml",
                                   "static.zone"])
def test_world_writable_refused_at_start_and_by_check(public_dir, which):
    main = unsafe_tree(public_dir)
    accepted(main)
    target = os.path.join(public_dir, which)
    os.chmod(target, os.stat(target).st_mode | stat.S_IWOTH)
    refused(main, writable(target, "others",
                           "files below it" if os.path.isdir(target) else "it"))
    os.chmod(target, os.stat(target).st_mode & ~stat.S_IWOTH)
    accepted(main)


@pytest.mark.parametrize("mode,by", [(0o777, "group and others"), (0o775, "group")],
                         ids=["0777", "0775"])
def test_unsafe_folder_of_main_file_refused(public_dir, mode, by):
    # a user who may write the folder replaces srvd.yaml by a rename: its own mode is moot
    main = unsafe_tree(public_dir)
    os.chmod(public_dir, mode)
    refused(main, writable(public_dir, by, "files below it"))


def test_group_writable_include_folder_refused(public_dir):
    main = unsafe_tree(public_dir)
    folder = os.path.join(public_dir, "services.d")
    os.chmod(folder, 0o775)
    refused(main, writable(folder, "group", "files below it"))


def test_parent_two_levels_up_group_writable_refused(public_dir):
    top = os.path.join(public_dir, "a")
    os.makedirs(os.path.join(top, "b"))
    main = unsafe_tree(os.path.join(top, "b"))
    accepted(main)
    os.chmod(top, 0o775)
    refused(main, writable(top, "group", "files below it"))


@pytest.mark.parametrize("which", ["srvd.yaml", "services.d/db.yaml", "static.zone",
                                   "services.d"])
def test_file_owned_by_another_user_refused(public_dir, which):
    main = unsafe_tree(public_dir)
    target = os.path.join(public_dir, which)
    os.chown(target, NOBODY.pw_uid, NOBODY.pw_gid)
    refused(main, owned(target, NOBODY.pw_uid,
                        "files below it" if os.path.isdir(target) else "it"))


def test_files_owned_by_server_user_accepted(public_dir):
    # the control API, run as server.user, writes into an include folder it owns
    main = unsafe_tree(public_dir, UNSAFE_MAIN.replace("  watch: false\n",
                                                       "  watch: false\n  user: daemon\n"))
    for name in ("srvd.yaml", "services.d", "services.d/db.yaml"):
        os.chown(os.path.join(public_dir, name), DAEMON.pw_uid, DAEMON.pw_gid)
    accepted(main)
    d = Srvd(main, ZONE).start()
    d.wait_log(r"dropped root privileges: now user daemon")
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    d.stop()
    # owned by another user than server.user: refused
    os.chown(os.path.join(public_dir, "services.d"), NOBODY.pw_uid, NOBODY.pw_gid)
    refused(main, owned(os.path.join(public_dir, "services.d"), NOBODY.pw_uid,
                        "files below it"))


@pytest.fixture
def sticky_dir(public_dir):
    """A /tmp-like folder: root's, mode 1777."""
    d = os.path.join(public_dir, "tmp")
    os.mkdir(d)
    os.chmod(d, 0o1777)
    return d


def test_registry_directly_in_sticky_folder_refused(sticky_dir):
    main = write(os.path.join(sticky_dir, "srvd.yaml"), UNSAFE_MAIN.replace(
        "zones: [static.zone]\ninclude: services.d/*.yaml\n", ""))
    refused(main, "%s: writable by group and others (mode 1777; sticky is enough for a parent "
            "folder only); refusing to load files below it as root (chmod go-w %s)"
            % (sticky_dir, sticky_dir))


def test_registry_below_sticky_folder_accepted(sticky_dir):
    folder = os.path.join(sticky_dir, "cfg")
    os.mkdir(folder)
    os.chmod(folder, 0o755)
    main = unsafe_tree(folder)
    accepted(main)
    d = Srvd(main, ZONE).start()
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    d.stop()


@pytest.mark.parametrize("which", ["srvd.yaml", "services.d/db.yaml"])
def test_symlink_into_unsafe_folder_refused(public_dir, which):
    # judged by the target and the target's folders, not by the link's safe folder
    main = unsafe_tree(os.path.join(public_dir, "etc"))
    unsafe = os.path.join(public_dir, "drop")
    os.mkdir(unsafe)
    os.chmod(unsafe, 0o777)
    link = os.path.join(public_dir, "etc", which)
    target = os.path.join(unsafe, os.path.basename(which))
    shutil.copy(link, target)
    os.chmod(target, 0o644)
    os.unlink(link)
    os.symlink(target, link)
    refused(main, writable(unsafe, "group and others", "files below it"))
    # the same target in a safe folder is accepted
    os.chmod(unsafe, 0o755)
    accepted(main)


def test_symlink_in_unsafe_folder_refused(public_dir):
    # whoever may write the link's folder chooses what root loads
    os.mkdir(os.path.join(public_dir, "etc"))
    main = write(os.path.join(public_dir, "etc", "srvd.yaml"), UNSAFE_MAIN.replace(
        "zones: [static.zone]\ninclude: services.d/*.yaml\n", ""))
    links = os.path.join(public_dir, "links")
    os.mkdir(links)
    os.chmod(links, 0o777)
    link = os.path.join(links, "srvd.yaml")
    os.symlink(main, link)
    refused(link, writable(links, "group and others", "files below it"))


def test_unsafe_file_refused_at_reload_as_root(public_dir):
    main = unsafe_tree(public_dir)
    d = Srvd(main, ZONE).start()
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    svc = os.path.join(public_dir, "services.d", "db.yaml")
    write(svc, SERVICE.replace("192.0.2.9", "192.0.2.10"), mode=0o646)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("reload rejected")
    d.wait_log(re.escape(writable(svc, "others")))
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    # the folder replaced by an unprivileged user's rename is refused too
    os.chmod(svc, 0o644)
    os.chmod(public_dir, 0o775)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(re.escape(writable(public_dir, "group", "files below it")))
    assert addrs(d, "db." + ZONE) == ["192.0.2.9"]
    os.chmod(public_dir, 0o755)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial")
    assert addrs(d, "db." + ZONE) == ["192.0.2.10"]
    d.stop()

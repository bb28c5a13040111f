# SPDX-License-Identifier: BSD-3-Clause
# etcd_cluster.py: a real 3-member etcd cluster (Debian's etcd-server) on 127.0.0.1, for
# test_etcd.py and tests/bench/etcd.py.
"""A real etcd cluster on loopback for the fleet tests (README "Running a fleet").

Each member gets free client and peer ports on 127.0.0.1 and its own data folder under
the given folder. Members can be stopped (SIGTERM or SIGKILL) and started again with
their data, so tests can kill the leader or the whole cluster. The tests skip under
SRVD_TEST_TOOLS=0 (tools.py): they run once per CI run, in the plain build.
"""

import base64
import json
import os
import ssl
import subprocess
import time
import urllib.request

from conftest import HOST, free_port


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


class Member:
    def __init__(self, cluster, name, folder):
        self.cluster = cluster
        self.name = name
        self.folder = folder
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc = None
        self.log = None

    @property
    def url(self):
        scheme = "https" if self.cluster.tls else "http"
        return "%s://%s:%d" % (scheme, HOST, self.client_port)

    def start(self, state="new"):
        os.makedirs(self.folder, exist_ok=True)
        self.log = open(os.path.join(self.folder, "..", self.name + ".log"), "a")
        cmd = [self.cluster.exe, "--name", self.name,
               "--data-dir", os.path.join(self.folder, "data"),
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", "http://%s:%d" % (HOST, self.peer_port),
               "--initial-advertise-peer-urls", "http://%s:%d" % (HOST, self.peer_port),
               "--initial-cluster", self.cluster.initial_cluster(),
               "--initial-cluster-state", state,
               "--initial-cluster-token", "srvd-test",
               # quick elections: the tests kill the leader
               "--heartbeat-interval", "50", "--election-timeout", "500",
               "--logger", "zap", "--log-level", "warn"]
        if self.cluster.tls:
            t = self.cluster.tls
            cmd += ["--cert-file", t["cert"], "--key-file", t["key"],
                    "--trusted-ca-file", t["ca"], "--client-cert-auth"]
        env = dict(os.environ, ETCD_UNSUPPORTED_ARCH="")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill=False):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self.log.close()


class Cluster:
    """A 3-member cluster in folder: start(), stop(), call(path, body), put/get/delete.
    tls: {"ca", "cert", "key"} (files; the certificate serves as both the members' and
    the client's) for https:// client URLs that ask for a client certificate. user:
    "name:password" that call() and etcdctl authenticate as (once auth is enabled)."""

    def __init__(self, folder, exe, ctl, size=3, tls=None):
        self.exe = exe
        self.ctl = ctl
        self.tls = tls
        self.user = None
        self._ssl = None
        if tls:
            self._ssl = ssl.create_default_context(cafile=tls["ca"])
            self._ssl.load_cert_chain(tls["cert"], tls["key"])
        self.members = [Member(self, "m%d" % i, os.path.join(str(folder), "m%d" % i))
                        for i in range(size)]

    def initial_cluster(self):
        return ",".join("%s=http://%s:%d" % (m.name, HOST, m.peer_port) for m in self.members)

    @property
    def endpoints(self):
        return [m.url for m in self.members]

    def start(self, timeout=30):
        for m in self.members:
            if not m.alive():
                m.start()
        self.wait_healthy(timeout)
        return self

    def stop(self, kill=False):
        for m in self.members:
            m.stop(kill)

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                self.call("/v3/kv/put", {"key": b64("/health-probe"), "value": b64("1")},
                          timeout=1)
                return
            except Exception as e:  # noqa: BLE001 - anything: not up yet
                last = e
            time.sleep(0.1)
        raise AssertionError("etcd cluster not healthy within %d s: %s" % (timeout, last))

    def call(self, path, body, timeout=5, members=None):
        """POSTs JSON body to the first live member that answers; returns the JSON."""
        last = None
        for m in members or self.members:
            if not m.alive():
                continue
            headers = {"Content-Type": "application/json"}
            if self.user:
                headers["Authorization"] = self.token(m)
            req = urllib.request.Request(m.url + path, data=json.dumps(body).encode(),
                                         headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=self._ssl) as r:
                    return json.loads(r.read())
            except Exception as e:  # noqa: BLE001 - try the next member
                last = e
        raise AssertionError("no etcd member answered %s: %s" % (path, last))

    def token(self, m):
        name, password = self.user.split(":", 1)
        req = urllib.request.Request(m.url + "/v3/auth/authenticate",
                                     data=json.dumps({"name": name,
                                                      "password": password}).encode())
        with urllib.request.urlopen(req, timeout=5, context=self._ssl) as r:
            return json.loads(r.read())["token"]

    def put(self, key, value):
        return self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def delete(self, key):
        return self.call("/v3/kv/deleterange", {"key": b64(key)})

    def get(self, key):
        """(value, mod_revision) or (None, 0)."""
        r = self.call("/v3/kv/range", {"key": b64(key)})
        for kv in r.get("kvs", []):
            return base64.b64decode(kv.get("value", "")).decode(), int(kv["mod_revision"])
        return None, 0

    def revision(self):
        r = self.call("/v3/kv/range", {"key": b64("/health-probe")})
        return int(r["header"]["revision"])

    def compact(self, revision=None):
        rev = revision or self.revision()
        self.call("/v3/kv/compaction", {"revision": str(rev), "physical": True})
        return rev

    def leader(self):
        """The member that leads now, or None."""
        for m in self.members:
            if not m.alive():
                continue
            try:
                st = self.call("/v3/maintenance/status", {}, members=[m], timeout=1)
            except AssertionError:
                continue
            if st.get("leader") and st["leader"] == st["header"].get("member_id"):
                return m
        return None

    def etcdctl(self, *args):
        env = dict(os.environ, ETCDCTL_API="3")
        cmd = [self.ctl, "--endpoints", ",".join(self.endpoints)]
        if self.tls:
            cmd += ["--cacert", self.tls["ca"], "--cert", self.tls["cert"],
                    "--key", self.tls["key"]]
        if self.user:
            cmd += ["--user", self.user]
        return subprocess.run(cmd + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=20, env=env, check=True).stdout

# SPDX-License-Identifier: BSD-3-Clause
# test_etcd.py: a fleet of srvd sharing one registry in a real 3-member etcd cluster (issue 17).
"""A fleet of srvd on one etcd registry (README "Running a fleet", SPEC section 9).

Each test starts a real 3-member etcd cluster (Debian's etcd-server) on 127.0.0.1
(etcd_cluster.py) and two srvd against it, each with the control API on. Services
use documentation addresses with `check: {type: none}`: nothing is probed. Deadlines
are generous upper bounds; speed is measured in tests/bench/etcd.py, never asserted.
The suite runs once per CI run, in the plain build: it skips under SRVD_TEST_TOOLS=0
(the sanitizer run and distcheck), as the other real-tool tests do (tools.py).
"""

import json
import os
import re
import subprocess
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from api_helpers import attach_api, request
from conftest import HOST, SLOW, Srvd, run_srvd, wait_until
from etcd_cluster import Cluster
from tools import need_tool

ZONE = "svc.test."
DEADLINE = 20 * SLOW


@pytest.fixture
def cluster(tmp_path):
    etcd = need_tool("etcd", "etcd-server")
    ctl = need_tool("etcdctl", "etcd-client")
    c = Cluster(tmp_path / "etcd", etcd, ctl)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def service(*addrs, port=80):
    """The JSON of a service with instances at addrs (documentation addresses)."""
    return json.dumps({"port": port, "check": {"type": "none"},
                       "instances": [{"name": "i%d" % i, "address": a}
                                     for i, a in enumerate(addrs)]})


class Fleet:
    def __init__(self, cluster, folder):
        self.cluster = cluster
        self.folder = folder
        self.daemons = []

    def start(self, n=2, endpoints=None, cache=False, services="", ready=True):
        for _ in range(n):
            self.add(endpoints=endpoints, cache=cache, services=services, ready=ready)
        return self.daemons

    def add(self, endpoints=None, cache=False, services="", name=None, ready=True):
        """Starts one more srvd; ready=False: does not wait for `_ready` (ttl checks
        without a first heartbeat keep it silent)."""
        i = len(self.daemons)
        folder = os.path.join(str(self.folder), name or "srvd%d" % i)
        os.makedirs(os.path.join(folder, "services.d"), exist_ok=True)
        eps = endpoints or self.cluster.endpoints
        text = ("server:\n"
                "  zone: %s\n"
                "  http: 127.0.0.1:0\n"
                "  watch: false\n"
                "  registry:\n"
                "    etcd:\n"
                "      endpoints: [%s]\n"
                "      timeout: 1s\n" % (ZONE, ", ".join('"%s"' % e for e in eps)))
        if cache:
            text += "      cache: %s\n" % os.path.join(folder, "etcd-cache.yaml")
        text += "include: services.d/*.yaml\n"
        text += "services:\n" + (services or "  {}\n")
        path = os.path.join(folder, "srvd.yaml")
        with open(path, "w") as f:
            f.write(text)
        d = attach_api(Srvd(path, ZONE if ready else None).start())
        d.zone = ZONE
        self.daemons.append(d)
        return d

    def stop(self):
        for d in self.daemons:
            d.stop()


@pytest.fixture
def fleet(cluster, tmp_path):
    f = Fleet(cluster, tmp_path)
    yield f
    f.stop()


def addrs(d, name, timeout=2.0):
    """The A records of name.ZONE on d, sorted ([] for NXDOMAIN or none)."""
    q = dns.message.make_query(name + "." + ZONE, "A")
    r = dns.query.udp(q, HOST, port=d.port, timeout=timeout * SLOW)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def converge(daemons, name, want, what):
    for d in daemons:
        wait_until(lambda: addrs(d, name) == want, DEADLINE,
                   "%s on srvd port %d: %s A -> %s" % (what, d.port, name, want), d)


def status(d):
    code, _, body = request(d, "GET", "/v1/status")
    assert code == 200, body
    return json.loads(body)


def metric(d, line_start):
    code, _, body = request(d, "GET", "/metrics")
    assert code == 200
    for line in body.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no metric %s in:\n%s" % (line_start, body.decode()))


def test_write_through_etcdctl_and_the_api_reaches_every_srvd(cluster, fleet):
    daemons = fleet.start(2)
    cluster.etcdctl("put", "/srvd/services/web", service("192.0.2.1", "192.0.2.2"))
    converge(daemons, "web", ["192.0.2.1", "192.0.2.2"], "etcdctl put")

    # through one srvd's API: stored in etcd, served by the other
    code, hdrs, body = request(daemons[0], "PUT", "/v1/services/api", service("192.0.2.5"))
    assert code == 201, body
    assert "etag" in hdrs, hdrs
    value, rev = cluster.get("/srvd/services/api")
    assert json.loads(value)["instances"][0]["address"] == "192.0.2.5"
    assert hdrs["etag"] == '"%d"' % rev
    converge(daemons, "api", ["192.0.2.5"], "API put")

    code, _, body = request(daemons[1], "PUT", "/v1/services/api", service("192.0.2.6"))
    assert code == 200, body
    converge(daemons, "api", ["192.0.2.6"], "API replace")

    code, _, body = request(daemons[1], "DELETE", "/v1/services/api")
    assert code == 200, body
    assert cluster.get("/srvd/services/api") == (None, 0)
    converge(daemons, "api", [], "API delete")
    cluster.etcdctl("del", "/srvd/services/web")
    converge(daemons, "web", [], "etcdctl del")


def test_a_bad_key_is_rejected_alone(cluster, fleet):
    cluster.put("/srvd/services/a", service("192.0.2.1"))
    # column 43 of the value: where the bad address starts
    cluster.put("/srvd/services/b", '{port: 80, instances: [{name: x, address: 192.0.2.999}], '
                                    'check: {type: none}}')
    cluster.put("/srvd/services/c", service("192.0.2.3"))
    # a file's service of the same name serves; the conflict is reported
    cluster.put("/srvd/services/local", service("192.0.2.9"))
    local = ("  local: {port: 80, check: {type: none}, "
             "instances: [{name: x, address: 192.0.2.7}]}\n")
    daemons = fleet.start(2, services=local)
    for d in daemons:
        assert addrs(d, "a") == ["192.0.2.1"]
        assert addrs(d, "c") == ["192.0.2.3"]
        assert addrs(d, "b") == []
        assert addrs(d, "local") == ["192.0.2.7"]
        d.wait_log(r"etcd: key rejected \(the others apply\): /srvd/services/b:1:43: "
                   r"services\.b\.instances\[0\]\.address")
        d.wait_log(r"service local is defined in a file and in etcd")
        src = status(d)["registry_source"]
        assert src["name"] == "etcd" and src["up"] is True, src
        assert [r for r in src["rejected"] if r.startswith("/srvd/services/b:1:43:")], src
        assert src["conflicts"] == ["local"], src
        assert metric(d, 'srvd_registry_keys_rejected_total{source="etcd"}') >= 1
        assert metric(d, 'srvd_registry_source_up{source="etcd"}') == 1

    # a good key turned bad leaves the answers (every srvd of the fleet reads a key the same
    # way, a restarted one too); the rest stays
    cluster.put("/srvd/services/c", "{port: [")
    cluster.put("/srvd/services/d", service("192.0.2.4"))
    converge(daemons, "d", ["192.0.2.4"], "a good key beside a bad one")
    for d in daemons:
        assert addrs(d, "a") == ["192.0.2.1"]
        assert addrs(d, "c") == []
    # fixed: served again
    cluster.put("/srvd/services/b", service("192.0.2.2"))
    converge(daemons, "b", ["192.0.2.2"], "the fixed key")


def test_the_defaults_key_applies_to_every_etcd_service(cluster, fleet):
    cluster.put("/srvd/defaults", '{"port": 8080, "ttl": 7, "check": {"type": "none"}}')
    cluster.put("/srvd/services/web", '{"instances": [{"name": "a", "address": "192.0.2.1"}]}')
    daemons = fleet.start(2)
    for d in daemons:
        q = dns.message.make_query("_web._tcp." + ZONE, "SRV")
        r = dns.query.udp(q, HOST, port=d.port, timeout=2 * SLOW)
        assert [(rr.port, rrset.ttl) for rrset in r.answer for rr in rrset] == [(8080, 7)]
    # a bad defaults key is rejected alone: the services load without it
    cluster.put("/srvd/defaults", '{"port": "eighty"}')
    for d in daemons:
        d.wait_log(r"etcd: key rejected \(the others apply\): /srvd/defaults:1:10: ")
    cluster.put("/srvd/services/api", '{"port": 53, "check": {"type": "none"}, '
                                      '"instances": [{"name": "a", "address": "192.0.2.5"}]}')
    converge(daemons, "api", ["192.0.2.5"], "a service beside a bad defaults key")
    converge(daemons, "web", [], "a service that needed the defaults' port")


def test_two_writers_with_the_same_if_match_one_wins(cluster, fleet):
    daemons = fleet.start(2)
    code, hdrs, body = request(daemons[0], "PUT", "/v1/services/web?cas=0",
                               service("192.0.2.1"))
    assert code == 201, body
    # create-only again: it exists
    code, _, body = request(daemons[1], "PUT", "/v1/services/web?cas=0", service("192.0.2.9"))
    assert code == 409, body
    converge(daemons, "web", ["192.0.2.1"], "created once")
    code, hdrs, _ = request(daemons[1], "GET", "/v1/services/web")
    assert code == 200
    etag = hdrs["etag"]
    results = {}

    def write(i, addr):
        results[i] = request(daemons[i], "PUT", "/v1/services/web", service(addr),
                             headers={"If-Match": etag})[0]

    threads = [threading.Thread(target=write, args=(i, "192.0.2.%d" % (10 + i)))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == [200, 409], results
    winner = [i for i, c in results.items() if c == 200][0]
    converge(daemons, "web", ["192.0.2.%d" % (10 + winner)], "the winner's write")
    # a stale revision loses, the current one wins; a delete takes the condition too
    code, _, body = request(daemons[0], "DELETE", "/v1/services/web",
                            headers={"If-Match": etag})
    assert code == 409, body
    code, hdrs, _ = request(daemons[0], "GET", "/v1/services/web")
    code, _, body = request(daemons[0], "DELETE", "/v1/services/web",
                            headers={"If-Match": hdrs["etag"]})
    assert code == 200, body
    converge(daemons, "web", [], "conditional delete")


def test_all_members_stopped_answers_go_on_then_catch_up(cluster, fleet):
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    daemons = fleet.start(2)
    cluster.stop()
    for d in daemons:
        wait_until(lambda: metric(d, 'srvd_registry_source_up{source="etcd"}') == 0, DEADLINE,
                   "source_up 0 with every member stopped", d)
    # answers go on, unchanged, for a while (retries against dead endpoints included)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        for d in daemons:
            assert addrs(d, "web") == ["192.0.2.1"]
        time.sleep(0.1)
    assert status(daemons[0])["registry_source"]["up"] is False
    cluster.start()
    cluster.put("/srvd/services/web", service("192.0.2.2"))
    converge(daemons, "web", ["192.0.2.2"], "caught up after the restart")
    for d in daemons:
        wait_until(lambda: metric(d, 'srvd_registry_source_up{source="etcd"}') == 1, DEADLINE,
                   "source_up 1 again", d)


def test_catch_up_after_a_compaction(cluster, fleet):
    """srvd watches one member only; while it is down the others change the keys and
    compact past srvd's revision: back, srvd reads everything again."""
    cluster.put("/srvd/services/old", service("192.0.2.1"))
    m0 = cluster.members[0]
    d = fleet.add(endpoints=[m0.url])
    assert addrs(d, "old") == ["192.0.2.1"]
    m0.stop()
    others = cluster.members[1:]
    cluster.call("/v3/kv/deleterange", {"key": _b64("/srvd/services/old")}, members=others)
    for i in range(5):
        cluster.call("/v3/kv/put", {"key": _b64("/srvd/services/new"),
                                    "value": _b64(service("192.0.2.%d" % (10 + i)))},
                     members=others)
    rev = int(cluster.call("/v3/kv/range", {"key": _b64("/x")}, members=others)
              ["header"]["revision"])
    cluster.call("/v3/kv/compaction", {"revision": str(rev), "physical": True}, members=others)
    assert addrs(d, "old") == ["192.0.2.1"]  # still the last registry
    m0.start()
    d.wait_log(r"etcd: revision \d+ is compacted", timeout=DEADLINE)
    converge([d], "new", ["192.0.2.14"], "re-read after the compaction")
    converge([d], "old", [], "a key deleted while srvd was away")


def test_leader_killed_under_queries_none_lost(cluster, fleet):
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    daemons = fleet.start(2)
    stop = threading.Event()
    lost = []
    answered = [0]

    def loop():
        q = dns.message.make_query("web." + ZONE, "A")
        while not stop.is_set():
            for d in daemons:
                try:
                    r = dns.query.udp(q, HOST, port=d.port, timeout=2 * SLOW)
                    if r.rcode() != dns.rcode.NOERROR or not r.answer:
                        lost.append((d.port, r.to_text()))
                    answered[0] += 1
                except dns.exception.Timeout:
                    lost.append((d.port, "timeout"))
            time.sleep(0.005)

    t = threading.Thread(target=loop)
    t.start()
    try:
        time.sleep(0.5)
        leader = None
        wait_until(lambda: cluster.leader() is not None, DEADLINE, "an etcd leader")
        leader = cluster.leader()
        leader.stop(kill=True)
        # API writes work again after the election (a write may fail while it runs)
        codes = []

        def put_ok():
            code = request(daemons[0], "PUT", "/v1/services/api", service("192.0.2.5"),
                           timeout=30)[0]
            codes.append(code)
            return code in (200, 201)

        wait_until(put_ok, DEADLINE, "an API write after the leader was killed",
                   lambda: "codes %s\n%s" % (codes, daemons[0].stderr_text()))
        converge(daemons, "api", ["192.0.2.5"], "a write after the election")
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(30)
    assert answered[0] > 0
    assert lost == [], lost[:5]
    leader.start(state="existing")


def test_start_while_etcd_is_down_serves_the_cache(cluster, fleet, tmp_path):
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    d = fleet.add(cache=True, name="cached")
    cache = os.path.join(str(tmp_path), "cached", "etcd-cache.yaml")
    wait_until(lambda: os.path.exists(cache), DEADLINE, "the cache file", d)
    d.stop()
    fleet.daemons.remove(d)
    cluster.stop()
    d = fleet.add(cache=True, name="cached")
    d.wait_log(r"serving the cache .*etcd-cache\.yaml")
    assert addrs(d, "web") == ["192.0.2.1"]
    assert status(d)["registry_source"]["from_cache"] is True
    # without a cache: running, but not ready until the first sync
    folder = tmp_path / "nocache"
    (folder / "services.d").mkdir(parents=True)
    (folder / "srvd.yaml").write_text(
        "server:\n  zone: %s\n  watch: false\n  registry:\n    etcd:\n"
        "      endpoints: [%s]\n      timeout: 200ms\n" %
        (ZONE, ", ".join('"%s"' % e for e in cluster.endpoints)))
    cold = Srvd(str(folder / "srvd.yaml"), None).start()
    fleet.daemons.append(cold)
    cold.zone = ZONE
    cold.wait_log(r"serving the files' services only until etcd answers")
    q = dns.message.make_query("_ready." + ZONE, "A")
    for _ in range(10):
        try:  # not ready: no answer record (or no reply, as conftest's wait_ready reads it)
            assert not dns.query.udp(q, HOST, port=cold.port, timeout=0.3).answer
        except dns.exception.Timeout:
            pass
        time.sleep(0.1)
    cluster.start()
    cold.wait_ready(time.monotonic() + DEADLINE)
    assert addrs(cold, "web") == ["192.0.2.1"]
    cluster.put("/srvd/services/web", service("192.0.2.2"))
    converge([d, cold], "web", ["192.0.2.2"], "synced after serving the cache")


def _b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


def test_instances_on_a_lease_leave_when_it_expires(cluster, fleet):
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    daemons = fleet.start(2)
    # an instance key for a service that does not exist yet is held, not an error
    code, _, body = request(daemons[0], "PUT", "/v1/services/later/instances/a",
                            '{"address": "192.0.2.50", "port": 80}')
    assert code == 201, body
    assert json.loads(body)["held"] is True
    cluster.put("/srvd/services/later", '{"check": {"type": "none"}, "instances": []}')
    converge(daemons, "later", ["192.0.2.50"], "a held instance once its service exists")

    # self-registration on a 2 s lease, kept alive by heartbeats, then left to expire
    code, _, body = request(daemons[0], "PUT", "/v1/services/web/instances/self?ttl=2s",
                            '{"address": "192.0.2.9"}')
    assert code == 201, body
    lease = json.loads(body)["lease"]
    assert lease and json.loads(body)["ttl"] == 2
    value, _ = cluster.get("/srvd/services/web")  # the service's own key is untouched
    assert "192.0.2.9" not in value
    converge(daemons, "web", ["192.0.2.1", "192.0.2.9"], "a self-registered instance")
    for _ in range(4):  # 4 s: twice the TTL, alive through heartbeats (on either srvd)
        for d in daemons:
            code, _, body = request(d, "PUT", "/v1/services/web/instances/self/heartbeat")
            assert code == 200, body
            assert json.loads(body)["lease"] == lease
        time.sleep(0.5)
        assert addrs(daemons[1], "web") == ["192.0.2.1", "192.0.2.9"]
    # no more heartbeats: etcd deletes the key when the lease expires
    converge(daemons, "web", ["192.0.2.1"], "lease expiry")
    code, _, body = request(daemons[1], "PUT", "/v1/services/web/instances/self/heartbeat")
    assert code == 404, body

    # a name the service already has rejects the key alone; a bad value too
    cluster.put("/srvd/instances/web/i0", '{"address": "192.0.2.77"}')
    cluster.put("/srvd/instances/web/bad", '{"address": "192.0.2.300"}')
    cluster.put("/srvd/instances/web/ok", '{"address": "192.0.2.8", "weight": 3}')
    converge(daemons, "web", ["192.0.2.1", "192.0.2.8"], "instance keys beside bad ones")
    for d in daemons:
        d.wait_log(r"key rejected \(the others apply\): /srvd/instances/web/i0: service web "
                   r"already has an instance named i0")
        d.wait_log(r"key rejected \(the others apply\): /srvd/instances/web/bad:1:13: ")
    # through the API: a name the service has is a conflict
    code, _, body = request(daemons[0], "PUT", "/v1/services/web/instances/i0",
                            '{"address": "192.0.2.78"}')
    assert code == 409, body
    code, _, body = request(daemons[0], "DELETE", "/v1/services/web/instances/ok")
    assert code == 200, body
    assert cluster.get("/srvd/instances/web/ok") == (None, 0)
    converge(daemons, "web", ["192.0.2.1"], "an instance key deleted through the API")


def test_drains_are_maintenance_keys_shared_by_the_fleet(cluster, fleet):
    cluster.put("/srvd/services/web", service("192.0.2.1", "192.0.2.2"))
    daemons = fleet.start(2)
    code, _, body = request(daemons[0], "PUT", "/v1/services/web/instances/i1/maintenance",
                            {"reason": "disk swap"})
    assert code == 200, body
    assert cluster.get("/srvd/maintenance/web/i1")[0] == "disk swap"
    converge(daemons, "web", ["192.0.2.1"], "an instance drained through one srvd")
    cluster.etcdctl("put", "/srvd/maintenance/web", "moving racks")
    converge(daemons, "web", [], "a service drained with etcdctl")
    cluster.etcdctl("del", "/srvd/maintenance/web")
    code, _, body = request(daemons[1], "DELETE", "/v1/services/web/instances/i1/maintenance")
    assert code == 200, body
    assert cluster.get("/srvd/maintenance/web/i1") == (None, 0)
    converge(daemons, "web", ["192.0.2.1", "192.0.2.2"], "drains ended")


def test_import_to_etcd_copies_the_api_services(cluster, tmp_path):
    """An installation whose API wrote services into its include folder joins a fleet:
    --import-to-etcd copies them (create-only), then a srvd on etcd serves them."""
    folder = tmp_path / "old"
    (folder / "services.d").mkdir(parents=True)
    main = folder / "srvd.yaml"
    main.write_text("server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
                    "include: services.d/*.yaml\n" % ZONE)
    d = attach_api(Srvd(str(main), ZONE).start())
    for name, addr in (("web", "192.0.2.1"), ("api", "192.0.2.2")):
        code, _, body = request(d, "PUT", "/v1/services/" + name, service(addr))
        assert code == 201, body
    d.stop()
    (folder / "services.d" / "hand.yaml").write_text(
        "services:\n  hand: {port: 80, check: {type: none}, "
        "instances: [{name: a, address: 192.0.2.3}]}\n")
    cluster.put("/srvd/services/api", service("192.0.2.9"))  # the fleet's own is kept
    main.write_text(main.read_text().replace(
        "  watch: false\n", "  watch: false\n  registry:\n    etcd:\n      endpoints: [%s]\n"
        % ", ".join('"%s"' % e for e in cluster.endpoints)))
    p = run_srvd(["-c", str(main), "--import-to-etcd"], timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^web: imported into /srvd/services/web \(revision \d+\)$", p.stdout,
                     re.M), p.stdout
    assert "api: /srvd/services/api exists in etcd: kept as it is" in p.stdout, p.stdout
    assert "hand.yaml: not written by the control API: skipped" in p.stdout, p.stdout
    assert json.loads(cluster.get("/srvd/services/web")[0])["instances"][0]["address"] == \
        "192.0.2.1"
    assert json.loads(cluster.get("/srvd/services/api")[0])["instances"][0]["address"] == \
        "192.0.2.9"
    # once the files are gone, a srvd of the fleet serves them from etcd
    for name in ("web", "api", "hand"):
        os.remove(str(folder / "services.d" / (name + ".yaml")))
    d = attach_api(Srvd(str(main), ZONE).start())
    try:
        assert addrs(d, "web") == ["192.0.2.1"]
        assert addrs(d, "api") == ["192.0.2.9"]
    finally:
        d.stop()


def test_etcd_authentication(cluster, fleet, tmp_path):
    """With etcd's authentication on, srvd logs in as username with the password of
    password_file, reads, watches and writes; a wrong password is logged."""
    cluster.etcdctl("user", "add", "root", "--new-user-password=rootpw")
    cluster.etcdctl("user", "add", "srvd", "--new-user-password=s3cret")
    cluster.etcdctl("role", "add", "srvd")
    cluster.etcdctl("role", "grant-permission", "srvd", "--prefix=true", "readwrite", "/srvd/")
    cluster.etcdctl("user", "grant-role", "srvd", "srvd")
    cluster.etcdctl("auth", "enable")
    cluster.user = "root:rootpw"
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "bad").write_text("wrong\n")
    auth = "  registry:\n    etcd:\n      username: srvd\n      password_file: %s\n"
    for pw, name in ((tmp_path / "pw", "srvd-good"), (tmp_path / "bad", "srvd-bad")):
        folder = tmp_path / name
        (folder / "services.d").mkdir(parents=True)
        text = ("server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
                % ZONE + auth % pw +
                "      endpoints: [%s]\ninclude: services.d/*.yaml\n"
                % ", ".join('"%s"' % e for e in cluster.endpoints))
        (folder / "srvd.yaml").write_text(text)
        # the bad one never reads etcd, so its `_ready` stays silent: no wait for it
        d = attach_api(Srvd(str(folder / "srvd.yaml"), None).start())
        d.zone = ZONE
        fleet.daemons.append(d)
    good, bad = fleet.daemons[-2:]
    good.wait_ready(time.monotonic() + DEADLINE)
    assert addrs(good, "web") == ["192.0.2.1"]
    bad.wait_log(r"etcd: .*HTTP 401.*authentication failed|etcd: .*HTTP 40[01]")
    assert addrs(bad, "web") == []
    cluster.put("/srvd/services/web", service("192.0.2.2"))
    converge([good], "web", ["192.0.2.2"], "a change watched with a token")
    code, _, body = request(good, "PUT", "/v1/services/api", service("192.0.2.5"))
    assert code == 201, body
    assert json.loads(cluster.get("/srvd/services/api")[0])["instances"][0]["address"] == \
        "192.0.2.5"


@pytest.fixture
def tls_files(tmp_path):
    """A CA and one certificate for 127.0.0.1 (server and client use), made with openssl."""
    openssl = need_tool("openssl", "openssl")
    d = tmp_path / "pki"
    d.mkdir()

    def run(*args):
        subprocess.run([openssl] + list(args), check=True, cwd=str(d),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "node.key",
        "-out", "node.csr")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\n"
                           "extendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "node.pem")
    return {"ca": str(d / "ca.pem"), "cert": str(d / "node.pem"), "key": str(d / "node.key")}


def test_etcd_over_tls_with_a_client_certificate(tmp_path, tls_files):
    etcd = need_tool("etcd", "etcd-server")
    ctl = need_tool("etcdctl", "etcd-client")
    c = Cluster(tmp_path / "etcd", etcd, ctl, size=1, tls=tls_files)
    daemons = []
    try:
        c.start()
        c.put("/srvd/services/web", service("192.0.2.1"))
        for name, tls in (("good", "{ca: %(ca)s, cert: %(cert)s, key: %(key)s}"),
                          ("nocert", "{ca: %(ca)s}")):
            folder = tmp_path / name
            (folder / "services.d").mkdir(parents=True)
            (folder / "srvd.yaml").write_text(
                "server:\n  zone: %s\n  http: 127.0.0.1:0\n  watch: false\n"
                "  registry:\n    etcd:\n      endpoints: [\"%s\"]\n      tls: %s\n"
                "include: services.d/*.yaml\n" % (ZONE, c.endpoints[0], tls % tls_files))
            d = attach_api(Srvd(str(folder / "srvd.yaml"), None).start())
            d.zone = ZONE
            daemons.append(d)
        good, nocert = daemons
        good.wait_ready(time.monotonic() + DEADLINE)
        assert addrs(good, "web") == ["192.0.2.1"]
        c.put("/srvd/services/web", service("192.0.2.2"))
        converge([good], "web", ["192.0.2.2"], "a change watched over TLS")
        code, _, body = request(good, "PUT", "/v1/services/api", service("192.0.2.5"))
        assert code == 201, body
        # the member asks for a client certificate: without one, nothing is read
        nocert.wait_log(r"etcd: no etcd endpoint answered")
        assert addrs(nocert, "web") == []
    finally:
        for d in daemons:
            d.stop()
        c.stop()


def test_deregister_after_leaves_fleet_instances_to_their_lease(cluster, fleet):
    """One srvd that sees an instance fail must not remove it for the whole fleet: with
    etcd, deregister_after logs and leaves the key (its lease removes it)."""
    cluster.put("/srvd/services/web", json.dumps({
        "port": 80, "check": {"type": "ttl", "ttl": "1s", "deregister_after": "1s"},
        "instances": [{"name": "a", "address": "192.0.2.1"}]}))
    cluster.put("/srvd/instances/web/b", '{"address": "192.0.2.2"}')
    d = fleet.add()
    d.wait_log(r"web/b: failing for \d+s, over check\.deregister_after, but not removed: with "
               r"a shared registry \(etcd\) only the instance's lease removes it",
               timeout=DEADLINE)
    assert cluster.get("/srvd/instances/web/b")[0] == '{"address": "192.0.2.2"}'
    assert "192.0.2.1" in cluster.get("/srvd/services/web")[0]


def test_a_member_without_quorum_ends_the_watch(cluster, fleet):
    """The member srvd watches loses its quorum (the two others stop): with
    Grpc-Metadata-hasleader the watch ends ("no leader") instead of staying open and
    silent, so srvd says it lost touch; with the others back it catches up."""
    cluster.put("/srvd/services/web", service("192.0.2.1"))
    m0, m1, m2 = cluster.members
    d = fleet.add(endpoints=[m0.url])
    m1.stop()
    m2.stop()
    d.wait_log(r"etcd: the watch on %s ended: .*no leader" % re.escape(m0.url),
               timeout=DEADLINE)
    wait_until(lambda: metric(d, 'srvd_registry_source_up{source="etcd"}') == 0, DEADLINE,
               "source_up 0 without quorum", d)
    assert addrs(d, "web") == ["192.0.2.1"]
    m1.start()
    m2.start()
    cluster.wait_healthy()
    cluster.put("/srvd/services/web", service("192.0.2.2"))
    converge([d], "web", ["192.0.2.2"], "caught up once the quorum is back")


def test_ttl_results_are_shared_by_the_fleet(cluster, fleet):
    """A heartbeat (ttl check) sent to one srvd counts on every srvd: the result is
    stored in etcd (health/SERVICE/INSTANCE) and each srvd applies it."""
    cluster.put("/srvd/services/web", json.dumps({
        "port": 80, "check": {"type": "ttl", "ttl": "30s"},
        "instances": [{"name": "a", "address": "192.0.2.1"},
                      {"name": "b", "address": "192.0.2.2"}]}))
    daemons = fleet.start(2, ready=False)
    for d in daemons:
        d.wait_log(r"etcd: read 1 keys")
    for name in ("a", "b"):
        code, _, body = request(daemons[0], "PUT", "/v1/services/web/instances/%s/pass" % name)
        assert code == 200, body
    converge(daemons, "web", ["192.0.2.1", "192.0.2.2"], "passes sent to srvd 0 only")
    code, _, body = request(daemons[1], "PUT", "/v1/services/web/instances/b/fail",
                            {"note": "disk full"})
    assert code == 200, body
    converge(daemons, "web", ["192.0.2.1"], "a fail sent to srvd 1 only")
    for d in daemons:
        code, _, body = request(d, "GET", "/v1/services/web")
        b = [i for i in json.loads(body)["instances"] if i["name"] == "b"][0]
        assert b["state"] == "failing" and b["last_result"] == "disk full", b
    # not a registry key: no reload, nothing rejected
    assert status(daemons[0])["registry_source"]["rejected"] == []

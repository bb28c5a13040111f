# SPDX-License-Identifier: BSD-3-Clause
# test_consul_api.py: the Consul-compatible reads, by their JSON shapes and with python3-consul.
"""Consul's catalog and health reads on srvd (README "Discovery over HTTP", issue 19).

The shape tests compare srvd's replies with the fields Consul's API
documentation lists for /v1/catalog/services, /v1/catalog/service/:service,
/v1/health/service/:service and /v1/agent/self, and check the headers every
reply carries (X-Consul-Index, X-Consul-KnownLeader, X-Consul-LastContact,
which Consul's Go client requires). The client tests drive them with Debian's
python3-consul, a real third-party Consul client: catalog.services(),
health.service(..., passing=True), tag filters and blocking index waits
against real HTTP backends on 127.0.0.x.

The client tests need the Debian package python3-consul (./dev test installs
it); skipped, saying so, under SRVD_TEST_TOOLS=0.
"""

import json
import threading
import time

import pytest

from api_helpers import registry_text, request, start
from conftest import SLOW
from tools import Backend, need_module, poll

CHECK = "{type: http, path: /, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}"
BOUND = 10.0 * SLOW

# The members Consul's API documentation shows in each reply (Enterprise-only ones,
# Namespace and Partition, left out).
CATALOG_SERVICE_KEYS = {
    "ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta", "ServiceKind",
    "ServiceID", "ServiceName", "ServiceTags", "ServiceAddress", "ServiceWeights",
    "ServiceMeta", "ServicePort", "ServiceEnableTagOverride", "ServiceProxy",
    "ServiceConnect", "CreateIndex", "ModifyIndex"}
HEALTH_NODE_KEYS = {"ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta",
                    "CreateIndex", "ModifyIndex"}
HEALTH_SERVICE_KEYS = {"ID", "Service", "Tags", "Address", "Meta", "Port", "Weights",
                       "EnableTagOverride", "Proxy", "Connect", "CreateIndex", "ModifyIndex"}
CHECK_KEYS = {"Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID",
              "ServiceName", "ServiceTags", "Type", "Definition", "CreateIndex",
              "ModifyIndex"}


def services(backends):
    text = ("  web:\n"
            "    port: 80\n"
            "    tags: [http]\n"
            "    check: %s\n"
            "    instances:\n" % CHECK)
    for i, (name, b) in enumerate(backends):
        text += ("      - {name: %s, address: %s, port: %d, weight: %d, priority: %d, "
                 "tags: [%s]}\n" % (name, b.addr, b.port, 10 * (i + 1), i,
                                    "canary" if i == 0 else "main"))
    text += "      - {name: dead, address: 127.0.0.89, port: 9, tags: [main]}\n"
    text += ("  db:\n"
             "    port: 5432\n"
             "    tags: [sql]\n"
             "    check: {type: none}\n"
             "    instances:\n"
             "      - {name: d1, address: 192.0.2.5, tags: [primary]}\n"
             "      - {name: d2, address: \"2001:db8::6\", tags: [replica, primary]}\n")
    return text


@pytest.fixture
def backends():
    bs = [("w1", Backend("w1", "127.0.0.81")), ("w2", Backend("w2", "127.0.0.82"))]
    yield bs
    for _, b in bs:
        b.stop()


@pytest.fixture
def srvd(tmp_path, backends):
    d = start(tmp_path, registry_text(services(backends)))
    # both backends passed their first check
    poll(lambda: len(get(d, "/v1/health/service/web?passing")[1]) == 2, BOUND,
         "w1 and w2 passing", d.stderr_text)
    settle(d)
    yield d
    d.stop()


def settle(d):
    """Waits until the serial stays put for a second: health changes are coalesced into a
    second serial at the end of a 200 ms window, which must not wake a test's wait."""
    def same():
        first = get(d, "/v1/catalog/services")[0]["x-consul-index"]
        time.sleep(1.0)
        return get(d, "/v1/catalog/services")[0]["x-consul-index"] == first
    poll(same, BOUND, "the serial settled", d.stderr_text)


def get(d, path, status=200, timeout=5):
    code, hdrs, data = request(d, "GET", path, timeout=timeout)
    assert code == status, (path, code, data)
    assert hdrs.get("x-consul-knownleader") == "true", hdrs
    assert hdrs.get("x-consul-lastcontact") == "0", hdrs
    if "agent" not in path:
        assert hdrs.get("x-consul-index", "").isdigit(), hdrs
    return hdrs, json.loads(data)


def test_shapes(srvd, backends):
    w1 = backends[0][1]
    hdrs, cat = get(srvd, "/v1/catalog/services")
    assert cat == {"web": ["http", "canary", "main"], "db": ["sql", "primary", "replica"]}
    index = int(hdrs["x-consul-index"])
    _, status = request_json_status(srvd)
    assert index == status["serial"]

    _, entries = get(srvd, "/v1/catalog/service/web")
    assert [e["Node"] for e in entries] == ["w1.web", "w2.web", "dead.web"]
    e = entries[0]
    assert set(e) == CATALOG_SERVICE_KEYS, set(e) ^ CATALOG_SERVICE_KEYS
    assert e["ServiceID"] == "w1.web" and e["ServiceName"] == "web"
    assert e["Address"] == e["ServiceAddress"] == w1.addr and e["ServicePort"] == w1.port
    assert e["ServiceTags"] == ["http", "canary"]
    assert e["ServiceWeights"] == {"Passing": 10, "Warning": 1}
    assert e["ServiceMeta"] == {"priority": "0"} and e["Datacenter"] == "srvd"
    assert e["ModifyIndex"] == index
    _, entries = get(srvd, "/v1/catalog/service/web?tag=main")
    assert [e["Node"] for e in entries] == ["w2.web", "dead.web"]

    _, entries = get(srvd, "/v1/health/service/web")
    by = {e["Node"]["Node"]: e for e in entries}
    assert set(by) == {"w1.web", "w2.web", "dead.web"}
    e = by["w2.web"]
    assert set(e) == {"Node", "Service", "Checks"}
    assert set(e["Node"]) == HEALTH_NODE_KEYS, set(e["Node"]) ^ HEALTH_NODE_KEYS
    assert set(e["Service"]) == HEALTH_SERVICE_KEYS, set(e["Service"]) ^ HEALTH_SERVICE_KEYS
    assert e["Service"]["Meta"] == {"priority": "1"}
    assert e["Service"]["Weights"]["Passing"] == 20
    (check,) = e["Checks"]
    assert set(check) == CHECK_KEYS, set(check) ^ CHECK_KEYS
    assert check["Status"] == "passing" and check["Type"] == "http"
    assert check["CheckID"] == "service:w2.web" and check["ServiceID"] == "w2.web"
    assert by["dead.web"]["Checks"][0]["Status"] == "critical"
    assert by["dead.web"]["Checks"][0]["Output"] != ""

    # ?passing and ?tag= (every tag given must match)
    _, entries = get(srvd, "/v1/health/service/web?passing=1&tag=main")
    assert [e["Service"]["ID"] for e in entries] == ["w2.web"]
    _, entries = get(srvd, "/v1/health/service/db?tag=primary&tag=replica")
    assert [e["Service"]["ID"] for e in entries] == ["d2.db"]
    assert entries[0]["Service"]["Address"] == "2001:db8::6"
    assert entries[0]["Checks"] == []  # check none: no check, which Consul counts as passing
    # an unknown service: an empty list, as Consul's (a client may wait for it)
    assert get(srvd, "/v1/health/service/nothing")[1] == []
    assert get(srvd, "/v1/catalog/service/nothing")[1] == []

    _, agent = get(srvd, "/v1/agent/self")
    assert agent["Config"]["Datacenter"] == "srvd"

    # what srvd does not evaluate is refused, not answered unfiltered
    get(srvd, "/v1/health/service/web?filter=Service.Port%3D%3D80", status=400)
    get(srvd, "/v1/catalog/services?dc=dc2", status=400)
    get(srvd, "/v1/health/service/web?dc=srvd")
    get(srvd, "/v1/health/service/web?index=x", status=400)
    get(srvd, "/v1/health/service/web?index=1&wait=forever", status=400)


def request_json_status(d):
    code, _, data = request(d, "GET", "/v1/status")
    return code, json.loads(data)


def test_blocking_on_consul_routes(srvd):
    hdrs, _ = get(srvd, "/v1/catalog/services")
    index = int(hdrs["x-consul-index"])
    # an index that is not the current one answers at once
    get(srvd, "/v1/catalog/services?index=%d&wait=10m" % (index - 1), timeout=30 * SLOW)
    # the current one waits, here until wait= (Consul's Go client sends ms)
    hdrs, _ = get(srvd, "/v1/health/service/db?index=%d&wait=300ms" % index,
                  timeout=30 * SLOW)
    assert int(hdrs["x-consul-index"]) == index


@pytest.fixture
def consul():
    return need_module("consul", "python3-consul")


def test_python_consul_reads(consul, srvd, backends):
    c = consul.Consul(host="127.0.0.1", port=srvd.api_port)
    index, svcs = c.catalog.services()
    assert set(svcs) == {"web", "db"} and "canary" in svcs["web"]
    assert index.isdigit()

    index, nodes = c.health.service("web", passing=True)
    assert sorted(n["Service"]["ID"] for n in nodes) == ["w1.web", "w2.web"]
    addrs = {(n["Service"]["Address"], n["Service"]["Port"]) for n in nodes}
    assert addrs == {(b.addr, b.port) for _, b in backends}
    assert all(ch["Status"] == "passing" for n in nodes for ch in n["Checks"])

    _, nodes = c.health.service("web")
    assert len(nodes) == 3
    _, nodes = c.health.service("web", tag="canary", passing=True)
    assert [n["Node"]["Node"] for n in nodes] == ["w1.web"]
    _, entries = c.catalog.service("db")
    assert sorted(e["ServiceAddress"] for e in entries) == ["192.0.2.5", "2001:db8::6"]
    assert c.agent.self()["Config"]["Datacenter"] == "srvd"


def test_python_consul_blocking_query(consul, srvd, backends):
    c = consul.Consul(host="127.0.0.1", port=srvd.api_port)
    index, nodes = c.health.service("web", passing=True)
    assert len(nodes) == 2

    # a stale index returns at once: far sooner than its wait of 10 minutes
    result = {}
    t = threading.Thread(target=lambda: result.update(
        stale=c.health.service("web", index=str(int(index) - 1), wait="10m", passing=True)))
    t.start()
    t.join(30 * SLOW)
    assert not t.is_alive() and result["stale"][0] == index

    # the current index waits until the served set changes: w2's backend stops
    t = threading.Thread(target=lambda: result.update(
        woken=c.health.service("web", index=index, wait="5m", passing=True)))
    t.start()
    poll(lambda: waiting(srvd) == 1, BOUND, "the blocking query waiting", srvd.stderr_text)
    backends[1][1].stop()
    t.join(60 * SLOW)
    assert not t.is_alive(), "the blocking query was not woken by the change"
    new_index, nodes = result["woken"]
    assert new_index != index
    assert [n["Service"]["ID"] for n in nodes] == ["w1.web"]
    assert waiting(srvd) == 0


def waiting(d):
    """srvd_api_connections{state="waiting"}."""
    _, _, data = request(d, "GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith('srvd_api_connections{state="waiting"}'):
            return int(line.split()[-1])
    raise AssertionError("no srvd_api_connections{state=\"waiting\"} in /metrics")

# SPDX-License-Identifier: BSD-3-Clause
# test_api.py: the control API (README "The control API"): register, inspect, deregister, reload, auth.
"""The control API against the real daemon.

Every change goes through YAML: a PUT writes services.d/NAME.yaml and
reloads, a DELETE removes it. The tests check the result three ways: the
HTTP answer, DNS (dnspython over UDP), and the files in the include folder.
"""

import os
import time

import dns.rcode
import pytest

from api_helpers import ZONE, attach_api, registry_text, request, request_json, start
from conftest import Srvd, query

DB = ("  db:\n"
      "    port: 5432\n"
      "    check: {type: none}\n"
      "    instances:\n"
      "      - {name: d1, address: 192.0.2.5}\n")

WEB = {"port": 8080, "tags": ["http"], "check": {"type": "none"},
       "instances": [{"name": "a", "address": "192.0.2.10", "weight": 5, "tags": ["canary"]},
                     {"name": "b", "address": "192.0.2.11", "port": 8081}]}


def addresses(d, name, rdtype="A"):
    r = query(d, name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def fragment(folder, name):
    return os.path.join(str(folder), "services.d", name + ".yaml")


@pytest.fixture
def api(tmp_path):
    d = start(tmp_path, registry_text(DB))
    yield d
    d.stop()


def test_register_inspect_deregister(api, tmp_path):
    assert query(api, "web." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN

    status, body = request_json(api, "PUT", "/v1/services/web", WEB)
    assert status == 201, body
    assert body["name"] == "web" and body["port"] == 8080 and body["total"] == 2
    assert os.path.exists(fragment(tmp_path, "web"))
    assert addresses(api, "web." + ZONE) == ["192.0.2.10", "192.0.2.11"]
    assert addresses(api, "canary.web." + ZONE) == ["192.0.2.10"]
    r = query(api, "_web._tcp." + ZONE, "SRV")
    assert sorted((rd.port, rd.weight) for rd in r.answer[0]) == [(8080, 5), (8081, 1)]

    status, body = request_json(api, "GET", "/v1/services")
    assert status == 200
    listed = {s["name"]: s for s in body["services"]}
    assert set(listed) == {"db", "web"}
    assert listed["web"]["passing"] == 2 and listed["web"]["total"] == 2
    assert listed["web"]["protocol"] == "tcp" and listed["web"]["tags"] == ["http"]
    assert listed["web"]["policy"] == "round-robin"

    status, body = request_json(api, "GET", "/v1/services/web")
    assert status == 200
    inst = {i["name"]: i for i in body["instances"]}
    assert inst["a"]["address"] == "192.0.2.10" and inst["a"]["port"] == 8080
    assert inst["a"]["weight"] == 5 and inst["a"]["tags"] == ["canary"]
    assert inst["b"]["port"] == 8081 and inst["b"]["priority"] == 0
    for i in inst.values():
        assert i["state"] == "passing" and i["served"] is True
        assert i["last_change"].endswith("Z")
        assert {"last_result", "last_check", "consecutive_successes",
                "consecutive_failures"} <= set(i)

    # replacing it answers 200 and changes DNS
    changed = dict(WEB, instances=[{"name": "c", "address": "192.0.2.12"}])
    status, body = request_json(api, "PUT", "/v1/services/WEB", changed)
    assert status == 200, body
    assert [i["name"] for i in body["instances"]] == ["c"]
    assert addresses(api, "web." + ZONE) == ["192.0.2.12"]

    status, body = request_json(api, "DELETE", "/v1/services/web")
    assert status == 200 and body["deleted"] == "web"
    assert not os.path.exists(fragment(tmp_path, "web"))
    assert query(api, "web." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN
    assert request_json(api, "GET", "/v1/services/web")[0] == 404
    assert request_json(api, "DELETE", "/v1/services/web")[0] == 404
    # the service of the main file served throughout
    assert addresses(api, "db." + ZONE) == ["192.0.2.5"]
    assert sorted(os.listdir(os.path.join(str(tmp_path), "services.d"))) == []


def test_registered_service_survives_restart(tmp_path):
    d = start(tmp_path, registry_text(DB))
    try:
        assert request_json(d, "PUT", "/v1/services/web", WEB)[0] == 201
    finally:
        d.stop()
    d2 = attach_api(Srvd(os.path.join(str(tmp_path), "srvd.yaml"), ZONE).start())
    try:
        assert addresses(d2, "web." + ZONE) == ["192.0.2.10", "192.0.2.11"]
        status, body = request_json(d2, "GET", "/v1/services/web")
        assert status == 200 and len(body["instances"]) == 2
    finally:
        d2.stop()


@pytest.mark.parametrize("body", [
    '{"port": 8080, "instances": [',
    '{"port": 8080,, }',
    '{"port": 80} trailing',
])
def test_bad_json_is_400(api, tmp_path, body):
    status, reply = request_json(api, "PUT", "/v1/services/web", body)
    assert status == 400, reply
    assert reply["errors"] and all(e["message"] for e in reply["errors"])
    assert not os.path.exists(fragment(tmp_path, "web"))
    assert query(api, "web." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("body,path,fragment_of_message", [
    ({"port": 80, "check": {"type": "none"},
      "instances": [{"name": "a", "address": "10.0.0.300"}]},
     "services.web.instances[0].address", "is not an IPv4 or IPv6 address"),
    ({"port": 70000, "check": {"type": "none"},
      "instances": [{"name": "a", "address": "192.0.2.1"}]},
     "services.web.port", "70000"),
    ({"port": 80, "colour": "blue", "check": {"type": "none"},
      "instances": [{"name": "a", "address": "192.0.2.1"}]},
     "services.web.colour", "unknown key"),
    ({"port": 80, "check": {"type": "carrier-pigeon"},
      "instances": [{"name": "a", "address": "192.0.2.1"}]},
     "services.web.check.type", "carrier-pigeon"),
    ({"port": 80, "check": {"type": "none"},
      "instances": [{"name": "a", "address": "192.0.2.1"}, {"name": "a", "address": "192.0.2.2"}]},
     "services.web.instances[1].name", "duplicate"),
])
def test_bad_values_are_400_with_the_path(api, tmp_path, body, path, fragment_of_message):
    status, reply = request_json(api, "PUT", "/v1/services/web", body)
    assert status == 400, reply
    paths = [e.get("path") for e in reply["errors"]]
    assert path in paths, reply
    err = reply["errors"][paths.index(path)]
    assert fragment_of_message in err["message"], reply
    # one-line JSON body: the position is on its line 1
    assert err["line"] == 1 and err["column"] >= 1, reply
    assert not os.path.exists(fragment(tmp_path, "web"))
    assert query(api, "web." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN


FOO = '{"port":80,"check":{"type":"none"},"instances":[{"name":"x1","address":"192.0.2.1"}]}'
EVIL = ("  evil:{0}    port: 1{0}    check: {{type: none}}{0}"
        "    instances: [{{name: e1, address: 192.0.2.66}}]{0}")


@pytest.mark.parametrize("brk,what", [
    ("\r", "carriage return"),
    ("\u0085", "U+0085"),
    ("\u2028", "U+2028"),
    ("\u2029", "U+2029"),
])
def test_line_breaks_cannot_inject_services(api, tmp_path, brk, what):
    # libyaml ends lines at these too: the body must not reach past its
    # own service to add another beside it
    status, reply = request_json(api, "PUT", "/v1/services/foo", FOO + brk + EVIL.format(brk))
    assert status == 400, reply
    assert what in reply["errors"][0]["message"], reply
    assert not os.path.exists(fragment(tmp_path, "foo"))
    assert query(api, "evil." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN
    assert query(api, "foo." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN
    assert set(s["name"] for s in request_json(api, "GET", "/v1/services")[1]["services"]) \
        == {"db"}


def test_crlf_body_is_accepted(api, tmp_path):
    body = "port: 80\r\ncheck: {type: none}\r\ninstances:\r\n  - {name: a, address: 192.0.2.1}\r\n"
    status, reply = request_json(api, "PUT", "/v1/services/foo", body)
    assert status == 201, reply
    with open(fragment(tmp_path, "foo"), "rb") as f:
        assert b"\r" not in f.read()
    assert addresses(api, "foo." + ZONE) == ["192.0.2.1"]


@pytest.mark.parametrize("brk", ["\r", "\n"])
def test_body_cannot_name_zone_files(api, tmp_path, brk):
    # a zones: key would make srvd read any file and echo its lines in
    # the errors; the fragment is checked as an include file
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2 is the password\nsecond line\n")
    body = (FOO + brk + "server: {zone: " + ZONE + "}" + brk
            + "zones: [" + str(secret) + "]" + brk)
    status, hdrs, data = request(api, "PUT", "/v1/services/foo", body)
    assert status == 400, data
    assert b"hunter2" not in data and b"secret.txt" not in data, data
    # nor did ldns read it (its messages say "RR", "rdata", "$ORIGIN"...)
    assert b"RR" not in data and b"rdata" not in data and b"ORIGIN" not in data, data
    if brk == "\r":
        assert b"carriage return" in data, data
    assert not os.path.exists(fragment(tmp_path, "foo"))
    assert query(api, "foo." + ZONE, "A").rcode() == dns.rcode.NXDOMAIN


def test_bad_service_names(api):
    assert request_json(api, "PUT", "/v1/services/no_such", WEB)[0] == 400
    assert request_json(api, "PUT", "/v1/services/..", WEB)[0] == 400
    assert request_json(api, "GET", "/v1/services/nope")[0] == 404
    status, body = request_json(api, "GET", "/v1/services/nope")
    assert "nope" in body["errors"][0]["message"]
    assert request_json(api, "GET", "/v1/nothing")[0] == 404
    assert request(api, "POST", "/v1/services/web")[0] == 405


def test_main_file_services_are_not_the_apis(api, tmp_path):
    status, body = request_json(api, "PUT", "/v1/services/db", WEB)
    assert status == 409 and "db" in body["errors"][0]["message"]
    status, body = request_json(api, "DELETE", "/v1/services/db")
    assert status == 409, body
    assert addresses(api, "db." + ZONE) == ["192.0.2.5"]
    assert not os.path.exists(fragment(tmp_path, "db"))


def test_rejected_reload_restores_the_folder(tmp_path):
    # `web` is a static record of the service zone: a service of that name
    # passes validation on its own but the reload rejects the collision
    zone = "$ORIGIN svc.test.\nweb 60 IN A 192.0.2.99\n"
    d = start(tmp_path, registry_text(DB, extra="zones: [static.zone]\n"),
              files={"static.zone": zone})
    try:
        status, body = request_json(d, "PUT", "/v1/services/web", WEB)
        assert status == 409, body
        assert any(e.get("file", "").endswith("web.yaml") or "web" in e["message"]
                   for e in body["errors"]), body
        assert not os.path.exists(fragment(tmp_path, "web"))
        assert addresses(d, "web." + ZONE) == ["192.0.2.99"]
        # a valid one right after works: the folder was left clean
        ok = dict(WEB)
        assert request_json(d, "PUT", "/v1/services/api", ok)[0] == 201
    finally:
        d.stop()


def test_put_means_what_an_include_file_means(tmp_path):
    # the body inherits the main file's server: and defaults: as the same
    # text in services.d/ would: no port here, defaults.port is 8080
    inherit = "  ttl: 42\ndefaults: {port: 8080, check: {type: none}}\n"
    d = start(tmp_path, registry_text(DB, extra=inherit))
    try:
        body = {"instances": [{"name": "a", "address": "192.0.2.10"},
                              {"name": "b", "address": "192.0.2.11", "port": 9000}]}
        status, reply = request_json(d, "PUT", "/v1/services/web", body)
        assert status == 201, reply
        assert reply["port"] == 8080 and reply["ttl"] == 42, reply
        r = query(d, "_web._tcp." + ZONE, "SRV")
        assert sorted(rd.port for rd in r.answer[0]) == [8080, 9000]
        assert r.answer[0].ttl == 42
        assert addresses(d, "web." + ZONE) == ["192.0.2.10", "192.0.2.11"]
        # invalid with or without the defaults: refused, positions in the body
        bad = '{"instances": [\n  {"name": "c",\n   "address": "10.0.0.300"}]}'
        status, reply = request_json(d, "PUT", "/v1/services/api", bad)
        assert status == 400, reply
        assert reply["errors"] == [{
            "line": 3, "column": 15, "path": "services.api.instances[0].address",
            "message": '"10.0.0.300" is not an IPv4 or IPv6 address'}], reply
        assert not os.path.exists(fragment(tmp_path, "api"))
    finally:
        d.stop()


def test_put_without_port_or_defaults_is_still_400(api, tmp_path):
    body = {"check": {"type": "none"}, "instances": [{"name": "a", "address": "192.0.2.10"}]}
    status, reply = request_json(api, "PUT", "/v1/services/web", body)
    assert status == 400, reply
    assert [e["message"] for e in reply["errors"]] == [
        "no port: set port here, in the service or in defaults"], reply
    assert not os.path.exists(fragment(tmp_path, "web"))


def test_no_include_folder_is_409(tmp_path):
    text = registry_text(DB).replace("include: services.d/*.yaml\n", "")
    d = start(tmp_path, text)
    try:
        status, body = request_json(d, "PUT", "/v1/services/web", WEB)
        assert status == 409 and "include" in body["errors"][0]["message"]
    finally:
        d.stop()


def test_token(tmp_path):
    d = start(tmp_path, registry_text(DB, token="s3cret-token"))
    try:
        for token in (None, "wrong", "s3cret-toke", "s3cret-token-", ""):
            status, hdrs, _ = request(d, "PUT", "/v1/services/web", WEB, token=token)
            assert status == 401, token
            assert hdrs["www-authenticate"].startswith("Bearer")
            assert request(d, "POST", "/v1/reload", token=token)[0] == 401
            assert request(d, "DELETE", "/v1/services/web", token=token)[0] == 401
        assert not os.path.exists(fragment(tmp_path, "web"))
        # reading needs no token
        assert request(d, "GET", "/v1/services")[0] == 200
        assert request(d, "GET", "/metrics")[0] == 200
        status, _ = request_json(d, "PUT", "/v1/services/web", WEB, token="s3cret-token")
        assert status == 201
        assert request(d, "POST", "/v1/reload", token="s3cret-token")[0] == 200
        status, _ = request_json(d, "DELETE", "/v1/services/web", token="s3cret-token")
        assert status == 200
    finally:
        d.stop()


def test_body_too_large_is_413(api, tmp_path):
    big = b'{"port": 80, "x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    status, _, _ = request(api, "PUT", "/v1/services/web", big)
    assert status == 413
    assert not os.path.exists(fragment(tmp_path, "web"))
    # just under the bound is read and judged on its content
    near = b'{"port": 80, "x": "' + b"a" * (1024 * 1024 - 100) + b'"}'
    assert request(api, "PUT", "/v1/services/web", near)[0] == 400
    assert request(api, "GET", "/healthz")[0] == 200


def test_healthz(api):
    status, hdrs, body = request(api, "GET", "/healthz")
    assert status == 200 and body == b"ok\n"


def test_post_reload_after_editing_the_file(api, tmp_path):
    path = os.path.join(str(tmp_path), "srvd.yaml")
    with open(path) as f:
        original = f.read()
    with open(path, "w") as f:
        f.write(original.replace("192.0.2.5", "192.0.2.6"))
    # watch is off: nothing changes until asked
    time.sleep(0.3)
    assert addresses(api, "db." + ZONE) == ["192.0.2.5"]
    status, body = request_json(api, "POST", "/v1/reload")
    assert status == 200 and body["result"] == "ok", body
    assert addresses(api, "db." + ZONE) == ["192.0.2.6"]
    status, body = request_json(api, "POST", "/v1/reload")
    assert status == 200 and body["result"] == "unchanged", body

    with open(path, "w") as f:
        f.write(original.replace("192.0.2.5", "192.0.2.666"))
    status, body = request_json(api, "POST", "/v1/reload")
    assert status == 400 and body["result"] == "failed", body
    err = body["errors"][0]
    assert err["file"].endswith("srvd.yaml") and err["line"] > 1 and err["column"] > 1, body
    assert err["path"] == "services.db.instances[0].address", body
    assert addresses(api, "db." + ZONE) == ["192.0.2.6"]

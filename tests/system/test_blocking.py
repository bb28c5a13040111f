# SPDX-License-Identifier: BSD-3-Clause
# test_blocking.py: blocking queries and the event stream on srvd's own API.
"""Watching srvd over HTTP (README "Discovery over HTTP", issue 19).

GET /v1/services[/NAME]?index=N&wait=D returns at once for an index other
than the current serial, when the served set changes, or at `wait` with the
state unchanged; X-Srvd-Index is the serial. GET /v1/events?stream=1 is a
text/event-stream of serial, health and registry events. Both sit in the
API's waiting pool: a client that goes away frees its slot at once, and one
more than the pool holds gets 503. No timing assertions: a wait that should
end at once is given minutes it must not need.
"""

import json
import select
import socket
import threading
import time

from api_helpers import registry_text, request, request_json, start
from conftest import SLOW, wait_until
from tools import Backend

NONE_DB = ("  db:\n"
           "    port: 5432\n"
           "    check: {type: none}\n"
           "    instances:\n"
           "      - {name: d1, address: 192.0.2.5}\n")
CHECK = "{type: http, path: /, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}"
CHECK_JSON = {"type": "http", "path": "/", "interval": "200ms", "timeout": "200ms",
              "rise": 1, "fall": 1}
LONG = 60 * SLOW  # the HTTP client's bound on a request that must end long before its wait


def index_of(d, path="/v1/services"):
    status, hdrs, _ = request(d, "GET", path)
    assert status == 200
    return int(hdrs["x-srvd-index"])


def waiting(d):
    _, _, data = request(d, "GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith('srvd_api_connections{state="waiting"}'):
            return int(line.split()[-1])
    raise AssertionError("no waiting gauge in /metrics")


def settle(d):
    """Waits until the serial stays put for a second: health changes are coalesced into a
    second serial at the end of a 200 ms window, which must not wake a test's wait."""
    def same():
        first = index_of(d)
        time.sleep(1.0)
        return index_of(d) == first
    wait_until(same, 20 * SLOW, "the serial settled", d)


def in_thread(fn):
    """Runs fn in a thread; returns (thread, result dict with "value" or "error")."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_index_header_and_stale_index(tmp_path):
    d = start(tmp_path, registry_text(NONE_DB))
    serial = request_json(d, "GET", "/v1/status")[1]["serial"]
    assert index_of(d) == serial
    assert index_of(d, "/v1/services/db") == serial
    # an older index (or one from another server or run) answers at once, not in 10 min
    for other in (serial - 1, serial + 1, 1):
        status, hdrs, data = request(d, "GET", "/v1/services/db?index=%d&wait=10m" % other,
                                     timeout=LONG)
        assert status == 200 and int(hdrs["x-srvd-index"]) == serial
        assert json.loads(data)["name"] == "db"
    # bad parameters: 400, with the index all the same
    for q in ("index=abc", "index=-1", "index=1&wait=30", "index=1&wait=1h", "wait=%zz"):
        status, hdrs, data = request(d, "GET", "/v1/services?" + q)
        assert status == 400, (q, data)
        assert int(hdrs["x-srvd-index"]) == serial
    d.stop()


def test_wait_deadline_returns_the_unchanged_state(tmp_path):
    d = start(tmp_path, registry_text(NONE_DB))
    serial = index_of(d)
    _, before = request_json(d, "GET", "/v1/services")
    status, hdrs, data = request(d, "GET", "/v1/services?index=%d&wait=500ms" % serial,
                                 timeout=LONG)
    assert status == 200 and int(hdrs["x-srvd-index"]) == serial
    assert json.loads(data) == before
    assert waiting(d) == 0
    d.stop()


def test_change_wakes_waiting_requests(tmp_path):
    d = start(tmp_path, registry_text(NONE_DB))
    serial = index_of(d)
    # one waits on the list, one on a service that does not exist yet
    t1, r1 = in_thread(lambda: request(d, "GET", "/v1/services?index=%d&wait=5m" % serial,
                                       timeout=LONG))
    t2, r2 = in_thread(lambda: request(d, "GET", "/v1/services/web?index=%d" % serial,
                                       timeout=LONG))
    wait_until(lambda: waiting(d) == 2, 10 * SLOW, "two requests waiting", d)
    status, body = request_json(d, "PUT", "/v1/services/web", {
        "port": 8080, "check": {"type": "none"},
        "instances": [{"name": "a", "address": "192.0.2.10"}]})
    assert status == 201, body
    t1.join(LONG)
    t2.join(LONG)
    assert "value" in r1 and "value" in r2, (r1, r2)
    status, hdrs, data = r1["value"]
    assert status == 200 and int(hdrs["x-srvd-index"]) > serial
    assert {s["name"] for s in json.loads(data)["services"]} == {"db", "web"}
    status, hdrs, data = r2["value"]
    assert status == 200 and json.loads(data)["instances"][0]["name"] == "a"
    assert waiting(d) == 0
    d.stop()


def test_health_change_wakes_and_streams(tmp_path):
    b = Backend("w1", "127.0.0.91")
    text = registry_text("  web:\n"
                         "    port: %d\n"
                         "    check: %s\n"
                         "    instances:\n"
                         "      - {name: w1, address: %s}\n" % (b.port, CHECK, b.addr))
    d = start(tmp_path, text)
    try:
        wait_until(lambda: request_json(d, "GET", "/v1/services/web")[1]["passing"] == 1,
                   10 * SLOW, "w1 passing", d)
        settle(d)
        serial = index_of(d)
        stream = Stream(d, "/v1/events?stream=1")
        first = stream.event("serial")
        assert first["serial"] == serial and first["passing"] == 1
        t, r = in_thread(lambda: request(d, "GET", "/v1/services/web?index=%d&wait=5m" %
                                         serial, timeout=LONG))
        wait_until(lambda: waiting(d) == 2, 10 * SLOW, "stream and query waiting", d)
        b.stop()
        ev = stream.event("health")
        assert ev["service"] == "web" and ev["instance"] == "w1"
        assert ev["from"] == "passing" and ev["to"] == "failing" and ev["passing"] is False
        assert ev["time"].endswith("Z") and ev["result"]
        ev = stream.event("serial")
        assert ev["serial"] > serial and ev["passing"] == 0
        t.join(LONG)
        status, hdrs, data = r["value"]
        assert status == 200 and int(hdrs["x-srvd-index"]) > serial
        assert json.loads(data)["instances"][0]["state"] == "failing"
        # a registry change: which services it added
        request_json(d, "PUT", "/v1/services/db", {
            "port": 5432, "check": {"type": "none"},
            "instances": [{"name": "d1", "address": "192.0.2.5"}]})
        ev = stream.event("registry")
        assert ev["added"] == ["db"] and ev["removed"] == [] and ev["changed"] == []
        # a status change that leaves the served set alone is an event too
        request_json(d, "PUT", "/v1/services/gone", {
            "port": 9, "check": CHECK_JSON,
            "instances": [{"name": "x", "address": "127.0.0.99"}]})
        ev = stream.event("health")
        assert (ev["service"], ev["instance"], ev["from"], ev["to"]) == \
            ("gone", "x", "unchecked", "failing")
        stream.close()
        wait_until(lambda: waiting(d) == 0, 10 * SLOW, "the stream's slot freed", d)
    finally:
        b.stop()
        d.stop()


def test_stream_ends_at_wait_and_clients_that_leave_free_their_slot(tmp_path):
    d = start(tmp_path, registry_text(NONE_DB))
    serial = index_of(d)
    # a stream ends at its wait: the server closes it
    short = Stream(d, "/v1/events?stream=1&wait=300ms")
    assert short.head.startswith("HTTP/1.1 200")
    assert "content-type: text/event-stream" in short.head.lower()
    assert "content-length" not in short.head.lower()
    assert short.read_to_eof().startswith("retry: ")
    # clients that go away while waiting free their slots at once
    query = socket.create_connection(("127.0.0.1", d.api_port), timeout=10)
    query.sendall(b"GET /v1/services?index=%d&wait=10m HTTP/1.1\r\n\r\n" % serial)
    stream = Stream(d, "/v1/events?stream=1")
    wait_until(lambda: waiting(d) == 2, 10 * SLOW, "a query and a stream waiting", d)
    query.close()
    stream.close()
    wait_until(lambda: waiting(d) == 0, 10 * SLOW, "srvd_api_connections waiting back to 0",
               d)
    d.stop()


def test_waiting_pool_is_bounded(tmp_path):
    """The pool holds 256 waiting requests (HTTP_MAX_WAITING); more get 503 with
    Retry-After, and DNS and other API requests go on. 32 per client address, so the
    clients come from 8 loopback addresses."""
    d = start(tmp_path, registry_text(NONE_DB))
    serial = index_of(d)
    held = []
    try:
        for i in range(256):
            s = socket.socket()
            s.bind(("127.0.1.%d" % (1 + i // 32), 0))
            s.connect(("127.0.0.1", d.api_port))
            s.sendall(b"GET /v1/services?index=%d&wait=10m HTTP/1.1\r\n\r\n" % serial)
            held.append(s)
        wait_until(lambda: waiting(d) == 256, 20 * SLOW, "256 requests waiting", d)
        status, hdrs, data = request(d, "GET", "/v1/services?index=%d" % serial)
        assert status == 503 and hdrs["retry-after"] == "1", data
        assert "x-srvd-index" in hdrs
        assert index_of(d) == serial  # a request that does not wait is served
    finally:
        for s in held:
            s.close()
    wait_until(lambda: waiting(d) == 0, 20 * SLOW, "the pool empty again", d)
    d.stop()


class Stream:
    """A raw text/event-stream client: the response head, then events by name."""

    def __init__(self, d, path):
        self.sock = socket.create_connection(("127.0.0.1", d.api_port), timeout=10 * SLOW)
        self.sock.sendall(b"GET %s HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n" %
                          path.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._more(10 * SLOW)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()

    def _more(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        assert r, "nothing from the stream in %g s: %r" % (timeout, self.buf)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(self.buf)
        self.buf += chunk

    def event(self, name, timeout=20 * SLOW):
        """The data (JSON) of the next event called name; earlier other events and
        comments are skipped."""
        end = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.decode().splitlines()
                              if ": " in line and not line.startswith(":"))
                if fields.get("event") == name:
                    return json.loads(fields["data"])
            left = end - time.monotonic()
            assert left > 0, "no %s event in %g s: %r" % (name, timeout, self.buf)
            self._more(left)

    def read_to_eof(self):
        try:
            while True:
                self._more(10 * SLOW)
        except EOFError:
            return self.buf.decode()

    def close(self):
        self.sock.close()


def test_registry_events_among_many_services(tmp_path):
    """The registry event names what one change added, removed or changed among 500
    services (looked up by name, not compared each with each), and a stream opened
    after changes nobody streamed compares with the registry of its opening."""
    many = "services:\n" + "".join(
        "  m%03d:\n    check: {type: none}\n    instances:\n"
        "      - {name: i, address: 192.0.2.%d, port: 80}\n" % (i, 1 + i % 250)
        for i in range(500))
    d = start(tmp_path, registry_text(NONE_DB), {"services.d/many.yaml": many})
    try:
        def put(name, addr):
            request_json(d, "PUT", "/v1/services/" + name, {
                "port": 80, "check": {"type": "none"},
                "instances": [{"name": "i", "address": addr}]})

        put("zz", "192.0.2.7")
        put("aa", "192.0.2.8")  # two changes, no stream open
        stream = Stream(d, "/v1/events?stream=1")
        stream.event("serial")
        put("aa", "192.0.2.9")
        ev = stream.event("registry")
        assert (ev["added"], ev["removed"], ev["changed"]) == ([], [], ["aa"])
        status, _, _ = request(d, "DELETE", "/v1/services/zz")
        assert status == 200
        ev = stream.event("registry")
        assert (ev["added"], ev["removed"], ev["changed"]) == ([], ["zz"], [])
        put("m250x", "192.0.2.10")
        ev = stream.event("registry")
        assert (ev["added"], ev["removed"], ev["changed"]) == (["m250x"], [], [])
        stream.close()
        wait_until(lambda: waiting(d) == 0, 10 * SLOW, "the stream's slot freed", d)
        put("m250x", "192.0.2.11")  # unseen: the next stream starts from here
        stream = Stream(d, "/v1/events?stream=1")
        stream.event("serial")
        put("zz", "192.0.2.12")
        ev = stream.event("registry")
        assert (ev["added"], ev["removed"], ev["changed"]) == (["zz"], [], [])
        stream.close()
    finally:
        d.stop()

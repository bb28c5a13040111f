# SPDX-License-Identifier: BSD-3-Clause
# api_helpers.py: a daemon with the control API on, and a tiny HTTP client, for test_api/test_metrics.
"""Helpers shared by test_api.py and test_metrics.py.

The daemon runs with `server.http: 127.0.0.1:0`; the API port comes from its
`api listening on ADDR:PORT` log line. Registries use `include:
services.d/*.yaml` so that PUT and DELETE have a folder to write to, and
`watch: false` so that only the reloads a test asks for happen.
"""

import http.client
import json
import os

from conftest import Srvd

ZONE = "svc.test."
API_RE = r"api listening on 127\.0\.0\.1:(\d+)"


def registry_text(services="", token=None, extra=""):
    """A main file with the API on, an include folder and the given services: block."""
    text = ("server:\n"
            "  zone: %s\n"
            "  http: 127.0.0.1:0\n"
            "  watch: false\n" % ZONE)
    if token is not None:
        text += "  http_token: %s\n" % json.dumps(token)
    text += extra
    text += "include: services.d/*.yaml\n"
    text += "services:\n" + (services or "  {}\n")
    return text


def start(folder, text, files=None):
    """Writes srvd.yaml (and files) into folder, starts srvd; returns it with .api_port."""
    os.makedirs(os.path.join(str(folder), "services.d"), exist_ok=True)
    for name, body in (files or {}).items():
        with open(os.path.join(str(folder), name), "w") as f:
            f.write(body)
    path = os.path.join(str(folder), "srvd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return attach_api(Srvd(path, ZONE).start())


def attach_api(d):
    """Reads the API port of a started daemon from its log."""
    m = d.wait_log(API_RE)[-1]
    d.api_port = int(m.group(1))
    return d


def request(d, method, path, body=None, token=None, headers=None, timeout=5):
    """One HTTP request to d's API; returns (status, headers dict, body bytes).
    A dict or list body is sent as JSON."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def request_json(d, method, path, body=None, token=None):
    """Like request(), asserting a JSON body; returns (status, parsed body)."""
    status, hdrs, data = request(d, method, path, body, token)
    assert hdrs.get("content-type", "").startswith("application/json"), (status, hdrs, data)
    return status, json.loads(data)

# SPDX-License-Identifier: BSD-3-Clause
# tools.py: the real tools that follow srvd (HAProxy, Prometheus, python3-consul) and the
# HTTP backends they reach, for test_haproxy.py, test_prometheus_sd.py and test_consul_api.py.
"""Helpers of the tests that run a real tool against srvd (README "Discovery over HTTP").

The tools are Debian packages that `./dev test` installs (haproxy, prometheus,
python3-consul). A test that needs one and does not find it fails, saying what to
install: it is never skipped silently. They run once per CI run, in the plain build:
`./dev test --sanitizers` and distcheck set SRVD_TEST_TOOLS=0, and there need_tool()
skips, saying so. Everything listens on 127.0.0.0/8.
"""

import http.client
import http.server
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import SLOW

TOOLS_OFF = os.environ.get("SRVD_TEST_TOOLS") == "0"
SKIP_REASON = ("SRVD_TEST_TOOLS=0: the tests with real tools (HAProxy, Prometheus, "
               "python3-consul, etcd) run once per CI run, in the plain build, not again "
               "under the sanitizers or in distcheck")


def tools_off():
    """Skips the calling test when SRVD_TEST_TOOLS=0, with the reason."""
    if TOOLS_OFF:
        pytest.skip(SKIP_REASON)


def need_tool(exe, package, fallback=None):
    """The path of exe (e.g. "haproxy"); skips under SRVD_TEST_TOOLS=0, fails the test if
    the Debian package is not installed."""
    tools_off()
    path = shutil.which(exe) or (fallback if fallback and os.access(fallback, os.X_OK)
                                 else None)
    if not path:
        pytest.fail("%s is not installed: install the Debian package %s (./dev test "
                    "installs it)" % (exe, package))
    return path


def need_module(name, package):
    """Imports and returns a Python module from a Debian package, as need_tool()."""
    tools_off()
    try:
        return __import__(name)
    except ImportError:
        pytest.fail("Python module %s is not installed: install the Debian package %s "
                    "(./dev test installs it)" % (name, package))


class Backend:
    """A threaded HTTP server on addr (port picked once, kept across stop/start): 200 with
    its name as the body to every GET, so traffic can be traced to it, and a tiny
    Prometheus exposition at /metrics."""

    def __init__(self, name, addr):
        self.name = name
        self.addr = addr
        self.port = 0
        self.server = None
        self.start()

    def _handler(self):
        name = self.name

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/metrics"):
                    body = b"# TYPE backend_up gauge\nbackend_up 1\n"
                    kind = "text/plain; version=0.0.4"
                else:
                    body = name.encode()
                    kind = "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def start(self):
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer((self.addr, self.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def http_get(host, port, path, timeout=5.0 * SLOW):
    """One GET on a fresh connection; returns (status, body text), or (None, error text)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)
    finally:
        conn.close()


class Process:
    """A tool run in the foreground in its own session, its output in a log file; stop()
    ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        with open(log_path, "w") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def log(self, tail=6000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-tail:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def poll(pred, bound, what, context=None):
    """Like conftest.wait_until, every 100 ms (the tools need no faster polling); returns
    pred()'s last truthy value."""
    end = time.monotonic() + bound
    last = None
    while True:
        try:
            last = pred()
        except (OSError, ValueError) as e:
            last = None
            err = e
        else:
            err = None
        if last:
            return last
        if time.monotonic() > end:
            text = context() if callable(context) else (context or "")
            pytest.fail("%s: not within %.1f s%s\n%s" % (what, bound,
                                                         " (%s)" % err if err else "", text))
        time.sleep(0.1)

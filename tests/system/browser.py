# SPDX-License-Identifier: BSD-3-Clause
# browser.py: headless Debian Chromium driven by python3-selenium, kept on loopback; also a CLI.
"""Opens pages in Debian's chromium through chromium-driver (python3-selenium).

Only loopback URLs are opened, and the browser is told to make no connection of
its own (no component updates, no safe browsing, every host name but localhost
resolves to nothing), so a test run never leaves the machine.

As a script, takes a screenshot of a page (how docs/status.png is made):

    python3 tests/system/browser.py http://127.0.0.1:8053/ status.png [WIDTH HEIGHT]
"""

import importlib.util
import os
import shutil
import sys
import tempfile
import time
from urllib.parse import urlsplit

CHROMIUM = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
DRIVER = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
PACKAGES = "chromium chromium-driver python3-selenium"


def _first(paths):
    return next((p for p in paths if os.access(p, os.X_OK)), None)


def missing():
    """What is not installed, as a message, or None when a browser can start."""
    lacking = []
    if not _first(CHROMIUM):
        lacking.append("chromium")
    if not _first(DRIVER):
        lacking.append("chromium-driver")
    if importlib.util.find_spec("selenium") is None:
        lacking.append("python3-selenium")
    if not lacking:
        return None
    return ("headless Chromium is not available (missing: %s); "
            "install with: apt-get install -y %s" % (", ".join(lacking), PACKAGES))


def check_loopback(url):
    host = urlsplit(url).hostname or ""
    assert host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."), \
        "browser.py opens loopback URLs only, not %s" % url


class Browser:
    """One headless Chromium with its own temporary profile; close() removes it."""

    def __init__(self, width=1280, height=900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="srvd-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = _first(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
                    "--window-size=%d,%d" % (width, height), "--hide-scrollbars",
                    "--no-first-run", "--no-default-browser-check", "--no-pings",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-extensions", "--disable-default-apps",
                    "--disable-domain-reliability", "--disable-breakpad",
                    "--disable-client-side-phishing-detection", "--metrics-recording-only",
                    "--disable-features=OptimizationHints,MediaRouter,Translate",
                    "--no-proxy-server", "--lang=en-US",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, "
                    "EXCLUDE 127.*, EXCLUDE [::1]"):
            opts.add_argument(arg)
        service = Service(executable_path=_first(DRIVER), log_output=os.devnull) \
            if "log_output" in Service.__init__.__code__.co_varnames \
            else Service(executable_path=_first(DRIVER), log_path=os.devnull)
        try:
            self.driver = webdriver.Chrome(service=service, options=opts)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(20)

    def open(self, url):
        check_loopback(url)
        self.driver.get(url)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait_for(self, what, fn, timeout=10.0, interval=0.1):
        """Polls fn() until it returns something true; returns it, or raises AssertionError
        naming what was awaited and the last value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %g s waiting for %s (last: %r)" %
                                     (timeout, what, last))
            time.sleep(interval)

    def screenshot(self, path, full_height=True):
        """Saves a PNG; with full_height, the viewport is sized to the page's content first."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if full_height:
            width = self.js("return window.innerWidth")
            h = self.js("return Math.ceil(document.body.getBoundingClientRect().bottom)")
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": int(width), "height": max(300, min(int(h) + 16, 4000)),
                "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.3)
        self.driver.save_screenshot(path)

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def main(argv):
    if len(argv) not in (3, 5):
        sys.stderr.write(__doc__)
        return 2
    why = missing()
    if why:
        sys.stderr.write("browser.py: %s\n" % why)
        return 1
    width, height = (int(argv[3]), int(argv[4])) if len(argv) == 5 else (1280, 900)
    b = Browser(width, height)
    try:
        b.open(argv[1])
        # two polls: the queries/s figure needs a previous sample
        b.wait_for("the status page to fill in",
                   lambda: b.js("return document.querySelectorAll('tr.inst').length"), 10)
        time.sleep(3.5)
        b.screenshot(argv[2])
    finally:
        b.close()
    print("wrote %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

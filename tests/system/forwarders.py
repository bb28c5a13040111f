# SPDX-License-Identifier: BSD-3-Clause
# forwarders.py: runs unbound and dnsmasq on loopback in front of a test srvd.
"""unbound and dnsmasq as the tests run them.

The forwarding part of each configuration is read from docs/ (the snippets the
README shows), with the zone and srvd's port substituted; only the lines that
make a throw-away instance (loopback port, foreground, no chroot, no pid file,
no control socket) are added here. Both run from a temporary folder and are
stopped by stop(); nothing is written outside that folder.
"""

import os
import re
import subprocess
import time

import dns.exception
import dns.message
import dns.query

from conftest import HOST, SLOW, SRCDIR, free_port

DOCS = os.path.join(SRCDIR, "docs")
DOC_ZONE = "svc.example"
DOC_PORT = "5353"


def doc_snippet(name, zone, srvd_port):
    """docs/NAME with the documented zone and port replaced by the test's."""
    with open(os.path.join(DOCS, name)) as f:
        text = f.read()
    assert DOC_ZONE in text and DOC_PORT in text, "docs/%s lost its zone or port" % name
    return text.replace(DOC_ZONE, zone.rstrip(".")).replace(DOC_PORT, str(srvd_port))


def unbound_stub_variant(text):
    """The docs' unbound snippet with its forward-zone clause replaced by the commented
    stub-zone alternative."""
    fwd = re.search(r"^forward-zone:\n(?:\t.*\n)+", text, re.M)
    stub = re.search(r"^#stub-zone:\n(?:#\t.*\n)+", text, re.M)
    assert fwd and stub, "docs/unbound.conf: forward-zone or #stub-zone clause not found"
    stub_text = re.sub(r"^#", "", stub.group(0), flags=re.M)
    return text[:fwd.start()] + stub_text + text[fwd.end():stub.start()] + text[stub.end():]


class Forwarder:
    """One forwarder process on HOST:port. Subclasses write the config and the command."""

    name = "?"

    def __init__(self, folder, zone, srvd_port):
        self.folder = str(folder)
        self.zone = zone if zone.endswith(".") else zone + "."
        self.srvd_port = srvd_port
        self.host = HOST
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.folder, self.name + ".log")
        self.config_text = None

    def command(self):
        raise NotImplementedError

    def write_config(self):
        raise NotImplementedError

    def log_text(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        """Starts it on a free port and waits until a query for _ready.<zone> comes back
        through it with srvd's answer; retries with another port if the first was taken."""
        last = ""
        for _ in range(3):
            self.port = free_port()
            self.write_config()
            with open(self.log_path, "w") as log:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             cwd=self.folder)
            if self._wait_ready(10 * SLOW):
                return self
            last = self.log_text()
            self.stop()
        raise AssertionError("%s did not answer _ready.%s through it; log:\n%s" %
                             (self.name, self.zone, last))

    def _wait_ready(self, timeout):
        q = dns.message.make_query("_ready." + self.zone, "A")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = dns.query.udp(q, self.host, port=self.port, timeout=0.3)
                if any(rr.to_text() == "127.0.0.1" for rrset in r.answer for rr in rrset):
                    return True
            except (dns.exception.Timeout, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        """Stops it (SIGTERM, then SIGKILL after 5 s); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        self.proc = None
        return rc


class Unbound(Forwarder):
    """unbound with docs/unbound.conf: forward-zone as written, or its stub-zone variant."""

    def __init__(self, folder, zone, srvd_port, stub=False):
        self.name = "unbound-stub" if stub else "unbound-forward"
        self.stub = stub
        super().__init__(folder, zone, srvd_port)
        self.conf = os.path.join(self.folder, self.name + ".conf")

    def write_config(self):
        snippet = doc_snippet("unbound.conf", self.zone, self.srvd_port)
        if self.stub:
            snippet = unbound_stub_variant(snippet)
        # A throw-away instance: loopback port, no chroot, no user change, no pid file, no
        # control socket, no validator (no trust anchor here), logs to the test's file.
        # "test." is one of unbound's default local zones (RFC 6761): nodefault lets the
        # forward/stub zone below it through.
        harness = "\n".join([
            "server:",
            "\tinterface: %s@%d" % (self.host, self.port),
            "\tport: %d" % self.port,
            "\tdo-ip6: no",
            "\taccess-control: 127.0.0.0/8 allow",
            "\tchroot: \"\"",
            "\tusername: \"\"",
            "\tdirectory: \"%s\"" % self.folder,
            "\tpidfile: \"\"",
            "\tuse-syslog: no",
            "\tlogfile: \"\"",
            "\tverbosity: 1",
            "\tnum-threads: 1",
            "\tmodule-config: \"iterator\"",
            "\tlocal-zone: \"test.\" nodefault",
            "remote-control:",
            "\tcontrol-enable: no",
            "",
        ])
        self.config_text = harness + snippet
        with open(self.conf, "w") as f:
            f.write(self.config_text)

    def command(self):
        return ["unbound", "-d", "-c", self.conf]


class Dnsmasq(Forwarder):
    """dnsmasq with docs/dnsmasq.conf: DNS only (no DHCP ranges), no resolv.conf, no hosts."""

    name = "dnsmasq"

    def __init__(self, folder, zone, srvd_port):
        super().__init__(folder, zone, srvd_port)
        self.conf = os.path.join(self.folder, "dnsmasq.conf")

    def write_config(self):
        snippet = doc_snippet("dnsmasq.conf", self.zone, self.srvd_port)
        harness = "\n".join([
            "port=%d" % self.port,
            "listen-address=%s" % self.host,
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "pid-file=",
            "log-facility=-",
            "",
        ])
        if os.geteuid() == 0:
            # dnsmasq-base has no "dnsmasq" user (the dnsmasq package creates it)
            harness += "user=nobody\n"
        self.config_text = harness + snippet
        with open(self.conf, "w") as f:
            f.write(self.config_text)

    def command(self):
        return ["dnsmasq", "--keep-in-foreground", "--conf-file=" + self.conf]

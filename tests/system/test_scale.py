# SPDX-License-Identifier: BSD-3-Clause
# test_scale.py: srvd loads a registry of 20,000 services x 10 instances and answers right.
"""Scale without timing: the registry from tests/bench/genreg.py (20,000 x 10, check none,
documentation addresses) must load, and a sample of services spread over the whole file must
answer exactly what genreg wrote. Load time and memory are measured by tests/bench/scale.sh,
not asserted here, so a busy machine cannot make this test fail."""

import importlib.util
import ipaddress
import os
import subprocess
import threading
import time

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from conftest import HERE, HOST, LISTEN_RE, SLOW, STARTED, Srvd, query, srvd_cmd

N_SVC = 20000
N_INST = 10
ZONE = "scale.test."
START_TIMEOUT = 300  # generous: sanitizer builds on a loaded machine; not a timing assertion

_spec = importlib.util.spec_from_file_location(
    "genreg", os.path.join(HERE, "..", "bench", "genreg.py"))
genreg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(genreg)


def addr(i, k):
    """genreg's address of instance k of service i, in canonical text."""
    text = genreg.address(i * N_INST + k).strip('"')
    return ipaddress.ip_address(text).compressed


class BigSrvd(Srvd):
    """Srvd with a start-up deadline long enough for a big registry."""

    def start(self):
        cmd = srvd_cmd(["-c", self.config] + self.args + ["-w", str(self.workers)])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        STARTED.append(self)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT * SLOW
        with self._cond:
            while self.port is None and time.monotonic() < deadline and \
                    self.proc.poll() is None:
                for line in self._lines:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.port = int(m.group(2))
                self._cond.wait(0.2)
        if self.port is None:
            self.stop(check=False)
            pytest.fail("srvd did not start with %d services; stderr:\n%s" %
                        (N_SVC, self.stderr_text()))
        self.wait_ready(deadline)
        return self


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    path = str(folder / "srvd.yaml")
    with open(path, "w") as f:
        genreg.write_registry(f, N_SVC, N_INST, ZONE, HOST + ":0")
    d = BigSrvd(path, ZONE)
    d.start()
    yield d
    d.stop()


SAMPLE = [0, 1, 4999, 10000, 12345, N_SVC - 1]


def test_logs_the_whole_registry(big):
    big.wait_log(r"%d services, %d instances" % (N_SVC, N_SVC * N_INST))


@pytest.mark.parametrize("i", SAMPLE)
def test_a_and_aaaa(big, i):
    v4 = {addr(i, k) for k in range(N_INST) if ":" not in addr(i, k)}
    v6 = {addr(i, k) for k in range(N_INST) if ":" in addr(i, k)}
    for rdtype, want in (("A", v4), ("AAAA", v6)):
        r = query(big, "s%d.%s" % (i, ZONE), rdtype)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        got = [rd.address for rr in r.answer for rd in rr]
        assert len(got) == min(8, len(want))
        assert set(got) <= want, (rdtype, got, want)


@pytest.mark.parametrize("i", SAMPLE)
def test_srv(big, i):
    r = query(big, "_s%d._tcp.%s" % (i, ZONE), "SRV")
    assert r.rcode() == dns.rcode.NOERROR
    got = [(rd.port, rd.target.to_text()) for rr in r.answer for rd in rr]
    assert len(got) == 8
    want = {(8080, "i%d.s%d.%s" % (k, i, ZONE)) for k in range(N_INST)}
    assert set(got) <= want


@pytest.mark.parametrize("i", SAMPLE)
def test_instance_name(big, i):
    k = i % N_INST
    a = addr(i, k)
    r = query(big, "i%d.s%d.%s" % (k, i, ZONE), "AAAA" if ":" in a else "A")
    assert [rd.address for rr in r.answer for rd in rr] == [a]


@pytest.mark.parametrize("name", ["nx.%s" % ZONE, "s%d.%s" % (N_SVC, ZONE),
                                  "i%d.s0.%s" % (N_INST, ZONE)])
def test_nxdomain(big, name):
    r = query(big, name, "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.flags & dns.flags.AA
    assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA]

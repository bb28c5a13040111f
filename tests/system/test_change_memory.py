# SPDX-License-Identifier: BSD-3-Clause
# test_change_memory.py: many API changes of a larger registry leave srvd's memory where it was.
"""Memory across changes (issue 15).

Each change loads a new registry and builds a new table; the old ones are
freed once no worker reads them. Before, RSS climbed with every change: the
IXFR history kept a full copy of the zone per change (16 of them) even with
transfers off, and glibc kept the freed pages of each old registry and
table. Here 20,000 instances, 40 PUTs, transfers off: RSS must stay near
its steady value. RSS under AddressSanitizer (its quarantine holds freed
memory) says nothing, so the bound is for plain builds.
"""

import os
import time

from api_helpers import ZONE, registry_text, request, start
from conftest import query, sanitized, wait_until

N_SVC, N_INST, N_PUTS = 2000, 10, 40


def rss_mb(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


def big_services():
    lines = ["services:\n"]
    for i in range(N_SVC):
        lines.append("  s%d:\n    check: {type: none}\n    instances:\n" % i)
        for k in range(N_INST):
            n = i * N_INST + k
            lines.append("      - {name: i%d, address: 192.0.2.%d, port: %d}\n"
                         % (k, 1 + n % 254, 1 + n % 60000))
    return "".join(lines)


def a_of(d, name):
    r = query(d, name, "A")
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def test_rss_stays_after_many_changes(tmp_path):
    files = {os.path.join("services.d", "big.yaml"): big_services()}
    d = start(tmp_path, registry_text(), files)
    try:
        time.sleep(1.0)
        steady = rss_mb(d)
        for g in range(N_PUTS):
            addr = "192.0.2.%d" % (1 + g % 200)
            body = {"check": {"type": "none"},
                    "instances": [{"name": "i0", "address": addr, "port": 80}]}
            status, _, data = request(d, "PUT", "/v1/services/api0", body, timeout=60)
            assert status in (200, 201), (status, data)
        wait_until(lambda: a_of(d, "api0." + ZONE) == [addr], 30, "the last PUT's answer")
        time.sleep(0.5)  # the last old table is freed DAEMON_RECLAIM_MS after the swap
        after = rss_mb(d)
        assert a_of(d, "s7." + ZONE), "the large services are still served"
        if not sanitized():
            assert after < steady * 1.3 + 10, \
                "RSS grew from %.0f MB to %.0f MB over %d changes" % (steady, after, N_PUTS)
        d.stop()
    finally:
        if d.alive():
            d.stop(check=False)

# SPDX-License-Identifier: BSD-3-Clause
# test_slow_start.py: check.slow_start (README "Health checks"): a restored instance's weight ramps up.
"""w1 (weight 100) and w2 (weight 50) behind a tcp check, slow_start 8s.
At start both answer with their full weights (a first pass is no
restore); w1's listener goes away and comes back: its SRV weight is then
below 100, never falls, and is 100 again once slow_start has passed."""

import time

from api_helpers import ZONE
from check_backends import TcpBackend
from conftest import SLOW, Srvd, query, wait_until, write_registry

SLOW_START_S = 8


def weights(d):
    r = query(d, "_web._tcp." + ZONE, "SRV")
    return {rd.target.to_text().split(".")[0]: rd.weight for rrset in r.answer for rd in rrset}


def test_restored_instance_ramps_its_weight(tmp_path):
    w1 = TcpBackend("127.0.0.61").start()
    port = w1.port
    w2 = TcpBackend("127.0.0.62", port).start()
    text = ("server:\n  zone: %s\n  watch: false\n"
            "services:\n"
            "  web:\n"
            "    port: %d\n"
            "    policy: weighted\n"
            "    check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1,\n"
            "            slow_start: %ds}\n"
            "    instances:\n"
            "      - {name: w1, address: 127.0.0.61, weight: 100}\n"
            "      - {name: w2, address: 127.0.0.62, weight: 50}\n" % (ZONE, port, SLOW_START_S))
    d = Srvd(write_registry(str(tmp_path), text), ZONE).start()
    try:
        wait_until(lambda: weights(d) == {"w1": 100, "w2": 50}, 10 * SLOW, "both served", d)
        w1.stop()
        wait_until(lambda: "w1" not in weights(d), 10 * SLOW, "w1 withdrawn", d)
        w1.start()
        wait_until(lambda: "w1" in weights(d), 10 * SLOW, "w1 restored", d)
        seen = time.monotonic()
        samples = [weights(d)["w1"]]
        assert 1 <= samples[0] < 100, samples
        while samples[-1] < 100 and time.monotonic() - seen < (SLOW_START_S + 10) * SLOW:
            time.sleep(0.1)
            w = weights(d)
            samples.append(w["w1"])
            assert w["w2"] == 50  # never restored: no ramp
        took = time.monotonic() - seen
        assert samples[-1] == 100, samples
        assert samples == sorted(samples), samples  # never falls
        assert len(set(samples)) > 2, samples  # a ramp, not a step
        # slow_start counts from the restore, which came before we saw it
        # (by less than half of it, unless the machine stalled for seconds)
        assert took >= SLOW_START_S / 2, (took, samples)
        assert weights(d) == {"w1": 100, "w2": 50}
    finally:
        d.stop()
        w1.stop()
        w2.stop()

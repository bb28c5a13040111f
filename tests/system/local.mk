# System tests: pytest + dnspython against the real daemon on 127.0.0.1 (run.sh).
TESTS += tests/system/run.sh
AM_TESTS_ENVIRONMENT = SRVD='$(abs_top_builddir)/srvd'; PYTHON3='$(PYTHON3)'; \
	export SRVD PYTHON3;
EXTRA_DIST += tests/system/run.sh tests/system/conftest.py tests/system/test_answers.py \
	tests/system/test_malformed.py tests/system/test_cli.py tests/system/test_health.py tests/system/test_heartbeat.py tests/system/test_maintenance.py tests/system/test_srvctl.py tests/system/test_slow_start.py \
	tests/system/test_reload.py \
	tests/system/test_api.py tests/system/test_metrics.py tests/system/api_helpers.py \
	tests/system/test_panic.py \
	tests/system/data/answers.yaml tests/system/data/answers.zone \
	tests/system/data/static-test.zone tests/system/data/minimal.yaml \
	tests/system/data/bad-address.yaml tests/system/data/unknown-key.yaml \
	tests/system/data/bad-label.yaml tests/system/data/dup-instance.yaml \
	tests/system/data/many-errors.yaml
EXTRA_DIST += tests/system/test_scale.py
# failover, locality, sticky order, tag pairs, adaptive TTL
EXTRA_DIST += tests/system/test_select.py
EXTRA_DIST += tests/system/gen_corpus.py tests/system/test_corpus.py \
	tests/system/test_tcp_abuse.py tests/system/corpus \
	tests/system/test_rrl.py tests/system/test_amplification.py
EXTRA_DIST += tests/system/test_privileges.py tests/system/test_faults.py
EXTRA_DIST += tests/system/test_forwarders.py tests/system/forwarders.py \
	docs/Corefile docs/unbound.conf docs/dnsmasq.conf
EXTRA_DIST += tests/system/test_install.py tests/system/test_logs.py
EXTRA_DIST += tests/system/test_forward.py tests/system/test_container.py
EXTRA_DIST += tests/system/test_xfr.py
EXTRA_DIST += tests/system/test_status_page.py tests/system/browser.py \
	tests/system/test_api_limits.py
# screenshots the browser test saves (CLEANFILES cannot take a folder)
clean-local:
	rm -rf test-artifacts
EXTRA_DIST += tests/system/test_secondary.py tests/system/test_xfr.py
EXTRA_DIST += tests/system/test_tsig.py
EXTRA_DIST += tests/system/test_watch.py
EXTRA_DIST += tests/system/test_tcp_forward_bound.py
EXTRA_DIST += tests/system/test_forward_spoof.py
EXTRA_DIST += tests/system/test_xfr_stream.py
EXTRA_DIST += tests/system/test_opcodes.py
EXTRA_DIST += tests/system/test_check_types.py tests/system/check_backends.py
# discovery over HTTP (issue 19); the tool tests skip under SRVD_TEST_TOOLS=0 (tools.py)
EXTRA_DIST += tests/system/test_blocking.py tests/system/tools.py \
	tests/system/test_haproxy.py tests/system/test_prometheus_sd.py \
	tests/system/test_consul_api.py docs/haproxy.cfg
EXTRA_DIST += tests/system/test_change_memory.py
# SPEC section 11 (README "More answers")
EXTRA_DIST += tests/system/test_more_answers.py
# a fleet of srvd on one etcd registry (issue 17); skips under SRVD_TEST_TOOLS=0 (tools.py)
EXTRA_DIST += tests/system/test_etcd.py tests/system/etcd_cluster.py
# the manual's console examples, run against the example registry
EXTRA_DIST += tests/system/test_docs.py tests/system/data/docs/bad.yaml

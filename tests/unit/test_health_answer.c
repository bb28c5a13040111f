/* SPDX-License-Identifier: BSD-3-Clause */
/* test_health_answer.c: answers following the health state (README "Health checks"):
 * withdrawn instances, NODATA, panic mode, the SOA serial, _health TXT. The
 * state is written by hand, as the checker would (tu_health_bind()). */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health/machine.h"
#include "registry/registry.h"
#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

/* Checked services on loopback (no probe runs here, but registries with
 * checks name loopback addresses only); billing has no check. */
static const char *yaml =
    "server:\n"
    "  zone: svc.example.\n"
    "  ttl: 5\n"
    "  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example., ttl: 3600,\n"
    "        refresh: 3600, retry: 600, expire: 86400, minimum: 5}\n"
    "zones: [other.zone]\n"
    "defaults:\n"
    "  policy: fixed\n"
    "  check: {type: tcp, interval: 2s, timeout: 1s, rise: 2, fall: 3}\n"
    "services:\n"
    "  web:\n"
    "    port: 8080\n"
    "    policy: random\n"
    "    check: {type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2}\n"
    "    instances:\n"
    "      - {name: web-1, address: 127.0.0.11, tags: [canary]}\n"
    "      - {name: web-2, address: 127.0.0.12, port: 8081}\n"
    "      - {name: web-3, address: \"::1\"}\n"
    "  db:\n"
    "    port: 5432\n"
    "    check: {unhealthy_interval: 5s}\n"
    "    instances:\n"
    "      - {name: db-1, address: 127.0.0.21}\n"
    "  billing:\n"
    "    protocol: udp\n"
    "    port: 7000\n"
    "    check: {type: none}\n"
    "    instances:\n"
    "      - {name: b1, address: 192.0.2.21}\n";

enum { WEB = 0, DB = 1, BILLING = 2 };

static struct dns_table *t;
static struct dns_ctx *ctx;
static struct tu_health *h;

static void setup(void)
{
	t = tu_table(yaml);
	ctx = dns_ctx_create(42);
	ck_assert_ptr_nonnull(ctx);
	h = tu_health_bind(t);
}

static void teardown(void)
{
	dns_table_free(t);
	tu_health_free(h);
	dns_ctx_free(ctx);
}

static uint32_t soa_serial(const ldns_rr_list *list)
{
	ck_assert_uint_eq(tu_count(list), 1);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(list, 0)), LDNS_RR_TYPE_SOA);
	return ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(list, 0), 2));
}

/* NODATA: no answer, the service zone's SOA in authority. */
static void assert_nodata(const ldns_pkt *p)
{
	tu_assert_ok(p, 0);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 1);
	ck_assert_str_eq(tu_owner(ldns_pkt_authority(p), 0), "svc.example.");
}

/* Answers name/type with n records and frees the response. */
static void expect(const char *name, ldns_rr_type type, size_t n)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);
	if (n)
		tu_assert_ok(p, n);
	else
		assert_nodata(p);
	ldns_pkt_free(p);
}

START_TEST(unbound_serves_all)
{
	/* a table without health bound serves every instance, checked or not */
	struct dns_table *u = tu_table(yaml);
	ldns_pkt *p = tu_q(ctx, u, "web.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 3);
	ldns_pkt_free(p);
	p = tu_q(ctx, u, "_health.web-1.web.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "status=passing|served=yes|"));
	ldns_pkt_free(p);
	/* the arrays must match the table */
	ck_assert_int_eq(dns_table_bind_state(u, h->inst, h->n_inst - 1, h->svc, h->n_svc), -1);
	ck_assert_int_eq(dns_table_bind_state(u, h->inst, h->n_inst, h->svc, h->n_svc + 1), -1);
	dns_table_free(u);
}
END_TEST

START_TEST(withdrawn)
{
	ldns_pkt *p;
	expect("web.svc.example.", LDNS_RR_TYPE_A, 2);
	tu_health_set(h, WEB, 0, 0);

	/* withdrawn instances leave the service, tag and SRV answers */
	p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "127.0.0.12");
	ldns_pkt_free(p);
	expect("web.svc.example.", LDNS_RR_TYPE_SRV, 2);
	expect("_web._tcp.svc.example.", LDNS_RR_TYPE_SRV, 2);
	expect("canary.web.svc.example.", LDNS_RR_TYPE_A, 0);
	expect("_canary._tcp.web.svc.example.", LDNS_RR_TYPE_SRV, 0);

	/* the instance name answers whatever its health (SRV targets resolve) */
	p = tu_q(ctx, t, "web-1.web.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "127.0.0.11");
	ldns_pkt_free(p);

	/* a status that is not `served` does not matter: served is the flag */
	atomic_store(&tu_inst(h, WEB, 1)->status, HEALTH_FAILING);
	expect("web.svc.example.", LDNS_RR_TYPE_A, 1);

	/* all withdrawn: NODATA, never stale addresses */
	tu_health_set(h, WEB, 1, 0);
	tu_health_set(h, WEB, 2, 0);
	expect("web.svc.example.", LDNS_RR_TYPE_A, 0);
	expect("web.svc.example.", LDNS_RR_TYPE_AAAA, 0);
	expect("web.svc.example.", LDNS_RR_TYPE_SRV, 0);
	expect("_web._tcp.svc.example.", LDNS_RR_TYPE_SRV, 0);
	expect("web-3.web.svc.example.", LDNS_RR_TYPE_AAAA, 1);
	/* other services are not affected */
	expect("db.svc.example.", LDNS_RR_TYPE_A, 1);
	expect("billing.svc.example.", LDNS_RR_TYPE_A, 1);

	/* and back, visible to the very next query */
	tu_health_set(h, WEB, 2, 1);
	p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 3), "web-3.web.svc.example.");
	ldns_pkt_free(p);
	expect("web.svc.example.", LDNS_RR_TYPE_A, 0);
}
END_TEST

/* The answers follow the checker's panic flag; the rule that sets it is
 * health_machine_panic(), run here as the checker runs it after each
 * result. */
START_TEST(panic_mode)
{
	static const char *y = "server: {zone: svc.example.}\n"
	                       "defaults: {policy: fixed, check: {type: tcp}}\n"
	                       "services:\n"
	                       "  p:\n    port: 1\n    panic_threshold: 0.5\n    instances:\n"
	                       "      - {name: p1, address: 127.0.0.1}\n"
	                       "      - {name: p2, address: 127.0.0.2}\n"
	                       "      - {name: p3, address: 127.0.0.3}\n"
	                       "      - {name: p4, address: 127.0.0.4}\n";
	struct dns_table *pt = tu_table(y);
	struct tu_health *ph = tu_health_bind(pt);
	static const size_t want[5] = {4, 3, 2, 4, 4};
	static const char *panic[5] = {"no", "no", "no", "yes", "yes"};
	for (int down = 0; down <= 4; down++) {
		ldns_pkt *p;
		char txt[64];
		if (down > 0)
			tu_health_set(ph, 0, (size_t)down - 1, 0);
		health_machine_panic(&ph->svc[0], 4, 0.5, 0);
		/* 2 of 4 served is not fewer than half: no panic yet */
		p = tu_q(ctx, pt, "p.svc.example.", LDNS_RR_TYPE_A);
		tu_assert_ok(p, want[down]);
		ldns_pkt_free(p);
		p = tu_q(ctx, pt, "_health.p.svc.example.", LDNS_RR_TYPE_TXT);
		tu_assert_ok(p, 1);
		snprintf(txt, sizeof(txt), "passing=%d/4|panic=%s|", 4 - down, panic[down]);
		ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), txt));
		ldns_pkt_free(p);
	}
	/* back to 2 served: out of panic, only the served ones */
	tu_health_set(ph, 0, 0, 1);
	tu_health_set(ph, 0, 1, 1);
	health_machine_panic(&ph->svc[0], 4, 0.5, 0);
	{
		ldns_pkt *p = tu_q(ctx, pt, "p.svc.example.", LDNS_RR_TYPE_A);
		tu_assert_ok(p, 2);
		ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "127.0.0.1");
		ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 1, 0), "127.0.0.2");
		ldns_pkt_free(p);
	}
	dns_table_free(pt);
	tu_health_free(ph);
}
END_TEST

/* Before the first round of checks nothing is served and the checker keeps
 * panic off (results pending): NODATA, not every never-checked instance.
 * The flag alone decides, whatever n_served says. */
START_TEST(panic_waits_for_the_checker)
{
	static const char *y = "server: {zone: svc.example.}\n"
	                       "defaults: {policy: fixed, check: {type: tcp}}\n"
	                       "services:\n"
	                       "  p:\n    port: 1\n    panic_threshold: 0.5\n    instances:\n"
	                       "      - {name: p1, address: 127.0.0.1}\n"
	                       "      - {name: p2, address: 127.0.0.2}\n";
	struct dns_table *pt = tu_table(y);
	struct tu_health *ph = tu_health_bind(pt);
	ldns_pkt *p;

	for (size_t i = 0; i < 2; i++) {
		tu_health_set(ph, 0, i, 0);
		atomic_store(&tu_inst(ph, 0, i)->status, HEALTH_UNCHECKED);
	}
	ck_assert_int_eq(health_machine_panic(&ph->svc[0], 2, 0.5, 2), 0);
	ck_assert_uint_eq(atomic_load(&ph->svc[0].panic), 0);
	p = tu_q(ctx, pt, "p.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 0);
	ldns_pkt_free(p);
	p = tu_q(ctx, pt, "_health.p.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "passing=0/2|panic=no|"));
	ldns_pkt_free(p);

	/* the first round ends with both failing: now the checker says panic */
	ck_assert_int_eq(health_machine_panic(&ph->svc[0], 2, 0.5, 0), 1);
	p = tu_q(ctx, pt, "p.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 2);
	ldns_pkt_free(p);
	p = tu_q(ctx, pt, "_health.p.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "passing=0/2|panic=yes|"));
	ldns_pkt_free(p);

	/* the flag, not the count: a panic flag with every instance served */
	tu_health_set(ph, 0, 0, 1);
	tu_health_set(ph, 0, 1, 1);
	p = tu_q(ctx, pt, "_health.p.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "passing=2/2|panic=yes|"));
	ldns_pkt_free(p);
	dns_table_free(pt);
	tu_health_free(ph);
}
END_TEST

/* The serial in the SOA answer, a NODATA and an NXDOMAIN. */
static void assert_serial(const struct dns_table *tb, uint32_t want)
{
	ldns_pkt *p = tu_q(ctx, tb, "svc.example.", LDNS_RR_TYPE_SOA);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(soa_serial(ldns_pkt_answer(p)), want);
	ldns_pkt_free(p);
	p = tu_q(ctx, tb, "svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(soa_serial(ldns_pkt_answer(p)), want);
	ldns_pkt_free(p);
	p = tu_q(ctx, tb, "web.svc.example.", LDNS_RR_TYPE_MX);
	ck_assert_uint_eq(soa_serial(ldns_pkt_authority(p)), want);
	ldns_pkt_free(p);
	p = tu_q(ctx, tb, "nope.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(soa_serial(ldns_pkt_authority(p)), want);
	ldns_pkt_free(p);
	ck_assert_uint_eq(dns_table_serial(tb), want);
}

START_TEST(serial)
{
	struct registry *reg = NULL;
	struct dns_table *low = NULL;
	char err[256];
	ldns_pkt *p;
	uint32_t now, s;

	/* a serial ahead of the clock counts up by one */
	assert_serial(t, TU_SERIAL);
	dns_table_bump_serial(t);
	assert_serial(t, TU_SERIAL + 1);
	dns_table_bump_serial(t);
	assert_serial(t, TU_SERIAL + 2);

	/* a static zone with its own SOA keeps its own serial */
	p = tu_q(ctx, t, "static.example.", LDNS_RR_TYPE_SOA);
	ck_assert_uint_eq(soa_serial(ldns_pkt_answer(p)), 7);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "nope.static.example.", LDNS_RR_TYPE_A);
	ck_assert_uint_eq(soa_serial(ldns_pkt_authority(p)), 7);
	ldns_pkt_free(p);

	/* a serial behind the clock jumps to unix time, then keeps increasing */
	ck_assert_int_eq(
	    registry_load_string(yaml, SRCDIR "/tests/unit/data/answer/test.yaml", &reg, NULL), 0);
	ck_assert_int_eq(dns_table_build(reg, 1, &low, err, sizeof(err)), 0);
	assert_serial(low, 1);
	now = (uint32_t)time(NULL);
	dns_table_bump_serial(low);
	s = dns_table_serial(low);
	ck_assert_uint_ge(s, now);
	ck_assert_uint_le(s, now + 5);
	assert_serial(low, s);
	dns_table_bump_serial(low);
	ck_assert_uint_gt(dns_table_serial(low), s);
	dns_table_free(low);

	/* RFC 1982: from 0xFFFFFFFF, now is the larger serial */
	ck_assert_int_eq(dns_table_build(reg, UINT32_MAX, &low, err, sizeof(err)), 0);
	now = (uint32_t)time(NULL);
	dns_table_bump_serial(low);
	ck_assert_uint_ge(dns_table_serial(low), now);
	ck_assert_uint_le(dns_table_serial(low), now + 5);
	dns_table_free(low);
	/* and from just below now + 2^31, one more, wrapping past now in serial space */
	ck_assert_int_eq(dns_table_build(reg, now + 0x7FFFFF00u, &low, err, sizeof(err)), 0);
	dns_table_bump_serial(low);
	ck_assert_uint_eq(dns_table_serial(low), now + 0x7FFFFF01u);
	dns_table_free(low);
	registry_free(reg);
}
END_TEST

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(health_txt_instance)
{
	struct health_inst *in = tu_inst(h, WEB, 0);
	struct tu_opts any_class = {0};
	ldns_pkt *p;
	const ldns_rr *rr;

	tu_health_set(h, WEB, 0, 0);
	atomic_store(&in->successes, 0);
	atomic_store(&in->failures, 3);
	atomic_store(&in->last_change_ms, now_ms() - 12400);
	health_inst_set_result(in, "http: status 503");
	p = tu_q(ctx, t, "_health.web-1.web.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	ck_assert_uint_eq(ldns_rr_ttl(rr), 0);
	ck_assert_str_eq(tu_owner(ldns_pkt_answer(p), 0), "_health.web-1.web.svc.example.");
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0),
	                 "status=failing|served=no|last=http: status 503|successes=0|failures=3|"
	                 "since=12s|check=http interval=1000ms timeout=500ms rise=2 fall=2");
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ldns_pkt_free(p);

	/* a check that never ran; an unhealthy_interval of its own; letter case */
	tu_health_set(h, DB, 0, 0);
	atomic_store(&tu_inst(h, DB, 0)->status, HEALTH_UNCHECKED);
	p = tu_q(ctx, t, "_HEALTH.DB-1.db.svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0),
	                 "status=unchecked|served=no|last=none|successes=0|failures=0|"
	                 "since=start|check=tcp interval=2000ms timeout=1000ms rise=2 fall=3|"
	                 "unhealthy_interval=5000ms");
	ldns_pkt_free(p);

	/* no check */
	p = tu_q(ctx, t, "_health.b1.billing.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "|check=none"));
	ldns_pkt_free(p);

	/* the longest result fits and is shown whole */
	{
		char longest[HEALTH_RESULT_MAX], want[HEALTH_RESULT_MAX + 8];
		memset(longest, 'x', sizeof(longest) - 1);
		longest[sizeof(longest) - 1] = '\0';
		health_inst_set_result(in, longest);
		snprintf(want, sizeof(want), "|last=%s|", longest);
		p = tu_q(ctx, t, "_health.web-1.web.svc.example.", LDNS_RR_TYPE_TXT);
		tu_assert_ok(p, 1);
		ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), want));
		ldns_pkt_free(p);
	}

	/* class ANY asks too; other types: NODATA */
	p = tu_ask(ctx, t, "_health.web-1.web.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_ANY,
	           &any_class, NULL);
	tu_assert_ok(p, 1);
	ldns_pkt_free(p);
	expect("_health.web-1.web.svc.example.", LDNS_RR_TYPE_A, 0);
	expect("_health.web.svc.example.", LDNS_RR_TYPE_SRV, 0);
	/* below an instance's _health is nothing */
	p = tu_q(ctx, t, "x._health.web-1.web.svc.example.", LDNS_RR_TYPE_TXT);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_health.nope.web.svc.example.", LDNS_RR_TYPE_TXT);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
}
END_TEST

/* _health.<zone> TXT: the whole server at a glance; other types NODATA. */
START_TEST(health_txt_zone)
{
	ldns_pkt *p;
	char want[160];

	/* 5 instances in 3 services, all passing as bound; not ready yet */
	p = tu_q(ctx, t, "_health.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	snprintf(want, sizeof(want),
	         "services=3|instances=5|passing=5|failing=0|serial=%u|ready=no",
	         dns_table_serial(t));
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0), want);
	ldns_pkt_free(p);
	tu_health_set(h, WEB, 0, 0);
	tu_health_set(h, DB, 0, 0);
	tu_health_set(h, WEB, 0, 1);
	tu_health_set(h, WEB, 1, 0);
	dns_table_set_ready(t, 1);
	p = tu_q(ctx, t, "_health.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	snprintf(want, sizeof(want),
	         "services=3|instances=5|passing=3|failing=2|serial=%u|ready=yes",
	         dns_table_serial(t));
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0), want);
	ldns_pkt_free(p);
	expect("_health.svc.example.", LDNS_RR_TYPE_A, 0);
	expect("_health.svc.example.", LDNS_RR_TYPE_SRV, 0);
}
END_TEST

START_TEST(health_txt_service)
{
	ldns_pkt *p = tu_q(ctx, t, "_health.web.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 0);
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0),
	                 "passing=3/3|panic=no|policy=random|web-1=passing|web-2=passing|"
	                 "web-3=passing");
	ldns_pkt_free(p);

	tu_health_set(h, WEB, 1, 0);
	atomic_store(&tu_inst(h, WEB, 2)->status, HEALTH_UNCHECKED);
	atomic_store(&tu_inst(h, WEB, 2)->served, 0);
	atomic_fetch_sub(&h->svc[WEB].n_served, 1);
	p = tu_q(ctx, t, "_health.Web.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0),
	                 "passing=1/3|panic=no|policy=random|web-1=passing|web-2=failing|"
	                 "web-3=unchecked");
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "_health.billing.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0),
	                 "passing=1/1|panic=no|policy=fixed|b1=passing");
	ldns_pkt_free(p);
}
END_TEST

/* A service of n instances with 40-octet names. */
static struct dns_table *many_table(int n)
{
	size_t cap = 200 + (size_t)n * 100, len = 0;
	char *y = malloc(cap);
	struct dns_table *mt;
	ck_assert_ptr_nonnull(y);
	len += (size_t)snprintf(y + len, cap - len,
	                        "server: {zone: svc.example.}\n"
	                        "defaults: {check: {type: tcp}}\n"
	                        "services:\n  big:\n    port: 80\n    instances:\n");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(y + len, cap - len,
		                        "      - {name: instance-with-a-rather-long-name-%05d, "
		                        "address: 127.0.%d.%d}\n",
		                        i, i / 250, i % 250 + 1);
	mt = tu_table(y);
	free(y);
	return mt;
}

/* Counts the instance strings of a service TXT and the N of "more=N". */
static void count_strings(const char *txt, int *instances, int *more)
{
	*instances = 0;
	*more = 0;
	for (const char *p = txt; p; p = strchr(p, '|'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "instance-with-a-rather-long-name-", 33))
			(*instances)++;
		else if (!strncmp(p, "more=", 5))
			*more = atoi(p + 5);
	}
}

START_TEST(health_txt_many)
{
	struct dns_table *mt = many_table(600);
	struct tu_health *mh = tu_health_bind(mt);
	struct tu_opts tcp = {.transport = DNS_TCP}, edns = {.edns = 1, .edns_size = 4096};
	int inst, more;
	size_t len;
	ldns_pkt *p;

	/* plain UDP: what fits in 512 bytes, then how many were left out */
	p = tu_ask(ctx, mt, "_health.big.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, NULL,
	           &len);
	tu_assert_ok(p, 1);
	ck_assert_uint_le(len, 512);
	ck_assert_uint_gt(len, 512 - 60);
	count_strings(tu_txt(ldns_pkt_answer(p), 0), &inst, &more);
	ck_assert_int_gt(inst, 5);
	ck_assert_int_eq(inst + more, 600);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0),
	                             "passing=600/600|panic=no|policy=round-robin|"
	                             "instance-with-a-rather-long-name-00000=passing|"));
	ldns_pkt_free(p);

	/* EDNS: more of them, and still within the size */
	p = tu_ask(ctx, mt, "_health.big.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, &edns,
	           &len);
	tu_assert_ok(p, 1);
	ck_assert_uint_le(len, 1232);
	count_strings(tu_txt(ldns_pkt_answer(p), 0), &inst, &more);
	ck_assert_int_gt(inst, 20);
	ck_assert_int_eq(inst + more, 600);
	ldns_pkt_free(p);

	/* TCP: all 600 (about 30 KB), no "more" */
	tu_health_set(mh, 0, 599, 0);
	p = tu_ask(ctx, mt, "_health.big.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, &tcp,
	           &len);
	tu_assert_ok(p, 1);
	count_strings(tu_txt(ldns_pkt_answer(p), 0), &inst, &more);
	ck_assert_int_eq(inst, 600);
	ck_assert_int_eq(more, 0);
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0),
	                             "|instance-with-a-rather-long-name-00599=failing"));
	ck_assert_ptr_nonnull(strstr(tu_txt(ldns_pkt_answer(p), 0), "passing=599/600|"));
	ldns_pkt_free(p);
	dns_table_free(mt);
	tu_health_free(mh);

	/* 3,000 instances do not fit in 65535 bytes even over TCP: cut, with "more" */
	mt = many_table(3000);
	p = tu_ask(ctx, mt, "_health.big.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, &tcp,
	           &len);
	tu_assert_ok(p, 1);
	count_strings(tu_txt(ldns_pkt_answer(p), 0), &inst, &more);
	ck_assert_int_gt(inst, 1000);
	ck_assert_int_eq(inst + more, 3000);
	ck_assert_int_gt(more, 0);
	ldns_pkt_free(p);
	/* the instance TXT is small whatever the service size */
	p = tu_q(ctx, mt, "_health.instance-with-a-rather-long-name-02999.big.svc.example.",
	         LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	ldns_pkt_free(p);
	dns_table_free(mt);
}
END_TEST

/* A worker reads while "the checker" flips the flags on another thread:
 * every answer holds only served-or-flipping instances, never garbage. */
static atomic_int flipping;

static void *flipper(void *arg)
{
	struct tu_health *th = arg;
	for (unsigned i = 0; atomic_load(&flipping); i++) {
		struct health_inst *in = &th->inst[th->first[WEB] + i % 2];
		atomic_store(&in->served, (uint8_t)(i / 2 % 2));
		health_inst_set_result(in, i / 2 % 2 ? "ok" : "connect: Connection refused");
	}
	return NULL;
}

START_TEST(concurrent_flips)
{
	pthread_t th;
	atomic_store(&flipping, 1);
	/* web-3 (IPv6) stays down, so A answers hold 0 to 2 records */
	tu_health_set(h, WEB, 2, 0);
	health_inst_set_result(tu_inst(h, WEB, 0), "ok");
	ck_assert_int_eq(pthread_create(&th, NULL, flipper, h), 0);
	for (int round = 0; round < 3000; round++) {
		ldns_pkt *p =
		    tu_q(ctx, t, round % 2 ? "web.svc.example." : "_health.web-1.web.svc.example.",
		         round % 2 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_TXT);
		size_t n = tu_count(ldns_pkt_answer(p));
		ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		if (round % 2) {
			ck_assert_uint_le(n, 2);
			for (size_t i = 0; i < n; i++) {
				const char *a = tu_rdf(ldns_pkt_answer(p), i, 0);
				ck_assert(!strcmp(a, "127.0.0.11") || !strcmp(a, "127.0.0.12"));
			}
		} else {
			const char *txt;
			ck_assert_uint_eq(n, 1);
			txt = tu_txt(ldns_pkt_answer(p), 0);
			ck_assert_msg(strstr(txt, "|last=ok|") ||
			                  strstr(txt, "|last=connect: Connection refused|"),
			              "torn or stray result: %s", txt);
		}
		ldns_pkt_free(p);
	}
	atomic_store(&flipping, 0);
	pthread_join(th, NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("health answers");
	TCase *tc = tcase_create("spec section 4");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unbound_serves_all);
	tcase_add_test(tc, withdrawn);
	tcase_add_test(tc, panic_mode);
	tcase_add_test(tc, panic_waits_for_the_checker);
	tcase_add_test(tc, serial);
	tcase_add_test(tc, health_txt_instance);
	tcase_add_test(tc, health_txt_service);
	tcase_add_test(tc, health_txt_zone);
	tcase_add_test(tc, health_txt_many);
	tcase_add_test(tc, concurrent_flips);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

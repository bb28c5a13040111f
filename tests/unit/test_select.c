/* SPDX-License-Identifier: BSD-3-Clause */
/* test_select.c: the answer features beyond the policy (README "Failover,
 * locality and sticky answers"), through dns_answer() and ldns: failover
 * tiers, tag pairs, adaptive TTL. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer/table_impl.h"
#include "registry/registry.h"
#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

static struct dns_ctx *ctx;

static void setup(void)
{
	ctx = dns_ctx_create(42);
	ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
	dns_ctx_free(ctx);
}

/* The rdata of every answer record, joined by ' ' (static buffer). */
static const char *answers(const ldns_pkt *p)
{
	static char buf[4096];
	const ldns_rr_list *an = ldns_pkt_answer(p);
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < tu_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const char *text = tu_rdf(an, i, ldns_rr_get_type(rr) == LDNS_RR_TYPE_SRV ? 3 : 0);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", text);
	}
	return buf;
}

/* Asks name/type; NOERROR with AA; returns answers() and frees the reply. */
static const char *ask(const struct dns_table *t, const char *name, ldns_rr_type type)
{
	static char buf[4096];
	ldns_pkt *p = tu_q(ctx, t, name, type);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert(ldns_pkt_aa(p));
	snprintf(buf, sizeof(buf), "%s", answers(p));
	ldns_pkt_free(p);
	return buf;
}

/* The _health TXT of name, joined by '|' (static buffer). */
static const char *health_txt(const struct dns_table *t, const char *name)
{
	static char buf[4096];
	ldns_pkt *p = tu_q(ctx, t, name, LDNS_RR_TYPE_TXT);

	tu_assert_ok(p, 1);
	snprintf(buf, sizeof(buf), "%s", tu_txt(ldns_pkt_answer(p), 0));
	ldns_pkt_free(p);
	return buf;
}

/* Loads yaml, which must fail; returns its errors joined by '\n' (static). */
static const char *load_errors(const char *yaml)
{
	static char buf[4096];
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	size_t n = 0;

	ck_assert_int_eq(registry_load_string(yaml, "t.yaml", &reg, &errs), -1);
	ck_assert_ptr_null(reg);
	buf[0] = '\0';
	for (size_t i = 0; i < errs.n; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "\n" : "",
		                      errs.lines[i]);
	registry_errors_clear(&errs);
	return buf;
}

static const char *failover_yaml =
    "server: {zone: svc.example., max_answers: 8}\n"
    "defaults: {policy: fixed, check: {type: none}}\n"
    "services:\n"
    "  web:\n"
    "    port: 80\n"
    "    failover: true\n"
    "    instances:\n"
    "      - {name: a1, address: 192.0.2.1, priority: 0}\n"
    "      - {name: a2, address: 192.0.2.2, priority: 0}\n"
    "      - {name: b1, address: 192.0.2.3, priority: 10, tags: [canary]}\n"
    "      - {name: c1, address: \"2001:db8::4\", priority: 20}\n"
    "  plain:\n"
    "    port: 80\n"
    "    instances:\n"
    "      - {name: a1, address: 192.0.2.1, priority: 0}\n"
    "      - {name: b1, address: 192.0.2.3, priority: 10}\n";

/* A/AAAA carry the lowest tier with a served instance, chosen over the
 * whole service; SRV keeps every tier; _health says which tier serves. */
START_TEST(failover_tiers)
{
	struct dns_table *t = tu_table(failover_yaml);
	struct tu_health *h = tu_health_bind(t);

	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.1 192.0.2.2");
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_AAAA), "");
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_SRV),
	                 "a1.web.svc.example. a2.web.svc.example. b1.web.svc.example. "
	                 "c1.web.svc.example.");
	ck_assert_str_eq(ask(t, "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV),
	                 "a1.web.svc.example. a2.web.svc.example. b1.web.svc.example. "
	                 "c1.web.svc.example.");
	/* the tier is the service's: the canary is in tier 10, not serving */
	ck_assert_str_eq(ask(t, "canary.web.svc.example.", LDNS_RR_TYPE_A), "");
	ck_assert_str_eq(ask(t, "plain.svc.example.", LDNS_RR_TYPE_A), "192.0.2.1 192.0.2.3");
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.web.svc.example."), "|tier=0|"));

	tu_health_set(h, 0, 0, 0);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.2");
	tu_health_set(h, 0, 1, 0);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.3");
	ck_assert_str_eq(ask(t, "canary.web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.3");
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.web.svc.example."), "|tier=10|"));
	/* SRV: every served instance, whatever its tier */
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_SRV),
	                 "b1.web.svc.example. c1.web.svc.example.");

	/* tier 20 holds only an IPv6 address: A is empty, AAAA answers */
	tu_health_set(h, 0, 2, 0);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "");
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_AAAA), "2001:db8::4");
	/* an instance's own name answers whatever the tier */
	ck_assert_str_eq(ask(t, "a1.web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.1");

	tu_health_set(h, 0, 3, 0);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_AAAA), "");
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.web.svc.example."), "|tier=none|"));

	/* the first tier back takes over again */
	tu_health_set(h, 0, 1, 1);
	tu_health_set(h, 0, 2, 1);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.2");
	/* no failover: no tier in _health */
	ck_assert_ptr_null(strstr(health_txt(t, "_health.plain.svc.example."), "tier="));
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

/* In panic every instance answers; the tier is still the lowest one that
 * has a served instance, and with none served every tier answers. */
START_TEST(failover_panic)
{
	struct dns_table *t = tu_table(failover_yaml);
	struct tu_health *h = tu_health_bind(t);

	atomic_store(&h->svc[0].panic, 1);
	tu_health_set(h, 0, 0, 0);
	tu_health_set(h, 0, 1, 0);
	/* b1 served: its tier answers */
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.3");
	tu_health_set(h, 0, 2, 0);
	tu_health_set(h, 0, 3, 0);
	ck_assert_str_eq(ask(t, "web.svc.example.", LDNS_RR_TYPE_A),
	                 "192.0.2.1 192.0.2.2 192.0.2.3");
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(failover_errors)
{
	ck_assert_str_eq(load_errors("services:\n  web:\n    port: 1\n    failover: yes\n"),
	                 "t.yaml:4:15: services.web.failover: \"yes\" is not one of false, true");
	ck_assert_str_eq(load_errors("defaults: {failover: 1}\n"),
	                 "t.yaml:1:22: defaults.failover: \"1\" is not one of false, true");
}
END_TEST

static const char *pairs_yaml = "server: {zone: svc.example.}\n"
                                "defaults: {policy: fixed, check: {type: none}}\n"
                                "services:\n"
                                "  web:\n"
                                "    port: 80\n"
                                "    tags: [http]\n"
                                "    instances:\n"
                                "      - {name: w1, address: 192.0.2.1, tags: [canary, v2]}\n"
                                "      - {name: w2, address: 192.0.2.2, tags: [v2]}\n"
                                "      - {name: w3, address: 192.0.2.3, tags: [canary, solo]}\n"
                                "      - {name: w4, address: 192.0.2.4, tags: [v2, canary]}\n"
                                "  api:\n"
                                "    port: 80\n"
                                "    instances:\n"
                                "      - {name: a1, address: 192.0.2.9, tags: [v2]}\n";

static int rcode_of(const struct dns_table *t, const char *name, ldns_rr_type type)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);
	int rc;

	ck_assert_ptr_nonnull(p);
	rc = (int)ldns_pkt_get_rcode(p);
	ldns_pkt_free(p);
	return rc;
}

/* TAG1.TAG2.SVC.<zone>, either order: instances carrying both tags (service
 * tags count for all); a pair nobody carries, a repeated tag, an instance
 * name or a tag of another service is NXDOMAIN. */
START_TEST(tag_pairs)
{
	struct dns_table *t = tu_table(pairs_yaml);
	struct tu_health *h = tu_health_bind(t);
	ldns_pkt *p;

	ck_assert_str_eq(ask(t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 "192.0.2.1 192.0.2.4");
	ck_assert_str_eq(ask(t, "V2.Canary.web.svc.example.", LDNS_RR_TYPE_A),
	                 "192.0.2.1 192.0.2.4");
	ck_assert_str_eq(ask(t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_SRV),
	                 "w1.web.svc.example. w4.web.svc.example.");
	ck_assert_str_eq(ask(t, "http.canary.web.svc.example.", LDNS_RR_TYPE_A),
	                 "192.0.2.1 192.0.2.3 192.0.2.4");
	ck_assert_str_eq(ask(t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_AAAA), "");
	ck_assert_str_eq(ask(t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_TXT), "");
	/* health applies: w4 down, then w1 too (NODATA: the pair exists) */
	tu_health_set(h, 0, 3, 0);
	ck_assert_str_eq(ask(t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_A), "192.0.2.1");
	tu_health_set(h, 0, 0, 0);
	p = tu_q(ctx, t, "canary.v2.web.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 0);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 1);
	ldns_pkt_free(p);

	ck_assert_int_eq(rcode_of(t, "solo.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "v2.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "blue.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "w2.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "canary.w1.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "v2.web.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "web.web.svc.example.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "v2.api.svc.example.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR);
	ck_assert_int_eq(rcode_of(t, "canary.v2.api.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "x.canary.v2.web.svc.example.", LDNS_RR_TYPE_A),
	                 LDNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(rcode_of(t, "_health.canary.v2.web.svc.example.", LDNS_RR_TYPE_TXT),
	                 LDNS_RCODE_NXDOMAIN);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

static const char *ttl_yaml = "server: {zone: svc.example.}\n"
                              "defaults: {policy: fixed, check: {type: tcp, slow_start: 60s}}\n"
                              "services:\n"
                              "  web:\n"
                              "    port: 80\n"
                              "    ttl: 30\n"
                              "    ttl_min: 2\n"
                              "    instances:\n"
                              "      - {name: w1, address: 192.0.2.1}\n"
                              "      - {name: w2, address: 192.0.2.2}\n"
                              "  plain:\n"
                              "    port: 80\n"
                              "    ttl: 30\n"
                              "    instances:\n"
                              "      - {name: p1, address: 192.0.2.3}\n"
                              "      - {name: p2, address: 192.0.2.4}\n";

/* The TTL of every record in the answer and additional sections of
 * name/type: one value, or -1 if they differ (or there are none). */
static long ttl_of(const struct dns_table *t, const char *name, ldns_rr_type type)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);
	long ttl = -2;

	ck_assert_ptr_nonnull(p);
	for (int sec = 0; sec < 2; sec++) {
		const ldns_rr_list *l = sec ? ldns_pkt_additional(p) : ldns_pkt_answer(p);

		for (size_t i = 0; i < tu_count(l); i++) {
			long v = (long)ldns_rr_ttl(ldns_rr_list_rr(l, i));

			ttl = ttl == -2 || ttl == v ? v : -1;
		}
	}
	ldns_pkt_free(p);
	return ttl == -2 ? -1 : ttl;
}

/* ttl_min while an instance is not passing, restored within slow_start or
 * any status changed within the last ttl seconds; ttl once stable. */
START_TEST(adaptive_ttl)
{
	struct dns_table *t = tu_table(ttl_yaml);
	struct tu_health *h = tu_health_bind(t);
	int64_t now = dns_now_ms();

	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_A), 30);
	ck_assert_int_eq(ttl_of(t, "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV), 30);
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.web.svc.example."), "|ttl=30|"));

	tu_health_set(h, 0, 1, 0);
	tu_health_set(h, 1, 1, 0);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_A), 2);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_SRV), 2);
	ck_assert_int_eq(ttl_of(t, "w2.web.svc.example.", LDNS_RR_TYPE_A), 2);
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.web.svc.example."), "|ttl=2|"));
	/* without ttl_min a failing instance changes nothing */
	ck_assert_int_eq(ttl_of(t, "plain.svc.example.", LDNS_RR_TYPE_A), 30);
	ck_assert_ptr_null(strstr(health_txt(t, "_health.plain.svc.example."), "ttl="));

	/* back, but changed 10 s ago: still ttl_min; 31 s ago: ttl */
	tu_health_set(h, 0, 1, 1);
	atomic_store(&h->svc[0].last_change_ms, now - 10000);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_A), 2);
	atomic_store(&h->svc[0].last_change_ms, now - 31000);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_A), 30);
	/* restored 40 s ago: still in its 60 s slow start */
	atomic_store(&h->svc[0].last_restored_ms, now - 40000);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_SRV), 2);
	atomic_store(&h->svc[0].last_restored_ms, now - 61000);
	ck_assert_int_eq(ttl_of(t, "web.svc.example.", LDNS_RR_TYPE_SRV), 30);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(adaptive_ttl_errors)
{
	ck_assert_str_eq(
	    load_errors("services:\n  web:\n    port: 1\n    ttl: 10\n    ttl_min: 11\n"),
	    "t.yaml:5:14: services.web.ttl_min: 11 exceeds ttl 10");
	ck_assert_str_eq(load_errors("defaults: {ttl_min: 6}\n"
	                             "services:\n  web:\n    port: 1\n"),
	                 "t.yaml:3:3: services.web.ttl_min: 6 exceeds ttl 5");
	ck_assert_str_eq(load_errors("services:\n  web: {port: 1, ttl_min: -1}\n"),
	                 "t.yaml:2:27: services.web.ttl_min: \"-1\" is not an unsigned integer");
}
END_TEST

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failover_tiers);
	tcase_add_test(tc, failover_panic);
	tcase_add_test(tc, failover_errors);
	tcase_add_test(tc, tag_pairs);
	tcase_add_test(tc, adaptive_ttl);
	tcase_add_test(tc, adaptive_ttl_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(select_suite());
}

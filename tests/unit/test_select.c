/* SPDX-License-Identifier: BSD-3-Clause */
/* test_select.c: the answer features beyond the policy (README "Failover,
 * locality and sticky answers"), through dns_answer() and ldns: failover
 * tiers, tag pairs, adaptive TTL, policy hashed, EDNS Client Subnet,
 * locality. */
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

static const char *hashed_yaml = "server: {zone: svc.example., max_answers: 8}\n"
                                 "defaults: {check: {type: none}}\n"
                                 "services:\n"
                                 "  web:\n"
                                 "    port: 80\n"
                                 "    policy: hashed\n"
                                 "    instances:\n"
                                 "      - {name: w0, address: 192.0.2.10}\n"
                                 "      - {name: w1, address: 192.0.2.11}\n"
                                 "      - {name: w2, address: 192.0.2.12}\n"
                                 "      - {name: w3, address: 192.0.2.13}\n"
                                 "      - {name: w4, address: 192.0.2.14}\n"
                                 "      - {name: w5, address: 192.0.2.15}\n"
                                 "      - {name: w6, address: 192.0.2.16}\n"
                                 "      - {name: w7, address: 192.0.2.17}\n"
                                 "  rr:\n"
                                 "    port: 80\n"
                                 "    instances:\n"
                                 "      - {name: r0, address: 192.0.2.20}\n";

/* The answers to name/type from client, with the ECS option ecs (NULL:
 * none); *scope gets the reply's ECS scope (-1: no ECS in the reply). */
static const char *ask_from(const struct dns_table *t, const char *name, ldns_rr_type type,
                            const char *client, const char *ecs, int *scope)
{
	static char buf[4096];
	uint8_t opt[32];
	struct tu_opts o = {.edns = 1, .client = client};
	unsigned fam, src, scp;
	char addr[64];
	ldns_pkt *p;

	if (ecs) {
		o.options = opt;
		o.options_len = tu_ecs(ecs, opt);
	}
	p = tu_ask(ctx, t, name, type, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	snprintf(buf, sizeof(buf), "%s", answers(p));
	if (scope)
		*scope = tu_ecs_of(p, &fam, &src, &scp, addr, sizeof(addr)) ? (int)scp : -1;
	ldns_pkt_free(p);
	return buf;
}

/* One client subnet sees one order; subnets spread over the instances. */
START_TEST(hashed_is_stable_per_subnet)
{
	struct dns_table *t = tu_table(hashed_yaml);
	unsigned first[8] = {0};
	char a[64], b[64], order[4096];

	for (int i = 0; i < 1024; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.1", i / 256, i % 256);
		snprintf(b, sizeof(b), "10.%d.%d.254", i / 256, i % 256);
		snprintf(order, sizeof(order), "%s",
		         ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, a, NULL, NULL));
		ck_assert_str_eq(ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, b, NULL, NULL),
		                 order);
		ck_assert_str_eq(ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, a, NULL, NULL),
		                 order);
		/* every instance once */
		ck_assert_uint_eq(strlen(order), 8 * strlen("192.0.2.10") + 7);
		first[order[9] - '0']++;
	}
	/* 1024 subnets over 8 instances: 128 each on average */
	for (int k = 0; k < 8; k++)
		ck_assert(first[k] > 80 && first[k] < 180);
	/* IPv6 clients by /56 */
	snprintf(order, sizeof(order), "%s",
	         ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "2001:db8:1:200::1", NULL, NULL));
	ck_assert_str_eq(
	    ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "2001:db8:1:2ff::9", NULL, NULL),
	    order);
	/* SRV in the same order */
	snprintf(order, sizeof(order), "%s",
	         ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "10.0.7.1", NULL, NULL));
	ck_assert_int_eq(
	    ask_from(t, "web.svc.example.", LDNS_RR_TYPE_SRV, "10.0.7.1", NULL, NULL)[1], order[9]);
	dns_table_free(t);
}
END_TEST

/* Rendezvous hashing: when an instance leaves, exactly the clients that
 * had it first move, each to its own second choice; the others keep theirs. */
START_TEST(hashed_moves_only_the_clients_of_a_leaver)
{
	struct dns_table *t = tu_table(hashed_yaml);
	struct tu_health *h = tu_health_bind(t);
	static char before[1024][128];
	char a[64];
	size_t moved = 0;

	for (int i = 0; i < 1024; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.1", i / 256, i % 256);
		snprintf(before[i], sizeof(before[i]), "%s",
		         ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, a, NULL, NULL));
	}
	tu_health_set(h, 0, 3, 0);
	for (int i = 0; i < 1024; i++) {
		const char *now;

		snprintf(a, sizeof(a), "10.%d.%d.1", i / 256, i % 256);
		now = ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, a, NULL, NULL);
		if (!strncmp(before[i], "192.0.2.13", 10)) {
			/* its second becomes its first */
			ck_assert(!strncmp(now, before[i] + 11, 10));
			moved++;
		} else {
			ck_assert(!strncmp(now, before[i], 10));
		}
		/* the order of the rest is kept */
		ck_assert_ptr_null(strstr(now, "192.0.2.13"));
	}
	ck_assert(moved > 80 && moved < 180);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

/* ECS (RFC 7871): the option stands for the client, and comes back with the
 * scope the answer depended on: the /24 (or shorter prefix) for hashed,
 * 0 for an answer that depends on nobody. */
START_TEST(hashed_by_client_subnet)
{
	struct dns_table *t = tu_table(hashed_yaml);
	char order[4096];
	int scope;

	snprintf(order, sizeof(order), "%s",
	         ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "10.1.2.77", NULL, &scope));
	ck_assert_int_eq(scope, -1);
	ck_assert_str_eq(
	    ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "10.1.2.0/24", &scope),
	    order);
	ck_assert_int_eq(scope, 24);
	ck_assert_str_eq(
	    ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "10.1.2.77/32", &scope),
	    order);
	ck_assert_int_eq(scope, 24);
	ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "10.1.0.0/16", &scope);
	ck_assert_int_eq(scope, 16);
	ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "2001:db8:1:200::/64", &scope);
	ck_assert_int_eq(scope, 56);
	/* /0: an answer for everybody */
	ask_from(t, "web.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "0.0.0.0/0", &scope);
	ck_assert_int_eq(scope, 0);
	ask_from(t, "rr.svc.example.", LDNS_RR_TYPE_A, "127.0.0.1", "10.1.2.0/24", &scope);
	ck_assert_int_eq(scope, 0);
	/* no candidate to order: nothing depended on the client */
	ask_from(t, "web.svc.example.", LDNS_RR_TYPE_AAAA, "127.0.0.1", "10.1.2.0/24", &scope);
	ck_assert_int_eq(scope, 0);
	dns_table_free(t);
}
END_TEST

/* A malformed ECS option is FORMERR (RFC 7871 7.1), with nothing echoed. */
START_TEST(ecs_malformed)
{
	static const uint8_t bad[][12] = {
	    /* the length of the option data, then the data */
	    {7, 0, 3, 24, 0, 10, 1, 2},       /* family 3 */
	    {9, 0, 1, 33, 0, 10, 1, 2, 3, 4}, /* /33 for IPv4 */
	    {8, 0, 1, 24, 0, 10, 1, 2, 3},    /* 4 address bytes for /24 */
	    {6, 0, 1, 24, 0, 10, 1},          /* 2 for /24 */
	    {7, 0, 1, 20, 0, 10, 1, 0x0F},    /* bits past /20 */
	    {3, 0, 1, 0},                     /* shorter than its header */
	};
	struct dns_table *t = tu_table(hashed_yaml);
	uint8_t out[DNS_MAX_MSG];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		uint8_t q[128], opt[32];
		size_t n = 0, olen;
		ldns_pkt *p;
		unsigned f, so, sc;
		char addr[64];

		if (i < sizeof(bad) / sizeof(bad[0])) {
			/* code 8, then the length of the bytes given */
			opt[0] = 0;
			opt[1] = 8;
			opt[2] = 0;
			opt[3] = bad[i][0];
			memcpy(opt + 4, bad[i] + 1, bad[i][0]);
			olen = 4 + (size_t)bad[i][0];
		} else {
			/* two good options */
			olen = tu_ecs("10.1.2.0/24", opt);
			olen += tu_ecs("10.1.2.0/24", opt + olen);
		}
		memcpy(q, "\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01", 12);
		n = 12;
		memcpy(q + n, "\3web\3svc\7example\0\0\1\0\1", 21);
		n += 21;
		memcpy(q + n, "\0\0\51\4\xd0\0\0\0\0", 9);
		n += 9;
		q[n++] = (uint8_t)(olen >> 8);
		q[n++] = (uint8_t)olen;
		memcpy(q + n, opt, olen);
		n += olen;
		n = tu_raw(ctx, t, q, n, DNS_UDP, out);
		ck_assert_uint_gt(n, 0);
		ck_assert_int_eq(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
		ck_assert_msg(ldns_pkt_get_rcode(p) == LDNS_RCODE_FORMERR, "case %zu", i);
		ck_assert(!tu_ecs_of(p, &f, &so, &sc, addr, sizeof(addr)));
		ldns_pkt_free(p);
	}
	dns_table_free(t);
}
END_TEST

/* The echo: family, source prefix and address as asked. */
START_TEST(ecs_echo)
{
	struct dns_table *t = tu_table(hashed_yaml);
	uint8_t opt[32];
	struct tu_opts o = {.edns = 1, .options = opt};
	unsigned f, so, sc;
	char addr[64];
	ldns_pkt *p;

	o.options_len = tu_ecs("2001:db8:1:200::/56", opt);
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert(tu_ecs_of(p, &f, &so, &sc, addr, sizeof(addr)));
	ck_assert_uint_eq(f, 2);
	ck_assert_uint_eq(so, 56);
	ck_assert_uint_eq(sc, 56);
	ck_assert_str_eq(addr, "2001:db8:1:200::");
	ldns_pkt_free(p);
	o.options_len = tu_ecs("10.1.2.0/23", opt);
	p = tu_ask(ctx, t, "rr.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert(tu_ecs_of(p, &f, &so, &sc, addr, sizeof(addr)));
	ck_assert_uint_eq(f, 1);
	ck_assert_uint_eq(so, 23);
	ck_assert_uint_eq(sc, 0);
	ck_assert_str_eq(addr, "10.1.2.0");
	ldns_pkt_free(p);
	/* NXDOMAIN echoes it too */
	p = tu_ask(ctx, t, "nothere.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert(tu_ecs_of(p, &f, &so, &sc, addr, sizeof(addr)));
	ck_assert_uint_eq(sc, 0);
	ldns_pkt_free(p);
	dns_table_free(t);
}
END_TEST

static const char *locality_yaml =
    "server:\n"
    "  zone: svc.example.\n"
    "  max_answers: 0\n"
    "  sites: {east: [10.1.0.0/16], west: [10.2.0.0/16, \"2001:db8:2::/48\"],\n"
    "          core: 10.1.5.0/24}\n"
    "defaults: {policy: fixed, check: {type: none}}\n"
    "services:\n"
    "  web:\n"
    "    port: 80\n"
    "    locality: prefer\n"
    "    instances:\n"
    "      - {name: n1, address: 192.0.2.1}\n"
    "      - {name: w1, address: 192.0.2.2, site: west}\n"
    "      - {name: e1, address: 192.0.2.3, site: east}\n"
    "      - {name: c1, address: 192.0.2.4, site: core}\n"
    "      - {name: e2, address: 192.0.2.5, site: east}\n"
    "      - {name: w2, address: 192.0.2.6, site: west}\n"
    "  strict:\n"
    "    port: 80\n"
    "    locality: strict\n"
    "    min_local: 2\n"
    "    instances:\n"
    "      - {name: w1, address: 192.0.2.2, site: west}\n"
    "      - {name: e1, address: 192.0.2.3, site: east}\n"
    "      - {name: e2, address: 192.0.2.5, site: east}\n"
    "  rr:\n"
    "    port: 80\n"
    "    policy: round-robin\n"
    "    locality: prefer\n"
    "    max_answers: 2\n"
    "    instances:\n"
    "      - {name: w1, address: 192.0.2.2, site: west}\n"
    "      - {name: e1, address: 192.0.2.3, site: east}\n"
    "      - {name: e2, address: 192.0.2.5, site: east}\n"
    "      - {name: e3, address: 192.0.2.7, site: east}\n";

/* The client's own site first (by its address, or ECS with the scope that
 * decides its site), the longest prefix deciding; no site: policy order. */
START_TEST(locality_prefer)
{
	struct dns_table *t = tu_table(locality_yaml);
	const char *web = "web.svc.example.";
	int scope;

	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "10.1.2.3", NULL, NULL),
	                 "192.0.2.3 192.0.2.5 192.0.2.1 192.0.2.2 192.0.2.4 192.0.2.6");
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "10.2.9.9", NULL, NULL),
	                 "192.0.2.2 192.0.2.6 192.0.2.1 192.0.2.3 192.0.2.4 192.0.2.5");
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "10.1.5.7", NULL, NULL),
	                 "192.0.2.4 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.5 192.0.2.6");
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "2001:db8:2:1::5", NULL, NULL),
	                 "192.0.2.2 192.0.2.6 192.0.2.1 192.0.2.3 192.0.2.4 192.0.2.5");
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "192.168.1.1", NULL, NULL),
	                 "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6");
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_SRV, "10.2.9.9", NULL, NULL),
	                 "w1.web.svc.example. w2.web.svc.example. n1.web.svc.example. "
	                 "e1.web.svc.example. c1.web.svc.example. e2.web.svc.example.");
	/* ECS stands for the client; the scope is what decides its site */
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "10.1.2.3", "10.2.0.0/24", &scope),
	                 "192.0.2.2 192.0.2.6 192.0.2.1 192.0.2.3 192.0.2.4 192.0.2.5");
	ck_assert_int_eq(scope, 16);
	ask_from(t, web, LDNS_RR_TYPE_A, "10.1.2.3", "10.1.5.0/24", &scope);
	ck_assert_int_eq(scope, 24);
	/* 10.1.0.0/16 holds core's /24: the answer is for 10.1.0.0/22 only */
	ck_assert_str_eq(ask_from(t, web, LDNS_RR_TYPE_A, "10.2.2.2", "10.1.0.0/16", &scope),
	                 "192.0.2.3 192.0.2.5 192.0.2.1 192.0.2.2 192.0.2.4 192.0.2.6");
	ck_assert_int_eq(scope, 22);
	/* in no site: still decided by the address, down to where sites differ */
	ask_from(t, web, LDNS_RR_TYPE_A, "10.1.2.3", "192.168.0.0/16", &scope);
	ck_assert_int_eq(scope, 1);
	/* _health says the locality and each instance's site */
	ck_assert_ptr_nonnull(
	    strstr(health_txt(t, "_health.web.svc.example."), "|locality=prefer|"));
	ck_assert_ptr_nonnull(strstr(health_txt(t, "_health.e1.web.svc.example."), "|site=east"));
	ck_assert_ptr_null(strstr(health_txt(t, "_health.n1.web.svc.example."), "site="));
	dns_table_free(t);
}
END_TEST

/* strict: only the client's site while min_local of it pass, else every
 * site, its own first; the policy's order and max_answers within. */
START_TEST(locality_strict)
{
	struct dns_table *t = tu_table(locality_yaml);
	struct tu_health *h = tu_health_bind(t);
	const char *svc = "strict.svc.example.";
	char first[64];

	ck_assert_str_eq(ask_from(t, svc, LDNS_RR_TYPE_A, "10.1.2.3", NULL, NULL),
	                 "192.0.2.3 192.0.2.5");
	ck_assert_str_eq(ask_from(t, svc, LDNS_RR_TYPE_A, "10.2.2.3", NULL, NULL),
	                 "192.0.2.2 192.0.2.3 192.0.2.5");
	tu_health_set(h, 1, 2, 0);
	ck_assert_str_eq(ask_from(t, svc, LDNS_RR_TYPE_A, "10.1.2.3", NULL, NULL),
	                 "192.0.2.3 192.0.2.2");
	/* round-robin within the client's site, max_answers 2 */
	snprintf(first, sizeof(first), "%s",
	         ask_from(t, "rr.svc.example.", LDNS_RR_TYPE_A, "10.1.2.3", NULL, NULL));
	for (int i = 0; i < 6; i++) {
		const char *got =
		    ask_from(t, "rr.svc.example.", LDNS_RR_TYPE_A, "10.1.2.3", NULL, NULL);

		ck_assert_uint_eq(strlen(got), 2 * strlen("192.0.2.3") + 1);
		ck_assert_ptr_null(strstr(got, "192.0.2.2"));
		if (i % 3 == 2)
			ck_assert_str_eq(got, first);
		else
			ck_assert_str_ne(got, first);
	}
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(locality_errors)
{
	ck_assert_str_eq(
	    load_errors("server: {sites: {east: [10.1.0.0/16]}}\n"
	                "services:\n  web:\n    port: 1\n"
	                "    instances: [{name: a, address: 192.0.2.1, site: north}]\n"),
	    "t.yaml:5:53: services.web.instances[0].site: \"north\" is not a site of server.sites");
	ck_assert_str_eq(load_errors("services:\n  web: {port: 1, locality: prefer}\n"),
	                 "t.yaml:2:28: services.web.locality: needs server.sites (the client "
	                 "address prefixes of each site)");
	ck_assert_str_eq(load_errors("server: {sites: {a: [10.1.0.0/16], b: [10.1.0.0/16]}}\n"),
	                 "t.yaml:1:40: server.sites.b[0]: 10.1.0.0/16 is already in site \"a\"");
	ck_assert_str_eq(load_errors("server: {sites: {a: [10.1.0.0/33]}}\n"),
	                 "t.yaml:1:22: server.sites.a[0]: \"10.1.0.0/33\" is not an address or "
	                 "prefix (e.g. 127.0.0.0/8 or ::1)");
	ck_assert_str_eq(load_errors("server: {sites: [10.1.0.0/16]}\n"),
	                 "t.yaml:1:17: server.sites: expected a mapping of site names to address "
	                 "prefixes, got a list");
	ck_assert_str_eq(load_errors("server: {sites: {a_b: 10.1.0.0/16}}\n"),
	                 "t.yaml:1:18: server.sites.a_b: \"a_b\" is not a DNS label");
	ck_assert_str_eq(load_errors("services:\n  web: {port: 1, min_local: 0}\n"),
	                 "t.yaml:2:29: services.web.min_local: 0 is out of range (1..65535)");
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
	tcase_add_test(tc, hashed_is_stable_per_subnet);
	tcase_add_test(tc, hashed_moves_only_the_clients_of_a_leaver);
	tcase_add_test(tc, hashed_by_client_subnet);
	tcase_add_test(tc, ecs_malformed);
	tcase_add_test(tc, ecs_echo);
	tcase_add_test(tc, locality_prefer);
	tcase_add_test(tc, locality_strict);
	tcase_add_test(tc, locality_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(select_suite());
}

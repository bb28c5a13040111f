/* SPDX-License-Identifier: BSD-3-Clause */
/* test_delta.c: a table built by change (dns_table_update(), a delta over a
 * base) answers byte for byte as a table built whole from the same
 * registry. A property test: random registries changed step by step with
 * fixed seeds, every step answering a few thousand questions (every name a
 * service, tag, instance, _health or static record has or had, and names
 * next to them) from both tables, and comparing their zone transfers. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "dns/answer/policy.h"
#include "dns/answer/table.h"
#include "dns/transfer/xfr.h"
#include "registry/registry.h"

#define N_SVC  12
#define N_INST 6
#define SERIAL 2026120301u

/* The model the registries are written from. */
struct minst {
	int on, v6, addr, port, weight, prio, tags, site, dual, meta;
};
struct msvc {
	int on, udp, port, tags, policy, max, ttl, n_on, failover, ttl_min, locality, empty, meta,
	    named;
	struct minst in[N_INST];
};
struct model {
	int ttl;
	struct msvc s[N_SVC];
};

/* s0.., and web, which a static record points at (www CNAME web) */
static const char *svc_name(int i)
{
	static char buf[N_SVC][8];

	if (i == 10)
		return "web";
	snprintf(buf[i], sizeof(buf[i]), "s%d", i);
	return buf[i];
}

static const char *const tag_names[3] = {"a", "b", "c"};
static const char *const policies[4] = {"fixed", "random", "weighted", "hashed"};
static const char *const localities[3] = {"", "prefer", "strict"};

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void tags_yaml(char **p, size_t *left, int mask)
{
	int n = snprintf(*p, *left, "[");
	for (int k = 0, first = 1; k < 3; k++)
		if (mask & 1 << k) {
			n += snprintf(*p + n, *left - (size_t)n, "%s%s", first ? "" : ", ",
			              tag_names[k]);
			first = 0;
		}
	n += snprintf(*p + n, *left - (size_t)n, "]");
	*p += n;
	*left -= (size_t)n;
}

#define PUT(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(p, left, __VA_ARGS__);                                           \
		ck_assert(n_ >= 0 && (size_t)n_ < left);                                           \
		p += n_;                                                                           \
		left -= (size_t)n_;                                                                \
	} while (0)

static char *yaml_of(const struct model *m)
{
	size_t cap = 1 << 16, left = cap;
	char *text = malloc(cap), *p = text;

	ck_assert_ptr_nonnull(text);
	PUT("server:\n  zone: svc.example.\n  ttl: %d\n  ns: [ns1.svc.example.]\n", m->ttl);
	PUT("  sites: {east: [\"10.1.0.0/16\"], west: [\"10.2.0.0/16\", \"2001:db8:2::/48\"]}\n");
	PUT("zones: [static.zone, other.zone]\nservices:\n");
	for (int i = 0; i < N_SVC; i++) {
		const struct msvc *s = &m->s[i];

		if (!s->on)
			continue;
		PUT("  %s:\n    protocol: %s\n    port: %d\n    policy: %s\n"
		    "    max_answers: %d\n    ttl: %d\n    failover: %s\n",
		    svc_name(i), s->udp ? "udp" : "tcp", s->port, policies[s->policy], s->max,
		    s->ttl, s->failover ? "true" : "false");
		if (s->ttl_min)
			PUT("    ttl_min: %d\n", s->ttl_min);
		if (s->locality)
			PUT("    locality: %s\n", localities[s->locality]);
		if (s->empty)
			PUT("    empty: nxdomain\n");
		if (s->meta)
			PUT("    meta: {version: \"1.%d\"}\n", s->meta);
		if (s->named)
			PUT("    ports: {http: %d, dns: {port: 53, protocol: udp}}\n",
			    9000 + s->named);
		PUT("    tags: ");
		tags_yaml(&p, &left, s->tags);
		PUT("\n    instances:%s\n", s->n_on ? "" : " []");
		for (int k = 0; k < N_INST; k++) {
			const struct minst *in = &s->in[k];

			if (!in->on)
				continue;
			if (in->dual)
				PUT("      - {name: i%d, address: [192.0.2.%d, \"2001:db8::%d\"]",
				    k, in->addr, in->addr + 1);
			else if (in->v6)
				PUT("      - {name: i%d, address: \"2001:db8::%d\"", k, in->addr);
			else
				PUT("      - {name: i%d, address: 192.0.2.%d", k, in->addr);
			if (in->meta)
				PUT(", meta: {commit: c%d}", in->meta);
			PUT(", port: %d, weight: %d, priority: %d, ", in->port, in->weight,
			    in->prio);
			if (in->site)
				PUT("site: %s, ", in->site == 1 ? "east" : "west");
			PUT("tags: ");
			tags_yaml(&p, &left, in->tags);
			PUT("}\n");
		}
	}
	return text;
}

static struct registry *load(const struct model *m)
{
	char *text = yaml_of(m);
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	int rc =
	    registry_load_string(text, SRCDIR "/tests/unit/data/answer/test.yaml", &reg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	if (rc)
		fprintf(stderr, "%s", text);
	ck_assert_int_eq(rc, 0);
	registry_errors_clear(&errs);
	free(text);
	return reg;
}

static void random_inst(struct minst *in)
{
	in->on = 1;
	in->v6 = rnd(4) == 0;
	in->addr = 1 + (int)rnd(8); /* few: instances share addresses */
	in->port = 80 + (int)rnd(3);
	in->weight = (int)rnd(4);
	in->prio = (int)rnd(2);
	in->tags = (int)rnd(8);
	in->site = (int)rnd(3);
	in->dual = rnd(4) == 0;
	in->meta = rnd(3) == 0 ? 1 + (int)rnd(3) : 0;
}

static void count_on(struct msvc *s)
{
	s->n_on = 0;
	for (int k = 0; k < N_INST; k++)
		s->n_on += s->in[k].on;
}

static void random_svc(struct msvc *s)
{
	memset(s, 0, sizeof(*s));
	s->on = 1;
	s->udp = rnd(3) == 0;
	s->port = 8000 + (int)rnd(3);
	s->tags = (int)rnd(8) & (int)rnd(8);
	s->policy = (int)rnd(4);
	s->max = (int)rnd(4);
	s->ttl = 5 + (int)rnd(3);
	s->failover = rnd(3) == 0;
	s->ttl_min = rnd(3) == 0 ? 1 + (int)rnd(4) : 0;
	s->locality = (int)rnd(3);
	s->empty = rnd(3) == 0;
	s->meta = (int)rnd(3);
	s->named = rnd(3) == 0 ? 1 + (int)rnd(3) : 0;
	for (int k = 0; k < N_INST; k++)
		if (rnd(2))
			random_inst(&s->in[k]);
	count_on(s);
}

/* One change of the kinds a registry sees: a service comes, goes or is
 * edited; an instance comes, goes or is edited; rarely the server. */
static void mutate(struct model *m)
{
	struct msvc *s = &m->s[rnd(N_SVC)];
	struct minst *in = &s->in[rnd(N_INST)];

	switch (rnd(12)) {
	case 0:
		if (s->on)
			s->on = 0;
		else
			random_svc(s);
		break;
	case 1:
		s->udp ^= 1;
		break;
	case 2:
		s->tags = (int)rnd(8);
		break;
	case 3:
		s->policy = (int)rnd(4);
		s->max = (int)rnd(4);
		s->failover = rnd(2);
		s->locality = (int)rnd(3);
		break;
	case 4:
		s->port = 8000 + (int)rnd(3);
		s->ttl = 5 + (int)rnd(3);
		s->empty = rnd(3) == 0;
		s->named = (int)rnd(3);
		s->meta = (int)rnd(3);
		break;
	case 5:
	case 6:
		if (in->on)
			in->on = 0;
		else
			random_inst(in);
		break;
	case 7:
		in->tags = (int)rnd(8);
		in->site = (int)rnd(3);
		break;
	case 8:
		in->addr = 1 + (int)rnd(8);
		in->v6 = rnd(4) == 0;
		in->dual = rnd(4) == 0;
		in->meta = (int)rnd(3);
		break;
	case 9:
		in->weight = (int)rnd(4);
		in->prio = (int)rnd(2);
		in->port = 80 + (int)rnd(3);
		break;
	case 10:
		if (rnd(8) == 0)
			m->ttl = 5 + (int)rnd(3); /* not a service: a whole build */
		break;
	default:
		random_svc(s);
		break;
	}
	count_on(s);
}

/* Every name worth asking, into names[] (wire text); returns the count. */
static size_t question_names(char (*names)[128], size_t cap)
{
	static const char *const zone_names[] = {
	    "svc.example.",        "_tcp.svc.example.",    "_udp.svc.example.",
	    "_ready.svc.example.", "_health.svc.example.", "www.svc.example.",
	    "docs.svc.example.",   "ldap.svc.example.",    "_ldap._tcp.svc.example.",
	    "nx.svc.example.",     "ns1.svc.example.",     "host.static.example.",
	    "x.nx.svc.example.",
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(zone_names) / sizeof(zone_names[0]); i++)
		snprintf(names[n++], 128, "%s", zone_names[i]);
	for (int i = 0; i < N_SVC; i++) {
		const char *s = svc_name(i);

		snprintf(names[n++], 128, "%s.svc.example.", s);
		snprintf(names[n++], 128, "_health.%s.svc.example.", s);
		snprintf(names[n++], 128, "nx.%s.svc.example.", s);
		snprintf(names[n++], 128, "_%s._tcp.svc.example.", s);
		snprintf(names[n++], 128, "_%s._udp.svc.example.", s);
		snprintf(names[n++], 128, "_tcp.%s.svc.example.", s);
		snprintf(names[n++], 128, "_udp.%s.svc.example.", s);
		snprintf(names[n++], 128, "_http._tcp.%s.svc.example.", s);
		snprintf(names[n++], 128, "_http._udp.%s.svc.example.", s);
		snprintf(names[n++], 128, "_dns._udp.%s.svc.example.", s);
		snprintf(names[n++], 128, "a.b.%s.svc.example.", s); /* a tag pair */
		for (int k = 0; k < 3; k++) {
			snprintf(names[n++], 128, "%s.%s.svc.example.", tag_names[k], s);
			snprintf(names[n++], 128, "_%s._tcp.%s.svc.example.", tag_names[k], s);
			snprintf(names[n++], 128, "_%s._udp.%s.svc.example.", tag_names[k], s);
		}
		for (int k = 0; k < N_INST; k++) {
			snprintf(names[n++], 128, "i%d.%s.svc.example.", k, s);
			snprintf(names[n++], 128, "_health.i%d.%s.svc.example.", k, s);
		}
		ck_assert_uint_lt(n + 32, cap);
	}
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t *query_wire(const char *name, ldns_rr_type type, size_t *len)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;

	ck_assert_ptr_nonnull(q);
	ldns_pkt_set_id(q, 0x4242);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ck_assert_int_eq(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return wire;
}

static void assert_same_answers(const struct dns_table *inc, const struct dns_table *whole,
                                int step)
{
	static char names[2048][128];
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_A,   LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV,
	                                     LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_ANY,  LDNS_RR_TYPE_SOA,
	                                     LDNS_RR_TYPE_NS,  LDNS_RR_TYPE_CNAME};
	size_t n = question_names(names, 2048);
	/* the same seed: a random policy draws the same numbers from both */
	struct dns_ctx *ca = dns_ctx_create(7 + (uint64_t)step),
	               *cb = dns_ctx_create(7 + (uint64_t)step);
	uint8_t a[DNS_MAX_MSG], b[DNS_MAX_MSG];
	struct sockaddr_in east = {.sin_family = AF_INET}, west = {.sin_family = AF_INET};

	inet_pton(AF_INET, "10.1.2.3", &east.sin_addr);
	inet_pton(AF_INET, "10.2.2.3", &west.sin_addr);
	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(cb);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			for (int tcp = 0; tcp < 2; tcp++) {
				size_t qlen, la, lb;
				uint8_t *q = query_wire(names[i], types[k], &qlen);

				/* from a client in site east over TCP, else in west */
				const struct sockaddr *from =
				    (const struct sockaddr *)(tcp ? &east : &west);

				la = dns_answer_client(ca, inc, q, qlen, tcp ? DNS_TCP : DNS_UDP,
				                       from, a, sizeof(a), NULL);
				lb = dns_answer_client(cb, whole, q, qlen, tcp ? DNS_TCP : DNS_UDP,
				                       from, b, sizeof(b), NULL);
				free(q);
				if (la != lb || memcmp(a, b, la))
					ck_abort_msg(
					    "step %d: %s type %d over %s: %zu bytes from the "
					    "delta, %zu from the whole table",
					    step, names[i], (int)types[k], tcp ? "TCP" : "UDP", la,
					    lb);
			}
	dns_ctx_free(ca);
	dns_ctx_free(cb);
}

/* The records of a transfer (messages with length prefixes) as sorted
 * text: a transfer's order follows the table's, its set must not differ. */
static char *axfr_records(struct evbuffer *e, size_t *n)
{
	const uint8_t *p = evbuffer_pullup(e, -1);
	size_t len = evbuffer_get_length(e), at = 0, cap = 1 << 20, used = 0;
	char **lines = NULL, *all = malloc(cap);
	size_t nl = 0;

	ck_assert_ptr_nonnull(all);
	while (at + 2 <= len) {
		size_t ml = (size_t)p[at] << 8 | p[at + 1];
		ldns_pkt *m = NULL;

		ck_assert_int_eq(ldns_wire2pkt(&m, p + at + 2, ml), LDNS_STATUS_OK);
		for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(m)); i++) {
			lines = realloc(lines, (nl + 1) * sizeof(*lines));
			lines[nl++] = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(m), i));
		}
		ldns_pkt_free(m);
		at += 2 + ml;
	}
	qsort(lines, nl, sizeof(*lines), cmp_str);
	all[0] = 0;
	for (size_t i = 0; i < nl; i++) {
		size_t l = strlen(lines[i]);

		ck_assert_uint_lt(used + l + 1, cap);
		memcpy(all + used, lines[i], l + 1);
		used += l;
		free(lines[i]);
	}
	free(lines);
	*n = nl;
	return all;
}

static void assert_same_axfr(const struct dns_table *inc, const struct dns_table *whole, int step)
{
	struct evbuffer *ea = evbuffer_new(), *eb = evbuffer_new();
	size_t qlen, na, nb;
	uint8_t *q = query_wire("svc.example.", LDNS_RR_TYPE_AXFR, &qlen);
	char *ta, *tb;

	ck_assert_int_eq(dns_xfr_answer(NULL, inc, q, qlen, 1, 0, ea, NULL), 0);
	ck_assert_int_eq(dns_xfr_answer(NULL, whole, q, qlen, 1, 0, eb, NULL), 0);
	ta = axfr_records(ea, &na);
	tb = axfr_records(eb, &nb);
	ck_assert_msg(na == nb && !strcmp(ta, tb),
	              "step %d: AXFR of %zu records from the delta, %zu from the whole table", step,
	              na, nb);
	free(ta);
	free(tb);
	free(q);
	evbuffer_free(ea);
	evbuffer_free(eb);
}

/* One sequence: `steps` changes from a random registry. Returns how many
 * of the tables were deltas. */
static int run_sequence(uint64_t seed, int steps)
{
	struct model m;
	struct registry *reg;
	struct dns_table *view = NULL, *whole;
	char err[256] = "";
	int deltas = 0;

	rng = seed;
	memset(&m, 0, sizeof(m));
	m.ttl = 5;
	for (int i = 0; i < N_SVC; i++)
		if (rnd(3))
			random_svc(&m.s[i]);
	for (int step = 0; step < steps; step++) {
		struct dns_table *next = NULL;
		int changes = 1 + (int)rnd(3);

		if (step)
			for (int c = 0; c < changes; c++)
				mutate(&m);
		reg = load(&m);
		ck_assert_msg(dns_table_update(view, reg, SERIAL, &next, err, sizeof(err)) == 0,
		              "step %d: %s", step, err);
		ck_assert_msg(dns_table_build(reg, SERIAL, &whole, err, sizeof(err)) == 0,
		              "step %d: %s", step, err);
		deltas += dns_table_is_delta(next);
		assert_same_answers(next, whole, step);
		assert_same_axfr(next, whole, step);
		dns_table_free(whole);
		dns_table_free(view); /* its base lives on in next, if shared */
		view = next;
		registry_free(reg);
	}
	dns_table_free(view);
	return deltas;
}

START_TEST(delta_answers_as_whole)
{
	int deltas = run_sequence(0x9E3779B97F4A7C15ULL + (uint64_t)_i * 7919, 40);

	/* the property is about deltas: most steps must have built one */
	ck_assert_int_ge(deltas, 20);
}
END_TEST

/* A change that touches only services is a delta, and one to the server
 * is whole; a removed service's names are gone from the delta's view. */
START_TEST(delta_or_whole)
{
	struct model m;
	struct registry *reg;
	struct dns_table *t0, *t1, *t2;
	char err[256];

	rng = 1;
	memset(&m, 0, sizeof(m));
	m.ttl = 5;
	random_svc(&m.s[0]);
	random_svc(&m.s[1]);
	reg = load(&m);
	ck_assert_int_eq(dns_table_update(NULL, reg, SERIAL, &t0, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_table_is_delta(t0), 0);
	registry_free(reg);
	m.s[1].on = 0;
	reg = load(&m);
	ck_assert_int_eq(dns_table_update(t0, reg, SERIAL, &t1, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_table_is_delta(t1), 1);
	registry_free(reg);
	m.ttl = 6;
	reg = load(&m);
	ck_assert_int_eq(dns_table_update(t1, reg, SERIAL, &t2, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_table_is_delta(t2), 0);
	registry_free(reg);
	/* www CNAME web: a service named web changes by a whole build */
	dns_table_free(t1);
	dns_table_free(t0);
	t0 = t2;
	random_svc(&m.s[10]);
	reg = load(&m);
	ck_assert_int_eq(dns_table_update(t0, reg, SERIAL, &t1, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_table_is_delta(t1), 0);
	registry_free(reg);
	dns_table_free(t0);
	dns_table_free(t1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("delta");
	TCase *tc = tcase_create("delta");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, delta_or_whole);
	tcase_add_loop_test(tc, delta_answers_as_whole, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

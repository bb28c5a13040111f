/* SPDX-License-Identifier: BSD-3-Clause */
/* test_answer.c: every row of README "Names and answers", through dns_answer() and ldns
 * (health in the answers: test_health_answer.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

static const char *yaml =
    "server:\n"
    "  zone: svc.example.\n"
    "  ttl: 5\n"
    "  max_answers: 8\n"
    "  edns_udp_size: 1232\n"
    "  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example., ttl: 3600,\n"
    "        refresh: 3600, retry: 600, expire: 86400, minimum: 5}\n"
    "  ns: [ns1.svc.example., ns2.svc.example.]\n"
    "  identity: test-host\n"
    "  version: srvd-test\n"
    "zones: [static.zone, other.zone]\n"
    "defaults:\n"
    "  policy: fixed\n"
    "  check: {type: none}\n"
    "services:\n"
    "  web:\n"
    "    protocol: tcp\n"
    "    port: 8080\n"
    "    tags: [http]\n"
    "    ttl: 10\n"
    "    instances:\n"
    "      - {name: web-1, address: 192.0.2.11, weight: 10, priority: 1, "
    "tags: [canary]}\n"
    "      - {name: web-2, address: 192.0.2.12, port: 8081}\n"
    "      - {name: web-3, address: \"2001:db8::13\"}\n"
    "  billing:\n"
    "    protocol: udp\n"
    "    port: 7000\n"
    "    instances:\n"
    "      - {name: b1, address: 192.0.2.21}\n";

static struct dns_table *t;
static struct dns_ctx *ctx;

static void setup(void)
{
	t = tu_table(yaml);
	ctx = dns_ctx_create(42);
	ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
	dns_table_free(t);
	dns_ctx_free(ctx);
}

/* The authority section holds exactly the zone's SOA with the negative TTL. */
static void assert_neg_soa(const ldns_pkt *p, const char *apex, uint32_t ttl)
{
	const ldns_rr_list *auth = ldns_pkt_authority(p);
	ck_assert(ldns_pkt_aa(p));
	ck_assert_uint_eq(tu_count(auth), 1);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(auth, 0)), LDNS_RR_TYPE_SOA);
	ck_assert_str_eq(tu_owner(auth, 0), apex);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(auth, 0)), ttl);
}

static void assert_nodata(const ldns_pkt *p)
{
	tu_assert_ok(p, 0);
	assert_neg_soa(p, "svc.example.", 5);
}

START_TEST(service_a_aaaa)
{
	ldns_pkt *p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A);
	const ldns_rr_list *an;
	tu_assert_ok(p, 2);
	an = ldns_pkt_answer(p);
	ck_assert_str_eq(tu_owner(an, 0), "web.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 0, 0), "192.0.2.11");
	ck_assert_str_eq(tu_rdf(an, 1, 0), "192.0.2.12");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(an, 0)), 10);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "2001:db8::13");
	ldns_pkt_free(p);

	/* a service with only IPv4 instances: AAAA is NODATA */
	p = tu_q(ctx, t, "billing.svc.example.", LDNS_RR_TYPE_AAAA);
	assert_nodata(p);
	ldns_pkt_free(p);
}
END_TEST

static void assert_web_srv(const ldns_pkt *p, const char *owner)
{
	const ldns_rr_list *an = ldns_pkt_answer(p), *ad = ldns_pkt_additional(p);
	static const char *want[3][5] = {
	    {"1", "10", "8080", "web-1.web.svc.example.", "192.0.2.11"},
	    {"0", "1", "8081", "web-2.web.svc.example.", "192.0.2.12"},
	    {"0", "1", "8080", "web-3.web.svc.example.", "2001:db8::13"},
	};
	tu_assert_ok(p, 3);
	ck_assert_uint_eq(tu_count(ad), 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(tu_owner(an, i), owner);
		ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(an, i)), LDNS_RR_TYPE_SRV);
		for (size_t f = 0; f < 4; f++)
			ck_assert_str_eq(tu_rdf(an, i, f), want[i][f]);
		ck_assert_str_eq(tu_owner(ad, i), want[i][3]);
		ck_assert_str_eq(tu_rdf(ad, i, 0), want[i][4]);
		ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ad, i)),
		                 i < 2 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
	}
}

START_TEST(service_srv)
{
	ldns_pkt *p = tu_q(ctx, t, "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV);
	assert_web_srv(p, "_web._tcp.svc.example.");
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_SRV);
	assert_web_srv(p, "web.svc.example.");
	ldns_pkt_free(p);
	/* the protocol label comes from the service */
	p = tu_q(ctx, t, "_billing._udp.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 3), "b1.billing.svc.example.");
	ldns_pkt_free(p);
	/* A at the SRV name: NODATA */
	p = tu_q(ctx, t, "_web._tcp.svc.example.", LDNS_RR_TYPE_A);
	assert_nodata(p);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(tags)
{
	ldns_pkt *p = tu_q(ctx, t, "canary.web.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "192.0.2.11");
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "canary.web.svc.example.", LDNS_RR_TYPE_AAAA);
	assert_nodata(p);
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "canary.web.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 3), "web-1.web.svc.example.");
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 1);
	ldns_pkt_free(p);

	/* service tag: every instance */
	p = tu_q(ctx, t, "http.web.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 2);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "http.web.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ldns_pkt_free(p);

	/* RFC 2782 style tag SRV name (extension) */
	p = tu_q(ctx, t, "_canary._tcp.web.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 3), "web-1.web.svc.example.");
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_http._tcp.web.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 3);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(apex)
{
	ldns_pkt *p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_SOA);
	const ldns_rr_list *an;
	tu_assert_ok(p, 1);
	an = ldns_pkt_answer(p);
	ck_assert_str_eq(tu_owner(an, 0), "svc.example.");
	ck_assert_str_eq(tu_rdf(an, 0, 0), "ns1.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 0, 1), "hostmaster.svc.example.");
	ck_assert_uint_eq(ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 2)), TU_SERIAL);
	ck_assert_uint_eq(ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 6)), 5);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(an, 0)), 3600);
	ck_assert_uint_eq(dns_table_serial(t), TU_SERIAL);
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "SVC.Example.", LDNS_RR_TYPE_NS);
	tu_assert_ok(p, 2);
	an = ldns_pkt_answer(p);
	ck_assert_str_eq(tu_rdf(an, 0, 0), "ns1.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 1, 0), "ns2.svc.example.");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(an, 0)), 3600);
	/* RFC 1034 4.3.2 step 6: ns1 has an A in static.zone, ns2 nothing */
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 1);
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 0), "ns1.svc.example.");
	ck_assert_str_eq(tu_rdf(ldns_pkt_additional(p), 0, 0), "127.0.0.1");
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_MX);
	assert_nodata(p);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(negative)
{
	/* NODATA at a service name */
	ldns_pkt *p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_TXT);
	assert_nodata(p);
	ldns_pkt_free(p);

	/* NXDOMAIN: AA, SOA, negative TTL min(3600, 5) */
	p = tu_q(ctx, t, "nope.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 0);
	assert_neg_soa(p, "svc.example.", 5);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "a.b.web-1.web.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_neg_soa(p, "svc.example.", 5);
	ldns_pkt_free(p);

	/* empty non-terminals: NODATA */
	p = tu_q(ctx, t, "_tcp.svc.example.", LDNS_RR_TYPE_A);
	assert_nodata(p);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_tcp.web.svc.example.", LDNS_RR_TYPE_SRV);
	assert_nodata(p);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_udp.svc.example.", LDNS_RR_TYPE_SRV);
	assert_nodata(p);
	ldns_pkt_free(p);

	/* outside every zone: REFUSED, no AA, nothing */
	p = tu_q(ctx, t, "example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ck_assert(!ldns_pkt_aa(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)) + tu_count(ldns_pkt_authority(p)) +
	                      tu_count(ldns_pkt_additional(p)),
	                  0);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "example.", LDNS_RR_TYPE_SOA);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, ".", LDNS_RR_TYPE_NS);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ck_assert(!ldns_pkt_aa(p));
	ldns_pkt_free(p);
}
END_TEST

START_TEST(chaos)
{
	static const char *names[4] = {"version.server.", "VERSION.bind.", "id.server.",
	                               "hostname.bind."};
	static const char *want[4] = {"\"srvd-test\"", "\"srvd-test\"", "\"test-host\"",
	                              "\"test-host\""};
	ldns_pkt *p;
	for (int i = 0; i < 4; i++) {
		p = tu_ask(ctx, t, names[i], LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, NULL, NULL);
		tu_assert_ok(p, 1);
		ck_assert_int_eq(ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
		                 LDNS_RR_CLASS_CH);
		ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 0);
		ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), want[i]);
		ldns_pkt_free(p);
	}
	p = tu_ask(ctx, t, "other.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, NULL, NULL);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ck_assert(!ldns_pkt_aa(p));
	ldns_pkt_free(p);
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, NULL, NULL);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	/* classes other than IN and CH: REFUSED; ANY is IN */
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_HS, NULL, NULL);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, NULL, NULL);
	tu_assert_ok(p, 2);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(ready)
{
	size_t len = 1;
	ldns_pkt *p =
	    tu_ask(ctx, t, "_ready.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, NULL, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	dns_table_set_ready(t, 1);
	p = tu_q(ctx, t, "_READY.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "127.0.0.1");
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_ready.svc.example.", LDNS_RR_TYPE_AAAA);
	assert_nodata(p);
	ldns_pkt_free(p);
	dns_table_set_ready(t, 0);
	p = tu_q(ctx, t, "_ready.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(static_records)
{
	ldns_pkt *p = tu_q(ctx, t, "docs.svc.example.", LDNS_RR_TYPE_TXT);
	const ldns_rr_list *an;
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "\"static text\"");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 300);
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "_ldap._tcp.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 2), "389");
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 3), "ldap.svc.example.");
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 1);
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 0), "ldap.svc.example.");
	ck_assert_str_eq(tu_rdf(ldns_pkt_additional(p), 0, 0), "192.0.2.40");
	ldns_pkt_free(p);

	p = tu_q(ctx, t, "ns1.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "127.0.0.1");
	ldns_pkt_free(p);

	/* CNAME chased within our data into a service */
	p = tu_q(ctx, t, "WWW.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 3);
	an = ldns_pkt_answer(p);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(an, 0)), LDNS_RR_TYPE_CNAME);
	ck_assert_str_eq(tu_owner(an, 0), "WWW.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 0, 0), "web.svc.example.");
	ck_assert_str_eq(tu_owner(an, 1), "web.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 1, 0), "192.0.2.11");
	ck_assert_str_eq(tu_owner(an, 2), "web.svc.example.");
	ldns_pkt_free(p);

	/* SRV through the CNAME carries the additional addresses too */
	p = tu_q(ctx, t, "www.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 4);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 3);
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 0), "web-1.web.svc.example.");
	ldns_pkt_free(p);

	/* target has no TXT: the CNAME, then the SOA */
	p = tu_q(ctx, t, "www.svc.example.", LDNS_RR_TYPE_TXT);
	tu_assert_ok(p, 1);
	assert_neg_soa(p, "svc.example.", 5);
	ldns_pkt_free(p);

	/* CNAME itself, and a target outside our data */
	p = tu_q(ctx, t, "www.svc.example.", LDNS_RR_TYPE_CNAME);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "ext.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "elsewhere.example.net.");
	ldns_pkt_free(p);
}
END_TEST

START_TEST(static_zone)
{
	ldns_pkt *p = tu_q(ctx, t, "static.example.", LDNS_RR_TYPE_SOA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "ns.static.example.");
	ck_assert_uint_eq(
	    ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 2)), 7);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "static.example.", LDNS_RR_TYPE_NS);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 1);
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 0), "ns.static.example.");
	ck_assert_str_eq(tu_rdf(ldns_pkt_additional(p), 0, 0), "192.0.2.53");
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "host.static.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "2001:db8::53");
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "host.static.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 0);
	assert_neg_soa(p, "static.example.", 60);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "nope.static.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_neg_soa(p, "static.example.", 60);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(any_minimal)
{
	ldns_pkt *p = tu_q(ctx, t, "web.svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 2);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_A);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_web._tcp.svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 3);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	                 LDNS_RR_TYPE_SRV);
	ldns_pkt_free(p);
	/* static: the first RRset in file order */
	p = tu_q(ctx, t, "docs.svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 1);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	                 LDNS_RR_TYPE_TXT);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 1);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	                 LDNS_RR_TYPE_SOA);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "_tcp.svc.example.", LDNS_RR_TYPE_ANY);
	assert_nodata(p);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(table_size)
{
	/* apex, _ready, 7 static owners (ns1 www docs _ldap._tcp _tcp ldap ext), static.example
	 * zone (apex ns host), web (web, 3 instances, _web._tcp, canary, http,
	 * _canary._tcp.web, _http._tcp.web, _tcp.web), billing (billing, b1,
	 * _billing._udp, _udp), _health.<zone>, _health of web, its 3 instances, billing, b1 */
	ck_assert_uint_eq(dns_table_size(t), 2 + 7 + 3 + 10 + 4 + 1 + 4 + 2);
}
END_TEST

/* 10,000 services x 10 instances, each with a service tag and an instance tag */
START_TEST(scale)
{
	size_t cap = 10000 * 700, n = 0;
	char *y = malloc(cap);
	struct dns_table *big;
	ldns_pkt *p;
	struct tu_opts tcp = {.transport = DNS_TCP};
	ck_assert_ptr_nonnull(y);
	n += (size_t)snprintf(y + n, cap - n,
	                      "server: {zone: svc.example., max_answers: 0}\n"
	                      "defaults: {policy: fixed, check: {type: none}}\n"
	                      "services:\n");
	for (int s = 0; s < 10000; s++) {
		n += (size_t)snprintf(y + n, cap - n,
		                      "  s%d:\n    port: 80\n    tags: [t%d]\n"
		                      "    instances:\n",
		                      s, s % 7);
		for (int i = 0; i < 10; i++)
			n += (size_t)snprintf(
			    y + n, cap - n,
			    "      - {name: i%d, address: 10.%d.%d.%d, tags: [c%d]}\n", i, s / 256,
			    s % 256, i, i % 3);
	}
	big = tu_table(y);
	free(y);
	/* per service: svc, 10 instances, _svc._tcp, t, _t._tcp.svc, _tcp.svc, 3 x (c, _c._tcp),
	 * _health.svc and 10 _health.<inst>.svc = 32; plus apex, _ready, _health and _tcp */
	ck_assert_uint_eq(dns_table_size(big), 10000 * 32 + 4);
	p = tu_ask(ctx, big, "_s9999._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, &tcp,
	           NULL);
	tu_assert_ok(p, 10);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 10);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 9, 3), "i9.s9999.svc.example.");
	ldns_pkt_free(p);
	p = tu_q(ctx, big, "i5.s5000.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "10.19.136.5");
	ldns_pkt_free(p);
	p = tu_q(ctx, big, "c1.s4321.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 3);
	ldns_pkt_free(p);
	p = tu_q(ctx, big, "s10000.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	dns_table_free(big);
}
END_TEST

/* Deviations from NSD/Knot and the RFCs found in review: a table of its own,
 * with a zone file written to a temporary folder. */
static const char *rfc_zone = "$ORIGIN svc.example.\n"
                              "$TTL 300\n"
                              "bar        5  IN A     192.0.2.5\n"
                              "bar        50 IN A     192.0.2.6\n"
                              "bar        50 IN AAAA  2001:db8::5\n"
                              "loop1         IN CNAME loop2\n"
                              "loop2         IN CNAME loop1\n"
                              "self          IN CNAME self\n"
                              "gone          IN CNAME nothere\n"
                              "chain         IN CNAME gone\n"
                              "farther       IN CNAME nope.static.example.\n"
                              "tohost        IN CNAME host.static.example.\n"
                              "mail          IN MX    10 mx1\n"
                              "mail          IN MX    20 MX1\n"
                              "mail          IN MX    30 mx2\n"
                              "mail          IN MX    40 mx.elsewhere.example.net.\n"
                              "mx1           IN A     192.0.2.25\n"
                              "mx2           IN A     192.0.2.26\n"
                              "mx2           IN AAAA  2001:db8::26\n"
                              "_inst._tcp    IN SRV   0 0 80 d1.dup.svc.example.\n"
                              "_inst._tcp    IN SRV   0 0 81 bar\n";

static const char *rfc_yaml_fmt =
    "server:\n"
    "  zone: svc.example.\n"
    "  ttl: 5\n"
    "  max_answers: 8\n"
    "  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example., ttl: 3600,\n"
    "        refresh: 3600, retry: 600, expire: 86400, minimum: 5}\n"
    "  ns: [ns1.svc.example.]\n"
    "zones: [other.zone, %s]\n"
    "defaults:\n"
    "  policy: fixed\n"
    "  check: {type: none}\n"
    "services:\n"
    "  dup:\n"
    "    port: 80\n"
    "    tags: [t]\n"
    "    instances:\n"
    "      - {name: d1, address: 192.0.2.1}\n"
    "      - {name: d2, address: 192.0.2.1, port: 81}\n"
    "      - {name: d3, address: 192.0.2.2}\n"
    "      - {name: d4, address: \"2001:db8::1\"}\n"
    "      - {name: d5, address: \"2001:db8::1\", port: 81}\n"
    "%s";

/* `cap-<policy>`: max_answers 2, three instances on one address first */
static const char *cap_fmt = "  cap-%s:\n"
                             "    policy: %s\n"
                             "    max_answers: 2\n"
                             "    port: 80\n"
                             "    instances:\n"
                             "      - {name: a1, address: 192.0.2.1}\n"
                             "      - {name: a2, address: 192.0.2.1, port: 81}\n"
                             "      - {name: a3, address: 192.0.2.1, port: 82}\n"
                             "      - {name: a4, address: 192.0.2.2}\n"
                             "      - {name: a5, address: 192.0.2.3}\n";

static const char *policies[4] = {"fixed", "round-robin", "random", "weighted"};

static struct dns_table *rt;

static void rfc_setup(void)
{
	char dir[] = "/tmp/srvd-test-XXXXXX", path[64], text[8192], caps[4096];
	size_t n = 0;
	FILE *f;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rfc.zone", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(rfc_zone, f);
	ck_assert_int_eq(fclose(f), 0);
	for (int i = 0; i < 4; i++)
		n +=
		    (size_t)snprintf(caps + n, sizeof(caps) - n, cap_fmt, policies[i], policies[i]);
	snprintf(text, sizeof(text), rfc_yaml_fmt, path, caps);
	rt = tu_table(text);
	unlink(path);
	rmdir(dir);
	ctx = dns_ctx_create(42);
	ck_assert_ptr_nonnull(ctx);
}

static void rfc_teardown(void)
{
	dns_table_free(rt);
	dns_ctx_free(ctx);
}

/* The rdata field 0 of every answer record, joined by ' '. */
static const char *answer_rdata(const ldns_pkt *p)
{
	static char buf[1024];
	const ldns_rr_list *an = ldns_pkt_answer(p);
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < tu_count(an); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "",
		                      tu_rdf(an, i, 0));
	return buf;
}

/* RFC 2181 5: instances sharing an address give one record of the RRset */
START_TEST(duplicate_addresses)
{
	ldns_pkt *p = tu_q(ctx, rt, "dup.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 2);
	ck_assert_str_eq(answer_rdata(p), "192.0.2.1 192.0.2.2");
	ldns_pkt_free(p);
	p = tu_q(ctx, rt, "dup.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(answer_rdata(p), "2001:db8::1");
	ldns_pkt_free(p);
	p = tu_q(ctx, rt, "t.dup.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 2);
	ck_assert_str_eq(answer_rdata(p), "192.0.2.1 192.0.2.2");
	ldns_pkt_free(p);
	/* ANY takes the A RRset, deduplicated as well */
	p = tu_q(ctx, rt, "dup.svc.example.", LDNS_RR_TYPE_ANY);
	tu_assert_ok(p, 2);
	ldns_pkt_free(p);

	/* SRV: one per instance (ports differ); each target's address once */
	p = tu_q(ctx, rt, "_dup._tcp.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 5);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 5);
	for (size_t i = 0; i < 5; i++) {
		char want[64];
		snprintf(want, sizeof(want), "d%zu.dup.svc.example.", i + 1);
		ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), i), want);
		ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), i, 3), want);
	}
	ldns_pkt_free(p);
}
END_TEST

/* max_answers counts distinct addresses, whatever the policy */
START_TEST(duplicates_and_max_answers)
{
	for (int k = 0; k < 4; k++) {
		char name[64];
		int seen[4] = {0};
		snprintf(name, sizeof(name), "cap-%s.svc.example.", policies[k]);
		for (int i = 0; i < 300; i++) {
			ldns_pkt *p = tu_q(ctx, rt, name, LDNS_RR_TYPE_A);
			const ldns_rr_list *an;
			int a, b;
			tu_assert_ok(p, 2);
			an = ldns_pkt_answer(p);
			ck_assert_int_eq(sscanf(tu_rdf(an, 0, 0), "192.0.2.%d", &a), 1);
			ck_assert_int_eq(sscanf(tu_rdf(an, 1, 0), "192.0.2.%d", &b), 1);
			ck_assert_int_ne(a, b);
			ck_assert(a >= 1 && a <= 3 && b >= 1 && b <= 3);
			seen[a]++;
			seen[b]++;
			if (k == 0)
				ck_assert_str_eq(answer_rdata(p), "192.0.2.1 192.0.2.2");
			ldns_pkt_free(p);
		}
		/* every address takes part, except under `fixed` */
		if (k > 0)
			ck_assert(seen[1] > 0 && seen[2] > 0 && seen[3] > 0);
	}
}
END_TEST

/* RFC 2181 5.2: one TTL per RRset, the lowest */
START_TEST(rrset_ttl)
{
	ldns_pkt *p = tu_q(ctx, rt, "bar.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 2);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 5);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 1)), 5);
	ldns_pkt_free(p);
	/* another RRset of the same owner keeps its own */
	p = tu_q(ctx, rt, "bar.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 50);
	ldns_pkt_free(p);
}
END_TEST

/* A loop is followed until a name repeats: each CNAME once (NSD, Knot) */
START_TEST(cname_loops)
{
	ldns_pkt *p = tu_q(ctx, rt, "loop1.svc.example.", LDNS_RR_TYPE_A);
	const ldns_rr_list *an;
	tu_assert_ok(p, 2);
	an = ldns_pkt_answer(p);
	ck_assert_str_eq(tu_owner(an, 0), "loop1.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 0, 0), "loop2.svc.example.");
	ck_assert_str_eq(tu_owner(an, 1), "loop2.svc.example.");
	ck_assert_str_eq(tu_rdf(an, 1, 0), "loop1.svc.example.");
	ldns_pkt_free(p);
	p = tu_q(ctx, rt, "self.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "self.svc.example.");
	ldns_pkt_free(p);
}
END_TEST

/* RFC 6604: the rcode follows the last name of the chain */
START_TEST(cname_to_nothing)
{
	ldns_pkt *p = tu_q(ctx, rt, "gone.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "nothere.svc.example.");
	assert_neg_soa(p, "svc.example.", 5);
	ldns_pkt_free(p);
	p = tu_q(ctx, rt, "chain.svc.example.", LDNS_RR_TYPE_TXT);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 2);
	assert_neg_soa(p, "svc.example.", 5);
	ldns_pkt_free(p);
	/* into another served zone: its SOA */
	p = tu_q(ctx, rt, "farther.svc.example.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 1);
	assert_neg_soa(p, "static.example.", 60);
	ldns_pkt_free(p);
	/* a target there without the type: NODATA with that zone's SOA */
	p = tu_q(ctx, rt, "tohost.svc.example.", LDNS_RR_TYPE_A);
	tu_assert_ok(p, 1);
	assert_neg_soa(p, "static.example.", 60);
	ldns_pkt_free(p);
	p = tu_q(ctx, rt, "tohost.svc.example.", LDNS_RR_TYPE_AAAA);
	tu_assert_ok(p, 2);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 1, 0), "2001:db8::53");
	ldns_pkt_free(p);
	/* asking for the CNAME itself: no chase, NOERROR */
	p = tu_q(ctx, rt, "gone.svc.example.", LDNS_RR_TYPE_CNAME);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ldns_pkt_free(p);
}
END_TEST

/* RFC 1034 4.3.2 step 6 for static NS, MX and SRV */
START_TEST(static_additional)
{
	ldns_pkt *p = tu_q(ctx, rt, "mail.svc.example.", LDNS_RR_TYPE_MX);
	const ldns_rr_list *ad;
	tu_assert_ok(p, 4);
	ad = ldns_pkt_additional(p);
	/* mx1 once for both MX naming it (letter case aside), then mx2's A and
	 * AAAA; nothing for the name outside our data */
	ck_assert_uint_eq(tu_count(ad), 3);
	ck_assert_str_eq(tu_owner(ad, 0), "mx1.svc.example.");
	ck_assert_str_eq(tu_rdf(ad, 0, 0), "192.0.2.25");
	ck_assert_str_eq(tu_owner(ad, 1), "mx2.svc.example.");
	ck_assert_str_eq(tu_rdf(ad, 1, 0), "192.0.2.26");
	ck_assert_str_eq(tu_owner(ad, 2), "mx2.svc.example.");
	ck_assert_str_eq(tu_rdf(ad, 2, 0), "2001:db8::26");
	ldns_pkt_free(p);

	/* SRV to an instance name and to a static name with two RRsets */
	p = tu_q(ctx, rt, "_inst._tcp.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 2);
	ad = ldns_pkt_additional(p);
	ck_assert_uint_eq(tu_count(ad), 4);
	ck_assert_str_eq(tu_owner(ad, 0), "d1.dup.svc.example.");
	ck_assert_str_eq(tu_rdf(ad, 0, 0), "192.0.2.1");
	ck_assert_str_eq(tu_owner(ad, 1), "bar.svc.example.");
	ck_assert_str_eq(tu_owner(ad, 3), "bar.svc.example.");
	ck_assert_str_eq(tu_rdf(ad, 3, 0), "2001:db8::5");
	ldns_pkt_free(p);

	/* the apex NS: no address for ns1 in this table, nothing added */
	p = tu_q(ctx, rt, "svc.example.", LDNS_RR_TYPE_NS);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 0);
	ldns_pkt_free(p);
}
END_TEST

/* Additional records that do not fit are left out whole, without TC. */
START_TEST(static_additional_fit)
{
	char dir[] = "/tmp/srvd-test-XXXXXX", path[64], text[1024];
	struct dns_table *tb;
	ldns_pkt *p;
	FILE *f;
	size_t len;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mx.zone", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("$ORIGIN svc.example.\n$TTL 300\n", f);
	for (int i = 1; i <= 12; i++) {
		/* a two-record RRset as the fourth target */
		if (i == 4)
			fputs("big IN MX 99 two\ntwo IN A 192.0.2.101\ntwo IN A 192.0.2.102\n", f);
		fprintf(f, "big IN MX %d h%02d\nh%02d IN A 192.0.2.%d\n", i, i, i, i);
	}
	ck_assert_int_eq(fclose(f), 0);
	snprintf(text, sizeof(text),
	         "server: {zone: svc.example., ns: [ns1.svc.example.]}\nzones: [%s]\n"
	         "services: {}\n",
	         path);
	tb = tu_table(text);
	unlink(path);
	rmdir(dir);
	/* 12 + 21 + 13 MX of 2 + 10 + 2 + 17 = 436 of 512: 76 left. h01..h03
	 * take 48; `two` needs 32 of the 28 left and is left out whole, so h04
	 * still fits, then nothing */
	p = tu_ask(ctx, tb, "big.svc.example.", LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN, NULL, &len);
	tu_assert_ok(p, 13);
	ck_assert_uint_eq(len, 436 + 4 * 16);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 4);
	for (size_t i = 0; i < 4; i++) {
		char want[32];
		snprintf(want, sizeof(want), "h%02zu.svc.example.", i + 1);
		ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), i), want);
	}
	ldns_pkt_free(p);
	/* with room, all of them */
	{
		struct tu_opts o = {.edns = 1, .edns_size = 4096};
		p = tu_ask(ctx, tb, "big.svc.example.", LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN, &o,
		           &len);
		tu_assert_ok(p, 13);
		ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)),
		                  12 + 2); /* ldns keeps OPT apart */
		ldns_pkt_free(p);
	}
	dns_table_free(tb);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("answer");
	TCase *tc = tcase_create("spec section 3");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, service_a_aaaa);
	tcase_add_test(tc, service_srv);
	tcase_add_test(tc, tags);
	tcase_add_test(tc, apex);
	tcase_add_test(tc, negative);
	tcase_add_test(tc, chaos);
	tcase_add_test(tc, ready);
	tcase_add_test(tc, static_records);
	tcase_add_test(tc, static_zone);
	tcase_add_test(tc, any_minimal);
	tcase_add_test(tc, table_size);
	suite_add_tcase(s, tc);
	tc = tcase_create("rfc");
	tcase_add_checked_fixture(tc, rfc_setup, rfc_teardown);
	tcase_add_test(tc, duplicate_addresses);
	tcase_add_test(tc, duplicates_and_max_answers);
	tcase_add_test(tc, rrset_ttl);
	tcase_add_test(tc, cname_loops);
	tcase_add_test(tc, cname_to_nothing);
	tcase_add_test(tc, static_additional);
	tcase_add_test(tc, static_additional_fit);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scale);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

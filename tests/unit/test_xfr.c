/* SPDX-License-Identifier: BSD-3-Clause */
/* test_xfr.c: AXFR and IXFR out (dns/xfr.c): the zone as served, IXFR
 * diffs from the history and the fallback to AXFR, the transfer ACL, the
 * split into messages, and the time a 100,000-record zone takes. Responses
 * are parsed back with ldns. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "dns/transfer/xfr.h"
#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

#define AXFR_RECORDS 29 /* checked by hand against the registry, see XFR_DUMP=1 */
static const char *yaml = "server:\n"
                          "  zone: svc.example.\n"
                          "  ttl: 5\n"
                          "  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example.,\n"
                          "        ttl: 3600, refresh: 3600, retry: 600, expire: 86400,\n"
                          "        minimum: 5}\n"
                          "zones: [static.zone, other.zone]\n"
                          "defaults:\n"
                          "  check: {type: tcp, interval: 2s, timeout: 1s}\n"
                          "services:\n"
                          "  web:\n"
                          "    port: 8080\n"
                          "    instances:\n"
                          "      - {name: web-1, address: 127.0.0.11, tags: [canary]}\n"
                          "      - {name: web-2, address: 127.0.0.12, port: 8081}\n"
                          "      - {name: web-3, address: \"::1\"}\n"
                          "      - {name: web-4, address: 127.0.0.11, port: 8082}\n"
                          "  billing:\n"
                          "    protocol: udp\n"
                          "    port: 7000\n"
                          "    check: {type: none}\n"
                          "    instances:\n"
                          "      - {name: b1, address: 192.0.2.21}\n";

enum { WEB = 0, BILLING = 1 };

static struct dns_table *t;
static struct tu_health *h;

static void setup(void)
{
	t = tu_table(yaml);
	h = tu_health_bind(t);
}

static void teardown(void)
{
	dns_table_free(t);
	tu_health_free(h);
}

/* A parsed transfer: every answer record in order, and the messages. */
struct xfer {
	ldns_rr_list *rrs;
	size_t messages;
	size_t max_msg;
	ldns_pkt_rcode rcode;
	struct dns_xfr_result res;
};

static void xfer_free(struct xfer *x)
{
	ldns_rr_list_deep_free(x->rrs);
}

static uint8_t *make_query(const char *zone, ldns_rr_type type, uint32_t client_serial, size_t *len)
{
	ldns_rdf *name = ldns_dname_new_frm_str(zone);
	ldns_pkt *q = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;

	ck_assert_ptr_nonnull(q);
	ldns_pkt_set_id(q, 4242);
	if (type == LDNS_RR_TYPE_IXFR) {
		char text[256];
		ldns_rr *soa = NULL;
		snprintf(text, sizeof(text), "%s 0 IN SOA . . %u 0 0 0 0", zone, client_serial);
		ck_assert_int_eq(ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return wire;
}

/* Runs one transfer and checks the framing of every message. */
static struct xfer run(struct dns_xfr_history *hist, const struct dns_table *tab, const char *zone,
                       ldns_rr_type type, uint32_t client_serial, int allowed, size_t msg_max)
{
	struct xfer x = {.rrs = ldns_rr_list_new()};
	struct evbuffer *out = evbuffer_new();
	size_t qlen, total, pos = 0;
	uint8_t *q = make_query(zone, type, client_serial, &qlen), *p;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(dns_xfr_answer(hist, tab, q, qlen, allowed, msg_max, out, &x.res), 0);
	total = evbuffer_get_length(out);
	p = evbuffer_pullup(out, -1);
	while (pos < total) {
		size_t mlen;
		ldns_pkt *m = NULL;
		ck_assert_uint_ge(total - pos, 2);
		mlen = (size_t)(p[pos] << 8 | p[pos + 1]);
		ck_assert_uint_le(pos + 2 + mlen, total);
		ck_assert_uint_le(mlen, msg_max ? msg_max : 65535);
		if (mlen > x.max_msg)
			x.max_msg = mlen;
		ck_assert_int_eq(ldns_wire2pkt(&m, p + pos + 2, mlen), LDNS_STATUS_OK);
		ck_assert_uint_eq(ldns_pkt_id(m), 4242);
		ck_assert(ldns_pkt_qr(m));
		/* the question in the first message only (RFC 5936 2.2) */
		ck_assert_uint_eq(ldns_pkt_qdcount(m), x.messages == 0 ? 1 : 0);
		if (x.messages == 0)
			x.rcode = ldns_pkt_get_rcode(m);
		else
			ck_assert_int_eq(ldns_pkt_get_rcode(m), LDNS_RCODE_NOERROR);
		ck_assert_int_eq(ldns_pkt_aa(m), ldns_pkt_get_rcode(m) == LDNS_RCODE_NOERROR);
		for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(m)); i++)
			ldns_rr_list_push_rr(x.rrs,
			                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_answer(m), i)));
		ldns_pkt_free(m);
		x.messages++;
		pos += 2 + mlen;
	}
	ck_assert_uint_eq(x.messages, x.res.messages);
	ck_assert_uint_eq(ldns_rr_list_rr_count(x.rrs), x.res.records);
	evbuffer_free(out);
	free(q);
	return x;
}

static struct xfer axfr(struct dns_xfr_history *hist, const struct dns_table *tab)
{
	return run(hist, tab, "svc.example.", LDNS_RR_TYPE_AXFR, 0, 1, 0);
}

static struct xfer ixfr(struct dns_xfr_history *hist, const struct dns_table *tab, uint32_t serial)
{
	return run(hist, tab, "svc.example.", LDNS_RR_TYPE_IXFR, serial, 1, 0);
}

/* "owner TYPE rdata" of record i, lowercased. */
static const char *rr_text(const ldns_rr_list *l, size_t i)
{
	static char buf[1024];
	const ldns_rr *rr = ldns_rr_list_rr(l, i);
	char *owner = ldns_rdf2str(ldns_rr_owner(rr)),
	     *type = ldns_rr_type2str(ldns_rr_get_type(rr));
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s %s", owner, type);
	for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
		char *f = ldns_rdf2str(ldns_rr_rdf(rr, k));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", f);
		free(f);
	}
	free(owner);
	free(type);
	for (char *c = buf; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return buf;
}

/* How many records between from and to (excluded) read `text`. */
static size_t count_in(const ldns_rr_list *l, size_t from, size_t to, const char *text)
{
	size_t n = 0;
	for (size_t i = from; i < to; i++)
		n += !strcmp(rr_text(l, i), text);
	return n;
}

static size_t count(const ldns_rr_list *l, const char *text)
{
	return count_in(l, 0, ldns_rr_list_rr_count(l), text);
}

/* Records whose text contains s. */
static size_t count_sub(const ldns_rr_list *l, const char *s)
{
	size_t n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		n += strstr(rr_text(l, i), s) != NULL;
	return n;
}

static int is_soa(const ldns_rr_list *l, size_t i, uint32_t serial)
{
	const ldns_rr *rr = ldns_rr_list_rr(l, i);
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
	       ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)) == serial;
}

/* The AXFR form: SOA first and last, no other SOA. */
static void assert_axfr_form(const ldns_rr_list *l, uint32_t serial)
{
	size_t n = ldns_rr_list_rr_count(l);
	ck_assert_uint_ge(n, 3);
	ck_assert(is_soa(l, 0, serial));
	ck_assert(is_soa(l, n - 1, serial));
	ck_assert(!is_soa(l, 1, serial));
	ck_assert_uint_eq(count_sub(l, " soa "), 2);
}

START_TEST(axfr_zone_as_served)
{
	struct xfer x;
	tu_health_set(h, WEB, 1, 0); /* web-2 failing */
	x = axfr(NULL, t);
	if (getenv("XFR_DUMP"))
		for (size_t i = 0; i < x.res.records; i++)
			printf("%s\n", rr_text(x.rrs, i));
	ck_assert_int_eq(x.rcode, LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(x.messages, 1);
	assert_axfr_form(x.rrs, TU_SERIAL);
	ck_assert_uint_eq(x.res.serial, TU_SERIAL);
	ck_assert_int_eq(x.res.served, DNS_XFR_AXFR);
	/* services: each served address once (web-1 and web-4 share one) */
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 127.0.0.11"), 1);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. aaaa ::1"), 1);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. srv 0 1 8080 web-1.web.svc.example."), 1);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. srv 0 1 8082 web-4.web.svc.example."), 1);
	ck_assert_uint_eq(
	    count(x.rrs, "_web._tcp.svc.example. srv 0 1 8080 web-1.web.svc.example."), 1);
	ck_assert_uint_eq(
	    count(x.rrs, "_web._tcp.svc.example. srv 0 1 8080 web-3.web.svc.example."), 1);
	ck_assert_uint_eq(count(x.rrs, "canary.web.svc.example. a 127.0.0.11"), 1);
	ck_assert_uint_eq(
	    count(x.rrs, "_canary._tcp.web.svc.example. srv 0 1 8080 web-1.web.svc.example."), 1);
	ck_assert_uint_eq(count(x.rrs, "billing.svc.example. a 192.0.2.21"), 1);
	ck_assert_uint_eq(
	    count(x.rrs, "_billing._udp.svc.example. srv 0 1 7000 b1.billing.svc.example."), 1);
	/* instance names answer whatever their health, as srvd does */
	ck_assert_uint_eq(count(x.rrs, "web-1.web.svc.example. a 127.0.0.11"), 1);
	ck_assert_uint_eq(count(x.rrs, "web-2.web.svc.example. a 127.0.0.12"), 1);
	ck_assert_uint_eq(count(x.rrs, "web-3.web.svc.example. aaaa ::1"), 1);
	/* nothing else of the failing instance */
	ck_assert_uint_eq(count_sub(x.rrs, "127.0.0.12"), 1);
	ck_assert_uint_eq(count_sub(x.rrs, "web-2.web"), 1);
	/* static records of the service zone, not those of other zones */
	ck_assert_uint_eq(count(x.rrs, "docs.svc.example. txt \"static text\""), 1);
	ck_assert_uint_eq(count(x.rrs, "www.svc.example. cname web.svc.example."), 1);
	ck_assert_uint_eq(count(x.rrs, "ns1.svc.example. a 127.0.0.1"), 1);
	ck_assert_uint_eq(count_sub(x.rrs, "static.example."), 0);
	/* per-query names are left out */
	ck_assert_uint_eq(count_sub(x.rrs, "_health"), 0);
	ck_assert_uint_eq(count_sub(x.rrs, "_ready"), 0);
	ck_assert_uint_eq(x.res.records, AXFR_RECORDS);
	xfer_free(&x);
}
END_TEST

/* The answer features in a transfer (README "Failover, locality and sticky
 * answers"): A/AAAA of the serving failover tier only, SRV of every tier,
 * the TTL `ttl` even while answers carry ttl_min, no tag pair names, and
 * every site's instances (locality is per client). */
START_TEST(axfr_answer_features)
{
	struct dns_table *ft = tu_table("server:\n"
	                                "  zone: svc.example.\n"
	                                "  sites: {east: [10.1.0.0/16]}\n"
	                                "defaults: {check: {type: none}}\n"
	                                "services:\n"
	                                "  web:\n"
	                                "    port: 80\n"
	                                "    ttl: 30\n"
	                                "    ttl_min: 1\n"
	                                "    failover: true\n"
	                                "    locality: prefer\n"
	                                "    instances:\n"
	                                "      - {name: a1, address: 192.0.2.1, tags: [x, y],\n"
	                                "         site: east}\n"
	                                "      - {name: a2, address: 192.0.2.2, tags: [x]}\n"
	                                "      - {name: b1, address: 192.0.2.3, priority: 1,\n"
	                                "         tags: [x, y]}\n");
	struct tu_health *fh = tu_health_bind(ft);
	struct xfer x;

	tu_health_set(fh, 0, 1, 0); /* a2 failing: unstable, ttl_min in answers */
	x = axfr(NULL, ft);
	ck_assert_int_eq(x.rcode, LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 192.0.2.1"), 1);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 192.0.2.3"), 0);
	ck_assert_uint_eq(count(x.rrs, "x.web.svc.example. a 192.0.2.1"), 1);
	ck_assert_uint_eq(count(x.rrs, "x.web.svc.example. a 192.0.2.3"), 0);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. srv 1 1 80 b1.web.svc.example."), 1);
	ck_assert_uint_eq(count_sub(x.rrs, "x.y.web"), 0);
	ck_assert_uint_eq(count_sub(x.rrs, "y.x.web"), 0);
	for (size_t i = 0; i < ldns_rr_list_rr_count(x.rrs); i++)
		if (strstr(rr_text(x.rrs, i), "web.svc.example."))
			ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(x.rrs, i)), 30);
	xfer_free(&x);
	/* the first tier gone: the next one's addresses */
	tu_health_set(fh, 0, 0, 0);
	x = axfr(NULL, ft);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 192.0.2.3"), 1);
	ck_assert_uint_eq(count_sub(x.rrs, " a 192.0.2.1"), 1); /* its own name only */
	xfer_free(&x);
	dns_table_free(ft);
	tu_health_free(fh);
}
END_TEST

START_TEST(refused_notauth_formerr)
{
	struct xfer x = run(NULL, t, "svc.example.", LDNS_RR_TYPE_AXFR, 0, 0, 0);
	ck_assert_int_eq(x.rcode, LDNS_RCODE_REFUSED);
	ck_assert_uint_eq(x.messages, 1);
	ck_assert_uint_eq(x.res.records, 0);
	ck_assert_int_eq(x.res.served, DNS_XFR_NONE);
	xfer_free(&x);
	x = run(NULL, t, "svc.example.", LDNS_RR_TYPE_IXFR, 1, 0, 0);
	ck_assert_int_eq(x.rcode, LDNS_RCODE_REFUSED);
	ck_assert_uint_eq(x.res.records, 0);
	xfer_free(&x);
	/* not the service zone: another zone srvd serves, a name inside it */
	x = run(NULL, t, "static.example.", LDNS_RR_TYPE_AXFR, 0, 1, 0);
	ck_assert_int_eq(x.rcode, LDNS_RCODE_NOTAUTH);
	ck_assert_uint_eq(x.res.records, 0);
	xfer_free(&x);
	x = run(NULL, t, "web.svc.example.", LDNS_RR_TYPE_AXFR, 0, 1, 0);
	ck_assert_int_eq(x.rcode, LDNS_RCODE_NOTAUTH);
	xfer_free(&x);
}
END_TEST

START_TEST(ixfr_without_soa_is_formerr)
{
	struct evbuffer *out = evbuffer_new();
	struct dns_xfr_result res;
	size_t qlen;
	uint8_t *q = make_query("svc.example.", LDNS_RR_TYPE_AXFR, 0, &qlen), *p;
	ck_assert_int_eq(dns_xfr_query_kind(q, qlen), DNS_XFR_AXFR);
	q[12 + 13 + 1] = 251; /* AXFR -> IXFR, with no SOA in authority */
	ck_assert_int_eq(dns_xfr_query_kind(q, qlen), DNS_XFR_IXFR);
	ck_assert_int_eq(dns_xfr_answer(NULL, t, q, qlen, 1, 0, out, &res), 0);
	ck_assert_uint_eq(res.rcode, 1);
	p = evbuffer_pullup(out, -1);
	ck_assert_uint_eq(p[2 + 3] & 0x0F, 1);
	q[12 + 13 + 1] = 1; /* an A query is not a transfer */
	ck_assert_int_eq(dns_xfr_query_kind(q, qlen), DNS_XFR_NONE);
	q[2] |= 0x80; /* nor is a response */
	q[12 + 13 + 1] = 252;
	ck_assert_int_eq(dns_xfr_query_kind(q, qlen), DNS_XFR_NONE);
	free(q);
	evbuffer_free(out);
}
END_TEST

START_TEST(ixfr_diffs)
{
	struct dns_xfr_history *hist = dns_xfr_history_create(0, 0);
	struct dns_table *t2;
	struct tu_health *h2;
	struct xfer x;
	uint32_t s1 = TU_SERIAL, s2, s3;
	size_t n, second;

	ck_assert_ptr_nonnull(hist);
	/* a secondary takes the zone at s1 */
	x = axfr(hist, t);
	assert_axfr_form(x.rrs, s1);
	xfer_free(&x);
	/* up to date: the current SOA alone */
	x = ixfr(hist, t, s1);
	ck_assert_uint_eq(x.res.records, 1);
	ck_assert(is_soa(x.rrs, 0, s1));
	ck_assert_int_eq(x.res.served, DNS_XFR_IXFR);
	xfer_free(&x);

	/* web-2 fails: the serial goes up, IXFR from s1 deletes its records */
	tu_health_set(h, WEB, 1, 0);
	dns_table_bump_serial(t);
	s2 = dns_table_serial(t);
	ck_assert(s2 != s1);
	x = ixfr(hist, t, s1);
	ck_assert_int_eq(x.res.served, DNS_XFR_IXFR);
	n = x.res.records;
	/* SOA s2, SOA s1, deletions, SOA s2, additions, SOA s2 */
	ck_assert(is_soa(x.rrs, 0, s2));
	ck_assert(is_soa(x.rrs, 1, s1));
	for (second = 2; second < n && !is_soa(x.rrs, second, s2); second++)
		;
	ck_assert_uint_lt(second, n - 1);
	ck_assert(is_soa(x.rrs, n - 1, s2));
	ck_assert_uint_eq(count_sub(x.rrs, " soa "), 4);
	ck_assert_uint_eq(count_in(x.rrs, 2, second, "web.svc.example. a 127.0.0.12"), 1);
	ck_assert_uint_eq(
	    count_in(x.rrs, 2, second, "web.svc.example. srv 0 1 8081 web-2.web.svc.example."), 1);
	ck_assert_uint_eq(count_in(x.rrs, 2, second,
	                           "_web._tcp.svc.example. srv 0 1 8081 web-2.web.svc.example."),
	                  1);
	ck_assert_uint_eq(second, 5);     /* those three and nothing else */
	ck_assert_uint_eq(n, second + 2); /* no additions */
	xfer_free(&x);

	/* a registry change (new table, later serial, web-2 served again by
	 * its fresh state) adds an instance: IXFR from s2 adds web-2's records
	 * and web-5's */
	{
		char *y = malloc(strlen(yaml) + 128);
		const char *at = strstr(yaml, "  billing:");
		ck_assert_ptr_nonnull(y);
		memcpy(y, yaml, (size_t)(at - yaml));
		strcpy(y + (at - yaml), "      - {name: web-5, address: 127.0.0.15}\n");
		strcat(y, at);
		t2 = tu_table(y);
		free(y);
	}
	h2 = tu_health_bind(t2);
	s3 = s2 + 10;
	while (dns_table_serial(t2) != s3)
		dns_table_bump_serial(t2); /* serial arithmetic: reach s3 or beyond */
	x = ixfr(hist, t2, s1);
	ck_assert_int_eq(x.res.served, DNS_XFR_IXFR);
	xfer_free(&x);
	x = ixfr(hist, t2, s2);
	n = x.res.records;
	ck_assert(is_soa(x.rrs, 0, s3));
	ck_assert(is_soa(x.rrs, 1, s2));
	ck_assert(is_soa(x.rrs, 2, s3)); /* no deletions: web-2 was withdrawn at s2 */
	ck_assert(is_soa(x.rrs, n - 1, s3));
	ck_assert_uint_eq(count_in(x.rrs, 3, n - 1, "web.svc.example. a 127.0.0.12"), 1);
	ck_assert_uint_eq(count_in(x.rrs, 3, n - 1, "web.svc.example. a 127.0.0.15"), 1);
	ck_assert_uint_eq(count_in(x.rrs, 3, n - 1, "web-5.web.svc.example. a 127.0.0.15"), 1);
	ck_assert_uint_eq(count_sub(x.rrs, " soa "), 4);
	xfer_free(&x);

	/* a serial never seen: the whole zone (RFC 1995 4) */
	x = ixfr(hist, t2, s1 - 5);
	ck_assert_int_eq(x.res.asked, DNS_XFR_IXFR);
	ck_assert_int_eq(x.res.served, DNS_XFR_AXFR);
	assert_axfr_form(x.rrs, s3);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 127.0.0.15"), 1);
	xfer_free(&x);
	dns_table_free(t2);
	tu_health_free(h2);
	dns_xfr_history_free(hist);
}
END_TEST

START_TEST(ixfr_history_short)
{
	struct dns_xfr_history *hist = dns_xfr_history_create(2, 0);
	uint32_t s1 = dns_table_serial(t), s2, s3;
	struct xfer x;

	ck_assert_int_eq(dns_xfr_history_record(hist, t), 0);
	tu_health_set(h, WEB, 0, 0);
	dns_table_bump_serial(t);
	s2 = dns_table_serial(t);
	ck_assert_int_eq(dns_xfr_history_record(hist, t), 0);
	x = ixfr(hist, t, s1);
	ck_assert_int_eq(x.res.served, DNS_XFR_IXFR); /* s1 still kept */
	xfer_free(&x);
	tu_health_set(h, WEB, 2, 0);
	dns_table_bump_serial(t);
	s3 = dns_table_serial(t);
	ck_assert_int_eq(dns_xfr_history_record(hist, t), 0);
	/* two versions kept: s2 and s3; s1 is gone */
	x = ixfr(hist, t, s1);
	ck_assert_int_eq(x.res.served, DNS_XFR_AXFR);
	assert_axfr_form(x.rrs, s3);
	xfer_free(&x);
	x = ixfr(hist, t, s2);
	ck_assert_int_eq(x.res.served, DNS_XFR_IXFR);
	ck_assert(is_soa(x.rrs, 1, s2));
	xfer_free(&x);
	/* the same serial with other contents (a health change whose bump has
	 * not happened yet): never a diff base */
	tu_health_set(h, WEB, 2, 1);
	ck_assert_int_eq(dns_xfr_history_record(hist, t), 0);
	tu_health_set(h, WEB, 2, 0);
	dns_table_bump_serial(t);
	x = ixfr(hist, t, s3);
	ck_assert_int_eq(x.res.served, DNS_XFR_AXFR);
	xfer_free(&x);
	dns_xfr_history_free(hist);
}
END_TEST

START_TEST(sends_recorded_version)
{
	/* a health change waiting for its serial bump is not sent under the
	 * old serial: the transfer sends what that serial was recorded as */
	struct dns_xfr_history *hist = dns_xfr_history_create(0, 0);
	struct xfer x;

	ck_assert_int_eq(dns_xfr_history_record(hist, t), 0);
	tu_health_set(h, WEB, 1, 0);
	x = axfr(hist, t);
	assert_axfr_form(x.rrs, TU_SERIAL);
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 127.0.0.12"), 1);
	xfer_free(&x);
	/* once bumped (and recorded or not), the new content */
	dns_table_bump_serial(t);
	x = axfr(hist, t);
	assert_axfr_form(x.rrs, dns_table_serial(t));
	ck_assert_uint_eq(count(x.rrs, "web.svc.example. a 127.0.0.12"), 0);
	xfer_free(&x);
	dns_xfr_history_free(hist);
}
END_TEST

static int allows(const struct dns_xfr_acl *acl, const char *addr)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return dns_xfr_acl_allows(acl, (struct sockaddr *)&ss);
}

START_TEST(acl_prefixes)
{
	char *list[] = {"127.0.0.0/8", "::1", "2001:db8::/32", "192.0.2.128/25"};
	char *bad[] = {"1.2.3.4/33"}, *bad2[] = {"nope"}, *bad3[] = {"10.0.0.0/"};
	struct dns_xfr_acl *acl = NULL, *none = NULL, *junk = NULL;
	char err[128];

	ck_assert_int_eq(dns_xfr_acl_create(list, 4, &acl, err, sizeof(err)), 0);
	ck_assert(allows(acl, "127.0.0.1"));
	ck_assert(allows(acl, "127.255.1.2"));
	ck_assert(allows(acl, "::1"));
	ck_assert(allows(acl, "::ffff:127.0.0.1"));
	ck_assert(allows(acl, "2001:db8:ffff::1"));
	ck_assert(allows(acl, "192.0.2.200"));
	ck_assert(!allows(acl, "192.0.2.100"));
	ck_assert(!allows(acl, "128.0.0.1"));
	ck_assert(!allows(acl, "10.0.0.1"));
	ck_assert(!allows(acl, "::2"));
	ck_assert(!allows(acl, "2001:db9::1"));
	ck_assert(!allows(acl, "::ffff:10.0.0.1"));
	ck_assert(!dns_xfr_acl_allows(NULL, NULL));
	ck_assert_int_eq(dns_xfr_acl_create(list, 0, &none, err, sizeof(err)), 0);
	ck_assert(!allows(none, "127.0.0.1"));
	ck_assert(!allows(NULL, "127.0.0.1"));
	ck_assert_int_eq(dns_xfr_acl_create(bad, 1, &junk, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "1.2.3.4/33"));
	ck_assert_int_eq(dns_xfr_acl_create(bad2, 1, &junk, err, sizeof(err)), -1);
	ck_assert_int_eq(dns_xfr_acl_create(bad3, 1, &junk, err, sizeof(err)), -1);
	ck_assert_ptr_null(junk);
	dns_xfr_acl_free(acl);
	dns_xfr_acl_free(none);
}
END_TEST

/* A registry of services × per instances, check none, distinct addresses:
 * 3 records per instance (service A, SRV under the service and _svc._tcp)
 * plus the instance's own A. */
static struct dns_table *big_table(size_t services, size_t per)
{
	size_t cap = 256 + services * (64 + per * 80), n = 0;
	char *y = malloc(cap);
	struct dns_table *tab;
	ck_assert_ptr_nonnull(y);
	n += (size_t)snprintf(y + n, cap - n,
	                      "server:\n  zone: svc.example.\n"
	                      "  soa: {mname: ns1.svc.example., rname: h.svc.example.}\n"
	                      "defaults:\n  check: {type: none}\nservices:\n");
	for (size_t s = 0; s < services; s++) {
		n += (size_t)snprintf(y + n, cap - n, "  s%zu:\n    port: 80\n    instances:\n", s);
		for (size_t i = 0; i < per; i++) {
			size_t a = s * per + i;
			n += (size_t)snprintf(y + n, cap - n,
			                      "      - {name: i%zu, address: 198.%zu.%zu.%zu}\n", i,
			                      18 + a / 65536, (a / 256) % 256, a % 256);
		}
	}
	tab = tu_table(y);
	free(y);
	return tab;
}

START_TEST(split_messages)
{
	struct dns_table *b = big_table(4, 1500); /* 24,000 records */
	struct xfer whole = axfr(NULL, b), small;
	size_t n = whole.res.records;

	ck_assert_uint_eq(n, 4 * 1500 * 4 + 3); /* + 2 SOA, apex NS */
	assert_axfr_form(whole.rrs, TU_SERIAL);
	ck_assert_uint_ge(whole.messages, 2);
	/* every message but the last is nearly full */
	ck_assert_uint_gt(whole.max_msg, 65535 - 200);
	small = run(NULL, b, "svc.example.", LDNS_RR_TYPE_AXFR, 0, 1, 512);
	ck_assert_uint_eq(small.res.records, n);
	ck_assert_uint_le(small.max_msg, 512);
	ck_assert_uint_gt(small.messages, whole.messages * 50);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(
		    ldns_rr_compare(ldns_rr_list_rr(whole.rrs, i), ldns_rr_list_rr(small.rrs, i)),
		    0);
	xfer_free(&whole);
	xfer_free(&small);
	dns_table_free(b);
}
END_TEST

/* Runs st to its end into one buffer, `until` bytes at a time, as a client
 * reading between calls would; checks each call's bound. Returns the calls. */
static size_t pump(struct dns_xfr_stream *st, struct evbuffer *all, size_t until)
{
	struct evbuffer *out = evbuffer_new();
	size_t calls = 0;
	int rc;

	ck_assert_ptr_nonnull(out);
	do {
		rc = dns_xfr_stream_next(st, out, until);
		ck_assert_int_ge(rc, 0);
		calls++;
		/* at most one message past the mark */
		ck_assert_uint_le(evbuffer_get_length(out), until + 2 + 65535);
		if (rc == 0)
			ck_assert_uint_ge(evbuffer_get_length(out), until);
		evbuffer_add_buffer(all, out);
	} while (rc == 0);
	evbuffer_free(out);
	return calls;
}

static int same_bytes(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);
	return n == evbuffer_get_length(b) &&
	       memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0;
}

START_TEST(stream_outlives_table_and_history)
{
	struct dns_table *b = big_table(4, 1500); /* 24,000 records, ~0.5 MB */
	struct dns_xfr_history *hist = dns_xfr_history_create(0, 0);
	struct evbuffer *whole = evbuffer_new(), *streamed = evbuffer_new();
	struct dns_xfr_stream *st;
	struct dns_xfr_result res;
	size_t qlen, calls;
	uint8_t *q = make_query("svc.example.", LDNS_RR_TYPE_AXFR, 0, &qlen);

	ck_assert_int_eq(dns_xfr_answer(NULL, b, q, qlen, 1, 0, whole, &res), 0);
	st = dns_xfr_stream_start(hist, b, q, qlen, 1, 0, 0);
	ck_assert_ptr_nonnull(st);
	/* a reload frees the table, the history drops the version: the stream
	 * sends what it started with (ASan would see a use after free) */
	dns_table_free(b);
	dns_xfr_history_free(hist);
	calls = pump(st, streamed, 16 * 1024);
	ck_assert_uint_gt(res.messages, 10);
	ck_assert_uint_eq(calls, res.messages); /* one 64 KB message per call */
	ck_assert(same_bytes(whole, streamed));
	ck_assert_uint_eq(dns_xfr_stream_result(st)->records, res.records);
	ck_assert_uint_eq(dns_xfr_stream_result(st)->messages, res.messages);
	ck_assert_int_eq(dns_xfr_stream_result(st)->served, DNS_XFR_AXFR);
	dns_xfr_stream_free(st);
	evbuffer_free(whole);
	evbuffer_free(streamed);
	free(q);
}
END_TEST

START_TEST(stream_ixfr_message_at_a_time)
{
	struct dns_xfr_history *hist = dns_xfr_history_create(0, 0);
	struct evbuffer *whole = evbuffer_new(), *streamed = evbuffer_new();
	struct dns_xfr_stream *st;
	struct dns_xfr_result res;
	struct xfer x = axfr(hist, t); /* records s1 */
	size_t qlen;
	uint8_t *q = make_query("svc.example.", LDNS_RR_TYPE_IXFR, TU_SERIAL, &qlen);

	xfer_free(&x);
	tu_health_set(h, WEB, 1, 0);
	dns_table_bump_serial(t);
	ck_assert_int_eq(dns_xfr_answer(hist, t, q, qlen, 1, 512, whole, &res), 0);
	ck_assert_int_eq(res.served, DNS_XFR_IXFR);
	st = dns_xfr_stream_start(hist, t, q, qlen, 1, 0, 512);
	ck_assert_ptr_nonnull(st);
	dns_xfr_history_free(hist); /* the stream holds both versions */
	ck_assert_uint_eq(pump(st, streamed, 1), res.messages);
	ck_assert(same_bytes(whole, streamed));
	dns_xfr_stream_free(st);
	evbuffer_free(whole);
	evbuffer_free(streamed);
	free(q);
}
END_TEST

/* The rcode of the single message a stream sends. */
static int busy_rcode(const char *zone, int allowed)
{
	struct evbuffer *out = evbuffer_new();
	size_t qlen;
	uint8_t *q = make_query(zone, LDNS_RR_TYPE_AXFR, 0, &qlen), *p;
	struct dns_xfr_stream *st = dns_xfr_stream_start(NULL, t, q, qlen, allowed, 1, 0);
	int rcode;

	ck_assert_int_eq(dns_xfr_stream_next(st, out, SIZE_MAX), 1);
	ck_assert_uint_eq(dns_xfr_stream_result(st)->messages, 1);
	ck_assert_int_eq(dns_xfr_stream_result(st)->served, DNS_XFR_NONE);
	p = evbuffer_pullup(out, -1);
	ck_assert_uint_eq(evbuffer_get_length(out), 2 + (size_t)(p[0] << 8 | p[1]));
	rcode = p[2 + 3] & 0x0F;
	ck_assert_int_eq(rcode, dns_xfr_stream_result(st)->rcode);
	dns_xfr_stream_free(st);
	evbuffer_free(out);
	free(q);
	return rcode;
}

START_TEST(busy_servfail_after_acl_and_zone)
{
	ck_assert_int_eq(busy_rcode("svc.example.", 1), LDNS_RCODE_SERVFAIL);
	/* the ACL and the zone are checked first */
	ck_assert_int_eq(busy_rcode("svc.example.", 0), LDNS_RCODE_REFUSED);
	ck_assert_int_eq(busy_rcode("other.example.", 1), LDNS_RCODE_NOTAUTH);
}
END_TEST

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

START_TEST(timing_100k)
{
	struct dns_table *b = big_table(25, 1000); /* 100,000 records */
	struct dns_xfr_history *hist = dns_xfr_history_create(0, 0);
	struct evbuffer *out = evbuffer_new();
	struct dns_xfr_result res;
	size_t qlen;
	uint8_t *q = make_query("svc.example.", LDNS_RR_TYPE_AXFR, 0, &qlen);
	double t0 = now_ms(), t1;

	ck_assert_int_eq(dns_xfr_answer(hist, b, q, qlen, 1, 0, out, &res), 0);
	t1 = now_ms();
	ck_assert_uint_eq(res.records, 100000 + 3);
	printf("xfr: AXFR of %zu records: %zu messages, %zu bytes, %.1f ms\n", res.records,
	       res.messages, evbuffer_get_length(out), t1 - t0);
	evbuffer_drain(out, evbuffer_get_length(out));
	free(q);
	q = make_query("svc.example.", LDNS_RR_TYPE_IXFR, TU_SERIAL, &qlen);
	dns_table_bump_serial(b);
	t0 = now_ms();
	ck_assert_int_eq(dns_xfr_answer(hist, b, q, qlen, 1, 0, out, &res), 0);
	t1 = now_ms();
	ck_assert_int_eq(res.served, DNS_XFR_IXFR);
	printf("xfr: IXFR of a 100,000-record zone (no change but the serial): %zu records, %.1f "
	       "ms\n",
	       res.records, t1 - t0);
	free(q);
	evbuffer_free(out);
	dns_xfr_history_free(hist);
	dns_table_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("xfr");
	TCase *tc = tcase_create("xfr");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, axfr_zone_as_served);
	tcase_add_test(tc, axfr_answer_features);
	tcase_add_test(tc, refused_notauth_formerr);
	tcase_add_test(tc, ixfr_without_soa_is_formerr);
	tcase_add_test(tc, ixfr_diffs);
	tcase_add_test(tc, ixfr_history_short);
	tcase_add_test(tc, sends_recorded_version);
	tcase_add_test(tc, acl_prefixes);
	tcase_add_test(tc, split_messages);
	tcase_add_test(tc, stream_outlives_table_and_history);
	tcase_add_test(tc, stream_ixfr_message_at_a_time);
	tcase_add_test(tc, busy_servfail_after_acl_and_zone);
	tcase_add_test(tc, timing_100k);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

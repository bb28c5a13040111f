/* SPDX-License-Identifier: BSD-3-Clause */
/* test_protocol.c: dns_answer() on malformed and unusual queries (RFC 1035,
 * RFC 6891, RFC 8482), and response sizes and truncation. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

static const char *yaml = "server:\n"
                          "  zone: svc.example.\n"
                          "  max_answers: 0\n"
                          "  edns_udp_size: 1232\n"
                          "defaults:\n"
                          "  policy: fixed\n"
                          "  check: {type: none}\n"
                          "services:\n"
                          "  web:\n"
                          "    port: 80\n"
                          "    instances:\n"
                          "      - {name: w1, address: 192.0.2.1}\n"
                          "      - {name: w2, address: 192.0.2.2}\n";

static struct dns_table *t;
static struct dns_ctx *ctx;
static uint8_t out[DNS_MAX_MSG];

static void setup(void)
{
	t = tu_table(yaml);
	ctx = dns_ctx_create(7);
}

static void teardown(void)
{
	dns_table_free(t);
	dns_ctx_free(ctx);
}

/* A hand-made packet. */
struct pkt {
	uint8_t b[1024];
	size_t n;
};

static void p16(struct pkt *p, uint16_t v)
{
	p->b[p->n++] = (uint8_t)(v >> 8);
	p->b[p->n++] = (uint8_t)v;
}

static void pbytes(struct pkt *p, const void *d, size_t n)
{
	if (n)
		memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void header(struct pkt *p, uint8_t flags2, uint16_t qd, uint16_t an, uint16_t ns,
                   uint16_t ar)
{
	p->n = 0;
	p16(p, 0xBEEF);
	p->b[p->n++] = flags2;
	p->b[p->n++] = 0;
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}

/* "\3web\3svc\7example\0" A IN */
static void question(struct pkt *p)
{
	pbytes(p, "\3web\3svc\7example\0", 17);
	p16(p, 1);
	p16(p, 1);
}

/* OPT: root owner, size 1232, version, rdata as given */
static void opt(struct pkt *p, uint8_t version, const uint8_t *rdata, uint16_t rdlen)
{
	p->b[p->n++] = 0;
	p16(p, 41);
	p16(p, 1232);
	p->b[p->n++] = 0;
	p->b[p->n++] = version;
	p16(p, 0);
	p16(p, rdlen);
	pbytes(p, rdata, rdlen);
}

static int rcode_of(const uint8_t *r)
{
	return r[3] & 0x0F;
}

static uint16_t count(const uint8_t *r, int section)
{
	return (uint16_t)(r[4 + 2 * section] << 8 | r[5 + 2 * section]);
}

/* Asserts a FORMERR-style error reply with the given rcode and qdcount. */
static size_t assert_error(const struct pkt *p, int rcode, int qd)
{
	size_t n = tu_raw(ctx, t, p->b, p->n, DNS_UDP, out);
	ldns_pkt *r = NULL;
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, 512);
	ck_assert_int_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	ldns_pkt_free(r);
	ck_assert_uint_eq(out[0], 0xBE);
	ck_assert_uint_eq(out[1], 0xEF);
	ck_assert(out[2] & 0x80);
	ck_assert(!(out[2] & 0x04)); /* no AA */
	ck_assert_int_eq((out[2] >> 3) & 0x0F, (p->b[2] >> 3) & 0x0F);
	ck_assert_int_eq(rcode_of(out), rcode);
	ck_assert_uint_eq(count(out, 0), qd);
	ck_assert_uint_eq(count(out, 1), 0);
	ck_assert_uint_eq(count(out, 2), 0);
	return n;
}

START_TEST(case_and_rd)
{
	struct tu_opts o = {.rd = 1};
	size_t len;
	ldns_pkt *p =
	    tu_ask(ctx, t, "WeB.sVc.EXAMPLE.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, &len);
	/* tu_ask compares the echoed question byte for byte, and RD */
	ck_assert_ptr_nonnull(p);
	ck_assert(ldns_pkt_rd(p));
	ck_assert_uint_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
	ldns_pkt_free(p);
	o.rd = 0;
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, &len);
	ck_assert(!ldns_pkt_rd(p));
	ldns_pkt_free(p);
}
END_TEST

START_TEST(drops)
{
	struct pkt p;
	header(&p, 0x01, 1, 0, 0, 0);
	question(&p);
	ck_assert_uint_gt(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 0);
	for (size_t n = 0; n < 12; n++)
		ck_assert_uint_eq(tu_raw(ctx, t, p.b, n, DNS_UDP, out), 0);
	p.b[2] |= 0x80; /* a response */
	ck_assert_uint_eq(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 0);
	ck_assert_uint_eq(tu_raw(ctx, t, p.b, p.n, DNS_TCP, out), 0);
}
END_TEST

START_TEST(counts)
{
	struct pkt p;
	header(&p, 0x01, 0, 0, 0, 0);
	assert_error(&p, 1, 0);
	ck_assert(out[2] & 0x01); /* RD copied */
	header(&p, 0, 2, 0, 0, 0);
	question(&p);
	question(&p);
	assert_error(&p, 1, 0);
	header(&p, 0, 1, 1, 0, 0);
	question(&p);
	assert_error(&p, 1, 1); /* the answer record is missing */
	header(&p, 0, 1, 0, 1, 0);
	question(&p);
	assert_error(&p, 1, 1); /* the authority record is missing too */
}
END_TEST

/* Records in the answer and authority sections of a query are skipped with
 * every bound checked (an IXFR query carries the client's SOA, RFC 1995 3);
 * an OPT there is still FORMERR. */
START_TEST(answer_and_authority_records)
{
	static const uint8_t a_rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4};
	/* the client's SOA, owner the question name: mname ".", rname ".",
	 * serial 7, then refresh, retry, expire and minimum 0 */
	static const uint8_t soa_rr[34] = {0xC0, 0x0C, 0,  6, 0, 1, 0, 0, 0,
	                                   0,    0,    22, 0, 0, 0, 0, 0, 7};
	static const uint8_t opt_rr[] = {0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0};
	struct pkt p;
	size_t n;

	/* `dig svc.example IXFR=1`: REFUSED like AXFR, not FORMERR */
	header(&p, 0, 1, 0, 1, 0);
	pbytes(&p, "\3svc\7example\0", 13);
	p16(&p, 251);
	p16(&p, 1);
	pbytes(&p, soa_rr, sizeof(soa_rr));
	n = tu_raw(ctx, t, p.b, p.n, DNS_TCP, out);
	ck_assert_uint_eq(n, 12 + 17);
	ck_assert_int_eq(rcode_of(out), 5);
	ck_assert_uint_eq(count(out, 0), 1);
	ck_assert_mem_eq(out + 12, p.b + 12, 17);

	/* a query with answer and authority records is answered normally */
	header(&p, 0, 1, 1, 1, 0);
	question(&p);
	pbytes(&p, a_rr, sizeof(a_rr));
	pbytes(&p, a_rr, sizeof(a_rr));
	n = tu_raw(ctx, t, p.b, p.n, DNS_UDP, out);
	ck_assert_uint_eq(n, 12 + 21 + 2 * 16);
	ck_assert_int_eq(rcode_of(out), 0);
	ck_assert(out[2] & 0x04);
	ck_assert_uint_eq(count(out, 1), 2);
	ck_assert_uint_eq(count(out, 2), 0);
	ck_assert_uint_eq(count(out, 3), 0);

	/* ... and with EDNS after them */
	header(&p, 0, 1, 0, 1, 1);
	question(&p);
	pbytes(&p, a_rr, sizeof(a_rr));
	opt(&p, 0, NULL, 0);
	n = tu_raw(ctx, t, p.b, p.n, DNS_UDP, out);
	ck_assert_int_eq(rcode_of(out), 0);
	ck_assert_uint_eq(count(out, 1), 2);
	ck_assert_uint_eq(count(out, 3), 1);

	/* OPT in authority or answer, a record running past the end, a bad
	 * owner name: FORMERR */
	for (int sec = 0; sec < 2; sec++) {
		header(&p, 0, 1, sec == 0, sec == 1, 0);
		question(&p);
		pbytes(&p, opt_rr, sizeof(opt_rr));
		assert_error(&p, 1, 1);
	}
	header(&p, 0, 1, 0, 1, 0);
	question(&p);
	pbytes(&p, a_rr, sizeof(a_rr) - 1);
	assert_error(&p, 1, 1);
	header(&p, 0, 1, 0, 1, 0);
	question(&p);
	pbytes(&p, "\xC0\x30", 2); /* a pointer forwards */
	pbytes(&p, a_rr + 2, sizeof(a_rr) - 2);
	assert_error(&p, 1, 1);
}
END_TEST

/* Not QUERY: NOTIMP as a bare header (ID, QR, opcode), whatever the flags
 * (RD, CD and AD are QUERY's) and the body (malformed, or with an OPT). */
START_TEST(opcodes)
{
	struct pkt p;
	for (uint8_t op = 1; op < 16; op++) {
		const uint8_t want[12] = {0xBE, 0xEF, (uint8_t)(0x80 | op << 3), 4};

		header(&p, (uint8_t)(op << 3 | 0x07), 1, 0, 0, 1); /* AA, TC, RD */
		p.b[3] = 0x70;                                     /* Z, AD, CD */
		question(&p);
		p.b[p.n++] = 0; /* an OPT */
		p16(&p, 41);
		p16(&p, 1232);
		pbytes(&p, "\0\0\0\0\0\0", 6);
		for (int tr = DNS_UDP; tr <= DNS_TCP; tr++) {
			ck_assert_uint_eq(tu_raw(ctx, t, p.b, p.n, (enum dns_transport)tr, out),
			                  12);
			ck_assert_mem_eq(out, want, 12);
		}
		header(&p, (uint8_t)(op << 3), 7, 1, 0, 0); /* counts that lie */
		ck_assert_uint_eq(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 12);
		ck_assert_mem_eq(out, want, 12);
	}
}
END_TEST

START_TEST(bad_names)
{
	struct pkt p;
	uint8_t label[64];
	/* compression pointer in the question */
	header(&p, 0, 1, 0, 0, 0);
	pbytes(&p, "\3web\xC0\x0C", 6);
	p16(&p, 1);
	p16(&p, 1);
	assert_error(&p, 1, 0);
	/* label of 64 octets */
	header(&p, 0, 1, 0, 0, 0);
	memset(label, 'a', sizeof(label));
	p.b[p.n++] = 64;
	pbytes(&p, label, 64);
	p.b[p.n++] = 0;
	p16(&p, 1);
	p16(&p, 1);
	assert_error(&p, 1, 0);
	/* 63 is fine (REFUSED: not ours) */
	header(&p, 0, 1, 0, 0, 0);
	p.b[p.n++] = 63;
	pbytes(&p, label, 63);
	p.b[p.n++] = 0;
	p16(&p, 1);
	p16(&p, 1);
	ck_assert_uint_gt(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 0);
	ck_assert_int_eq(rcode_of(out), 5);
	/* 255 octets is the longest name; 257 is too long */
	for (int total = 255; total <= 257; total += 2) {
		header(&p, 0, 1, 0, 0, 0);
		for (int i = 0; i < 3; i++) {
			p.b[p.n++] = 63;
			pbytes(&p, label, 63);
		}
		p.b[p.n++] = (uint8_t)(total - 3 * 64 - 2);
		pbytes(&p, label, (size_t)(total - 3 * 64 - 2));
		p.b[p.n++] = 0;
		p16(&p, 1);
		p16(&p, 1);
		if (total == 255) {
			ck_assert_uint_gt(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 0);
			ck_assert_int_eq(rcode_of(out), 5);
		} else {
			assert_error(&p, 1, 0);
		}
	}
	/* extended label type 0x40 */
	header(&p, 0, 1, 0, 0, 0);
	pbytes(&p, "\x41\x00", 2);
	p16(&p, 1);
	p16(&p, 1);
	assert_error(&p, 1, 0);
}
END_TEST

START_TEST(opt_records)
{
	struct pkt p;
	static const uint8_t unknown_opt[] = {0xFD, 0xE9, 0, 4, 1, 2, 3, 4};
	ldns_pkt *r = NULL;
	size_t n;

	/* two OPT: FORMERR, and the reply carries an OPT */
	header(&p, 0, 1, 0, 0, 2);
	question(&p);
	opt(&p, 0, NULL, 0);
	opt(&p, 0, NULL, 0);
	n = assert_error(&p, 1, 1);
	ck_assert_uint_eq(count(out, 3), 1);
	ck_assert_uint_eq(out[n - 11 + 2], 41);

	/* OPT in the answer section */
	header(&p, 0, 1, 1, 0, 0);
	question(&p);
	opt(&p, 0, NULL, 0);
	assert_error(&p, 1, 1);

	/* OPT whose owner is not the root */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	pbytes(&p, "\1x", 2);
	opt(&p, 0, NULL, 0);
	assert_error(&p, 1, 1);

	/* option running past the rdata */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	opt(&p, 0, unknown_opt, 6);
	p.b[p.n - 6 + 3] = 9;
	assert_error(&p, 1, 1);

	/* qtype OPT */
	header(&p, 0, 1, 0, 0, 0);
	pbytes(&p, "\3web\3svc\7example\0", 17);
	p16(&p, 41);
	p16(&p, 1);
	assert_error(&p, 1, 1);

	/* unknown option ignored: a normal answer, OPT echoed without options */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	opt(&p, 0, unknown_opt, sizeof(unknown_opt));
	n = tu_raw(ctx, t, p.b, p.n, DNS_UDP, out);
	ck_assert_int_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(ldns_pkt_answer(r)), 2);
	ck_assert(ldns_pkt_edns(r));
	ck_assert_uint_eq(ldns_pkt_edns_udp_size(r), 1232);
	ldns_pkt_free(r);
	ck_assert_uint_eq(out[n - 2], 0); /* OPT rdlength 0 */
	ck_assert_uint_eq(out[n - 1], 0);

	/* trailing bytes after the last record are ignored */
	header(&p, 0, 1, 0, 0, 0);
	question(&p);
	pbytes(&p, "junk", 4);
	n = tu_raw(ctx, t, p.b, p.n, DNS_UDP, out);
	ck_assert_int_eq(rcode_of(out), 0);
	ck_assert_uint_eq(count(out, 1), 2);
}
END_TEST

START_TEST(edns_version_and_do)
{
	struct tu_opts o = {.edns = 1, .edns_version = 1};
	ldns_pkt *p =
	    tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), 0);
	ck_assert_uint_eq(ldns_pkt_edns_extended_rcode(p), 1); /* 16 = BADVERS */
	ck_assert_uint_eq(ldns_pkt_edns_version(p), 0);
	ck_assert_uint_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
	ldns_pkt_free(p);

	o.edns_version = 0;
	o.do_bit = 1;
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert(ldns_pkt_edns(p));
	ck_assert(ldns_pkt_edns_do(p));
	ck_assert_uint_eq(ldns_pkt_edns_extended_rcode(p), 0);
	ck_assert_uint_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
	ldns_pkt_free(p);
	o.do_bit = 0;
	p = tu_ask(ctx, t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &o, NULL);
	ck_assert(!ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
}
END_TEST

START_TEST(transfers_and_meta)
{
	ldns_pkt *p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_AXFR);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_IXFR);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "svc.example.", LDNS_RR_TYPE_MAILA);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(compression_loops)
{
	struct pkt p;
	size_t self;
	/* pointer to itself */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	self = p.n;
	p16(&p, (uint16_t)(0xC000 | self));
	p16(&p, 1), p16(&p, 1), p16(&p, 0), p16(&p, 0), p16(&p, 0);
	assert_error(&p, 1, 1);
	/* forward pointer */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	p16(&p, (uint16_t)(0xC000 | (p.n + 2)));
	p16(&p, 1), p16(&p, 1), p16(&p, 0), p16(&p, 0), p16(&p, 0);
	assert_error(&p, 1, 1);
	/* a label, then a pointer back to that label: a loop through labels */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	self = p.n;
	pbytes(&p, "\1a", 2);
	p16(&p, (uint16_t)(0xC000 | self));
	p16(&p, 1), p16(&p, 1), p16(&p, 0), p16(&p, 0), p16(&p, 0);
	assert_error(&p, 1, 1);
	/* a well-formed pointer to the question name is fine */
	header(&p, 0, 1, 0, 0, 1);
	question(&p);
	p16(&p, 0xC00C);
	p16(&p, 1), p16(&p, 1), p16(&p, 0), p16(&p, 0), p16(&p, 4);
	pbytes(&p, "\1\2\3\4", 4);
	ck_assert_uint_gt(tu_raw(ctx, t, p.b, p.n, DNS_UDP, out), 0);
	ck_assert_int_eq(rcode_of(out), 0);
	ck_assert_uint_eq(count(out, 1), 2);
}
END_TEST

START_TEST(every_truncation)
{
	static const uint8_t unknown_opt[] = {0xFD, 0xE9, 0, 4, 1, 2, 3, 4};
	struct pkt p;
	header(&p, 1, 1, 0, 0, 2);
	question(&p);
	pbytes(&p, "\xC0\x0C\x00\x10\x00\x01\x00\x00\x00\x00\x00\x02\x01x", 14);
	opt(&p, 0, unknown_opt, sizeof(unknown_opt));
	for (size_t n = 0; n <= p.n; n++) {
		size_t r = tu_raw(ctx, t, p.b, n, DNS_UDP, out);
		if (n < 12) {
			ck_assert_uint_eq(r, 0);
			continue;
		}
		ck_assert_uint_le(r, 512);
		ck_assert_uint_ge(r, 12);
		ck_assert_int_eq(rcode_of(out), n == p.n ? 0 : 1);
		r = tu_raw(ctx, t, p.b, n, DNS_TCP, out);
		ck_assert_uint_ge(r, 12);
	}
}
END_TEST

/* Random byte flips of a valid query: every response stays within 512
 * bytes, parses, and echoes the ID; nothing crashes (ASan build). */
START_TEST(mutations)
{
	static const uint8_t unknown_opt[] = {0xFD, 0xE9, 0, 4, 1, 2, 3, 4};
	struct pkt base, p;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	header(&base, 1, 1, 0, 0, 2);
	question(&base);
	pbytes(&base, "\xC0\x0C\x00\x10\x00\x01\x00\x00\x00\x00\x00\x02\x01x", 14);
	opt(&base, 0, unknown_opt, sizeof(unknown_opt));
	for (int i = 0; i < 50000; i++) {
		size_t n;
		ldns_pkt *r = NULL;
		p = base;
		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p.b[2 + (x >> 8) % (p.n - 2)] = (uint8_t)x;
		}
		n = tu_raw(ctx, t, p.b, p.n, DNS_UDP, out);
		if (!n)
			continue;
		ck_assert_uint_le(n, 512);
		ck_assert_mem_eq(out, p.b, 2);
		ck_assert(out[2] & 0x80);
		ck_assert_int_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
		ldns_pkt_free(r);
	}
}
END_TEST

/* 40 instances (20 IPv4, 20 IPv6) in `big`, 12 IPv4 in `mid`. */
static struct dns_table *size_table(unsigned edns_udp_size)
{
	static char y[8192];
	size_t n = (size_t)snprintf(y, sizeof(y),
	                            "server:\n  zone: svc.example.\n  max_answers: 0\n"
	                            "  edns_udp_size: %u\n"
	                            "defaults: {policy: fixed, check: {type: none}}\n"
	                            "services:\n  big:\n    port: 80\n    instances:\n",
	                            edns_udp_size);
	for (int i = 1; i <= 40; i++)
		n +=
		    (size_t)snprintf(y + n, sizeof(y) - n,
		                     i <= 20 ? "      - {name: i%02d, address: 192.0.2.%d}\n"
		                             : "      - {name: i%02d, address: \"2001:db8::%d\"}\n",
		                     i, i);
	n += (size_t)snprintf(y + n, sizeof(y) - n, "  mid:\n    port: 80\n    instances:\n");
	for (int i = 1; i <= 12; i++)
		n += (size_t)snprintf(y + n, sizeof(y) - n,
		                      "      - {name: m%02d, address: 192.0.2.%d}\n", i, 100 + i);
	return tu_table(y);
}

static ldns_pkt *ask(struct dns_table *tb, const char *name, ldns_rr_type type,
                     enum dns_transport tr, int edns, uint16_t size, size_t *len)
{
	struct tu_opts o = {.transport = tr, .edns = edns, .edns_size = size};
	ldns_pkt *p = tu_ask(ctx, tb, name, type, LDNS_RR_CLASS_IN, &o, len);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), 0);
	ck_assert(ldns_pkt_aa(p));
	return p;
}

static void assert_tc(ldns_pkt *p, int edns)
{
	ck_assert(ldns_pkt_tc(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 0);
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 0);
	ck_assert_int_eq(ldns_pkt_edns(p), edns);
	ldns_pkt_free(p);
}

static void assert_full(ldns_pkt *p, size_t an, size_t ad)
{
	ck_assert(!ldns_pkt_tc(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), an);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), ad);
	ldns_pkt_free(p);
}

START_TEST(sizes)
{
	struct dns_table *tb = size_table(1232), *wide = size_table(4096);
	const char *srv = "_big._tcp.svc.example.";
	size_t len;

	/* no EDNS: 512. A: 12 + 21 + 20 * 16 = 353 fits; AAAA 20 * 28 does not;
	 * SRV: 40 * 39 does not */
	assert_full(ask(tb, "big.svc.example.", LDNS_RR_TYPE_A, DNS_UDP, 0, 0, &len), 20, 0);
	ck_assert_uint_eq(len, 353);
	assert_tc(ask(tb, "big.svc.example.", LDNS_RR_TYPE_AAAA, DNS_UDP, 0, 0, &len), 0);
	assert_tc(ask(tb, srv, LDNS_RR_TYPE_SRV, DNS_UDP, 0, 0, &len), 0);

	/* EDNS 1232: AAAA 12 + 21 + 560 + 11 = 604 fits; SRV 12 + 27 + 1560 does not */
	assert_full(ask(tb, "big.svc.example.", LDNS_RR_TYPE_AAAA, DNS_UDP, 1, 1232, &len), 20, 0);
	ck_assert_uint_eq(len, 604);
	assert_tc(ask(tb, srv, LDNS_RR_TYPE_SRV, DNS_UDP, 1, 1232, &len), 1);

	/* client 4096, server 1232: capped at 1232 */
	assert_tc(ask(tb, srv, LDNS_RR_TYPE_SRV, DNS_UDP, 1, 4096, &len), 1);
	ck_assert_uint_le(len, 1232);
	/* server 4096: 1599 + 20 * 16 + 20 * 28 + 11 = 2490 fits with every address */
	assert_full(ask(wide, srv, LDNS_RR_TYPE_SRV, DNS_UDP, 1, 4096, &len), 40, 40);
	ck_assert_uint_eq(len, 2490);
	/* a client size below 512 counts as 512 */
	assert_full(ask(wide, "big.svc.example.", LDNS_RR_TYPE_A, DNS_UDP, 1, 100, &len), 20, 0);

	/* TCP: everything */
	assert_full(ask(tb, srv, LDNS_RR_TYPE_SRV, DNS_TCP, 0, 0, &len), 40, 40);
	ck_assert_uint_eq(len, 2479);
	assert_full(ask(tb, "big.svc.example.", LDNS_RR_TYPE_SRV, DNS_TCP, 1, 1232, &len), 40, 40);

	/* mid SRV without EDNS: 12 + 27 + 12 * 39 = 507 fits, no address does:
	 * additional goes first, no TC */
	assert_full(ask(tb, "_mid._tcp.svc.example.", LDNS_RR_TYPE_SRV, DNS_UDP, 0, 0, &len), 12,
	            0);
	ck_assert_uint_eq(len, 507);
	/* with EDNS the OPT needs 11 more: 518 */
	assert_tc(ask(tb, "_mid._tcp.svc.example.", LDNS_RR_TYPE_SRV, DNS_UDP, 1, 517, &len), 1);
	assert_full(ask(tb, "_mid._tcp.svc.example.", LDNS_RR_TYPE_SRV, DNS_UDP, 1, 518, &len), 12,
	            0);
	ck_assert_uint_eq(len, 518);
	/* EDNS 600: 589 usable, room for 5 addresses of 16 */
	assert_full(ask(tb, "_mid._tcp.svc.example.", LDNS_RR_TYPE_SRV, DNS_UDP, 1, 600, &len), 12,
	            5);
	ck_assert_uint_eq(len, 507 + 5 * 16 + 11);
	assert_full(ask(tb, "_mid._tcp.svc.example.", LDNS_RR_TYPE_SRV, DNS_UDP, 1, 1232, &len), 12,
	            12);
	dns_table_free(tb);
	dns_table_free(wide);
}
END_TEST

/* 2,000 SRV records do not fit in 65535 bytes: over TCP the answer keeps
 * the whole records that fit, with TC; over UDP it stays empty with TC. */
START_TEST(tcp_partial)
{
	size_t cap = 2000 * 80 + 512, n = 0, len;
	char *y = malloc(cap);
	struct dns_table *tb;
	struct tu_opts tcp = {.transport = DNS_TCP}, udp = {.edns = 1};
	ldns_pkt *p;
	const ldns_rr_list *an;
	ck_assert_ptr_nonnull(y);
	n += (size_t)snprintf(y + n, cap - n,
	                      "server: {zone: svc.example., max_answers: 0}\n"
	                      "defaults: {policy: fixed, check: {type: none}}\n"
	                      "services:\n  many:\n    port: 80\n    instances:\n");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(
		    y + n, cap - n, "      - {name: i%04d, address: \"2001:db8::%x\"}\n", i, i + 1);
	tb = tu_table(y);
	free(y);

	/* SRV: 12 + 28 (question) + 42 per record (2 + 16 + 24): 1559 fit */
	p = tu_ask(ctx, tb, "_many._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, &tcp,
	           &len);
	ck_assert_ptr_nonnull(p);
	ck_assert(ldns_pkt_tc(p));
	ck_assert(ldns_pkt_aa(p));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), 0);
	an = ldns_pkt_answer(p);
	ck_assert_uint_eq(tu_count(an), (65535 - 12 - 28) / 42);
	ck_assert_uint_eq(len, 12 + 28 + tu_count(an) * 42);
	ck_assert_str_eq(tu_rdf(an, 0, 3), "i0000.many.svc.example.");
	ck_assert_str_eq(tu_rdf(an, tu_count(an) - 1, 3), "i1558.many.svc.example.");
	ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 0);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), 0);
	ldns_pkt_free(p);

	/* with EDNS the OPT keeps its room */
	tcp.edns = 1;
	p = tu_ask(ctx, tb, "_many._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, &tcp,
	           &len);
	ck_assert(ldns_pkt_tc(p));
	ck_assert(ldns_pkt_edns(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), (65535 - 12 - 28 - 11) / 42);
	ldns_pkt_free(p);

	/* UDP: empty with TC, the client retries over TCP */
	p = tu_ask(ctx, tb, "_many._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, &udp,
	           &len);
	ck_assert(ldns_pkt_tc(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 0);
	ldns_pkt_free(p);

	/* AAAA: 2,000 x 30 fits whole, no TC */
	tcp.edns = 0;
	p = tu_ask(ctx, tb, "many.svc.example.", LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, &tcp, &len);
	ck_assert(!ldns_pkt_tc(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), 2000);
	ldns_pkt_free(p);
	dns_table_free(tb);
}
END_TEST

START_TEST(small_outcap)
{
	struct pkt p;
	struct dns_answer_info info;
	header(&p, 0, 1, 0, 0, 0);
	question(&p);
	/* a buffer too small for the question: dropped, never overrun */
	ck_assert_uint_eq(dns_answer(ctx, t, p.b, p.n, DNS_TCP, out, 20, &info), 0);
	/* room for the question only: TC */
	ck_assert_uint_eq(dns_answer(ctx, t, p.b, p.n, DNS_TCP, out, 40, &info), 33);
	ck_assert(out[2] & 0x02);
	ck_assert_uint_eq(info.truncated, 1);
	ck_assert_uint_eq(info.qtype, 1);
	ck_assert_uint_eq(info.qclass, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("protocol");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, case_and_rd);
	tcase_add_test(tc, drops);
	tcase_add_test(tc, counts);
	tcase_add_test(tc, answer_and_authority_records);
	tcase_add_test(tc, opcodes);
	tcase_add_test(tc, bad_names);
	tcase_add_test(tc, opt_records);
	tcase_add_test(tc, edns_version_and_do);
	tcase_add_test(tc, transfers_and_meta);
	tcase_add_test(tc, compression_loops);
	tcase_add_test(tc, every_truncation);
	tcase_add_test(tc, mutations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, small_outcap);
	tcase_add_test(tc, tcp_partial);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

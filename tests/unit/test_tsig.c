/* SPDX-License-Identifier: BSD-3-Clause */
/* test_tsig.c: TSIG (dns/tsig.c): requests signed by ldns verified here,
 * messages signed here verified by ldns as a client would (one message and
 * a multi-message transfer, every algorithm), key/MAC/time errors and their
 * answers, and the NOTIFY sender's sign/verify round trip. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "dns/transfer/tsig.h"
#include "tests/unit/check_main.h"

#define SECRET  "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
#define SECRET2 "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTIz"
/* longer than a SHA-256/SHA-1 block: HMAC hashes the key first */
#define SECRET_LONG                                                                                \
	"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1" \
	"Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5"

static const char *alg_text[] = {"hmac-sha256.", "hmac-sha1.", "hmac-sha512."};

static struct dns_tsig_key *key_new(const char *name, enum dns_tsig_alg alg, const char *secret)
{
	struct dns_tsig_key *k = NULL;
	char err[256] = "";

	ck_assert_msg(dns_tsig_key_create(name, alg, secret, &k, err, sizeof(err)) == 0, "%s", err);
	return k;
}

/* A query signed by ldns as dig or a secondary would; *mac gets its MAC. */
static uint8_t *signed_query(const char *name, const char *alg, const char *secret,
                             ldns_rr_type type, size_t *len, ldns_rdf **mac)
{
	ldns_pkt *p =
	    ldns_pkt_query_new(ldns_dname_new_frm_str("svc.example."), type, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;

	ldns_pkt_set_id(p, 4242);
	if (name)
		ck_assert_int_eq(ldns_pkt_tsig_sign(p, name, secret, 300, alg, NULL),
		                 LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
	if (mac)
		*mac = name ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
	ldns_pkt_free(p);
	return wire;
}

/* An answer message of n A records for a query of id 4242, in buf. */
static size_t answer_msg(uint8_t *buf, size_t cap, int first, int n)
{
	ldns_pkt *p = ldns_pkt_new();
	uint8_t *wire = NULL;
	size_t len;
	char rr[128];

	ldns_pkt_set_id(p, 4242);
	ldns_pkt_set_qr(p, 1);
	ldns_pkt_set_aa(p, 1);
	if (first) {
		ldns_rr *q = ldns_rr_new();
		ldns_rr_set_owner(q, ldns_dname_new_frm_str("svc.example."));
		ldns_rr_set_type(q, LDNS_RR_TYPE_AXFR);
		ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
		ldns_rr_set_question(q, 1);
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	}
	for (int i = 0; i < n; i++) {
		ldns_rr *r = NULL;
		snprintf(rr, sizeof(rr), "i%d.web.svc.example. 5 IN A 192.0.2.%d", i, i % 250);
		ck_assert_int_eq(ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r);
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	ck_assert_uint_le(len, cap);
	memcpy(buf, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

/* ldns checks buf as the client of the exchange would: the first message
 * with the request MAC, the next ones with the previous MAC, timers only.
 * Returns the message's MAC (caller frees), NULL if it does not verify. */
static ldns_rdf *client_verify(const uint8_t *buf, size_t len, const char *name, const char *secret,
                               const ldns_rdf *prior, int next)
{
	ldns_pkt *p = NULL;
	ldns_rdf *mac = NULL;
	int ok;

	ck_assert_int_eq(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
	ck_assert_ptr_nonnull(ldns_pkt_tsig(p));
	ok = ldns_pkt_tsig_verify_next(p, buf, len, name, secret, prior, next);
	if (ok)
		mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
	ldns_pkt_free(p);
	return mac;
}

START_TEST(test_key_create)
{
	struct dns_tsig_key *k = NULL;
	char err[256];

	ck_assert_int_eq(
	    dns_tsig_key_create("k1", DNS_TSIG_HMAC_SHA256, SECRET, &k, err, sizeof(err)), -1);
	ck_assert_ptr_null(k);
	ck_assert_ptr_nonnull(strstr(err, "absolute"));
	ck_assert_int_eq(dns_tsig_key_create("k1.", DNS_TSIG_HMAC_SHA256, "!!not base64!!", &k, err,
	                                     sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "base64"));
	ck_assert_int_eq(
	    dns_tsig_key_create("k1.", (enum dns_tsig_alg)7, SECRET, &k, err, sizeof(err)), -1);
	k = key_new("K1.Example.", DNS_TSIG_HMAC_SHA512, SECRET);
	ck_assert_uint_ge(dns_tsig_space(k), 12 + 10 + 13 + 16 + 64);
	dns_tsig_key_free(k);
	dns_tsig_key_free(NULL);
}
END_TEST

/* Sign/verify round trip for every algorithm: ldns signs the request, we
 * verify it and sign a 4-message answer, ldns verifies each message. */
START_TEST(test_round_trip)
{
	enum dns_tsig_alg alg = (enum dns_tsig_alg)_i;
	const char *secrets[] = {SECRET, SECRET_LONG};

	for (int s = 0; s < 2; s++) {
		struct dns_tsig_key *k = key_new("k1.", alg, secrets[s]);
		struct dns_tsig_ctx ctx;
		ldns_rdf *qmac = NULL, *prior;
		size_t qlen, len;
		uint8_t *q =
		    signed_query("k1.", alg_text[alg], secrets[s], LDNS_RR_TYPE_AXFR, &qlen, &qmac);
		uint8_t *buf = malloc(65535);

		ck_assert_int_eq(dns_tsig_verify_query(k, q, qlen, (uint64_t)time(NULL), &ctx),
		                 DNS_TSIG_OK);
		ck_assert_uint_eq(ctx.mac_len, ldns_rdf_size(qmac) - 2);
		ck_assert_mem_eq(ctx.mac, ldns_rdf_data(qmac) + 2, ctx.mac_len);
		prior = qmac;
		for (int m = 0; m < 4; m++) {
			ldns_rdf *mac;
			len = answer_msg(buf, 65535, m == 0, 200);
			ck_assert_int_eq(
			    dns_tsig_sign(k, &ctx, buf, &len, 65535, (uint64_t)time(NULL)), 0);
			mac = client_verify(buf, len, "k1.", secrets[s], prior, m > 0);
			ck_assert_msg(mac != NULL, "alg %d secret %d: message %d does not verify",
			              alg, s, m);
			/* a client checking the wrong way round must fail: the
			 * first message covers every variable, the rest timers only */
			if (m < 2) {
				ldns_rdf *bad =
				    client_verify(buf, len, "k1.", secrets[s], prior, m == 0);
				ck_assert_ptr_null(bad);
			}
			ldns_rdf_deep_free(prior);
			prior = mac;
		}
		/* and with another secret nothing verifies */
		ck_assert_ptr_null(client_verify(buf, len, "k1.", SECRET2, prior, 1));
		ldns_rdf_deep_free(prior);
		free(buf);
		free(q);
		dns_tsig_key_free(k);
	}
}
END_TEST

START_TEST(test_verify_errors)
{
	struct dns_tsig_key *k = key_new("k1.", DNS_TSIG_HMAC_SHA256, SECRET);
	struct dns_tsig_ctx ctx;
	uint64_t now = (uint64_t)time(NULL);
	size_t len;
	uint8_t *q;

	q = signed_query(NULL, NULL, NULL, LDNS_RR_TYPE_AXFR, &len, NULL);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_UNSIGNED);
	free(q);
	q = signed_query("k2.", "hmac-sha256.", SECRET, LDNS_RR_TYPE_AXFR, &len, NULL);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_BADKEY);
	free(q);
	q = signed_query("k1.", "hmac-sha1.", SECRET, LDNS_RR_TYPE_AXFR, &len, NULL);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_BADKEY);
	free(q);
	q = signed_query("k1.", "hmac-sha256.", SECRET2, LDNS_RR_TYPE_AXFR, &len, NULL);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_BADSIG);
	free(q);
	/* key names compare case-insensitively */
	q = signed_query("K1.", "hmac-sha256.", SECRET, LDNS_RR_TYPE_IXFR, &len, NULL);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_OK);
	/* time: within the request's fudge (300 s) is fine, outside is not */
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now + 250, &ctx), DNS_TSIG_OK);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now + 400, &ctx), DNS_TSIG_BADTIME);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now - 400, &ctx), DNS_TSIG_BADTIME);
	/* one bit changed anywhere in the signed part */
	q[13] ^= 0x20;
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_BADSIG);
	q[13] ^= 0x20;
	q[len - 6 - 32] ^= 1; /* the first byte of the MAC */
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len, now, &ctx), DNS_TSIG_BADSIG);
	/* truncated: the TSIG record runs past the message */
	ck_assert_int_eq(dns_tsig_verify_query(k, q, len - 3, now, &ctx), DNS_TSIG_FORMERR);
	free(q);
	dns_tsig_key_free(k);
}
END_TEST

/* The error answers: BADKEY/BADSIG unsigned, BADTIME signed (ldns verifies
 * it with the request MAC) with the server's time in other data. */
START_TEST(test_error_responses)
{
	struct dns_tsig_key *k = key_new("k1.", DNS_TSIG_HMAC_SHA256, SECRET);
	struct dns_tsig_ctx ctx;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t out[1024];
	size_t qlen, len;
	ldns_pkt *p = NULL;
	ldns_rr *t;
	ldns_rdf *qmac = NULL, *mac;
	char *owner;
	uint8_t *q = signed_query("k2.", "hmac-sha256.", SECRET, LDNS_RR_TYPE_AXFR, &qlen, NULL);

	ck_assert_int_eq(dns_tsig_verify_query(k, q, qlen, now, &ctx), DNS_TSIG_BADKEY);
	len = dns_tsig_error_response(k, &ctx, DNS_TSIG_BADKEY, q, qlen, out, sizeof(out), now);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, len), LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTAUTH);
	ck_assert_int_eq(ldns_pkt_id(p), 4242);
	ck_assert(ldns_pkt_qr(p));
	ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
	t = ldns_pkt_tsig(p);
	ck_assert_ptr_nonnull(t);
	owner = ldns_rdf2str(ldns_rr_owner(t));
	ck_assert_str_eq(owner, "k2.");
	free(owner);
	ck_assert_uint_eq(ldns_rdf2native_int16(ldns_rr_rdf(t, 3)) + 0, 0); /* MAC size 0 */
	ck_assert_uint_eq(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), DNS_TSIG_ERR_BADKEY);
	ldns_pkt_free(p);
	free(q);

	q = signed_query("k1.", "hmac-sha256.", SECRET, LDNS_RR_TYPE_AXFR, &qlen, &qmac);
	ck_assert_int_eq(dns_tsig_verify_query(k, q, qlen, now + 1000, &ctx), DNS_TSIG_BADTIME);
	len = dns_tsig_error_response(k, &ctx, DNS_TSIG_BADTIME, q, qlen, out, sizeof(out),
	                              now + 1000);
	ck_assert_uint_gt(len, 0);
	mac = client_verify(out, len, "k1.", SECRET, qmac, 0);
	ck_assert_ptr_nonnull(mac);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, len), LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTAUTH);
	t = ldns_pkt_tsig(p);
	ck_assert_uint_eq(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), DNS_TSIG_ERR_BADTIME);
	ck_assert_uint_eq(ldns_rdf_size(ldns_rr_rdf(t, 6)), 8); /* length + 48-bit time */
	ldns_pkt_free(p);
	ldns_rdf_deep_free(mac);
	ldns_rdf_deep_free(qmac);

	q[qlen - 6 - 10] ^= 1; /* in the MAC */
	ck_assert_int_eq(dns_tsig_verify_query(k, q, qlen, now, &ctx), DNS_TSIG_BADSIG);
	len = dns_tsig_error_response(k, &ctx, DNS_TSIG_BADSIG, q, qlen, out, sizeof(out), now);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, len), LDNS_STATUS_OK);
	ck_assert_uint_eq(ldns_rdf2native_int16(ldns_rr_rdf(ldns_pkt_tsig(p), 5)),
	                  DNS_TSIG_ERR_BADSIG);
	ldns_pkt_free(p);
	free(q);
	dns_tsig_key_free(k);
}
END_TEST

/* The NOTIFY sender: signs its request (ldns verifies it as the secondary
 * would), checks the answer signed by ldns (as NSD would) or by us. */
START_TEST(test_notify_sign_wire)
{
	struct dns_tsig_key *k = key_new("k1.", DNS_TSIG_HMAC_SHA256, SECRET);
	struct dns_tsig_key *k2 = key_new("k1.", DNS_TSIG_HMAC_SHA256, SECRET2);
	struct dns_tsig_ctx ctx, ctx2, rctx;
	uint64_t now = (uint64_t)time(NULL);
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("svc.example."), LDNS_RR_TYPE_SOA,
	                                 LDNS_RR_CLASS_IN, LDNS_AA);
	ldns_rdf *mac, *prior;
	uint8_t buf[1024], resp[1024], *wire = NULL;
	size_t len, rlen, w2len;
	ldns_pkt *r;

	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_id(p, 777);
	ck_assert_int_eq(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	memcpy(buf, wire, len);
	free(wire);
	ck_assert_int_eq(dns_tsig_sign_wire(k, buf, &len, 20, now, &ctx), -1); /* no room */
	ck_assert_int_eq(dns_tsig_sign_wire(k, buf, &len, sizeof(buf), now, &ctx), 0);
	mac = client_verify(buf, len, "k1.", SECRET, NULL, 0);
	ck_assert_ptr_nonnull(mac);
	ldns_rdf_deep_free(mac);
	ck_assert_int_eq(dns_tsig_verify_query(k, buf, len, now, &rctx), DNS_TSIG_OK);

	/* the secondary's answer, signed by ldns with our request's MAC */
	r = ldns_pkt_clone(p);
	ldns_pkt_set_qr(r, 1);
	prior = ldns_native2rdf_int16_data(ctx.mac_len, ctx.mac);
	ck_assert_int_eq(ldns_pkt_tsig_sign(r, "k1.", SECRET, 300, "hmac-sha256.", prior),
	                 LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt2wire(&wire, r, &w2len), LDNS_STATUS_OK);
	ck_assert_int_eq(dns_tsig_verify_response(k, &ctx, wire, w2len, now), DNS_TSIG_OK);
	ck_assert_int_eq(dns_tsig_verify_response(k2, &ctx, wire, w2len, now), DNS_TSIG_BADSIG);
	ck_assert_int_eq(dns_tsig_verify_response(k, &ctx, wire, w2len, now + 1000),
	                 DNS_TSIG_BADTIME);
	/* an answer to another request (another MAC) does not verify */
	rlen = answer_msg(resp, sizeof(resp), 1, 1);
	ck_assert_int_eq(dns_tsig_sign_wire(k, resp, &rlen, sizeof(resp), now, &ctx2), 0);
	ck_assert_int_eq(dns_tsig_verify_response(k, &ctx2, wire, w2len, now), DNS_TSIG_BADSIG);
	free(wire);
	ldns_rdf_deep_free(prior);
	ldns_pkt_free(r);

	/* our own responder path signs an answer the sender accepts */
	rlen = answer_msg(resp, sizeof(resp), 1, 0);
	ck_assert_int_eq(dns_tsig_sign(k, &rctx, resp, &rlen, sizeof(resp), now), 0);
	ck_assert_int_eq(dns_tsig_verify_response(k, &ctx, resp, rlen, now), DNS_TSIG_OK);
	/* unsigned answer */
	rlen = answer_msg(resp, sizeof(resp), 1, 0);
	ck_assert_int_eq(dns_tsig_verify_response(k, &ctx, resp, rlen, now), DNS_TSIG_UNSIGNED);

	ldns_pkt_free(p);
	dns_tsig_key_free(k);
	dns_tsig_key_free(k2);
}
END_TEST

static Suite *tsig_suite(void)
{
	Suite *s = suite_create("tsig");
	TCase *tc = tcase_create("tsig");

	tcase_add_test(tc, test_key_create);
	tcase_add_loop_test(tc, test_round_trip, DNS_TSIG_HMAC_SHA256, DNS_TSIG_HMAC_SHA512 + 1);
	tcase_add_test(tc, test_verify_errors);
	tcase_add_test(tc, test_error_responses);
	tcase_add_test(tc, test_notify_sign_wire);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(tsig_suite());
}

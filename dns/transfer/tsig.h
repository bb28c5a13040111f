/* SPDX-License-Identifier: BSD-3-Clause */
/* tsig.h: TSIG (RFC 8945) for zone transfers out and NOTIFY: one key
 * (server.transfer.tsig), request verification, response signing.
 *
 * Requests are verified with ldns (ldns_pkt_tsig_verify) after the key
 * name, algorithm and time checks of RFC 8945 5.2. Messages are signed here
 * on their wire bytes, HMAC over ldns's SHA functions: ldns's own signer
 * always writes error 0 (a BADTIME answer must be signed with error 18 and
 * the server's time) and re-encodes the message, which a transfer of
 * many messages does not need. The tests check every signature made here
 * with ldns_pkt_tsig_verify[_next], dig and kdig.
 */
#ifndef SRVD_DNS_TSIG_H
#define SRVD_DNS_TSIG_H

#include <stddef.h>
#include <stdint.h>

/* Same values as enum reg_tsig_alg (registry/registry.h). */
enum dns_tsig_alg {
	DNS_TSIG_HMAC_SHA256 = 0,
	DNS_TSIG_HMAC_SHA1,
	DNS_TSIG_HMAC_SHA512,
};

#define DNS_TSIG_FUDGE   300 /* seconds, in what we sign (RFC 8945 10 recommends 300) */
#define DNS_TSIG_MAC_MAX 64  /* HMAC-SHA512 */

/* TSIG errors (RFC 8945 3) and what verification found. */
#define DNS_TSIG_ERR_BADSIG  16
#define DNS_TSIG_ERR_BADKEY  17
#define DNS_TSIG_ERR_BADTIME 18

enum dns_tsig_status {
	DNS_TSIG_UNSIGNED = 0, /* no TSIG record */
	DNS_TSIG_OK,
	DNS_TSIG_FORMERR, /* a TSIG record not last, several, or malformed */
	DNS_TSIG_BADKEY,  /* other key name or algorithm than ours */
	DNS_TSIG_BADSIG,  /* wrong MAC */
	DNS_TSIG_BADTIME, /* MAC right, time signed outside its fudge */
};

struct dns_tsig_key;

/* name: absolute ("k1." ; case does not matter), secret: base64. Borrows
 * the strings for the call only. Returns 0 and sets *out (caller frees with
 * dns_tsig_key_free(), which accepts NULL), or -1 with a message in err. */
int dns_tsig_key_create(const char *name, enum dns_tsig_alg alg, const char *secret,
                        struct dns_tsig_key **out, char *err, size_t errlen);
void dns_tsig_key_free(struct dns_tsig_key *key);

/* Bytes a TSIG record of this key adds to a message, at most. */
size_t dns_tsig_space(const struct dns_tsig_key *key);

/* The state of one signed exchange: a request verified or sent, then the
 * messages signed or verified after it. Plain data, no cleanup. */
struct dns_tsig_ctx {
	uint8_t mac[DNS_TSIG_MAC_MAX]; /* the last MAC: request's, then previous message's */
	size_t mac_len;
	size_t n_signed;     /* messages signed in this exchange */
	uint16_t error;      /* TSIG error to put in the next message signed */
	uint64_t other_time; /* BADTIME: the server's time, sent as other data */
	/* the request's TSIG, to answer an error with its name and algorithm */
	uint8_t name[256], alg[256];
	size_t name_len, alg_len;
	uint64_t time_signed;
	uint16_t fudge;
};

/* Checks the TSIG of request msg (len bytes) against key at time now
 * (seconds since the epoch), in RFC 8945 5.2 order: key, MAC, time. Fills
 * ctx for dns_tsig_sign() / dns_tsig_error_response() whatever the result.
 * Borrows everything for the call only. */
enum dns_tsig_status dns_tsig_verify_query(const struct dns_tsig_key *key, const uint8_t *msg,
                                           size_t len, uint64_t now, struct dns_tsig_ctx *ctx);

/* Signs message buf (*len bytes, at most cap) in place: appends a TSIG
 * record (ARCOUNT + 1) and sets *len. The first message of ctx covers its
 * request's MAC (none when ctx is fresh from memset: a request of ours) and
 * every TSIG variable; later ones the previous MAC and the timers only
 * (RFC 8945 4.3.1, 5.3.1). Keeps the new MAC in ctx. Returns 0, or -1 if it
 * does not fit in cap or buf is not a DNS message. */
int dns_tsig_sign(const struct dns_tsig_key *key, struct dns_tsig_ctx *ctx, uint8_t *buf,
                  size_t *len, size_t cap, uint64_t now);

/* For a request of ours (NOTIFY): memsets ctx and signs buf as above. */
int dns_tsig_sign_wire(const struct dns_tsig_key *key, uint8_t *buf, size_t *len, size_t cap,
                       uint64_t now, struct dns_tsig_ctx *ctx);

/* Checks the TSIG of response msg to the request ctx was filled by
 * (dns_tsig_sign_wire()): key name, algorithm, MAC over the request MAC
 * (ldns), time. Returns DNS_TSIG_OK or what is wrong (UNSIGNED included);
 * a response carrying a TSIG error (e.g. the peer's BADKEY) is BADKEY,
 * BADSIG or BADTIME. Borrows everything for the call only. */
enum dns_tsig_status dns_tsig_verify_response(const struct dns_tsig_key *key,
                                              const struct dns_tsig_ctx *ctx, const uint8_t *msg,
                                              size_t len, uint64_t now);

/* The answer to request query (qlen bytes) whose verification gave st
 * (FORMERR, BADKEY, BADSIG or BADTIME; ctx as dns_tsig_verify_query() left
 * it): header and question of the query, RCODE FORMERR or NOTAUTH and, but
 * for FORMERR, a TSIG record with the error: unsigned for BADKEY and BADSIG,
 * signed for BADTIME with the server's time (RFC 8945 5.2, 5.3.2). Writes
 * to out (cap bytes). Returns its length, or 0 if it cannot be built. */
size_t dns_tsig_error_response(const struct dns_tsig_key *key, struct dns_tsig_ctx *ctx,
                               enum dns_tsig_status st, const uint8_t *query, size_t qlen,
                               uint8_t *out, size_t cap, uint64_t now);

const char *dns_tsig_status_str(enum dns_tsig_status st);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* tsig.c: TSIG (tsig.h): the key, HMAC over ldns's SHA functions, the
 * TSIG record of a message read from its wire bytes, signing, verifying. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <ldns/sha1.h>
#include <ldns/sha2.h>

#include "dns/transfer/tsig.h"

#define T_TSIG        250
#define C_ANY         255
#define RCODE_FORMERR 1
#define RCODE_NOTAUTH 9
#define BLOCK_MAX     128 /* SHA-512 */

struct dns_tsig_key {
	enum dns_tsig_alg alg;
	uint8_t name[256]; /* canonical wire form */
	size_t name_len;
	const uint8_t *alg_name; /* wire form */
	size_t alg_len;
	size_t mac_len, block;
	uint8_t *secret;
	size_t secret_len;
	char *name_str, *secret_b64; /* for ldns */
};

static const struct {
	const char *text;
	const uint8_t *wire;
	size_t wire_len, mac_len, block;
} algs[] = {
    [DNS_TSIG_HMAC_SHA256] = {"hmac-sha256.", (const uint8_t *)"\x0bhmac-sha256", 13, 32, 64},
    [DNS_TSIG_HMAC_SHA1] = {"hmac-sha1.", (const uint8_t *)"\x09hmac-sha1", 11, 20, 64},
    [DNS_TSIG_HMAC_SHA512] = {"hmac-sha512.", (const uint8_t *)"\x0bhmac-sha512", 13, 64, 128},
};

/* ---- HMAC (RFC 2104) ---- */

union hash_ctx {
	ldns_sha1_ctx s1;
	ldns_sha256_CTX s256;
	ldns_sha512_CTX s512;
};

struct hmac {
	enum dns_tsig_alg alg;
	union hash_ctx h;
	uint8_t opad[BLOCK_MAX];
	size_t block;
};

static void hash_init(enum dns_tsig_alg alg, union hash_ctx *h)
{
	if (alg == DNS_TSIG_HMAC_SHA1)
		ldns_sha1_init(&h->s1);
	else if (alg == DNS_TSIG_HMAC_SHA512)
		ldns_sha512_init(&h->s512);
	else
		ldns_sha256_init(&h->s256);
}

static void hash_update(enum dns_tsig_alg alg, union hash_ctx *h, const uint8_t *p, size_t n)
{
	if (alg == DNS_TSIG_HMAC_SHA1)
		ldns_sha1_update(&h->s1, p, (unsigned int)n);
	else if (alg == DNS_TSIG_HMAC_SHA512)
		ldns_sha512_update(&h->s512, p, n);
	else
		ldns_sha256_update(&h->s256, p, n);
}

static void hash_final(enum dns_tsig_alg alg, union hash_ctx *h, uint8_t *out)
{
	if (alg == DNS_TSIG_HMAC_SHA1)
		ldns_sha1_final(out, &h->s1);
	else if (alg == DNS_TSIG_HMAC_SHA512)
		ldns_sha512_final(out, &h->s512);
	else
		ldns_sha256_final(out, &h->s256);
}

static void hmac_begin(struct hmac *m, const struct dns_tsig_key *key)
{
	uint8_t k0[BLOCK_MAX] = {0}, ipad[BLOCK_MAX];

	m->alg = key->alg;
	m->block = key->block;
	if (key->secret_len > key->block) {
		hash_init(m->alg, &m->h);
		hash_update(m->alg, &m->h, key->secret, key->secret_len);
		hash_final(m->alg, &m->h, k0);
	} else {
		memcpy(k0, key->secret, key->secret_len);
	}
	for (size_t i = 0; i < m->block; i++) {
		ipad[i] = k0[i] ^ 0x36;
		m->opad[i] = k0[i] ^ 0x5c;
	}
	hash_init(m->alg, &m->h);
	hash_update(m->alg, &m->h, ipad, m->block);
}

static void hmac_update(struct hmac *m, const uint8_t *p, size_t n)
{
	hash_update(m->alg, &m->h, p, n);
}

static void hmac_end(struct hmac *m, uint8_t *mac, size_t mac_len)
{
	uint8_t inner[DNS_TSIG_MAC_MAX];

	hash_final(m->alg, &m->h, inner);
	hash_init(m->alg, &m->h);
	hash_update(m->alg, &m->h, m->opad, m->block);
	hash_update(m->alg, &m->h, inner, mac_len);
	hash_final(m->alg, &m->h, mac);
}

/* ---- the key ---- */

int dns_tsig_key_create(const char *name, enum dns_tsig_alg alg, const char *secret,
                        struct dns_tsig_key **out, char *err, size_t errlen)
{
	struct dns_tsig_key *k = NULL;
	ldns_rdf *dn = NULL;

	*out = NULL;
	if ((unsigned)alg > DNS_TSIG_HMAC_SHA512 || !name || !secret) {
		snprintf(err, errlen, "tsig: bad key parameters");
		return -1;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		goto nomem;
	dn = ldns_dname_new_frm_str(name);
	if (!dn || ldns_rdf_size(dn) > sizeof(k->name) || name[0] == '\0' ||
	    name[strlen(name) - 1] != '.') {
		snprintf(err, errlen, "tsig: bad key name '%s' (must be absolute)", name);
		goto fail;
	}
	ldns_dname2canonical(dn);
	k->name_len = ldns_rdf_size(dn);
	memcpy(k->name, ldns_rdf_data(dn), k->name_len);
	k->alg = alg;
	k->alg_name = algs[alg].wire;
	k->alg_len = algs[alg].wire_len;
	k->mac_len = algs[alg].mac_len;
	k->block = algs[alg].block;
	k->name_str = strdup(name);
	k->secret_b64 = strdup(secret);
	if (!k->name_str || !k->secret_b64)
		goto nomem;
	ldns_rdf_deep_free(dn);
	dn = NULL;
	if (ldns_str2rdf_b64(&dn, secret) != LDNS_STATUS_OK || ldns_rdf_size(dn) == 0) {
		snprintf(err, errlen, "tsig: the secret of key %s is not base64", name);
		goto fail;
	}
	k->secret_len = ldns_rdf_size(dn);
	k->secret = malloc(k->secret_len);
	if (!k->secret)
		goto nomem;
	memcpy(k->secret, ldns_rdf_data(dn), k->secret_len);
	memset(ldns_rdf_data(dn), 0, k->secret_len);
	ldns_rdf_deep_free(dn);
	*out = k;
	return 0;
nomem:
	snprintf(err, errlen, "tsig: out of memory");
fail:
	ldns_rdf_deep_free(dn);
	dns_tsig_key_free(k);
	return -1;
}

void dns_tsig_key_free(struct dns_tsig_key *k)
{
	if (!k)
		return;
	if (k->secret)
		memset(k->secret, 0, k->secret_len);
	free(k->secret);
	free(k->name_str);
	free(k->secret_b64);
	free(k);
}

size_t dns_tsig_space(const struct dns_tsig_key *k)
{
	/* owner, type..rdlength, algorithm, time, fudge, MAC size, MAC, ID,
	 * error, other length, other data (BADTIME: 6 bytes) */
	return k->name_len + 10 + k->alg_len + 6 + 2 + 2 + k->mac_len + 2 + 2 + 2 + 6;
}

/* ---- wire ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | p[i];
	return v;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Reads the name at *pos into out (lowercased, uncompressed; NULL: skip
 * only), sets *pos past it. Pointers must go backwards. -1 if malformed. */
static int read_name(const uint8_t *m, size_t len, size_t *pos, uint8_t *out, size_t *out_len)
{
	size_t i = *pos, o = 0, end = 0;
	int jumped = 0;

	for (int hops = 0; hops < 64;) {
		if (i >= len)
			return -1;
		if ((m[i] & 0xC0) == 0xC0) {
			size_t to;
			if (i + 2 > len)
				return -1;
			to = (size_t)(m[i] & 0x3F) << 8 | m[i + 1];
			if (to >= i)
				return -1;
			if (!jumped)
				end = i + 2;
			jumped = 1;
			i = to;
			hops++;
			continue;
		}
		if (m[i] & 0xC0)
			return -1;
		if (i + 1 + m[i] > len || o + 1 + m[i] > 255)
			return -1;
		if (out)
			for (size_t j = 0; j <= m[i]; j++) {
				uint8_t c = m[i + j];
				out[o + j] = j && c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
			}
		o += 1 + (size_t)m[i];
		if (m[i] == 0) {
			*pos = jumped ? end : i + 1;
			if (out_len)
				*out_len = o;
			return 0;
		}
		i += 1 + (size_t)m[i];
	}
	return -1;
}

/* The TSIG record of a message, as read by find_tsig(). */
struct tsig_rr {
	size_t start; /* offset of the record: the message without it ends here */
	uint8_t name[256], alg[256];
	size_t name_len, alg_len;
	uint64_t time_signed;
	uint16_t fudge, orig_id, error;
	const uint8_t *mac;
	size_t mac_len;
};

/* 0: found (t filled), 1: no TSIG, -1: malformed, several or not last. */
static int find_tsig(const uint8_t *m, size_t len, struct tsig_rr *t)
{
	size_t pos = 12;
	unsigned qd, total, ar;

	if (len < 12)
		return -1;
	qd = get16(m + 4);
	ar = get16(m + 10);
	total = (unsigned)get16(m + 6) + get16(m + 8) + ar;
	for (unsigned i = 0; i < qd; i++) {
		if (read_name(m, len, &pos, NULL, NULL) || pos + 4 > len)
			return -1;
		pos += 4;
	}
	for (unsigned i = 0; i < total; i++) {
		size_t start = pos, rd, p;
		uint16_t type, rdlen;
		if (read_name(m, len, &pos, t->name, &t->name_len) || pos + 10 > len)
			return -1;
		type = get16(m + pos);
		rdlen = get16(m + pos + 8);
		rd = pos + 10;
		if (rd + rdlen > len)
			return -1;
		pos = rd + rdlen;
		if (type != T_TSIG)
			continue;
		if (i != total - 1 || ar == 0 || pos != len || get16(m + rd - 8) != C_ANY)
			return -1;
		p = rd;
		if (read_name(m, pos, &p, t->alg, &t->alg_len) || p + 10 > pos)
			return -1;
		t->start = start;
		t->time_signed = get48(m + p);
		t->fudge = get16(m + p + 6);
		t->mac_len = get16(m + p + 8);
		p += 10;
		if (p + t->mac_len + 6 > pos)
			return -1;
		t->mac = m + p;
		p += t->mac_len;
		t->orig_id = get16(m + p);
		t->error = get16(m + p + 2);
		if (p + 6 + get16(m + p + 4) != pos)
			return -1;
		return 0;
	}
	return 1;
}

static int key_matches(const struct dns_tsig_key *k, const struct tsig_rr *t)
{
	return t->name_len == k->name_len && !memcmp(t->name, k->name, k->name_len) &&
	       t->alg_len == k->alg_len && !memcmp(t->alg, k->alg_name, k->alg_len);
}

static int time_ok(uint64_t now, uint64_t signed_at, uint16_t fudge)
{
	uint64_t d = now > signed_at ? now - signed_at : signed_at - now;
	return d <= fudge;
}

/* ldns checks the MAC: prior is the request's MAC for a response. */
static int ldns_mac_ok(const struct dns_tsig_key *k, const uint8_t *m, size_t len,
                       const uint8_t *prior, size_t prior_len, int has_prior)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *mac = NULL;
	int ok = 0;

	if (ldns_wire2pkt(&pkt, m, len) != LDNS_STATUS_OK)
		goto done;
	if (has_prior && !(mac = ldns_native2rdf_int16_data(prior_len, (uint8_t *)prior)))
		goto done;
	ok = ldns_pkt_tsig_verify(pkt, m, len, k->name_str, k->secret_b64, mac);
done:
	ldns_rdf_deep_free(mac);
	ldns_pkt_free(pkt);
	return ok;
}

static void ctx_keep(struct dns_tsig_ctx *ctx, const struct tsig_rr *t)
{
	memcpy(ctx->name, t->name, t->name_len);
	ctx->name_len = t->name_len;
	memcpy(ctx->alg, t->alg, t->alg_len);
	ctx->alg_len = t->alg_len;
	ctx->time_signed = t->time_signed;
	ctx->fudge = t->fudge;
}

enum dns_tsig_status dns_tsig_verify_query(const struct dns_tsig_key *k, const uint8_t *msg,
                                           size_t len, uint64_t now, struct dns_tsig_ctx *ctx)
{
	struct tsig_rr t;
	int rc = find_tsig(msg, len, &t);

	memset(ctx, 0, sizeof(*ctx));
	if (rc > 0)
		return DNS_TSIG_UNSIGNED;
	if (rc < 0)
		return DNS_TSIG_FORMERR;
	ctx_keep(ctx, &t);
	if (!key_matches(k, &t))
		return DNS_TSIG_BADKEY;
	/* a truncated MAC (RFC 8945 5.2.2.1) is not accepted: nobody sends one */
	if (t.mac_len != k->mac_len || !ldns_mac_ok(k, msg, len, NULL, 0, 0))
		return DNS_TSIG_BADSIG;
	memcpy(ctx->mac, t.mac, t.mac_len);
	ctx->mac_len = t.mac_len;
	if (!time_ok(now, t.time_signed, t.fudge))
		return DNS_TSIG_BADTIME;
	return DNS_TSIG_OK;
}

int dns_tsig_sign(const struct dns_tsig_key *k, struct dns_tsig_ctx *ctx, uint8_t *buf, size_t *len,
                  size_t cap, uint64_t now)
{
	/* only the first message of an exchange carries an error */
	size_t other = ctx->n_signed == 0 && ctx->error == DNS_TSIG_ERR_BADTIME ? 6 : 0;
	size_t rdlen = k->alg_len + 16 + k->mac_len + other, at = *len;
	/* a BADTIME answer carries the request's time, so that the client's own
	 * time check passes, and ours in other data (RFC 8945 5.2.3) */
	uint64_t ts = other ? ctx->time_signed : now;
	uint8_t vars[256 + 10 + 256 + 16 + 6], mac[DNS_TSIG_MAC_MAX], pfx[2];
	size_t vlen = 0;
	struct hmac h;

	if (at < 12 || at + k->name_len + 10 + rdlen > cap || get16(buf + 10) == UINT16_MAX)
		return -1;
	hmac_begin(&h, k);
	if (ctx->n_signed > 0 || ctx->mac_len > 0) {
		put16(pfx, (uint16_t)ctx->mac_len);
		hmac_update(&h, pfx, 2);
		hmac_update(&h, ctx->mac, ctx->mac_len);
	}
	hmac_update(&h, buf, at);
	if (ctx->n_signed == 0) {
		memcpy(vars, k->name, k->name_len);
		vlen = k->name_len;
		put16(vars + vlen, C_ANY);
		memset(vars + vlen + 2, 0, 4); /* TTL */
		vlen += 6;
		memcpy(vars + vlen, k->alg_name, k->alg_len);
		vlen += k->alg_len;
	}
	put48(vars + vlen, ts);
	put16(vars + vlen + 6, DNS_TSIG_FUDGE);
	vlen += 8;
	if (ctx->n_signed == 0) {
		put16(vars + vlen, ctx->error);
		put16(vars + vlen + 2, (uint16_t)other);
		vlen += 4;
		if (other)
			put48(vars + vlen, ctx->other_time);
		vlen += other;
	}
	hmac_update(&h, vars, vlen);
	hmac_end(&h, mac, k->mac_len);

	memcpy(buf + at, k->name, k->name_len);
	at += k->name_len;
	put16(buf + at, T_TSIG);
	put16(buf + at + 2, C_ANY);
	memset(buf + at + 4, 0, 4);
	put16(buf + at + 8, (uint16_t)rdlen);
	at += 10;
	memcpy(buf + at, k->alg_name, k->alg_len);
	at += k->alg_len;
	put48(buf + at, ts);
	put16(buf + at + 6, DNS_TSIG_FUDGE);
	put16(buf + at + 8, (uint16_t)k->mac_len);
	at += 10;
	memcpy(buf + at, mac, k->mac_len);
	at += k->mac_len;
	put16(buf + at, get16(buf)); /* original ID */
	put16(buf + at + 2, ctx->n_signed == 0 ? ctx->error : 0);
	put16(buf + at + 4, (uint16_t)other);
	at += 6;
	if (other) {
		put48(buf + at, ctx->other_time);
		at += 6;
	}
	put16(buf + 10, (uint16_t)(get16(buf + 10) + 1));
	*len = at;
	memcpy(ctx->mac, mac, k->mac_len);
	ctx->mac_len = k->mac_len;
	ctx->n_signed++;
	return 0;
}

int dns_tsig_sign_wire(const struct dns_tsig_key *k, uint8_t *buf, size_t *len, size_t cap,
                       uint64_t now, struct dns_tsig_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	return dns_tsig_sign(k, ctx, buf, len, cap, now);
}

enum dns_tsig_status dns_tsig_verify_response(const struct dns_tsig_key *k,
                                              const struct dns_tsig_ctx *ctx, const uint8_t *msg,
                                              size_t len, uint64_t now)
{
	struct tsig_rr t;
	int rc = find_tsig(msg, len, &t);

	if (rc > 0)
		return DNS_TSIG_UNSIGNED;
	if (rc < 0)
		return DNS_TSIG_FORMERR;
	if (!key_matches(k, &t) || t.error == DNS_TSIG_ERR_BADKEY)
		return DNS_TSIG_BADKEY;
	if (t.error == DNS_TSIG_ERR_BADSIG)
		return DNS_TSIG_BADSIG;
	if (t.mac_len != k->mac_len || !ldns_mac_ok(k, msg, len, ctx->mac, ctx->mac_len, 1))
		return DNS_TSIG_BADSIG;
	if (t.error == DNS_TSIG_ERR_BADTIME || !time_ok(now, t.time_signed, t.fudge))
		return DNS_TSIG_BADTIME;
	return t.error ? DNS_TSIG_BADSIG : DNS_TSIG_OK;
}

size_t dns_tsig_error_response(const struct dns_tsig_key *k, struct dns_tsig_ctx *ctx,
                               enum dns_tsig_status st, const uint8_t *q, size_t qlen, uint8_t *out,
                               size_t cap, uint64_t now)
{
	size_t pos = 12, len;
	uint16_t error;
	int has_q = 0;

	if (qlen < 12 || cap < 12)
		return 0;
	if (get16(q + 4) == 1 && !read_name(q, qlen, &pos, NULL, NULL) && pos + 4 <= qlen &&
	    pos <= cap)
		has_q = 1;
	else
		pos = 12;
	memcpy(out, q, pos);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode and RD of the query */
	out[3] =
	    (uint8_t)((q[3] & 0x10) | (st == DNS_TSIG_FORMERR ? RCODE_FORMERR : RCODE_NOTAUTH));
	if (has_q) {
		memcpy(out + pos, q + pos, 4);
		pos += 4;
	}
	put16(out + 4, (uint16_t)has_q);
	memset(out + 6, 0, 6);
	len = pos;
	switch (st) {
	case DNS_TSIG_BADKEY:
		error = DNS_TSIG_ERR_BADKEY;
		break;
	case DNS_TSIG_BADSIG:
		error = DNS_TSIG_ERR_BADSIG;
		break;
	case DNS_TSIG_BADTIME:
		ctx->error = DNS_TSIG_ERR_BADTIME;
		ctx->other_time = now;
		return dns_tsig_sign(k, ctx, out, &len, cap, now) ? 0 : len;
	default:
		return len;
	}
	/* unsigned (RFC 8945 5.3.2): the request's name and algorithm, no MAC */
	if (len + ctx->name_len + 10 + ctx->alg_len + 16 > cap)
		return 0;
	memcpy(out + len, ctx->name, ctx->name_len);
	len += ctx->name_len;
	put16(out + len, T_TSIG);
	put16(out + len + 2, C_ANY);
	memset(out + len + 4, 0, 4);
	put16(out + len + 8, (uint16_t)(ctx->alg_len + 16));
	len += 10;
	memcpy(out + len, ctx->alg, ctx->alg_len);
	len += ctx->alg_len;
	put48(out + len, now);
	put16(out + len + 6, DNS_TSIG_FUDGE);
	put16(out + len + 8, 0); /* MAC size */
	put16(out + len + 10, get16(q));
	put16(out + len + 12, error);
	put16(out + len + 14, 0);
	len += 16;
	put16(out + 10, 1);
	return len;
}

const char *dns_tsig_status_str(enum dns_tsig_status st)
{
	switch (st) {
	case DNS_TSIG_UNSIGNED:
		return "unsigned";
	case DNS_TSIG_OK:
		return "ok";
	case DNS_TSIG_FORMERR:
		return "malformed TSIG";
	case DNS_TSIG_BADKEY:
		return "BADKEY";
	case DNS_TSIG_BADSIG:
		return "BADSIG";
	case DNS_TSIG_BADTIME:
		return "BADTIME";
	}
	return "?";
}

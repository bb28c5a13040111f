/* SPDX-License-Identifier: BSD-3-Clause */
/* answer_util.c: see answer_util.h. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer/table_impl.h"
#include "registry/registry.h"
#include "tests/unit/answer_util.h"

struct dns_table *tu_table(const char *yaml)
{
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	struct dns_table *t = NULL;
	char err[256] = "";
	int rc =
	    registry_load_string(yaml, SRCDIR "/tests/unit/data/answer/test.yaml", &reg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	registry_errors_clear(&errs);
	ck_assert_int_eq(rc, 0);
	rc = dns_table_build(reg, TU_SERIAL, &t, err, sizeof(err));
	if (rc)
		fprintf(stderr, "dns_table_build: %s\n", err);
	ck_assert_int_eq(rc, 0);
	registry_free(reg);
	return t;
}

size_t tu_raw(struct dns_ctx *ctx, const struct dns_table *t, const uint8_t *q, size_t qlen,
              enum dns_transport tr, uint8_t *out)
{
	struct dns_answer_info info;
	return dns_answer(ctx, t, q, qlen, tr, out, DNS_MAX_MSG, &info);
}

ldns_pkt *tu_ask(struct dns_ctx *ctx, const struct dns_table *t, const char *name,
                 ldns_rr_type type, ldns_rr_class cls, const struct tu_opts *o, size_t *len)
{
	static const struct tu_opts none = {0};
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *q, *resp = NULL;
	uint8_t *wire = NULL, *out = malloc(DNS_MAX_MSG);
	size_t wlen = 0, n, limit;
	struct dns_answer_info info;

	if (!o)
		o = &none;
	ck_assert_ptr_nonnull(qname);
	ck_assert_ptr_nonnull(out);
	q = ldns_pkt_query_new(qname, type, cls, o->rd ? LDNS_RD : 0);
	ck_assert_ptr_nonnull(q);
	ldns_pkt_set_id(q, 0x1234);
	if (o->edns) {
		ldns_pkt_set_edns_udp_size(q, o->edns_size ? o->edns_size : 1232);
		ldns_pkt_set_edns_do(q, o->do_bit);
		ldns_pkt_set_edns_version(q, o->edns_version);
		if (o->options)
			ldns_pkt_set_edns_data(q,
			                       ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN,
			                                             o->options_len, o->options));
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, q, &wlen), LDNS_STATUS_OK);
	if (o->client) {
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		if (strchr(o->client, ':')) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			ck_assert_int_eq(inet_pton(AF_INET6, o->client, &s6->sin6_addr), 1);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			ck_assert_int_eq(inet_pton(AF_INET, o->client, &s4->sin_addr), 1);
		}
		n = dns_answer_client(ctx, t, wire, wlen, o->transport, (struct sockaddr *)&ss, out,
		                      DNS_MAX_MSG, &info);
	} else {
		n = dns_answer(ctx, t, wire, wlen, o->transport, out, DNS_MAX_MSG, &info);
	}
	if (o->transport == DNS_TCP)
		limit = DNS_MAX_MSG;
	else if (o->edns)
		limit = o->edns_size ? o->edns_size : 1232;
	else
		limit = 512;
	if (limit < 512)
		limit = 512;
	if (len)
		*len = n;
	if (n) {
		ck_assert_uint_le(n, limit);
		ck_assert_int_eq(ldns_wire2pkt(&resp, out, n), LDNS_STATUS_OK);
		ck_assert_uint_eq(ldns_pkt_id(resp), 0x1234);
		ck_assert(ldns_pkt_qr(resp));
		ck_assert(!ldns_pkt_ra(resp));
		ck_assert_uint_eq(ldns_pkt_rd(resp), o->rd ? 1 : 0);
		ck_assert_uint_eq(info.truncated, ldns_pkt_tc(resp));
		ck_assert_uint_eq(info.edns, o->edns ? 1 : 0);
		ck_assert_uint_eq(info.qtype, type);
		/* the question comes back byte for byte */
		ck_assert_uint_ge(n, wlen - (o->edns ? 11 : 0));
		ck_assert_mem_eq(out + 2 + 2, wire + 4, 2);
		ck_assert_mem_eq(out + 12, wire + 12, ldns_rdf_size(qname) + 4);
	}
	ldns_pkt_free(q);
	free(wire);
	free(out);
	return resp;
}

ldns_pkt *tu_q(struct dns_ctx *ctx, const struct dns_table *t, const char *name, ldns_rr_type type)
{
	return tu_ask(ctx, t, name, type, LDNS_RR_CLASS_IN, NULL, NULL);
}

const char *tu_rdf(const ldns_rr_list *list, size_t r, size_t i)
{
	static char buf[1024];
	char *s;
	ck_assert_uint_lt(r, ldns_rr_list_rr_count(list));
	ck_assert_uint_lt(i, ldns_rr_rd_count(ldns_rr_list_rr(list, r)));
	s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(list, r), i));
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	free(s);
	return buf;
}

const char *tu_owner(const ldns_rr_list *list, size_t r)
{
	static char buf[1024];
	char *s;
	ck_assert_uint_lt(r, ldns_rr_list_rr_count(list));
	s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(list, r)));
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	free(s);
	return buf;
}

size_t tu_count(const ldns_rr_list *list)
{
	return list ? ldns_rr_list_rr_count(list) : 0;
}

struct tu_health *tu_health_bind(struct dns_table *t)
{
	struct tu_health *h = calloc(1, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	h->n_inst = t->n_instances;
	h->n_svc = t->n_services;
	h->inst = calloc(h->n_inst ? h->n_inst : 1, sizeof(*h->inst));
	h->svc = calloc(h->n_svc ? h->n_svc : 1, sizeof(*h->svc));
	h->first = calloc(h->n_svc ? h->n_svc : 1, sizeof(*h->first));
	ck_assert(h->inst && h->svc && h->first);
	for (size_t i = 0; i < h->n_inst; i++) {
		atomic_store(&h->inst[i].served, 1);
		atomic_store(&h->inst[i].status, HEALTH_PASSING);
		atomic_store(&h->inst[i].checked, 1);
	}
	for (size_t s = 0; s < h->n_svc; s++) {
		h->first[s] = t->services[s].first_instance;
		atomic_store(&h->svc[s].n_served, t->services[s].n_instances);
		atomic_store(&h->svc[s].n_passing, t->services[s].n_instances);
	}
	ck_assert_int_eq(dns_table_bind_state(t, h->inst, h->n_inst, h->svc, h->n_svc), 0);
	return h;
}

void tu_health_free(struct tu_health *h)
{
	if (!h)
		return;
	free(h->inst);
	free(h->svc);
	free(h->first);
	free(h);
}

struct health_inst *tu_inst(struct tu_health *h, size_t s, size_t i)
{
	ck_assert_uint_lt(s, h->n_svc);
	ck_assert_uint_lt(h->first[s] + i, h->n_inst);
	return &h->inst[h->first[s] + i];
}

void tu_health_set(struct tu_health *h, size_t s, size_t i, int served)
{
	struct health_inst *in = tu_inst(h, s, i);
	uint8_t old = atomic_exchange(&in->served, served ? 1 : 0);
	uint8_t was = atomic_exchange(&in->status, served ? HEALTH_PASSING : HEALTH_FAILING);

	/* the checker's per-service counts by status (health/machine.c) */
	if (was == HEALTH_PASSING)
		atomic_fetch_sub(&h->svc[s].n_passing, 1);
	else if (was == HEALTH_FAILING)
		atomic_fetch_sub(&h->svc[s].n_failing, 1);
	atomic_fetch_add(served ? &h->svc[s].n_passing : &h->svc[s].n_failing, 1);
	if (old && !served)
		atomic_fetch_sub(&h->svc[s].n_served, 1);
	else if (!old && served)
		atomic_fetch_add(&h->svc[s].n_served, 1);
}

const char *tu_txt(const ldns_rr_list *list, size_t r)
{
	static char buf[65536];
	const ldns_rr *rr;
	size_t n = 0;
	ck_assert_uint_lt(r, ldns_rr_list_rr_count(list));
	rr = ldns_rr_list_rr(list, r);
	ck_assert_int_eq(ldns_rr_get_type(rr), LDNS_RR_TYPE_TXT);
	buf[0] = '\0';
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t len = ldns_rdf_data(f)[0];
		ck_assert_uint_eq(len + 1, ldns_rdf_size(f));
		ck_assert_uint_lt(n + len + 2, sizeof(buf));
		if (i)
			buf[n++] = '|';
		memcpy(buf + n, ldns_rdf_data(f) + 1, len);
		n += len;
		buf[n] = '\0';
	}
	return buf;
}

void tu_assert_ok(const ldns_pkt *p, size_t n_answer)
{
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert(ldns_pkt_aa(p));
	ck_assert(!ldns_pkt_tc(p));
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), n_answer);
}

size_t tu_ecs(const char *prefix, uint8_t *buf)
{
	char text[64];
	char *slash;
	unsigned source;
	uint8_t addr[16];
	int v6;

	snprintf(text, sizeof(text), "%s", prefix);
	slash = strchr(text, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	source = (unsigned)atoi(slash + 1);
	v6 = strchr(text, ':') != NULL;
	ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, text, addr), 1);
	buf[0] = 0;
	buf[1] = 8; /* option code: client subnet */
	buf[2] = 0;
	buf[3] = (uint8_t)(4 + (source + 7) / 8);
	buf[4] = 0;
	buf[5] = v6 ? 2 : 1;
	buf[6] = (uint8_t)source;
	buf[7] = 0;
	memcpy(buf + 8, addr, (source + 7) / 8);
	return 8 + (source + 7) / 8;
}

int tu_ecs_of(const ldns_pkt *p, unsigned *family, unsigned *source, unsigned *scope, char *addr,
              size_t addrlen)
{
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	const uint8_t *o;
	size_t len, at = 0;

	if (!d)
		return 0;
	o = ldns_rdf_data(d);
	len = ldns_rdf_size(d);
	while (at + 4 <= len) {
		size_t olen = (size_t)(o[at + 2] << 8 | o[at + 3]);
		uint8_t a[16] = {0};

		ck_assert_uint_le(at + 4 + olen, len);
		if ((o[at] << 8 | o[at + 1]) == 8) {
			ck_assert_uint_ge(olen, 4);
			*family = (unsigned)(o[at + 4] << 8 | o[at + 5]);
			*source = o[at + 6];
			*scope = o[at + 7];
			ck_assert_uint_eq(olen - 4, (*source + 7) / 8);
			memcpy(a, o + at + 8, olen - 4);
			inet_ntop(*family == 2 ? AF_INET6 : AF_INET, a, addr, (socklen_t)addrlen);
			return 1;
		}
		at += 4 + olen;
	}
	return 0;
}

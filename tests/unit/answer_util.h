/* SPDX-License-Identifier: BSD-3-Clause */
/* answer_util.h: helpers shared by the dns_answer unit tests: tables from
 * YAML text, queries built with ldns, responses parsed back with ldns. */
#ifndef SRVD_TESTS_ANSWER_UTIL_H
#define SRVD_TESTS_ANSWER_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "dns/answer/table.h"
#include "common/state.h"

#define TU_SERIAL 2024060101u

/* YAML registry text -> table (serial TU_SERIAL). Relative zone paths are
 * taken from tests/unit/data/answer/. Fails the test on any error. Caller
 * frees with dns_table_free(). */
struct dns_table *tu_table(const char *yaml);

/* How a query is sent. */
struct tu_opts {
	enum dns_transport transport; /* DNS_UDP by default */
	int rd;
	int edns;           /* add an OPT record */
	uint16_t edns_size; /* with edns; 0 means 1232 */
	int do_bit;
	uint8_t edns_version;
	const char *client; /* the query's source address (dns_answer_client), or NULL */
	/* with edns: raw option bytes for the OPT rdata (e.g. tu_ecs()), or NULL */
	const uint8_t *options;
	size_t options_len;
};

/* The EDNS Client Subnet option for "10.1.2.0/24" or "2001:db8::/56" into
 * buf (at least 24 bytes); returns its length. */
size_t tu_ecs(const char *prefix, uint8_t *buf);

/* The ECS option of a reply: 1 and its family, source and scope prefix
 * lengths and address text; 0 if it has none. */
int tu_ecs_of(const ldns_pkt *p, unsigned *family, unsigned *source, unsigned *scope, char *addr,
              size_t addrlen);

/* Sends name/type/class (text) to dns_answer. Returns the parsed response
 * (caller frees with ldns_pkt_free()) or NULL when the query was dropped.
 * *len (may be NULL) gets the response length; the test fails if the
 * response exceeds the transport's limit or does not parse. */
ldns_pkt *tu_ask(struct dns_ctx *ctx, const struct dns_table *t, const char *name,
                 ldns_rr_type type, ldns_rr_class cls, const struct tu_opts *o, size_t *len);

/* Shorthand: UDP, class IN, no EDNS. */
ldns_pkt *tu_q(struct dns_ctx *ctx, const struct dns_table *t, const char *name, ldns_rr_type type);

/* Raw bytes in, raw bytes out (out must hold DNS_MAX_MSG). */
size_t tu_raw(struct dns_ctx *ctx, const struct dns_table *t, const uint8_t *q, size_t qlen,
              enum dns_transport tr, uint8_t *out);

/* Text of the rdata field i of record r in a section list, for comparisons;
 * static buffer, valid until the next call. */
const char *tu_rdf(const ldns_rr_list *list, size_t r, size_t i);

/* Owner of record r as text (static buffer). */
const char *tu_owner(const ldns_rr_list *list, size_t r);

/* Number of records of section list. */
size_t tu_count(const ldns_rr_list *list);

/* Asserts p is NOERROR with AA, without TC, and holds n_answer answers. */
void tu_assert_ok(const ldns_pkt *p, size_t n_answer);

/* Health state made by hand for a table, bound with dns_table_bind_state():
 * every instance starts PASSING and served. Tests write the fields as the
 * checker would. */
struct tu_health {
	struct health_inst *inst; /* every instance, registry order */
	size_t n_inst;
	struct health_svc *svc;
	size_t n_svc;
	size_t *first; /* index in inst of each service's first instance */
};

/* Allocates and binds the state (caller frees with tu_health_free() after
 * the table). Fails the test on error. */
struct tu_health *tu_health_bind(struct dns_table *t);
void tu_health_free(struct tu_health *h);

/* The state of instance i of service s (registry order). */
struct health_inst *tu_inst(struct tu_health *h, size_t s, size_t i);

/* Marks instance i of service s served or not (status PASSING or FAILING),
 * keeping the service's n_served right, as the checker does. */
void tu_health_set(struct tu_health *h, size_t s, size_t i, int served);

/* The character-strings of the TXT record r of list joined by '|', for
 * comparisons; static buffer, valid until the next call. */
const char *tu_txt(const ldns_rr_list *list, size_t r);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* check.h: the configuration of one health check (README "Health checks"):
 * part of the contract between the registry, which parses it, the checker
 * (health/), which probes with it, and the answer path, which shows it in
 * _health TXT. Uses none of them.
 *
 * A new check type is a value here, its name in check_type_names[]
 * (check.c) and a struct probe_ops in its own file under health/; the
 * compiler (-Wswitch) and test_health point at every place that misses it. */
#ifndef SRVD_COMMON_CHECK_H
#define SRVD_COMMON_CHECK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum check_type {
	CHECK_TCP = 0,
	CHECK_HTTP,
	CHECK_HTTPS,
	CHECK_TLS,  /* the TLS handshake alone */
	CHECK_GRPC, /* grpc.health.v1.Health/Check over HTTP/2 */
	CHECK_DNS,  /* a query to an instance that is a DNS server */
	CHECK_EXEC, /* a command of the operator's (server.exec_checks) */
	CHECK_TTL,  /* never probed: the instance sends heartbeats through the API */
	CHECK_NONE, /* never probed: always passing */
	CHECK_TYPES /* the number of types, not a type */
};

/* Every type's name, as the registry spells it, indexed by enum check_type;
 * NULL after the last (the schema's keyword list). */
extern const char *const check_type_names[CHECK_TYPES + 1];

#define CHECK_EXPECT_MAX 16 /* ranges in one `expect` */
/* With the NUL. Every service and every probe in flight holds a copy of its
 * check, so this bounds memory per service (100,000 services: 25 MB). */
#define CHECK_PATH_MAX 256

struct check_range {
	uint16_t lo, hi; /* inclusive HTTP status range */
};

/* check.method, in check_method_names[] order. */
enum check_method {
	CHECK_GET = 0,
	CHECK_HEAD,
	CHECK_POST,
	CHECK_PUT,
	CHECK_DELETE,
	CHECK_OPTIONS,
	CHECK_PATCH
};
extern const char *const check_method_names[]; /* NULL-terminated */

/* check.dns.type: the query types a dns check may ask (names and codes in
 * the same order), and check.dns.rcode: names indexed by the rcode. */
extern const char *const check_dns_type_names[]; /* NULL-terminated */
extern const uint16_t check_dns_type_codes[];
extern const char *const check_rcode_names[]; /* NULL-terminated, index = rcode */

#define CHECK_BODY_MAX    4096 /* body_match looks at this much of the body */
#define CHECK_COMMAND_MAX 64   /* arguments of an exec command, the program included */

/* The keys of the richer check types (https, tls, grpc, dns, exec, and
 * http's method, headers and body_match), apart from the check itself.
 *
 * Why a separate block: every service holds its check by value, and so do
 * the checker's copy of it and every probe in flight (health.c's ticket).
 * Strings of any length (a header map, a command line, a CA path) in that
 * value would make every one of 100,000 services pay for the few that use
 * them. So the check holds one pointer, NULL for the common tcp/http check
 * with defaults, and the block is shared, not copied: the loader fills it
 * (check_more_new()), after which it is immutable; the registry, the
 * checker's service and each probe in flight hold a reference
 * (check_config_copy() / check_config_release()), so a probe that outlives
 * a reload (and the registry and checker it started from) keeps its
 * strings. The count is atomic: the registry may be freed on another thread
 * than the checker's. */
/* In tls_set and dns_set: the mapping was written, even as {} (a grpc
 * check with tls: speaks TLS). */
#define CHECK_MAP_PRESENT ((uint64_t)1 << 63)

struct check_tls {
	char *server_name; /* SNI and the name verified; NULL: no SNI, the address is verified */
	int verify;        /* 1 (default): chain and name; 0: any certificate */
	char *ca;          /* PEM file of trusted CAs; NULL: the system store */
};

struct check_dns {
	char *name; /* absolute, lowercased; required for type dns */
	int type;   /* index in check_dns_type_names[], default A */
	int rcode;  /* the rcode that passes, default NOERROR (0) */
};

struct check_more {
	_Atomic unsigned refs;
	int method;     /* enum check_method, default GET */
	char **headers; /* name, value, name, value ... (2 * n_headers) */
	size_t n_headers;
	char *body_match; /* NULL: the status decides alone */
	struct check_tls tls;
	uint64_t tls_set;   /* the schema's mask of tls: keys, and CHECK_MAP_PRESENT */
	char *grpc_service; /* NULL: "" (the server as a whole) */
	struct check_dns dns;
	uint64_t dns_set;
	char **command; /* argv of an exec check, before {address} and {port} */
	size_t n_command;
};

struct check_config {
	enum check_type type;
	uint32_t interval_ms;           /* default 2000 */
	uint32_t timeout_ms;            /* default 1000 */
	uint32_t unhealthy_interval_ms; /* default: interval_ms (the registry resolves it) */
	uint32_t rise;                  /* default 2 */
	uint32_t fall;                  /* default 3 */
	uint16_t port;                  /* 0: the instance's port */
	char path[CHECK_PATH_MAX];      /* http: request path, default "/" */
	struct check_range expect[CHECK_EXPECT_MAX]; /* http: default 200-399 */
	size_t n_expect;
	uint32_t ttl_ms;              /* ttl: the longest wait between heartbeats */
	uint32_t deregister_after_ms; /* 0: never; else an instance failing this long is removed */
	uint32_t slow_start_ms;       /* 0: off; else a restored instance's weight ramps up */
	struct check_more *more;      /* NULL: every key of it at its default; see above */
};

/* 1 if instances with this check type are probed: every type but ttl and
 * none (health/ has a probe for each, which test_health holds it to). */
int check_type_probed(enum check_type type);

/* Returns the name of a check type ("tcp", "http", "none"), "?" out of range. */
const char *check_type_name(enum check_type type);

/* The defaults of every key of struct check_more: what a check with no
 * block reads. */
extern const struct check_more check_more_defaults;

/* The block of c, or &check_more_defaults when it has none. */
const struct check_more *check_more_of(const struct check_config *c);

/* A new block holding the defaults, one reference; NULL when out of memory. */
struct check_more *check_more_new(void);

/* Drops one reference to m (NULL accepted); the last frees it and its strings. */
void check_more_unref(struct check_more *m);

/* *dst = *src, taking a reference to its block: release dst with
 * check_config_release(). */
void check_config_copy(struct check_config *dst, const struct check_config *src);
void check_config_release(struct check_config *c);

/* 1 if the check speaks TLS (https, tls; grpc with tls:), else 0. */
int check_uses_tls(const struct check_config *c);

/* 1 if the check speaks TLS with tls.verify false. */
int check_tls_unverified(const struct check_config *c);

/* Returns 1 when an HTTP status is accepted by cfg->expect, else 0. */
int check_status_expected(const struct check_config *cfg, unsigned status);

#endif

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

#include <stddef.h>
#include <stdint.h>

enum check_type {
	CHECK_TCP = 0,
	CHECK_HTTP,
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
};

/* 1 if instances with this check type are probed: every type but none
 * (health/ has a probe for each, which test_health holds it to). */
int check_type_probed(enum check_type type);

/* Returns the name of a check type ("tcp", "http", "none"), "?" out of range. */
const char *check_type_name(enum check_type type);

/* Returns 1 when an HTTP status is accepted by cfg->expect, else 0. */
int check_status_expected(const struct check_config *cfg, unsigned status);

#endif

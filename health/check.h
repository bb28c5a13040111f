/* SPDX-License-Identifier: BSD-3-Clause */
/* check.h: the configuration of one health check (SPEC section 4). The probes
 * themselves come with the health checker; the registry parses and validates
 * these blocks now. */
#ifndef SRVD_HEALTH_CHECK_H
#define SRVD_HEALTH_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum check_type { CHECK_TCP = 0, CHECK_HTTP, CHECK_NONE };

#define CHECK_EXPECT_MAX 16 /* ranges in one `expect` */
/* With the NUL. Every service and every probe in flight holds a copy of its
 * check, so this bounds memory per service (100,000 services: 25 MB). */
#define CHECK_PATH_MAX   256

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

/* Returns the name of a check type ("tcp", "http", "none"). */
const char *check_type_name(enum check_type type);

/* Sets *cfg to the built-in defaults (HAProxy's: tcp, 2s, 1s, rise 2, fall 3,
 * path "/", expect 200-399). */
void check_config_defaults(struct check_config *cfg);

/* Returns 1 when an HTTP status is accepted by cfg->expect, else 0. */
int check_status_expected(const struct check_config *cfg, unsigned status);

#endif

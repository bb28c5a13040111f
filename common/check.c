/* SPDX-License-Identifier: BSD-3-Clause */
/* check.c: check type names, defaults and helpers of the check configuration. */
#include "common/check.h"

#include <string.h>

const char *const check_type_names[CHECK_TYPES + 1] = {
    [CHECK_TCP] = "tcp",
    [CHECK_HTTP] = "http",
    [CHECK_NONE] = "none",
    [CHECK_TYPES] = NULL,
};

const char *check_type_name(enum check_type type)
{
	return (unsigned)type < CHECK_TYPES && check_type_names[type] ? check_type_names[type]
	                                                              : "?";
}

void check_config_defaults(struct check_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->type = CHECK_TCP;
	cfg->interval_ms = 2000;
	cfg->timeout_ms = 1000;
	cfg->unhealthy_interval_ms = 0; /* 0 here means "same as interval_ms" */
	cfg->rise = 2;
	cfg->fall = 3;
	strcpy(cfg->path, "/");
	cfg->expect[0].lo = 200;
	cfg->expect[0].hi = 399;
	cfg->n_expect = 1;
}

int check_status_expected(const struct check_config *cfg, unsigned status)
{
	for (size_t i = 0; i < cfg->n_expect; i++)
		if (status >= cfg->expect[i].lo && status <= cfg->expect[i].hi)
			return 1;
	return 0;
}

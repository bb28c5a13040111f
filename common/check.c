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

int check_type_probed(enum check_type type)
{
	return (unsigned)type < CHECK_TYPES && type != CHECK_NONE;
}

const char *check_type_name(enum check_type type)
{
	return (unsigned)type < CHECK_TYPES && check_type_names[type] ? check_type_names[type]
	                                                              : "?";
}

int check_status_expected(const struct check_config *cfg, unsigned status)
{
	for (size_t i = 0; i < cfg->n_expect; i++)
		if (status >= cfg->expect[i].lo && status <= cfg->expect[i].hi)
			return 1;
	return 0;
}

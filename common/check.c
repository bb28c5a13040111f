/* SPDX-License-Identifier: BSD-3-Clause */
/* check.c: check type names, defaults and helpers of the check configuration. */
#include "common/check.h"

#include <stdlib.h>
#include <string.h>

const char *const check_type_names[CHECK_TYPES + 1] = {
    [CHECK_TCP] = "tcp",   [CHECK_HTTP] = "http", [CHECK_HTTPS] = "https", [CHECK_TLS] = "tls",
    [CHECK_GRPC] = "grpc", [CHECK_DNS] = "dns",   [CHECK_EXEC] = "exec",   [CHECK_TTL] = "ttl",
    [CHECK_NONE] = "none", [CHECK_TYPES] = NULL,
};

const char *const check_method_names[] = {
    [CHECK_GET] = "GET",     [CHECK_HEAD] = "HEAD",     [CHECK_POST] = "POST",
    [CHECK_PUT] = "PUT",     [CHECK_DELETE] = "DELETE", [CHECK_OPTIONS] = "OPTIONS",
    [CHECK_PATCH] = "PATCH", [CHECK_PATCH + 1] = NULL,
};

/* A first: it is the default (index 0) */
const char *const check_dns_type_names[] = {"A",   "AAAA", "CNAME", "MX",  "NS",
                                            "PTR", "SOA",  "SRV",   "TXT", NULL};
const uint16_t check_dns_type_codes[] = {1, 28, 5, 15, 2, 12, 6, 33, 16};
_Static_assert(sizeof(check_dns_type_codes) / sizeof(check_dns_type_codes[0]) ==
                   sizeof(check_dns_type_names) / sizeof(check_dns_type_names[0]) - 1,
               "a code per name");

const char *const check_rcode_names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                         "NOTIMP",  "REFUSED", NULL};

/* The schema's .def texts of these keys say the same (test_registry holds
 * them to it): GET, tls.verify true, dns.type A, dns.rcode NOERROR. */
const struct check_more check_more_defaults = {
    .method = CHECK_GET,
    .tls = {.verify = 1},
    .dns = {.type = 0, .rcode = 0},
};

int check_type_probed(enum check_type type)
{
	return (unsigned)type < CHECK_TYPES && type != CHECK_NONE && type != CHECK_TTL;
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

const struct check_more *check_more_of(const struct check_config *c)
{
	return c->more ? c->more : &check_more_defaults;
}

struct check_more *check_more_new(void)
{
	struct check_more *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	memcpy(m, &check_more_defaults, sizeof(*m));
	atomic_init(&m->refs, 1);
	return m;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void check_more_unref(struct check_more *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	free_strv(m->headers, 2 * m->n_headers);
	free(m->body_match);
	free(m->tls.server_name);
	free(m->tls.ca);
	free(m->grpc_service);
	free(m->dns.name);
	free_strv(m->command, m->n_command);
	free(m);
}

void check_config_copy(struct check_config *dst, const struct check_config *src)
{
	*dst = *src;
	if (dst->more)
		atomic_fetch_add(&dst->more->refs, 1);
}

void check_config_release(struct check_config *c)
{
	check_more_unref(c->more);
	c->more = NULL;
}

int check_uses_tls(const struct check_config *c)
{
	return c->type == CHECK_HTTPS || c->type == CHECK_TLS ||
	       (c->type == CHECK_GRPC && (check_more_of(c)->tls_set & CHECK_MAP_PRESENT));
}

int check_tls_unverified(const struct check_config *c)
{
	return check_uses_tls(c) && !check_more_of(c)->tls.verify;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_registry.c: libFuzzer target of the YAML registry loader: bytes to
 * registry_load_string(), then, for a registry that loads, the answer table
 * and the digest. It must never crash or leak; a load fails with at least
 * one error and every error names the file, line and column.
 *
 * An input may hold a second registry after a line "#--" (a comment to
 * YAML): then the table of the second, built as a change from the first's
 * (dns_table_update(), a delta where it can be), must answer every name of
 * both registries' services, tags and instances byte for byte as the
 * second's built whole.
 *
 * Paths in the input (zones, include) must not reach arbitrary files (think
 * /dev/stdin or /proc): the program is linked with --wrap for fopen and glob,
 * and while the loader runs, these refuse any path outside an empty scratch
 * folder, which is also the registry's base folder. */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/answer/answer.h"
#include "dns/answer/name.h"
#include "dns/answer/policy.h"
#include "dns/answer/table.h"
#include "registry/registry.h"
#include "tests/fuzz/fuzz_util.h"

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);
int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);

static int sandboxed;

/* 1 if path lies inside the scratch folder (no "..", no other root). */
static int path_ok(const char *path)
{
	const char *dir = fuzz_tmpdir();
	size_t n = strlen(dir);

	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return 0;
	for (const char *p = path + n; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return 0;
	return 1;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	if (sandboxed && !path_ok(path)) {
		errno = EACCES;
		return NULL;
	}
	return __real_fopen(path, mode);
}

int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
	if (sandboxed && !path_ok(pattern))
		return GLOB_NOMATCH;
	return __real_glob(pattern, flags, errfunc, g);
}

/* "NAME:LINE:COL: " with LINE and COL numbers, or the loader ran out of memory. */
static int error_ok(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *p = line + n;
	char *end;

	if (strncmp(line, name, n) != 0 || *p != ':')
		return strcmp(line, "out of memory") == 0;
	if (strtoul(p + 1, &end, 10) == 0 || end == p + 1 || *end != ':')
		return 0;
	p = end;
	if (strtoul(p + 1, &end, 10) == 0 || end == p + 1 || strncmp(end, ": ", 2) != 0)
		return 0;
	return 1;
}

/* Loads text as the registry of file `name`, checking the contract of a
 * failure; NULL if it does not load. */
static struct registry *load(const char *text, const char *name)
{
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	int rc;

	sandboxed = 1;
	rc = registry_load_string(text, name, &reg, &errs);
	sandboxed = 0;
	if (rc == 0) {
		if (!reg)
			fuzz_fail("success without a registry");
	} else {
		if (rc != -1 || reg)
			fuzz_fail("failure %d with a registry %p", rc, (void *)reg);
		if (errs.n == 0)
			fuzz_fail("failure without an error");
		for (size_t i = 0; i < errs.n; i++)
			if (!error_ok(errs.lines[i], name))
				fuzz_fail("error without file:line:col: %s", errs.lines[i]);
	}
	registry_errors_clear(&errs);
	return reg;
}

/* Asks both tables for name (LABEL[.LABEL].<zone>) of every type that
 * matters; they must answer alike. */
static void same_answer(const struct dns_table *inc, const struct dns_table *whole,
                        const struct registry *reg, const char *l1, const char *l2)
{
	static const uint16_t types[] = {1, 28, 33, 16, 255, 6};
	uint8_t zone[256], name[256], q[300], a[4096], b[4096];
	size_t zl = dns_name_from_text(reg->server.zone, zone), nl;
	struct dns_ctx *ca, *cb;

	if (!zl || !(nl = dns_name_prepend(name, "", l1, zone, zl)))
		return;
	if (l2 && !(nl = dns_name_prepend(name, "", l2, name, nl)))
		return;
	ca = dns_ctx_create(5);
	cb = dns_ctx_create(5);
	if (!ca || !cb)
		fuzz_fail("out of memory");
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		size_t la, lb;

		memset(q, 0, 12);
		q[5] = 1; /* one question */
		memcpy(q + 12, name, nl);
		q[12 + nl] = (uint8_t)(types[k] >> 8);
		q[13 + nl] = (uint8_t)types[k];
		q[14 + nl] = 0;
		q[15 + nl] = 1;
		la = dns_answer(ca, inc, q, 16 + nl, DNS_UDP, a, sizeof(a), NULL);
		lb = dns_answer(cb, whole, q, 16 + nl, DNS_UDP, b, sizeof(b), NULL);
		if (la != lb || memcmp(a, b, la))
			fuzz_fail(
			    "%s%s%s type %u: the delta answers %zu bytes, the whole table %zu "
			    "(or other bytes)",
			    l2 ? l2 : "", l2 ? "." : "", l1, types[k], la, lb);
	}
	dns_ctx_free(ca);
	dns_ctx_free(cb);
}

/* The names of reg's services, asked of both tables. */
static void same_answers(const struct dns_table *inc, const struct dns_table *whole,
                         const struct registry *names, const struct registry *reg)
{
	for (size_t i = 0; i < names->n_services; i++) {
		const struct reg_service *s = names->services[i];
		char srv[80];

		same_answer(inc, whole, reg, s->name, NULL);
		same_answer(inc, whole, reg, s->name, "_health");
		snprintf(srv, sizeof(srv), "_%s", s->protocol ? s->protocol : "tcp");
		same_answer(inc, whole, reg, s->name, srv);
		for (size_t k = 0; k < s->n_tags; k++)
			same_answer(inc, whole, reg, s->name, s->tags[k]);
		for (size_t k = 0; k < s->n_instances && k < 16; k++)
			same_answer(inc, whole, reg, s->name, s->instances[k].name);
	}
}

/* The second registry as a change of the first. */
static void change(const struct registry *first, const struct registry *second)
{
	struct dns_table *base = NULL, *inc = NULL, *whole = NULL;
	char err[256];

	if (dns_table_build(first, 1, &base, err, sizeof(err)) == 0 &&
	    dns_table_build(second, 2, &whole, err, sizeof(err)) == 0) {
		if (dns_table_update(base, second, 2, &inc, err, sizeof(err)) != 0)
			fuzz_fail("a change fails where a whole build does not: %s", err);
		same_answers(inc, whole, second, second);
		same_answers(inc, whole, first, second);
	}
	dns_table_free(inc);
	dns_table_free(whole);
	dns_table_free(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[600];
	char *text = malloc(size + 1), *cut, err[256];
	struct registry *reg = NULL, *second = NULL;
	struct dns_table *t = NULL;

	if (!text)
		fuzz_fail("out of memory");
	if (!name[0]) {
		FILE *fp;

		log_set_level(LOG_LEVEL_ERR);
		snprintf(name, sizeof(name), "%s/fuzz.yaml", fuzz_tmpdir());
		/* a header that renamed fopen (fopen64) would let paths out */
		sandboxed = 1;
		fp = fopen("/dev/null", "r");
		sandboxed = 0;
		if (fp)
			fuzz_fail("the fopen() sandbox is not in place (link with --wrap=fopen)");
	}
	memcpy(text, data, size);
	text[size] = '\0';
	cut = strstr(text, "\n#--\n");
	if (cut) {
		second = load(cut + 5, name);
		cut[1] = '\0';
	}
	reg = load(text, name);
	if (reg) {
		if (dns_table_build(reg, 1, &t, err, sizeof(err)) == 0)
			dns_table_free(t);
		(void)registry_digest(reg);
		if (second)
			change(reg, second);
	}
	registry_free(second);
	registry_free(reg);
	free(text);
	return 0;
}

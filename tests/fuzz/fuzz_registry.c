/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_registry.c: libFuzzer target of the YAML registry loader: bytes to
 * registry_load_string(), then, for a registry that loads, the answer table
 * and the digest. It must never crash or leak; a load fails with at least
 * one error and every error names the file, line and column.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[600];
	char *text = malloc(size + 1), err[256];
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	struct dns_table *t = NULL;
	int rc;

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
	sandboxed = 1;
	rc = registry_load_string(text, name, &reg, &errs);
	sandboxed = 0;
	if (rc == 0) {
		if (!reg)
			fuzz_fail("success without a registry");
		if (dns_table_build(reg, 1, &t, err, sizeof(err)) == 0)
			dns_table_free(t);
		(void)registry_digest(reg);
		registry_free(reg);
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
	free(text);
	return 0;
}

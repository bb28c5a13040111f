/* SPDX-License-Identifier: BSD-3-Clause */
/* test_paths.c: path_resolve(), the symlink walk shared by the file
 * watch and the refusal of unsafe files as root: the links it reports, in
 * order, and the real path it ends on, on a tree made in a temporary folder. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/path.h"
#include "tests/unit/check_main.h"

static char root[PATH_MAX]; /* the temporary folder, resolved */
static char seen[4096];     /* "DIR|NAME;" for every link reported */

static void on_link(void *arg, const char *dir, const char *name)
{
	size_t n = strlen(seen);

	(void)arg;
	snprintf(seen + n, sizeof(seen) - n, "%s|%s;", dir, name);
}

static void setup(void)
{
	char tmpl[] = "/tmp/srvd-paths-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, root));
	seen[0] = '\0';
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	ck_assert((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root) < sizeof(cmd));
	ck_assert_int_eq(system(cmd), 0);
}

/* root/rel */
static const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	ck_assert((size_t)snprintf(b, PATH_MAX, "%s%s%s", root, *rel ? "/" : "", rel) < PATH_MAX);
	return b;
}

static void touch(const char *rel)
{
	FILE *f = fopen(at(rel), "w");

	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void resolves(const char *rel, const char *want_rel, const char *want_links)
{
	char out[PATH_MAX], want[sizeof(seen)] = "";

	seen[0] = '\0';
	ck_assert_int_eq(path_resolve(at(rel), on_link, NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, at(want_rel));
	/* want_links: "DIR|NAME;" with DIR relative to root ("" for root) */
	for (const char *p = want_links; *p;) {
		const char *bar = strchr(p, '|'), *semi = strchr(p, ';');
		char dir[PATH_MAX];
		size_t n = strlen(want);

		ck_assert(bar && semi);
		ck_assert((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(bar - p), p) <
		          sizeof(dir));
		snprintf(want + n, sizeof(want) - n, "%s|%.*s;", at(dir), (int)(semi - bar - 1),
		         bar + 1);
		p = semi + 1;
	}
	ck_assert_str_eq(seen, want);
}

START_TEST(plain_path_has_no_links)
{
	ck_assert_int_eq(mkdir(at("etc"), 0755), 0);
	touch("etc/srvd.yaml");
	resolves("etc/srvd.yaml", "etc/srvd.yaml", "");
	resolves("etc/./../etc//srvd.yaml", "etc/srvd.yaml", "");
	/* a name that does not exist yet is kept as it is */
	resolves("etc/new.yaml", "etc/new.yaml", "");
}
END_TEST

START_TEST(configmap_layout)
{
	/* kubelet: srvd.yaml -> ..data/srvd.yaml, ..data -> ..TIMESTAMP */
	ck_assert_int_eq(mkdir(at("cm"), 0755), 0);
	ck_assert_int_eq(mkdir(at("cm/..2026_12_03_10_00_00.1234"), 0755), 0);
	touch("cm/..2026_12_03_10_00_00.1234/srvd.yaml");
	ck_assert_int_eq(symlink("..2026_12_03_10_00_00.1234", at("cm/..data")), 0);
	ck_assert_int_eq(symlink("..data/srvd.yaml", at("cm/srvd.yaml")), 0);
	resolves("cm/srvd.yaml", "cm/..2026_12_03_10_00_00.1234/srvd.yaml",
	         "cm|srvd.yaml;cm|..data;");
}
END_TEST

START_TEST(absolute_and_relative_links)
{
	char target[PATH_MAX];

	ck_assert_int_eq(mkdir(at("real"), 0755), 0);
	ck_assert_int_eq(mkdir(at("etc"), 0755), 0);
	touch("real/main.yaml");
	snprintf(target, sizeof(target), "%s", at("real/main.yaml"));
	ck_assert_int_eq(symlink(target, at("etc/abs.yaml")), 0);
	ck_assert_int_eq(symlink("../real/main.yaml", at("etc/rel.yaml")), 0);
	/* a link to a folder on the way */
	ck_assert_int_eq(symlink("real", at("alias")), 0);
	resolves("etc/abs.yaml", "real/main.yaml", "etc|abs.yaml;");
	resolves("etc/rel.yaml", "real/main.yaml", "etc|rel.yaml;");
	resolves("alias/main.yaml", "real/main.yaml", "|alias;");
	/* ".." after a link goes up from the target, as the kernel does */
	resolves("alias/../etc/rel.yaml", "real/main.yaml", "|alias;etc|rel.yaml;");
}
END_TEST

START_TEST(relative_path_from_working_folder)
{
	char cwd[PATH_MAX], out[PATH_MAX];

	touch("srvd.yaml");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(root), 0);
	ck_assert_int_eq(path_resolve("srvd.yaml", NULL, NULL, out, sizeof(out)), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(out, at("srvd.yaml"));
}
END_TEST

START_TEST(loop_and_short_buffer_fail)
{
	char out[PATH_MAX], tiny[4];

	ck_assert_int_eq(symlink("b", at("a")), 0);
	ck_assert_int_eq(symlink("a", at("b")), 0);
	ck_assert_int_eq(path_resolve(at("a"), NULL, NULL, out, sizeof(out)), -1);
	touch("f");
	ck_assert_int_eq(path_resolve(at("f"), NULL, NULL, tiny, sizeof(tiny)), -1);
	ck_assert_int_eq(path_resolve("/", NULL, NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("paths");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plain_path_has_no_links);
	tcase_add_test(tc, configmap_layout);
	tcase_add_test(tc, absolute_and_relative_links);
	tcase_add_test(tc, relative_path_from_working_folder);
	tcase_add_test(tc, loop_and_short_buffer_fail);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

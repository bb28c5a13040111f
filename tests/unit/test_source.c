/* SPDX-License-Identifier: BSD-3-Clause */
/* test_source.c: the files registry source (registry/source_files.c) on a
 * folder made by the test: loads, writes and undoes services, and names
 * what changed when files change (inotify, a real event loop). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "registry/source.h"
#include "tests/unit/check_main.h"

static char dir[64], main_file[128], inc_dir[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/srvd-source-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_file, sizeof(main_file), "%s/srvd.yaml", dir);
	snprintf(inc_dir, sizeof(inc_dir), "%s/services.d", dir);
	ck_assert_int_eq(mkdir(inc_dir, 0755), 0);
	write_file(main_file, "server: {zone: s.example.}\n"
	                      "include: services.d/*.yaml\n"
	                      "defaults: {port: 8080, check: {type: none}}\n"
	                      "services:\n"
	                      "  main:\n"
	                      "    instances: [{name: m1, address: 192.0.2.1}]\n");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *body = "{\"instances\": [{\"name\": \"w1\", \"address\": \"192.0.2.2\"}]}";

START_TEST(test_load_write_undo)
{
	struct reg_source *s;
	struct registry *reg = NULL, *again = NULL;
	struct reg_write w;
	char path[192];

	snprintf(path, sizeof(path), "%s/web.yaml", inc_dir);
	ck_assert_int_eq(reg_source_files_create(main_file, NULL, NULL, NULL, &s), 0);
	ck_assert_str_eq(s->ops->name, "files");
	ck_assert_int_eq(reg_source_load(s, &reg, NULL), 0);
	ck_assert_uint_eq(reg->n_services, 1);

	/* a new service: written where the include glob loads it, with the
	 * main file's defaults (port) */
	reg_source_put(s, reg, "web", body, strlen(body), &w);
	ck_assert_int_eq(w.result, REG_WRITE_OK);
	ck_assert_int_eq(w.created, 1);
	ck_assert_str_eq(w.where, path);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(reg_source_load(s, &again, NULL), 0);
	ck_assert_ptr_nonnull(registry_find_service(again, "web"));
	ck_assert_uint_eq(registry_find_service(again, "web")->instances[0].port, 8080);
	/* undone: as if it never was */
	reg_source_undo(s, &w);
	reg_write_clear(&w);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* refusals, in the API's terms */
	reg_source_put(s, reg, "web", "{\"instances\": 5}", 16, &w);
	ck_assert_int_eq(w.result, REG_WRITE_INVALID);
	ck_assert_uint_gt(w.errs.n, 0);
	reg_write_clear(&w);
	reg_source_put(s, reg, "main", body, strlen(body), &w);
	ck_assert_int_eq(w.result, REG_WRITE_CONFLICT);
	ck_assert_ptr_nonnull(strstr(w.message, "defined in another file"));
	reg_write_clear(&w);
	reg_source_delete(s, reg, "nothing", &w);
	ck_assert_int_eq(w.result, REG_WRITE_NOT_FOUND);
	reg_write_clear(&w);

	/* a replace and a delete, undone: the old text comes back */
	reg_source_put(s, reg, "web", body, strlen(body), &w);
	reg_write_clear(&w);
	reg_source_put(s, reg, "web", body, strlen(body), &w);
	ck_assert_int_eq(w.created, 0);
	reg_write_clear(&w);
	reg_source_delete(s, reg, "web", &w);
	ck_assert_int_eq(w.result, REG_WRITE_OK);
	ck_assert_int_eq(access(path, F_OK), -1);
	reg_source_undo(s, &w);
	reg_write_clear(&w);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* a reload of an emptied main file is a truncated write */
	write_file(main_file, "# nothing\n");
	registry_free(again);
	again = NULL;
	ck_assert_int_eq(reg_source_load(s, &again, NULL), -1);
	registry_free(reg);
	reg_source_free(s);
}
END_TEST

struct seen {
	int calls, everything;
	char file[256];
};

static void on_change(void *arg, const struct reg_change *c)
{
	struct seen *s = arg;

	s->calls++;
	s->everything = c->everything;
	snprintf(s->file, sizeof(s->file), "%s", c->n_files ? c->files[0] : "");
}

static void run_until(struct event_base *base, const int *flag)
{
	for (int i = 0; i < 300 && !*flag; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
}

START_TEST(test_change_names_the_file)
{
	struct event_base *base = event_base_new();
	struct reg_source *s;
	struct registry *reg = NULL;
	struct seen seen = {0};
	char path[192], want[256];

	ck_assert_int_eq(reg_source_files_create(main_file, base, on_change, &seen, &s), 0);
	ck_assert_int_eq(reg_source_load(s, &reg, NULL), 0);
	reg_source_watch(s, reg);
	snprintf(path, sizeof(path), "%s/api.yaml", inc_dir);
	write_file(path, "services: {api: {instances: [{name: a1, address: 192.0.2.3}]}}\n");
	run_until(base, &seen.calls);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.everything, 0);
	ck_assert_ptr_nonnull(realpath(inc_dir, want));
	strcat(want, "/api.yaml");
	ck_assert_str_eq(seen.file, want);

	/* the main file: everything */
	seen.calls = 0;
	write_file(main_file, "server: {zone: s.example.}\ninclude: services.d/*.yaml\n");
	run_until(base, &seen.calls);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.everything, 1);
	registry_free(reg);
	reg_source_free(s);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_load_write_undo);
	tcase_add_test(tc, test_change_names_the_file);
	suite_add_tcase(s, tc);
	return check_run(s);
}

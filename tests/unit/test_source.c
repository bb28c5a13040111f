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

#include "registry/registry.h"
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

/* registry_update() after random edits to include files (and drains)
 * serves what a full load of the same files serves: the same services with
 * the same digests. Fixed seeds. */
#define U_FILES 6
#define U_SVCS  12

static uint64_t u_rng;

static uint32_t u_rnd(uint32_t n)
{
	u_rng ^= u_rng << 13;
	u_rng ^= u_rng >> 7;
	u_rng ^= u_rng << 17;
	return (uint32_t)(u_rng % n);
}

struct u_model {
	int file[U_SVCS]; /* the file defining service i, -1 none */
	int port[U_SVCS], n_inst[U_SVCS];
	int drained[U_SVCS]; /* 0 no, 1 the service, 2 its first instance */
	int dup;             /* a service also in a second file */
};

static void u_write(const struct u_model *m, int f)
{
	char path[192], text[4096];
	size_t n = 0;
	int any = 0;

	snprintf(path, sizeof(path), "%s/f%d.yaml", inc_dir, f);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "services:\n");
	for (int i = 0; i < U_SVCS; i++) {
		if (m->file[i] != f && !(m->dup == i + 1 && f == (m->file[i] + 1) % U_FILES))
			continue;
		any = 1;
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "  s%d:\n    port: %d\n    instances:\n", i, m->port[i]);
		for (int k = 0; k < m->n_inst[i]; k++)
			n += (size_t)snprintf(text + n, sizeof(text) - n,
			                      "      - {name: i%d, address: 192.0.2.%d}\n", k,
			                      10 + k);
	}
	if (any)
		write_file(path, text);
	else
		unlink(path);
}

static struct reg_maint *u_drains(const struct u_model *m, size_t *n)
{
	struct reg_maint *v = NULL;

	*n = 0;
	for (int i = 0; i < U_SVCS; i++) {
		char svc[16];

		if (!m->drained[i] || m->file[i] < 0)
			continue;
		snprintf(svc, sizeof(svc), "s%d", i);
		ck_assert_int_ge(registry_maint_set(&v, n, svc, m->drained[i] == 2 ? "i0" : NULL,
		                                    m->drained[i] == 2 ? "disk" : "upgrade"),
		                 0);
	}
	return v;
}

/* name=digest lines, sorted: what a registry serves */
static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *u_served(const struct registry *reg)
{
	char **lines = calloc(reg->n_services + 1, sizeof(*lines)), *all = calloc(1, 65536);
	size_t used = 0;

	for (size_t i = 0; i < reg->n_services; i++) {
		lines[i] = malloc(64);
		snprintf(lines[i], 64, "%s=%016llx\n", reg->services[i]->name,
		         (unsigned long long)registry_service_digest(reg->services[i]));
	}
	qsort(lines, reg->n_services, sizeof(*lines), cmp_line);
	for (size_t i = 0; i < reg->n_services; i++) {
		size_t l = strlen(lines[i]);

		memcpy(all + used, lines[i], l + 1);
		used += l;
		free(lines[i]);
	}
	free(lines);
	return all;
}

START_TEST(test_update_as_full)
{
	struct u_model m;
	struct registry *cur = NULL;
	struct reg_errors errs = {0};
	int updates = 0;

	memset(&m, 0, sizeof(m));
	u_rng = 0x2545F4914F6CDD1DULL + (uint64_t)_i;
	for (int i = 0; i < U_SVCS; i++) {
		m.file[i] = u_rnd(3) ? (int)u_rnd(U_FILES) : -1;
		m.port[i] = 80;
		m.n_inst[i] = 1 + (int)u_rnd(3);
	}
	for (int f = 0; f < U_FILES; f++)
		u_write(&m, f);
	ck_assert_int_eq(registry_load_file(main_file, &cur, &errs), 0);
	for (int step = 0; step < 60; step++) {
		int i = (int)u_rnd(U_SVCS), touched[U_FILES] = {0};
		char *paths[U_FILES], *want, *got;
		size_t n_paths = 0, n_m;
		struct reg_maint *dm;
		struct registry *next = NULL, *full = NULL;
		int rc, full_rc, was = m.file[i];

		m.dup = 0;
		switch (u_rnd(6)) {
		case 0: /* moves to another file, or comes, or goes */
			m.file[i] = u_rnd(4) ? (int)u_rnd(U_FILES) : -1;
			break;
		case 1:
			m.port[i] = 80 + (int)u_rnd(5);
			break;
		case 2:
			m.n_inst[i] = 1 + (int)u_rnd(3);
			break;
		case 3:
			m.drained[i] = (int)u_rnd(3);
			break;
		case 4:
			if (m.file[i] >= 0 && u_rnd(4) == 0)
				m.dup = i + 1; /* defined twice: a full load's error */
			break;
		default:
			break;
		}
		for (int f = 0; f < U_FILES; f++)
			if (f == was || f == m.file[i] || (m.dup && f == (m.file[i] + 1) % U_FILES))
				touched[f] = 1;
		for (int f = 0; f < U_FILES; f++) {
			if (!touched[f])
				continue;
			u_write(&m, f);
			paths[n_paths] = malloc(192);
			snprintf(paths[n_paths++], 192, "%s/f%d.yaml", inc_dir, f);
		}
		dm = u_drains(&m, &n_m);
		rc = registry_update(cur, paths, n_paths, dm, n_m, &next, &errs);
		registry_errors_clear(&errs);
		full_rc = registry_load_file(main_file, &full, &errs);
		registry_errors_clear(&errs);
		if (m.dup) {
			/* the update leaves it to the full load, which refuses */
			ck_assert_int_eq(rc, 1);
			ck_assert_int_eq(full_rc, -1);
			m.dup = 0;
			for (int f = 0; f < U_FILES; f++)
				u_write(&m, f);
		} else {
			ck_assert_msg(rc == 0, "step %d: update %d", step, rc);
			ck_assert_int_eq(full_rc, 0);
			dm = u_drains(&m, &n_m);
			registry_maint_attach(full, dm, n_m);
			want = u_served(full);
			got = u_served(next);
			ck_assert_msg(strcmp(want, got) == 0, "step %d: full load\n%s\nupdate\n%s",
			              step, want, got);
			ck_assert_uint_eq(registry_digest(next), registry_digest(full));
			free(want);
			free(got);
			registry_adopt(next, cur);
			registry_free(cur);
			cur = next;
			updates++;
		}
		registry_free(full);
		if (rc != 0) {
			/* as the daemon: a full load, then on from it */
			registry_free(next);
			registry_free(cur);
			ck_assert_int_eq(registry_load_file(main_file, &cur, &errs), 0);
		}
		for (size_t k = 0; k < n_paths; k++)
			free(paths[k]);
	}
	ck_assert_int_ge(updates, 40);
	registry_free(cur);
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
	tcase_add_loop_test(tc, test_update_as_full, 0, 4);
	suite_add_tcase(s, tc);
	return check_run(s);
}

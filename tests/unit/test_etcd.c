/* SPDX-License-Identifier: BSD-3-Clause */
/* test_etcd.c: the etcd registry source without etcd (registry/source_etcd.c,
 * registry/etcd_client.c): the gateway's JSON helpers, and loads from the
 * cache file of a srvd started while etcd is unreachable (an endpoint on a
 * closed loopback port), which go through the same per-key checks as keys
 * read from etcd. tests/system/test_etcd.py runs a real cluster. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "registry/etcd_client.h"
#include "registry/source.h"
#include "tests/unit/check_main.h"

START_TEST(test_base64)
{
	const char bin[] = {'\0', '\xff', 'a', '\n', '"'};
	char *b, *d;
	size_t len;

	b = etcd_b64("/srvd/", 6);
	ck_assert_str_eq(b, "L3NydmQv");
	free(b);
	for (size_t n = 0; n <= sizeof(bin); n++) {
		b = etcd_b64(bin, n);
		d = etcd_unb64(b, &len);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(len, n);
		ck_assert_int_eq(memcmp(d, bin, n), 0);
		free(b);
		free(d);
	}
	ck_assert_ptr_null(etcd_unb64("not base64!", &len));
}
END_TEST

static void ignore(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

START_TEST(test_json_helpers)
{
	const char *reply = "{\"header\": {\"revision\": \"9007199254740993\"}, "
	                    "\"result\": {\"created\": true}}";
	char *s = etcd_json_str("a\"b\\c\nd");
	struct ydoc *doc = NULL;

	ck_assert_str_eq(s, "\"a\\\"b\\\\c\\u000ad\"");
	free(s);
	/* 64-bit numbers as strings, zero values omitted (etcd 3.4's gateway) */
	ck_assert_int_eq(ydoc_parse_string(reply, strlen(reply), "t", &doc, ignore, NULL), 0);
	ck_assert_int_eq(etcd_int(etcd_get(doc->root, "header"), "revision"), 9007199254740993LL);
	ck_assert_int_eq(etcd_int(etcd_get(doc->root, "header"), "raft_term"), 0);
	ck_assert_ptr_nonnull(etcd_get(etcd_get(doc->root, "result"), "created"));
	ck_assert_ptr_null(etcd_get(doc->root, "kvs"));
	ydoc_free(doc);
}
END_TEST

START_TEST(test_bad_endpoints)
{
	struct etcd_client *c = NULL;
	char *const bad[] = {"127.0.0.1:2379"}, *const good[] = {"https://[::1]:2379/"};
	char err[256];

	ck_assert_int_eq(etcd_client_create(NULL, bad, 1, 1000, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not http://ADDRESS:PORT"));
	ck_assert_int_eq(etcd_client_create(NULL, good, 1, 1000, &c, err, sizeof(err)), 0);
	etcd_client_free(c);
}
END_TEST

static char dir[64], main_file[128], cache[128], zone[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/srvd-etcd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_file, sizeof(main_file), "%s/srvd.yaml", dir);
	snprintf(cache, sizeof(cache), "%s/cache.yaml", dir);
	/* port 1 on loopback: refused at once, so the cache serves */
	snprintf(zone, sizeof(zone), "%s/static.zone", dir);
	write_file(zone, "clash 60 IN A 192.0.2.50\n"
	                 "_srv._udp 60 IN SRV 0 0 53 clash\n");
	write_file(main_file, "server:\n"
	                      "  zone: s.example.\n"
	                      "  registry: {etcd: {endpoints: [\"http://127.0.0.1:1\"], "
	                      "timeout: 200ms, cache: cache.yaml}}\n"
	                      "zones: [static.zone]\n"
	                      "defaults: {port: 9999}\n"
	                      "services:\n"
	                      "  local: {port: 80, check: {type: none}, "
	                      "instances: [{name: x, address: 192.0.2.7}]}\n");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The etcd source over the files source of main_file. */
static struct reg_source *open_source(struct event_base *base)
{
	struct reg_source *files = NULL, *s = NULL;
	struct registry *reg = NULL;
	char err[512];

	ck_assert_int_eq(reg_source_files_create(main_file, NULL, NULL, NULL, &files), 0);
	ck_assert_int_eq(reg_source_load(files, &reg, NULL), 0);
	ck_assert_int_eq(
	    reg_source_etcd_create(files, main_file, reg, base, NULL, NULL, &s, err, sizeof(err)),
	    0);
	registry_free(reg);
	return s;
}

START_TEST(test_cache_keys_checked_alone)
{
	struct event_base *base = event_base_new();
	struct reg_source_report r;
	struct registry *reg = NULL;
	struct reg_source *s;
	const struct reg_service *web;

	write_file(cache,
	           "revision: 42\n"
	           "keys:\n"
	           "  - {key: \"defaults\", mod: 2, value: \"{check: {type: none}, ttl: 9}\"}\n"
	           "  - {key: \"services/web\", mod: 3, value: \"{port: 80, instances: [{name: a, "
	           "address: 192.0.2.1}]}\"}\n"
	           "  - {key: \"services/bad\", mod: 4, value: \"{port: 80, instances: [{name: a, "
	           "address: 192.0.2.999}]}\"}\n"
	           "  - {key: \"services/Upper\", mod: 5, value: \"{}\"}\n"
	           "  - {key: \"services/local\", mod: 6, value: \"{port: 81}\"}\n"
	           "  - {key: \"instances/web/b\", mod: 7, value: \"{address: 192.0.2.2}\"}\n"
	           "  - {key: \"instances/web/a\", mod: 8, value: \"{address: 192.0.2.3}\"}\n"
	           "  - {key: \"instances/later/a\", mod: 9, value: \"{address: 192.0.2.4}\"}\n"
	           "  - {key: \"maintenance/web/b\", mod: 10, value: \"disk swap\"}\n"
	           "  - {key: \"services/clash\", mod: 11, value: \"{port: 1, instances: []}\"}\n"
	           "  - {key: \"services/srv\", mod: 12, value: \"{port: 1, instances: []}\"}\n");
	s = open_source(base);
	ck_assert_int_eq(reg_source_load(s, &reg, NULL), 0);
	/* the file's local, then web; bad, Upper rejected; local conflicts */
	ck_assert_uint_eq(reg->n_services, 2);
	ck_assert_str_eq(reg->services[0]->name, "local");
	ck_assert_uint_eq(reg->services[0]->port, 80);
	web = registry_find_service(reg, "web");
	ck_assert_ptr_nonnull(web);
	ck_assert_uint_eq(web->ttl, 9); /* the etcd defaults, not the file's */
	ck_assert_uint_eq(web->n_instances, 2);
	ck_assert_str_eq(web->instances[1].name, "b");
	ck_assert_uint_eq(web->instances[1].port, 80);
	ck_assert_str_eq(web->instances[1].maintenance, "disk swap");
	ck_assert_int_eq(reg_source_report(s, &r), 0);
	ck_assert_str_eq(r.name, "etcd");
	ck_assert_int_eq(r.up, 0);
	ck_assert_int_eq(r.from_cache, 1);
	ck_assert_int_eq(r.synced, 1);
	ck_assert_int_eq(r.revision, 42);
	ck_assert_uint_eq(r.n_bad, 5);
	/* services first (in key order), then the instance keys */
	ck_assert_ptr_nonnull(strstr(r.bad[0], "/srvd/services/Upper: not a service name"));
	ck_assert_str_eq(r.bad[1], "/srvd/services/bad:1:43: services.bad.instances[0].address: "
	                           "\"192.0.2.999\" is not an IPv4 or IPv6 address");
	/* names a static record already has: the table would refuse every reload */
	ck_assert_ptr_nonnull(strstr(r.bad[2], "/srvd/services/clash: collides with a static "
	                                       "record below clash.s.example."));
	ck_assert_ptr_nonnull(strstr(r.bad[3], "/srvd/services/srv: collides with a static "));
	ck_assert_str_eq(r.bad[4], "/srvd/instances/web/a: service web already has an instance "
	                           "named a");
	ck_assert_uint_eq(r.n_conflicts, 1);
	ck_assert_str_eq(r.conflicts[0], "local");
	ck_assert_int_eq(reg_source_revision(s, "web"), 3);
	ck_assert_int_eq(reg_source_revision(s, "local"), 6);
	ck_assert_int_eq(reg_source_revision(s, "none"), 0);
	registry_free(reg);
	reg_source_free(s);
	event_base_free(base);
}
END_TEST

START_TEST(test_no_cache_not_synced)
{
	struct event_base *base = event_base_new();
	struct reg_source_report r;
	struct registry *reg = NULL;
	struct reg_source *s = open_source(base);

	ck_assert_int_eq(reg_source_load(s, &reg, NULL), 0);
	ck_assert_uint_eq(reg->n_services, 1);
	ck_assert_int_eq(reg_source_report(s, &r), 0);
	ck_assert_int_eq(r.synced, 0); /* `_ready` waits */
	ck_assert_int_eq(r.from_cache, 0);
	registry_free(reg);
	reg_source_free(s);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("etcd");
	TCase *tc = tcase_create("helpers");
	TCase *tc2 = tcase_create("source");

	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_json_helpers);
	tcase_add_test(tc, test_bad_endpoints);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tc2, setup, teardown);
	tcase_add_test(tc2, test_cache_keys_checked_alone);
	tcase_add_test(tc2, test_no_cache_not_synced);
	suite_add_tcase(s, tc2);
	return check_run(s);
}

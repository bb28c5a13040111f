/* SPDX-License-Identifier: BSD-3-Clause */
/* test_registry.c: the YAML registry loader: model, defaults, resolution,
 * every error message (exact lines), includes and static zone files. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry.h"
#include "registry/ynode.h"
#include "tests/unit/check_main.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#define DATA SRCDIR "/tests/unit/data/registry/"

static struct registry *load_ok(const char *yaml)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	int rc = registry_load_string(yaml, "x.yaml", &reg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "unexpected: %s\n", errs.lines[i]);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(reg);
	return reg;
}

static struct registry *load_file_ok(const char *path)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	int rc = registry_load_file(path, &reg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "unexpected: %s\n", errs.lines[i]);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(reg);
	return reg;
}

/* All error lines joined by '\n'; the load must fail. Caller frees. */
static char *joined(struct reg_errors *errs)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < errs->n; i++)
		len += strlen(errs->lines[i]) + 1;
	out = calloc(1, len);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < errs->n; i++) {
		if (i)
			strcat(out, "\n");
		strcat(out, errs->lines[i]);
	}
	return out;
}

static char *load_errors(const char *yaml, const char *name, const char *file)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = (struct registry *)1;
	int rc = file ? registry_load_file(file, &reg, &errs)
	              : registry_load_string(yaml, name, &reg, &errs);
	char *out;

	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(reg);
	out = joined(&errs);
	registry_errors_clear(&errs);
	ck_assert_uint_eq(errs.n, 0);
	return out;
}

static void assert_addr(const struct reg_addr *addr, const char *text)
{
	char buf[INET6_ADDRSTRLEN];

	ck_assert_ptr_nonnull(inet_ntop(addr->family, &addr->u, buf, sizeof(buf)));
	ck_assert_str_eq(buf, text);
}

START_TEST(test_example)
{
	struct registry *reg = load_file_ok(SRCDIR "/zones/example.yaml");
	const struct reg_service *web, *api, *billing;
	const struct reg_server *srv = &reg->server;

	ck_assert_str_eq(reg->file, SRCDIR "/zones/example.yaml");
	ck_assert_uint_eq(srv->n_listen, 1);
	ck_assert_str_eq(srv->listen[0].text, "127.0.0.1:5353");
	ck_assert_int_eq(srv->listen[0].addr.ss_family, AF_INET);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&srv->listen[0].addr)->sin_port), 5353);
	ck_assert_uint_eq(srv->listen[0].addr_len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(srv->zone, "svc.example.");
	ck_assert_uint_eq(srv->ttl, 5);
	ck_assert_uint_eq(srv->max_answers, 8);
	ck_assert_uint_eq(srv->edns_udp_size, 1232);
	ck_assert_str_eq(srv->soa.mname, "ns1.svc.example.");
	ck_assert_str_eq(srv->soa.rname, "hostmaster.svc.example.");
	ck_assert_uint_eq(srv->soa.ttl, 3600);
	ck_assert_uint_eq(srv->soa.refresh, 3600);
	ck_assert_uint_eq(srv->soa.retry, 600);
	ck_assert_uint_eq(srv->soa.expire, 86400);
	ck_assert_uint_eq(srv->soa.minimum, 5);
	ck_assert_uint_eq(srv->n_ns, 1);
	ck_assert_str_eq(srv->ns[0], "ns1.svc.example.");
	ck_assert_str_eq(srv->http, "127.0.0.1:8053");
	ck_assert_uint_eq(srv->n_forward, 0);
	ck_assert_str_eq(srv->version, "srvd " PACKAGE_VERSION);
	ck_assert_ptr_nonnull(srv->identity);

	ck_assert_uint_eq(reg->n_services, 3);
	web = reg->services[0];
	api = reg->services[1];
	billing = reg->services[2];
	ck_assert_str_eq(web->name, "web");
	ck_assert_str_eq(api->name, "api");
	ck_assert_str_eq(billing->name, "billing");
	ck_assert_ptr_eq(registry_find_service(reg, "api"), api);
	ck_assert_ptr_null(registry_find_service(reg, "nope"));

	ck_assert_str_eq(web->protocol, "tcp");
	ck_assert_uint_eq(web->port, 8080);
	ck_assert_uint_eq(web->n_tags, 1);
	ck_assert_str_eq(web->tags[0], "http");
	ck_assert_int_eq(web->policy, REG_POLICY_RANDOM);
	ck_assert_uint_eq(web->ttl, 10);
	ck_assert_uint_eq(web->max_answers, 8);
	ck_assert_int_eq(web->check.type, CHECK_HTTP);
	ck_assert_str_eq(web->check.path, "/healthz");
	ck_assert_uint_eq(web->check.n_expect, 1);
	ck_assert_uint_eq(web->check.expect[0].lo, 200);
	ck_assert_uint_eq(web->check.expect[0].hi, 399);
	ck_assert_uint_eq(web->check.interval_ms, 1000);
	ck_assert_uint_eq(web->check.timeout_ms, 500);
	ck_assert_uint_eq(web->check.unhealthy_interval_ms, 1000);
	ck_assert_uint_eq(web->check.rise, 2);
	ck_assert_uint_eq(web->check.fall, 2);
	ck_assert_uint_eq(web->n_instances, 3);
	ck_assert_str_eq(web->instances[0].name, "web-1");
	assert_addr(&web->instances[0].addr, "127.0.0.11");
	ck_assert_uint_eq(web->instances[0].port, 8080);
	ck_assert_uint_eq(web->instances[0].weight, 10);
	ck_assert_uint_eq(web->instances[0].priority, 0);
	ck_assert_uint_eq(web->instances[0].n_tags, 1);
	ck_assert_str_eq(web->instances[0].tags[0], "canary");
	ck_assert_uint_eq(web->instances[1].port, 8081);
	ck_assert_uint_eq(web->instances[1].weight, 1);
	ck_assert_uint_eq(web->instances[1].n_tags, 0);
	ck_assert_int_eq(web->instances[2].addr.family, AF_INET6);
	assert_addr(&web->instances[2].addr, "::1");

	ck_assert_int_eq(api->policy, REG_POLICY_WEIGHTED);
	ck_assert_int_eq(api->check.type, CHECK_NONE);
	ck_assert_uint_eq(api->ttl, 5);
	ck_assert_uint_eq(api->instances[0].weight, 3);
	ck_assert_uint_eq(api->instances[2].priority, 10);
	ck_assert_uint_eq(api->instances[2].port, 9000);
	assert_addr(&api->instances[2].addr, "2001:db8::33");
	ck_assert_str_eq(api->instances[2].tags[0], "v6");

	ck_assert_int_eq(billing->policy, REG_POLICY_ROUND_ROBIN);
	ck_assert_int_eq(billing->check.type, CHECK_NONE);
	ck_assert_uint_eq(billing->instances[1].port, 7000);
	/* defaults.check gives interval and rise to services that only set type */
	ck_assert_uint_eq(billing->check.interval_ms, 2000);
	ck_assert_uint_eq(billing->check.fall, 3);

	ck_assert_uint_eq(reg->n_zones, 1);
	ck_assert_str_eq(reg->zones[0].file, SRCDIR "/zones/example.zone");
	ck_assert_int_eq(reg->zones[0].is_service_zone, 1);
	char *apex = ldns_rdf2str(reg->zones[0].apex);
	ck_assert_str_eq(apex, "svc.example.");
	free(apex);
	ck_assert_uint_eq(ldns_rr_list_rr_count(reg->zones[0].rrs), 5);
	ldns_rr *www = ldns_rr_list_rr(reg->zones[0].rrs, 1);
	ck_assert_int_eq(ldns_rr_get_type(www), LDNS_RR_TYPE_CNAME);
	ck_assert_uint_eq(ldns_rr_ttl(www), 300);
	registry_free(reg);
}
END_TEST

START_TEST(test_defaults)
{
	struct registry *reg =
	    load_ok("services: {a: {port: 80, instances: [{name: x, address: 127.0.0.1}]}}\n");
	const struct reg_server *srv = &reg->server;
	const struct reg_service *a = reg->services[0];
	struct check_config builtin;

	ck_assert_uint_eq(srv->n_listen, 2);
	ck_assert_str_eq(srv->listen[0].text, "127.0.0.1:5353");
	ck_assert_str_eq(srv->listen[1].text, "[::1]:5353");
	ck_assert_int_eq(srv->listen[1].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&srv->listen[1].addr)->sin6_port), 5353);
	ck_assert_str_eq(srv->zone, "svc.example.");
	ck_assert_uint_eq(srv->ttl, 5);
	ck_assert_uint_eq(srv->max_answers, 8);
	ck_assert_uint_eq(srv->edns_udp_size, 1232);
	ck_assert_str_eq(srv->soa.mname, "ns1.svc.example.");
	ck_assert_str_eq(srv->soa.rname, "hostmaster.svc.example.");
	ck_assert_uint_eq(srv->soa.ttl, 3600);
	ck_assert_uint_eq(srv->soa.retry, 600);
	ck_assert_uint_eq(srv->soa.expire, 86400);
	ck_assert_uint_eq(srv->soa.minimum, 5);
	ck_assert_str_eq(srv->ns[0], "ns1.svc.example.");
	ck_assert_ptr_null(srv->http);
	ck_assert_ptr_null(srv->http_token);
	ck_assert_uint_eq(srv->n_transfer_allow, 0);
	ck_assert_uint_eq(reg->n_zones, 0);

	ck_assert_str_eq(a->protocol, "tcp");
	ck_assert_int_eq(a->policy, REG_POLICY_ROUND_ROBIN);
	ck_assert_uint_eq(a->ttl, 5);
	ck_assert_uint_eq(a->max_answers, 8);
	ck_assert(a->panic_threshold == 0.0);
	ck_assert_uint_eq(a->n_tags, 0);
	ck_assert_uint_eq(a->instances[0].port, 80);
	ck_assert_uint_eq(a->instances[0].weight, 1);
	ck_assert_uint_eq(a->instances[0].priority, 0);
	/* HAProxy's defaults, as documented */
	ck_assert_int_eq(a->check.type, CHECK_TCP);
	ck_assert_uint_eq(a->check.interval_ms, 2000);
	ck_assert_uint_eq(a->check.timeout_ms, 1000);
	ck_assert_uint_eq(a->check.unhealthy_interval_ms, 2000);
	ck_assert_uint_eq(a->check.rise, 2);
	ck_assert_uint_eq(a->check.fall, 3);
	ck_assert_uint_eq(a->check.port, 0);
	ck_assert_str_eq(a->check.path, "/");
	ck_assert_uint_eq(a->check.n_expect, 1);
	ck_assert_uint_eq(a->check.expect[0].lo, 200);
	ck_assert_uint_eq(a->check.expect[0].hi, 399);
	/* and registry_check_defaults() gives the same */
	ck_assert_int_eq(registry_check_defaults(&builtin), 0);
	builtin.unhealthy_interval_ms = builtin.interval_ms;
	ck_assert_int_eq(memcmp(&builtin, &a->check, sizeof(builtin)), 0);
	registry_free(reg);
}
END_TEST

START_TEST(test_resolution)
{
	struct registry *reg = load_ok(
	    "server: {ttl: 7, max_answers: 3, zone: Example.COM,\n"
	    "         listen: '[::1]:0', http: 127.0.0.1:8053, http_token: s3cret,\n"
	    "         forward: [127.0.0.1:5399], ns: [a.example.com, B.example.com.],\n"
	    "         transfer: {allow: [127.0.0.0/8, \"::1\"], notify: 127.0.0.1:5301},\n"
	    "         identity: me, version: v1}\n"
	    "defaults:\n"
	    "  policy: fixed\n"
	    "  ttl: 30\n"
	    "  port: 9000\n"
	    "  protocol: udp\n"
	    "  panic_threshold: 0.5\n"
	    "  check: {type: http, interval: 5s, path: /h, rise: 4, expect: [200, \"300-302\"]}\n"
	    "services:\n"
	    "  A:\n"
	    "    check: {timeout: 2s}\n"
	    "    tags: Blue\n"
	    "    instances: [{name: A1, address: 127.0.0.2}]\n"
	    "  b:\n"
	    "    ttl: 0\n"
	    "    port: 53\n"
	    "    policy: random\n"
	    "    max_answers: 0\n"
	    "    check:\n"
	    "      type: none\n"
	    "      unhealthy_interval: 250ms\n"
	    "      expect: '204, 400-404'\n"
	    "    instances:\n"
	    "      - name: b1\n"
	    "        address: ::1\n"
	    "        port: 54\n"
	    "        weight: 0\n"
	    "        priority: 65535\n");
	const struct reg_server *srv = &reg->server;
	const struct reg_service *a = reg->services[0], *b = reg->services[1];

	ck_assert_str_eq(srv->zone, "example.com.");
	ck_assert_str_eq(srv->soa.mname, "ns1.example.com.");
	ck_assert_uint_eq(srv->n_ns, 2);
	ck_assert_str_eq(srv->ns[1], "b.example.com.");
	ck_assert_uint_eq(srv->n_listen, 1);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&srv->listen[0].addr)->sin6_port), 0);
	ck_assert_str_eq(srv->http, "127.0.0.1:8053");
	ck_assert_str_eq(srv->http_token, "s3cret");
	ck_assert_str_eq(srv->forward[0], "127.0.0.1:5399");
	ck_assert_uint_eq(srv->n_transfer_allow, 2);
	ck_assert_str_eq(srv->transfer_allow[1], "::1");
	ck_assert_uint_eq(srv->n_transfer_notify, 1);
	ck_assert_str_eq(srv->identity, "me");
	ck_assert_str_eq(srv->version, "v1");

	ck_assert_str_eq(a->name, "a");
	ck_assert_int_eq(a->policy, REG_POLICY_FIXED);
	ck_assert_uint_eq(a->ttl, 30);
	ck_assert_uint_eq(a->max_answers, 3);
	ck_assert_str_eq(a->protocol, "udp");
	ck_assert(a->panic_threshold == 0.5);
	ck_assert_uint_eq(a->port, 9000);
	ck_assert_str_eq(a->tags[0], "blue");
	ck_assert_int_eq(a->check.type, CHECK_HTTP);
	ck_assert_uint_eq(a->check.interval_ms, 5000);
	ck_assert_uint_eq(a->check.timeout_ms, 2000);
	ck_assert_uint_eq(a->check.unhealthy_interval_ms, 5000);
	ck_assert_str_eq(a->check.path, "/h");
	ck_assert_uint_eq(a->check.rise, 4);
	ck_assert_uint_eq(a->check.fall, 3);
	ck_assert_uint_eq(a->check.n_expect, 2);
	ck_assert_uint_eq(a->check.expect[1].lo, 300);
	ck_assert_uint_eq(a->check.expect[1].hi, 302);
	ck_assert_str_eq(a->instances[0].name, "a1");
	ck_assert_uint_eq(a->instances[0].port, 9000);

	ck_assert_uint_eq(b->ttl, 0);
	ck_assert_uint_eq(b->max_answers, 0);
	ck_assert_int_eq(b->policy, REG_POLICY_RANDOM);
	ck_assert_int_eq(b->check.type, CHECK_NONE);
	ck_assert_uint_eq(b->check.interval_ms, 5000);
	ck_assert_uint_eq(b->check.unhealthy_interval_ms, 250);
	ck_assert_uint_eq(b->check.n_expect, 2);
	ck_assert_uint_eq(b->check.expect[0].lo, 204);
	ck_assert_uint_eq(b->check.expect[0].hi, 204);
	ck_assert_uint_eq(b->check.expect[1].hi, 404);
	ck_assert_uint_eq(b->port, 53);
	ck_assert_uint_eq(b->instances[0].port, 54);
	ck_assert_uint_eq(b->instances[0].weight, 0);
	ck_assert_uint_eq(b->instances[0].priority, 65535);
	assert_addr(&b->instances[0].addr, "::1");
	registry_free(reg);
}
END_TEST

START_TEST(test_yaml_features)
{
	/* anchors and aliases, an empty document, null sections */
	struct registry *reg =
	    load_ok("defaults: {check: &c {type: none, rise: 5}}\n"
	            "services:\n"
	            "  a: {port: 1, check: *c, instances: [{name: x, address: 192.0.2.1}]}\n"
	            "  b: {port: 2, instances: }\n");

	ck_assert_uint_eq(reg->services[0]->check.rise, 5);
	ck_assert_uint_eq(reg->services[1]->n_instances, 0);
	ck_assert_int_eq(reg->services[1]->check.type, CHECK_NONE);
	registry_free(reg);
	reg = load_ok("");
	ck_assert_uint_eq(reg->n_services, 0);
	ck_assert_str_eq(reg->server.zone, "svc.example.");
	registry_free(reg);
}
END_TEST

static void collect_error(void *arg, const char *line)
{
	snprintf(arg, 256, "%s", line);
}

/* 50,000 anchors, then an alias of each in the same order: a lookup that
 * scanned the anchors from the newest took 20 s for 100,000 (an API PUT of 30,000
 * took 8.7 s of the main thread); each alias is its anchor's node, shared. */
START_TEST(test_many_anchors)
{
	enum { N = 50000 };
	size_t cap = (size_t)N * 32, len = 0;
	char *text = malloc(cap), err[256] = "", want[16];
	struct ydoc *doc = NULL;
	const struct ynode *root;

	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, cap - len, "[");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "&a%d v%d, ", i, i);
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "*a%d, ", i);
	/* a redefined anchor: later aliases get the new node */
	len += (size_t)snprintf(text + len, cap - len, "&a7 again, *a7]\n");
	ck_assert_int_eq(ydoc_parse_string(text, len, "x.yaml", &doc, collect_error, err), 0);
	root = doc->root;
	ck_assert_uint_eq(root->n, 2 * N + 2);
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "v%d", i);
		ck_assert_str_eq(root->items[i]->value, want);
		ck_assert_ptr_eq(root->items[N + i], root->items[i]);
	}
	ck_assert_str_eq(root->items[2 * N + 1]->value, "again");
	ydoc_free(doc);
	free(text);
}
END_TEST

/* Aliases of aliases ("billion laughs"): 10^9 scalars from 11 lines. */
START_TEST(test_alias_budget)
{
	char text[2048], err[256] = "";
	size_t len =
	    (size_t)snprintf(text, sizeof(text), "a: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
	struct ydoc *doc = NULL;
	struct registry *reg = NULL;
	struct reg_errors errs = {NULL, 0};

	for (int k = 1; k <= 9; k++)
		len += (size_t)snprintf(
		    text + len, sizeof(text) - len,
		    "b%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, "
		    "*l%d, *l%d]\n",
		    k, k, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1);
	/* each alias of level 4 repeats its 111,111 nodes: the eighth on line 6
	 * goes over the budget, with what levels 1 to 4 spent */
	ck_assert_int_eq(ydoc_parse_string(text, len, "x.yaml", &doc, collect_error, err), -1);
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err, "x.yaml:6:45: aliases expand to more than 1000000 nodes (each alias "
	                      "counts the nodes it repeats)");
	/* the registry loader reports it with the rest */
	ck_assert_int_eq(registry_load_string(text, "x.yaml", &reg, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.lines[0], err);
	registry_errors_clear(&errs);
	/* levels 0 to 4 are within it */
	len = (size_t)(strstr(text, "b5:") - text);
	ck_assert_int_eq(ydoc_parse_string(text, len, "x.yaml", &doc, collect_error, err), 0);
	ck_assert_uint_eq(doc->root->items[4]->weight, 111111);
	ydoc_free(doc);
}
END_TEST

/* One service of 50,000 instances, each tagged, the last two named alike:
 * duplicate names and tags naming an instance were found by comparing every
 * pair (30,000 instances: 21 s). */
START_TEST(test_many_instances)
{
	enum { N = 50000 };
	size_t cap = (size_t)N * 64, len = 0;
	char *text = malloc(cap), *got;

	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, cap - len,
	                        "services:\n  web:\n    port: 80\n    instances:\n");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "      - {name: i%d, address: 10.0.%d.%d, tags: [t%d]}\n",
		                        i == N - 1 ? N - 2 : i, (i >> 8) & 255, i & 255, i);
	got = load_errors(text, "x.yaml", NULL);
	ck_assert_str_eq(got, "x.yaml:50004:16: services.web.instances[49999].name: duplicate "
	                      "instance \"i49998\" (first at x.yaml:50003:16)");
	free(got);
	free(text);
}
END_TEST

struct bad_case {
	const char *yaml;
	const char *errors; /* every line, '\n'-separated */
};

static const struct bad_case bad_cases[] = {
    {"server:\n  bogus: 1\n", "x.yaml:2:3: server.bogus: unknown key"},
    {"servics: {}\n", "x.yaml:1:1: servics: unknown key"},
    {"server:\n  ttl: 99999999999\n",
     "x.yaml:2:8: server.ttl: 99999999999 is out of range (0..2147483647)"},
    {"services:\n  web:\n    port: 80\n    instances:\n      - {name: a, address: 10.0.0.1}\n"
     "      - {name: b, address: 10.0.0.300}\n",
     "x.yaml:6:28: services.web.instances[1].address: \"10.0.0.300\" is not an IPv4 or IPv6 "
     "address"},
    {"server:\n  ttl: 1\n  ttl: 2\n", "x.yaml:3:3: server.ttl: duplicate key"},
    {"server:\n  ttl: 1\n zone: x\n", "x.yaml:3:2: did not find expected key"},
    {"defaults:\n  check: {interval: 2x}\n",
     "x.yaml:2:21: defaults.check.interval: \"2x\" is not a duration (e.g. 250ms, 2s, 1m, 1h)"},
    {"defaults:\n  check: {timeout: 2h}\n",
     "x.yaml:2:20: defaults.check.timeout: 2h is out of range (10ms..1h)"},
    {"services:\n  web:\n    port: 80\n    check: {interval: 1s, timeout: 1500ms}\n",
     "x.yaml:4:12: services.web.check: timeout 1500ms exceeds interval 1s"},
    {"defaults: {check: {rise: 0}}\n",
     "x.yaml:1:26: defaults.check.rise: 0 is out of range (1..100)"},
    {"services:\n  Web_1: {port: 80}\n",
     "x.yaml:2:3: services.Web_1: \"Web_1\" is not a DNS label (letters, digits, hyphens; 1 to "
     "63 characters; no hyphen first or last)"},
    {"services:\n  web: {port: 80, instances: [{name: -x, address: 127.0.0.1}]}\n",
     "x.yaml:2:38: services.web.instances[0].name: \"-x\" is not a DNS label (letters, digits, "
     "hyphens; 1 to 63 characters; no hyphen first or last)"},
    {"services:\n  web: {port: 80, instances: [{name: x}]}\n",
     "x.yaml:2:31: services.web.instances[0]: missing key \"address\""},
    {"services:\n  web:\n    instances:\n      - {name: x, address: 127.0.0.1}\n",
     "x.yaml:4:9: services.web.instances[0]: no port: set port here, in the service or in "
     "defaults"},
    {"services:\n  web:\n    port: 1\n    instances:\n      - {name: x, address: 127.0.0.1}\n"
     "      - {name: X, address: 127.0.0.2}\n",
     "x.yaml:6:16: services.web.instances[1].name: duplicate instance \"x\" (first at "
     "x.yaml:5:16)"},
    {"services:\n  web:\n    port: 1\n    tags: [blue, x]\n"
     "    instances: [{name: x, address: 127.0.0.1}]\n",
     "x.yaml:4:18: services.web.tags[1]: tag \"x\" is also the name of an instance (x.yaml:5:24)"},
    {"services:\n  web:\n    port: 1\n"
     "    instances: [{name: x, address: 127.0.0.1}, {name: y, address: 127.0.0.2, tags: x}]\n",
     "x.yaml:4:84: services.web.instances[1].tags: tag \"x\" is also the name of an instance "
     "(x.yaml:4:24)"},
    {"services:\n  Web: {port: 1}\n  web: {port: 2}\n",
     "x.yaml:3:3: services.web: duplicate service \"web\" (first at x.yaml:2:3)"},
    {"defaults: {policy: rr}\n",
     "x.yaml:1:20: defaults.policy: \"rr\" is not one of round-robin, random, weighted, fixed, hashed"},
    {"defaults: {check: {type: udp}}\n",
     "x.yaml:1:26: defaults.check.type: \"udp\" is not one of tcp, http, https, tls, grpc, "
     "dns, exec, ttl, none"},
    {"defaults: {check: {expect: 600}}\n",
     "x.yaml:1:28: defaults.check.expect: \"600\" is not an HTTP status or range (100..599, e.g. "
     "200 or 200-399)"},
    {"server: {edns_udp_size: 100}\n",
     "x.yaml:1:25: server.edns_udp_size: 100 is out of range (512..65535)"},
    {"server: {listen: [127.0.0.1:53, 127.0.0.1]}\n",
     "x.yaml:1:33: server.listen[1]: \"127.0.0.1\" is not an address:port (e.g. 127.0.0.1:53 or "
     "[::1]:53)"},
    {"server: {listen: \"[::1]:70000\"}\n",
     "x.yaml:1:18: server.listen: \"[::1]:70000\" is not an address:port (e.g. 127.0.0.1:53 or "
     "[::1]:53)"},
    {"server: {zone: bad..name}\n", "x.yaml:1:16: server.zone: \"bad..name\" is not a domain name"},
    {"defaults: {panic_threshold: 1.5}\n",
     "x.yaml:1:29: defaults.panic_threshold: \"1.5\" is not a number between 0 and 1"},
    {"services:\n  web: {port: 1, instances: [{name: x, address: 127.0.0.1, weight: 70000}]}\n",
     "x.yaml:2:68: services.web.instances[0].weight: 70000 is out of range (0..65535)"},
    {"services: [web]\n", "x.yaml:1:11: services: expected a mapping of services, got a list"},
    {"services:\n  web: {port: 1, instances: {name: x}}\n",
     "x.yaml:2:29: services.web.instances: expected a list, got a mapping"},
    {"server: {ttl: \"10\"}\n",
     "x.yaml:1:15: server.ttl: expected an unsigned integer, got the string \"10\""},
    {"defaults: {tags: [a]}\n", "x.yaml:1:12: defaults.tags: unknown key"},
    {"defaults: {check: {path: healthz}}\n",
     "x.yaml:1:26: defaults.check.path: \"healthz\" is not an HTTP path (\"/\" first, no spaces, "
     "under 256 characters)"},
    {"server: {http: localhost:80, forward: [127.0.0.1:0]}\n",
     "x.yaml:1:16: server.http: \"localhost:80\" is not an address:port (e.g. 127.0.0.1:53 or "
     "[::1]:53)\n"
     "x.yaml:1:40: server.forward[0]: port 0 is out of range (1..65535)"},
    {"server: {transfer: {tsig: {name: k1., secret: \"!!\"}}}\n",
     "x.yaml:1:47: server.transfer.tsig.secret: \"!!\" is not base64 text (e.g. a secret from "
     "`openssl rand -base64 32`)"},
    {"server: {transfer: {tsig: {secret: c2VjcmV0}}}\n",
     "x.yaml:1:27: server.transfer.tsig: missing key \"name\""},
    {"server: {transfer: {allow: 10.0.0.0/33}}\n",
     "x.yaml:1:28: server.transfer.allow: \"10.0.0.0/33\" is not an address or prefix (e.g. "
     "127.0.0.0/8 or ::1)"},
    {"defaults: {check: *nope}\n", "x.yaml:1:19: unknown alias *nope"},
    {"server: {}\n---\nserver: {}\n", "x.yaml:2:1: only one YAML document per file"},
    {"server:\n  ttl:\n", "x.yaml:2:7: server.ttl: expected an unsigned integer, got no value"},
    {"server: {soa: {minimum: -1}, ns: [\"a b\"]}\n",
     "x.yaml:1:25: server.soa.minimum: \"-1\" is not an unsigned integer\n"
     "x.yaml:1:35: server.ns[0]: \"a b\" is not a domain name"},
    {"- a\n- b\n", "x.yaml:1:1: expected a mapping, got a list"},
    {"server: {ttl: [1]}\n", "x.yaml:1:15: server.ttl: expected an unsigned integer, got a list"},
    {"zones: {a: b}\ninclude: [[x]]\n",
     "x.yaml:1:8: zones: expected a list of file names, got a mapping\n"
     "x.yaml:2:11: include[0]: expected a file name, got a list"},
    {"zones: [no-such-a.zone, no-such-b.zone]\n",
     "x.yaml:1:9: zones[0]: \"no-such-a.zone\": cannot open: No such file or directory\n"
     "x.yaml:1:25: zones[1]: \"no-such-b.zone\": cannot open: No such file or directory"},
    {"zones: no-such-c.zone\n",
     "x.yaml:1:8: zones: \"no-such-c.zone\": cannot open: No such file or directory"},
};

START_TEST(test_invalid)
{
	const struct bad_case *c = &bad_cases[_i];
	char *got = load_errors(c->yaml, "x.yaml", NULL);

	ck_assert_msg(strcmp(got, c->errors) == 0, "case %d:\n%s\nexpected:\n%s\ngot:\n%s", _i,
	              c->yaml, c->errors, got);
	free(got);
}
END_TEST

START_TEST(test_missing_file)
{
	char *got = load_errors(NULL, NULL, "no-such-dir/srvd.yaml");

	ck_assert_str_eq(got, "no-such-dir/srvd.yaml: cannot open: No such file or directory");
	free(got);
	got = load_errors("zones: [missing.zone]\n", DATA "zones/x.yaml", NULL);
	ck_assert_str_eq(got, DATA "zones/x.yaml:1:9: zones[0]: \"missing.zone\": cannot open: No "
	                           "such file or directory");
	free(got);
	/* a glob matching a folder: the error points at the include: entry */
	got = load_errors("include: [\"./\"]\n", DATA "zones/x.yaml", NULL);
	ck_assert_str_eq(got, DATA "zones/x.yaml:1:11: include[0]: \"./\": " DATA
	                           "zones/./: cannot open: Is a directory");
	free(got);
}
END_TEST

START_TEST(test_includes)
{
	struct registry *reg = load_file_ok(DATA "inc/main.yaml");

	ck_assert_uint_eq(reg->n_services, 3);
	ck_assert_str_eq(reg->services[0]->name, "web");
	ck_assert_str_eq(reg->services[1]->name, "alpha");
	ck_assert_uint_eq(reg->services[1]->instances[0].port, 81);
	ck_assert_str_eq(reg->services[2]->name, "beta");
	assert_addr(&reg->services[2]->instances[0].addr, "2001:db8::2");
	registry_free(reg);
}
END_TEST

/* Include files are parsed on several threads; the registry and its errors
 * must still come out in the order of the files, as one thread would give. */
START_TEST(test_includes_many)
{
	char dir[] = "/tmp/srvd-inc-XXXXXX", path[256], *got;
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	const size_t n_files = 60;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	for (size_t i = 0; i < n_files; i++) {
		snprintf(path, sizeof(path), "%s/d/p%03zu.yaml", dir, i);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		/* big enough that the threads overlap */
		fprintf(f, "services:\n");
		for (size_t k = 0; k < 200; k++)
			fprintf(f,
			        "  s%zu-%zu: {port: 80, check: {type: none}, instances: "
			        "[{name: a, address: 192.0.2.1}]}\n",
			        i, k);
		ck_assert_int_eq(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/srvd.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "include: [\"d/*.yaml\"]\n");
	ck_assert_int_eq(fclose(f), 0);

	ck_assert_int_eq(registry_load_file(path, &reg, &errs), 0);
	ck_assert_uint_eq(reg->n_services, n_files * 200);
	for (size_t i = 0; i < n_files; i++) {
		char want[32];

		snprintf(want, sizeof(want), "s%zu-0", i);
		ck_assert_str_eq(reg->services[i * 200]->name, want);
	}
	registry_free(reg);

	/* errors in three files and a folder the glob matches: in file order */
	for (size_t i = 5; i < n_files; i += 20) {
		snprintf(path, sizeof(path), "%s/d/p%03zu.yaml", dir, i);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fprintf(f, "services: {bad%zu: [\n", i);
		ck_assert_int_eq(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/d/p%03zu.yaml", dir, (size_t)30);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/srvd.yaml", dir);
	ck_assert_int_eq(registry_load_file(path, &reg, &errs), -1);
	got = joined(&errs);
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_ptr_nonnull(strstr(errs.lines[0], "d/p005.yaml:"));
	ck_assert_ptr_nonnull(strstr(errs.lines[1], "d/p025.yaml:"));
	ck_assert_ptr_nonnull(strstr(errs.lines[2], "d/p030.yaml: cannot open: Is a directory"));
	ck_assert_ptr_nonnull(strstr(errs.lines[3], "d/p045.yaml:"));
	free(got);
	registry_errors_clear(&errs);

	for (size_t i = 0; i < n_files; i++) {
		snprintf(path, sizeof(path), "%s/d/p%03zu.yaml", dir, i);
		if (i == 30)
			rmdir(path);
		else
			unlink(path);
	}
	snprintf(path, sizeof(path), "%s/d", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/srvd.yaml", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_include_errors)
{
	char *got = load_errors(NULL, NULL, DATA "inc-bad/main.yaml");

	ck_assert_str_eq(got, DATA
	                 "inc-bad/services.d/dup.yaml:1:1: server: unknown key (an include "
	                 "file holds only services:)\n" DATA
	                 "inc-bad/services.d/dup.yaml:3:72: services.WEB.instances[0].address: "
	                 "\"192.0.2.300\" is not an IPv4 or IPv6 address\n" DATA
	                 "inc-bad/services.d/dup.yaml:3:3: services.WEB: duplicate service "
	                 "\"web\" (first at " DATA "inc-bad/main.yaml:3:3)");
	free(got);
}
END_TEST

START_TEST(test_zones)
{
	struct registry *reg = load_file_ok(DATA "zones/good.yaml");
	char *apex;

	ck_assert_uint_eq(reg->n_zones, 2);
	ck_assert_int_eq(reg->zones[0].is_service_zone, 1);
	ck_assert_uint_eq(ldns_rr_list_rr_count(reg->zones[0].rrs), 4);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(reg->zones[0].rrs, 0)), 3600);
	ck_assert_int_eq(reg->zones[1].is_service_zone, 0);
	ck_assert_str_eq(reg->zones[1].file, DATA "zones/other.zone");
	apex = ldns_rdf2str(reg->zones[1].apex);
	ck_assert_str_eq(apex, "other.example.");
	free(apex);
	ck_assert_uint_eq(ldns_rr_list_rr_count(reg->zones[1].rrs), 3);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(reg->zones[1].rrs, 0)), LDNS_RR_TYPE_SOA);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(reg->zones[1].rrs, 2)), 600);
	registry_free(reg);
}
END_TEST

/* Records equal but for the owner's case or the TTL are duplicates; the
 * first of each is kept, in file order. */
START_TEST(test_zone_duplicates)
{
	static const char *const want[] = {
	    "ldap.svc.example.\t3600\tIN\tA\t192.0.2.40\n",
	    "ldap.svc.example.\t3600\tIN\tA\t192.0.2.41\n",
	    "_ldap._tcp.svc.example.\t3600\tIN\tSRV\t0 0 389 ldap.svc.example.\n",
	    "ldap.svc.example.\t3600\tIN\tAAAA\t2001:db8::40\n",
	    "ldap.svc.example.\t3600\tIN\tTXT\t\"x\"\n",
	    "ldap.svc.example.\t3600\tIN\tTXT\t\"X\"\n",
	};
	struct registry *reg = load_file_ok(DATA "zones/dup.yaml");
	const ldns_rr_list *rrs;

	ck_assert_uint_eq(reg->n_zones, 1);
	rrs = reg->zones[0].rrs;
	ck_assert_uint_eq(ldns_rr_list_rr_count(rrs), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *got = ldns_rr2str(ldns_rr_list_rr(rrs, i));

		ck_assert_str_eq(got, want[i]);
		free(got);
	}
	registry_free(reg);
}
END_TEST

START_TEST(test_zone_errors)
{
	char *got = load_errors(NULL, NULL, DATA "zones/syntax.yaml");

	ck_assert_str_eq(got, DATA "zones/syntax.zone:3: Syntax error, could not parse the RR's "
	                           "rdata");
	free(got);
	got = load_errors(NULL, NULL, DATA "zones/apex.yaml");
	ck_assert_str_eq(got, DATA "zones/apex.zone:2: SOA for the service zone svc.example.: drop "
	                           "the SOA to add these records to it");
	free(got);
	got = load_errors(NULL, NULL, DATA "zones/collide.yaml");
	ck_assert_str_eq(
	    got,
	    DATA "zones/collide.zone:4: *.wild.svc.example.: wildcard records are not "
	         "supported\n" DATA
	         "zones/collide.zone:5: sub.svc.example.: NS below the apex (delegation) is not "
	         "supported\n" DATA
	         "zones/collide.zone:6: _ready.svc.example.: name is reserved by srvd (_health "
	         "and _ready)\n" DATA "zones/collide.zone:9: far.away.: outside the zone\n" DATA
	         "zones/collide.zone:7: alias.svc.example.: CNAME beside other data\n" DATA
	         "zones/collide.yaml:4:3: services.web: collides with static record "
	         "w1.web.svc.example. A (" DATA "zones/collide.zone:1)\n" DATA
	         "zones/collide.yaml:5:3: services.api: collides with static record "
	         "_api._tcp.svc.example. SRV (" DATA "zones/collide.zone:2)");
	free(got);
}
END_TEST

START_TEST(test_check_file)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_int_eq(registry_check_file(SRCDIR "/zones/example.yaml", out), 0);
	ck_assert_int_eq(registry_check_file(DATA "zones/apex.yaml", out), 2);
	fclose(out);
	ck_assert_str_eq(buf,
	                 SRCDIR "/zones/example.yaml: ok\n" DATA
	                        "zones/apex.zone:2: SOA for the service zone svc.example.: drop "
	                        "the SOA to add these records to it\n");
	free(buf);
}
END_TEST

START_TEST(test_schema_print)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	registry_schema_print(out);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(buf, "server.edns_udp_size"));
	ck_assert_ptr_nonnull(strstr(buf, "defaults.check.interval"));
	ck_assert_ptr_nonnull(strstr(buf, "services.NAME.instances[].weight"));
	ck_assert_ptr_null(strstr(buf, "defaults.tags"));
	free(buf);
}
END_TEST

/* The key lists of the man page and of docs/registry.md and the schema
 * tables, compared both ways. */
struct keyset {
	char *v[256];
	size_t n;
};

static void keyset_add(struct keyset *set, const char *key, size_t len)
{
	ck_assert_uint_lt(set->n, sizeof(set->v) / sizeof(set->v[0]));
	set->v[set->n] = strndup(key, len);
	ck_assert_ptr_nonnull(set->v[set->n]);
	set->n++;
}

static int keyset_has(const struct keyset *set, const char *key)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], key) == 0)
			return 1;
	return 0;
}

static void keyset_free(struct keyset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	set->n = 0;
}

/* Appends "WHAT: KEY\n" to *msg for each key of a that b lacks. */
static void keyset_missing(const struct keyset *a, const struct keyset *b, const char *what,
                           FILE *msg)
{
	for (size_t i = 0; i < a->n; i++)
		if (!keyset_has(b, a->v[i]))
			fprintf(msg, "%s: %s\n", what, a->v[i]);
}

/* srvd.yaml(5) documents each key as ".TP" then ".B KEY" (services.\fINAME\fB.x
 * for services.NAME.x), and the keys defaults: takes as the .B/.BR words of the
 * paragraph under ".B defaults". */
static void man_keys(const char *path, struct keyset *keys, struct keyset *defaults)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int after_tp = 0, in_defaults = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".TP", 3) == 0 || strncmp(line, ".SH", 3) == 0) {
			after_tp = line[1] == 'T';
			in_defaults = 0;
			continue;
		}
		if (after_tp && strncmp(line, ".B ", 3) == 0) {
			char key[256];
			size_t n = 0;

			/* drop the font escapes: services.\fINAME\fB.x is services.NAME.x */
			for (const char *c = line + 3; *c && n < sizeof(key) - 1; c++) {
				if (c[0] == '\\' && c[1] == 'f' && c[2] != '\0')
					c += 2;
				else
					key[n++] = *c;
			}
			key[n] = '\0';
			keyset_add(keys, key, n);
			in_defaults = strcmp(key, "defaults") == 0;
		} else if (in_defaults &&
		           (strncmp(line, ".B ", 3) == 0 || strncmp(line, ".BR ", 4) == 0)) {
			const char *w = line + (line[2] == 'R' ? 4 : 3);

			keyset_add(defaults, w, strcspn(w, " "));
		}
		after_tp = 0;
	}
	fclose(f);
}

/* docs/registry.md lists each key as a table row "| `KEY` | ..." under
 * "## Every key". */
static void doc_keys(const char *path, struct keyset *keys)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int in_list = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "## ", 3) == 0)
			in_list = strcmp(line, "## Every key\n") == 0;
		else if (in_list && strncmp(line, "| `", 3) == 0)
			keyset_add(keys, line + 3, strcspn(line + 3, "`"));
	}
	fclose(f);
}

START_TEST(test_schema_man_page)
{
	struct keyset schema = {{NULL}, 0}, schema_defaults = {{NULL}, 0};
	struct keyset man = {{NULL}, 0}, man_defaults = {{NULL}, 0}, doc = {{NULL}, 0};
	char *buf = NULL, *msg = NULL;
	size_t len = 0, msg_len = 0;
	FILE *out = open_memstream(&buf, &len), *report;

	registry_schema_print(out);
	fclose(out);
	for (const char *p = buf; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != '\0')) {
		size_t n = strcspn(p, " \n");

		/* defaults.KEY is the service table again: its top-level keys are
		 * listed under defaults, the nested ones under services.NAME */
		if (strncmp(p, "defaults.", 9) == 0) {
			if (memchr(p + 9, '.', n - 9) == NULL)
				keyset_add(&schema_defaults, p + 9, n - 9);
		} else if (n > 0) {
			keyset_add(&schema, p, n);
		}
	}
	free(buf);
	doc_keys(SRCDIR "/docs/registry.md", &doc);
	keyset_add(&doc, "defaults", 8); /* the paragraph above the list */
	keyset_add(&schema, "defaults", 8);
	man_keys(SRCDIR "/man/srvd.yaml.5", &man, &man_defaults);

	report = open_memstream(&msg, &msg_len);
	keyset_missing(&schema, &man, "in the schema, not in srvd.yaml(5)", report);
	keyset_missing(&man, &schema, "in srvd.yaml(5), not in the schema", report);
	keyset_missing(&schema_defaults, &man_defaults,
	               "a defaults key in the schema, not under defaults in srvd.yaml(5)", report);
	keyset_missing(&man_defaults, &schema_defaults,
	               "under defaults in srvd.yaml(5), not a defaults key in the schema", report);
	keyset_missing(&schema, &doc, "in the schema, not in docs/registry.md (Every key)", report);
	keyset_missing(&doc, &schema, "in docs/registry.md (Every key), not in the schema", report);
	fclose(report);
	ck_assert_msg(msg_len == 0,
	              "man/srvd.yaml.5, docs/registry.md and registry_schema_print() disagree:\n%s",
	              msg);
	ck_assert_uint_gt(man.n, 100);
	ck_assert_uint_gt(doc.n, 100);
	free(msg);
	keyset_free(&schema);
	keyset_free(&schema_defaults);
	keyset_free(&man);
	keyset_free(&man_defaults);
	keyset_free(&doc);
}
END_TEST

START_TEST(test_parse_listen)
{
	struct reg_listen l;

	ck_assert_int_eq(registry_parse_listen("[::1]:0", &l), 0);
	ck_assert_int_eq(l.addr.ss_family, AF_INET6);
	ck_assert_uint_eq(l.addr_len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(l.text, "[::1]:0");
	free(l.text);
	ck_assert_int_eq(registry_parse_listen("127.0.0.1:53", &l), 0);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&l.addr)->sin_port), 53);
	free(l.text);
	ck_assert_int_eq(registry_parse_listen("::1:53", &l), -1);
	ck_assert_int_eq(registry_parse_listen("127.0.0.1:65536", &l), -1);
	ck_assert_int_eq(registry_parse_listen("127.0.0.1", &l), -1);
}
END_TEST

/* A registry with one service; `server` and `service` are spliced in. */
static struct registry *variant(const char *server, const char *service, const char *check)
{
	char text[2048];

	snprintf(text, sizeof(text),
	         "server: {zone: v.example., %s}\n"
	         "services:\n"
	         "  web:\n"
	         "    port: 80\n"
	         "    check: {type: tcp, %s}\n"
	         "    instances: [{name: w1, address: 127.0.0.1%s}]\n",
	         server, check, service);
	return load_ok(text);
}

static uint64_t digest_of(const char *server, const char *service, const char *check)
{
	struct registry *reg = variant(server, service, check);
	uint64_t d = registry_digest(reg);

	registry_free(reg);
	return d;
}

struct reports {
	char text[1024];
};

static void collect(void *arg, const char *keys, const char *text)
{
	struct reports *r = arg;

	snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text), "%s: %s\n", keys,
	         text);
}

/* The reload class of each key decides: a change of what answers show
 * makes a new digest (new table, new serial); logging and what takes a
 * restart do not, and the latter are reported, grouped as they were. */
START_TEST(test_reload_classes)
{
	static const char *const answers[][3] = {
	    {"ttl: 9", "", ""},
	    {"max_answers: 2", "", ""},
	    {"soa: {minimum: 9}", "", ""},
	    {"ns: [x.v.example.]", "", ""},
	    {"identity: other", "", ""},
	    {"version: other", "", ""},
	    {"edns_udp_size: 4096", "", ""},
	    {"rrl: {rate: 5}", "", ""},
	    {"", ", weight: 5", ""},
	    {"", ", priority: 5", ""},
	    {"", ", tags: [t]", ""},
	    {"", ", port: 81", ""},
	    {"", "", "interval: 5s"},
	    {"", "", "rise: 5"},
	};
	static const char *const quiet[] = {
	    "log_queries: true",
	    "watch: false",
	    "syslog: daemon",
	    "http: 127.0.0.1:8053",
	    "http_token: t",
	    "listen: 127.0.0.1:53",
	    "forward: 127.0.0.1:5399",
	    "forward_timeout: 2s",
	    "user: nobody",
	    "transfer: {allow: 127.0.0.0/8}",
	    "transfer: {notify: 127.0.0.1:5301}",
	    "transfer: {tsig: {name: k., secret: c2VjcmV0}}",
	};
	uint64_t base = digest_of("", "", "");
	struct registry *a, *b;
	struct reports r = {""};

	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		ck_assert_msg(digest_of(answers[i][0], answers[i][1], answers[i][2]) != base,
		              "%s%s%s", answers[i][0], answers[i][1], answers[i][2]);
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		ck_assert_msg(digest_of(quiet[i], "", "") == base, "%s", quiet[i]);

	a = variant("http: 127.0.0.1:8053, listen: 127.0.0.1:53", "", "");
	b = variant("http: 127.0.0.1:8054, http_token: t, listen: 127.0.0.1:54, log_queries: true, "
	            "transfer: {allow: 10.0.0.0/8}",
	            "", "");
	registry_restart_changes(a, b, collect, &r);
	ck_assert_str_eq(r.text,
	                 "server.listen: the old addresses keep serving until srvd is restarted\n"
	                 "server.http or server.http_token or server.heartbeat_token: the control "
	                 "API keeps its settings until srvd is restarted\n"
	                 "server.transfer.allow: the old list stays in use until srvd is "
	                 "restarted\n");
	/* one key of a group names the whole group, as the log always did */
	registry_free(b);
	b = variant("http: 127.0.0.1:8053, listen: 127.0.0.1:53, forward_timeout: 3s", "", "");
	r.text[0] = '\0';
	registry_restart_changes(a, b, collect, &r);
	ck_assert_str_eq(r.text, "server.forward or server.forward_timeout: the old resolvers stay "
	                         "in use until srvd is restarted\n");
	r.text[0] = '\0';
	registry_restart_changes(a, a, collect, &r);
	ck_assert_str_eq(r.text, "");
	registry_free(a);
	registry_free(b);
}
END_TEST

/* The keys of the richer checks live in a shared, counted block: a plain
 * check has none, defaults written out equal defaults left out, a block
 * outlives its registry while a copy holds it, and defaults: are inherited
 * into it key by key. */
START_TEST(test_check_block)
{
	struct registry *reg = load_ok(
	    "defaults:\n"
	    "  check: {headers: {X-Team: blue}, tls: {server_name: api.internal}}\n"
	    "services:\n"
	    "  plain: {check: {type: http}, instances: [{name: i, address: 127.0.0.1, port: 1}]}\n"
	    "  a:\n"
	    "    check: {type: https, method: GET, tls: {verify: true}}\n"
	    "    instances: [{name: i, address: 127.0.0.1, port: 1}]\n"
	    "  b: {check: {type: https}, instances: [{name: i, address: 127.0.0.1, port: 1}]}\n"
	    "  c:\n"
	    "    check: {type: https, headers: {X-Team: red}, tls: {ca: /etc/passwd}}\n"
	    "    instances: [{name: i, address: 127.0.0.1, port: 1}]\n"
	    "  d1:\n"
	    "    check: {type: dns, dns: {name: Db.Example, type: A, rcode: NOERROR}}\n"
	    "    instances: [{name: i, address: 127.0.0.1, port: 1}]\n"
	    "  d2:\n"
	    "    check: {type: dns, dns: {name: db.example.}}\n"
	    "    instances: [{name: i, address: 127.0.0.1, port: 1}]\n"
	    "  g1: {check: {type: grpc}, instances: [{name: i, address: 127.0.0.1, port: 1}]}\n"
	    "  g2: {check: {type: grpc, tls: {}}, instances: [{name: i, address: 127.0.0.1, port: "
	    "1}]}\n");
	const struct reg_service *plain = registry_find_service(reg, "plain");
	const struct reg_service *a = registry_find_service(reg, "a");
	const struct reg_service *b = registry_find_service(reg, "b");
	const struct reg_service *c = registry_find_service(reg, "c");
	struct check_config copy;
	const struct check_more *m;

	/* inherited from defaults:, key by key: even a plain http check gets the header */
	ck_assert_uint_eq(check_more_of(&plain->check)->n_headers, 1);
	m = check_more_of(&a->check);
	ck_assert_str_eq(m->headers[0], "X-Team");
	ck_assert_str_eq(m->headers[1], "blue");
	ck_assert_str_eq(m->tls.server_name, "api.internal");
	ck_assert_int_eq(m->tls.verify, 1);
	/* defaults written out are the defaults */
	ck_assert(registry_check_equal(&a->check, &b->check));
	/* a key of its own replaces the inherited one, the rest is inherited */
	m = check_more_of(&c->check);
	ck_assert_str_eq(m->headers[1], "red");
	ck_assert_str_eq(m->tls.server_name, "api.internal");
	ck_assert_str_eq(m->tls.ca, "/etc/passwd");
	ck_assert(!registry_check_equal(&a->check, &c->check));
	ck_assert(registry_check_equal(&registry_find_service(reg, "d1")->check,
	                               &registry_find_service(reg, "d2")->check));
	ck_assert_str_eq(check_more_of(&registry_find_service(reg, "d1")->check)->dns.name,
	                 "db.example.");
	/* defaults: with tls: make a grpc check speak TLS */
	ck_assert(check_uses_tls(&registry_find_service(reg, "g1")->check));
	/* a probe's copy keeps the block after the registry is gone */
	check_config_copy(&copy, &c->check);
	registry_free(reg);
	ck_assert_str_eq(check_more_of(&copy)->headers[1], "red");
	check_config_release(&copy);
	ck_assert_ptr_null(copy.more);

	/* a check with none of the new keys has no block: one pointer per service */
	reg = load_ok("services:\n  p: {check: {type: http, path: /h}, instances: [{name: i, "
	              "address: 127.0.0.1, port: 1}]}\n"
	              "  g1: {check: {type: grpc}, instances: [{name: i, address: 127.0.0.1, port: "
	              "1}]}\n"
	              "  g2: {check: {type: grpc, tls: {}}, instances: [{name: i, address: "
	              "127.0.0.1, port: 1}]}\n");
	ck_assert_ptr_null(reg->services[0]->check.more);
	ck_assert_int_eq(check_more_of(&reg->services[0]->check)->method, CHECK_GET);
	/* tls: {} says TLS for grpc, so it is part of the check */
	ck_assert(!check_uses_tls(&reg->services[1]->check));
	ck_assert(check_uses_tls(&reg->services[2]->check));
	ck_assert(!registry_check_equal(&reg->services[1]->check, &reg->services[2]->check));
	registry_free(reg);
}
END_TEST

static void field_text(void *arg, const struct reg_field *f)
{
	char *out = arg;
	size_t n = strlen(out);

	if (f->kind == REG_FIELD_TEXT)
		snprintf(out + n, 512 - n, "%s=%s ", f->key, f->text);
	else
		snprintf(out + n, 512 - n, "%s=%llu%s ", f->key, (unsigned long long)f->num,
		         f->kind == REG_FIELD_MS ? "ms" : "");
}

/* The API's view of a check comes from the schema: a key shows for the
 * types that use it, and unset optional ones are left out. */
START_TEST(test_check_fields)
{
	struct check_config c, d;
	char out[512] = "";

	ck_assert_int_eq(registry_check_defaults(&c), 0);
	c.type = CHECK_HTTP;
	c.unhealthy_interval_ms = 500;
	c.expect[1] = (struct check_range){404, 404};
	c.n_expect = 2;
	registry_check_fields(&c, field_text, out);
	ck_assert_str_eq(out, "type=http interval=2000ms timeout=1000ms unhealthy_interval=500ms "
	                      "rise=2 fall=3 path=/ expect=200-399, 404 method=GET ");
	out[0] = '\0';
	c.type = CHECK_TCP;
	c.port = 8081;
	registry_check_fields(&c, field_text, out);
	ck_assert_str_eq(out, "type=tcp interval=2000ms timeout=1000ms unhealthy_interval=500ms "
	                      "rise=2 fall=3 port=8081 ");
	out[0] = '\0';
	c.type = CHECK_NONE;
	registry_check_fields(&c, field_text, out);
	ck_assert_str_eq(out, "type=none ");
	/* equality is over the keys whose change restarts health */
	d = c;
	ck_assert(registry_check_equal(&c, &d));
	d.fall = 9;
	ck_assert(!registry_check_equal(&c, &d));
}
END_TEST

/* Drains: the file srvd writes parses back to the same list, set/clear
 * report whether they changed it, and a registry points at its drains. */
START_TEST(test_maintenance_round_trip)
{
	struct reg_maint *m = NULL, *back = NULL;
	size_t n = 0, nb = 0;
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	char *text;

	ck_assert_int_eq(registry_maint_set(&m, &n, "web", NULL, "rack \"7\"\n"), 1);
	ck_assert_int_eq(registry_maint_set(&m, &n, "web", "w1", "disk"), 1);
	ck_assert_int_eq(registry_maint_set(&m, &n, "web", "w1", "disk"), 0);
	ck_assert_int_eq(registry_maint_set(&m, &n, "db", "d1", "x"), 1);
	ck_assert_int_eq(registry_maint_set(&m, &n, "db", "d1", NULL), 1);
	ck_assert_int_eq(registry_maint_set(&m, &n, "db", "d1", NULL), 0);
	ck_assert_uint_eq(n, 2);
	/* a hand-edited file may name one target twice: undrain clears both */
	ck_assert_int_eq(registry_maint_parse("{maintenance: [{service: db}, {service: web, "
	                                      "instance: w9}, {service: DB}]}",
	                                      strlen("{maintenance: [{service: db}, {service: web, "
	                                             "instance: w9}, {service: DB}]}"),
	                                      "m.yaml", &back, &nb, &errs),
	                 0);
	ck_assert_uint_eq(nb, 3);
	ck_assert_int_eq(registry_maint_set(&back, &nb, "db", NULL, NULL), 1);
	ck_assert_uint_eq(nb, 1);
	ck_assert_str_eq(back[0].instance, "w9");
	registry_maint_free(back, nb);
	back = NULL;
	nb = 0;
	text = registry_maint_format(m, n);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(registry_maint_parse(text, strlen(text), "m.yaml", &back, &nb, &errs), 0);
	ck_assert_uint_eq(nb, 2);
	ck_assert_str_eq(back[0].service, "web");
	ck_assert_ptr_null(back[0].instance);
	ck_assert_str_eq(back[0].reason, "rack \"7\"\n");
	ck_assert_str_eq(back[1].instance, "w1");
	free(text);
	registry_maint_free(m, n);

	ck_assert_int_eq(registry_load_string("services:\n  web:\n    port: 80\n    check: {type: "
	                                      "none}\n    instances: [{name: w1, address: "
	                                      "192.0.2.1}, {name: w2, address: 192.0.2.2}]\n",
	                                      "x.yaml", &reg, NULL),
	                 0);
	registry_maint_attach(reg, back, nb);
	ck_assert_str_eq(registry_maintenance_of(reg->services[0], &reg->services[0]->instances[0]),
	                 "disk");
	ck_assert_str_eq(registry_maintenance_of(reg->services[0], &reg->services[0]->instances[1]),
	                 "rack \"7\"\n");
	registry_free(reg);

	ck_assert_int_eq(
	    registry_maint_parse("{maintenance: [{instance: a}]}", 30, "m.yaml", &back, &nb, &errs),
	    -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.lines[0], "m.yaml:1:16: maintenance: an entry needs service");
	registry_errors_clear(&errs);
}
END_TEST

/* deregister_after's rewrite of a fragment: the instance goes, every other
 * value keeps its spelling and type (a quoted "007" stays a string). */
START_TEST(test_fragment_drop_instance)
{
	const char *body =
	    "{\"port\": 80, \"tags\": [\"007\"], \"check\": {\"type\": \"ttl\", "
	    "\"ttl\": \"1s\"}, \"instances\": [{\"name\": \"a\", \"address\": "
	    "\"::1\"}, {\"name\": \"B\", \"address\": \"127.0.0.2\", \"weight\": 7}]}";
	char *text = NULL, *out = NULL, err[256];

	ck_assert_int_eq(registry_fragment_text("web", body, strlen(body), &text, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(registry_fragment_drop_instance("web", text, "b", &out, err, sizeof(err)),
	                 0);
	ck_assert_msg(strstr(out,
	                     "{\"port\": 80, \"tags\": [\"007\"], \"check\": {\"type\": \"ttl\", "
	                     "\"ttl\": \"1s\"}, \"instances\": [{\"name\": \"a\", \"address\": "
	                     "\"::1\"}]}") != NULL,
	              "%s", out);
	ck_assert_int_eq(registry_fragment_check(NULL, out, "web", NULL), 0);
	free(out);
	ck_assert_int_eq(registry_fragment_drop_instance("web", text, "c", &out, err, sizeof(err)),
	                 -ENOENT);
	ck_assert_int_eq(registry_fragment_drop_instance("db", text, "a", &out, err, sizeof(err)),
	                 -EINVAL);
	free(text);

	/* a plain value that starts like a negative number but holds a comma
	 * must be quoted in flow style, or the comma splits it */
	body = "port: 80\ncheck:\n  type: http\n  body_match: -1,ok\ninstances:\n"
	       "  - {name: a, address: 127.0.0.1}\n  - {name: b, address: 127.0.0.2}\n";
	ck_assert_int_eq(registry_fragment_text("web", body, strlen(body), &text, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(registry_fragment_drop_instance("web", text, "b", &out, err, sizeof(err)),
	                 0);
	ck_assert_msg(strstr(out, "\"-1,ok\"") != NULL, "%s", out);
	ck_assert_int_eq(registry_fragment_check(NULL, out, "web", NULL), 0);
	free(out);
	free(text);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_resolution);
	tcase_add_test(tc, test_yaml_features);
	tcase_add_loop_test(tc, test_invalid, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_includes);
	tcase_add_test(tc, test_include_errors);
	tcase_add_test(tc, test_includes_many);
	tcase_add_test(tc, test_zones);
	tcase_add_test(tc, test_zone_duplicates);
	tcase_add_test(tc, test_zone_errors);
	tcase_add_test(tc, test_check_file);
	tcase_add_test(tc, test_schema_print);
	tcase_add_test(tc, test_schema_man_page);
	tcase_add_test(tc, test_parse_listen);
	tcase_add_test(tc, test_reload_classes);
	tcase_add_test(tc, test_check_fields);
	tcase_add_test(tc, test_check_block);
	suite_add_tcase(s, tc);
	/* a generous bound: ~0.3 s here (49 s under valgrind, where Check does not time
	 * out), over a minute with the quadratic lookups */
	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_many_anchors);
	tcase_add_test(tc, test_alias_budget);
	tcase_add_test(tc, test_many_instances);
	tcase_add_test(tc, test_maintenance_round_trip);
	tcase_add_test(tc, test_fragment_drop_instance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(registry_suite());
}

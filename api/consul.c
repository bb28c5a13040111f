/* SPDX-License-Identifier: BSD-3-Clause */
/* consul.c: the subset of Consul's HTTP API that discovery clients read
 * (Prometheus's consul_sd_configs, consul-template, Traefik's Consul
 * catalog, python-consul): GET /v1/catalog/services,
 * /v1/catalog/service/NAME, /v1/health/service/NAME and /v1/agent/self, in
 * Consul's JSON shapes, read-only (README "Discovery over HTTP").
 *
 * The mapping: srvd is one datacenter, API_CONSUL_DC. An instance is a
 * Consul node of its own with one service on it: Node and ServiceID are
 * INSTANCE.SERVICE (instance names are unique only within a service), the
 * node's address and ServiceAddress the instance's address, ServiceTags the
 * service's tags then the instance's, Weights.Passing its weight, its
 * priority in ServiceMeta. An instance with a check has one service check,
 * passing or critical (api_inst_passing()); one with `check: {type: none}`
 * has none, which Consul counts as passing. Every index (X-Consul-Index,
 * CreateIndex, ModifyIndex) is the SOA serial: srvd keeps no history per
 * entry.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "common/check.h"
#include "health/health.h"
#include "registry/registry.h"

#define API_CONSUL_DC   "srvd"
#define TAG_FILTERS_MAX 16

/* What a query asks beyond the route: ?tag= (each must be among the
 * entry's tags, as Consul does for several) and ?passing. */
struct consul_query {
	char tags[TAG_FILTERS_MAX][64];
	size_t n_tags;
	int passing;
};

/* Reads and checks the query parameters that change an answer. Returns 0,
 * or -1 after answering 400: a filter srvd does not evaluate, or another
 * datacenter, would otherwise come back silently unfiltered. */
static int read_query(struct http_req *req, struct consul_query *q)
{
	const char *query = http_req_query(req), *pos = NULL;
	char v[API_ARG_MAX];
	int r;

	memset(q, 0, sizeof(*q));
	q->passing = api_query_flag(req, "passing");
	while ((r = api_query_next(query, "tag", &pos, v, sizeof(v))) != 0) {
		if (r < 0 || strlen(v) >= sizeof(q->tags[0]) || q->n_tags == TAG_FILTERS_MAX) {
			api_reply_error(req, 400, "tag: at most %d tags of at most 63 bytes each",
			                TAG_FILTERS_MAX);
			return -1;
		}
		for (char *p = v; *p; p++) /* srvd's tags are lowercased */
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		snprintf(q->tags[q->n_tags++], sizeof(q->tags[0]), "%s", v);
	}
	pos = NULL;
	if (api_query_next(query, "filter", &pos, v, sizeof(v)) != 0) {
		api_reply_error(req, 400,
		                "filter: srvd's Consul compatibility does not evaluate "
		                "filter expressions; use tag= and passing");
		return -1;
	}
	pos = NULL;
	r = api_query_next(query, "dc", &pos, v, sizeof(v));
	if (r < 0 || (r > 0 && v[0] && strcmp(v, API_CONSUL_DC) != 0)) {
		api_reply_error(req, 400, "dc: srvd is one datacenter, \"" API_CONSUL_DC "\"");
		return -1;
	}
	return 0;
}

static int has_tag(const struct reg_service *s, const struct reg_instance *in, const char *tag)
{
	for (size_t t = 0; t < s->n_tags; t++)
		if (strcmp(s->tags[t], tag) == 0)
			return 1;
	for (size_t t = 0; t < in->n_tags; t++)
		if (strcmp(in->tags[t], tag) == 0)
			return 1;
	return 0;
}

static int wanted(const struct api *api, const struct consul_query *q, size_t si, size_t k)
{
	const struct reg_service *s = api_registry(api)->services[si];

	for (size_t t = 0; t < q->n_tags; t++)
		if (!has_tag(s, &s->instances[k], q->tags[t]))
			return 0;
	return !q->passing || api_inst_passing(api, si, k);
}

/* The service named in the path (lowercased: srvd's names are DNS labels),
 * or -1: Consul answers an unknown service with an empty list, so that a
 * client may wait for it to appear. */
static long service_index(const struct api *api, const char *name)
{
	const struct registry *reg = api_registry(api);
	char lower[64];
	size_t n = strlen(name);

	if (n >= sizeof(lower))
		return -1;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	for (size_t i = 0; i < reg->n_services; i++)
		if (strcmp(reg->services[i]->name, lower) == 0)
			return (long)i;
	return -1;
}

struct entry {
	const struct reg_service *s;
	const struct reg_instance *in;
	char id[140]; /* INSTANCE.SERVICE: node and service ID */
	char addr[INET6_ADDRSTRLEN];
	uint32_t index;
};

static void entry_of(const struct api *api, size_t si, size_t k, struct entry *e)
{
	e->s = api_registry(api)->services[si];
	e->in = &e->s->instances[k];
	snprintf(e->id, sizeof(e->id), "%s.%s", e->in->name, e->s->name);
	inet_ntop(e->in->addr.family, &e->in->addr.u, e->addr, sizeof(e->addr));
	e->index = api_serial(api);
}

static void json_indexes(struct json *j, const struct entry *e)
{
	json_kuint(j, "CreateIndex", e->index);
	json_kuint(j, "ModifyIndex", e->index);
}

static void json_service_tags(struct json *j, const char *key, const struct entry *e)
{
	json_key(j, key);
	json_arr_begin(j);
	for (size_t t = 0; t < e->s->n_tags; t++)
		json_str(j, e->s->tags[t]);
	for (size_t t = 0; t < e->in->n_tags; t++)
		json_str(j, e->in->tags[t]);
	json_arr_end(j);
}

static void json_tagged_addresses(struct json *j, const char *key, const struct entry *e)
{
	size_t n;
	const struct reg_addr *a = registry_addrs(e->in, &n);
	int v4 = 0, v6 = 0;

	json_key(j, key);
	json_obj_begin(j);
	json_kstr(j, "lan", e->addr);
	json_kstr(j, "wan", e->addr);
	/* dual-stack: the first of each family, as Consul's lan_ipv4/lan_ipv6 */
	for (size_t k = 0; k < n && n > 1; k++) {
		char text[INET6_ADDRSTRLEN];
		int *seen = a[k].family == AF_INET ? &v4 : &v6;

		if (*seen)
			continue;
		*seen = 1;
		inet_ntop(a[k].family, &a[k].u, text, sizeof(text));
		json_kstr(j, a[k].family == AF_INET ? "lan_ipv4" : "lan_ipv6", text);
	}
	json_obj_end(j);
}

/* ServiceMeta / Meta: string values, as Consul's: priority, then the
 * registry's meta: (a key "priority" there is left out: ours is the SRV's). */
static void json_meta(struct json *j, const char *key, const struct entry *e)
{
	const char *kv[4 * REG_META_MAX];
	size_t n = registry_meta_of(e->s, e->in, kv);
	char prio[8];

	snprintf(prio, sizeof(prio), "%u", (unsigned)e->in->priority);
	json_key(j, key);
	json_obj_begin(j);
	json_kstr(j, "priority", prio);
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[2 * i], "priority"))
			json_kstr(j, kv[2 * i], kv[2 * i + 1]);
	json_obj_end(j);
}

static void json_weights(struct json *j, const char *key, const struct entry *e)
{
	json_key(j, key);
	json_obj_begin(j);
	json_kuint(j, "Passing", e->in->weight);
	json_kuint(j, "Warning", 1);
	json_obj_end(j);
}

static void json_empty_obj(struct json *j, const char *key)
{
	json_key(j, key);
	json_obj_begin(j);
	json_obj_end(j);
}

/* The instance's checks: its service check, if it has one (its probe
 * result), and for a drained instance Consul's critical
 * "_service_maintenance:ID" check with the reason in Notes, as Consul's
 * maintenance mode shows it. */
static void json_checks(struct json *j, const struct api *api, size_t si, size_t k,
                        const struct entry *e)
{
	struct health_inst *h = health_instance(api_health(api), si, k);
	char check_id[180], name[96], output[HEALTH_RESULT_MAX] = "";

	json_key(j, "Checks");
	json_arr_begin(j);
	if (e->s->check.type != CHECK_NONE) {
		if (h)
			health_inst_result(h, output, sizeof(output));
		snprintf(check_id, sizeof(check_id), "service:%s", e->id);
		snprintf(name, sizeof(name), "Service '%s' check", e->s->name);
		json_obj_begin(j);
		json_kstr(j, "Node", e->id);
		json_kstr(j, "CheckID", check_id);
		json_kstr(j, "Name", name);
		json_kstr(j, "Status",
		          h && atomic_load(&h->status) == HEALTH_PASSING ? "passing" : "critical");
		json_kstr(j, "Notes", "");
		json_kstr(j, "Output", output);
		json_kstr(j, "ServiceID", e->id);
		json_kstr(j, "ServiceName", e->s->name);
		json_service_tags(j, "ServiceTags", e);
		json_kstr(j, "Type", check_type_name(e->s->check.type));
		json_empty_obj(j, "Definition");
		json_indexes(j, e);
		json_obj_end(j);
	}
	if (h && atomic_load(&h->drained)) {
		const char *why = registry_maintenance_of(e->s, e->in);

		snprintf(check_id, sizeof(check_id), "_service_maintenance:%s", e->id);
		json_obj_begin(j);
		json_kstr(j, "Node", e->id);
		json_kstr(j, "CheckID", check_id);
		json_kstr(j, "Name", "Service Maintenance Mode");
		json_kstr(j, "Status", "critical");
		json_kstr(j, "Notes", why ? why : "");
		json_kstr(j, "Output", "");
		json_kstr(j, "ServiceID", e->id);
		json_kstr(j, "ServiceName", e->s->name);
		json_service_tags(j, "ServiceTags", e);
		json_kstr(j, "Type", "maintenance");
		json_empty_obj(j, "Definition");
		json_indexes(j, e);
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* Sends what j wrote (an answer to a read that may block); no cache may
 * keep it. */
static void reply(struct http_req *req, struct evbuffer *buf, const struct json *j)
{
	http_add_header(req, "Cache-Control", "no-store");
	api_reply_json(req, 200, buf, j);
}

struct seen_tag {
	const char *tag;
	size_t pos; /* order of first appearance over the instances */
};

static int by_tag_then_pos(const void *a, const void *b)
{
	const struct seen_tag *x = a, *y = b;
	int c = strcmp(x->tag, y->tag);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int by_pos(const void *a, const void *b)
{
	const struct seen_tag *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The instances' tags that the service does not carry itself, each once, in
 * the order they first appear: sorted, not compared pairwise, so that a
 * service of many instances costs n log n. Returns 0, -1 out of memory. */
static int json_instance_tags(struct json *j, const struct reg_service *s)
{
	struct seen_tag *all;
	size_t n = 0, kept = 0;

	for (size_t k = 0; k < s->n_instances; k++)
		n += s->instances[k].n_tags;
	if (!n)
		return 0;
	if (!(all = malloc(n * sizeof(*all))))
		return -1;
	n = 0;
	for (size_t k = 0; k < s->n_instances; k++)
		for (size_t t = 0; t < s->instances[k].n_tags; t++, n++)
			all[n] = (struct seen_tag){s->instances[k].tags[t], n};
	qsort(all, n, sizeof(*all), by_tag_then_pos);
	for (size_t i = 0; i < n; i++) {
		int dup = i > 0 && strcmp(all[i].tag, all[i - 1].tag) == 0;

		for (size_t u = 0; u < s->n_tags && !dup; u++)
			dup = strcmp(s->tags[u], all[i].tag) == 0;
		if (!dup)
			all[kept++] = all[i];
	}
	qsort(all, kept, sizeof(*all), by_pos);
	for (size_t i = 0; i < kept; i++)
		json_str(j, all[i].tag);
	free(all);
	return 0;
}

/* The start of a read that may block: waits (returns NULL) while the index
 * is current, answers 400 for a bad query, 500 without memory; else the
 * buffer the route writes its answer into, with *q read. */
static struct evbuffer *begin(struct api *api, struct http_req *req, api_route_fn route,
                              const char *arg, struct consul_query *q)
{
	struct evbuffer *buf;

	if (api_block(api, req, route, arg, API_INDEX_CONSUL) || read_query(req, q) < 0)
		return NULL;
	if (!(buf = evbuffer_new()))
		http_reply(req, 500, NULL, NULL);
	return buf;
}

/* {"NAME": [tags of the service and of all its instances, once each]} */
void api_consul_services(struct api *api, struct http_req *req, const char *arg)
{
	const struct registry *reg;
	struct consul_query q;
	struct evbuffer *buf;
	struct json j;

	if (!(buf = begin(api, req, api_consul_services, arg, &q)))
		return;
	reg = api_registry(api);
	json_init(&j, buf);
	json_obj_begin(&j);
	for (size_t i = 0; i < reg->n_services; i++) {
		const struct reg_service *s = reg->services[i];

		json_key(&j, s->name);
		json_arr_begin(&j);
		for (size_t t = 0; t < s->n_tags; t++)
			json_str(&j, s->tags[t]);
		if (json_instance_tags(&j, s) < 0)
			j.failed = 1;
		json_arr_end(&j);
	}
	json_obj_end(&j);
	reply(req, buf, &j);
}

/* [{"Node", "Address", "ServiceID", "ServiceAddress", "ServicePort", ...}]:
 * every instance (the catalog does not filter by health), ?tag= applies. */
void api_consul_catalog_service(struct api *api, struct http_req *req, const char *name)
{
	struct consul_query q;
	struct evbuffer *buf;
	struct json j;
	long si;

	if (!(buf = begin(api, req, api_consul_catalog_service, name, &q)))
		return;
	q.passing = 0;
	si = service_index(api, name);
	json_init(&j, buf);
	json_arr_begin(&j);
	for (size_t k = 0; si >= 0 && k < api_registry(api)->services[si]->n_instances; k++) {
		struct entry e;

		if (!wanted(api, &q, (size_t)si, k))
			continue;
		entry_of(api, (size_t)si, k, &e);
		json_obj_begin(&j);
		json_kstr(&j, "ID", "");
		json_kstr(&j, "Node", e.id);
		json_kstr(&j, "Address", e.addr);
		json_kstr(&j, "Datacenter", API_CONSUL_DC);
		json_tagged_addresses(&j, "TaggedAddresses", &e);
		json_empty_obj(&j, "NodeMeta");
		json_kstr(&j, "ServiceKind", "");
		json_kstr(&j, "ServiceID", e.id);
		json_kstr(&j, "ServiceName", e.s->name);
		json_service_tags(&j, "ServiceTags", &e);
		json_kstr(&j, "ServiceAddress", e.addr);
		json_weights(&j, "ServiceWeights", &e);
		json_meta(&j, "ServiceMeta", &e);
		json_kuint(&j, "ServicePort", e.in->port);
		json_kbool(&j, "ServiceEnableTagOverride", 0);
		json_empty_obj(&j, "ServiceProxy");
		json_empty_obj(&j, "ServiceConnect");
		json_indexes(&j, &e);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	reply(req, buf, &j);
}

/* [{"Node": {...}, "Service": {...}, "Checks": [...]}]; ?passing leaves out
 * the instances that are not passing, ?tag= those without the tag. */
void api_consul_health_service(struct api *api, struct http_req *req, const char *name)
{
	struct consul_query q;
	struct evbuffer *buf;
	struct json j;
	long si;

	if (!(buf = begin(api, req, api_consul_health_service, name, &q)))
		return;
	si = service_index(api, name);
	json_init(&j, buf);
	json_arr_begin(&j);
	for (size_t k = 0; si >= 0 && k < api_registry(api)->services[si]->n_instances; k++) {
		struct entry e;

		if (!wanted(api, &q, (size_t)si, k))
			continue;
		entry_of(api, (size_t)si, k, &e);
		json_obj_begin(&j);
		json_key(&j, "Node");
		json_obj_begin(&j);
		json_kstr(&j, "ID", "");
		json_kstr(&j, "Node", e.id);
		json_kstr(&j, "Address", e.addr);
		json_kstr(&j, "Datacenter", API_CONSUL_DC);
		json_tagged_addresses(&j, "TaggedAddresses", &e);
		json_empty_obj(&j, "Meta");
		json_indexes(&j, &e);
		json_obj_end(&j);
		json_key(&j, "Service");
		json_obj_begin(&j);
		json_kstr(&j, "ID", e.id);
		json_kstr(&j, "Service", e.s->name);
		json_service_tags(&j, "Tags", &e);
		json_kstr(&j, "Address", e.addr);
		json_meta(&j, "Meta", &e);
		json_kuint(&j, "Port", e.in->port);
		json_weights(&j, "Weights", &e);
		json_kbool(&j, "EnableTagOverride", 0);
		json_empty_obj(&j, "Proxy");
		json_empty_obj(&j, "Connect");
		json_indexes(&j, &e);
		json_obj_end(&j);
		json_checks(&j, api, (size_t)si, k, &e);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	reply(req, buf, &j);
}

/* What clients read of the agent: Prometheus's Consul SD takes
 * Config.Datacenter when none is configured. */
void api_consul_agent_self(struct api *api, struct http_req *req, const char *arg)
{
	struct evbuffer *buf = evbuffer_new();
	struct json j;

	(void)api;
	(void)arg;
	http_add_header(req, "X-Consul-KnownLeader", "true");
	http_add_header(req, "X-Consul-LastContact", "0");
	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_obj_begin(&j);
	json_key(&j, "Config");
	json_obj_begin(&j);
	json_kstr(&j, "Datacenter", API_CONSUL_DC);
	json_kstr(&j, "PrimaryDatacenter", API_CONSUL_DC);
	json_kstr(&j, "NodeName", "srvd");
	json_kstr(&j, "NodeID", "");
	json_kbool(&j, "Server", 1);
	json_kstr(&j, "Revision", "");
	json_kstr(&j, "Version", PACKAGE_VERSION);
	json_obj_end(&j);
	json_key(&j, "Member");
	json_obj_begin(&j);
	json_kstr(&j, "Name", "srvd");
	json_key(&j, "Tags");
	json_obj_begin(&j);
	json_kstr(&j, "dc", API_CONSUL_DC);
	json_kstr(&j, "role", "consul");
	json_obj_end(&j);
	json_kuint(&j, "Status", 1);
	json_obj_end(&j);
	json_empty_obj(&j, "Meta");
	json_obj_end(&j);
	reply(req, buf, &j);
}

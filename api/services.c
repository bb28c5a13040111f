/* SPDX-License-Identifier: BSD-3-Clause */
/* services.c: GET, PUT and DELETE on /v1/services[/NAME], and the
 * instances' heartbeats.
 *
 * PUT and DELETE never change the registry in memory: they write through
 * the registry source (registry/source.h: with files, NAME.yaml in the
 * include folder) and reload, so the source stays the one truth and a
 * restart serves the same. When the reload rejects the result (the name
 * collides with a service of another file, another file is broken), the
 * source puts the previous state back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "common/log.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"
#include "registry/ynode.h"

void api_json_time(struct json *j, const char *key, int64_t ms)
{
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	json_key(j, key);
	if (ms <= 0 || !gmtime_r(&t, &tm)) {
		json_null(j);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ", (int)(ms % 1000));
	json_str(j, buf);
}

int api_inst_passing(const struct api *api, size_t svc, size_t inst)
{
	struct health_inst *h = health_instance(api_health(api), svc, inst);

	/* in answers: what a discovery client should use; served is passing
	 * and not drained */
	return h && atomic_load(&h->served);
}

const char *api_inst_health(const struct api *api, size_t svc, size_t inst)
{
	struct health_inst *h = health_instance(api_health(api), svc, inst);

	if (api_inst_passing(api, svc, inst))
		return "passing";
	if (h && atomic_load(&h->drained))
		return "maintenance";
	return h && atomic_load(&h->status) == HEALTH_UNCHECKED ? "unchecked" : "failing";
}

static void json_tags(struct json *j, char **tags, size_t n)
{
	json_key(j, "tags");
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		json_str(j, tags[i]);
	json_arr_end(j);
}

/* meta: as an object, KEY: VALUE */
static void json_meta(struct json *j, const char *const *kv, size_t n)
{
	json_key(j, "meta");
	json_obj_begin(j);
	for (size_t i = 0; i < n; i++)
		json_kstr(j, kv[2 * i], kv[2 * i + 1]);
	json_obj_end(j);
}

/* ports: NAME: {port, protocol}, as in (NULL: the service) answers them */
static void json_ports(struct json *j, const struct reg_service *s, const struct reg_instance *in)
{
	json_key(j, "ports");
	json_obj_begin(j);
	for (size_t k = 0; k < s->n_ports; k++) {
		struct reg_named_port np;

		registry_port_of(s, in, k, &np);
		json_key(j, np.name);
		json_obj_begin(j);
		json_kuint(j, "port", np.port);
		json_kstr(j, "protocol", np.protocol);
		json_obj_end(j);
	}
	json_obj_end(j);
}

static void json_instance(struct json *j, const struct reg_service *s,
                          const struct reg_instance *in, struct health_inst *h)
{
	const char *maint = registry_maintenance_of(s, in);

	char addr[INET6_ADDRSTRLEN], result[HEALTH_RESULT_MAX];

	inet_ntop(in->addr.family, &in->addr.u, addr, sizeof(addr));
	json_obj_begin(j);
	json_kstr(j, "name", in->name);
	json_kstr(j, "address", addr);
	{
		/* every address, the primary (address) first: dual-stack */
		size_t n;
		const struct reg_addr *a = registry_addrs(in, &n);

		json_key(j, "addresses");
		json_arr_begin(j);
		for (size_t k = 0; k < n; k++) {
			inet_ntop(a[k].family, &a[k].u, addr, sizeof(addr));
			json_str(j, addr);
		}
		json_arr_end(j);
	}
	json_kuint(j, "port", in->port);
	json_kuint(j, "weight", in->weight);
	json_kuint(j, "priority", in->priority);
	json_tags(j, in->tags, in->n_tags);
	{
		/* what its TXT answers: the service's keys and its own */
		const char *kv[4 * REG_META_MAX];

		json_meta(j, kv, registry_meta_of(s, in, kv));
	}
	json_ports(j, s, in);
	if (h) {
		health_inst_result(h, result, sizeof(result));
		json_kstr(j, "state",
		          health_status_name((enum health_status)atomic_load(&h->status)));
		json_kbool(j, "served", atomic_load(&h->served));
		json_kbool(j, "checked", atomic_load(&h->checked));
		json_kbool(j, "drained", atomic_load(&h->drained));
		json_kstr(j, "maintenance", maint); /* the reason, or null */
		json_key(j, "last_result");
		json_str(j, result[0] ? result : NULL);
		api_json_time(j, "last_check", atomic_load(&h->last_check_ms));
		api_json_time(j, "last_change", atomic_load(&h->last_change_ms));
		json_kuint(j, "consecutive_successes", atomic_load(&h->successes));
		json_kuint(j, "consecutive_failures", atomic_load(&h->failures));
	}
	json_obj_end(j);
}

/* One key of a check, from the schema: durations as KEY_ms in ms. */
static void json_check_field(void *arg, const struct reg_field *f)
{
	struct json *j = arg;
	char key[64];

	switch (f->kind) {
	case REG_FIELD_UINT:
		json_kuint(j, f->key, f->num);
		break;
	case REG_FIELD_MS:
		snprintf(key, sizeof(key), "%s_ms", f->key);
		json_kuint(j, key, f->num);
		break;
	case REG_FIELD_TEXT:
		json_kstr(j, f->key, f->text);
		break;
	case REG_FIELD_BOOL:
		json_kbool(j, f->key, (int)f->num);
		break;
	case REG_FIELD_LIST:
		json_key(j, f->key);
		json_arr_begin(j);
		for (uint64_t i = 0; i < f->num; i++)
			json_str(j, f->items[i]);
		json_arr_end(j);
		break;
	case REG_FIELD_PAIRS:
		json_key(j, f->key);
		json_obj_begin(j);
		for (uint64_t i = 0; i < f->num; i++)
			json_kstr(j, f->items[2 * i], f->items[2 * i + 1]);
		json_obj_end(j);
		break;
	case REG_FIELD_BEGIN:
		json_key(j, f->key);
		json_obj_begin(j);
		break;
	case REG_FIELD_END:
		json_obj_end(j);
		break;
	}
}

/* One service; with detail, its check and instances too. */
static void json_service(struct json *j, const struct api *api, size_t i, int detail)
{
	const struct reg_service *s = api_registry(api)->services[i];
	struct health *h = api_health(api);
	struct health_svc *hs = health_service(h, i);
	size_t passing = 0;

	for (size_t k = 0; k < s->n_instances; k++) {
		struct health_inst *hi = health_instance(h, i, k);
		/* "passing" means passing and not drained, everywhere */
		passing +=
		    hi && atomic_load(&hi->status) == HEALTH_PASSING && !atomic_load(&hi->drained);
	}
	json_obj_begin(j);
	json_kstr(j, "name", s->name);
	json_kstr(j, "protocol", s->protocol);
	json_kuint(j, "port", s->port);
	json_kstr(j, "policy", registry_policy_name(s->policy));
	json_kuint(j, "ttl", s->ttl);
	json_tags(j, s->tags, s->n_tags);
	json_meta(j, (const char *const *)s->meta, s->n_meta);
	json_ports(j, s, NULL);
	json_kuint(j, "passing", passing);
	json_kuint(j, "total", s->n_instances);
	json_kbool(j, "panic", hs && atomic_load(&hs->panic));
	json_kstr(j, "maintenance", s->maintenance); /* the whole service drained: why */
	if (detail) {
		json_kuint(j, "max_answers", s->max_answers);
		json_key(j, "panic_threshold");
		json_double(j, s->panic_threshold);
		json_key(j, "check");
		json_obj_begin(j);
		registry_check_fields(&s->check, json_check_field, j);
		json_obj_end(j);
		json_key(j, "instances");
		json_arr_begin(j);
		for (size_t k = 0; k < s->n_instances; k++)
			json_instance(j, s, &s->instances[k], health_instance(h, i, k));
		json_arr_end(j);
	}
	json_obj_end(j);
}

static long find_index(const struct registry *reg, const char *name)
{
	/* from the end: a service a change loaded goes last (registry_update()),
	 * and names are unique */
	for (size_t i = reg->n_services; i-- > 0;)
		if (strcmp(reg->services[i]->name, name) == 0)
			return (long)i;
	return -1;
}

/* A shared store (etcd) keeps a revision per service: the ETag that a
 * conditional write (If-Match) names. */
static void add_etag(struct api *api, struct http_req *req, const char *name)
{
	int64_t rev = reg_source_revision(api_source(api), name);
	char tag[32];

	if (rev <= 0)
		return;
	snprintf(tag, sizeof(tag), "\"%lld\"", (long long)rev);
	http_add_header(req, "ETag", tag);
}

static int source_has_revisions(struct api *api)
{
	struct reg_source_report r;

	return reg_source_report(api_source(api), &r) == 0;
}

/* The condition of a write: If-Match: REV (an ETag, quoted or not), or
 * ?cas=0 (create only) / ?cas=REV as Consul spells them. Returns 0, or -1
 * (replied 400). Only a source with revisions (etcd) reads them. */
static int write_cond(struct http_req *req, int has_revisions, int64_t *cond)
{
	const char *m = http_req_header(req, "If-Match"), *q = http_req_query(req), *v = NULL;
	char *end;
	long long n;

	*cond = REG_IF_NONE;
	if (!has_revisions)
		return 0; /* the files: no revisions, conditions ignored as always */
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, "cas=", 4) == 0)
			v = p + 4;
	if (m) {
		if (strncmp(m, "W/", 2) == 0)
			m += 2;
		if (*m == '"')
			m++;
		n = strtoll(m, &end, 10);
		if (end == m || n <= 0 || (*end && strcmp(end, "\"") != 0)) {
			api_reply_error(req, 400,
			                "If-Match: expected a revision (the ETag of a GET)");
			return -1;
		}
		*cond = n;
	} else if (v) {
		n = strtoll(v, &end, 10);
		if (end == v || n < 0 || (*end && *end != '&')) {
			api_reply_error(req, 400, "cas: expected 0 (create only) or a revision");
			return -1;
		}
		*cond = n;
	}
	return 0;
}

/* Replies with the JSON of service name of the current registry. */
static void reply_service(struct api *api, struct http_req *req, int code, const char *name)
{
	long i = find_index(api_registry(api), name);
	struct evbuffer *buf;
	struct json j;

	if (i < 0) {
		api_reply_error(req, 404, "no service named \"%s\"", name);
		return;
	}
	if (!(buf = evbuffer_new())) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_service(&j, api, (size_t)i, 1);
	add_etag(api, req, name);
	api_reply_json(req, code, buf, &j);
}

/* Lowercases a valid service name into buf (64 bytes); 0 if name is not one. */
static int lower_name(const char *name, char *buf)
{
	size_t n = strlen(name);

	if (!registry_fragment_name_ok(name))
		return 0;
	for (size_t i = 0; i <= n; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	return 1;
}

void api_services_get(struct api *api, struct http_req *req, const char *name)
{
	char lower[64];

	/* a client may wait for a service that does not exist yet */
	if (api_block(api, req, api_services_get, name, API_INDEX_SRVD))
		return;
	if (!lower_name(name, lower)) {
		api_reply_error(req, 404, "no service named \"%s\"", name);
		return;
	}
	reply_service(api, req, 200, lower);
}

/* ?detail=1 includes every service's check and instances: what the status
 * page polls, one request for everything. */
void api_services_list(struct api *api, struct http_req *req, const char *arg)
{
	const struct registry *reg = api_registry(api);
	struct evbuffer *buf;
	struct json j;
	int detail = api_query_flag(req, "detail");

	if (api_block(api, req, api_services_list, arg, API_INDEX_SRVD))
		return;
	if (!(buf = evbuffer_new())) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_obj_begin(&j);
	json_key(&j, "services");
	json_arr_begin(&j);
	for (size_t i = 0; i < reg->n_services; i++)
		json_service(&j, api, i, detail);
	json_arr_end(&j);
	json_obj_end(&j);
	api_reply_json(req, 200, buf, &j);
}

/* Replies {"errors": [...]} from errs with status code. */
static void reply_errors(struct http_req *req, int code, const struct reg_errors *errs, int in_body)
{
	struct evbuffer *buf = evbuffer_new();
	struct json j;

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_obj_begin(&j);
	json_key(&j, "errors");
	json_arr_begin(&j);
	api_json_errors(&j, errs, in_body);
	json_arr_end(&j);
	json_obj_end(&j);
	api_reply_json(req, code, buf, &j);
}

/* Answers a write the source refused. */
static void reply_refused(struct http_req *req, const struct reg_write *w)
{
	switch (w->result) {
	case REG_WRITE_INVALID:
		if (w->errs.n)
			reply_errors(req, 400, &w->errs, 1);
		else
			api_reply_error(req, 400, "%s", w->message);
		return;
	case REG_WRITE_CONFLICT:
	case REG_WRITE_LOST:
		api_reply_error(req, 409, "%s", w->message);
		return;
	case REG_WRITE_NOT_FOUND:
		api_reply_error(req, 404, "%s", w->message);
		return;
	case REG_WRITE_FAILED:
		api_reply_error(req, 500, "%s", w->message);
		return;
	case REG_WRITE_OK:
		break;
	}
	http_reply(req, 500, NULL, NULL);
}

/* Reloads after the source took a write; when the reload rejects it, the
 * source puts the previous state back and the client gets 409 with the
 * errors. Returns 0, or -1 (replied). */
static int reload_or_undo(struct api *api, struct http_req *req, struct reg_write *w,
                          const char **result)
{
	struct reg_errors errs = {NULL, 0};

	if (api_reload(api, 0, &errs, result) == 0)
		return 0;
	reg_source_undo(api_source(api), w);
	reply_errors(req, 409, &errs, 0);
	registry_errors_clear(&errs);
	return -1;
}

void api_services_put(struct api *api, struct http_req *req, const char *name)
{
	struct evbuffer *in = http_req_body(req);
	struct reg_write w;
	size_t len = evbuffer_get_length(in);
	char lower[64], *body;
	const char *result;
	int64_t cond;

	if (!lower_name(name, lower)) {
		api_reply_error(
		    req, 400, "\"%s\" is not a service name (a DNS label: letters, digits, hyphen)",
		    name);
		return;
	}
	body = (char *)evbuffer_pullup(in, -1);
	if (len == 0 || !body) {
		api_reply_error(req, 400, "the body must be the service as JSON");
		return;
	}
	if (write_cond(req, source_has_revisions(api), &cond) < 0)
		return;
	reg_source_put_if(api_source(api), api_registry(api), lower, body, len, cond, &w);
	if (w.result != REG_WRITE_OK)
		reply_refused(req, &w);
	else if (reload_or_undo(api, req, &w, &result) == 0) {
		log_info("api: %s service %s (%s, reload %s)",
		         w.created ? "registered" : "replaced", lower, w.where, result);
		reply_service(api, req, w.created ? 201 : 200, lower);
	}
	reg_write_clear(&w);
}

void api_services_delete(struct api *api, struct http_req *req, const char *name)
{
	struct reg_write w;
	char lower[64];
	const char *result;
	int64_t cond;

	if (!lower_name(name, lower)) {
		api_reply_error(req, 404, "no service named \"%s\"", name);
		return;
	}
	if (write_cond(req, source_has_revisions(api), &cond) < 0)
		return;
	reg_source_delete_if(api_source(api), api_registry(api), lower, cond, &w);
	if (w.result != REG_WRITE_OK) {
		reply_refused(req, &w);
	} else if (reload_or_undo(api, req, &w, &result) == 0) {
		struct evbuffer *buf = evbuffer_new();
		struct json j;

		log_info("api: deregistered service %s (removed %s, reload %s)", lower, w.where,
		         result);
		if (buf) {
			json_init(&j, buf);
			json_obj_begin(&j);
			json_kstr(&j, "deleted", lower);
			json_kstr(&j, "reload", result);
			json_obj_end(&j);
			api_reply_json(req, 200, buf, &j);
		} else {
			http_reply(req, 500, NULL, NULL);
		}
	}
	reg_write_clear(&w);
}

static void ignore_error(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/* The string member key of a JSON object body into out (len bytes): ""
 * when the body is empty or has no such member. Returns 0, or -1 after
 * answering 400 (not a JSON object, key not a string, too long). */
static int body_member(struct http_req *req, const char *key, char *out, size_t len)
{
	struct evbuffer *in = http_req_body(req);
	size_t n = evbuffer_get_length(in);
	const char *body = n ? (const char *)evbuffer_pullup(in, -1) : NULL;
	struct ydoc *doc = NULL;
	const struct ynode *root;
	int rc = 0;

	out[0] = '\0';
	if (n == 0)
		return 0;
	if (!body || ydoc_parse_string(body, n, "body", &doc, ignore_error, NULL) < 0) {
		api_reply_error(req, 400, "the body must be a JSON object, e.g. {\"%s\": \"...\"}",
		                key);
		return -1;
	}
	root = doc->root;
	if (root && root->kind != YNODE_MAP) {
		api_reply_error(req, 400, "the body must be a JSON object, e.g. {\"%s\": \"...\"}",
		                key);
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && root && i < root->n; i++) {
		const struct ynode *v = root->items[i];

		if (strcmp(root->keys[i]->value, key) != 0)
			continue;
		if (v->kind != YNODE_SCALAR || !v->value) {
			api_reply_error(req, 400, "\"%s\" must be a string", key);
			rc = -1;
		} else if (strlen(v->value) >= len) {
			api_reply_error(req, 400, "\"%s\" is over %zu bytes", key, len - 1);
			rc = -1;
		} else {
			/* shown in TXT, logs and JSON: no control characters */
			snprintf(out, len, "%s", v->value);
			for (char *p = out; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = ' ';
		}
	}
	ydoc_free(doc);
	return rc;
}

/* Finds "SERVICE/INSTANCE" (arg) in the current registry: 0 with *svc and
 * *inst set, or -1 after answering 404. */
static int find_instance(struct api *api, struct http_req *req, const char *arg, size_t *svc,
                         size_t *inst)
{
	const struct registry *reg = api_registry(api);
	const char *slash = strchr(arg, '/');
	char name[API_ARG_MAX], lower[64];
	long i;

	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - arg) : 0, arg);
	if (!slash || !lower_name(name, lower) || (i = find_index(reg, lower)) < 0) {
		api_reply_error(req, 404, "no service named \"%s\"", name);
		return -1;
	}
	for (size_t k = 0; k < reg->services[i]->n_instances; k++)
		if (strcasecmp(reg->services[i]->instances[k].name, slash + 1) == 0) {
			*svc = (size_t)i;
			*inst = k;
			return 0;
		}
	api_reply_error(req, 404, "service %s has no instance named \"%s\"", lower, slash + 1);
	return -1;
}

/* Replies with the JSON of instance inst of service svc. */
static void reply_instance(struct api *api, struct http_req *req, size_t svc, size_t inst)
{
	const struct reg_service *s = api_registry(api)->services[svc];
	struct evbuffer *buf = evbuffer_new();
	struct json j;

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_instance(&j, s, &s->instances[inst], health_instance(api_health(api), svc, inst));
	api_reply_json(req, 200, buf, &j);
}

static void heartbeat(struct api *api, struct http_req *req, const char *arg, int pass)
{
	const struct registry *reg = api_registry(api);
	char note[HEALTH_RESULT_MAX];
	struct reg_write w;
	size_t svc, inst;

	if (find_instance(api, req, arg, &svc, &inst) < 0 ||
	    body_member(req, "note", note, sizeof(note)) < 0)
		return;
	if (health_heartbeat(api_health(api), svc, inst, pass, note) < 0) {
		api_reply_error(
		    req, 409, "service %s has check type %s: heartbeats are for check type ttl",
		    reg->services[svc]->name, check_type_name(reg->services[svc]->check.type));
		return;
	}
	/* a fleet (etcd): every srvd takes the result, not only this one */
	if (reg_source_share_result(api_source(api), reg->services[svc]->name,
	                            reg->services[svc]->instances[inst].name, pass, note,
	                            &w) == 0) {
		if (w.result != REG_WRITE_OK)
			log_warn(
			    "api: %s/%s: the result holds here, but the fleet did not get it: %s",
			    reg->services[svc]->name, reg->services[svc]->instances[inst].name,
			    w.message);
		reg_write_clear(&w);
	}
	reply_instance(api, req, svc, inst);
}

void api_instance_pass(struct api *api, struct http_req *req, const char *arg)
{
	heartbeat(api, req, arg, 1);
}

void api_instance_fail(struct api *api, struct http_req *req, const char *arg)
{
	heartbeat(api, req, arg, 0);
}

/* PUT or DELETE (reason NULL) .../maintenance of "SERVICE" or
 * "SERVICE/INSTANCE": written through the source, then reloaded, like a
 * PUT of the service (the drain is in the digest: new serial). */
static void maintenance(struct api *api, struct http_req *req, const char *arg, int drain)
{
	const struct registry *reg = api_registry(api);
	char reason[HEALTH_RESULT_MAX], lower[64], name[API_ARG_MAX], sname[64], ibuf[64];
	const char *slash = strchr(arg, '/'), *result, *iname = NULL;
	size_t svc, inst = 0;
	struct reg_write w;

	if (slash) {
		if (find_instance(api, req, arg, &svc, &inst) < 0)
			return;
		snprintf(ibuf, sizeof(ibuf), "%s", reg->services[svc]->instances[inst].name);
		iname = ibuf;
	} else {
		long i;

		snprintf(name, sizeof(name), "%s", arg);
		if (!lower_name(name, lower) || (i = find_index(reg, lower)) < 0) {
			api_reply_error(req, 404, "no service named \"%s\"", name);
			return;
		}
		svc = (size_t)i;
	}
	if (drain && body_member(req, "reason", reason, sizeof(reason)) < 0)
		return;
	if (drain && !reason[0])
		snprintf(reason, sizeof(reason), "no reason given");
	snprintf(sname, sizeof(sname), "%s", reg->services[svc]->name);
	reg_source_set_maintenance(api_source(api), reg, sname, iname, drain ? reason : NULL, &w);
	if (w.result != REG_WRITE_OK) {
		reply_refused(req, &w);
	} else if (reload_or_undo(api, req, &w, &result) == 0) {
		char both[API_ARG_MAX];

		log_info("api: %s %s%s%s%s%s (reload %s)", drain ? "drained" : "undrained", sname,
		         iname ? "/" : "", iname ? iname : "", drain ? ": " : "",
		         drain ? reason : "", result);
		/* the registry is a new one: find them again */
		snprintf(both, sizeof(both), "%s/%s", sname, iname ? iname : "");
		if (iname && find_instance(api, req, both, &svc, &inst) == 0)
			reply_instance(api, req, svc, inst);
		else if (!iname)
			reply_service(api, req, 200, sname);
	}
	reg_write_clear(&w);
}

void api_maintenance_put(struct api *api, struct http_req *req, const char *arg)
{
	maintenance(api, req, arg, 1);
}

void api_maintenance_delete(struct api *api, struct http_req *req, const char *arg)
{
	maintenance(api, req, arg, 0);
}

/* DELETE /v1/services/S/instances/I: one instance of a service the API
 * registered leaves its file (what deregister_after does too). */
void api_instance_delete(struct api *api, struct http_req *req, const char *arg)
{
	const struct registry *reg = api_registry(api);
	char sname[64], iname[64];
	const char *result;
	struct reg_write w;
	size_t svc, inst;

	if (find_instance(api, req, arg, &svc, &inst) < 0)
		return;
	snprintf(sname, sizeof(sname), "%s", reg->services[svc]->name);
	snprintf(iname, sizeof(iname), "%s", reg->services[svc]->instances[inst].name);
	reg_source_delete_instance(api_source(api), reg, sname, iname, &w);
	if (w.result != REG_WRITE_OK) {
		reply_refused(req, &w);
	} else if (reload_or_undo(api, req, &w, &result) == 0) {
		struct evbuffer *buf = evbuffer_new();
		char both[130];
		struct json j;

		log_info("api: deregistered instance %s/%s (%s, reload %s)", sname, iname, w.where,
		         result);
		if (!buf) {
			http_reply(req, 500, NULL, NULL);
		} else {
			snprintf(both, sizeof(both), "%s/%s", sname, iname);
			json_init(&j, buf);
			json_obj_begin(&j);
			json_kstr(&j, "deleted", both);
			json_kstr(&j, "reload", result);
			json_obj_end(&j);
			api_reply_json(req, 200, buf, &j);
		}
	}
	reg_write_clear(&w);
}

/* "SERVICE/INSTANCE" (arg) as two lowercase labels, or -1 after a 400. */
static int split_names(struct http_req *req, const char *arg, char *sname, char *iname)
{
	const char *slash = strchr(arg, '/');
	char name[API_ARG_MAX];

	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - arg) : 0, arg);
	if (!slash || !lower_name(name, sname) || strlen(slash + 1) >= 64 ||
	    !lower_name(slash + 1, iname)) {
		api_reply_error(req, 400,
		                "expected /v1/services/SERVICE/instances/NAME (DNS labels)");
		return -1;
	}
	return 0;
}

/* ?ttl=10s (or 10, 2m): the lease's seconds, 0 without; -1 after a 400. */
static long lease_ttl(struct http_req *req)
{
	const char *q = http_req_query(req), *v = NULL;
	char *end;
	long n;

	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, "ttl=", 4) == 0)
			v = p + 4;
	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	if (*end == 'm')
		n *= 60, end++;
	else if (*end == 's')
		end++;
	if (end == v || n < 1 || n > 86400 || (*end && *end != '&')) {
		api_reply_error(req, 400, "ttl: expected a lease of 1s to 24h, e.g. ttl=10s");
		return -1;
	}
	return n;
}

/* PUT /v1/services/S/instances/N[?ttl=10s]: one instance on its own (etcd:
 * PREFIXinstances/S/N, on a lease with ttl), added to service S. */
void api_instance_put(struct api *api, struct http_req *req, const char *arg)
{
	struct evbuffer *in = http_req_body(req);
	size_t len = evbuffer_get_length(in);
	char sname[64], iname[64], *body, lease[32];
	const char *result;
	struct reg_write w;
	long ttl;

	if (split_names(req, arg, sname, iname) < 0 || (ttl = lease_ttl(req)) < 0)
		return;
	body = (char *)evbuffer_pullup(in, -1);
	if (len == 0 || !body) {
		api_reply_error(req, 400,
		                "the body must be the instance as JSON, e.g. "
		                "{\"address\": \"192.0.2.1\", \"port\": 80}");
		return;
	}
	reg_source_put_instance(api_source(api), api_registry(api), sname, iname, body, len,
	                        (uint32_t)ttl, &w);
	if (w.result != REG_WRITE_OK) {
		reply_refused(req, &w);
	} else if (reload_or_undo(api, req, &w, &result) == 0) {
		struct evbuffer *buf = evbuffer_new();
		struct json j;

		log_info("api: registered instance %s/%s (%s%s, reload %s)", sname, iname, w.where,
		         ttl ? ", on a lease" : "", result);
		if (!buf) {
			http_reply(req, 500, NULL, NULL);
		} else {
			json_init(&j, buf);
			json_obj_begin(&j);
			json_kstr(&j, "service", sname);
			json_kstr(&j, "instance", iname);
			/* lease IDs are 64-bit: a string, as etcd's gateway writes them */
			snprintf(lease, sizeof(lease), "%lld", (long long)w.lease);
			json_kstr(&j, "lease", w.lease ? lease : NULL);
			json_kuint(&j, "ttl", (uint64_t)ttl);
			json_kbool(&j, "held",
			           registry_find_service(api_registry(api), sname) == NULL);
			json_kstr(&j, "reload", result);
			json_obj_end(&j);
			api_reply_json(req, w.created ? 201 : 200, buf, &j);
		}
	}
	reg_write_clear(&w);
}

/* PUT /v1/services/S/instances/N/heartbeat: keeps the instance's lease. */
void api_instance_heartbeat(struct api *api, struct http_req *req, const char *arg)
{
	char sname[64], iname[64];
	struct reg_write w;

	if (split_names(req, arg, sname, iname) < 0)
		return;
	reg_source_heartbeat(api_source(api), sname, iname, &w);
	if (w.result != REG_WRITE_OK) {
		reply_refused(req, &w);
	} else {
		struct evbuffer *buf = evbuffer_new();
		struct json j;
		char lease[32];

		if (!buf) {
			http_reply(req, 500, NULL, NULL);
		} else {
			json_init(&j, buf);
			json_obj_begin(&j);
			snprintf(lease, sizeof(lease), "%lld", (long long)w.lease);
			json_kstr(&j, "lease", lease);
			json_kuint(&j, "ttl", (uint64_t)w.revision); /* the TTL etcd renewed */
			json_obj_end(&j);
			api_reply_json(req, 200, buf, &j);
		}
	}
	reg_write_clear(&w);
}

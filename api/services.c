/* SPDX-License-Identifier: BSD-3-Clause */
/* services.c: GET, PUT and DELETE on /v1/services[/NAME].
 *
 * PUT and DELETE never change the registry in memory: they write or remove
 * NAME.yaml in the include folder and reload, so YAML stays the one source
 * of truth and a restart serves the same. When the reload rejects the
 * result (the name collides with a service of another file, another file
 * is broken), the previous NAME.yaml is put back, so the folder always
 * holds what is being served.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "common/log.h"
#include "health/health.h"
#include "registry/registry.h"

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

static void json_tags(struct json *j, char **tags, size_t n)
{
	json_key(j, "tags");
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		json_str(j, tags[i]);
	json_arr_end(j);
}

static void json_instance(struct json *j, const struct reg_instance *in, struct health_inst *h)
{
	char addr[INET6_ADDRSTRLEN], result[HEALTH_RESULT_MAX];

	inet_ntop(in->addr.family, &in->addr.u, addr, sizeof(addr));
	json_obj_begin(j);
	json_kstr(j, "name", in->name);
	json_kstr(j, "address", addr);
	json_kuint(j, "port", in->port);
	json_kuint(j, "weight", in->weight);
	json_kuint(j, "priority", in->priority);
	json_tags(j, in->tags, in->n_tags);
	if (h) {
		health_inst_result(h, result, sizeof(result));
		json_kstr(j, "state",
		          health_status_name((enum health_status)atomic_load(&h->status)));
		json_kbool(j, "served", atomic_load(&h->served));
		json_kbool(j, "checked", atomic_load(&h->checked));
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
	}
}

/* One service; with detail, its check and instances too. */
static void json_service(struct json *j, const struct api *api, size_t i, int detail)
{
	const struct reg_service *s = &api_registry(api)->services[i];
	struct health *h = api_health(api);
	struct health_svc *hs = health_service(h, i);
	size_t passing = 0;

	for (size_t k = 0; k < s->n_instances; k++) {
		struct health_inst *hi = health_instance(h, i, k);
		passing += hi && atomic_load(&hi->status) == HEALTH_PASSING;
	}
	json_obj_begin(j);
	json_kstr(j, "name", s->name);
	json_kstr(j, "protocol", s->protocol);
	json_kuint(j, "port", s->port);
	json_kstr(j, "policy", registry_policy_name(s->policy));
	json_kuint(j, "ttl", s->ttl);
	json_tags(j, s->tags, s->n_tags);
	json_kuint(j, "passing", passing);
	json_kuint(j, "total", s->n_instances);
	json_kbool(j, "panic", hs && atomic_load(&hs->panic));
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
			json_instance(j, &s->instances[k], health_instance(h, i, k));
		json_arr_end(j);
	}
	json_obj_end(j);
}

static long find_index(const struct registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n_services; i++)
		if (strcmp(reg->services[i].name, name) == 0)
			return (long)i;
	return -1;
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

/* Puts back what dir/NAME.yaml held before a rejected change (old NULL:
 * there was no such file). */
static void restore(const char *dir, const char *name, const char *old)
{
	int rc =
	    old ? registry_fragment_write(dir, name, old) : registry_fragment_remove(dir, name);

	if (rc < 0 && rc != -ENOENT)
		log_err("api: cannot restore %s/%s.yaml: %s", dir, name, strerror(-rc));
}

/* Reloads after a fragment changed; when the reload rejects the change, puts
 * the previous fragment (old, or none) back and replies 409 with the errors.
 * Returns 0, or -1 (replied). */
static int reload_or_restore(struct api *api, struct http_req *req, const char *dir,
                             const char *name, const char *old, struct reg_errors *errs,
                             const char **result)
{
	if (api_reload(api, errs, result) == 0)
		return 0;
	restore(dir, name, old);
	reply_errors(req, 409, errs, 0);
	return -1;
}

/* Finds the include folder for name, replying with the error if there is
 * none. Returns 0 or -1 (replied). */
static int fragment_dir(struct api *api, struct http_req *req, const char *name, char **dir)
{
	char err[512];
	int rc = registry_fragment_dir(api_registry(api)->file, name, dir, err, sizeof(err));

	if (rc == 0)
		return 0;
	if (rc == -ENOENT || rc == -EINVAL)
		api_reply_error(req, 409, "%s", err);
	else
		api_reply_error(req, 500, "%s", err);
	return -1;
}

void api_services_put(struct api *api, struct http_req *req, const char *name)
{
	struct evbuffer *in = http_req_body(req);
	struct reg_errors errs = {NULL, 0};
	size_t len = evbuffer_get_length(in);
	char lower[64], file[80], err[256], *body, *dir = NULL, *text = NULL, *old = NULL;
	const char *result;
	int rc;

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
	if ((rc = registry_fragment_text(lower, body, len, &text, err, sizeof(err))) < 0) {
		api_reply_error(req, rc == -EINVAL ? 400 : 500, "%s", err);
		return;
	}
	if (fragment_dir(api, req, lower, &dir) < 0)
		goto done;
	snprintf(file, sizeof(file), "%s.yaml", lower);
	if (registry_fragment_check(api_registry(api)->file, text, lower, &errs) < 0) {
		reply_errors(req, 400, &errs, 1);
		goto done;
	}
	rc = registry_fragment_read(dir, lower, &old);
	if (rc < 0 && rc != -ENOENT) {
		api_reply_error(req, 500, "cannot read %s/%s: %s", dir, file, strerror(-rc));
		goto done;
	}
	if (!old && registry_find_service(api_registry(api), lower)) {
		api_reply_error(
		    req, 409,
		    "service \"%s\" is defined in another file than %s/%s: change it there", lower,
		    dir, file);
		goto done;
	}
	if ((rc = registry_fragment_write(dir, lower, text)) < 0) {
		api_reply_error(req, 500, "cannot write %s/%s: %s", dir, file, strerror(-rc));
		goto done;
	}
	if (reload_or_restore(api, req, dir, lower, old, &errs, &result) < 0)
		goto done;
	log_info("api: %s service %s (%s/%s, reload %s)", old ? "replaced" : "registered", lower,
	         dir, file, result);
	reply_service(api, req, old ? 200 : 201, lower);
done:
	registry_errors_clear(&errs);
	free(dir);
	free(text);
	free(old);
}

void api_services_delete(struct api *api, struct http_req *req, const char *name)
{
	struct reg_errors errs = {NULL, 0};
	char lower[64], *dir = NULL, *old = NULL;
	const char *result;
	int rc, exists;

	if (!lower_name(name, lower)) {
		api_reply_error(req, 404, "no service named \"%s\"", name);
		return;
	}
	exists = registry_find_service(api_registry(api), lower) != NULL;
	if (fragment_dir(api, req, lower, &dir) < 0)
		return;
	rc = registry_fragment_read(dir, lower, &old);
	if (rc == -ENOENT) {
		if (exists)
			api_reply_error(
			    req, 409,
			    "service \"%s\" is not defined by %s/%s.yaml: remove it from "
			    "the file that defines it",
			    lower, dir, lower);
		else
			api_reply_error(req, 404, "no service named \"%s\"", lower);
		goto done;
	}
	if (rc < 0 || (rc = registry_fragment_remove(dir, lower)) < 0) {
		api_reply_error(req, 500, "cannot remove %s/%s.yaml: %s", dir, lower,
		                strerror(-rc));
		goto done;
	}
	if (reload_or_restore(api, req, dir, lower, old, &errs, &result) < 0)
		goto done;
	log_info("api: deregistered service %s (removed %s/%s.yaml, reload %s)", lower, dir, lower,
	         result);
	{
		struct evbuffer *buf = evbuffer_new();
		struct json j;

		if (!buf) {
			http_reply(req, 500, NULL, NULL);
			goto done;
		}
		json_init(&j, buf);
		json_obj_begin(&j);
		json_kstr(&j, "deleted", lower);
		json_kstr(&j, "reload", result);
		json_obj_end(&j);
		api_reply_json(req, 200, buf, &j);
	}
done:
	registry_errors_clear(&errs);
	free(dir);
	free(old);
}

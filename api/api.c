/* SPDX-License-Identifier: BSD-3-Clause */
/* api.c: the control API: its route table, the bearer token, /healthz,
 * /metrics and POST /v1/reload (services.c has the services, status.c the
 * status page at / and /v1/status; http.c is the HTTP server).
 *
 * The server runs on the main thread's event base, like reloads and the
 * health checker, so a handler may read the current registry and health
 * state and reload without any locking.
 */
#include "config.h"

#include "api/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <strings.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "api/metrics.h"
#include "common/addr.h"
#include "common/log.h"
#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

void api_reply_buf(struct http_req *req, int code, const char *type, struct evbuffer *buf)
{
	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	http_reply(req, code, type, buf);
	evbuffer_free(buf);
}

void api_reply_json(struct http_req *req, int code, struct evbuffer *buf, const struct json *j)
{
	if (json_failed(j)) {
		evbuffer_free(buf);
		http_reply(req, 500, NULL, NULL);
		return;
	}
	evbuffer_add(buf, "\n", 1);
	api_reply_buf(req, code, "application/json", buf);
}

void api_reply_error(struct http_req *req, int code, const char *fmt, ...)
{
	struct evbuffer *buf = evbuffer_new();
	struct json j;
	char msg[1024];
	va_list ap;

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_init(&j, buf);
	json_obj_begin(&j);
	json_key(&j, "errors");
	json_arr_begin(&j);
	json_obj_begin(&j);
	json_kstr(&j, "message", msg);
	json_obj_end(&j);
	json_arr_end(&j);
	json_obj_end(&j);
	api_reply_json(req, code, buf, &j);
}

/* Finds ":LINE:COL: " or ":LINE: " after the file name of an error line.
 * Returns the offset of the text after it, or 0 if the line has neither. */
static size_t split_position(const char *s, size_t *file_len, unsigned *line, unsigned *col)
{
	for (const char *p = strchr(s, ':'); p; p = strchr(p + 1, ':')) {
		char *end;
		unsigned long l, c = 0;

		if (!isdigit((unsigned char)p[1]))
			continue;
		l = strtoul(p + 1, &end, 10);
		if (end[0] == ':' && isdigit((unsigned char)end[1]))
			c = strtoul(end + 1, &end, 10);
		if (end[0] != ':' || end[1] != ' ')
			continue;
		*file_len = (size_t)(p - s);
		*line = (unsigned)l;
		*col = (unsigned)c;
		return (size_t)(end + 2 - s);
	}
	return 0;
}

/* The length of a key path ("services.web.instances[0].address") that
 * starts msg and is followed by ": ", or 0. */
static size_t path_len(const char *msg)
{
	size_t n = 0;

	if (!isalpha((unsigned char)msg[0]))
		return 0;
	while (msg[n] && (isalnum((unsigned char)msg[n]) || strchr("._-[]", msg[n])))
		n++;
	return msg[n] == ':' && msg[n + 1] == ' ' ? n : 0;
}

void api_json_errors(struct json *j, const struct reg_errors *errs, int in_body)
{
	for (size_t i = 0; errs && i < errs->n; i++) {
		const char *s = errs->lines[i], *msg = s;
		size_t file_len = 0, at, plen;
		unsigned line = 0, col = 0;

		json_obj_begin(j);
		at = split_position(s, &file_len, &line, &col);
		if (at) {
			msg = s + at;
			if (!in_body) {
				json_key(j, "file");
				json_strn(j, s, file_len);
				json_kuint(j, "line", line);
				if (col)
					json_kuint(j, "column", col);
			} else if (line >= REG_FRAGMENT_BODY_LINE) {
				/* positions within the body the client sent */
				json_kuint(j, "line", line - REG_FRAGMENT_BODY_LINE + 1);
				if (col >= REG_FRAGMENT_BODY_COL)
					json_kuint(j, "column", col - REG_FRAGMENT_BODY_COL + 1);
			}
		}
		if ((plen = path_len(msg))) {
			json_key(j, "path");
			json_strn(j, msg, plen);
			msg += plen + 2;
		}
		json_kstr(j, "message", msg);
		json_obj_end(j);
	}
}

int api_reload(struct api *api, int full, struct reg_errors *errs, const char **result)
{
	int changed = 0, rc = api->ops.reload(api->ops.ctx, full, errs, &changed);

	*result = changed ? "ok" : "unchanged";
	return rc;
}

const struct registry *api_registry(const struct api *api)
{
	return api->ops.registry(api->ops.ctx);
}

struct health *api_health(const struct api *api)
{
	return api->ops.health(api->ops.ctx);
}

struct reg_source *api_source(const struct api *api)
{
	return api->ops.source(api->ops.ctx);
}

uint32_t api_serial(const struct api *api)
{
	return api->ops.serial(api->ops.ctx);
}

int api_query_flag(struct http_req *req, const char *key)
{
	const char *q = http_req_query(req);
	size_t n = strlen(key);

	/* key, key=, key=1 or key=true among &-separated pairs */
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		const char *v;

		if (strncmp(p, key, n) != 0 || (p[n] && p[n] != '=' && p[n] != '&'))
			continue;
		if (p[n] != '=')
			return 1;
		v = p + n + 1;
		return *v == '&' || !*v || strncmp(v, "1", 1) == 0 || strncmp(v, "true", 4) == 0;
	}
	return 0;
}

static void route_healthz(struct api *api, struct http_req *req, const char *arg)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf)
		evbuffer_add(buf, "ok\n", 3);
	api_reply_buf(req, 200, "text/plain; charset=utf-8", buf);
}

static void route_reload(struct api *api, struct http_req *req, const char *arg)
{
	struct reg_errors errs = {NULL, 0};
	struct evbuffer *buf = evbuffer_new();
	const char *result;
	struct json j;
	int rc;

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	rc = api_reload(api, 1, &errs, &result);
	json_init(&j, buf);
	json_obj_begin(&j);
	json_kstr(&j, "result", rc == 0 ? result : "failed");
	if (rc == 0) {
		json_kuint(&j, "serial", api_serial(api));
	} else {
		json_key(&j, "errors");
		json_arr_begin(&j);
		api_json_errors(&j, &errs, 0);
		json_arr_end(&j);
	}
	json_obj_end(&j);
	registry_errors_clear(&errs);
	api_reply_json(req, rc == 0 ? 200 : 400, buf, &j);
}

static void route_metrics(struct api *api, struct http_req *req, const char *arg)
{
	struct api_figures fig;
	struct health_counters probes;
	struct http_server_stats http;
	struct metrics_input in = {0};
	struct reg_source_report src;
	struct evbuffer *buf = evbuffer_new();

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	api->ops.figures(api->ops.ctx, &fig);
	health_get_counters(api_health(api), &probes);
	http_server_get_stats(api->http, &http);
	in.version = PACKAGE_VERSION;
	in.fig = &fig;
	in.probes = &probes;
	in.reg = api_registry(api);
	in.health = api_health(api);
	in.serial = api_serial(api);
	if (reg_source_report(api_source(api), &src) == 0)
		in.source = &src;
	in.api = &http;
	if (metrics_write(buf, &in) < 0) {
		evbuffer_free(buf);
		http_reply(req, 500, NULL, NULL);
		return;
	}
	api_reply_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
}

/* Who may call a route (when tokens are set): anyone, the holder of
 * server.http_token, or also the holder of server.heartbeat_token. */
enum api_auth {
	API_OPEN = 0,
	API_ADMIN,
	API_HEARTBEAT,
};

/* The control API: one row per method and path. A `*` in a pattern matches
 * one path segment, handed to the handler (two `*`: both, joined by '/');
 * a GET row serves HEAD too. Unknown paths get 404, known paths with
 * another method 405 with Allow: both come from this table. Rows that
 * change something need a token, checked from the request head before any
 * of the body is read. */
struct api_route {
	enum http_method method;
	const char *pattern;
	api_route_fn fn;
	enum api_auth needs_token;
};

static const struct api_route routes[] = {
    {HTTP_M_GET, "/", api_status_page, API_OPEN},
    {HTTP_M_GET, "/healthz", route_healthz, API_OPEN},
    {HTTP_M_GET, "/metrics", route_metrics, API_OPEN},
    {HTTP_M_GET, "/v1/status", api_status_get, API_OPEN},
    {HTTP_M_GET, "/v1/events", api_events_get, API_OPEN},
    {HTTP_M_POST, "/v1/reload", route_reload, API_ADMIN},
    {HTTP_M_GET, "/v1/services", api_services_list, 0},
    {HTTP_M_GET, "/v1/services/", api_services_list, 0},
    {HTTP_M_GET, "/v1/services/*", api_services_get, 0},
    {HTTP_M_PUT, "/v1/services/*", api_services_put, API_ADMIN},
    {HTTP_M_DELETE, "/v1/services/*", api_services_delete, API_ADMIN},
    /* heartbeats of instances with check type ttl, from the instances */
    {HTTP_M_PUT, "/v1/services/*/instances/*/pass", api_instance_pass, API_HEARTBEAT},
    {HTTP_M_PUT, "/v1/services/*/instances/*/fail", api_instance_fail, API_HEARTBEAT},
    {HTTP_M_DELETE, "/v1/services/*/instances/*", api_instance_delete, API_ADMIN},
    /* instances on their own, on a lease (etcd) */
    {HTTP_M_PUT, "/v1/services/*/instances/*", api_instance_put, API_ADMIN},
    {HTTP_M_PUT, "/v1/services/*/instances/*/heartbeat", api_instance_heartbeat, API_HEARTBEAT},
    /* drain and maintenance */
    {HTTP_M_PUT, "/v1/services/*/maintenance", api_maintenance_put, API_ADMIN},
    {HTTP_M_DELETE, "/v1/services/*/maintenance", api_maintenance_delete, API_ADMIN},
    {HTTP_M_PUT, "/v1/services/*/instances/*/maintenance", api_maintenance_put, API_ADMIN},
    {HTTP_M_DELETE, "/v1/services/*/instances/*/maintenance", api_maintenance_delete, API_ADMIN},
    /* discovery over HTTP: Prometheus HTTP SD, Consul's reads (read-only) */
    {HTTP_M_GET, "/v1/sd/prometheus", api_sd_prometheus, 0},
    {HTTP_M_GET, "/v1/catalog/services", api_consul_services, 0},
    {HTTP_M_GET, "/v1/catalog/service/*", api_consul_catalog_service, 0},
    {HTTP_M_GET, "/v1/health/service/*", api_consul_health_service, 0},
    {HTTP_M_GET, "/v1/agent/self", api_consul_agent_self, 0},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* 1 if path matches pattern; the segments `*` matched go to arg
 * (API_ARG_MAX bytes, joined by '/', "" if the pattern has none). */
static int path_match(const char *pattern, const char *path, char *arg)
{
	size_t used = 0;

	arg[0] = '\0';
	while (*pattern) {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/"), sep = used > 0;

			if (n == 0 || used + sep + n >= API_ARG_MAX)
				return 0;
			if (sep)
				arg[used++] = '/';
			memcpy(arg + used, path, n);
			used += n;
			arg[used] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

static int method_matches(const struct api_route *r, enum http_method m)
{
	return r->method == m || (r->method == HTTP_M_GET && m == HTTP_M_HEAD);
}

/* The row for req's method and path, or NULL; *path_known says whether any
 * row has that path. */
static const struct api_route *find_route(struct http_req *req, char *arg, int *path_known)
{
	enum http_method m = http_req_method(req);
	char scratch[API_ARG_MAX];

	*path_known = 0;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!path_match(routes[i].pattern, http_req_path(req), scratch))
			continue;
		*path_known = 1;
		if (method_matches(&routes[i], m)) {
			memcpy(arg, scratch, API_ARG_MAX);
			return &routes[i];
		}
	}
	return NULL;
}

/* "GET, HEAD, PUT" for the rows whose pattern matches path. */
static void allowed_methods(const char *path, char *out, size_t len)
{
	static const enum http_method order[] = {HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST, HTTP_M_PUT,
	                                         HTTP_M_DELETE};
	char scratch[API_ARG_MAX];
	size_t n = 0;

	out[0] = '\0';
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < N_ROUTES; i++)
			if (method_matches(&routes[i], order[k]) &&
			    path_match(routes[i].pattern, path, scratch)) {
				n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
				                      n ? ", " : "", http_method_name(order[k]));
				break;
			}
}

/* 1 if header is `Bearer TOKEN` with token (len bytes; NULL: never).
 * Compares in time that depends only on the token's length, not on where
 * the first difference is. */
static int token_ok(const char *token, size_t token_len, const char *header)
{
	const char *given;
	size_t len;
	unsigned diff;

	if (!token || !header || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	given = header + 7;
	while (*given == ' ')
		given++;
	len = strlen(given);
	diff = len != token_len;
	for (size_t i = 0; i < token_len; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < len ? given[i] : 0);
	return diff == 0;
}

/* 0 if the request may call route r, else the status to refuse it with:
 * 401 without a token that opens it, 403 for the heartbeat token on a
 * route that is not a heartbeat. A route is open when none of the tokens
 * that would open it is set. */
static int refused(const struct api *api, const struct api_route *r, const char *header)
{
	int admin = token_ok(api->token, api->token_len, header);
	int beat = token_ok(api->hb_token, api->hb_token_len, header);

	switch (r->needs_token) {
	case API_OPEN:
		return 0;
	case API_ADMIN:
		if (!api->token || admin)
			return 0;
		return beat ? 403 : 401;
	case API_HEARTBEAT:
		if ((!api->token && !api->hb_token) || admin || beat)
			return 0;
		return 401;
	}
	return 401;
}

/* The body is in: run the route (found again: matching is cheap, and the
 * head callback has nowhere to keep it). */
static void run_route(struct http_req *req, void *arg)
{
	char seg[API_ARG_MAX];
	int known;
	const struct api_route *r = find_route(req, seg, &known);

	if (r)
		r->fn(arg, req, seg[0] ? seg : NULL);
	else
		http_reply(req, 500, NULL, NULL);
}

/* The head is in: 404, 405 and 401 are answered from it, before the body. */
static http_handler on_head(struct http_req *req, void *server_arg, void **arg)
{
	struct api *api = server_arg;
	const char *path = http_req_path(req);
	char seg[API_ARG_MAX], allow[64];
	int known;
	const struct api_route *r = find_route(req, seg, &known);

	if (!r && !known) {
		api_reply_error(req, 404, "no such resource: %s", path);
		return NULL;
	}
	if (!r) {
		allowed_methods(path, allow, sizeof(allow));
		http_add_header(req, "Allow", allow);
		api_reply_error(req, 405, "method not allowed on %s (allowed: %s)", path, allow);
		return NULL;
	}
	switch (refused(api, r, http_req_header(req, "Authorization"))) {
	case 0:
		break;
	case 403:
		api_reply_error(req, 403,
		                "the heartbeat token allows only PUT "
		                "/v1/services/NAME/instances/NAME/pass and /fail");
		return NULL;
	default:
		http_add_header(req, "WWW-Authenticate", "Bearer realm=\"srvd\"");
		api_reply_error(req, 401, "a valid bearer token is required");
		return NULL;
	}
	*arg = api;
	return run_route;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

int api_create(struct event_base *base, const struct api_ops *ops, const char *listen,
               const char *token, const char *heartbeat_token, struct api **out, char *err,
               size_t errlen)
{
	struct api *api = calloc(1, sizeof(*api));
	struct reg_listen la = {.text = NULL};
	struct sockaddr_storage bound = {0};
	struct http_limits lim;
	socklen_t blen = sizeof(bound);
	char text[64];
	int rc;

	*out = NULL;
	if (!api)
		goto nomem;
	api->base = base;
	api->ops = *ops;
	if (token && token[0]) {
		if (!(api->token = strdup(token)))
			goto nomem;
		api->token_len = strlen(token);
	}
	if (heartbeat_token && heartbeat_token[0]) {
		if (!(api->hb_token = strdup(heartbeat_token)))
			goto nomem;
		api->hb_token_len = strlen(heartbeat_token);
	}
	if (registry_parse_listen(listen, &la) < 0) {
		snprintf(err, errlen, "api: bad listen address \"%s\"", listen);
		goto fail;
	}
	http_limits_default(&lim);
	rc = http_server_create(base, (struct sockaddr *)&la.addr, la.addr_len, &lim, on_head, api,
	                        &api->http);
	if (rc < 0) {
		snprintf(err, errlen, "api: cannot bind %s: %s", listen, strerror(-rc));
		goto fail;
	}
	if (api_watch_init(api) < 0)
		goto nomem;
	if (http_server_address(api->http, &bound, &blen) == 0)
		addr_format((struct sockaddr *)&bound, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", listen);
	log_info("api listening on %s%s (at most %zu connections, %zu per address)", text,
	         api->token ? " (token required for changes)" : "", lim.max_conns, lim.max_per_ip);
	if (api->hb_token && !api->token)
		log_warn("api: server.heartbeat_token is set but server.http_token is not: every "
		         "change is open to anyone, with or without a token");
	if (!api->token && !is_loopback(&bound))
		log_warn("api: %s is not a loopback address and server.http_token is not set: "
		         "anyone who reaches it can change the registry",
		         text);
	free(la.text);
	*out = api;
	return 0;
nomem:
	snprintf(err, errlen, "api: out of memory");
fail:
	free(la.text);
	api_free(api);
	return -1;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	api_watch_free(api);
	http_server_free(api->http);
	free(api->token);
	free(api->hb_token);
	free(api);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* api.c: the control API's HTTP server: listening, routing, the bearer
 * token, /healthz, /metrics and POST /v1/reload (services.c has the
 * services, status.c the status page at / and /v1/status).
 *
 * evhttp runs on the main thread's event base, like reloads and the health
 * checker, so a handler may read the current registry and health state and
 * call daemon_reload() without any locking.
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

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "api/api_int.h"
#include "api/json.h"
#include "api/metrics.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "dns/server.h"
#include "dns/stats.h"
#include "dns/table.h"
#include "health/health.h"
#include "registry/registry.h"

void api_reply_json(struct evhttp_request *req, int code, struct evbuffer *buf,
                    const struct json *j)
{
	if (json_failed(j)) {
		evbuffer_free(buf);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
}

void api_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	struct evbuffer *buf = evbuffer_new();
	struct json j;
	char msg[1024];
	va_list ap;

	if (!buf) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
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

int api_reload(struct api *api, struct reg_errors *errs, const char **result)
{
	struct daemon_reload_stats before, after;
	int rc;

	daemon_reload_stats(api->d, &before);
	rc = daemon_reload(api->d, "api", errs);
	daemon_reload_stats(api->d, &after);
	*result = after.ok > before.ok ? "ok" : "unchanged";
	return rc;
}

static void reply_text(struct evhttp_request *req, int code, const char *type, struct evbuffer *b)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_send_reply(req, code, NULL, b);
}

static void route_reload(struct api *api, struct evhttp_request *req)
{
	struct reg_errors errs = {NULL, 0};
	struct evbuffer *buf = evbuffer_new();
	const char *result;
	struct json j;
	int rc;

	if (!buf) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	rc = api_reload(api, &errs, &result);
	json_init(&j, buf);
	json_obj_begin(&j);
	json_kstr(&j, "result", rc == 0 ? result : "failed");
	if (rc == 0) {
		json_kuint(&j, "serial", dns_table_serial(daemon_table(api->d)));
	} else {
		json_key(&j, "errors");
		json_arr_begin(&j);
		api_json_errors(&j, &errs, 0);
		json_arr_end(&j);
	}
	json_obj_end(&j);
	registry_errors_clear(&errs);
	api_reply_json(req, rc == 0 ? HTTP_OK : HTTP_BADREQUEST, buf, &j);
}

static void route_metrics(struct api *api, struct evhttp_request *req)
{
	struct dns_server_stats server;
	struct dns_stats queries;
	struct daemon_reload_stats reloads;
	struct daemon_notify_stats notify;
	struct health_counters probes;
	struct metrics_input in = {0};
	struct evbuffer *buf = evbuffer_new();

	if (!buf) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	daemon_dns_stats(api->d, &server);
	daemon_reload_stats(api->d, &reloads);
	health_get_counters(daemon_health(api->d), &probes);
	in.version = PACKAGE_VERSION;
	in.started_ms = daemon_started_ms(api->d);
	in.server = &server;
	if (daemon_dns_query_stats(api->d, &queries) == 0)
		in.queries = &queries;
	in.reloads = &reloads;
	in.probes = &probes;
	in.reg = daemon_registry(api->d);
	in.health = daemon_health(api->d);
	in.serial = dns_table_serial(daemon_table(api->d));
	daemon_notify_stats(api->d, &notify);
	in.notify = &notify;
	if (metrics_write(buf, &in) < 0) {
		evbuffer_free(buf);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	reply_text(req, HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf);
	evbuffer_free(buf);
}

/* Compares in time that depends only on the token's length, not on where
 * the first difference is. */
static int token_ok(const struct api *api, const char *header)
{
	const char *given;
	size_t len;
	unsigned diff;

	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	given = header + 7;
	while (*given == ' ')
		given++;
	len = strlen(given);
	diff = len != api->token_len;
	for (size_t i = 0; i < api->token_len; i++)
		diff |= (unsigned char)api->token[i] ^ (unsigned char)(i < len ? given[i] : 0);
	return diff == 0;
}

/* 1 if cmd is in allow, a list like "GET, HEAD, PUT" (GET implies HEAD). */
static int method_allowed(enum evhttp_cmd_type cmd, const char *allow)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return strstr(allow, "GET") != NULL;
	case EVHTTP_REQ_POST:
		return strstr(allow, "POST") != NULL;
	case EVHTTP_REQ_PUT:
		return strstr(allow, "PUT") != NULL;
	case EVHTTP_REQ_DELETE:
		return strstr(allow, "DELETE") != NULL;
	default:
		return 0;
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *name = NULL, *allow;
	int mutating = cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_DELETE || cmd == EVHTTP_REQ_POST;

	if (!path) {
		api_reply_error(req, HTTP_BADREQUEST, "bad request URI");
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/v1/status") == 0 ||
	    strcmp(path, "/v1/events") == 0) {
		allow = "GET, HEAD";
	} else if (strcmp(path, "/healthz") == 0) {
		allow = "GET, HEAD";
	} else if (strcmp(path, "/metrics") == 0) {
		allow = "GET, HEAD";
	} else if (strcmp(path, "/v1/reload") == 0) {
		allow = "POST";
	} else if (strcmp(path, "/v1/services") == 0 || strcmp(path, "/v1/services/") == 0) {
		allow = "GET, HEAD";
	} else if (strncmp(path, "/v1/services/", 13) == 0 && !strchr(path + 13, '/')) {
		name = path + 13;
		allow = "GET, HEAD, PUT, DELETE";
	} else {
		api_reply_error(req, HTTP_NOTFOUND, "no such resource: %s", path);
		return;
	}
	if (!method_allowed(cmd, allow)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		api_reply_error(req, 405, "method not allowed on %s (allowed: %s)", path, allow);
		return;
	}
	if (mutating && api->token &&
	    !token_ok(api,
	              evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"srvd\"");
		api_reply_error(req, 401, "a valid bearer token is required");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		struct evbuffer *buf = evbuffer_new();
		if (!buf) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		evbuffer_add(buf, "ok\n", 3);
		reply_text(req, HTTP_OK, "text/plain; charset=utf-8", buf);
		evbuffer_free(buf);
	} else if (strcmp(path, "/metrics") == 0) {
		route_metrics(api, req);
	} else if (strcmp(path, "/") == 0) {
		api_status_page(req);
	} else if (strcmp(path, "/v1/status") == 0) {
		api_status_get(api, req);
	} else if (strcmp(path, "/v1/events") == 0) {
		api_events_get(api, req);
	} else if (strcmp(path, "/v1/reload") == 0) {
		route_reload(api, req);
	} else if (cmd == EVHTTP_REQ_PUT) {
		api_services_put(api, req, name);
	} else if (cmd == EVHTTP_REQ_DELETE) {
		api_services_delete(api, req, name);
	} else {
		api_services_get(api, req, name);
	}
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

/* Out of descriptors (EMFILE): the listening socket stays readable, and
 * without an error callback libevent retries and warns in a busy loop.
 * Pause accepting for a second instead, as dns/tcp.c does. (The callback's
 * argument is evhttp's, hence the one-shot timer on the listener itself;
 * it cannot outlive the loop, which api_free() follows.) */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	const struct timeval pause = {1, 0};

	log_warn("api: accept: %s; pausing for 1 s",
	         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lev);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT, on_accept_retry, lev,
	                    &pause) < 0)
		evconnlistener_enable(lev);
}

int api_create(struct event_base *base, struct daemon *d, const char *listen, const char *token,
               struct api **out, char *err, size_t errlen)
{
	struct api *api = calloc(1, sizeof(*api));
	struct reg_listen la = {.text = NULL};
	struct evconnlistener *lev = NULL;
	struct sockaddr_storage bound = {0};
	socklen_t blen = sizeof(bound);
	char text[64];

	*out = NULL;
	if (!api)
		goto nomem;
	api->base = base;
	api->d = d;
	if (token && token[0]) {
		if (!(api->token = strdup(token)))
			goto nomem;
		api->token_len = strlen(token);
	}
	if (registry_parse_listen(listen, &la) < 0) {
		snprintf(err, errlen, "api: bad listen address \"%s\"", listen);
		goto fail;
	}
	if (!(api->http = evhttp_new(base)))
		goto nomem;
	lev = evconnlistener_new_bind(
	    base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&la.addr, (int)la.addr_len);
	if (!lev) {
		snprintf(err, errlen, "api: cannot bind %s: %s", listen, strerror(errno));
		goto fail;
	}
	if (!evhttp_bind_listener(api->http, lev)) {
		evconnlistener_free(lev);
		goto nomem;
	}
	evconnlistener_set_error_cb(lev, on_accept_error);
	/* lingering close reads an oversized body before the 413, so the client sees it */
	evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_body_size(api->http, API_MAX_BODY);
	evhttp_set_max_headers_size(api->http, 16 * 1024);
	evhttp_set_timeout(api->http, 30);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_POST);
	evhttp_set_gencb(api->http, on_request, api);
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&bound, &blen) == 0)
		dns_server_format_addr((struct sockaddr *)&bound, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", listen);
	log_info("api listening on %s%s", text, api->token ? " (token required for changes)" : "");
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
	if (api->http)
		evhttp_free(api->http);
	free(api->token);
	free(api);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* api_int.h: what api.c (routing, auth, small routes), services.c (the
 * /v1/services routes), status.c (status page, /v1/status, /v1/events),
 * watch.c (blocking queries, the event stream), sd.c (Prometheus HTTP SD)
 * and consul.c (the Consul-compatible reads) share; not for other modules. */
#ifndef SRVD_API_INT_H
#define SRVD_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/http.h"

struct event;
struct evbuffer;
struct json;
struct reg_errors;
struct registry;
struct api_waiter;
struct api_svc_sum;

#define API_ARG_MAX         256    /* a path segment a route's `*` matched */
#define API_WAIT_DEFAULT_MS 300000 /* a blocking query's wait without ?wait= (Consul's) */
#define API_WAIT_MAX_MS     600000 /* the longest ?wait= (Consul's); streams end there too */
#define API_STREAM_BEAT_MS  15000  /* a comment line to idle event streams */
#define API_STREAM_RETRY_MS 2000   /* `retry:` for EventSource after a stream ends */

struct api {
	struct event_base *base;
	struct api_ops ops;
	struct http_server *http;
	char *token;
	size_t token_len;
	char *hb_token; /* server.heartbeat_token, or NULL */
	size_t hb_token_len;
	/* watch.c: requests that wait for a change, and what they were told */
	struct api_waiter *waiters;
	size_t n_streams;
	struct event *ev_change;   /* the daemon said something changed: next loop turn */
	struct event *ev_beat;     /* keep-alive comments while streams are open */
	struct http_req *resuming; /* a woken blocking query, being answered */
	uint32_t serial_seen;
	uint64_t events_seen; /* health_events_total() told already */
	/* while streams are open: the services the streams were last told of
	 * (to name what a reload changed), and the same sorted by name */
	struct api_svc_sum *sums;
	const struct api_svc_sum **sums_by_name;
	size_t n_sums;
};

/* A route's handler; arg is the path segment a `*` of its pattern matched,
 * or NULL. */
typedef void (*api_route_fn)(struct api *api, struct http_req *req, const char *arg);

/* --- what discovery shows of an instance (services.c): the one place that
 * says what counts as passing, so drain and maintenance plug in there --- */

/* 1 if instance inst of service svc (registry order) is in answers and so
 * counts as passing for discovery (Prometheus SD, Consul's Checks and
 * ?passing, the event stream), else 0. */
int api_inst_passing(const struct api *api, size_t svc, size_t inst);

/* "passing", or why not: "maintenance" (drained), "failing", "unchecked". */
const char *api_inst_health(const struct api *api, size_t svc, size_t inst);

/* --- blocking queries and the event stream (watch.c) --- */

enum api_index {
	API_INDEX_SRVD,   /* X-Srvd-Index */
	API_INDEX_CONSUL, /* X-Consul-Index, X-Consul-KnownLeader, X-Consul-LastContact */
};

/* The start of a read route that clients may block on: `?index=N&wait=D`.
 * Sets the index headers (the SOA serial) on the reply. Returns 0 to answer
 * now: no index, or another than the current one. Returns 1 when the
 * request waits (until the serial changes, or `wait`: fn runs again with
 * arg and answers, with the state then) or was answered (400 for a bad
 * parameter, 503 when too many wait). */
int api_block(struct api *api, struct http_req *req, api_route_fn fn, const char *arg,
              enum api_index style);

/* GET /v1/events?stream=1: text/event-stream until `wait` (default and
 * maximum as for blocking queries). */
void api_events_stream(struct api *api, struct http_req *req);

/* Called by api_create() and api_free(). init returns 0 or -1. */
int api_watch_init(struct api *api);
void api_watch_free(struct api *api);

/* The next key=VALUE of a query string (from *pos, NULL at first), the
 * value percent-decoded (and '+' as a space) into out (len bytes). Returns
 * 1, 0 when there is no more, or -1 for a bad escape, a NUL or a value
 * longer than out. */
int api_query_next(const char *query, const char *key, const char **pos, char *out, size_t len);

/* A wait ("30s", "500ms", "5m": Consul's Go client sends "120000ms") into
 * *ms: 0 means API_WAIT_DEFAULT_MS, more than API_WAIT_MAX_MS that. Returns
 * 0, or -1 if text is none of those. */
int api_parse_wait(const char *text, unsigned *ms);

/* A Prometheus label name: prefix, then key with every byte outside
 * [a-zA-Z0-9_] as '_' (Prometheus rejects a whole SD response over one
 * bad name), into out (len bytes, truncated). */
void api_label_name(const char *prefix, const char *key, char *out, size_t len);

/* Sends what j wrote into buf as application/json with status code, or 500
 * if j ran out of memory on the way. Frees buf. */
void api_reply_json(struct http_req *req, int code, struct evbuffer *buf, const struct json *j);

/* Sends buf (freed) with status code and content type; NULL buf: 500. */
void api_reply_buf(struct http_req *req, int code, const char *type, struct evbuffer *buf);

/* Sends {"errors": [{"message": msg}]} with status code. */
void api_reply_error(struct http_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes errs as the members of a JSON array of error objects. Lines from
 * a fragment check (in_body) get line and column relative to the body. */
void api_json_errors(struct json *j, const struct reg_errors *errs, int in_body);

/* Writes key and the RFC 3339 UTC time of a CLOCK_REALTIME ms value, or
 * null for 0. */
void api_json_time(struct json *j, const char *key, int64_t ms);

/* Writes the members of one health event: time, service, instance, from, to
 * and result (/v1/status's events and the event stream's "health"). */
struct health_event;
void api_json_event(struct json *j, const struct health_event *ev);

/* 1 if the query string has key with value "", "1" or "true" ("detail",
 * "detail=1"), else 0. */
int api_query_flag(struct http_req *req, const char *key);

/* Reloads through ops and sets *result to "ok" or "unchanged". Returns 0,
 * or -1 with the errors in errs. */
int api_reload(struct api *api, int full, struct reg_errors *errs, const char **result);

/* What ops reads, for the routes. */
const struct registry *api_registry(const struct api *api);
struct health *api_health(const struct api *api);
uint32_t api_serial(const struct api *api);
struct reg_source *api_source(const struct api *api);

/* The routes (api.c lists them in its table). */
void api_services_list(struct api *api, struct http_req *req, const char *arg);
void api_services_get(struct api *api, struct http_req *req, const char *name);
void api_services_put(struct api *api, struct http_req *req, const char *name);
void api_services_delete(struct api *api, struct http_req *req, const char *name);
/* arg: "SERVICE/INSTANCE" */
void api_instance_pass(struct api *api, struct http_req *req, const char *arg);
void api_instance_fail(struct api *api, struct http_req *req, const char *arg);
void api_instance_delete(struct api *api, struct http_req *req, const char *arg);
void api_instance_put(struct api *api, struct http_req *req, const char *arg);
void api_instance_heartbeat(struct api *api, struct http_req *req, const char *arg);
/* arg: "SERVICE" or "SERVICE/INSTANCE" */
void api_maintenance_put(struct api *api, struct http_req *req, const char *arg);
void api_maintenance_delete(struct api *api, struct http_req *req, const char *arg);
void api_status_page(struct api *api, struct http_req *req, const char *arg);
void api_status_get(struct api *api, struct http_req *req, const char *arg);
void api_events_get(struct api *api, struct http_req *req, const char *arg);
void api_sd_prometheus(struct api *api, struct http_req *req, const char *arg);
void api_consul_services(struct api *api, struct http_req *req, const char *arg);
void api_consul_catalog_service(struct api *api, struct http_req *req, const char *name);
void api_consul_health_service(struct api *api, struct http_req *req, const char *name);
void api_consul_agent_self(struct api *api, struct http_req *req, const char *arg);

#endif

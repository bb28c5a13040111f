/* SPDX-License-Identifier: BSD-3-Clause */
/* api_int.h: what api.c (routing, auth, small routes), services.c (the
 * /v1/services routes) and status.c (status page, /v1/status, /v1/events)
 * share; not for other modules. */
#ifndef SRVD_API_INT_H
#define SRVD_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/http.h"

struct evbuffer;
struct json;
struct reg_errors;

struct api {
	struct event_base *base;
	struct api_ops ops;
	struct http_server *http;
	char *token;
	size_t token_len;
};

/* A route's handler; arg is the path segment a `*` of its pattern matched,
 * or NULL. */
typedef void (*api_route_fn)(struct api *api, struct http_req *req, const char *arg);

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

/* 1 if the query string has key with value "", "1" or "true" ("detail",
 * "detail=1"), else 0. */
int api_query_flag(struct http_req *req, const char *key);

/* Reloads through ops and sets *result to "ok" or "unchanged". Returns 0,
 * or -1 with the errors in errs. */
int api_reload(struct api *api, struct reg_errors *errs, const char **result);

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
void api_status_page(struct api *api, struct http_req *req, const char *arg);
void api_status_get(struct api *api, struct http_req *req, const char *arg);
void api_events_get(struct api *api, struct http_req *req, const char *arg);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* api_int.h: what api.c (server, routing, auth) and services.c (the
 * /v1/services routes) share; not for other modules. */
#ifndef SRVD_API_INT_H
#define SRVD_API_INT_H

#include <stddef.h>
#include <stdint.h>

struct evhttp_request;
struct json;
struct daemon;
struct reg_errors;

#define API_MAX_BODY      (1024 * 1024)
#define API_HTTP_CONFLICT 409 /* not among libevent's HTTP_* codes */

struct api {
	struct event_base *base;
	struct daemon *d;
	struct evhttp *http;
	char *token;
	size_t token_len;
};

/* Sends the document j wrote into buf (buf taken over) as application/json
 * with status code, or 500 if j ran out of memory on the way. */
void api_reply_json(struct evhttp_request *req, int code, struct evbuffer *buf,
                    const struct json *j);

/* Sends {"errors": [{"message": msg}]} with status code. */
void api_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes errs as the members of a JSON array of error objects. Lines from
 * a fragment check (in_body) get line and column relative to the body. */
void api_json_errors(struct json *j, const struct reg_errors *errs, int in_body);

/* Writes key and the RFC 3339 UTC time of a CLOCK_REALTIME ms value, or
 * null for 0. */
void api_json_time(struct json *j, const char *key, int64_t ms);

/* The /v1/services routes; name is NULL for the collection, which takes
 * ?detail=1 to include every service's check and instances. */
void api_services_get(struct api *api, struct evhttp_request *req, const char *name);
void api_services_put(struct api *api, struct evhttp_request *req, const char *name);
void api_services_delete(struct api *api, struct evhttp_request *req, const char *name);

/* Reloads through the daemon and sets *result to "ok" or "unchanged".
 * Returns daemon_reload()'s result. */
int api_reload(struct api *api, struct reg_errors *errs, const char **result);

/* status.c: GET / (the status page, HTML) and GET /v1/status (the header
 * figures as JSON: serial, uptime, query and rcode counters, reloads). */
void api_status_page(struct evhttp_request *req);
void api_status_get(struct api *api, struct evhttp_request *req);
/* GET /v1/events: the last HEALTH_EVENTS_MAX instance status changes, newest first. */
void api_events_get(struct api *api, struct evhttp_request *req);

#endif

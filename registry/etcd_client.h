/* SPDX-License-Identifier: BSD-3-Clause */
/* etcd_client.h: a small client of etcd v3's JSON gateway (etcd 3.4) on
 * libevent's evhttp, for the etcd registry source (source_etcd.c).
 *
 * Every request is a POST of a JSON body to one member; a member that does
 * not answer within the timeout, or answers 5xx, is left for the next one
 * (failover across the endpoints, in order, starting from the last that
 * worked). Replies are parsed with the registry's YAML reader (JSON is
 * YAML). The gateway's quirks are the caller's: 64-bit numbers come as
 * strings, zero values are omitted, stream messages are wrapped in
 * "result". A streaming request (watch) reads one JSON message a line.
 */
#ifndef SRVD_REGISTRY_ETCD_CLIENT_H
#define SRVD_REGISTRY_ETCD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "registry/ynode.h"

struct event_base;
struct etcd_client;
struct etcd_req;

/* A reply: status 200 with root the parsed JSON object, or a failure with
 * a reason in err (status 0: no member answered). */
struct etcd_reply {
	int status;
	const struct ynode *root;
	struct ydoc *doc; /* owns root; freed after the callback */
	char err[256];
};

/* r->doc may be taken (set to NULL); else it goes after the call */
typedef void (*etcd_reply_fn)(void *arg, struct etcd_reply *r);
/* One message of a stream (root: the parsed line). */
typedef void (*etcd_line_fn)(void *arg, const struct ynode *root);
/* The stream ended (why: a reason for the log). */
typedef void (*etcd_end_fn)(void *arg, const char *why);

/* Endpoints "http://HOST:PORT" (copied); base borrowed. Returns 0, or -1
 * with a message in err (an endpoint that does not parse). */
int etcd_client_create(struct event_base *base, char *const *endpoints, size_t n,
                       uint32_t timeout_ms, struct etcd_client **out, char *err, size_t errlen);
/* TLS for https:// endpoints: members verified against ca (NULL: the
 * system's CAs) and the endpoint's address or name; cert and key (may be
 * NULL) for members that ask for a client certificate. Returns 0, or -1
 * with a message in err. */
int etcd_client_tls(struct etcd_client *c, const char *ca, const char *cert, const char *key,
                    char *err, size_t errlen);
/* etcd authentication: a token from /v3/auth/authenticate goes with every
 * request, fetched again when etcd answers 401. Returns 0 or -1 (memory). */
int etcd_client_auth(struct etcd_client *c, const char *user, const char *password);
/* Cancels what is in flight (no callback runs). Accepts NULL. */
void etcd_client_free(struct etcd_client *c);
/* The endpoint requests go to first now. */
const char *etcd_client_endpoint(const struct etcd_client *c);
/* Moves on to the next endpoint (a stream on this one failed). */
void etcd_client_next(struct etcd_client *c);

/* POSTs body to path, failing over; fn runs once, later, on the client's
 * base. Returns the request (for etcd_req_cancel()) or NULL (out of
 * memory: fn does not run). */
struct etcd_req *etcd_call(struct etcd_client *c, const char *path, const char *body,
                           etcd_reply_fn fn, void *arg);
/* The same, waiting for the reply on a private event base (the main loop
 * does not run meanwhile). r->doc is the caller's to free. */
void etcd_call_sync(struct etcd_client *c, const char *path, const char *body,
                    struct etcd_reply *r);
/* A streaming POST to the current endpoint only (no failover: the caller
 * resumes where it was), with `Grpc-Metadata-hasleader: true` so that a
 * member without quorum ends the stream instead of staying silent. idle_ms:
 * a stream silent that long ends (0: never). */
struct etcd_req *etcd_stream(struct etcd_client *c, const char *path, const char *body,
                             uint32_t idle_ms, etcd_line_fn on_line, etcd_end_fn on_end, void *arg);
/* Stops a request; its callbacks do not run. Accepts NULL. */
void etcd_req_cancel(struct etcd_req *q);

/* JSON helpers for the gateway's replies. */
/* The value of key in map node, or NULL. */
const struct ynode *etcd_get(const struct ynode *map, const char *key);
/* A 64-bit number sent as a string (or number); missing = 0 (omitted zero). */
int64_t etcd_int(const struct ynode *map, const char *key);
/* Base64 of len bytes into a new string, or NULL. */
char *etcd_b64(const char *data, size_t len);
/* Decodes base64 text into a new NUL-terminated buffer (*len bytes), or
 * NULL if it is not base64 (or out of memory). */
char *etcd_unb64(const char *text, size_t *len);
/* A JSON string literal of text (quotes included), or NULL. */
char *etcd_json_str(const char *text);

#endif

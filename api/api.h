/* SPDX-License-Identifier: BSD-3-Clause */
/* api.h: the control API and metrics over HTTP (README "The control API"),
 * on the main thread's event base (api/http.c): GET /v1/services[/NAME],
 * PUT/DELETE /v1/services/NAME, POST /v1/reload, GET /healthz, GET /metrics,
 * the status page, and discovery over HTTP (README "Discovery over HTTP"):
 * blocking queries, the event stream, Prometheus HTTP SD, Consul's reads.
 *
 * The API knows nothing of the daemon: whoever creates it (daemon/main.c)
 * hands it struct api_ops, what it reads of the running server and the one
 * thing it asks of it, a reload.
 */
#ifndef SRVD_API_H
#define SRVD_API_H

#include <stddef.h>
#include <stdint.h>

#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "dns/transfer/notify.h"

struct event_base;
struct registry;
struct reg_errors;
struct reg_source;
struct health;
struct api;

/* The running server's figures the API shows (/metrics, /v1/status). */
struct api_figures {
	int64_t started_ms; /* CLOCK_REALTIME, when it started serving */
	struct dns_server_stats dns;
	struct dns_stats queries; /* by transport and qtype, latency ... */
	int have_queries;         /* 0 before the workers exist */
	/* reloads */
	uint64_t reloads_ok, reloads_unchanged, reloads_failed;
	int64_t reload_ok_ms, reload_fail_ms; /* CLOCK_REALTIME, 0 = never */
	char reload_error[1024];              /* first error of the last failed reload */
	struct dns_notify_stats notify;       /* NOTIFY to server.transfer.notify */
};

/* Called on the main thread; what they return is borrowed and valid until
 * the next reload. */
struct api_ops {
	void *ctx;
	const struct registry *(*registry)(void *ctx);
	struct health *(*health)(void *ctx); /* indexed like the registry */
	uint32_t (*serial)(void *ctx);       /* SOA serial of the service zone */
	void (*figures)(void *ctx, struct api_figures *out);
	/* Where the registry comes from: PUT and DELETE write through it. */
	struct reg_source *(*source)(void *ctx);
	/* Reloads the registry (trigger "api"): what the source saw change
	 * (a write), or every file (full: POST /v1/reload, as SIGHUP). Returns
	 * 0 and sets *changed (0: nothing that alters an answer changed), or -1
	 * with the errors in errs. */
	int (*reload)(void *ctx, int full, struct reg_errors *errs, int *changed);
	/* Registers fn (NULL: none), to be called on the main thread after the
	 * serial or an instance's health status changed: blocking queries and
	 * the event stream wait for it. NULL: they only end at their wait. */
	void (*watch)(void *ctx, void (*fn)(void *arg), void *arg);
};

/* Starts listening on `listen` ("127.0.0.1:8053", "[::1]:8053"; port 0 picks
 * one, logged as `api listening on ADDR:PORT`). Mutating calls need
 * `Authorization: Bearer TOKEN` when token is non-NULL; heartbeats (PUT
 * .../instances/I/pass and /fail) take token or heartbeat_token when either
 * is set, and heartbeat_token opens nothing else. Borrows base, which
 * must outlive the API; copies ops, listen and the tokens. Returns 0 and
 * sets *out (caller frees with api_free()), or -1 with a message in err. */
int api_create(struct event_base *base, const struct api_ops *ops, const char *listen,
               const char *token, const char *heartbeat_token, struct api **out, char *err,
               size_t errlen);

/* Stops listening and frees; accepts NULL. */
void api_free(struct api *api);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* status.c: the status page (GET /, one self-contained HTML file compiled
 * in from api/status.html) and the figures its header polls (GET /v1/status).
 *
 * The page reads /v1/status and /v1/services?detail=1 and builds its DOM from
 * text nodes only, so nothing from the registry or a backend is ever parsed
 * as HTML; the Content-Security-Policy below backs that up by letting the
 * page load nothing and talk to nobody but this API.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "dns/listen/server.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

void api_json_event(struct json *j, const struct health_event *ev)
{
	api_json_time(j, "time", ev->time_ms);
	json_kstr(j, "service", ev->service);
	json_kstr(j, "instance", ev->instance);
	json_kstr(j, "from", health_status_name(ev->from));
	json_kstr(j, "to", health_status_name(ev->to));
	json_kstr(j, "result", ev->result);
}

/* STATUS_HTML, generated from api/status.html by api/local.mk */
#include "api/status_html.h"

/* Same names as /metrics; the rest go to "other" so the mix adds up. */
static const char *const rcode_names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                          "NXDOMAIN", "NOTIMP",  "REFUSED"};
#define RCODE_BADVERS 16

void api_status_page(struct api *api, struct http_req *req, const char *arg)
{
	struct evbuffer *buf = evbuffer_new();

	if (!buf ||
	    evbuffer_add_reference(buf, STATUS_HTML, sizeof(STATUS_HTML) - 1, NULL, NULL) < 0) {
		if (buf)
			evbuffer_free(buf);
		http_reply(req, 500, NULL, NULL);
		return;
	}
	/* the page is part of the binary: revalidate so an upgrade shows at once */
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_add_header(req, "Referrer-Policy", "no-referrer");
	http_add_header(req, "X-Frame-Options", "DENY");
	http_add_header(req, "Content-Security-Policy",
	                "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; "
	                "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
	                "form-action 'none'; frame-ancestors 'none'");
	api_reply_buf(req, 200, "text/html; charset=utf-8", buf);
}

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void json_rcodes(struct json *j, const struct dns_server_stats *s)
{
	uint64_t other = 0;

	json_key(j, "responses");
	json_obj_begin(j);
	for (unsigned rc = 0; rc < DNS_SERVER_RCODES; rc++) {
		if (rc < sizeof(rcode_names) / sizeof(rcode_names[0]))
			json_kuint(j, rcode_names[rc], s->rcode[rc]);
		else if (rc != RCODE_BADVERS)
			other += s->rcode[rc];
	}
	json_kuint(j, "BADVERS", s->rcode[RCODE_BADVERS]);
	json_kuint(j, "other", other);
	json_obj_end(j);
}

/* Instances by state over the whole registry. */
static void json_instance_counts(struct json *j, const struct api *api)
{
	const struct registry *reg = api_registry(api);
	struct health *h = api_health(api);
	size_t n = 0, by_state[3] = {0, 0, 0}, drained = 0;

	for (size_t i = 0; i < reg->n_services; i++)
		for (size_t k = 0; k < reg->services[i]->n_instances; k++) {
			struct health_inst *hi = health_instance(h, i, k);
			unsigned st = hi ? (unsigned)atomic_load(&hi->status) : HEALTH_UNCHECKED;

			n++;
			/* passing means passing and not drained */
			if (hi && atomic_load(&hi->drained)) {
				drained++;
				if (st == HEALTH_PASSING)
					continue;
			}
			if (st < 3)
				by_state[st]++;
		}
	json_kuint(j, "services", reg->n_services);
	json_kuint(j, "instances", n);
	json_kuint(j, "passing", by_state[HEALTH_PASSING]);
	json_kuint(j, "failing", by_state[HEALTH_FAILING]);
	json_kuint(j, "unchecked", by_state[HEALTH_UNCHECKED]);
	json_kuint(j, "drained", drained); /* in maintenance, whatever their state */
}

/* Sends a document built into buf as j; the figures are live, so no cache
 * may keep them. Frees buf. */
static void reply_live(struct http_req *req, struct evbuffer *buf, const struct json *j)
{
	http_add_header(req, "Cache-Control", "no-store");
	api_reply_json(req, 200, buf, j);
}

void api_events_get(struct api *api, struct http_req *req, const char *arg)
{
	static struct health_event ev[HEALTH_EVENTS_MAX]; /* main thread only */
	struct evbuffer *buf = evbuffer_new();
	size_t n = health_get_events(api_health(api), ev, HEALTH_EVENTS_MAX);
	struct json j;

	if (api_query_flag(req, "stream")) {
		if (buf)
			evbuffer_free(buf);
		api_events_stream(api, req);
		return;
	}
	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	json_init(&j, buf);
	json_obj_begin(&j);
	json_key(&j, "events");
	json_arr_begin(&j);
	for (size_t i = n; i-- > 0;) { /* newest first */
		json_obj_begin(&j);
		api_json_event(&j, &ev[i]);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	reply_live(req, buf, &j);
}

/* "registry_source": a shared store's state (etcd), when there is one: in
 * touch or not, the revision, the keys left out and the conflicts. */
static void json_source(struct json *j, struct api *api)
{
	struct reg_source_report r;

	if (reg_source_report(api_source(api), &r) < 0)
		return;
	json_key(j, "registry_source");
	json_obj_begin(j);
	json_kstr(j, "name", r.name);
	json_kbool(j, "up", r.up);
	json_kbool(j, "from_cache", r.from_cache);
	json_kuint(j, "revision", r.revision > 0 ? (uint64_t)r.revision : 0);
	json_kstr(j, "endpoint", r.endpoint);
	json_kuint(j, "rejected_total", r.rejected);
	json_key(j, "rejected");
	json_arr_begin(j);
	for (size_t i = 0; i < r.n_bad; i++)
		json_str(j, r.bad[i]);
	json_arr_end(j);
	json_key(j, "conflicts");
	json_arr_begin(j);
	for (size_t i = 0; i < r.n_conflicts; i++)
		json_str(j, r.conflicts[i]);
	json_arr_end(j);
	json_obj_end(j);
}

void api_status_get(struct api *api, struct http_req *req, const char *arg)
{
	struct api_figures fig;
	struct evbuffer *buf = evbuffer_new();
	int64_t now = now_ms(), started;
	struct json j;

	if (!buf) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	api->ops.figures(api->ops.ctx, &fig);
	started = fig.started_ms;
	json_init(&j, buf);
	json_obj_begin(&j);
	json_kstr(&j, "version", PACKAGE_VERSION);
	api_json_time(&j, "now", now);
	api_json_time(&j, "started", started);
	json_kuint(&j, "uptime_ms", now > started ? (uint64_t)(now - started) : 0);
	json_kuint(&j, "serial", api_serial(api));
	json_instance_counts(&j, api);
	json_key(&j, "queries");
	json_obj_begin(&j);
	json_kuint(&j, "udp", fig.dns.queries_udp);
	json_kuint(&j, "tcp", fig.dns.queries_tcp);
	json_obj_end(&j);
	json_rcodes(&j, &fig.dns);
	json_key(&j, "reloads");
	json_obj_begin(&j);
	json_kuint(&j, "ok", fig.reloads_ok);
	json_kuint(&j, "unchanged", fig.reloads_unchanged);
	json_kuint(&j, "failed", fig.reloads_failed);
	api_json_time(&j, "last_success", fig.reload_ok_ms);
	api_json_time(&j, "last_failure", fig.reload_fail_ms);
	json_key(&j, "last_error");
	json_str(&j, fig.reload_error[0] ? fig.reload_error : NULL);
	json_obj_end(&j);
	json_source(&j, api);
	json_obj_end(&j);
	reply_live(req, buf, &j);
}

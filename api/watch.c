/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.c: requests that wait for a change (README "Discovery over HTTP"):
 * blocking queries (`?index=N&wait=D` on the read routes, Consul's
 * semantics with the SOA serial as the index) and the event stream
 * (`GET /v1/events?stream=1`, text/event-stream).
 *
 * The daemon tells the API through api_ops.watch that the serial or an
 * instance's health status changed; that only makes ev_change active, so
 * the waiters are answered on the next turn of the loop, after whatever
 * made the change (a probe result, a reload in the middle of a PUT) is
 * done, and a burst of changes costs one pass. A woken blocking query runs
 * its route again and so answers with the state of that moment.
 *
 * Only open streams need to know what a reload changed: without one no
 * service summaries are kept and a change costs no pass over the registry.
 * With one, a reload's diff costs O(services log services).
 *
 * Everything waiting sits in http.c's waiting pool (max_waiting, 503
 * beyond) with a deadline (`wait`, API_WAIT_DEFAULT_MS, at most
 * API_WAIT_MAX_MS); a stream is also bounded by what it may leave unsent
 * (http.c). All of it runs on the main thread; the DNS workers never see it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/api_int.h"
#include "api/json.h"
#include "common/log.h"
#include "health/health.h"
#include "registry/registry.h"

struct api_waiter {
	struct api *api;
	struct http_req *req;
	struct event *timer; /* the wait's deadline */
	int stream;          /* 1: an event stream, else a blocking query */
	uint64_t index;      /* blocking query: the index the client has */
	api_route_fn fn;     /* blocking query: its route, run again to answer */
	char arg[API_ARG_MAX];
	int has_arg;
	struct api_waiter *prev, *next;
};

/* A service as the event stream last saw it, to name what a reload changed. */
struct api_svc_sum {
	char *name;
	uint64_t hash;
};

/* --- query parameters --- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_query_next(const char *query, const char *key, const char **pos, char *out, size_t len)
{
	size_t n = strlen(key);

	for (const char *p = *pos ? *pos : query; p && *p;) {
		const char *end = strchr(p, '&'), *v;
		size_t k = 0;

		if (!end)
			end = p + strlen(p);
		*pos = *end ? end + 1 : end;
		if (strncmp(p, key, n) != 0 || (p + n != end && p[n] != '=')) {
			p = *pos;
			continue;
		}
		/* percent-decoding, '+' as a space (form encoding, as Python's
		 * urlencode() writes it) */
		for (v = p + n + (p + n != end); v < end; v++) {
			int c = (unsigned char)*v, hi, lo;

			if (c == '%') {
				if (end - v < 3)
					return -1;
				hi = hexval(v[1]);
				lo = hexval(v[2]);
				if (hi < 0 || lo < 0)
					return -1;
				c = hi * 16 + lo;
				v += 2;
			} else if (c == '+') {
				c = ' ';
			}
			if (c == 0 || k + 1 >= len)
				return -1;
			out[k++] = (char)c;
		}
		out[k] = '\0';
		return 1;
	}
	return 0;
}

int api_parse_wait(const char *text, unsigned *ms)
{
	unsigned long long v = 0, unit;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned long long)(*p++ - '0');
		if (v > 1000000000ULL) /* far beyond any bound: clamped below */
			v = 1000000000ULL;
	}
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else
		return -1;
	v *= unit;
	/* Consul: no wait (0) means the default; more than the maximum, the maximum */
	*ms = v == 0 ? API_WAIT_DEFAULT_MS : v > API_WAIT_MAX_MS ? API_WAIT_MAX_MS : (unsigned)v;
	return 0;
}

/* ?wait=D into *ms (the default without one). Returns 0, or -1 (the
 * caller answers 400 with WAIT_ERROR). */
static int wait_param(struct http_req *req, unsigned *ms)
{
	const char *pos = NULL;
	char v[32];
	int r = api_query_next(http_req_query(req), "wait", &pos, v, sizeof(v));

	*ms = API_WAIT_DEFAULT_MS;
	if (r == 0)
		return 0;
	return r < 0 ? -1 : api_parse_wait(v, ms);
}

#define WAIT_ERROR "wait: expected a duration such as 30s, 500ms or 5m (at most 10m)"

/* ?index=N into *index (0 without one). Returns 0 or -1. */
static int index_param(struct http_req *req, uint64_t *index)
{
	const char *pos = NULL;
	unsigned long long n;
	char v[32], *end;
	int r = api_query_next(http_req_query(req), "index", &pos, v, sizeof(v));

	*index = 0;
	if (r == 0)
		return 0;
	if (r < 0 || v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno)
		return -1;
	*index = n;
	return 0;
}

/* --- the waiters --- */

static void free_sums(struct api *api);

static void unlink_waiter(struct api_waiter *w)
{
	struct api *api = w->api;

	if (w->prev)
		w->prev->next = w->next;
	else
		api->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	if (w->stream && --api->n_streams == 0) {
		event_del(api->ev_beat);
		free_sums(api); /* the next first stream takes them afresh */
	}
}

static void free_waiter(struct api_waiter *w)
{
	unlink_waiter(w);
	if (w->timer)
		event_free(w->timer);
	free(w);
}

/* The client went away while waiting: req is gone. */
static void on_waiter_close(struct http_req *req, void *arg)
{
	(void)req;
	free_waiter(arg);
}

/* A blocking query's wait is over (a change, or its deadline): its route
 * answers with the state now. */
static void answer_waiter(struct api_waiter *w)
{
	struct api *api = w->api;
	struct http_req *req = w->req;
	api_route_fn fn = w->fn;
	char arg[API_ARG_MAX];
	int has_arg = w->has_arg;

	memcpy(arg, w->arg, sizeof(arg));
	free_waiter(w);
	api->resuming = req;
	fn(api, req, has_arg ? arg : NULL);
	api->resuming = NULL;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct api_waiter *w = arg;

	(void)fd;
	(void)what;
	if (w->stream) {
		struct http_req *req = w->req;

		free_waiter(w);
		http_stream_end(req); /* the client reconnects (retry:) */
		return;
	}
	answer_waiter(w);
}

/* Parks req with a deadline of wait_ms; returns the waiter, or NULL
 * (then answer with refuse()). */
static struct api_waiter *park(struct api *api, struct http_req *req, unsigned wait_ms)
{
	struct api_waiter *w = calloc(1, sizeof(*w));
	const struct timeval tv = {wait_ms / 1000, (suseconds_t)(wait_ms % 1000) * 1000};

	if (!w || !(w->timer = evtimer_new(api->base, on_deadline, w)) ||
	    http_req_wait(req, on_waiter_close, w) < 0) {
		if (w && w->timer)
			event_free(w->timer);
		free(w);
		return NULL;
	}
	w->api = api;
	w->req = req;
	w->next = api->waiters;
	if (api->waiters)
		api->waiters->prev = w;
	api->waiters = w;
	evtimer_add(w->timer, &tv);
	return w;
}

/* The answer when park() failed: the waiting pool is full (or, rarely, out
 * of memory): the client tries again shortly rather than spin. */
static void refuse(struct http_req *req)
{
	http_add_header(req, "Retry-After", "1");
	api_reply_error(req, 503, "too many requests wait for a change (at most %d); try again",
	                HTTP_MAX_WAITING);
}

/* The index headers, on every reply of a route that can block. */
static void index_headers(struct http_req *req, enum api_index style, uint32_t serial)
{
	char text[16];

	snprintf(text, sizeof(text), "%u", serial);
	switch (style) {
	case API_INDEX_SRVD:
		http_add_header(req, "X-Srvd-Index", text);
		break;
	case API_INDEX_CONSUL:
		/* Consul's Go client rejects a reply without LastContact */
		http_add_header(req, "X-Consul-Index", text);
		http_add_header(req, "X-Consul-KnownLeader", "true");
		http_add_header(req, "X-Consul-LastContact", "0");
		break;
	}
}

int api_block(struct api *api, struct http_req *req, api_route_fn fn, const char *arg,
              enum api_index style)
{
	uint32_t serial = api_serial(api);
	uint64_t index;
	unsigned wait_ms;
	struct api_waiter *w;

	if (api->resuming == req) {
		index_headers(req, style, serial);
		return 0;
	}
	if (index_param(req, &index) < 0) {
		index_headers(req, style, serial);
		api_reply_error(req, 400, "index: expected a number (the X-%s-Index of a reply)",
		                style == API_INDEX_CONSUL ? "Consul" : "Srvd");
		return 1;
	}
	if (wait_param(req, &wait_ms) < 0) {
		index_headers(req, style, serial);
		api_reply_error(req, 400, WAIT_ERROR);
		return 1;
	}
	if (index == 0 || index != serial) {
		/* no index, or not the current one (older, or from another
		 * server or run): the state now, at once */
		index_headers(req, style, serial);
		return 0;
	}
	if (!(w = park(api, req, wait_ms))) {
		index_headers(req, style, serial);
		refuse(req);
		return 1;
	}
	w->index = index;
	w->fn = fn;
	if (arg) {
		snprintf(w->arg, sizeof(w->arg), "%s", arg);
		w->has_arg = 1;
	}
	return 1;
}

/* --- the event stream --- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s, strlen(s) + 1);
}

/* What a watcher sees of a service: its answers' data, not its check. */
static uint64_t service_hash(const struct reg_service *s)
{
	uint64_t h = fnv_str(1469598103934665603ULL, s->protocol);

	h = fnv(h, &s->port, sizeof(s->port));
	h = fnv(h, &s->policy, sizeof(s->policy));
	for (size_t t = 0; t < s->n_tags; t++)
		h = fnv_str(h, s->tags[t]);
	h = fnv(h, &s->check.type, sizeof(s->check.type));
	for (size_t k = 0; k < s->n_instances; k++) {
		const struct reg_instance *in = &s->instances[k];

		h = fnv_str(h, in->name);
		h = fnv(h, &in->addr.family, sizeof(in->addr.family));
		h = fnv(h, &in->addr.u, in->addr.family == AF_INET6 ? 16 : 4);
		for (size_t a = 1; a < in->n_addrs; a++) /* dual-stack: the others */
			h = fnv(h, &in->addrs[a], sizeof(in->addrs[a]));
		h = fnv(h, &in->port, sizeof(in->port));
		h = fnv(h, &in->weight, sizeof(in->weight));
		h = fnv(h, &in->priority, sizeof(in->priority));
		for (size_t t = 0; t < in->n_tags; t++)
			h = fnv_str(h, in->tags[t]);
	}
	return h;
}

static void free_sums(struct api *api)
{
	for (size_t i = 0; i < api->n_sums; i++)
		free(api->sums[i].name);
	free(api->sums);
	free(api->sums_by_name);
	api->sums = NULL;
	api->sums_by_name = NULL;
	api->n_sums = 0;
}

static int cmp_sum(const void *a, const void *b)
{
	return strcmp((*(const struct api_svc_sum *const *)a)->name,
	              (*(const struct api_svc_sum *const *)b)->name);
}

/* Takes the registry's services as the ones the streams have told of. */
static void take_sums(struct api *api, const struct registry *reg)
{
	size_t n = reg->n_services ? reg->n_services : 1;
	struct api_svc_sum *s = calloc(n, sizeof(*s));
	const struct api_svc_sum **by = malloc(n * sizeof(*by));

	free_sums(api);
	if (!s || !by) {
		free(s);
		free(by);
		return;
	}
	for (size_t i = 0; i < reg->n_services; i++) {
		s[i].name = strdup(reg->services[i]->name);
		s[i].hash = service_hash(reg->services[i]);
		if (!s[i].name)
			break;
		by[i] = &s[i];
		api->n_sums = i + 1;
	}
	qsort(by, api->n_sums, sizeof(*by), cmp_sum);
	api->sums = s;
	api->sums_by_name = by;
}

static const struct api_svc_sum *find_sum(const struct api *api, const char *name)
{
	const struct api_svc_sum key = {(char *)name, 0}, *k = &key, **f;

	if (!api->n_sums)
		return NULL;
	f = bsearch(&k, api->sums_by_name, api->n_sums, sizeof(*f), cmp_sum);
	return f ? *f : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long find_service(const struct registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n_services; i++)
		if (strcmp(reg->services[i]->name, name) == 0)
			return (long)i;
	return -1;
}

/* Appends one server-sent event: "event: NAME", the JSON j wrote into body
 * as its one data line, and the blank line that ends it. */
static void sse_event(struct evbuffer *out, const char *name, struct evbuffer *body)
{
	evbuffer_add_printf(out, "event: %s\ndata: ", name);
	evbuffer_add_buffer(out, body);
	evbuffer_add(out, "\n\n", 2);
}

/* "registry": the services a reload added, removed or changed, if any. */
static void registry_event(struct api *api, struct evbuffer *out, uint32_t serial)
{
	const struct registry *reg = api_registry(api);
	const char **names;
	struct evbuffer *b = evbuffer_new();
	struct json j;
	size_t n = 0;

	if (!b)
		return;
	json_init(&j, b);
	json_obj_begin(&j);
	json_kuint(&j, "serial", serial);
	json_key(&j, "added");
	json_arr_begin(&j);
	for (size_t i = 0; i < reg->n_services; i++)
		if (!find_sum(api, reg->services[i]->name) && ++n)
			json_str(&j, reg->services[i]->name);
	json_arr_end(&j);
	json_key(&j, "removed");
	json_arr_begin(&j);
	/* the registry's names, sorted: a reload must not cost services^2 */
	names = malloc((reg->n_services ? reg->n_services : 1) * sizeof(*names));
	for (size_t i = 0; names && i < reg->n_services; i++)
		names[i] = reg->services[i]->name;
	if (names)
		qsort(names, reg->n_services, sizeof(*names), cmp_str);
	for (size_t i = 0; i < api->n_sums; i++) {
		const char *key = api->sums[i].name;

		if ((names ? !bsearch(&key, names, reg->n_services, sizeof(*names), cmp_str)
		           : find_service(reg, key) < 0) &&
		    ++n)
			json_str(&j, key);
	}
	free(names);
	json_arr_end(&j);
	json_key(&j, "changed");
	json_arr_begin(&j);
	for (size_t i = 0; i < reg->n_services; i++) {
		const struct api_svc_sum *s = find_sum(api, reg->services[i]->name);

		if (s && s->hash != service_hash(reg->services[i]) && ++n)
			json_str(&j, reg->services[i]->name);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	if (n && !json_failed(&j))
		sse_event(out, "registry", b);
	evbuffer_free(b);
	take_sums(api, reg);
}

/* "serial": the index now, and what is served under it. */
static void serial_event(struct api *api, struct evbuffer *out, uint32_t serial)
{
	const struct registry *reg = api_registry(api);
	struct evbuffer *b = evbuffer_new();
	size_t n = 0, passing = 0;
	struct json j;

	if (!b)
		return;
	for (size_t i = 0; i < reg->n_services; i++)
		for (size_t k = 0; k < reg->services[i]->n_instances; k++) {
			n++;
			passing += api_inst_passing(api, i, k);
		}
	json_init(&j, b);
	json_obj_begin(&j);
	json_kuint(&j, "serial", serial);
	json_kuint(&j, "services", reg->n_services);
	json_kuint(&j, "instances", n);
	json_kuint(&j, "passing", passing);
	json_obj_end(&j);
	if (!json_failed(&j))
		sse_event(out, "serial", b);
	evbuffer_free(b);
}

/* "health": the status changes recorded since the last pass. */
static void health_events(struct api *api, struct evbuffer *out, uint64_t total)
{
	static struct health_event ev[HEALTH_EVENTS_MAX]; /* main thread only */
	struct health *h = api_health(api);
	size_t n = health_get_events(h, ev, HEALTH_EVENTS_MAX);
	uint64_t fresh = total - api->events_seen;

	for (size_t i = fresh < n ? n - (size_t)fresh : 0; i < n; i++) {
		const struct registry *reg = api_registry(api);
		long si = find_service(reg, ev[i].service);
		struct evbuffer *b = evbuffer_new();
		struct json j;

		if (!b)
			return;
		json_init(&j, b);
		json_obj_begin(&j);
		api_json_event(&j, &ev[i]);
		if (si >= 0)
			for (size_t k = 0; k < reg->services[si]->n_instances; k++)
				if (strcmp(reg->services[si]->instances[k].name, ev[i].instance) ==
				    0)
					json_kbool(&j, "passing",
					           api_inst_passing(api, (size_t)si, k));
		json_obj_end(&j);
		if (!json_failed(&j))
			sse_event(out, "health", b);
		evbuffer_free(b);
	}
}

static void write_streams(struct api *api, struct evbuffer *text)
{
	size_t len = evbuffer_get_length(text);
	const void *data = len ? evbuffer_pullup(text, -1) : NULL;

	if (!data)
		return;
	for (struct api_waiter *w = api->waiters; w; w = w->next)
		if (w->stream)
			http_stream_write(w->req, data, len); /* a dropped one closes by itself */
}

/* The daemon said something changed: tell the streams, wake the blocking
 * queries whose index is no longer the current one. */
static void on_change(evutil_socket_t fd, short what, void *arg)
{
	struct api *api = arg;
	uint32_t serial = api_serial(api);
	uint64_t total = health_events_total(api_health(api));
	struct evbuffer *text = api->n_streams ? evbuffer_new() : NULL;
	struct api_waiter *w, *next;

	(void)fd;
	(void)what;
	if (text) {
		if (total != api->events_seen)
			health_events(api, text, total);
		if (serial != api->serial_seen) {
			/* the diff, by name and hash, and not a pointer comparison:
			 * after two reloads the registry may sit where the seen one
			 * was freed */
			registry_event(api, text, serial);
			serial_event(api, text, serial);
		}
		write_streams(api, text);
		evbuffer_free(text);
	}
	api->events_seen = total;
	if (serial == api->serial_seen)
		return;
	api->serial_seen = serial;
	for (w = api->waiters; w; w = next) {
		next = w->next; /* answering frees w; nothing else here frees a waiter */
		if (!w->stream && w->index != serial)
			answer_waiter(w);
	}
}

/* A comment line now and then, so that proxies and clients with a read
 * timeout keep an idle stream open, and a vanished client is noticed. */
static void on_beat(evutil_socket_t fd, short what, void *arg)
{
	struct api *api = arg;
	struct evbuffer *b = evbuffer_new();

	(void)fd;
	(void)what;
	if (!b)
		return;
	evbuffer_add_printf(b, ": keep-alive\n\n");
	write_streams(api, b);
	evbuffer_free(b);
}

void api_events_stream(struct api *api, struct http_req *req)
{
	const struct timeval beat = {API_STREAM_BEAT_MS / 1000, 0};
	struct api_waiter *w;
	struct evbuffer *b;
	unsigned wait_ms;

	if (http_req_method(req) == HTTP_M_HEAD) {
		http_reply(req, 200, "text/event-stream; charset=utf-8", NULL);
		return;
	}
	if (wait_param(req, &wait_ms) < 0) {
		api_reply_error(req, 400, WAIT_ERROR);
		return;
	}
	if (!(w = park(api, req, wait_ms))) {
		refuse(req);
		return;
	}
	w->stream = 1;
	if (api->n_streams++ == 0) {
		event_add(api->ev_beat, &beat);
		take_sums(api, api_registry(api));
	}
	http_add_header(req, "Cache-Control", "no-store");
	http_add_header(req, "X-Accel-Buffering", "no"); /* nginx in front: do not hold it */
	http_stream_start(req, 200, "text/event-stream; charset=utf-8");
	if (!(b = evbuffer_new()))
		return;
	/* EventSource reconnects this long after the stream ends (`wait`) */
	evbuffer_add_printf(b, "retry: %d\n\n", API_STREAM_RETRY_MS);
	serial_event(api, b, api_serial(api));
	http_stream_write(req, evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

/* --- set-up --- */

static void on_daemon_change(void *arg)
{
	struct api *api = arg;

	event_active(api->ev_change, EV_TIMEOUT, 0);
}

int api_watch_init(struct api *api)
{
	api->ev_change = event_new(api->base, -1, 0, on_change, api);
	api->ev_beat = event_new(api->base, -1, EV_PERSIST, on_beat, api);
	if (!api->ev_change || !api->ev_beat)
		return -1;
	api->serial_seen = api_serial(api);
	api->events_seen = health_events_total(api_health(api));
	if (api->ops.watch)
		api->ops.watch(api->ops.ctx, on_daemon_change, api);
	return 0;
}

void api_watch_free(struct api *api)
{
	if (api->ops.watch && api->ev_change)
		api->ops.watch(api->ops.ctx, NULL, NULL);
	/* the HTTP server closes their connections without calling back */
	while (api->waiters)
		free_waiter(api->waiters);
	if (api->ev_change)
		event_free(api->ev_change);
	if (api->ev_beat)
		event_free(api->ev_beat);
	api->ev_change = api->ev_beat = NULL;
	free_sums(api);
}

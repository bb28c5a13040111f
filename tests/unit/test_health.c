/* SPDX-License-Identifier: BSD-3-Clause */
/* test_health.c: the health checker: the rise/fall state machine and panic
 * rule with an injected clock, the scheduler's jitter and in-flight queue,
 * the pure parts of the richer probes (the HTTP response parser, the gRPC
 * health messages, the dns check's query and answer), and the tcp/http
 * probes and the checker against real sockets on 127.0.0.1 and ::1. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "health/health.h"
#include "health/machine.h"
#include "health/probe.h"
#include "health/probe_int.h"
#include "health/sched.h"
#include "registry/registry.h"
#include "tests/unit/check_main.h"

/* ---- state machine ---- */

static struct health_inst inst;
static struct health_svc svc;

static void reset(int checked)
{
	memset(&inst, 0, sizeof(inst));
	memset(&svc, 0, sizeof(svc));
	health_machine_init(&inst, &svc, checked, 1000);
}

static enum health_status status(void)
{
	return (enum health_status)atomic_load(&inst.status);
}

static int apply(int pass, const char *text, int64_t now)
{
	return health_machine_apply(&inst, &svc, 2, 3, pass, text, now, NULL);
}

static char *result(void)
{
	static char buf[HEALTH_RESULT_MAX];

	health_inst_result(&inst, buf, sizeof(buf));
	return buf;
}

START_TEST(first_pass_serves)
{
	enum health_status from;
	int changed;

	reset(1);
	ck_assert_int_eq(status(), HEALTH_UNCHECKED);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_int_eq(atomic_load(&inst.checked), 1);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 0);
	changed = health_machine_apply(&inst, &svc, 2, 3, 1, "http: status 200", 5000, &from);
	ck_assert_int_eq(changed, HEALTH_CHANGED_STATUS | HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(from, HEALTH_UNCHECKED);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_int_eq(atomic_load(&inst.served), 1);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 1);
	ck_assert_uint_eq(atomic_load(&inst.successes), 1);
	ck_assert_int_eq(atomic_load(&inst.last_change_ms), 5000);
	ck_assert_int_eq(atomic_load(&inst.last_check_ms), 5000);
	ck_assert_str_eq(result(), "http: status 200");
}
END_TEST

START_TEST(first_failure_keeps_unserved)
{
	reset(1);
	ck_assert_int_eq(apply(0, "connect: Connection refused", 2000), HEALTH_CHANGED_STATUS);
	ck_assert_int_eq(status(), HEALTH_FAILING);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 0);
	ck_assert_str_eq(result(), "connect: Connection refused");
	/* one pass is not enough afterwards: rise applies */
	ck_assert_int_eq(apply(1, "tcp: connected", 3000), 0);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_int_eq(apply(1, "tcp: connected", 4000),
	                 HEALTH_CHANGED_STATUS | HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(atomic_load(&inst.served), 1);
	ck_assert_int_eq(atomic_load(&inst.last_change_ms), 4000);
}
END_TEST

START_TEST(rise_fall_counting)
{
	reset(1);
	apply(1, "ok", 1);
	/* fall 3: two failures keep it served */
	ck_assert_int_eq(apply(0, "http: status 503", 2), 0);
	ck_assert_int_eq(apply(0, "http: status 503", 3), 0);
	ck_assert_uint_eq(atomic_load(&inst.failures), 2);
	ck_assert_int_eq(atomic_load(&inst.served), 1);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_int_eq(apply(0, "http: status 503", 4),
	                 HEALTH_CHANGED_STATUS | HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(status(), HEALTH_FAILING);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 0);
	ck_assert_uint_eq(atomic_load(&inst.successes), 0);
	ck_assert_int_eq(atomic_load(&inst.last_change_ms), 4);
	/* more failures change nothing */
	ck_assert_int_eq(apply(0, "timeout after 1000 ms", 5), 0);
	ck_assert_uint_eq(atomic_load(&inst.failures), 4);
	ck_assert_int_eq(atomic_load(&inst.last_change_ms), 4);
	ck_assert_str_eq(result(), "timeout after 1000 ms");
	/* rise 2 */
	ck_assert_int_eq(apply(1, "ok", 6), 0);
	ck_assert_uint_eq(atomic_load(&inst.successes), 1);
	ck_assert_uint_eq(atomic_load(&inst.failures), 0);
	ck_assert_int_eq(apply(1, "ok", 7), HEALTH_CHANGED_STATUS | HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 1);
}
END_TEST

START_TEST(flapping_never_crosses)
{
	reset(1);
	ck_assert(health_machine_apply(&inst, &svc, 2, 2, 1, "ok", 1, NULL) != 0);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(health_machine_apply(&inst, &svc, 2, 2, i % 2, "x", 2 + i, NULL),
		                 0);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_int_eq(atomic_load(&inst.served), 1);
	/* the same from failing */
	health_machine_apply(&inst, &svc, 2, 2, 0, "x", 100, NULL);
	health_machine_apply(&inst, &svc, 2, 2, 0, "x", 101, NULL);
	ck_assert_int_eq(status(), HEALTH_FAILING);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(
		    health_machine_apply(&inst, &svc, 2, 2, (i + 1) % 2, "x", 200 + i, NULL), 0);
	ck_assert_int_eq(status(), HEALTH_FAILING);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
}
END_TEST

/* slow_start counts from a return (failing -> passing), not a first pass;
 * a drained instance is passing but not served, and serves again undrained. */
START_TEST(restore_and_drain)
{
	reset(1);
	apply(1, "ok", 2000);
	ck_assert_int_eq(atomic_load(&inst.restored_ms), 0);
	for (int i = 0; i < 3; i++)
		apply(0, "x", 3000 + i);
	ck_assert_int_eq(status(), HEALTH_FAILING);
	apply(1, "ok", 4000);
	apply(1, "ok", 4001);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_int_eq(atomic_load(&inst.restored_ms), 4001);
	ck_assert_int_eq(health_machine_drain(&inst, &svc, 1), HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_int_eq(atomic_load(&svc.n_served), 0);
	apply(1, "ok", 5000);
	ck_assert_int_eq(atomic_load(&inst.served), 0);
	ck_assert_int_eq(health_machine_drain(&inst, &svc, 0), HEALTH_CHANGED_SERVED);
	ck_assert_int_eq(atomic_load(&svc.n_served), 1);
}
END_TEST

START_TEST(type_none_starts_served)
{
	reset(0);
	ck_assert_int_eq(status(), HEALTH_PASSING);
	ck_assert_int_eq(atomic_load(&inst.served), 1);
	ck_assert_int_eq(atomic_load(&inst.checked), 0);
	ck_assert_uint_eq(atomic_load(&svc.n_served), 1);
}
END_TEST

START_TEST(panic_threshold)
{
	struct health_inst in[4];
	struct health_svc s;

	memset(in, 0, sizeof(in));
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		health_machine_init(&in[i], &s, 1, 0);
	/* nothing checked yet: no panic although nothing is served */
	ck_assert_int_eq(health_machine_panic(&s, 4, 0.5, 4), 0);
	ck_assert_int_eq(atomic_load(&s.panic), 0);
	health_machine_apply(&in[0], &s, 2, 2, 1, "ok", 1, NULL);
	for (int i = 1; i < 4; i++)
		health_machine_apply(&in[i], &s, 2, 2, 0, "connect: Connection refused", 1, NULL);
	/* 1 of 4 < 0.5: enter */
	ck_assert_int_eq(health_machine_panic(&s, 4, 0.5, 0), 1);
	ck_assert_int_eq(atomic_load(&s.panic), 1);
	ck_assert_int_eq(health_machine_panic(&s, 4, 0.5, 0), 0);
	/* 2 of 4 is not below 0.5: leave */
	health_machine_apply(&in[1], &s, 1, 2, 1, "ok", 2, NULL);
	ck_assert_uint_eq(atomic_load(&s.n_served), 2);
	ck_assert_int_eq(health_machine_panic(&s, 4, 0.5, 0), 1);
	ck_assert_int_eq(atomic_load(&s.panic), 0);
	/* threshold 0 is off, even with nothing served */
	for (int i = 0; i < 2; i++) {
		health_machine_apply(&in[i], &s, 2, 1, 0, "x", 3, NULL);
	}
	ck_assert_uint_eq(atomic_load(&s.n_served), 0);
	ck_assert_int_eq(health_machine_panic(&s, 4, 0, 0), 0);
	ck_assert_int_eq(atomic_load(&s.panic), 0);
}
END_TEST

/* ---- scheduler ---- */

static struct check_config cfg_ms(uint32_t interval, uint32_t unhealthy)
{
	struct check_config c;

	ck_assert_int_eq(registry_check_defaults(&c), 0);
	c.interval_ms = interval;
	c.unhealthy_interval_ms = unhealthy;
	return c;
}

/* Every check type has a name the registry can parse, and every type but
 * none and ttl a probe: a type added to the enum without them fails here (and
 * without a case in probe_ops_of(), the build). */
START_TEST(every_check_type_is_complete)
{
	for (unsigned t = 0; t < CHECK_TYPES; t++) {
		ck_assert_ptr_nonnull(check_type_names[t]);
		ck_assert_str_eq(check_type_name((enum check_type)t), check_type_names[t]);
		ck_assert_int_eq(check_type_probed((enum check_type)t),
		                 t != CHECK_NONE && t != CHECK_TTL);
		ck_assert_int_eq(health_probe_type_probed((enum check_type)t),
		                 check_type_probed((enum check_type)t));
	}
	ck_assert_ptr_null(check_type_names[CHECK_TYPES]);
}
END_TEST

START_TEST(jitter_bounds)
{
	struct health_rng rng;
	struct check_config c = cfg_ms(1000, 1000);
	uint32_t lo = UINT32_MAX, hi = 0;
	double sum = 0;
	const int n = 100000;

	health_rng_seed(&rng, 42);
	for (int i = 0; i < n; i++) {
		uint32_t p = health_sched_period(&rng, &c, HEALTH_PASSING);
		ck_assert_uint_ge(p, 900);
		ck_assert_uint_le(p, 1100);
		lo = p < lo ? p : lo;
		hi = p > hi ? p : hi;
		sum += p;
	}
	/* the whole +-10 % is used, centred on the interval */
	ck_assert_uint_le(lo, 905);
	ck_assert_uint_ge(hi, 1095);
	ck_assert(sum / n > 995 && sum / n < 1005);
}
END_TEST

START_TEST(unhealthy_interval_while_failing)
{
	struct health_rng rng;
	struct check_config c = cfg_ms(1000, 5000);
	struct check_config same = cfg_ms(2000, 0);

	health_rng_seed(&rng, 7);
	for (int i = 0; i < 10000; i++) {
		uint32_t f = health_sched_period(&rng, &c, HEALTH_FAILING);
		uint32_t p = health_sched_period(&rng, &c, HEALTH_PASSING);
		uint32_t u = health_sched_period(&rng, &c, HEALTH_UNCHECKED);
		uint32_t z = health_sched_period(&rng, &same, HEALTH_FAILING);
		ck_assert(f >= 4500 && f <= 5500);
		ck_assert(p >= 900 && p <= 1100);
		ck_assert(u >= 900 && u <= 1100);
		ck_assert(z >= 1800 && z <= 2200);
	}
	/* next due counts from the start of the last probe, never in the past */
	for (int i = 0; i < 1000; i++) {
		int64_t due = health_sched_next_due(&rng, &c, HEALTH_FAILING, 10000, 10200);
		ck_assert(due >= 14500 && due <= 15500);
		due = health_sched_next_due(&rng, &c, HEALTH_PASSING, 10000, 20000);
		ck_assert_int_eq(due, 20000);
	}
}
END_TEST

START_TEST(first_offsets_spread)
{
	struct health_rng rng;
	struct check_config c = cfg_ms(1000, 0);
	unsigned buckets[10] = {0};
	const unsigned n = 10000;

	health_rng_seed(&rng, 1234);
	for (unsigned i = 0; i < n; i++) {
		uint32_t d = health_sched_first_delay(&rng, &c);
		ck_assert_uint_lt(d, 1000);
		buckets[d / 100]++;
	}
	/* 10,000 instances do not fire together: every tenth of the interval
	 * gets about a tenth of them */
	for (int b = 0; b < 10; b++) {
		ck_assert_uint_gt(buckets[b], n / 10 * 8 / 10);
		ck_assert_uint_lt(buckets[b], n / 10 * 12 / 10);
	}
}
END_TEST

START_TEST(inflight_bound_queues)
{
	struct health_limiter lim;
	int started = 0, queued = 0;
	uint32_t next;

	ck_assert_int_eq(health_limiter_init(&lim, 4, 10), 0);
	for (uint32_t id = 0; id < 10; id++) {
		int r = health_limiter_admit(&lim, id);
		ck_assert(r == 0 || r == 1);
		if (r == 1) {
			ck_assert_uint_lt(id, 4);
			started++;
		} else {
			queued++;
		}
	}
	ck_assert_int_eq(started, 4);
	ck_assert_int_eq(queued, 6);
	ck_assert_uint_eq(lim.in_flight, 4);
	/* each finished probe lets the oldest waiting one start */
	for (uint32_t want = 4; want < 10; want++) {
		ck_assert_int_eq(health_limiter_done(&lim, &next), 1);
		ck_assert_uint_eq(next, want);
		ck_assert_uint_eq(lim.in_flight, 4);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(health_limiter_done(&lim, &next), 0);
	ck_assert_uint_eq(lim.in_flight, 0);
	ck_assert_int_eq(health_limiter_admit(&lim, 3), 1);
	health_limiter_free(&lim);
}
END_TEST

/* ---- probes against real sockets ---- */

static struct event_base *base;

static void net_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void net_teardown(void)
{
	event_base_free(base);
}

struct outcome {
	int done, pass;
	char text[HEALTH_RESULT_MAX];
};

static void on_outcome(int pass, const char *text, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->pass = pass;
	snprintf(o->text, sizeof(o->text), "%s", text);
}

static void run_until(const int *flag, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timeval tv = {0, 10000};
		if (*flag)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* A listening TCP socket on addr (port 0: a free one); *sa gets its
 * address. Returns the fd. */
static int listener(int family, struct sockaddr_storage *sa, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM, 0);
	int one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	}
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, *len), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, len), 0);
	return fd;
}

static uint16_t port_of(const struct sockaddr_storage *sa)
{
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static struct outcome probe(enum check_type type, const struct sockaddr_storage *sa, socklen_t len,
                            uint32_t timeout_ms)
{
	static struct check_config c; /* borrowed until the callback */
	struct health_probe *p = NULL;
	struct outcome o = {0};

	ck_assert_int_eq(registry_check_defaults(&c), 0);
	c.type = type;
	c.timeout_ms = timeout_ms;
	strcpy(c.path, "/healthz");
	ck_assert_int_eq(
	    health_probe_start(base, &c, (const struct sockaddr *)sa, len, on_outcome, &o, &p), 0);
	ck_assert_ptr_nonnull(p);
	/* never reported from inside health_probe_start() */
	ck_assert_int_eq(o.done, 0);
	run_until(&o.done, (int)timeout_ms + 2000);
	ck_assert_int_eq(o.done, 1);
	return o;
}

START_TEST(tcp_probe_passes_on_listener)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd = listener(AF_INET, &sa, &len);
	struct outcome o = probe(CHECK_TCP, &sa, len, 1000);

	ck_assert_int_eq(o.pass, 1);
	ck_assert_str_eq(o.text, "tcp: connected");
	close(fd);
}
END_TEST

START_TEST(tcp_probe_passes_on_ipv6)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd = listener(AF_INET6, &sa, &len);
	struct outcome o = probe(CHECK_TCP, &sa, len, 1000);

	ck_assert_int_eq(o.pass, 1);
	ck_assert_str_eq(o.text, "tcp: connected");
	close(fd);
}
END_TEST

/* The address of a loopback port nothing listens on: bound once by us to be
 * sure, then closed. It lies below the ephemeral range: a port the kernel
 * just handed us is handed out again at any time, to a listener of a test
 * running beside this one, or to the probe itself as its source port (a
 * connection to itself, which the probe reports differently). */
static void closed_port(int family, struct sockaddr_storage *sa, socklen_t *len)
{
	unsigned lo = 32768, hi = 0, start;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo <= 1024)
			lo = 32768;
		fclose(f);
	}
	start = (unsigned)getpid() % (lo - 1024);
	for (unsigned i = 0; i < lo - 1024; i++) {
		int fd = socket(family, SOCK_STREAM, 0), r;

		ck_assert_int_ge(fd, 0);
		memset(sa, 0, sizeof(*sa));
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_loopback;
			s6->sin6_port = htons((uint16_t)(1024 + (start + i) % (lo - 1024)));
			*len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s4->sin_port = htons((uint16_t)(1024 + (start + i) % (lo - 1024)));
			*len = sizeof(*s4);
		}
		r = bind(fd, (struct sockaddr *)sa, *len);
		close(fd);
		if (r == 0)
			return;
	}
	ck_abort_msg("no free loopback port below %u", lo);
}

START_TEST(tcp_probe_refused)
{
	struct sockaddr_storage sa;
	socklen_t len;
	struct outcome o;

	closed_port(AF_INET, &sa, &len);
	o = probe(CHECK_TCP, &sa, len, 1000);
	ck_assert_int_eq(o.pass, 0);
	ck_assert_str_eq(o.text, "connect: Connection refused");
}
END_TEST

START_TEST(self_connect_detected)
{
	struct sockaddr_storage sa, peer;
	socklen_t len, plen = sizeof(peer);
	int lfd = listener(AF_INET, &sa, &len);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int self = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in me = {.sin_family = AF_INET};

	/* an ordinary connection */
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, len), 0);
	ck_assert_int_eq(health_probe_self_connected(fd), 0);
	/* a socket connected to its own address and port */
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(self, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(getsockname(self, (struct sockaddr *)&peer, &plen), 0);
	ck_assert_int_eq(connect(self, (struct sockaddr *)&peer, plen), 0);
	ck_assert_int_eq(health_probe_self_connected(self), 1);
	close(self);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(http_probe_refused)
{
	struct sockaddr_storage sa;
	socklen_t len;
	struct outcome o;

	closed_port(AF_INET6, &sa, &len);
	o = probe(CHECK_HTTP, &sa, len, 1000);
	ck_assert_int_eq(o.pass, 0);
	ck_assert_str_eq(o.text, "connect: Connection refused");
}
END_TEST

/* A small HTTP server on the test's base answering `status`; it records
 * the last request's path and Host header. */
struct backend {
	struct evhttp *http;
	int status;
	char host[128], path[256];
	struct sockaddr_storage sa;
	socklen_t len;
};

static void on_backend(struct evhttp_request *req, void *arg)
{
	struct backend *b = arg;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	snprintf(b->host, sizeof(b->host), "%s", host ? host : "");
	snprintf(b->path, sizeof(b->path), "%s", evhttp_request_get_uri(req));
	evhttp_send_reply(req, b->status, "status", NULL);
}

static void backend_start(struct backend *b, int family, int status)
{
	int fd = listener(family, &b->sa, &b->len);

	evutil_make_socket_nonblocking(fd);
	b->status = status;
	b->http = evhttp_new(base);
	ck_assert_ptr_nonnull(b->http);
	ck_assert_ptr_nonnull(evhttp_accept_socket_with_handle(b->http, fd));
	evhttp_set_gencb(b->http, on_backend, b);
}

START_TEST(http_probe_status)
{
	struct backend b = {0};
	struct outcome o;
	char want[64];

	backend_start(&b, AF_INET, 503);
	o = probe(CHECK_HTTP, &b.sa, b.len, 1000);
	ck_assert_int_eq(o.pass, 0);
	ck_assert_str_eq(o.text, "http: status 503");
	snprintf(want, sizeof(want), "127.0.0.1:%u", port_of(&b.sa));
	ck_assert_str_eq(b.host, want);
	ck_assert_str_eq(b.path, "/healthz");
	b.status = 204;
	o = probe(CHECK_HTTP, &b.sa, b.len, 1000);
	ck_assert_int_eq(o.pass, 1);
	ck_assert_str_eq(o.text, "http: status 204");
	b.status = 404;
	o = probe(CHECK_HTTP, &b.sa, b.len, 1000);
	ck_assert_int_eq(o.pass, 0);
	ck_assert_str_eq(o.text, "http: status 404");
	evhttp_free(b.http);
}
END_TEST

START_TEST(http_probe_ipv6_host_header)
{
	struct backend b = {0};
	struct outcome o;
	char want[64];

	backend_start(&b, AF_INET6, 200);
	o = probe(CHECK_HTTP, &b.sa, b.len, 1000);
	ck_assert_int_eq(o.pass, 1);
	ck_assert_str_eq(o.text, "http: status 200");
	snprintf(want, sizeof(want), "[::1]:%u", port_of(&b.sa));
	ck_assert_str_eq(b.host, want);
	evhttp_free(b.http);
}
END_TEST

START_TEST(http_probe_timeout)
{
	struct sockaddr_storage sa;
	socklen_t len;
	/* the kernel completes the handshake; nobody reads or answers */
	int fd = listener(AF_INET, &sa, &len);
	struct timespec t0, t1;
	struct outcome o;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	o = probe(CHECK_HTTP, &sa, len, 300);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_eq(o.pass, 0);
	ck_assert_str_eq(o.text, "timeout after 300 ms");
	ck_assert_int_ge(ms, 290);
	ck_assert_int_lt(ms, 1000);
	o = probe(CHECK_TCP, &sa, len, 300); /* a tcp check is content with it */
	ck_assert_int_eq(o.pass, 1);
	close(fd);
}
END_TEST

START_TEST(probe_cancel_no_callback)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd = listener(AF_INET, &sa, &len);
	struct check_config c;
	struct health_probe *p = NULL;
	struct outcome o = {0};
	int never = 0;

	ck_assert_int_eq(registry_check_defaults(&c), 0);
	c.type = CHECK_HTTP;
	c.timeout_ms = 100;
	ck_assert_int_eq(
	    health_probe_start(base, &c, (struct sockaddr *)&sa, len, on_outcome, &o, &p), 0);
	health_probe_cancel(p);
	run_until(&never, 300);
	ck_assert_int_eq(o.done, 0);
	c.type = CHECK_NONE;
	ck_assert_int_eq(
	    health_probe_start(base, &c, (struct sockaddr *)&sa, len, on_outcome, &o, &p), -EINVAL);
	close(fd);
}
END_TEST

/* ---- the richer probes' messages, without a network ---- */

static struct probe_http_resp resp;

static enum probe_http_state feed(const char *text, int want_body)
{
	probe_http_resp_init(&resp, want_body);
	probe_http_feed(&resp, text, strlen(text));
	return resp.state;
}

/* byte by byte: every state must survive a split anywhere */
static enum probe_http_state feed_bytes(const char *text, int want_body)
{
	probe_http_resp_init(&resp, want_body);
	for (size_t i = 0; text[i]; i++)
		probe_http_feed(&resp, text + i, 1);
	return resp.state;
}

START_TEST(http_parser_head_and_bodies)
{
	/* no body wanted: done at the end of the head */
	ck_assert_int_eq(feed("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\n", 0),
	                 PROBE_HTTP_DONE);
	ck_assert_int_eq(resp.status, 503);
	ck_assert_int_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n", 0), PROBE_HTTP_HEADERS);
	/* Content-Length */
	ck_assert_int_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", 1),
	                 PROBE_HTTP_DONE);
	ck_assert_uint_eq(resp.body_len, 11);
	ck_assert(memcmp(resp.body, "hello world", 11) == 0);
	/* chunked, with an extension, bare LFs, split byte by byte */
	ck_assert_int_eq(feed_bytes("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n"
	                            "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	                            1),
	                 PROBE_HTTP_DONE);
	ck_assert_uint_eq(resp.body_len, 11);
	ck_assert(memcmp(resp.body, "hello world", 11) == 0);
	/* until the connection closes */
	ck_assert_int_eq(feed("HTTP/1.0 200 OK\r\n\r\nsome", 1), PROBE_HTTP_BODY);
	probe_http_eof(&resp);
	ck_assert_int_eq(resp.state, PROBE_HTTP_DONE);
	ck_assert_uint_eq(resp.body_len, 4);
	/* a head cut short is not a response */
	ck_assert_int_eq(feed("HTTP/1.1 200 OK\r\nServer: x", 1), PROBE_HTTP_HEADERS);
	probe_http_eof(&resp);
	ck_assert_int_eq(resp.state, PROBE_HTTP_HEADERS);
	/* an interim 100 Continue, then the response */
	ck_assert_int_eq(feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 1),
	                 PROBE_HTTP_DONE);
	ck_assert_int_eq(resp.status, 204);
	ck_assert_uint_eq(resp.body_len, 0);
}
END_TEST

START_TEST(http_parser_bounds)
{
	static char big[PROBE_HTTP_HEAD_MAX + 100], body[CHECK_BODY_MAX * 3];
	size_t used;

	/* the head is bounded */
	strcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(big + strlen(big), 'a', sizeof(big) - strlen(big) - 1);
	ck_assert_int_eq(feed(big, 0), PROBE_HTTP_BAD);
	/* not HTTP */
	ck_assert_int_eq(feed("\x16\x03\x01 this is not HTTP\r\n\r\n", 0), PROBE_HTTP_BAD);
	ck_assert_int_eq(feed("HTTP/1.1 20 OK\r\n\r\n", 0), PROBE_HTTP_BAD);
	ck_assert_int_eq(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1),
	                 PROBE_HTTP_BAD);
	/* the body: only CHECK_BODY_MAX bytes are read, the rest is left */
	memset(body, 'x', sizeof(body) - 1);
	memcpy(body, "HTTP/1.1 200 OK\r\n\r\n", 19);
	probe_http_resp_init(&resp, 1);
	used = probe_http_feed(&resp, body, strlen(body));
	ck_assert_int_eq(resp.state, PROBE_HTTP_DONE);
	ck_assert_uint_eq(resp.body_len, CHECK_BODY_MAX);
	ck_assert_uint_eq(used, 19 + CHECK_BODY_MAX);
}
END_TEST

START_TEST(grpc_messages)
{
	unsigned char out[2048], longname[300];
	int status = -9;

	/* "" is proto3's default: no field at all */
	ck_assert_uint_eq(probe_grpc_request("", out, sizeof(out)), 5);
	ck_assert(memcmp(out, "\0\0\0\0\0", 5) == 0);
	ck_assert_uint_eq(probe_grpc_request("web", out, sizeof(out)), 10);
	ck_assert(memcmp(out, "\0\0\0\0\x05\x0a\x03web", 10) == 0);
	/* a length over 127 takes two varint bytes */
	memset(longname, 'a', 200);
	longname[200] = '\0';
	ck_assert_uint_eq(probe_grpc_request((char *)longname, out, sizeof(out)), 5 + 3 + 200);
	ck_assert(memcmp(out, "\0\0\0\0\xcb\x0a\xc8\x01", 8) == 0);
	ck_assert_uint_eq(probe_grpc_request((char *)longname, out, 100), 0);

	ck_assert_int_eq(
	    probe_grpc_response((const unsigned char *)"\0\0\0\0\x02\x08\x01", 7, &status), 0);
	ck_assert_int_eq(status, 1); /* SERVING */
	ck_assert_int_eq(
	    probe_grpc_response((const unsigned char *)"\0\0\0\0\x02\x08\x02", 7, &status), 0);
	ck_assert_int_eq(status, 2); /* NOT_SERVING */
	/* absent: UNKNOWN */
	ck_assert_int_eq(probe_grpc_response((const unsigned char *)"\0\0\0\0\0", 5, &status), 0);
	ck_assert_int_eq(status, 0);
	/* fields of a later version are skipped: a string 2, a fixed64 3, then status */
	ck_assert_int_eq(probe_grpc_response((const unsigned char *)"\0\0\0\0\x0f"
	                                                            "\x12\x02hi"
	                                                            "\x19\1\2\3\4\5\6\7\x08"
	                                                            "\x08\x03",
	                                     20, &status),
	                 0);
	ck_assert_int_eq(status, 3); /* SERVICE_UNKNOWN */
	/* compressed, a length that lies, a varint cut short, a group */
	ck_assert_int_eq(
	    probe_grpc_response((const unsigned char *)"\1\0\0\0\x02\x08\x01", 7, &status), -1);
	ck_assert_int_eq(
	    probe_grpc_response((const unsigned char *)"\0\0\0\0\x03\x08\x01", 7, &status), -1);
	ck_assert_int_eq(
	    probe_grpc_response((const unsigned char *)"\0\0\0\0\x02\x08\x81", 7, &status), -1);
	ck_assert_int_eq(probe_grpc_response((const unsigned char *)"\0\0\0\0\x01\x0b", 6, &status),
	                 -1);
	ck_assert_int_eq(probe_grpc_response((const unsigned char *)"\0\0\0", 3, &status), -1);
}
END_TEST

START_TEST(dns_messages)
{
	unsigned char q[300], r[300];
	const char *why = NULL;
	size_t n = probe_dns_query("db.Example.", 33, 0x1234, q, sizeof(q));
	static const unsigned char want[] = {0x12, 0x34, 0,   0,   0,   1,  0,   0,   0,   0,
	                                     0,    0,    2,   'd', 'b', 7,  'E', 'x', 'a', 'm',
	                                     'p',  'l',  'e', 0,   0,   33, 0,   1};

	ck_assert_uint_eq(n, sizeof(want));
	ck_assert(memcmp(q, want, n) == 0);
	ck_assert_uint_eq(probe_dns_query(".", 1, 7, q, sizeof(q)), 12 + 1 + 4);
	ck_assert_uint_eq(probe_dns_query("a..b.", 1, 7, q, sizeof(q)), 0);
	n = probe_dns_query("db.Example.", 33, 0x1234, q, sizeof(q));
	/* the answer: QR, NXDOMAIN, the question in another case */
	memcpy(r, q, n);
	r[2] = 0x84;
	r[3] = 0x03;
	r[17] = 'X';
	ck_assert_int_eq(probe_dns_answer(q, n, r, n, &why), 3);
	/* another id, a query, another question, another type, too short */
	r[1] ^= 1;
	ck_assert_int_eq(probe_dns_answer(q, n, r, n, &why), -1);
	ck_assert_str_eq(why, "answer with another id");
	r[1] ^= 1;
	r[2] = 0;
	ck_assert_int_eq(probe_dns_answer(q, n, r, n, &why), -1);
	r[2] = 0x84;
	r[18] = 'z';
	ck_assert_int_eq(probe_dns_answer(q, n, r, n, &why), -1);
	ck_assert_str_eq(why, "answer to another question");
	r[18] = 'a';
	r[n - 3] = 1;
	ck_assert_int_eq(probe_dns_answer(q, n, r, n, &why), -1);
	r[n - 3] = 33;
	ck_assert_int_eq(probe_dns_answer(q, n, r, 11, &why), -1);
	/* a FORMERR without the question still counts */
	r[3] = 0x01;
	r[5] = 0;
	ck_assert_int_eq(probe_dns_answer(q, n, r, 12, &why), 1);
}
END_TEST

/* ---- the checker on a registry ---- */

static int changes;

static void on_change(void *arg)
{
	changes++;
}

START_TEST(checker_follows_backends)
{
	struct sockaddr_storage up, down;
	socklen_t len;
	int fd = listener(AF_INET, &up, &len);
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	struct health *h = NULL;
	struct health_inst *a, *b, *n;
	char yaml[1024];
	int done = 0;

	closed_port(AF_INET, &down, &len);
	snprintf(yaml, sizeof(yaml),
	         "services:\n"
	         "  web:\n"
	         "    check: {type: tcp, interval: 100ms, timeout: 100ms, rise: 2, fall: 2}\n"
	         "    panic_threshold: 0.6\n"
	         "    instances:\n"
	         "      - {name: up, address: 127.0.0.1, port: %u}\n"
	         "      - {name: down, address: 127.0.0.1, port: %u}\n"
	         "  doc:\n"
	         "    check: {type: none}\n"
	         "    instances:\n"
	         "      - {name: d1, address: 192.0.2.1, port: 1}\n",
	         port_of(&up), port_of(&down));
	ck_assert_int_eq(registry_load_string(yaml, "h.yaml", &reg, &errs), 0);
	changes = 0;
	ck_assert_int_eq(health_create(base, reg, on_change, NULL, &h), 0);
	registry_free(reg); /* borrowed for the call only */
	a = health_instance(h, 0, 0);
	b = health_instance(h, 0, 1);
	n = health_instance(h, 1, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(health_instance(h, 0, 2));
	ck_assert_ptr_null(health_service(h, 2));
	ck_assert_int_eq(atomic_load(&a->status), HEALTH_UNCHECKED);
	ck_assert_int_eq(atomic_load(&a->served), 0);
	ck_assert_int_eq(atomic_load(&n->served), 1);
	ck_assert_int_eq(atomic_load(&n->checked), 0);
	ck_assert_int_eq(health_first_round_done(h), 0);
	ck_assert_int_eq(health_start(h), 0);
	run_until(&done, 400);
	ck_assert_int_eq(health_first_round_done(h), 1);
	ck_assert_int_eq(atomic_load(&a->status), HEALTH_PASSING);
	ck_assert_int_eq(atomic_load(&a->served), 1);
	ck_assert_int_eq(atomic_load(&b->status), HEALTH_FAILING);
	ck_assert_int_eq(atomic_load(&b->served), 0);
	ck_assert_uint_eq(atomic_load(&health_service(h, 0)->n_served), 1);
	/* 1 of 2 is below 0.6 */
	ck_assert_int_eq(atomic_load(&health_service(h, 0)->panic), 1);
	ck_assert_int_ge(changes, 1);
	/* the backend goes away: fall 2 at ~100 ms withdraws it within ~300 ms */
	close(fd);
	changes = 0;
	run_until(&done, 500);
	ck_assert_int_eq(atomic_load(&a->status), HEALTH_FAILING);
	ck_assert_int_eq(atomic_load(&a->served), 0);
	ck_assert_uint_eq(atomic_load(&health_service(h, 0)->n_served), 0);
	ck_assert_int_ge(changes, 1);
	{
		char buf[HEALTH_RESULT_MAX];
		health_inst_result(a, buf, sizeof(buf));
		ck_assert_str_eq(buf, "connect: Connection refused");
	}
	health_free(h);
	health_free(NULL);
}
END_TEST

/* A registry of services s<i> (i in order[], -1 ends), 3 instances each on
 * 127.0.0.1 (never probed: the checker is not started); instance i<j> of
 * service s<moved> has port 2 instead of 1, rev reverses s3's instances. */
static struct registry *takeover_reg(const int *order, int moved, int rev)
{
	static char yaml[4096];
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	size_t n = 0;

	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "services:\n");
	for (const int *i = order; *i >= 0; i++) {
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
		                      "  s%d:\n    check: {type: tcp, rise: 1, fall: 1}\n"
		                      "    instances:\n",
		                      *i);
		for (int k = 0; k < 3; k++) {
			int j = rev && *i == 3 ? 2 - k : k;
			n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
			                      "      - {name: i%d, address: 127.0.0.1, port: %d}\n",
			                      j, *i == moved && j == 1 ? 2 : 1);
		}
	}
	ck_assert_int_eq(registry_load_string(yaml, "t.yaml", &reg, &errs), 0);
	return reg;
}

static int takeover_passing(int i, int j)
{
	return (i + j) % 2 == 0;
}

/* health_update() keeps the block (the very cells) of every service the
 * change did not touch, by identity or by name and digest, builds the
 * others, which take over their instances' state by name wherever a
 * change moved them (in place, shifted by a service added in front,
 * reversed; an instance whose address changed, or that is new, starts
 * afresh), and hands the dropped blocks over as garbage, stopped. */
START_TEST(update_keeps_untouched_blocks)
{
	static const int old_order[] = {0, 1, 2, 3, 4, 5, -1};
	static const int new_order[] = {9, 0, 1, 2, 3, 5, -1};
	struct registry *reg = takeover_reg(old_order, -1, 0), *reg2, *reg3;
	struct health *h = NULL;
	struct health_garbage *gone = NULL;
	const struct health_inst *cells[6], *c;
	const struct health_svc *sc;
	uint64_t blocks[6];
	size_t kept, n;

	ck_assert_int_eq(health_create(base, reg, NULL, NULL, &h), 0);
	for (size_t i = 0; i < 6; i++) {
		blocks[i] = health_service_cells(h, i, &cells[i], &n, &sc);
		for (size_t j = 0; j < 3; j++) {
			int pass = takeover_passing((int)i, (int)j);
			health_machine_apply(health_instance(h, i, j), health_service(h, i), 1, 1,
			                     pass, pass ? "up" : "down", 1000, NULL);
		}
	}
	/* the same registry: every block kept, by identity */
	ck_assert_int_eq(health_update(h, reg, &kept, &gone), 0);
	ck_assert_uint_eq(kept, 18);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(health_service_cells(h, i, &c, &n, &sc), blocks[i]);
		ck_assert_ptr_eq(c, cells[i]);
	}
	health_garbage_free(gone);
	/* a full load of it (new objects): kept by name and digest */
	reg3 = takeover_reg(old_order, -1, 0);
	ck_assert_int_eq(health_update(h, reg3, &kept, &gone), 0);
	ck_assert_uint_eq(kept, 18);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(health_service_cells(h, i, &c, &n, &sc), blocks[i]);
	health_garbage_free(gone);
	/* s9 in front, s4 gone, s3 reversed, s2/i1 on another port: s0, s1 and
	 * s5 keep their blocks; s2 and s3 get new ones that take over by name */
	reg2 = takeover_reg(new_order, 2, 1);
	ck_assert_int_eq(health_update(h, reg2, &kept, &gone), 0);
	ck_assert_uint_eq(kept, 14);
	ck_assert_uint_eq(health_n_services(h), 6);
	ck_assert_uint_eq(health_n_instances(h), 18);
	ck_assert_uint_eq(health_service_cells(h, 1, &c, &n, &sc), blocks[0]);
	ck_assert_uint_eq(health_service_cells(h, 2, &c, &n, &sc), blocks[1]);
	ck_assert_uint_eq(health_service_cells(h, 5, &c, &n, &sc), blocks[5]);
	ck_assert_uint_ne(health_service_cells(h, 3, &c, &n, &sc), blocks[2]);
	ck_assert_uint_ne(health_service_cells(h, 4, &c, &n, &sc), blocks[3]);
	for (size_t i = 0; i < 6; i++) {
		int si = new_order[i];
		for (size_t k = 0; k < 3; k++) {
			int j = si == 3 ? 2 - (int)k : (int)k;
			enum health_status want =
			    takeover_passing(si, j) ? HEALTH_PASSING : HEALTH_FAILING;
			if (si == 9 || (si == 2 && j == 1))
				want = HEALTH_UNCHECKED;
			ck_assert_int_eq(atomic_load(&health_instance(h, i, k)->status), want);
		}
	}
	/* the dropped blocks' cells (s2, s3, s4) are still readable */
	ck_assert_int_eq(atomic_load(&cells[4][0].status),
	                 takeover_passing(4, 0) ? HEALTH_PASSING : HEALTH_FAILING);
	health_garbage_free(gone);
	health_free(h);
	registry_free(reg3);
	registry_free(reg2);
	registry_free(reg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("health");
	TCase *m = tcase_create("machine");
	TCase *sc = tcase_create("sched");
	TCase *wire = tcase_create("wire");
	TCase *net = tcase_create("net");

	tcase_add_test(m, first_pass_serves);
	tcase_add_test(m, first_failure_keeps_unserved);
	tcase_add_test(m, rise_fall_counting);
	tcase_add_test(m, flapping_never_crosses);
	tcase_add_test(m, restore_and_drain);
	tcase_add_test(m, type_none_starts_served);
	tcase_add_test(m, panic_threshold);
	suite_add_tcase(s, m);
	tcase_add_test(sc, every_check_type_is_complete);
	tcase_add_test(sc, jitter_bounds);
	tcase_add_test(sc, unhealthy_interval_while_failing);
	tcase_add_test(sc, first_offsets_spread);
	tcase_add_test(sc, inflight_bound_queues);
	suite_add_tcase(s, sc);
	tcase_add_test(wire, http_parser_head_and_bodies);
	tcase_add_test(wire, http_parser_bounds);
	tcase_add_test(wire, grpc_messages);
	tcase_add_test(wire, dns_messages);
	suite_add_tcase(s, wire);
	tcase_add_checked_fixture(net, net_setup, net_teardown);
	tcase_set_timeout(net, 20);
	tcase_add_test(net, tcp_probe_passes_on_listener);
	tcase_add_test(net, tcp_probe_passes_on_ipv6);
	tcase_add_test(net, tcp_probe_refused);
	tcase_add_test(net, self_connect_detected);
	tcase_add_test(net, http_probe_refused);
	tcase_add_test(net, http_probe_status);
	tcase_add_test(net, http_probe_ipv6_host_header);
	tcase_add_test(net, http_probe_timeout);
	tcase_add_test(net, probe_cancel_no_callback);
	tcase_add_test(net, checker_follows_backends);
	tcase_add_test(net, update_keeps_untouched_blocks);
	suite_add_tcase(s, net);
	return s;
}

int main(void)
{
	return check_run(suite());
}

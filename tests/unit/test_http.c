/* SPDX-License-Identifier: BSD-3-Clause */
/* test_http.c: the control API's HTTP server (api/http.c) with real loopback
 * sockets: bodies, the waiting pool and its separate bound, streamed
 * responses and their bound, and the connection limit. The event loop is pumped by the test between
 * client steps, so server and clients share one thread. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "api/http.h"
#include "tests/unit/check_main.h"

struct fixture {
	struct event_base *base;
	struct http_server *srv;
	struct sockaddr_in addr;
	struct http_req *parked;
	int closed; /* on_close calls */
};

static void on_close(struct http_req *req, void *arg)
{
	struct fixture *f = arg;

	f->closed++;
	if (f->parked == req)
		f->parked = NULL;
}

static void handle(struct http_req *req, void *arg)
{
	struct fixture *f = arg;
	const char *path = http_req_path(req);
	struct evbuffer *b = evbuffer_new();

	if (strcmp(path, "/wait") == 0 || strcmp(path, "/stream") == 0) {
		if (http_req_wait(req, on_close, f) == 0) {
			f->parked = req;
			evbuffer_free(b);
			if (path[1] == 's') {
				ck_assert_int_eq(http_stream_start(req, 200, "text/event-stream"),
				                 0);
				ck_assert_int_eq(http_stream_write(req, "first\n", 6), 0);
			}
			return;
		}
		http_reply(req, 503, NULL, NULL);
	} else if (strcmp(path, "/echo") == 0) {
		http_reply(req, 200, "text/plain", http_req_body(req));
	} else {
		evbuffer_add(b, "now", 3);
		http_reply(req, 200, "text/plain", b);
	}
	evbuffer_free(b);
}

static http_handler on_head(struct http_req *req, void *server_arg, void **arg)
{
	*arg = server_arg;
	return handle;
}

static void setup_stream(struct fixture *f, size_t max_conns, size_t max_waiting, size_t max_stream)
{
	struct http_limits lim;
	struct sockaddr_storage ss;
	socklen_t len;

	memset(f, 0, sizeof(*f));
	http_limits_default(&lim);
	lim.max_conns = max_conns;
	lim.max_waiting = max_waiting;
	lim.max_stream = max_stream;
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(http_server_create(f->base, (struct sockaddr *)&f->addr, sizeof(f->addr),
	                                    &lim, on_head, f, &f->srv),
	                 0);
	ck_assert_int_eq(http_server_address(f->srv, &ss, &len), 0);
	memcpy(&f->addr, &ss, sizeof(f->addr));
}

static void setup(struct fixture *f, size_t max_conns, size_t max_waiting)
{
	setup_stream(f, max_conns, max_waiting, HTTP_STREAM_MAX);
}

static void teardown(struct fixture *f)
{
	http_server_free(f->srv);
	event_base_free(f->base);
}

static int client(struct fixture *f, const char *text)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
	return fd;
}

static void pump(struct fixture *f)
{
	for (int i = 0; i < 20; i++) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* Pumps the loop until fd has a whole response (head and, by Content-Length,
 * body) and returns its status code, the body in body; 0 on EOF without one. */
static int response(struct fixture *f, int fd, char *body, size_t cap)
{
	char buf[4096];
	size_t n = 0;

	for (int tries = 0; tries < 3000; tries++) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		char *end, *cl;

		if (r == 0)
			return 0;
		if (r > 0)
			n += (size_t)r;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strstr(buf, "Content-Length: ");
		if (end && cl && (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16) <= n) {
			snprintf(body, cap, "%.*s", atoi(cl + 16), end + 4);
			return atoi(buf + 9);
		}
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_abort_msg("no response: %s", buf);
	return -1;
}

START_TEST(test_body_and_keep_alive)
{
	struct fixture f;
	char body[64];
	int fd;

	setup(&f, 4, 1);
	fd = client(&f, "PUT /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
	ck_assert_int_eq(response(&f, fd, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "hello");
	/* the same connection takes the next request */
	ck_assert_int_eq(send(fd, "GET /x HTTP/1.1\r\n\r\n", 19, 0), 19);
	ck_assert_int_eq(response(&f, fd, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "now");
	close(fd);
	teardown(&f);
}
END_TEST

START_TEST(test_waiting_pool_is_separate_and_bounded)
{
	struct fixture f;
	struct http_server_stats st;
	struct evbuffer *b;
	char body[64];
	int a, c, d;

	setup(&f, 1, 1);
	a = client(&f, "GET /wait HTTP/1.1\r\n\r\n");
	pump(&f);
	ck_assert_ptr_nonnull(f.parked);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 1);
	ck_assert_uint_eq(st.conns, 0);
	/* the waiting request leaves room under max_conns (1) */
	c = client(&f, "GET /now HTTP/1.1\r\nConnection: close\r\n\r\n");
	ck_assert_int_eq(response(&f, c, body, sizeof(body)), 200);
	close(c);
	pump(&f);
	/* ... but the waiting pool (1) is full */
	d = client(&f, "GET /wait HTTP/1.1\r\nConnection: close\r\n\r\n");
	ck_assert_int_eq(response(&f, d, body, sizeof(body)), 503);
	close(d);
	pump(&f);
	/* the parked request is answered later */
	b = evbuffer_new();
	evbuffer_add(b, "late", 4);
	http_reply(f.parked, 200, "text/plain", b);
	evbuffer_free(b);
	f.parked = NULL;
	ck_assert_int_eq(response(&f, a, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "late");
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 0);
	ck_assert_int_eq(f.closed, 0);
	close(a);
	teardown(&f);
}
END_TEST

START_TEST(test_waiting_client_that_leaves_is_reported)
{
	struct fixture f;
	struct http_server_stats st;
	int a;

	setup(&f, 4, 4);
	a = client(&f, "GET /wait HTTP/1.1\r\n\r\n");
	pump(&f);
	ck_assert_ptr_nonnull(f.parked);
	close(a);
	for (int i = 0; i < 100 && !f.closed; i++)
		pump(&f);
	ck_assert_int_eq(f.closed, 1);
	ck_assert_ptr_null(f.parked);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 0);
	teardown(&f);
}
END_TEST

START_TEST(test_connection_limit)
{
	struct fixture f;
	struct http_server_stats st;
	char body[64];
	int held[2], extra;

	setup(&f, 2, 1);
	held[0] = client(&f, "G");
	held[1] = client(&f, "G");
	pump(&f);
	extra = client(&f, "GET /now HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(response(&f, extra, body, sizeof(body)), 503);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.conns, 2);
	ck_assert_uint_ge(st.refused, 1);
	close(extra);
	close(held[0]);
	close(held[1]);
	teardown(&f);
}
END_TEST

/* Reads fd until EOF, pumping the loop; returns what came (NUL-terminated). */
static size_t read_to_eof(struct fixture *f, int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (int tries = 0; tries < 3000; tries++) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

		if (r == 0) {
			buf[n] = '\0';
			return n;
		}
		if (r > 0)
			n += (size_t)r;
		ck_assert_uint_lt(n, cap - 1);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	buf[n] = '\0';
	ck_abort_msg("no EOF: %s", buf);
	return 0;
}

START_TEST(test_stream_written_in_parts_then_ended)
{
	struct fixture f;
	struct http_server_stats st;
	char buf[4096];
	int a;

	setup(&f, 4, 4);
	a = client(&f, "GET /stream HTTP/1.1\r\n\r\n");
	pump(&f);
	ck_assert_ptr_nonnull(f.parked);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 1); /* a stream stays in the waiting pool */
	ck_assert_uint_eq(st.conns, 0);
	ck_assert_int_eq(http_stream_write(f.parked, "second\n", 7), 0);
	/* a stream is answered once: a late http_reply() is ignored */
	http_reply(f.parked, 500, NULL, NULL);
	pump(&f);
	http_stream_end(f.parked);
	f.parked = NULL;
	read_to_eof(&f, a, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "Content-Type: text/event-stream\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Connection: close\r\n"));
	ck_assert_ptr_null(strstr(buf, "Content-Length"));
	ck_assert_ptr_nonnull(strstr(buf, "\r\n\r\nfirst\nsecond\n"));
	ck_assert_ptr_null(strstr(buf, "500"));
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 0);
	ck_assert_int_eq(f.closed, 0); /* ended by the server: no on_close */
	close(a);
	teardown(&f);
}
END_TEST

START_TEST(test_stream_client_that_leaves_is_reported)
{
	struct fixture f;
	struct http_server_stats st;
	int a;

	setup(&f, 4, 4);
	a = client(&f, "GET /stream HTTP/1.1\r\n\r\n");
	pump(&f);
	ck_assert_ptr_nonnull(f.parked);
	close(a);
	for (int i = 0; i < 100 && !f.closed; i++)
		pump(&f);
	ck_assert_int_eq(f.closed, 1);
	ck_assert_ptr_null(f.parked);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 0);
	teardown(&f);
}
END_TEST

/* A client that stops reading: the kernel's buffers fill, then at most
 * max_stream bytes wait in srvd, then the stream is dropped (on_close from
 * the loop, not from the write). */
START_TEST(test_stream_slow_reader_dropped)
{
	static char chunk[16384];
	struct fixture f;
	struct http_server_stats st;
	int a, rcvbuf = 4096, refused = 0;
	size_t total = 0;
	struct http_req *req;

	setup_stream(&f, 4, 4, 32768);
	a = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(a, 0);
	setsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_int_eq(connect(a, (struct sockaddr *)&f.addr, sizeof(f.addr)), 0);
	ck_assert_int_eq(send(a, "GET /stream HTTP/1.1\r\n\r\n", 25, 0), 25);
	pump(&f);
	ck_assert_ptr_nonnull(f.parked);
	req = f.parked;
	memset(chunk, 'x', sizeof(chunk));
	/* never read: a bounded number of writes must hit the bound */
	while (total < (size_t)256 << 20) {
		if (http_stream_write(req, chunk, sizeof(chunk)) < 0) {
			refused = 1;
			break;
		}
		total += sizeof(chunk);
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	}
	ck_assert_msg(refused, "no drop after %zu bytes", total);
	ck_assert_int_eq(f.closed, 0); /* not from within the write */
	ck_assert_int_lt(http_stream_write(req, "x", 1), 0);
	for (int i = 0; i < 100 && !f.closed; i++)
		pump(&f);
	ck_assert_int_eq(f.closed, 1);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.waiting, 0);
	ck_assert_uint_eq(st.dropped, 1);
	close(a);
	teardown(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_body_and_keep_alive);
	tcase_add_test(tc, test_waiting_pool_is_separate_and_bounded);
	tcase_add_test(tc, test_waiting_client_that_leaves_is_reported);
	tcase_add_test(tc, test_connection_limit);
	tcase_add_test(tc, test_stream_written_in_parts_then_ended);
	tcase_add_test(tc, test_stream_client_that_leaves_is_reported);
	tcase_add_test(tc, test_stream_slow_reader_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

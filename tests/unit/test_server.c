/* SPDX-License-Identifier: BSD-3-Clause */
/* test_server.c: TCP framing, and the listeners end to end on 127.0.0.1 with a real table. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/listen/server.h"
#include "dns/listen/tcpframe.h"
#include "dns/answer/table.h"
#include "registry/registry.h"
#include "tests/unit/check_main.h"

/* ---- framing ---- */

START_TEST(frame_short)
{
	uint8_t b[2] = {0, 12};
	size_t need = 99;

	ck_assert_int_eq(dns_frame_peek(b, 0, &need), DNS_FRAME_MORE);
	ck_assert_uint_eq(need, 2);
	ck_assert_int_eq(dns_frame_peek(b, 1, &need), DNS_FRAME_MORE);
	ck_assert_uint_eq(need, 2);
	ck_assert_int_eq(dns_frame_peek(b, 2, &need), DNS_FRAME_MORE);
	ck_assert_uint_eq(need, 14);
}
END_TEST

START_TEST(frame_whole_and_more)
{
	uint8_t b[32] = {0x00, 0x03, 'a', 'b', 'c', 0x00, 0x01, 'z'};
	size_t need;

	ck_assert_int_eq(dns_frame_peek(b, 4, &need), DNS_FRAME_MORE);
	ck_assert_uint_eq(need, 5);
	ck_assert_int_eq(dns_frame_peek(b, 5, &need), DNS_FRAME_OK);
	ck_assert_uint_eq(need, 5);
	/* bytes of the next message do not change the first */
	ck_assert_int_eq(dns_frame_peek(b, 8, &need), DNS_FRAME_OK);
	ck_assert_uint_eq(need, 5);
	ck_assert_int_eq(dns_frame_peek(b + 5, 3, &need), DNS_FRAME_OK);
	ck_assert_uint_eq(need, 3);
}
END_TEST

START_TEST(frame_empty_and_max)
{
	uint8_t z[2] = {0, 0}, m[2] = {0xff, 0xff};
	size_t need;

	ck_assert_int_eq(dns_frame_peek(z, 2, &need), DNS_FRAME_EMPTY);
	ck_assert_int_eq(dns_frame_peek(m, 2, &need), DNS_FRAME_MORE);
	ck_assert_uint_eq(need, 2 + 65535);
}
END_TEST

/* ---- end to end ---- */

static const char yaml[] = "server:\n"
                           "  listen: [\"127.0.0.1:0\"]\n"
                           "  zone: svc.test.\n"
                           "services:\n"
                           "  web:\n"
                           "    port: 80\n"
                           "    check: {type: none}\n"
                           "    instances:\n"
                           "      - {name: w1, address: 192.0.2.1}\n";

struct fixture {
	struct registry *reg;
	struct dns_table *table;
	struct dns_server *srv;
	struct sockaddr_in addr;
};

static void fx_start(struct fixture *fx, unsigned workers, unsigned idle_ms, unsigned tcp_max)
{
	struct reg_errors errs = {0};
	struct dns_server_config cfg = {0};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];

	memset(fx, 0, sizeof(*fx));
	ck_assert_int_eq(registry_load_string(yaml, "t.yaml", &fx->reg, &errs), 0);
	ck_assert_int_eq(dns_table_build(fx->reg, 1, &fx->table, err, sizeof(err)), 0);
	dns_table_set_ready(fx->table, 1);
	cfg.listen = fx->reg->server.listen;
	cfg.n_listen = fx->reg->server.n_listen;
	cfg.n_workers = workers;
	cfg.tcp_idle_ms = idle_ms;
	cfg.tcp_max = tcp_max;
	cfg.table = fx->table;
	ck_assert_msg(dns_server_create(&cfg, &fx->srv, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(dns_server_start(fx->srv, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(dns_server_n_listen(fx->srv), 1);
	ck_assert_int_eq(dns_server_bound_addr(fx->srv, 0, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	memcpy(&fx->addr, &ss, sizeof(fx->addr));
	ck_assert_uint_ne(ntohs(fx->addr.sin_port), 0);
}

static void fx_stop(struct fixture *fx)
{
	dns_server_free(fx->srv);
	dns_table_free(fx->table);
	registry_free(fx->reg);
}

/* A query for web.svc.test A with the given ID; returns its length. */
static size_t make_query(uint8_t *buf, uint16_t id)
{
	static const uint8_t tail[] = {0x01, 0x00, 0,   1,   0, 0,   0,   0,   0, 0,
	                               3,    'w',  'e', 'b', 3, 's', 'v', 'c', 4, 't',
	                               'e',  's',  't', 0,   0, 1,   0,   1};
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	memcpy(buf + 2, tail, sizeof(tail));
	return 2 + sizeof(tail);
}

static size_t make_tcp_query(uint8_t *buf, uint16_t id)
{
	size_t n = make_query(buf + 2, id);
	buf[0] = 0;
	buf[1] = (uint8_t)n;
	return n + 2;
}

static int tcp_connect(const struct fixture *fx)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {3, 0};

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (const struct sockaddr *)&fx->addr, sizeof(fx->addr)), 0);
	return fd;
}

static void read_all(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = recv(fd, buf + got, n - got, 0);
		ck_assert_msg(r > 0, "recv: %zd (%s)", r, r < 0 ? strerror(errno) : "closed");
		got += (size_t)r;
	}
}

/* Reads one framed answer and checks it answers query id with NOERROR. */
static void expect_tcp_answer(int fd, uint16_t id)
{
	uint8_t buf[1024];
	size_t n;

	read_all(fd, buf, 2);
	n = (size_t)buf[0] << 8 | buf[1];
	ck_assert_uint_ge(n, 12);
	ck_assert_uint_le(n, sizeof(buf));
	read_all(fd, buf, n);
	ck_assert_uint_eq((unsigned)buf[0] << 8 | buf[1], id);
	ck_assert(buf[2] & 0x80);                   /* QR */
	ck_assert_uint_eq(buf[3] & 0x0f, 0);        /* NOERROR */
	ck_assert_uint_eq(buf[6] << 8 | buf[7], 1); /* one A record */
}

/* Returns 1 if the server closed fd within ms milliseconds. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t b[64];

	if (poll(&p, 1, ms) != 1)
		return 0;
	return recv(fd, b, sizeof(b), MSG_DONTWAIT) == 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(udp_answers)
{
	struct fixture fx;
	uint8_t q[64], a[512];
	struct timeval tv = {3, 0};
	int fd;
	ssize_t n;

	fx_start(&fx, 2, 0, 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (uint16_t id = 1; id <= 50; id++) {
		size_t qlen = make_query(q, id);
		ck_assert_int_eq(
		    sendto(fd, q, qlen, 0, (struct sockaddr *)&fx.addr, sizeof(fx.addr)),
		    (ssize_t)qlen);
		n = recv(fd, a, sizeof(a), 0);
		ck_assert_int_ge(n, 12);
		ck_assert_uint_eq((unsigned)a[0] << 8 | a[1], id);
		ck_assert(a[2] & 0x80);
		ck_assert_uint_eq(a[6] << 8 | a[7], 1);
	}
	/* a response (QR=1) is dropped: no answer comes back */
	make_query(q, 77);
	q[2] |= 0x80;
	sendto(fd, q, 30, 0, (struct sockaddr *)&fx.addr, sizeof(fx.addr));
	tv.tv_sec = 0;
	tv.tv_usec = 300000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_lt(recv(fd, a, sizeof(a), 0), 0);
	close(fd);
	fx_stop(&fx);
}
END_TEST

START_TEST(udp_and_tcp_share_port_and_count)
{
	struct fixture fx;
	struct dns_server_stats st;
	uint8_t q[64], a[512];
	int fd;

	fx_start(&fx, 1, 0, 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(fd, q, make_query(q, 9), 0, (struct sockaddr *)&fx.addr, sizeof(fx.addr));
	ck_assert_int_ge(recv(fd, a, sizeof(a), 0), 12);
	close(fd);
	fd = tcp_connect(&fx);
	ck_assert_int_gt(send(fd, q, make_tcp_query(q, 10), 0), 0);
	expect_tcp_answer(fd, 10);
	close(fd);
	dns_server_get_stats(fx.srv, &st);
	ck_assert_uint_eq(st.queries_udp, 1);
	ck_assert_uint_eq(st.queries_tcp, 1);
	ck_assert_uint_eq(st.rcode[0], 2);
	ck_assert_uint_eq(st.tcp_accepted, 1);
	fx_stop(&fx);
}
END_TEST

START_TEST(tcp_pipelined_in_order)
{
	struct fixture fx;
	uint8_t q[64 * 40];
	size_t n = 0;
	int fd;

	fx_start(&fx, 2, 0, 0);
	fd = tcp_connect(&fx);
	for (uint16_t id = 100; id < 140; id++)
		n += make_tcp_query(q + n, id);
	ck_assert_int_eq(send(fd, q, n, 0), (ssize_t)n);
	for (uint16_t id = 100; id < 140; id++)
		expect_tcp_answer(fd, id);
	/* the same connection keeps working, one byte at a time */
	n = make_tcp_query(q, 555);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(send(fd, q + i, 1, 0), 1);
		usleep(2000);
	}
	expect_tcp_answer(fd, 555);
	close(fd);
	fx_stop(&fx);
}
END_TEST

START_TEST(tcp_zero_length_closes)
{
	struct fixture fx;
	uint8_t q[64];
	size_t n;
	int fd;

	fx_start(&fx, 1, 0, 0);
	fd = tcp_connect(&fx);
	n = make_tcp_query(q, 1);
	q[n] = q[n + 1] = 0;
	ck_assert_int_eq(send(fd, q, n + 2, 0), (ssize_t)n + 2);
	expect_tcp_answer(fd, 1); /* the query before it is still answered */
	ck_assert(closed_within(fd, 2000));
	close(fd);
	fx_stop(&fx);
}
END_TEST

START_TEST(tcp_idle_timeout)
{
	struct fixture fx;
	struct dns_server_stats st;
	uint8_t q[64];
	int fd, fd2, closed;

	fx_start(&fx, 1, 300, 0);
	fd = tcp_connect(&fx);
	ck_assert(!closed_within(fd, 100));
	ck_assert(closed_within(fd, 1500));
	close(fd);
	/* a partial message does not keep the connection open */
	fd2 = tcp_connect(&fx);
	make_tcp_query(q, 1);
	closed = 0;
	for (int i = 0; i < 20 && !closed; i++) /* a byte per 100 ms, never a whole query */
		closed = send(fd2, q + i, 1, MSG_NOSIGNAL) != 1 || closed_within(fd2, 100);
	ck_assert_msg(closed, "a trickled partial query kept the connection open");
	close(fd2);
	dns_server_get_stats(fx.srv, &st);
	ck_assert_uint_eq(st.tcp_timeouts, 2);
	fx_stop(&fx);
}
END_TEST

START_TEST(tcp_max_connections_evicts_oldest)
{
	struct fixture fx;
	struct dns_server_stats st;
	uint8_t q[64];
	int a, b, c;

	fx_start(&fx, 1, 0, 2);
	a = tcp_connect(&fx);
	ck_assert_int_gt(send(a, q, make_tcp_query(q, 1), 0), 0);
	expect_tcp_answer(a, 1);
	b = tcp_connect(&fx);
	ck_assert_int_gt(send(b, q, make_tcp_query(q, 2), 0), 0);
	expect_tcp_answer(b, 2);
	c = tcp_connect(&fx);
	ck_assert_int_gt(send(c, q, make_tcp_query(q, 3), 0), 0);
	expect_tcp_answer(c, 3);
	ck_assert(closed_within(a, 1000)); /* least recently active */
	ck_assert_int_gt(send(b, q, make_tcp_query(q, 4), MSG_NOSIGNAL), 0);
	expect_tcp_answer(b, 4);
	dns_server_get_stats(fx.srv, &st);
	ck_assert_uint_eq(st.tcp_evicted, 1);
	close(a);
	close(b);
	close(c);
	fx_stop(&fx);
}
END_TEST

START_TEST(tcp_output_is_bounded)
{
	struct fixture fx;
	uint8_t q[64 * 100];
	size_t n = 0, sent = 0;
	ssize_t r;
	int fd, rcv = 4096;

	fx_start(&fx, 1, 0, 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&fx.addr, sizeof(fx.addr)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100; i++)
		n += make_tcp_query(q + n, (uint16_t)i);
	/* a client that never reads: once we stop reading it, its sends block */
	while (sent < (size_t)64 << 20) {
		r = send(fd, q, n, MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, 2000) == 0) /* blocked for good */
				break;
			continue;
		}
		ck_assert_int_gt(r, 0);
		sent += (size_t)r;
	}
	ck_assert_msg(sent < (size_t)64 << 20, "the server kept reading: %zu bytes", sent);
	close(fd);
	/* and the worker still serves others */
	fd = tcp_connect(&fx);
	ck_assert_int_gt(send(fd, q, make_tcp_query(q, 7), 0), 0);
	expect_tcp_answer(fd, 7);
	close(fd);
	fx_stop(&fx);
}
END_TEST

START_TEST(stop_with_open_connection)
{
	struct fixture fx;
	uint8_t q[64];
	double t0;
	int fd;

	fx_start(&fx, 2, 10000, 0);
	fd = tcp_connect(&fx);
	ck_assert_int_gt(send(fd, q, make_tcp_query(q, 1), 0), 0);
	expect_tcp_answer(fd, 1);
	t0 = now_s();
	dns_server_stop(fx.srv);
	ck_assert_msg(now_s() - t0 < 1.0, "stop waited for an idle connection");
	ck_assert(closed_within(fd, 1000));
	close(fd);
	fx_stop(&fx);
}
END_TEST

START_TEST(bind_conflict_fails)
{
	struct reg_errors errs = {0};
	struct registry *reg = NULL;
	struct dns_server_config cfg = {0};
	struct dns_server *srv = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct reg_listen l = {0};
	socklen_t len = sizeof(sa);
	char err[256];
	int fd = -1, tcp, one = 1;

	ck_assert_int_eq(registry_load_string(yaml, "t.yaml", &reg, &errs), 0);
	/* The port's TCP side must stay free for the server's TCP probe, which runs
	 * first: a UDP port from the kernel says nothing about TCP, where another
	 * process's connection may use the same number. So the TCP port is taken
	 * first, by a socket that only binds: with SO_REUSEADDR on both sides that
	 * leaves the probe free, while no connection picks it as its source port. */
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(tcp, 0);
	ck_assert_int_eq(setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 100; i++) {
		sa.sin_port = 0;
		ck_assert_int_eq(bind(tcp, (struct sockaddr *)&sa, sizeof(sa)), 0);
		len = sizeof(sa);
		getsockname(tcp, (struct sockaddr *)&sa, &len);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		/* that UDP port is someone else's: try another pair */
		close(fd);
		fd = -1;
		close(tcp);
		tcp = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	ck_assert_int_ge(fd, 0);
	memcpy(&l.addr, &sa, sizeof(sa));
	l.addr_len = sizeof(sa);
	l.text = "127.0.0.1:taken";
	cfg.listen = &l;
	cfg.n_listen = 1;
	cfg.n_workers = 2;
	ck_assert_int_eq(dns_server_create(&cfg, &srv, err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_null(srv);
	ck_assert_str_eq(err, "cannot bind 127.0.0.1:taken (udp): Address already in use");
	close(fd);
	close(tcp);
	registry_free(reg);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *f = tcase_create("frame");
	TCase *e = tcase_create("end-to-end");

	tcase_add_test(f, frame_short);
	tcase_add_test(f, frame_whole_and_more);
	tcase_add_test(f, frame_empty_and_max);
	tcase_set_timeout(e, 30);
	tcase_add_test(e, udp_answers);
	tcase_add_test(e, udp_and_tcp_share_port_and_count);
	tcase_add_test(e, tcp_pipelined_in_order);
	tcase_add_test(e, tcp_zero_length_closes);
	tcase_add_test(e, tcp_idle_timeout);
	tcase_add_test(e, tcp_max_connections_evicts_oldest);
	tcase_add_test(e, tcp_output_is_bounded);
	tcase_add_test(e, stop_with_open_connection);
	tcase_add_test(e, bind_conflict_fails);
	suite_add_tcase(s, f);
	suite_add_tcase(s, e);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LEVEL_WARN);
	return check_run(server_suite());
}

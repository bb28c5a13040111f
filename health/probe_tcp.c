/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_tcp.c: check type tcp: a non-blocking connect succeeds. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "health/probe_int.h"

struct tcp_probe {
	int fd;
	struct event *io;
};

static void tcp_release(struct health_probe *p)
{
	struct tcp_probe *t = p->priv;

	if (t->io)
		event_free(t->io);
	if (t->fd >= 0)
		probe_close_socket(t->fd);
	free(t);
	p->priv = NULL;
}

/* A connect to a closed loopback port in the ephemeral range can pick that
 * very port as its source and connect to itself (TCP simultaneous open):
 * nothing listens there, so it is a refusal, not a pass. */
static void tcp_connected(struct health_probe *p, int fd)
{
	if (health_probe_self_connected(fd))
		probe_finish(p, 0, "connect: Connection refused (connected to itself)");
	else
		probe_finish(p, 1, "tcp: connected");
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		probe_finish(p, 0, "connect: %s", strerror(err));
	else
		tcp_connected(p, fd);
}

static int tcp_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	struct tcp_probe *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->priv = t;
	if (t->fd < 0) {
		probe_socket_failed(p, errno);
		return 0;
	}
	if (connect(t->fd, sa, salen) == 0) {
		tcp_connected(p, t->fd);
		return 0;
	}
	if (errno != EINPROGRESS) {
		probe_finish(p, 0, "connect: %s", strerror(errno));
		return 0;
	}
	t->io = event_new(p->base, t->fd, EV_WRITE, on_writable, p);
	if (!t->io || event_add(t->io, NULL) < 0) {
		tcp_release(p);
		return -ENOMEM;
	}
	return 0;
}

const struct probe_ops probe_tcp_ops = {.start = tcp_start, .release = tcp_release};

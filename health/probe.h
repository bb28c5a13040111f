/* SPDX-License-Identifier: BSD-3-Clause */
/* probe.h: one health probe of any check type (probe_tcp.c, probe_http.c,
 * ...: see probe_int.h) on an event base, bounded by the check's timeout,
 * to a numeric address (no DNS).
 *
 * A probe reports exactly once through its callback, always from the event
 * loop (never from inside health_probe_start()), and is freed by this module
 * right after the callback returns. Result texts: "tcp: connected",
 * "http: status 200", "connect: Connection refused", "timeout after 1000 ms",
 * "http: connection closed", ...
 */
#ifndef SRVD_HEALTH_PROBE_H
#define SRVD_HEALTH_PROBE_H

#include <sys/socket.h>

#include "common/check.h"

struct event_base;
struct health_probe;

/* pass: HEALTH_PROBE_PASS, HEALTH_PROBE_FAIL, or HEALTH_PROBE_LOCAL when
 * srvd itself could not probe (no file descriptor or memory for a socket:
 * EMFILE, ENFILE, ENOBUFS, ENOMEM), which says nothing about the backend.
 * text: the reason, borrowed for the call. */
#define HEALTH_PROBE_PASS  1
#define HEALTH_PROBE_FAIL  0
#define HEALTH_PROBE_LOCAL (-1)
typedef void (*health_probe_cb)(int pass, const char *text, void *arg);

/* 1 if the check type has a probe (every type but none). */
int health_probe_type_probed(enum check_type type);

/* Starts a probe of type cfg->type to sa (AF_INET or
 * AF_INET6 with the port to probe) on base. Borrows cfg until the callback
 * ran or the probe was cancelled; copies sa. connect() errors are reported
 * through cb as failed results, a socket() that finds no resources as
 * HEALTH_PROBE_LOCAL. Returns 0
 * and sets *out (valid until cb ran or health_probe_cancel()), or -ENOMEM /
 * -EINVAL (a type never probed, or a bad address) with no callback to come. */
int health_probe_start(struct event_base *base, const struct check_config *cfg,
                       const struct sockaddr *sa, socklen_t salen, health_probe_cb cb, void *arg,
                       struct health_probe **out);

/* Stops a probe that has not reported yet and frees it; cb will not run.
 * Must not be called from inside its own callback. Accepts NULL. */
void health_probe_cancel(struct health_probe *p);

/* Returns 1 when the connected TCP socket fd is connected to itself (its
 * local address is its peer's), else 0. */
int health_probe_self_connected(int fd);

/* Returns 1 when errno value err means srvd lacks resources for a socket. */
int health_probe_local_errno(int err);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* log.h: one line per event on stderr, with a level, optionally copied to syslog(3), and the
 * optional query log (server.log_queries); thread-safe. */
#ifndef SRVD_LOG_H
#define SRVD_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum log_level { LOG_LEVEL_ERR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Messages above this level are dropped (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Routes libevent's own messages through log_*. */
void log_route_libevent(void);

/* server.syslog: facility is a LOG_* facility of <syslog.h> (LOG_DAEMON,
 * LOG_LOCAL0...), or -1 for off (the default). Every line that reaches
 * stderr is then also sent to syslog(3) as "srvd[PID]" with the level
 * mapped (err, warning, info, debug). Call from the main thread (start-up,
 * reload); changing the facility reopens the connection. */
void log_set_syslog(int facility);

/* server.log_queries. Off by default; the flag is read with one relaxed
 * load per query, so a query log that is off costs nothing else. */
void log_set_queries(int on);
extern _Atomic int log_queries_flag;
static inline int log_queries_on(void)
{
	return atomic_load_explicit(&log_queries_flag, memory_order_relaxed);
}

/* Logs one query at info level:
 *   query CLIENT NAME TYPE CLASS rcode=RCODE size=SIZE udp|tcp
 * CLIENT is peer's address (and port: 127.0.0.1#5353, ::1#5353), NAME,
 * TYPE and CLASS come from the question of query (qlen bytes, the client's
 * letter case, unprintable bytes escaped as \DDD; "-" when it does not
 * parse), RCODE is the response's (extended) rcode, SIZE the response's
 * length in bytes; size 0 means dropped and logs rcode=- size=0. Borrows
 * everything for the call. Any thread; call only when log_queries_on(). */
void log_query(const struct sockaddr *peer, const uint8_t *query, size_t qlen, unsigned rcode,
               size_t size, int tcp);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c: leveled logging to stderr (and syslog), one write(2) per line so threads do not
 * interleave, and the query log's line format. */
#include "common/log.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 2048

static _Atomic int current_level = LOG_LEVEL_INFO;
static _Atomic int syslog_facility = -1; /* -1: off */
_Atomic int log_queries_flag = 0;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int level_syslog[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void log_set_level(enum log_level level)
{
	if (level < LOG_LEVEL_ERR)
		level = LOG_LEVEL_ERR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

void log_set_syslog(int facility)
{
	int old = atomic_load(&syslog_facility);

	if (facility == old)
		return;
	/* glibc's openlog() and syslog() share one lock, so workers logging
	 * meanwhile see either facility; LOG_NDELAY connects now, before a
	 * privilege drop could make /dev/log unreachable */
	if (facility >= 0)
		openlog("srvd", LOG_PID | LOG_NDELAY, facility);
	atomic_store(&syslog_facility, facility);
	if (facility < 0 && old >= 0)
		closelog();
}

void log_set_queries(int on)
{
	atomic_store(&log_queries_flag, on ? 1 : 0);
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	struct timespec ts;
	struct tm tm;
	size_t n, msg;
	int r, facility;

	if ((int)level > atomic_load(&current_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ srvd[%ld] %s: ", ts.tv_nsec / 1000000,
	             (long)getpid(), level_names[level]);
	if (r > 0)
		n += (size_t)r;
	msg = n < sizeof(line) ? n : sizeof(line) - 1;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
	facility = atomic_load(&syslog_facility);
	if (facility >= 0) {
		/* syslog adds its own time stamp, name and pid */
		line[n - 1] = '\0';
		syslog(facility | level_syslog[level], "%s", line + msg);
	}
}

#define LOG_FN(fn, level)                                                                          \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(level, fmt, ap);                                                        \
		va_end(ap);                                                                        \
	}

LOG_FN(log_err, LOG_LEVEL_ERR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

static void libevent_log(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_err("libevent: %s", msg);
		break;
	}
}

void log_route_libevent(void)
{
	event_set_log_callback(libevent_log);
}

/* --- the query log ------------------------------------------------------------------------ */

/* Writes the question name of msg in presentation form into out (at least
 * 4 * 255 + 2 bytes) and sets *end to the offset after it; returns 0, or
 * -1 when the question does not parse. Every byte that could split a log
 * field or line (blanks, controls, non-ASCII) is escaped as \DDD. */
static int question_name(const uint8_t *msg, size_t len, size_t *end, char *out)
{
	size_t pos = 12, o = 0, total = 0;

	if (len < 12 || ((size_t)msg[4] << 8 | msg[5]) == 0)
		return -1;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = msg[pos++];
		if (l == 0)
			break;
		/* a question has no compression pointers; names are at most 255 */
		if (l > 63 || pos + l > len || (total += (size_t)l + 1) > 255)
			return -1;
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = msg[pos + i];

			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= ' ' || c >= 0x7f || c == '"') {
				o += (size_t)snprintf(out + o, 5, "\\%03u", c);
			} else {
				out[o++] = (char)c;
			}
		}
		out[o++] = '.';
		pos += l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	*end = pos;
	return 0;
}

static const char *type_name(uint16_t type, char *buf, size_t cap)
{
	const ldns_rr_descriptor *d;

	switch (type) {
	case 251:
		return "IXFR";
	case 252:
		return "AXFR";
	case 255:
		return "ANY";
	default:
		break;
	}
	d = ldns_rr_descript(type);
	if (d && d->_type == type && d->_name)
		return d->_name;
	snprintf(buf, cap, "TYPE%u", type);
	return buf;
}

static const char *class_name(uint16_t cls, char *buf, size_t cap)
{
	switch (cls) {
	case 1:
		return "IN";
	case 3:
		return "CH";
	case 4:
		return "HS";
	case 254:
		return "NONE";
	case 255:
		return "ANY";
	default:
		snprintf(buf, cap, "CLASS%u", cls);
		return buf;
	}
}

static const char *rcode_name(unsigned rcode, char *buf, size_t cap)
{
	static const char *const names[] = {
	    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
	};

	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, cap, "RCODE%u", rcode);
	return buf;
}

static void peer_text(const struct sockaddr *peer, char *out, size_t cap)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned port = 0;

	strcpy(addr, "-");
	if (peer && peer->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)peer;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
	} else if (peer && peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)peer;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, cap, "%s#%u", addr, port);
}

void log_query(const struct sockaddr *peer, const uint8_t *query, size_t qlen, unsigned rcode,
               size_t size, int tcp)
{
	char name[4 * 255 + 2], client[INET6_ADDRSTRLEN + 8], tbuf[16], cbuf[16], rbuf[16];
	const char *type = "-", *cls = "-", *rc = "-";
	size_t end;

	if (log_get_level() < LOG_LEVEL_INFO)
		return;
	if (query && question_name(query, qlen, &end, name) == 0 && end + 4 <= qlen) {
		type = type_name((uint16_t)(query[end] << 8 | query[end + 1]), tbuf, sizeof(tbuf));
		cls = class_name((uint16_t)(query[end + 2] << 8 | query[end + 3]), cbuf,
		                 sizeof(cbuf));
	} else {
		strcpy(name, "-");
	}
	if (size > 0)
		rc = rcode_name(rcode, rbuf, sizeof(rbuf));
	peer_text(peer, client, sizeof(client));
	log_info("query %s %s %s %s rcode=%s size=%zu %s", client, name, type, cls, rc, size,
	         tcp ? "tcp" : "udp");
}

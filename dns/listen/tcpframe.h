/* SPDX-License-Identifier: BSD-3-Clause */
/* tcpframe.h: the DNS-over-TCP framing of one connection (RFC 1035 4.2.2,
 * RFC 7766), on evbuffers and without sockets, so that tcp.c drives it from
 * a bufferevent and the fuzzer (tests/fuzz/fuzz_tcp.c) from plain buffers.
 *
 * Each call answers every whole query in the input, in order, appending one
 * length-prefixed response per answered query to the output (several for a
 * zone transfer, through `stream`), and says what the connection must do
 * next. Output is bounded: no query is answered while more than out_hiwat
 * bytes wait in the output, so it never holds more than out_hiwat + 2 +
 * DNS_MAX_MSG bytes from this call. Answers that come later (forwarded
 * queries, the rest of a zone transfer) are bounded by the caller through
 * `busy`: while it says so, no further query is taken. Private to dns/ and
 * its tests.
 */
#ifndef SRVD_DNS_TCPFRAME_H
#define SRVD_DNS_TCPFRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* TCP framing, pure so it can be unit-tested and fuzzed: looks at the first
 * len bytes of a stream (RFC 1035 4.2.2). */
enum dns_frame {
	DNS_FRAME_MORE = 0, /* incomplete: *need = bytes needed in all (2 until the prefix is in) */
	DNS_FRAME_OK,       /* a whole message at buf + 2, *need - 2 bytes long */
	DNS_FRAME_EMPTY,    /* zero-length message: the connection must be closed */
};
enum dns_frame dns_frame_peek(const uint8_t *buf, size_t len, size_t *need);

enum dns_tcpframe_next {
	DNS_TCPFRAME_MORE = 0, /* every whole query is answered: read more */
	DNS_TCPFRAME_CLOSE,    /* a zero-length message: close once the output is written */
	DNS_TCPFRAME_PAUSED,   /* output above out_hiwat, or busy: stop reading until it drains */
	DNS_TCPFRAME_ERROR,    /* out of memory: drop the connection */
};

/* Answers query (qlen bytes, 1..65535) into out, which holds DNS_MAX_MSG
 * bytes; returns the response length, or 0 for no response (or one that
 * comes later, e.g. a forwarded query). */
typedef size_t (*dns_tcpframe_answer_fn)(void *arg, const uint8_t *query, size_t qlen,
                                         uint8_t *out);

/* Optional: answers query itself when its answer may be several messages
 * (AXFR/IXFR), appending them (or the first of them: `busy` holds the next
 * queries back while the rest is produced) with their length prefixes to
 * out. Returns 1 if it took the query, 0 to leave it to `answer`, -1 on out
 * of memory. */
typedef int (*dns_tcpframe_stream_fn)(void *arg, const uint8_t *query, size_t qlen,
                                      struct evbuffer *out);

/* Optional: nonzero while the connection must take no further query (answers
 * still to come are at their bound); the call then stops before the next
 * query and returns DNS_TCPFRAME_PAUSED. */
typedef int (*dns_tcpframe_busy_fn)(void *arg);

struct dns_tcpframe {
	dns_tcpframe_answer_fn answer;
	dns_tcpframe_stream_fn stream; /* may be NULL */
	dns_tcpframe_busy_fn busy;     /* may be NULL */
	void *arg;                     /* passed to answer and stream */
	uint8_t *buf;     /* scratch of 2 + DNS_MAX_MSG bytes: length prefix and response */
	size_t out_hiwat; /* answer nothing while the output holds more than this */
};

/* Consumes every whole query at the front of in (stopping at a zero-length
 * message, which stays in in) and appends the responses to out. Borrows
 * everything for the call only. *n_queries (may be NULL) gets the number of
 * queries consumed, answered or not. */
enum dns_tcpframe_next dns_tcpframe_process(const struct dns_tcpframe *f, struct evbuffer *in,
                                            struct evbuffer *out, size_t *n_queries);

#endif

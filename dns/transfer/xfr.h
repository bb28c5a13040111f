/* SPDX-License-Identifier: BSD-3-Clause */
/* xfr.h: zone transfers out (README "Running many servers"): AXFR (RFC 5936) and IXFR (RFC 1995)
 * of the service zone as served now, from a bounded history of versions,
 * behind the server.transfer.allow ACL.
 *
 * A version is a snapshot (struct dns_xfr_zone) of the service zone: every
 * record srvd answers in zone 0 of a table, read with the health state of
 * that moment, as uncompressed wire records in transfer order, with a
 * sorted index for diffs. What is in it:
 * - static records of every name of the zone, the SOA (with the table's
 *   current serial) first and last, not in between;
 * - <svc>, <tag>.<svc>: A/AAAA (each address once) and SRV of the served
 *   instances (every instance while the service is in panic), registry
 *   order (a secondary rotates itself);
 * - _<svc>._<proto>, _<tag>._<proto>.<svc>: SRV of the served instances;
 * - <inst>.<svc>: its A or AAAA whatever its health, as srvd answers it.
 * Left out, because their answers change per query or are for this server
 * only: _health TXT (formatted at query time) and _ready.
 *
 * The history (struct dns_xfr_history) keeps the last versions, by serial.
 * The daemon records one after each serial change, on the thread that
 * writes health state and serials (daemon/serial.c), so a version's content
 * is what its serial stands for. A transfer sends the newest recorded
 * version when its serial is the table's; otherwise (nothing recorded yet,
 * or a new table not recorded yet) it snapshots the live table and records
 * that. Health changes waiting for their (coalesced) serial bump are thus
 * not sent under the old serial. Should two different contents ever be
 * seen under one serial, that version is marked and no IXFR diff starts
 * from it (the client gets the whole zone). Thread-safe: workers answer
 * transfers concurrently under its lock.
 */
#ifndef SRVD_DNS_XFR_H
#define SRVD_DNS_XFR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_table;
struct evbuffer;

#define DNS_XFR_HISTORY_VERSIONS 16                   /* default versions kept */
#define DNS_XFR_HISTORY_BYTES    (128u * 1024 * 1024) /* default bound on their bytes */
#define DNS_XFR_RUNNING          16 /* transfers sent at once, server-wide; more: SERVFAIL */

/* server.transfer.allow: "127.0.0.0/8", "::1", "2001:db8::/32". */
struct dns_xfr_acl;

/* Parses n prefixes (a bare address is a host prefix). Borrows prefixes for
 * the call only. Returns 0 and sets *out (caller frees with
 * dns_xfr_acl_free(); n == 0 gives an ACL that allows nobody), or -1 with a
 * message in err. */
int dns_xfr_acl_create(char *const *prefixes, size_t n, struct dns_xfr_acl **out, char *err,
                       size_t errlen);
void dns_xfr_acl_free(struct dns_xfr_acl *acl); /* accepts NULL */

/* 1 if sa (AF_INET or AF_INET6; v4-mapped v6 counts as v4) is allowed,
 * else 0. A NULL acl allows nobody. */
int dns_xfr_acl_allows(const struct dns_xfr_acl *acl, const struct sockaddr *sa);

/* One version of the zone. */
struct dns_xfr_zone;

/* Snapshots zone 0 of table as served now (see above). Borrows table for
 * the call only. Returns NULL on out of memory; caller frees with
 * dns_xfr_zone_free(), which accepts NULL (snapshots are reference-counted
 * inside: it drops the caller's reference). */
struct dns_xfr_zone *dns_xfr_zone_build(const struct dns_table *table);
void dns_xfr_zone_free(struct dns_xfr_zone *z);
uint32_t dns_xfr_zone_serial(const struct dns_xfr_zone *z);
/* Records in the zone, the SOA counted once. */
size_t dns_xfr_zone_count(const struct dns_xfr_zone *z);

struct dns_xfr_history;

/* Keeps at most max_versions (0: DNS_XFR_HISTORY_VERSIONS) versions and
 * max_bytes of records (0: DNS_XFR_HISTORY_BYTES), dropping the oldest.
 * Returns NULL on out of memory; caller frees with dns_xfr_history_free(),
 * which accepts NULL. */
struct dns_xfr_history *dns_xfr_history_create(size_t max_versions, size_t max_bytes);
void dns_xfr_history_free(struct dns_xfr_history *h);

/* Snapshots table and records the version if its serial is new (see above
 * for one already there). Returns 0, or -1 on out of memory. Thread-safe. */
int dns_xfr_history_record(struct dns_xfr_history *h, const struct dns_table *table);

/* What a query is: DNS_XFR_AXFR or DNS_XFR_IXFR for a well-formed QUERY
 * (QR=0, opcode 0, one question, class IN or ANY) of that type, else
 * DNS_XFR_NONE (the normal answer path takes it). Cheap: for the TCP path to
 * route queries. */
enum dns_xfr_kind {
	DNS_XFR_NONE = 0,
	DNS_XFR_AXFR,
	DNS_XFR_IXFR,
};
enum dns_xfr_kind dns_xfr_query_kind(const uint8_t *query, size_t qlen);

/* What dns_xfr_answer() did, for counters and the log line. */
struct dns_xfr_result {
	enum dns_xfr_kind asked;  /* the query's type */
	enum dns_xfr_kind served; /* AXFR also for an IXFR answered in full; NONE if refused */
	uint16_t rcode;           /* 0, or REFUSED/NOTAUTH/FORMERR/SERVFAIL sent instead */
	uint32_t serial;          /* the zone's serial sent */
	uint32_t client_serial;   /* IXFR: the client's */
	size_t records;           /* resource records sent, SOAs included */
	size_t messages;
	size_t bytes; /* without length prefixes */
};

/* One answer to an AXFR or IXFR query over TCP, produced as the client
 * reads it: each message with its 2-byte length prefix (RFC 1035 4.2.2).
 * allowed is the ACL's verdict on the client: 0 gives one REFUSED message.
 * A query for a name other than the service zone's apex gets NOTAUTH; a
 * malformed one FORMERR; busy (1: too many transfers running) a good one
 * SERVFAIL, as BIND does past its transfers-out. Messages hold at most
 * msg_max bytes (0: 65535; at least 512), the question in the first only,
 * AA set. The table is borrowed for dns_xfr_stream_start() only: the stream
 * holds references to the versions it sends (from h, which may be NULL:
 * no history, IXFR answers in full) and copies of what else it needs, so it
 * may outlive the table. A query to drop gives a stream with nothing to
 * send. Returns NULL on out of memory; caller frees with
 * dns_xfr_stream_free(), which accepts NULL. Not thread-safe itself: one
 * thread drives a stream. */
struct dns_xfr_stream;
struct dns_xfr_stream *dns_xfr_stream_start(struct dns_xfr_history *h,
                                            const struct dns_table *table, const uint8_t *query,
                                            size_t qlen, int allowed, int busy, size_t msg_max);

/* Appends the next messages of st to out until out holds at least until
 * bytes (it may end up to one message past it). Returns 1 when the answer
 * is complete, 0 when there is more (call again once out has drained), -1
 * on out of memory (out may hold part of a message: drop the connection). */
int dns_xfr_stream_next(struct dns_xfr_stream *st, struct evbuffer *out, size_t until);

/* What the stream did so far (complete once next returned 1). */
const struct dns_xfr_result *dns_xfr_stream_result(const struct dns_xfr_stream *st);
void dns_xfr_stream_free(struct dns_xfr_stream *st);

/* The whole answer at once into out (a stream run to its end; for tests):
 * res (may be NULL) gets its result. Returns 0, or -1 on out of memory. */
int dns_xfr_answer(struct dns_xfr_history *h, const struct dns_table *table, const uint8_t *query,
                   size_t qlen, int allowed, size_t msg_max, struct evbuffer *out,
                   struct dns_xfr_result *res);

#endif

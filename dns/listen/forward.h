/* SPDX-License-Identifier: BSD-3-Clause */
/* forward.h: server.forward (README "Forwarding names outside srvd's zones"): relaying queries for
 * names outside every served zone to upstream resolvers, without blocking a worker.
 *
 * Each worker owns one struct dns_fwd: a fixed table of pending queries
 * (DNS_FWD_PENDING slots, allocated at start, so forwarding allocates nothing
 * per query but its socket). Every try of a query (RFC 5452 9.2, as Unbound
 * does) goes out from a fresh UDP socket connect()ed to the upstream: the
 * kernel gives it a random ephemeral port and delivers only that upstream's
 * datagrams to it, and it is closed when the try ends, so a spoofer must
 * guess the port as well as the ID. At most DNS_FWD_PENDING such sockets
 * per worker; when none can be opened (EMFILE...) the client gets SERVFAIL
 * and the failure is counted. A try gets a random 16-bit upstream ID, unique
 * in the table, and a random letter case of the question name (dns-0x20,
 * draft-vixie-dnsext-dns0x20); a reply is taken only if it carries that ID
 * and repeats the question exactly, letter case included (a spoofed or late
 * reply is dropped; so is the reply of an upstream that does not preserve
 * case: logged once per upstream). Upstreams are tried in order, each for
 * the forward timeout; a timeout, a send error, an ICMP port unreachable, or
 * SERVFAIL / REFUSED from the upstream moves on to the next; after the last
 * the client gets SERVFAIL, as it does when the table is full. The client's
 * query bytes go out unchanged but for the ID and the name's letter case
 * (EDNS included); the answer comes back with the client's ID, question and
 * RA.
 *
 * Truncation: a UDP client gets the upstream's TC answer as it is and retries
 * over TCP. A TCP client's query is also sent over UDP first; if that answer is
 * truncated, the same upstream is asked again over TCP (one connection per
 * query, the only allocation of this module), so a TCP client gets the whole
 * answer.
 *
 * The pure parts (the pending table, IDs and letter case, reply matching,
 * failover, address parsing, the SERVFAIL answer) have no sockets and are
 * unit-tested.
 */
#ifndef SRVD_DNS_FORWARD_H
#define SRVD_DNS_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/answer/answer.h"

#define DNS_FWD_PENDING       1024 /* pending queries (and sockets) per worker; full: SERVFAIL */
#define DNS_FWD_QMAX          1232 /* longest query forwarded; longer: SERVFAIL */
#define DNS_FWD_MAX_UPSTREAMS 16   /* further entries of server.forward are ignored */
#define DNS_FWD_CMSG          64   /* the UDP reply's source-address control message */

struct event;
struct event_base;
struct bufferevent;
struct dns_worker;
struct udp_sock;
struct tcp_conn;
struct dns_fwd;

struct dns_fwd_upstream {
	struct sockaddr_storage addr;
	socklen_t len;
};

/* Parses a server.forward entry: "192.0.2.1:53" or "[2001:db8::1]:53" (a
 * literal address and a port 1..65535, common/addr.h). Returns 0, or -1 if
 * text is not such an address. */
int dns_fwd_parse_addr(const char *text, struct dns_fwd_upstream *out);

/* One pending query. */
struct dns_fwd_slot {
	uint16_t up_id;     /* the ID sent upstream */
	uint16_t client_id; /* the client's ID, restored on the answer */
	uint8_t in_use;
	uint8_t upstream; /* index into the upstreams: the one being tried */
	uint8_t over_tcp; /* the current upstream is being asked over TCP */
	uint8_t client_tcp;
	uint16_t qlen; /* bytes in query */
	uint16_t qend; /* end of the question in query (12 + name + 4) */
	/* bit i set: the letter at query[12 + i] goes out in the other case */
	uint8_t case_mask[32];
	uint32_t next; /* free list link */
	uint64_t start_ns;
	uint8_t query[DNS_FWD_QMAX]; /* as the client sent it */
	/* the client: a UDP socket and peer, or a TCP connection */
	struct udp_sock *udp;
	struct tcp_conn *conn;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t cmsg[DNS_FWD_CMSG];
	size_t cmsg_len;
	/* per slot, made at start */
	struct dns_fwd *f; /* the engine that owns it */
	struct event *timer;
	struct event *rev;       /* readable event of fd, assigned per try */
	int fd;                  /* the UDP socket of the current try; -1: none */
	struct bufferevent *bev; /* the upstream TCP connection, while over_tcp */
};

/* The pending table of one worker. by_id maps an upstream ID to slot + 1. */
struct dns_fwd_table {
	struct dns_fwd_slot *slots;
	uint32_t n, used, free_head;
	uint16_t *by_id; /* 65536 entries */
	uint64_t rng;    /* xorshift state for IDs and letter case */
};

/* Allocates n (1..65535) slots; seed 0 seeds from getrandom. Returns 0 or -ENOMEM. */
int dns_fwd_table_init(struct dns_fwd_table *t, uint32_t n, uint64_t seed);
/* Frees what init allocated (not the slots' events); accepts a zeroed table. */
void dns_fwd_table_fini(struct dns_fwd_table *t);

/* Takes a free slot and gives it a fresh random ID no other pending slot has.
 * Returns NULL when every slot is in use. */
struct dns_fwd_slot *dns_fwd_table_get(struct dns_fwd_table *t);
/* Gives s a new random unique ID and letter case (before asking the next
 * upstream, so a late reply of the previous one is dropped). */
void dns_fwd_table_rekey(struct dns_fwd_table *t, struct dns_fwd_slot *s);
/* Draws a new random letter case for the question name of s (after
 * dns_fwd_slot_set_query()): each ASCII letter of it is flipped or not. */
void dns_fwd_table_recase(struct dns_fwd_table *t, struct dns_fwd_slot *s);
/* The pending slot with upstream ID id, or NULL. */
struct dns_fwd_slot *dns_fwd_table_find(const struct dns_fwd_table *t, uint16_t id);
/* Returns s to the free list. */
void dns_fwd_table_put(struct dns_fwd_table *t, struct dns_fwd_slot *s);

/* Copies a client query into s (ID kept apart, question end found, letter
 * case as sent). Returns 0, or -1 if it is longer than DNS_FWD_QMAX or has no
 * single well-formed question. */
int dns_fwd_slot_set_query(struct dns_fwd_slot *s, const uint8_t *query, size_t qlen);

/* Length of the header and question section of msg (12 + QNAME + 4) if it
 * holds exactly one question, its name uncompressed and at most 255 bytes,
 * else 0. */
size_t dns_fwd_question_end(const uint8_t *msg, size_t len);

/* Writes the query of s as it goes upstream into out (at least s->qlen
 * bytes): the upstream ID and the letter case of case_mask. Returns its
 * length. */
size_t dns_fwd_encode(const struct dns_fwd_slot *s, uint8_t *out);

enum dns_fwd_verdict {
	DNS_FWD_DROP = 0,  /* not the reply to s (wrong ID, not a response, other question) */
	DNS_FWD_ACCEPT,    /* the answer: relay it */
	DNS_FWD_FAILOVER,  /* SERVFAIL or REFUSED: try the next upstream */
	DNS_FWD_TRUNCATED, /* TC: relay (UDP client) or ask over TCP (TCP client) */
	DNS_FWD_CASE       /* the question but for its letter case: dropped as a spoof */
};
/* Judges reply (len bytes) as the answer to slot s. */
enum dns_fwd_verdict dns_fwd_judge(const struct dns_fwd_slot *s, const uint8_t *reply, size_t len);

/* Moves s to the next upstream of n; returns 0, or -1 when none is left. */
int dns_fwd_next_upstream(struct dns_fwd_slot *s, size_t n);

/* Writes the answer for the client into out (the reply with the client's ID,
 * question name as the client wrote it, and RA set); reply and out may be the
 * same buffer. reply must have been judged the answer to s. */
void dns_fwd_restore(const struct dns_fwd_slot *s, const uint8_t *reply, size_t len, uint8_t *out);

/* Writes a SERVFAIL answer (header and question, RA set, the client's ID and
 * RD) for the query in s into out (at least s->qend bytes); returns its length. */
size_t dns_fwd_servfail(const struct dns_fwd_slot *s, uint8_t *out);

/* The same for a raw query that could not get a slot; 0 if it has no question. */
size_t dns_fwd_servfail_raw(const uint8_t *query, size_t qlen, uint8_t *out, size_t outcap);

/* --- the per-worker engine (forward.c, with libevent) --- */

/* Creates the engine of worker w on base with the upstreams up[n] (copied)
 * tried for timeout_ms each. Returns NULL on out of memory or if no socket
 * of an upstream's address family can be opened (logged). Caller frees with
 * dns_fwd_free() (accepts NULL), after the base has stopped running. */
struct dns_fwd *dns_fwd_create(struct dns_worker *w, struct event_base *base,
                               const struct dns_fwd_upstream *up, size_t n, unsigned timeout_ms);
void dns_fwd_free(struct dns_fwd *f);

/* Relays a query from a UDP client: peer and the control message (cmsg,
 * cmsg_len bytes, may be 0) are copied. Returns 0 when the query is pending
 * (the answer comes later), -1 when it could not be (the caller answers
 * SERVFAIL). */
int dns_fwd_udp(struct dns_fwd *f, struct udp_sock *u, const struct sockaddr_storage *peer,
                socklen_t peer_len, const uint8_t *cmsg, size_t cmsg_len, const uint8_t *query,
                size_t qlen);

/* The same for a TCP client; the connection must call dns_fwd_forget_conn()
 * before it is freed. */
int dns_fwd_tcp(struct dns_fwd *f, struct tcp_conn *c, const uint8_t *query, size_t qlen);

/* Drops every pending query of c: their answers will not be sent. */
void dns_fwd_forget_conn(struct dns_fwd *f, struct tcp_conn *c);

#endif

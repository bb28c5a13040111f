/* SPDX-License-Identifier: BSD-3-Clause */
/* notify.h: NOTIFY (RFC 1996) to server.transfer.notify after a serial
 * change, on one event base (the main thread's), never blocking. */
#ifndef SRVD_DNS_TRANSFER_NOTIFY_H
#define SRVD_DNS_TRANSFER_NOTIFY_H

#include <stdint.h>

struct event_base;
struct registry;
struct dns_notify;

#define DNS_NOTIFY_TRIES 5 /* sends per serial and secondary (1+2+4+8+16 s) */

/* Counters since start, for /metrics. */
struct dns_notify_stats {
	uint64_t sent;    /* messages sent, retries included */
	uint64_t retried; /* of which retries */
	uint64_t acked;   /* secondaries that answered (any rcode) */
	uint64_t failed;  /* rounds given up without an answer */
};

/* Creates a sender on base. Returns 0 and sets *out (free with
 * dns_notify_free(), which accepts NULL), or -1. */
int dns_notify_create(struct event_base *base, struct dns_notify **out);

/* Starts a round for serial to reg's server.transfer.notify (signed with
 * its server.transfer.tsig; reg borrowed for the call), replacing the round
 * in flight. */
void dns_notify_send(struct dns_notify *n, const struct registry *reg, uint32_t serial);

void dns_notify_get_stats(const struct dns_notify *n, struct dns_notify_stats *out);
void dns_notify_free(struct dns_notify *n);

#endif

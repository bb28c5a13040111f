/* SPDX-License-Identifier: BSD-3-Clause */
/* serial.c: when the service zone's SOA serial changes, and what follows.
 *
 * The serial stands for the zone a secondary transfers, so it changes
 * exactly when the served content does: a reload with other answers
 * (reload.c builds the new table with the next serial), or a change of the
 * served set (an instance's served flag, a service's panic flag). Health
 * changes come one probe at a time, spread over a check round, and are
 * coalesced: the first bumps the serial at once (caches and tests see it
 * with the answer) and opens a DAEMON_SERIAL_COALESCE_MS window; at its end
 * the served set is compared with the one of the current serial and one
 * more bump covers the whole rest of the burst (none if it flapped back).
 * So a burst costs at most two serials, and no serial changes without a
 * change of content.
 *
 * Serials follow dns_serial_next(): max(serial + 1, unix time), RFC 1982
 * arithmetic, and srvd starts at unix time, so a restart is above every
 * serial of the previous run unless that run was ahead of the clock: more
 * than one change per second for a while (at most one per window after the
 * first, about five a second), and a restart before the clock caught up. A
 * secondary would then keep the old content under the reused serial until
 * the next change (README "Running many servers"). Waiting for the clock
 * instead would delay the serial behind the answers it stands for.
 *
 * After each change the new version is recorded for IXFR, NOTIFY goes out
 * (notify.c) and the observer hears of it (daemon_observe()); the first NOTIFY only once the first
 * round of checks is done, so no secondary is invited to transfer a zone whose checked instances
 * are still unknown.
 *
 * Recording a version is a sorted copy of the whole zone: with transfers off
 * (no server.transfer.allow at start, which a reload cannot change: every
 * transfer is REFUSED) there is no history and nothing is recorded. With
 * transfers on, the version and its NOTIFY wait for a zero timer, which
 * libevent runs after the next poll, so the API's reply (written when its
 * socket polls writable) goes out first. A transfer asking in between
 * snapshots the live table itself (xfr.h), and when several changes fall
 * before the timer only the newest is recorded: an IXFR then spans them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/answer/table.h"
#include "dns/transfer/xfr.h"
#include "health/health.h"
#include "registry/registry.h"

/* Takes the served set as the one the current serial stands for: its
 * hash, which the checker keeps at every change (health_served_hash()),
 * so that neither a reload nor a health change scans every instance. */
static void remember_served(struct daemon *d)
{
	d->served_hash = health_served_hash(d->health);
}

/* Records the current version for IXFR and sends NOTIFY for it. */
static void record_notify(struct daemon *d)
{
	uint32_t serial = dns_table_serial(d->table);

	if (d->xfr_history && dns_xfr_history_record(d->xfr_history, d->table) < 0)
		log_err("transfer: out of memory; serial %u is not in the IXFR history", serial);
	if (d->ready) /* else daemon_serial_ready() announces */
		dns_notify_send(d->notify, d->reg, serial);
}

static void on_record(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	record_notify(arg);
}

static void announce(struct daemon *d)
{
	static const struct timeval now = {0, 0};

	if (d->xfr_history)
		event_add(d->ev_record, &now); /* after the reply (see the top) */
	else
		record_notify(d);
	daemon_changed(d);
}

static void arm_ms(struct daemon *d, long ms)
{
	const struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(d->ev_serial, &tv);
}

static void arm(struct daemon *d)
{
	arm_ms(d, DAEMON_SERIAL_COALESCE_MS);
}

/* 1 if the served set differs from the one of the current serial. */
static int served_changed(struct daemon *d)
{
	return health_served_hash(d->health) != d->served_hash;
}

static void bump(struct daemon *d)
{
	uint32_t old = dns_table_serial(d->table);

	remember_served(d);
	dns_table_bump_serial(d->table);
	log_info("serial %u -> %u: the served set changed", old, dns_table_serial(d->table));
	announce(d);
}

/* The end of a window: changes since its start make one more serial. */
static void on_window(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (!served_changed(d)) {
		log_debug("serial %u stays: the served set is what it was",
		          dns_table_serial(d->table));
		return;
	}
	bump(d);
	arm(d);
}

int daemon_serial_init(struct daemon *d)
{
	d->ev_serial = event_new(d->base, -1, 0, on_window, d);
	d->ev_record = event_new(d->base, -1, 0, on_record, d);
	if (!d->ev_serial || !d->ev_record || dns_notify_create(d->base, &d->notify) < 0)
		return -1;
	remember_served(d);
	if (d->reg->server.n_transfer_allow == 0)
		return 0; /* nobody may transfer: no history to keep */
	d->xfr_history = dns_xfr_history_create(0, 0);
	if (!d->xfr_history)
		return -1;
	if (dns_xfr_history_record(d->xfr_history, d->table) < 0)
		return -1;
	return 0;
}

void daemon_serial_health_changed(struct daemon *d)
{
	/* the first change of a burst shows at once; the rest of the burst
	 * waits for the window's end and makes one more serial */
	if (event_pending(d->ev_serial, EV_TIMEOUT, NULL) || !served_changed(d))
		return;
	bump(d);
	arm(d);
}

void daemon_serial_reloaded(struct daemon *d)
{
	/* the new table carries the next serial already; a pending window
	 * compared against the old registry's set */
	event_del(d->ev_serial);
	remember_served(d);
	announce(d);
}

void daemon_serial_ready(struct daemon *d)
{
	announce(d);
}

void daemon_serial_free(struct daemon *d)
{
	if (d->ev_serial)
		event_free(d->ev_serial);
	d->ev_serial = NULL;
	if (d->ev_record)
		event_free(d->ev_record);
	d->ev_record = NULL;
	dns_notify_free(d->notify);
	d->notify = NULL;
	dns_xfr_history_free(d->xfr_history);
	d->xfr_history = NULL;
}

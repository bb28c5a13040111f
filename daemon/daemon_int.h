/* SPDX-License-Identifier: BSD-3-Clause */
/* daemon_int.h: the layout shared by daemon.c, reload.c, watch.c and privs.c; not for other
 * modules. */
#ifndef SRVD_DAEMON_INT_H
#define SRVD_DAEMON_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"

struct event;
struct event_base;
struct reg_source;
struct dns_notify;
struct dns_xfr_history;

#define DAEMON_RECLAIM_MS 10 /* how often retired tables are checked for readers */
/* a SIGHUP reloads this long after it; signals until then join that reload */
#define DAEMON_HUP_DELAY_MS 200
/* health changes within this window after the first make one serial change */
#define DAEMON_SERIAL_COALESCE_MS 200

/* server.user, resolved at start (privs.c). */
struct daemon_user {
	char name[256];
	uid_t uid;
	gid_t gid;
	int active; /* 1: drop to it after binding */
};

/* A table swapped out by a reload, with the checker whose state it points
 * into: both are freed together once no worker holds the table. */
struct daemon_retired {
	struct dns_table *table;
	struct health_garbage *garbage; /* the checker's blocks the change dropped */
	struct daemon_retired *next;
};

struct daemon_expiry;

struct daemon {
	const struct daemon_options *opt;
	struct event_base *base;
	struct registry *reg;    /* current */
	int reload_full;         /* 1: the next reload loads every file (SIGHUP) */
	struct dns_table *table; /* current, published to the workers */
	struct health *health;   /* current, for reg and table */
	uint64_t digest;         /* registry_digest(reg) */
	struct dns_server *srv;
	struct reg_source *src; /* where the registry comes from: files, watched */
	struct event *ev_term, *ev_int, *ev_hup, *ev_ready, *ev_reclaim;
	struct event *ev_hup_reload; /* pending: a SIGHUP reload is scheduled */
	struct daemon_retired *retired;
	int ready; /* `_ready` answered once: stays so across reloads */
	struct daemon_reload_stats stats;
	int64_t started_ms;
	struct daemon_user user; /* server.user at start; active: root was dropped */
	/* serial.c: the served set the current serial stands for, the coalescing
	 * window, the IXFR history and the NOTIFY sender */
	uint64_t served_hash; /* health_served_hash() the current serial stands for */
	struct event *ev_serial;
	struct event *ev_record;             /* pending: a version to record and NOTIFY */
	struct dns_xfr_history *xfr_history; /* NULL: transfers are off */
	struct dns_notify *notify;
	/* deregister.c: instances over check.deregister_after, to remove */
	struct daemon_expiry *expiries;
	struct event *ev_expire;
	/* daemon_observe(): told of serial and health status changes */
	void (*observer)(void *arg);
	void *observer_arg;
};

/* daemon.c */
int64_t daemon_now_ms(void);
/* The health checker's change callback (arg: the daemon). */
void daemon_on_health_change(void *arg);
/* Points table at the cells of h, the checker built from the same
 * registry (dns_table_bind_state). Returns 0, or -1 if they do not match. */
int daemon_bind_cells(struct dns_table *table, struct health *h);
/* Returns the free pages of the heap to the system (malloc_trim() where
 * there is one): after a reload or rejected load freed a registry or table. */
void daemon_give_back(void);
/* Queues table and health for freeing once no worker holds table. Takes both;
 * gives the memory back once freed. */
struct health_garbage;
void daemon_retire(struct daemon *d, struct dns_table *table, struct health_garbage *garbage);
size_t daemon_count_instances(const struct registry *reg);
/* Tells the observer (daemon_observe()) that something it follows changed. */
void daemon_changed(struct daemon *d);
/* Applies server.syslog and server.log_queries of reg (start-up, reload). */
void daemon_apply_logging(const struct registry *reg);

/* deregister.c: the checker's health_expire_fn (arg: the daemon), and its
 * cleanup in daemon_free(). */
void daemon_on_expire(void *arg, const char *service, const char *instance, int64_t failing_ms);
void daemon_expiries_free(struct daemon *d);

/* privs.c: server.user and the refusal, as root, of files others could write.
 * Resolves server.user (name may be NULL) into *out before anything is
 * bound. Not root: logs a warning and leaves out inactive. Returns 0, or -1
 * with err set (no such user). */
int daemon_user_lookup(const char *name, struct daemon_user *out, char *err, size_t errlen);
/* Becomes u for good (groups, gid, uid) and logs it; no-op when inactive.
 * Returns 0, or -1 with err set. */
int daemon_user_drop(const struct daemon_user *u, char *err, size_t errlen);
/* When the effective uid is 0, adds a line "PATH: why; refusing to load ...
 * as root (fix)" to errs for every file srvd reads (registry, include folders
 * and files, zone files) or folder above one, up to /, that is owned by
 * another user than root or reg's server.user, or writable by group or
 * others (a root-owned sticky folder passes above the folder holding the
 * files); symlinks resolved, their folders judged too. Returns 0 (none, or
 * not root) or -1. Borrows reg for the call. */
int daemon_unsafe_files(const struct registry *reg, struct reg_errors *errs);

/* serial.c: serial changes, IXFR versions and NOTIFY (see there). Call
 * init after the table and checker exist (0, or -1 on out of memory), the
 * others on the main thread: after a checker's change callback, after a
 * reload published a table with a new serial, once `_ready` answers. free
 * accepts a daemon it was never initialised for. */
int daemon_serial_init(struct daemon *d);
void daemon_serial_health_changed(struct daemon *d);
void daemon_serial_reloaded(struct daemon *d);
void daemon_serial_ready(struct daemon *d);
void daemon_serial_free(struct daemon *d);

#endif

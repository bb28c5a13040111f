/* SPDX-License-Identifier: BSD-3-Clause */
/* source.h: where a registry comes from, and where the services the control
 * API writes go. The daemon loads and watches through a source, the API
 * writes through it; neither knows what is behind it.
 *
 * The first source is the files (source_files.c): the main YAML file, its
 * include globs and zone files, watched with inotify, and one file per
 * service in the include folder for the API. A second source (a shared
 * store) is one more implementation of struct reg_source_ops; the answer
 * path never sees any of it.
 *
 * Change notifications name what changed, as precisely as the source knows
 * it (which files, which services), so that a reload can be made to cost
 * the change, not the registry.
 */
#ifndef SRVD_REGISTRY_SOURCE_H
#define SRVD_REGISTRY_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "registry/registry.h"

struct event_base;
struct reg_source;

/* What changed since the source last loaded. */
struct reg_change {
	const char *why;    /* for the log: "file change" (NULL), "etcd" */
	int everything;     /* something that affects all of it (the main file) */
	char *const *files; /* files written, renamed or removed (as watched) */
	size_t n_files;
	char *const *services; /* services the source knows changed */
	size_t n_services;
};

/* A change is there to load: called on the thread of the source's event
 * base, change borrowed for the call. */
typedef void (*reg_source_change_fn)(void *arg, const struct reg_change *change);

/* A ttl check's result that another srvd of a fleet got (service and
 * instance lowercase; note may be ""): the owner applies it to its health
 * state, as if the instance had sent it here. */
typedef void (*reg_source_result_fn)(void *arg, const char *service, const char *instance, int pass,
                                     const char *note);

/* The outcome of a write, in the terms the API answers with. */
enum reg_write_result {
	REG_WRITE_OK = 0,
	REG_WRITE_INVALID,   /* the body is not a valid service: errs (positions in the body) */
	REG_WRITE_CONFLICT,  /* the source cannot take it (defined elsewhere, nowhere to write) */
	REG_WRITE_NOT_FOUND, /* delete: no such service */
	REG_WRITE_FAILED,    /* I/O or memory */
	REG_WRITE_LOST,      /* a conditional write (If-Match, create-only) lost: the key changed */
};

/* The condition of a write (etcd: compared in a transaction; the files
 * source has no revisions and ignores it). */
#define REG_IF_NONE   (-1) /* last writer wins */
#define REG_IF_ABSENT 0    /* create only */
/* > 0: the service's revision (its ETag) must still be this */

struct reg_write {
	enum reg_write_result result;
	int created;                   /* put: the service was not in the source before */
	struct reg_errors errs;        /* REG_WRITE_INVALID */
	char message[512];             /* the other failures */
	char where[512];               /* OK: where it went ("services.d/web.yaml"), for the log */
	int64_t revision;              /* OK: the service's new revision (0: the source has none) */
	int64_t lease;                 /* OK: the lease an instance is on (0: none) */
	void *undo;                    /* OK: what reg_source_undo() puts back ... */
	void (*undo_free)(void *undo); /* ... and how reg_write_clear() frees it */
};

/* A shared store's state, borrowed until the next reload. */
struct reg_source_report {
	const char *name;     /* "etcd" */
	int up;               /* in touch with the store now */
	int from_cache;       /* serving the cache file: not synced since start */
	int synced;           /* read once since start (or its cache): `_ready` may answer */
	int64_t revision;     /* the last revision seen */
	const char *endpoint; /* where requests go first */
	uint64_t rejected;    /* keys rejected since start (a value counts once a revision) */
	char *const *bad;     /* "KEY:LINE:COL: problem", one per rejected key now */
	size_t n_bad;
	char *const *conflicts; /* services defined in a file and in the store (the file serves) */
	size_t n_conflicts;
};

struct reg_source_ops {
	const char *name; /* "files" */
	/* Loads the whole registry (registry_load_file()'s contract). */
	int (*load)(struct reg_source *s, struct registry **out, struct reg_errors *errs);
	/* Loads what changed since the last load or update, sharing the rest
	 * with current (the registry served, loaded by this source): 0 and
	 * *out (registry_update()'s contract), 1 when only a full load can
	 * say (then drain and load), -1 with errors. NULL: always full. */
	int (*update)(struct reg_source *s, const struct registry *current,
	              struct registry **out, struct reg_errors *errs);
	/* Watches what reg was loaded from (again after every load; reg is
	 * borrowed for the call) and calls fn when it changes; reg NULL stops. */
	void (*watch)(struct reg_source *s, const struct registry *reg);
	/* Forgets the changes seen so far: a load is starting. */
	void (*drain)(struct reg_source *s);
	/* Stores service name (a DNS label, lowercase) with body (JSON or YAML
	 * in the registry's schema, len bytes), checked as the source would
	 * load it; current is what is served now. Fills *w. */
	void (*put_service)(struct reg_source *s, const struct registry *current, const char *name,
	                    const char *body, size_t len, int64_t cond, struct reg_write *w);
	void (*delete_service)(struct reg_source *s, const struct registry *current,
	                       const char *name, int64_t cond, struct reg_write *w);
	/* Removes instance (lowercase) of service from what the source holds:
	 * only a service the source's writes own (the files source: one the
	 * API registered, NAME.yaml in the include folder; CONFLICT for the
	 * others). Fills *w. */
	void (*delete_instance)(struct reg_source *s, const struct registry *current,
	                        const char *service, const char *instance, struct reg_write *w);
	/* Drains (reason non-NULL) or ends the drain of (NULL) instance of
	 * service (instance NULL: the whole service), both lowercase and in
	 * current; the next load's registry has it (reg->maint). Fills *w. */
	void (*set_maintenance)(struct reg_source *s, const struct registry *current,
	                        const char *service, const char *instance, const char *reason,
	                        struct reg_write *w);
	/* Puts back what a successful write changed (the reload refused it). */
	void (*undo)(struct reg_source *s, struct reg_write *w);
	void (*free)(struct reg_source *s);
	/* Optional (NULL: none): the revision of service name (0: unknown), for
	 * the API's ETag; and what /v1/status and /metrics show of the source. */
	int64_t (*revision)(struct reg_source *s, const char *name);
	/* Optional (NULL: CONFLICT, the source cannot): stores one instance of
	 * service on its own (body: the instances[] item without name), on a
	 * lease of ttl_s seconds (0: none) that heartbeat() keeps alive. */
	void (*put_instance)(struct reg_source *s, const struct registry *current,
	                     const char *service, const char *instance, const char *body,
	                     size_t len, uint32_t ttl_s, struct reg_write *w);
	void (*heartbeat)(struct reg_source *s, const char *service, const char *instance,
	                  struct reg_write *w);
	/* Optional (NULL: results stay with the srvd that got them): shares a
	 * ttl check's result with the fleet, whose members get on_result. */
	void (*share_result)(struct reg_source *s, const char *service, const char *instance,
	                     int pass, const char *note, struct reg_write *w);
	void (*report)(struct reg_source *s, struct reg_source_report *r);
};

struct reg_source {
	const struct reg_source_ops *ops;
	reg_source_change_fn on_change;
	void *arg;
	reg_source_result_fn on_result; /* set by the owner (arg too), may be NULL */
};

/* The files source for the main file `config` on base (watching needs
 * inotify; without it the source still loads and writes, and says so).
 * Copies config; borrows base. on_change (may be NULL) runs after a burst of
 * changes to the watched files. Returns 0 and sets *out (free with
 * reg_source_free()), or -ENOMEM. */
int reg_source_files_create(const char *config, struct event_base *base,
                            reg_source_change_fn on_change, void *arg, struct reg_source **out);

/* The operations, through s->ops. */
int reg_source_load(struct reg_source *s, struct registry **out, struct reg_errors *errs);
int reg_source_update(struct reg_source *s, const struct registry *current,
                      struct registry **out, struct reg_errors *errs);
void reg_source_watch(struct reg_source *s, const struct registry *reg);
void reg_source_drain(struct reg_source *s);
void reg_source_put(struct reg_source *s, const struct registry *current, const char *name,
                    const char *body, size_t len, struct reg_write *w);
void reg_source_delete(struct reg_source *s, const struct registry *current, const char *name,
                       struct reg_write *w);
/* The same with a condition (REG_IF_*, or a revision). */
void reg_source_put_if(struct reg_source *s, const struct registry *current, const char *name,
                       const char *body, size_t len, int64_t cond, struct reg_write *w);
void reg_source_delete_if(struct reg_source *s, const struct registry *current, const char *name,
                          int64_t cond, struct reg_write *w);
/* The service's revision (0: none); fills *r and returns 0, or -1 when the
 * source has nothing to report (the files). */
int64_t reg_source_revision(struct reg_source *s, const char *name);
void reg_source_put_instance(struct reg_source *s, const struct registry *current,
                             const char *service, const char *instance, const char *body,
                             size_t len, uint32_t ttl_s, struct reg_write *w);
void reg_source_heartbeat(struct reg_source *s, const char *service, const char *instance,
                          struct reg_write *w);
/* Shares a ttl check's result with the fleet: 0 and *w filled, or -1 when
 * the source keeps results local (the files). */
int reg_source_share_result(struct reg_source *s, const char *service, const char *instance,
                            int pass, const char *note, struct reg_write *w);
int reg_source_report(struct reg_source *s, struct reg_source_report *r);

/* The etcd source (source_etcd.c, README "Running a fleet"): the services of
 * files (taken over; it serves them as before) together with those under
 * reg->server's etcd prefix, read once (blocking, at most the timeout per
 * endpoint) and then watched on base. config is the main file. Returns 0
 * and sets *out, or -1 with a message in err (files is freed). */
int reg_source_etcd_create(struct reg_source *files, const char *config, const struct registry *reg,
                           struct event_base *base, reg_source_change_fn on_change, void *arg,
                           struct reg_source **out, char *err, size_t errlen);
void reg_source_delete_instance(struct reg_source *s, const struct registry *current,
                                const char *service, const char *instance, struct reg_write *w);
void reg_source_set_maintenance(struct reg_source *s, const struct registry *current,
                                const char *service, const char *instance, const char *reason,
                                struct reg_write *w);
void reg_source_undo(struct reg_source *s, struct reg_write *w);
/* Frees what w holds (errors, undo); w can be filled again. */
void reg_write_clear(struct reg_write *w);
void reg_source_free(struct reg_source *s); /* accepts NULL */

/* `srvd --import-to-etcd`: copies the services the control API wrote into
 * the include folder of config (NAME.yaml in its layout) into config's
 * server.registry.etcd, create-only (a key already there is kept), and
 * reports each on out. Returns the exit status: 0, 1 (some failed), 2
 * (config unusable). */
int reg_etcd_import(const char *config, FILE *out);

#endif

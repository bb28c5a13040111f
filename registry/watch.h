/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.h: the files source's watcher (watch.c): inotify on the folders of
 * the registry's files, debounced, naming the files that changed. Private
 * to registry/. */
#ifndef SRVD_REGISTRY_WATCH_H
#define SRVD_REGISTRY_WATCH_H

#include <stddef.h>

struct event_base;
struct reg_watch;

/* A burst of changes is over: the files that changed (their folder as
 * watched, then their name), or everything != 0 when the watcher cannot
 * say (a watched folder went away, the kernel dropped events, very many
 * names). Both borrowed for the call. */
typedef void (*reg_watch_fn)(void *arg, char *const *files, size_t n, int everything);

/* Returns 0 and sets *out (free with reg_watch_free()), or a negative errno
 * (no inotify). fire runs debounce_ms after the last change of a burst. */
int reg_watch_create(struct event_base *base, unsigned debounce_ms, reg_watch_fn fire, void *arg,
                     struct reg_watch **out);

/* Watches the folders of paths (a last component may be a glob); n 0 stops
 * watching. Symlinks on the way to a path or a match are watched too, with
 * what they point to as it is now: call again after each load. Folders that
 * do not exist are skipped (logged at debug). */
void reg_watch_set(struct reg_watch *w, char *const *paths, size_t n);

/* Forgets events queued so far and a pending fire: a load is starting and
 * reads the files as they are now. Accepts NULL. */
void reg_watch_drain(struct reg_watch *w);

void reg_watch_free(struct reg_watch *w); /* accepts NULL */

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.c: reload on file change: inotify on folders, debounced.
 *
 * Folders are watched rather than files: editors and the control API
 * replace a file by writing a temporary one and renaming it over the old,
 * which a watch on the old file's inode would never see. An event counts
 * when its name matches the last component of a watched path (fnmatch with
 * FNM_PERIOD, so hidden temporary files do not), and the reload runs
 * DAEMON_DEBOUNCE_MS after the last such event, so a burst of writes is one
 * reload.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon_int.h"

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF)

struct wdir {
	int wd;
	char *dir;
	char **pats; /* last components, globs allowed */
	size_t n_pats;
};

struct daemon_watch {
	int fd;
	struct event *ev;
	struct event *debounce;
	daemon_watch_fn fire;
	void *arg;
	struct wdir *dirs;
	size_t n_dirs;
};

static void free_dirs(struct wdir *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < dirs[i].n_pats; k++)
			free(dirs[i].pats[k]);
		free(dirs[i].pats);
		free(dirs[i].dir);
	}
	free(dirs);
}

static const struct wdir *find_wd(const struct daemon_watch *w, int wd)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static int matches(const struct wdir *d, const struct inotify_event *ev)
{
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		return 1;
	if (ev->len == 0)
		return 0;
	for (size_t i = 0; i < d->n_pats; i++)
		if (fnmatch(d->pats[i], ev->name, FNM_PERIOD) == 0)
			return 1;
	return 0;
}

/* Reads every queued event; returns 1 if one of them is relevant. */
static int read_events(struct daemon_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const struct wdir *d = find_wd(w, ev->wd);

			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1;
			else if (d && matches(d, ev))
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_watch *w = arg;
	struct timeval tv = {DAEMON_DEBOUNCE_MS / 1000, (DAEMON_DEBOUNCE_MS % 1000) * 1000};

	if (read_events(w))
		evtimer_add(w->debounce, &tv); /* re-adding restarts the wait */
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_watch *w = arg;

	w->fire(w->arg);
}

int daemon_watch_create(struct event_base *base, daemon_watch_fn fire, void *arg,
                        struct daemon_watch **out)
{
	struct daemon_watch *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fire = fire;
	w->arg = arg;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, on_inotify, w);
	w->debounce = evtimer_new(base, on_debounce, w);
	if (!w->ev || !w->debounce || event_add(w->ev, NULL) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	daemon_watch_free(w);
	return r;
}

/* Adds pattern pat in folder dir to dirs (merging folders). Returns 0 or -1. */
static int add_pattern(struct wdir **dirs, size_t *n, const char *dir, const char *pat)
{
	struct wdir *d = NULL, *grown;
	char **pats;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*dirs)[i].dir, dir) == 0)
			d = &(*dirs)[i];
	if (!d) {
		grown = realloc(*dirs, (*n + 1) * sizeof(*grown));
		if (!grown)
			return -1;
		*dirs = grown;
		d = &grown[*n];
		memset(d, 0, sizeof(*d));
		d->wd = -1;
		if (!(d->dir = strdup(dir)))
			return -1;
		(*n)++;
	}
	pats = realloc(d->pats, (d->n_pats + 1) * sizeof(*pats));
	if (!pats)
		return -1;
	d->pats = pats;
	if (!(pats[d->n_pats] = strdup(pat)))
		return -1;
	d->n_pats++;
	return 0;
}

void daemon_watch_set(struct daemon_watch *w, char *const *paths, size_t n)
{
	struct wdir *dirs = NULL;
	size_t n_dirs = 0;

	for (size_t i = 0; i < n; i++) {
		char a[PATH_MAX], b[PATH_MAX];

		if (strlen(paths[i]) >= sizeof(a))
			continue;
		strcpy(a, paths[i]);
		strcpy(b, paths[i]);
		if (add_pattern(&dirs, &n_dirs, dirname(a), basename(b)) < 0) {
			log_err("watch: out of memory; changes to %s are not seen", paths[i]);
			break;
		}
	}
	/* add first, remove after: a folder in both sets keeps its watch (the
	 * kernel hands back the same descriptor) and loses no event */
	for (size_t i = 0; i < n_dirs; i++) {
		dirs[i].wd = inotify_add_watch(w->fd, dirs[i].dir, WATCH_MASK | IN_ONLYDIR);
		if (dirs[i].wd < 0)
			log_debug("watch: %s: %s", dirs[i].dir, strerror(errno));
		else
			log_debug("watch: %s", dirs[i].dir);
	}
	for (size_t i = 0; i < w->n_dirs; i++) {
		int keep = 0;

		for (size_t k = 0; k < n_dirs; k++)
			keep |= dirs[k].wd == w->dirs[i].wd;
		if (!keep && w->dirs[i].wd >= 0)
			inotify_rm_watch(w->fd, w->dirs[i].wd);
	}
	free_dirs(w->dirs, w->n_dirs);
	w->dirs = dirs;
	w->n_dirs = n_dirs;
	if (n_dirs == 0)
		daemon_watch_drain(w);
}

void daemon_watch_drain(struct daemon_watch *w)
{
	if (!w)
		return;
	read_events(w);
	event_del(w->debounce);
}

void daemon_watch_free(struct daemon_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->debounce)
		event_free(w->debounce);
	if (w->fd >= 0)
		close(w->fd);
	free_dirs(w->dirs, w->n_dirs);
	free(w);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.c: the files source's watcher: inotify on folders, debounced, and
 * the names of the files that changed.
 *
 * Folders are watched rather than files: editors and the control API
 * replace a file by writing a temporary one and renaming it over the old,
 * which a watch on the old file's inode would never see. An event counts
 * when its name matches the last component of a watched path (fnmatch with
 * FNM_PERIOD, so hidden temporary files do not), and the callback runs
 * the debounce time after the last such event with every file changed in
 * the burst, so a burst of writes is one reload that knows what it touched.
 *
 * Only finished files count: a close after writing, a rename into place, a
 * deletion or a rename away. A file being created is not finished (a slow
 * writer's first half would be served with a new serial); a new symlink or
 * hard link is, and counts when created.
 *
 * Symlinks are followed: a Kubernetes ConfigMap mount (`srvd.yaml ->
 * ..data/srvd.yaml`, `..data -> ..2026_12_03_10_00_00.1234`, swapped by
 * renaming a new `..data_tmp` over `..data`) or an /etc/alternatives-style
 * link changes no name in the folder of the path srvd was given. So every
 * symlink met while resolving a path is watched by its name in its folder,
 * and the target by its name in its own folder; the set is recomputed at
 * every reload, as the targets may have moved.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/path.h"
#include "registry/watch.h"

/* IN_CREATE only for the links it may announce (see created_link()) */
#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF)
#define CHANGED_MAX 1024 /* names remembered in one burst; more: "everything" */

struct wdir {
	int wd;
	char *dir;
	char **pats; /* last components, globs allowed */
	size_t n_pats;
};

struct reg_watch {
	int fd;
	struct event *ev;
	struct event *debounce;
	struct timeval debounce_tv;
	reg_watch_fn fire;
	void *arg;
	struct wdir *dirs;
	size_t n_dirs;
	/* this burst: the files that changed, or everything (a folder went,
	 * the kernel's queue overflowed, too many names) */
	char **changed;
	size_t n_changed;
	int everything;
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

/* A created name is a finished file only as a symlink or a hard link
 * (`ln`): a regular file is being written, and counts when it is closed. */
static int created_link(const struct wdir *d, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->dir, name) >= sizeof(path) ||
	    lstat(path, &st) < 0)
		return 0;
	return S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1);
}

static int matches(const struct wdir *d, const struct inotify_event *ev)
{
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		return 1;
	if (ev->len == 0)
		return 0;
	for (size_t i = 0; i < d->n_pats; i++)
		if (fnmatch(d->pats[i], ev->name, FNM_PERIOD) == 0)
			return !(ev->mask & IN_CREATE) || created_link(d, ev->name);
	return 0;
}

static void forget_changes(struct reg_watch *w)
{
	for (size_t i = 0; i < w->n_changed; i++)
		free(w->changed[i]);
	free(w->changed);
	w->changed = NULL;
	w->n_changed = 0;
	w->everything = 0;
}

/* Remembers dir/name as changed in this burst (once). */
static void note_change(struct reg_watch *w, const char *dir, const char *name)
{
	char path[PATH_MAX], **grown;

	if (w->everything)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    w->n_changed == CHANGED_MAX)
		goto everything;
	for (size_t i = 0; i < w->n_changed; i++)
		if (strcmp(w->changed[i], path) == 0)
			return;
	grown = realloc(w->changed, (w->n_changed + 1) * sizeof(*grown));
	if (!grown || !(grown[w->n_changed] = strdup(path))) {
		if (grown)
			w->changed = grown;
		goto everything;
	}
	w->changed = grown;
	w->n_changed++;
	return;
everything:
	w->everything = 1;
}

/* Reads every queued event and notes the relevant ones; returns 1 if there
 * was one. Two entries may share a descriptor (one folder named two ways,
 * e.g. through a symlink): each one's patterns count. */
static int read_events(struct reg_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				hit = w->everything = 1;
			}
			for (size_t i = 0; i < w->n_dirs; i++) {
				const struct wdir *d = &w->dirs[i];

				if (d->wd != ev->wd || !matches(d, ev))
					continue;
				hit = 1;
				if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
					w->everything = 1;
				else
					note_change(w, d->dir, ev->name);
				break;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct reg_watch *w = arg;

	if (read_events(w))
		evtimer_add(w->debounce, &w->debounce_tv); /* re-adding restarts the wait */
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	struct reg_watch *w = arg;
	char **changed = w->changed;
	size_t n = w->n_changed;
	int everything = w->everything;

	/* the callback may reload, which drains: hand over this burst first */
	w->changed = NULL;
	w->n_changed = 0;
	w->everything = 0;
	w->fire(w->arg, changed, n, everything);
	for (size_t i = 0; i < n; i++)
		free(changed[i]);
	free(changed);
}

int reg_watch_create(struct event_base *base, unsigned debounce_ms, reg_watch_fn fire, void *arg,
                     struct reg_watch **out)
{
	struct reg_watch *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fire = fire;
	w->arg = arg;
	w->debounce_tv.tv_sec = debounce_ms / 1000;
	w->debounce_tv.tv_usec = (suseconds_t)(debounce_ms % 1000) * 1000;
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
	reg_watch_free(w);
	return r;
}

/* Adds pattern pat in folder dir to dirs (merging folders; a name that a
 * pattern of the folder already matches is not added again). Returns 0 or -1. */
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
	for (size_t i = 0; i < d->n_pats; i++)
		if (strcmp(d->pats[i], pat) == 0 || fnmatch(d->pats[i], pat, FNM_PERIOD) == 0)
			return 0;
	pats = realloc(d->pats, (d->n_pats + 1) * sizeof(*pats));
	if (!pats)
		return -1;
	d->pats = pats;
	if (!(pats[d->n_pats] = strdup(pat)))
		return -1;
	d->n_pats++;
	return 0;
}

struct follow {
	struct wdir **dirs;
	size_t *n;
	int failed;
};

static void on_link(void *arg, const char *dir, const char *name)
{
	struct follow *f = arg;

	if (add_pattern(f->dirs, f->n, dir, name) < 0)
		f->failed = 1;
}

static int has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Adds the final target of path to dirs as pat if pat matches its name, or
 * else by its name; and every symlink met on the way. */
static void follow_to(struct follow *f, const char *path, const char *pat)
{
	char real[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	if (path_resolve(path, on_link, f, real, sizeof(real)) < 0) {
		log_debug("watch: %s: cannot resolve its symlinks", path);
		return;
	}
	strcpy(a, real);
	strcpy(b, real);
	if (!pat || fnmatch(pat, basename(b), FNM_PERIOD) != 0)
		pat = basename(b);
	if (add_pattern(f->dirs, f->n, dirname(a), pat) < 0)
		f->failed = 1;
}

/* Watches what the symlinks on the way to path (last component possibly a
 * glob) point to: the folder's own links, and every matching link. */
static void follow_links(struct follow *f, const char *path, const char *dir, const char *base)
{
	char real[PATH_MAX];
	glob_t g;

	if (has_glob(dir))
		return; /* a folder pattern: only its literal folder is watched */
	if (!has_glob(base)) {
		follow_to(f, path, NULL);
		return;
	}
	/* the pattern in the folder's real place, and the links on the way */
	if (path_resolve(dir, on_link, f, real, sizeof(real)) < 0) {
		log_debug("watch: %s: cannot resolve its symlinks", dir);
		return;
	}
	if (add_pattern(f->dirs, f->n, real, base) < 0)
		f->failed = 1;
	if (glob(path, 0, NULL, &g) != 0)
		return;
	for (size_t k = 0; k < g.gl_pathc; k++) {
		struct stat st;

		/* a plain file is in the folder watched above: one lstat each */
		if (lstat(g.gl_pathv[k], &st) == 0 && S_ISLNK(st.st_mode))
			follow_to(f, g.gl_pathv[k], base);
	}
	globfree(&g);
}

void reg_watch_set(struct reg_watch *w, char *const *paths, size_t n)
{
	struct wdir *dirs = NULL;
	size_t n_dirs = 0;

	for (size_t i = 0; i < n; i++) {
		char a[PATH_MAX], b[PATH_MAX], *dir, *base;
		struct follow f = {&dirs, &n_dirs, 0};

		if (strlen(paths[i]) >= sizeof(a))
			continue;
		strcpy(a, paths[i]);
		strcpy(b, paths[i]);
		dir = dirname(a);
		base = basename(b);
		if (add_pattern(&dirs, &n_dirs, dir, base) < 0)
			f.failed = 1;
		else
			follow_links(&f, paths[i], dir, base);
		if (f.failed) {
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
		reg_watch_drain(w);
}

void reg_watch_drain(struct reg_watch *w)
{
	if (!w)
		return;
	read_events(w);
	event_del(w->debounce);
	forget_changes(w);
}

void reg_watch_free(struct reg_watch *w)
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
	forget_changes(w);
	free(w);
}

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
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon_int.h"

/* IN_CREATE only for the links it may announce (see created_link()) */
#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF)
#define LINKS_MAX 40 /* symlinks followed in one path, as the kernel's ELOOP bound */

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

/* Reads every queued event; returns 1 if one of them is relevant. Two
 * entries may share a descriptor (one folder named two ways, e.g. through a
 * symlink): each one's patterns count. */
static int read_events(struct daemon_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1;
			for (size_t i = 0; !hit && i < w->n_dirs; i++)
				if (w->dirs[i].wd == ev->wd && matches(&w->dirs[i], ev))
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

int daemon_path_resolve(const char *path, daemon_link_fn link, void *arg, char *out, size_t len)
{
	char done[PATH_MAX] = "", todo[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	size_t dl = 0;
	int links = 0;
	char *p = todo;

	if (path[0] != '/') {
		if (!getcwd(done, sizeof(done)))
			return -1;
		if (strcmp(done, "/") == 0)
			done[0] = '\0';
		dl = strlen(done);
	}
	if ((size_t)snprintf(todo, sizeof(todo), "%s", path) >= sizeof(todo))
		return -1;
	/* done: the resolved folders so far, absolute, "" for the root; todo
	 * from p: the components still to resolve */
	while (*p) {
		struct stat st;
		char *comp, *rest;
		ssize_t tl;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		rest = strchr(p, '/');
		if (rest)
			*rest++ = '\0';
		else
			rest = p + strlen(p);
		p = rest;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			while (dl > 0 && done[dl - 1] != '/')
				dl--;
			if (dl > 0)
				dl--;
			done[dl] = '\0';
			continue;
		}
		if (dl + 1 + strlen(comp) >= sizeof(done))
			return -1;
		done[dl] = '/';
		strcpy(done + dl + 1, comp);
		if (lstat(done, &st) < 0 || !S_ISLNK(st.st_mode)) {
			/* a name that does not exist (yet) is taken as it is */
			dl += 1 + strlen(comp);
			continue;
		}
		if (++links > LINKS_MAX)
			return -1;
		tl = readlink(done, target, sizeof(target) - 1);
		if (tl < 0)
			return -1;
		target[tl] = '\0';
		done[dl] = '\0';
		if (link)
			link(arg, dl ? done : "/", comp);
		if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, rest) >= sizeof(next))
			return -1;
		strcpy(todo, next);
		p = todo;
		if (target[0] == '/')
			dl = 0, done[0] = '\0';
	}
	if ((size_t)snprintf(out, len, "%s", dl ? done : "/") >= len)
		return -1;
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

	if (daemon_path_resolve(path, on_link, f, real, sizeof(real)) < 0) {
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
	if (daemon_path_resolve(dir, on_link, f, real, sizeof(real)) < 0) {
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

void daemon_watch_set(struct daemon_watch *w, char *const *paths, size_t n)
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

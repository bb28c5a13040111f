/* SPDX-License-Identifier: BSD-3-Clause */
/* privs.c: server.user (dropping root once every socket is bound) and the
 * refusal, as root, of registry files anyone may write.
 *
 * Root reads the files and binds the sockets, then becomes server.user for
 * good: its uid, its primary group and its supplementary groups, with no way
 * back (setuid from root clears the saved uid and the capabilities). A file
 * that another user may write, or replace through a folder on its path,
 * would let that user choose what root loads, so srvd refuses it while it
 * runs as root, as sshd's StrictModes does: the file, its folder and every
 * folder above up to / must be owned by root (or server.user) and writable
 * by no group or others, judged on the real paths (symlinks resolved, and
 * each symlink's folder judged too).
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "daemon/daemon_int.h"
#include "registry/registry.h"

#define GROUPS_MAX 1024

int daemon_user_lookup(const char *name, struct daemon_user *out, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r;

	memset(out, 0, sizeof(*out));
	if (!name)
		return 0;
	if (geteuid() != 0) {
		log_warn("server.user %s: srvd is not running as root (uid %u); it keeps running "
		         "as that user",
		         name, (unsigned)geteuid());
		return 0;
	}
	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0 || !res) {
		snprintf(err, errlen, "server.user: no user \"%s\" on this system%s%s", name,
		         r ? ": " : "", r ? strerror(r) : "");
		return -1;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	out->active = 1;
	return 0;
}

int daemon_user_drop(const struct daemon_user *u, char *err, size_t errlen)
{
	gid_t groups[GROUPS_MAX];
	int n = GROUPS_MAX;

	if (!u->active)
		return 0;
	/* the user's own groups only: root's (or the init system's) must not
	 * stay with the process */
	if (getgrouplist(u->name, u->gid, groups, &n) < 0) {
		log_warn("server.user %s: more than %d groups; keeping only its primary group",
		         u->name, GROUPS_MAX);
		groups[0] = u->gid;
		n = 1;
	}
	if (setgroups((size_t)n, groups) < 0) {
		snprintf(err, errlen, "server.user %s: setgroups: %s", u->name, strerror(errno));
		return -1;
	}
	if (setgid(u->gid) < 0) {
		snprintf(err, errlen, "server.user %s: setgid(%u): %s", u->name, (unsigned)u->gid,
		         strerror(errno));
		return -1;
	}
	if (setuid(u->uid) < 0) {
		snprintf(err, errlen, "server.user %s: setuid(%u): %s", u->name, (unsigned)u->uid,
		         strerror(errno));
		return -1;
	}
	/* a drop that can be undone is no drop */
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "server.user %s: root could be regained after the drop",
		         u->name);
		return -1;
	}
	log_info("dropped root privileges: now user %s (uid %u, gid %u, %d group%s)", u->name,
	         (unsigned)u->uid, (unsigned)u->gid, n, n == 1 ? "" : "s");
	return 0;
}

/* What the files' owners may be, and what was checked: a folder's chain up
 * to / is checked once however many files it holds. */
struct safety {
	struct reg_errors *errs;
	int has_user;
	uid_t user; /* server.user's uid, when has_user */
	char **seen;
	size_t n_seen;
};

static void refuse(struct safety *s, const char *line)
{
	for (size_t i = 0; i < s->errs->n; i++)
		if (strcmp(s->errs->lines[i], line) == 0)
			return;
	registry_errors_add(s->errs, line);
}

enum role {
	ROLE_FILE,   /* a file srvd reads */
	ROLE_FOLDER, /* the folder that directly holds one (or a symlink to one) */
	ROLE_PARENT  /* a folder above those */
};

/* Refuses path (with st, its stat) when someone other than root or
 * server.user owns it or could write it, as sshd's StrictModes. A sticky
 * folder owned by root (/tmp) is a safe parent (only a name's owner can
 * replace it), never a folder that holds the files themselves. */
static void judge(struct safety *s, const char *path, const struct stat *st, enum role role)
{
	const char *what = role == ROLE_FILE ? "it" : "files below it";
	char line[PATH_MAX * 2 + 200];
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);

	if (st->st_uid != 0 && !(s->has_user && st->st_uid == s->user)) {
		snprintf(
		    line, sizeof(line),
		    "%s: owned by uid %u, not root or server.user; refusing to load %s as root "
		    "(chown root %s)",
		    path, (unsigned)st->st_uid, what, path);
		refuse(s, line);
	}
	if (role == ROLE_PARENT && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return;
	if (!w)
		return;
	snprintf(line, sizeof(line),
	         "%s: writable by %s (mode %04o%s); refusing to load %s as root (chmod %s-w %s)",
	         path,
	         w == S_IWGRP   ? "group"
	         : w == S_IWOTH ? "others"
	                        : "group and others",
	         (unsigned)(st->st_mode & 07777),
	         role == ROLE_FOLDER && (st->st_mode & S_ISVTX)
	             ? "; sticky is enough for a parent folder only"
	             : "",
	         what,
	         w == S_IWGRP   ? "g"
	         : w == S_IWOTH ? "o"
	                        : "go",
	         path);
	refuse(s, line);
}

/* Checks folder dir (absolute, resolved) as the holder of srvd's files,
 * and every folder above it up to /. */
static void check_folder(struct safety *s, const char *dir)
{
	char path[PATH_MAX], **grown;
	enum role role = ROLE_FOLDER;
	size_t len;

	for (size_t i = 0; i < s->n_seen; i++)
		if (strcmp(s->seen[i], dir) == 0)
			return;
	grown = realloc(s->seen, (s->n_seen + 1) * sizeof(*grown));
	if (grown) {
		s->seen = grown;
		if ((grown[s->n_seen] = strdup(dir)))
			s->n_seen++;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path))
		return;
	for (;;) {
		struct stat st;

		/* a folder that cannot be stat()ed is left to the loader */
		if (stat(path, &st) == 0)
			judge(s, path, &st, role);
		role = ROLE_PARENT;
		len = strlen(path);
		if (len <= 1)
			break;
		while (len > 1 && path[len - 1] != '/')
			len--;
		path[len > 1 ? len - 1 : 1] = '\0';
	}
}

static void on_link(void *arg, const char *dir, const char *name)
{
	(void)name;
	/* whoever may write the link's folder chooses what it points to */
	check_folder(arg, dir);
}

/* Checks the file at path as its real path: the file, its folder and their
 * parents, and the folder of every symlink on the way. */
static void check_file(struct safety *s, const char *path)
{
	char real[PATH_MAX], *slash;
	struct stat st;

	if (path_resolve(path, on_link, s, real, sizeof(real)) < 0) {
		char line[PATH_MAX + 100];

		snprintf(line, sizeof(line),
		         "%s: cannot resolve its symlinks; refusing to load it as root", path);
		refuse(s, line);
		return;
	}
	if (stat(real, &st) == 0) /* one that does not exist is left to the loader */
		judge(s, real, &st, ROLE_FILE);
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	check_folder(s, real);
}

static void check_include(struct safety *s, const char *pattern)
{
	char a[PATH_MAX], real[PATH_MAX], path[PATH_MAX * 2], *dir;
	int resolved = 0;
	glob_t g;

	if ((size_t)snprintf(a, sizeof(a), "%s", pattern) >= sizeof(a))
		return;
	dir = dirname(a);
	/* the folder, even with no match yet: a file dropped there later would
	 * be loaded by the next reload, and the control API writes there */
	if (!strpbrk(dir, "*?[") && path_resolve(dir, on_link, s, real, sizeof(real)) == 0) {
		check_folder(s, real);
		resolved = 1;
	}
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t k = 0; k < g.gl_pathc; k++) {
		const char *m = g.gl_pathv[k], *name = strrchr(m, '/');
		struct stat st;

		/* a plain file in the folder checked above: one lstat (thousands
		 * of includes are read at every reload) */
		if (resolved && name && lstat(m, &st) == 0 && !S_ISLNK(st.st_mode) &&
		    (size_t)snprintf(path, sizeof(path), "%s%s", strcmp(real, "/") ? real : "",
		                     name) < sizeof(path))
			judge(s, path, &st, ROLE_FILE);
		else
			check_file(s, m);
	}
	globfree(&g);
}

static int is_zone_file(const struct registry *reg, const char *path)
{
	for (size_t i = 0; i < reg->n_zones; i++)
		if (reg->zones[i].file && strcmp(reg->zones[i].file, path) == 0)
			return 1;
	return 0;
}

int daemon_unsafe_files(const struct registry *reg, struct reg_errors *errs)
{
	struct safety s = {errs, 0, 0, NULL, 0};
	size_t before = errs->n;

	if (geteuid() != 0)
		return 0;
	if (reg->server.user) {
		struct passwd pw, *res = NULL;
		char buf[4096];

		/* an unknown user is reported by daemon_user_lookup() */
		if (getpwnam_r(reg->server.user, &pw, buf, sizeof(buf), &res) == 0 && res) {
			s.has_user = 1;
			s.user = pw.pw_uid;
		}
	}
	for (size_t i = 0; i < reg->n_watch; i++) {
		const char *w = reg->watch[i];

		if ((reg->file && strcmp(reg->file, w) == 0) || is_zone_file(reg, w))
			check_file(&s, w);
		else
			check_include(&s, w);
	}
	for (size_t i = 0; i < s.n_seen; i++)
		free(s.seen[i]);
	free(s.seen);
	return errs->n > before ? -1 : 0;
}

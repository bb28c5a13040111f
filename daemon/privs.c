/* SPDX-License-Identifier: BSD-3-Clause */
/* privs.c: server.user (dropping root once every socket is bound) and the
 * refusal, as root, of registry files anyone may write.
 *
 * Root reads the files and binds the sockets, then becomes server.user for
 * good: its uid, its primary group and its supplementary groups, with no way
 * back (setuid from root clears the saved uid and the capabilities). A file
 * that anyone may write would let any local user choose what root loads, so
 * srvd refuses it while it runs as root.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
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

/* Adds "PATH: world-writable; ..." to errs when path (a file or folder) is
 * writable by others. A path that cannot be stat()ed is left to the loader. */
static void check_path(const char *path, struct reg_errors *errs)
{
	struct stat st;
	char line[2 * 4096 + 100];

	if (stat(path, &st) < 0 || !(st.st_mode & S_IWOTH))
		return;
	snprintf(line, sizeof(line),
	         "%s: world-writable; refusing to load it as root (chmod o-w %s)", path, path);
	for (size_t i = 0; errs && i < errs->n; i++)
		if (strcmp(errs->lines[i], line) == 0)
			return;
	registry_errors_add(errs, line);
}

static void check_folder_of(const char *path, struct reg_errors *errs)
{
	char *copy = strdup(path);

	if (!copy)
		return;
	check_path(dirname(copy), errs);
	free(copy);
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
	size_t before = errs->n;

	if (geteuid() != 0)
		return 0;
	for (size_t i = 0; i < reg->n_watch; i++) {
		const char *w = reg->watch[i];
		int include = !(reg->file && strcmp(reg->file, w) == 0) && !is_zone_file(reg, w);
		glob_t g;

		if (!include) {
			check_path(w, errs);
			continue;
		}
		/* an include folder, even with no match yet: a file dropped there
		 * later would be loaded by the next reload */
		check_folder_of(w, errs);
		if (glob(w, 0, NULL, &g) != 0)
			continue;
		for (size_t k = 0; k < g.gl_pathc; k++) {
			check_path(g.gl_pathv[k], errs);
			check_folder_of(g.gl_pathv[k], errs);
		}
		globfree(&g);
	}
	return errs->n > before ? -1 : 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* path.c: resolving a path one component at a time (path.h). */
#include "config.h"

#include "common/path.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_resolve(const char *path, path_link_fn link, void *arg, char *out, size_t len)
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
		if (++links > PATH_LINKS_MAX)
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

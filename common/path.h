/* SPDX-License-Identifier: BSD-3-Clause */
/* path.h: resolving a path as the kernel does, telling each symlink met on
 * the way: the file watcher watches each one (a Kubernetes ConfigMap swap
 * renames a link, not the file), and the root-file check judges each one's
 * folder. */
#ifndef SRVD_COMMON_PATH_H
#define SRVD_COMMON_PATH_H

#include <stddef.h>

#define PATH_LINKS_MAX 40 /* symlinks followed in one path, the kernel's ELOOP bound */

/* Called for every symlink met: NAME in the resolved folder DIR. */
typedef void (*path_link_fn)(void *arg, const char *dir, const char *name);

/* Resolves path (relative to the working folder), one component at a time,
 * calling link(arg, DIR, NAME) for every symlink met. Writes the absolute
 * resolved path to out; components that do not exist are kept as they are.
 * Returns 0, or -1 (more than PATH_LINKS_MAX links, a path too long, an
 * unreadable link). link may be NULL. */
int path_resolve(const char *path, path_link_fn link, void *arg, char *out, size_t len);

#endif

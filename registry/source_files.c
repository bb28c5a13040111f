/* SPDX-License-Identifier: BSD-3-Clause */
/* source_files.c: the registry from files (source.h): the main YAML file,
 * its include globs and zone files, watched with inotify (watch.c), and the
 * control API's services written one file each into the include folder
 * (fragment.c), so YAML stays the one source of truth and a restart serves
 * the same.
 *
 * A write that the reload then rejects (the name collides with a service of
 * another file, another file is broken) is undone: the previous NAME.yaml is
 * put back, so the folder always holds what is being served.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "registry/source.h"
#include "registry/watch.h"

#define DEBOUNCE_MS 200 /* quiet time after the last change before a reload */

struct files_source {
	struct reg_source s; /* first: the source is a files_source */
	char *config;
	struct reg_watch *watch; /* NULL: no inotify */
	char **zones;            /* the zone files of the last load: a change reloads all */
	size_t n_zones;
	int loaded; /* once: later loads are reloads */
	/* the include folder (the drains file's), kept while the main file is
	 * the same: finding it parses the main file, which every load would
	 * then do twice */
	char *inc_dir;
	int inc_known;
	struct stat inc_st;
	/* what changed since the last load, for files_update(): include
	 * files written (by the API) or seen changed (by the watcher), or
	 * all (the main file, a zone file, a burst the watcher cannot name) */
	char **dirty;
	size_t n_dirty;
	int dirty_all;
};

static const char maint_file[] = REG_MAINT_NAME ".yaml";

static const char *base_name(const char *path)
{
	return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}

/* path changed: the next update loads it again (the drains file is read
 * at every update anyway). */
static void mark_dirty(struct files_source *f, const char *path)
{
	char **grown;

	if (strcmp(base_name(path), maint_file) == 0)
		return;
	for (size_t i = 0; i < f->n_dirty; i++)
		if (strcmp(f->dirty[i], path) == 0)
			return;
	grown = realloc(f->dirty, (f->n_dirty + 1) * sizeof(*grown));
	if (!grown || !(grown[f->n_dirty] = strdup(path))) {
		if (grown)
			f->dirty = grown;
		f->dirty_all = 1; /* out of memory: a full load then */
		return;
	}
	f->dirty = grown;
	f->n_dirty++;
}

static void mark_dirty_in(struct files_source *f, const char *dir, const char *name)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.yaml", dir, name) >= sizeof(path))
		f->dirty_all = 1;
	else
		mark_dirty(f, path);
}

static void clear_dirty(struct files_source *f)
{
	for (size_t i = 0; i < f->n_dirty; i++)
		free(f->dirty[i]);
	free(f->dirty);
	f->dirty = NULL;
	f->n_dirty = 0;
	f->dirty_all = 0;
}

/* What a write changed, to put back: the file's old text, or none. */
struct files_undo {
	char *dir, *name;
	char *old; /* NULL: there was no file */
};

static void undo_free(void *p)
{
	struct files_undo *u = p;

	free(u->dir);
	free(u->name);
	free(u->old);
	free(u);
}

/* A main file with nothing but blanks and comments loads as a valid
 * registry without services: once serving, that is a truncated write (`>`,
 * an editor or a disk that filled up), not an intent to serve nothing, so
 * it is refused (only at reloads: at start, an empty file is an empty
 * registry). Returns 1 if so. */
static int blank_file(const char *path, struct reg_errors *e)
{
	char buf[512], line[1100];
	FILE *f = fopen(path, "r");
	int blank = 1, comment = 0;
	size_t n;

	if (!f)
		return 0; /* the loader says why */
	while (blank && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; blank && i < n; i++) {
			char c = buf[i];

			if (c == '\n') {
				comment = 0;
			} else if (comment || c == ' ' || c == '\t' || c == '\r') {
				continue;
			} else if (c == '#') {
				comment = 1;
			} else {
				blank = 0;
			}
		}
	}
	if (ferror(f))
		blank = 0;
	fclose(f);
	if (blank) {
		snprintf(
		    line, sizeof(line),
		    "%s: empty (nothing but blanks and comments); keeping the last good registry",
		    path);
		if (e)
			registry_errors_add(e, line);
	}
	return blank;
}

static void free_zones(struct files_source *f)
{
	for (size_t i = 0; i < f->n_zones; i++)
		free(f->zones[i]);
	free(f->zones);
	f->zones = NULL;
	f->n_zones = 0;
}

/* The main file's include folder into *dir (caller frees), or -1 (none). */
static int include_dir(struct files_source *f, char **dir)
{
	struct stat st;
	char msg[512];
	int same;

	*dir = NULL;
	same = stat(f->config, &st) == 0 && f->inc_known && st.st_dev == f->inc_st.st_dev &&
	       st.st_ino == f->inc_st.st_ino && st.st_size == f->inc_st.st_size &&
	       st.st_mtim.tv_sec == f->inc_st.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == f->inc_st.st_mtim.tv_nsec;
	if (!same) {
		free(f->inc_dir);
		f->inc_dir = NULL;
		f->inc_known = 0;
		/* no folder (no include:, an unreadable file) is remembered too */
		if (registry_fragment_dir(f->config, NULL, &f->inc_dir, msg, sizeof(msg)) < 0)
			f->inc_dir = NULL;
		f->inc_st = st;
		f->inc_known = stat(f->config, &st) == 0;
	}
	if (!f->inc_dir)
		return -1;
	*dir = strdup(f->inc_dir);
	return *dir ? 0 : -1;
}

/* The drains in the include folder's REG_MAINT_NAME file into *m, *n
 * (none without an include folder or a file). Returns 0, or -1 with errors
 * in errs (a file that does not parse: srvd writes it, a hand edit broke
 * it). *dir (may be NULL) receives the folder, or NULL. */
static int read_maint(struct files_source *f, char **dir, char **text, struct reg_maint **m,
                      size_t *n, struct reg_errors *errs)
{
	char msg[512], *folder = NULL, path[4200];
	int rc;

	*m = NULL;
	*n = 0;
	*text = NULL;
	if (dir)
		*dir = NULL;
	if (include_dir(f, &folder) < 0)
		return 0; /* no include folder: nothing drained (the loader reports the rest) */
	rc = registry_fragment_read(folder, REG_MAINT_NAME, text);
	snprintf(path, sizeof(path), "%s/%s.yaml", folder, REG_MAINT_NAME);
	if (rc < 0 && rc != -ENOENT) {
		snprintf(msg, sizeof(msg), "%.400s: cannot read: %s", path, strerror(-rc));
		if (errs)
			registry_errors_add(errs, msg);
		free(folder);
		return -1;
	}
	if (*text && registry_maint_parse(*text, strlen(*text), path, m, n, errs) < 0) {
		free(folder);
		free(*text);
		*text = NULL;
		return -1;
	}
	if (dir)
		*dir = folder;
	else
		free(folder);
	return 0;
}

static int files_load(struct reg_source *s, struct registry **out, struct reg_errors *errs)
{
	struct files_source *f = (struct files_source *)s;
	struct reg_maint *m;
	size_t n;
	char *text;

	*out = NULL;
	if (f->loaded && blank_file(f->config, errs)) /* errs may be NULL */
		return -1;
	if (registry_load_file(f->config, out, errs) < 0)
		return -1;
	if (read_maint(f, NULL, &text, &m, &n, errs) < 0) {
		registry_free(*out);
		*out = NULL;
		return -1;
	}
	free(text);
	registry_maint_attach(*out, m, n);
	f->loaded = 1;
	clear_dirty(f); /* it read every file as it is now */
	free_zones(f);
	f->zones = calloc((*out)->n_zones + 1, sizeof(*f->zones));
	for (size_t i = 0; f->zones && i < (*out)->n_zones; i++)
		if ((f->zones[f->n_zones] = strdup((*out)->zones[i].file)))
			f->n_zones++;
	return 0;
}

/* What changed since the last load, at its cost (registry_update()): 0,
 * 1 for a full load, -1 with errors. */
static int files_update(struct reg_source *s, const struct registry *current, struct registry **out,
                        struct reg_errors *errs)
{
	struct files_source *f = (struct files_source *)s;
	struct reg_maint *m;
	size_t n;
	char *text;
	int rc;

	*out = NULL;
	if (!f->loaded || !current || f->dirty_all)
		return 1;
	if (read_maint(f, NULL, &text, &m, &n, errs) < 0)
		return -1;
	free(text);
	rc = registry_update(current, f->dirty, f->n_dirty, m, n, out, errs);
	if (rc == 0)
		clear_dirty(f);
	return rc;
}

/* A burst of file changes: the main file or a zone file (or an unknown
 * number of files) means everything; include files are named. */
static void on_files(void *arg, char *const *files, size_t n, int everything)
{
	struct files_source *f = arg;
	const char *main_base = strrchr(f->config, '/') ? strrchr(f->config, '/') + 1 : f->config;
	struct reg_change c = {.everything = everything, .files = files, .n_files = n};

	for (size_t i = 0; i < n && !c.everything; i++) {
		const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];

		/* the watcher names files by their real folder: match the main
		 * file by name, which at worst reloads everything once too often */
		c.everything = strcmp(base, main_base) == 0;
		for (size_t k = 0; k < f->n_zones && !c.everything; k++) {
			const char *z =
			    strrchr(f->zones[k], '/') ? strrchr(f->zones[k], '/') + 1 : f->zones[k];
			c.everything = strcmp(base, z) == 0;
		}
	}
	if (c.everything)
		f->dirty_all = 1;
	for (size_t i = 0; i < n && !c.everything; i++)
		mark_dirty(f, files[i]);
	if (n)
		log_info("files changed: %s%s%s", files[0], n > 1 ? " and more" : "",
		         c.everything ? " (reloading everything)" : "");
	if (f->s.on_change)
		f->s.on_change(f->s.arg, &c);
}

static void files_watch(struct reg_source *s, const struct registry *reg)
{
	struct files_source *f = (struct files_source *)s;

	if (!f->watch)
		return;
	if (reg && reg->server.watch)
		reg_watch_set(f->watch, reg->watch, reg->n_watch);
	else
		reg_watch_set(f->watch, NULL, 0);
}

static void files_drain(struct reg_source *s)
{
	reg_watch_drain(((struct files_source *)s)->watch);
}

/* The include folder for name, or a CONFLICT / FAILED with the reason. */
static int fragment_dir(struct files_source *f, const char *name, char **dir, struct reg_write *w)
{
	int rc = registry_fragment_dir(f->config, name, dir, w->message, sizeof(w->message));

	if (rc == 0)
		return 0;
	w->result = rc == -ENOENT || rc == -EINVAL ? REG_WRITE_CONFLICT : REG_WRITE_FAILED;
	return -1;
}

static int make_undo(struct reg_write *w, const char *dir, const char *name, char *old)
{
	struct files_undo *u = calloc(1, sizeof(*u));

	if (!u || !(u->dir = strdup(dir)) || !(u->name = strdup(name))) {
		if (u)
			undo_free(u);
		return -1;
	}
	u->old = old;
	w->undo = u;
	w->undo_free = undo_free;
	snprintf(w->where, sizeof(w->where), "%s/%s.yaml", dir, name);
	return 0;
}

/* Writes text as dir/NAME.yaml (unless text is NULL: nothing changed) and
 * keeps *old (the previous text, NULL for none; taken) for the undo. Sets
 * w->result; 0 or -1. */
static int write_kept(struct files_source *f, struct reg_write *w, const char *dir,
                      const char *name, const char *text, char **old)
{
	int rc;

	mark_dirty_in(f, dir, name);
	if (text && (rc = registry_fragment_write(dir, name, text)) < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "cannot write %s/%s.yaml: %s", dir, name,
		         strerror(-rc));
		return -1;
	}
	if (make_undo(w, dir, name, *old) < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		return -1;
	}
	*old = NULL; /* the undo holds it */
	w->result = REG_WRITE_OK;
	return 0;
}

static void files_put(struct reg_source *s, const struct registry *current, const char *name,
                      const char *body, size_t len, int64_t cond, struct reg_write *w)
{
	struct files_source *f = (struct files_source *)s;
	char *dir = NULL, *text = NULL, *old = NULL;
	int rc;

	(void)cond; /* files have no revisions: the last writer wins, as before etcd */
	if ((rc = registry_fragment_text(name, body, len, &text, w->message, sizeof(w->message))) <
	    0) {
		w->result = rc == -EINVAL ? REG_WRITE_INVALID : REG_WRITE_FAILED;
		goto done;
	}
	if (fragment_dir(f, name, &dir, w) < 0)
		goto done;
	if (registry_fragment_check(f->config, text, name, &w->errs) < 0) {
		w->result = REG_WRITE_INVALID;
		goto done;
	}
	rc = registry_fragment_read(dir, name, &old);
	if (rc < 0 && rc != -ENOENT) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "cannot read %s/%s.yaml: %s", dir, name,
		         strerror(-rc));
		goto done;
	}
	if (!old && registry_find_service(current, name)) {
		w->result = REG_WRITE_CONFLICT;
		snprintf(
		    w->message, sizeof(w->message),
		    "service \"%s\" is defined in another file than %s/%s.yaml: change it there",
		    name, dir, name);
		goto done;
	}
	w->created = old == NULL;
	write_kept(f, w, dir, name, text, &old);
done:
	free(dir);
	free(text);
	free(old);
}

static void files_delete(struct reg_source *s, const struct registry *current, const char *name,
                         int64_t cond, struct reg_write *w)
{
	struct files_source *f = (struct files_source *)s;
	char *dir = NULL, *old = NULL;
	int rc, exists = registry_find_service(current, name) != NULL;

	(void)cond;
	if (fragment_dir(f, name, &dir, w) < 0)
		goto done;
	rc = registry_fragment_read(dir, name, &old);
	if (rc == -ENOENT) {
		w->result = exists ? REG_WRITE_CONFLICT : REG_WRITE_NOT_FOUND;
		if (exists)
			snprintf(w->message, sizeof(w->message),
			         "service \"%s\" is not defined by %s/%s.yaml: remove it from the "
			         "file that defines it",
			         name, dir, name);
		else
			snprintf(w->message, sizeof(w->message), "no service named \"%s\"", name);
		goto done;
	}
	if (rc < 0 || (rc = registry_fragment_remove(dir, name)) < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "cannot remove %s/%s.yaml: %s", dir, name,
		         strerror(-rc));
		goto done;
	}
	mark_dirty_in(f, dir, name);
	if (make_undo(w, dir, name, old) < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		goto done;
	}
	old = NULL;
	w->result = REG_WRITE_OK;
done:
	free(dir);
	free(old);
}

static void files_delete_instance(struct reg_source *s, const struct registry *current,
                                  const char *service, const char *instance, struct reg_write *w)
{
	struct files_source *f = (struct files_source *)s;
	char *dir = NULL, *old = NULL, *text = NULL;
	int rc;

	(void)current;
	if (fragment_dir(f, service, &dir, w) < 0)
		goto done;
	rc = registry_fragment_read(dir, service, &old);
	if (rc == -ENOENT) {
		w->result = REG_WRITE_CONFLICT;
		snprintf(w->message, sizeof(w->message),
		         "service \"%s\" is not defined by %s/%s.yaml (the API's): change the file "
		         "that defines it",
		         service, dir, service);
		goto done;
	}
	if (rc < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "cannot read %s/%s.yaml: %s", dir, service,
		         strerror(-rc));
		goto done;
	}
	rc = registry_fragment_drop_instance(service, old, instance, &text, w->message,
	                                     sizeof(w->message));
	if (rc < 0) {
		w->result = rc == -ENOENT ? REG_WRITE_NOT_FOUND : REG_WRITE_FAILED;
		goto done;
	}
	write_kept(f, w, dir, service, text, &old);
done:
	free(dir);
	free(old);
	free(text);
}

static void files_set_maint(struct reg_source *s, const struct registry *current,
                            const char *service, const char *instance, const char *reason,
                            struct reg_write *w)
{
	struct files_source *f = (struct files_source *)s;
	struct reg_maint *m = NULL;
	size_t n = 0;
	char *dir = NULL, *old = NULL, *text = NULL;
	int rc;

	(void)current;
	if (read_maint(f, &dir, &old, &m, &n, &w->errs) < 0) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "%s",
		         w->errs.n ? w->errs.lines[0] : "cannot read the maintenance file");
		registry_errors_clear(&w->errs);
		goto done;
	}
	if (!dir) {
		w->result = REG_WRITE_CONFLICT;
		snprintf(w->message, sizeof(w->message),
		         "%s has no include: folder to keep drains in (add e.g. `include: "
		         "services.d/*.yaml`)",
		         f->config);
		goto done;
	}
	rc = registry_maint_set(&m, &n, service, instance, reason);
	if (rc < 0 || !(text = registry_maint_format(m, n))) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		goto done;
	}
	write_kept(f, w, dir, REG_MAINT_NAME, rc > 0 ? text : NULL, &old);
done:
	registry_maint_free(m, n);
	free(dir);
	free(old);
	free(text);
}

static void files_undo(struct reg_source *s, struct reg_write *w)
{
	struct files_undo *u = w->undo;
	int rc;

	if (!u)
		return;
	mark_dirty_in((struct files_source *)s, u->dir, u->name);
	rc = u->old ? registry_fragment_write(u->dir, u->name, u->old)
	            : registry_fragment_remove(u->dir, u->name);
	if (rc < 0 && rc != -ENOENT)
		log_err("%s/%s.yaml: cannot put back the previous version: %s", u->dir, u->name,
		        strerror(-rc));
}

static void files_free(struct reg_source *s)
{
	struct files_source *f = (struct files_source *)s;

	reg_watch_free(f->watch);
	free_zones(f);
	clear_dirty(f);
	free(f->inc_dir);
	free(f->config);
	free(f);
}

static const struct reg_source_ops files_ops = {
    .name = "files",
    .load = files_load,
    .update = files_update,
    .watch = files_watch,
    .drain = files_drain,
    .put_service = files_put,
    .delete_service = files_delete,
    .delete_instance = files_delete_instance,
    .set_maintenance = files_set_maint,
    .undo = files_undo,
    .free = files_free,
};

int reg_source_files_create(const char *config, struct event_base *base,
                            reg_source_change_fn on_change, void *arg, struct reg_source **out)
{
	struct files_source *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f || !(f->config = strdup(config))) {
		free(f);
		return -ENOMEM;
	}
	f->s.ops = &files_ops;
	f->s.on_change = on_change;
	f->s.arg = arg;
	/* without inotify srvd still serves and reloads on SIGHUP */
	if (base && reg_watch_create(base, DEBOUNCE_MS, on_files, f, &f->watch) < 0)
		log_warn("watch: cannot use inotify; reload with SIGHUP");
	*out = &f->s;
	return 0;
}

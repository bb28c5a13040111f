/* SPDX-License-Identifier: BSD-3-Clause */
/* update.c: the registry after a change to some include files
 * (registry_update()), at the cost of those files: they are loaded as a
 * full load would load them (as includes of the main file, with its
 * server: and defaults:), and every other service is shared with the
 * registry served now. What a change to a few files cannot decide alone
 * (a name defined in two files, static zones checked against every
 * service, a file no include glob names) is left to a full load.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/loader.h"
#include "registry/registry.h"

/* Names, open addressing: the services kept, to find a name defined twice.
 * The hash beside each name spares most comparisons. */
struct name_slot {
	const char *name;
	uint64_t hash;
};

struct name_set {
	struct name_slot *slot;
	size_t mask;
};

uint64_t registry_name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (s && *s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static int set_init(struct name_set *set, size_t n)
{
	size_t size = 16;

	while (size < 2 * n + 2)
		size *= 2;
	set->slot = calloc(size, sizeof(*set->slot));
	set->mask = size - 1;
	return set->slot ? 0 : -1;
}

/* Adds the name of s; 1 if it was there already. */
static int set_add(struct name_set *set, const struct reg_service *s)
{
	const char *name = s->name;
	uint64_t h = s->name_hash;
	size_t i = h & set->mask;

	for (; set->slot[i].name; i = (i + 1) & set->mask)
		if (set->slot[i].hash == h && strcmp(set->slot[i].name, name) == 0)
			return 1;
	set->slot[i].name = name;
	set->slot[i].hash = h;
	return 0;
}

uint32_t registry_file_hash(const char *path)
{
	uint32_t h = 2166136261u;

	if (!path)
		return 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static int has_file(char *const *files, size_t n, const char *file)
{
	for (size_t i = 0; file && i < n; i++)
		if (strcmp(files[i], file) == 0)
			return 1;
	return 0;
}

/* The same for a service's file, its hash first (paths share long
 * prefixes, and every kept service is asked). */
static int has_service_file(char *const *files, const uint32_t *hashes, size_t n,
                            const struct reg_service *s)
{
	for (size_t i = 0; s->file && i < n; i++)
		if (hashes[i] == s->file_hash && strcmp(files[i], s->file) == 0)
			return 1;
	return 0;
}

/* 1 if path is one of current's include files by name: it matches an
 * include glob (the watch list less the main file and the zone files). */
static int is_include(const struct registry *cur, const char *path)
{
	for (size_t i = 0; i < cur->n_watch; i++)
		if (strcmp(cur->watch[i], cur->file) != 0 &&
		    fnmatch(cur->watch[i], path, FNM_PATHNAME | FNM_PERIOD) == 0)
			return 1;
	return 0;
}

static int same_drain(const struct reg_maint *a, const struct reg_maint *b)
{
	return strcmp(a->service, b->service) == 0 &&
	       (a->instance && b->instance ? strcmp(a->instance, b->instance) == 0
	                                   : a->instance == b->instance) &&
	       strcmp(a->reason, b->reason) == 0;
}

/* Adds to *files (growing it) the files of the services whose drains
 * differ between cur and m: 0, 1 (one has no file: full load) or -1. */
static int drained_files(const struct registry *cur, const struct reg_maint *m, size_t n,
                         char ***files, size_t *n_files)
{
	for (int side = 0; side < 2; side++) {
		const struct reg_maint *from = side ? m : cur->maint, *to = side ? cur->maint : m;
		size_t n_from = side ? n : cur->n_maint, n_to = side ? cur->n_maint : n;

		for (size_t i = 0; i < n_from; i++) {
			size_t k;

			for (k = 0; k < n_to && !same_drain(&from[i], &to[k]); k++)
				;
			if (k < n_to)
				continue;
			for (size_t s = 0; s < cur->n_services; s++) {
				const struct reg_service *svc = cur->services[s];
				char **grown;

				if (strcmp(svc->name, from[i].service) != 0)
					continue;
				/* a string, or the main file (not an include) */
				if (!is_include(cur, svc->file))
					return 1;
				if (has_file(*files, *n_files, svc->file))
					continue;
				grown = realloc(*files, (*n_files + 1) * sizeof(*grown));
				if (!grown)
					return -1;
				*files = grown;
				(*files)[(*n_files)++] = svc->file;
			}
		}
	}
	return 0;
}

static int add_service(struct registry *reg, size_t *cap, struct reg_service *s)
{
	if (reg->n_services == *cap) {
		size_t n = *cap ? 2 * *cap : 64;
		struct reg_service **grown = realloc(reg->services, n * sizeof(*grown));

		if (!grown)
			return -1;
		reg->services = grown;
		*cap = n;
	}
	registry_service_ref(s);
	reg->services[reg->n_services++] = s;
	return 0;
}

int registry_update(const struct registry *cur, char *const *files_in, size_t n_in,
                    struct reg_maint *m, size_t n_maint, struct registry **out,
                    struct reg_errors *errs)
{
	struct registry *reg = calloc(1, sizeof(*reg));
	struct name_set names = {NULL, 0};
	char **files = NULL;
	uint32_t *hashes = NULL;
	uint64_t sum = 0;
	size_t n_files = 0, cap = 0;
	int rc = 1;

	*out = NULL;
	if (!reg) {
		registry_maint_free(m, n_maint);
		goto oom;
	}
	/* borrowed until registry_adopt(); the drains are its own */
	reg->file = cur->file;
	reg->server = cur->server;
	reg->zones = cur->zones;
	reg->n_zones = cur->n_zones;
	reg->watch = cur->watch;
	reg->n_watch = cur->n_watch;
	reg->borrows = 1;
	reg->maint = m;
	reg->n_maint = n_maint;
	if (cur->n_zones)
		goto done; /* static records are checked against every service */
	files = malloc((n_in ? n_in : 1) * sizeof(*files));
	if (!files)
		goto oom;
	for (size_t i = 0; i < n_in; i++) {
		if (!is_include(cur, files_in[i]))
			goto done;
		if (!has_file(files, n_files, files_in[i]))
			files[n_files++] = files_in[i];
	}
	rc = drained_files(cur, m, n_maint, &files, &n_files);
	if (rc < 0)
		goto oom;
	if (rc > 0)
		goto done;
	/* the services of the other files, as they are; the digest sum
	 * follows (the services a change drops out, the ones it loads in) */
	sum = cur->services_sum_set ? cur->services_sum : 0;
	if (set_init(&names, cur->n_services + 64) < 0)
		goto oom;
	if (!(hashes = malloc((n_files ? n_files : 1) * sizeof(*hashes))))
		goto oom;
	for (size_t f = 0; f < n_files; f++)
		hashes[f] = registry_file_hash(files[f]);
	for (size_t i = 0; i < cur->n_services; i++) {
		struct reg_service *s = cur->services[i];

		if (has_service_file(files, hashes, n_files, s)) {
			sum -= cur->services_sum_set ? registry_service_digest(s) : 0;
			continue;
		}
		if (add_service(reg, &cap, s) < 0)
			goto oom;
		set_add(&names, s);
	}
	/* the files changed, as a full load reads them */
	for (size_t f = 0; f < n_files; f++) {
		struct registry *part = NULL;
		struct stat st;
		int dup = 0;

		if (stat(files[f], &st) < 0 && errno == ENOENT)
			continue; /* gone: so are its services */
		if (reg_load_include_file(files[f], cur->file, &part, errs) < 0) {
			rc = -1;
			goto done;
		}
		for (size_t i = 0; i < part->n_services && !dup; i++) {
			struct reg_service *s = part->services[i];

			dup = set_add(&names, s);
			if (!dup && (registry_maint_attach_service(s, m, n_maint) < 0 ||
			             add_service(reg, &cap, s) < 0)) {
				registry_free(part);
				goto oom;
			}
			if (!dup)
				sum += registry_service_digest(s);
		}
		registry_free(part);
		if (dup) {
			rc = 1; /* a full load says where it is defined twice */
			goto done;
		}
	}
	reg->services_sum = sum;
	reg->services_sum_set = cur->services_sum_set;
	free(files);
	free(hashes);
	free(names.slot);
	*out = reg;
	return 0;
oom:
	registry_errors_add(errs, "out of memory");
	rc = -1;
done:
	free(files);
	free(hashes);
	free(names.slot);
	registry_free(reg);
	return rc;
}

void registry_adopt(struct registry *reg, struct registry *from)
{
	if (!reg->borrows)
		return;
	reg->borrows = 0;
	/* from keeps its services and drains; the rest is reg's now */
	memset(&from->server, 0, sizeof(from->server));
	from->file = NULL;
	from->zones = NULL;
	from->n_zones = 0;
	from->watch = NULL;
	from->n_watch = 0;
}

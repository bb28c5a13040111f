/* SPDX-License-Identifier: BSD-3-Clause */
/* load.c: loads a registry: the main file, its includes and zone files, then
 * resolves inherited values and checks names for collisions, so that the
 * consumers (dns/, health/) never repeat any of it. */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "registry/loader.h"
#include "registry/registry.h"

void registry_errors_add(struct reg_errors *errs, const char *line)
{
	char **grown = realloc(errs->lines, (errs->n + 1) * sizeof(*grown));

	if (!grown)
		return;
	errs->lines = grown;
	if ((grown[errs->n] = strdup(line)))
		errs->n++;
}

void reg_error_line(struct reg_loader *ld, const char *line)
{
	ld->failed = 1;
	registry_errors_add(ld->errs, line);
}

void reg_error(struct reg_loader *ld, const struct ynode *node, const struct sch_path *path,
               const char *fmt, ...)
{
	char msg[1024], line[2048];
	int has_path = path && path->len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node)
		snprintf(line, sizeof(line), "%s:%u:%u: %s%s%s", node->file, node->line, node->col,
		         has_path ? path->buf : "", has_path ? ": " : "", msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	reg_error_line(ld, line);
}

static void on_yaml_error(void *arg, const char *line)
{
	reg_error_line(arg, line);
}

void registry_errors_clear(struct reg_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->n = 0;
}

char *reg_path_join(const char *base, const char *rel)
{
	const char *slash = strrchr(base, '/');
	size_t dir;
	char *out;

	if (rel[0] == '/' || !slash)
		return strdup(rel);
	dir = (size_t)(slash - base) + 1;
	out = malloc(dir + strlen(rel) + 1);
	if (!out)
		return NULL;
	memcpy(out, base, dir);
	strcpy(out + dir, rel);
	return out;
}

static int keep_doc(struct reg_loader *ld, struct ydoc *doc)
{
	struct ydoc **grown = realloc(ld->docs, (ld->n_docs + 1) * sizeof(*grown));

	if (!grown) {
		ydoc_free(doc);
		reg_error_line(ld, "out of memory");
		return -1;
	}
	ld->docs = grown;
	ld->docs[ld->n_docs++] = doc;
	return 0;
}

static void free_docs(struct reg_loader *ld)
{
	for (size_t i = 0; i < ld->n_docs; i++)
		ydoc_free(ld->docs[i]);
	free(ld->docs);
	ld->docs = NULL;
	ld->n_docs = 0;
}

static const struct ynode *find_key(const struct ynode *map, const char *key)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

/* Appends a copy of path to reg->watch. Returns 0 or -1 (out of memory). */
static int add_watch(struct registry *reg, const char *path)
{
	char **grown = realloc(reg->watch, (reg->n_watch + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	reg->watch = grown;
	if (!(grown[reg->n_watch] = strdup(path)))
		return -1;
	reg->n_watch++;
	return 0;
}

/* One file an include: glob matched, parsed on any thread, then walked in
 * order on the loader's. */
struct inc_file {
	const struct reg_noted *inc; /* the include: entry that matched it */
	char *path;                  /* the file, or the pattern if glob_rc is not 0 */
	int glob_rc;                 /* not 0: the glob itself failed */
	int open_errno;              /* not 0: could not be opened */
	int parse_rc;
	struct ydoc *doc;
	char **errs; /* YAML errors, replayed in order so messages do not depend on threads */
	size_t n_errs;
	int errs_lost; /* out of memory while keeping one */
};

struct inc_jobs {
	struct inc_file *f;
	size_t n, cap;
	size_t next; /* the next file to parse; taken under lock */
	pthread_mutex_t lock;
};

/* Threads parsing include files at once, the loader's own included: libyaml
 * is most of a large load's CPU, and the files are independent. */
#define INC_THREADS_MAX 4

static void inc_error(void *arg, const char *line)
{
	struct inc_file *f = arg;
	char **grown = realloc(f->errs, (f->n_errs + 1) * sizeof(*grown));

	if (!grown || !(grown[f->n_errs] = strdup(line))) {
		if (grown)
			f->errs = grown;
		f->errs_lost = 1;
		return;
	}
	f->errs = grown;
	f->n_errs++;
}

static void inc_parse(struct inc_file *f)
{
	FILE *fp = ydoc_fopen(f->path);

	if (!fp) {
		f->open_errno = errno ? errno : EIO;
		return;
	}
	f->parse_rc = ydoc_parse_stream(fp, f->path, &f->doc, inc_error, f);
	fclose(fp);
}

static void *inc_worker(void *arg)
{
	struct inc_jobs *jobs = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&jobs->lock);
		i = jobs->next++;
		pthread_mutex_unlock(&jobs->lock);
		if (i >= jobs->n)
			return NULL;
		if (!jobs->f[i].glob_rc)
			inc_parse(&jobs->f[i]);
	}
}

static int inc_add(struct inc_jobs *jobs, const struct reg_noted *inc, const char *path,
                   int glob_rc)
{
	struct inc_file *f;

	if (jobs->n == jobs->cap) {
		size_t cap = jobs->cap ? 2 * jobs->cap : 16;
		struct inc_file *grown = realloc(jobs->f, cap * sizeof(*grown));

		if (!grown)
			return -1;
		jobs->f = grown;
		jobs->cap = cap;
	}
	f = &jobs->f[jobs->n];
	memset(f, 0, sizeof(*f));
	f->inc = inc;
	f->glob_rc = glob_rc;
	if (!(f->path = strdup(path)))
		return -1;
	jobs->n++;
	return 0;
}

/* Parses every file in jobs, on up to INC_THREADS_MAX threads. A thread that
 * cannot start leaves its share to the others; the caller's always runs. */
static void inc_parse_all(struct inc_jobs *jobs)
{
	pthread_t threads[INC_THREADS_MAX - 1];
	size_t n_threads = 0, want = 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus > 1)
		want = cpus < INC_THREADS_MAX ? (size_t)cpus : INC_THREADS_MAX;
	if (want > jobs->n)
		want = jobs->n ? jobs->n : 1;
	for (size_t i = 1; i < want; i++)
		if (pthread_create(&threads[n_threads], NULL, inc_worker, jobs) == 0)
			n_threads++;
	inc_worker(jobs);
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
}

/* Expands every include: glob (in order), parses the files they match in
 * parallel, then walks them in the same order as one thread would, so that
 * the registry and its error messages are the same whatever the threads did. */
static void load_includes(struct reg_loader *ld)
{
	struct inc_jobs jobs = {.n = 0};
	int oom = 0;

	pthread_mutex_init(&jobs.lock, NULL);
	for (size_t i = 0; !oom && i < ld->top.n_includes; i++) {
		const struct reg_noted *inc = &ld->top.includes[i];
		char *pattern = reg_path_join(inc->node->file, inc->text);
		glob_t g;
		int rc;

		if (!pattern || add_watch(ld->reg, pattern) < 0) {
			reg_error(ld, inc->node, &inc->path, "out of memory");
			free(pattern);
			continue;
		}
		rc = glob(pattern, 0, NULL, &g);
		if (rc != 0 && rc != GLOB_NOMATCH)
			oom = inc_add(&jobs, inc, pattern, rc) < 0;
		for (size_t k = 0; rc == 0 && !oom && k < g.gl_pathc; k++)
			oom = inc_add(&jobs, inc, g.gl_pathv[k], 0) < 0;
		if (rc == 0)
			globfree(&g);
		free(pattern);
	}
	if (oom)
		reg_error_line(ld, "out of memory");
	else
		inc_parse_all(&jobs);
	for (size_t i = 0; i < jobs.n; i++) {
		struct inc_file *f = &jobs.f[i];
		const struct reg_noted *inc = f->inc;
		struct sch_path top = {.len = 0};
		uint64_t mask = 0;

		for (size_t k = 0; k < f->n_errs; k++)
			reg_error_line(ld, f->errs[k]);
		if (f->errs_lost)
			reg_error(ld, inc->node, &inc->path, "%s: out of memory", f->path);
		if (oom || !f->path) {
			/* not parsed */
		} else if (f->glob_rc) {
			reg_error(ld, inc->node, &inc->path, "cannot expand \"%s\"", f->path);
		} else if (f->open_errno) {
			/* nothing of the file to point at: point at the glob
			 * that matched it, as zones: does */
			reg_error(ld, inc->node, &inc->path, "\"%s\": %s: cannot open: %s",
			          inc->text, f->path, strerror(f->open_errno));
		} else if (f->parse_rc == 0) {
			struct ydoc *doc = f->doc;

			f->doc = NULL; /* keep_doc() takes it, or frees it when it cannot */
			if (keep_doc(ld, doc) == 0 && doc->root)
				sch_walk(ld, &reg_include_table, 0, doc->root, &ld->top, &mask,
				         &top);
		}
		ydoc_free(f->doc); /* a failed parse may still have left one */
		for (size_t k = 0; k < f->n_errs; k++)
			free(f->errs[k]);
		free(f->errs);
		free(f->path);
	}
	free(jobs.f);
	pthread_mutex_destroy(&jobs.lock);
}

static char *prefixed(const char *label, const char *zone)
{
	size_t len = strlen(label) + strlen(zone) + 2;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, "%s.%s", label, strcmp(zone, ".") == 0 ? "" : zone);
	return out;
}

static void resolve_server(struct reg_loader *ld)
{
	struct reg_srv_build *sb = &ld->top.server;
	struct reg_server *srv = &sb->srv;
	char host[256];

	if (sch_inherit(ld, &reg_server_table, 0, sb, &sb->set, NULL, NULL) < 0 || !srv->zone)
		return;
	if (!srv->soa.mname)
		srv->soa.mname = prefixed("ns1", srv->zone);
	if (!srv->soa.rname)
		srv->soa.rname = prefixed("hostmaster", srv->zone);
	if (srv->n_ns == 0 && srv->soa.mname) {
		free(srv->ns);
		srv->ns = calloc(1, sizeof(*srv->ns));
		if (srv->ns && (srv->ns[0] = strdup(srv->soa.mname)))
			srv->n_ns = 1;
	}
	if (!srv->identity) {
		if (gethostname(host, sizeof(host)) < 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		srv->identity = strdup(host);
	}
	if (!srv->soa.mname || !srv->soa.rname || !srv->n_ns || !srv->identity)
		reg_error_line(ld, "out of memory");
}

static size_t name_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* One service's instances by name, so that duplicate names and tags naming
 * an instance are found in linear time (a PUT body of 1 MiB holds 30,000
 * instances): open addressing, the index + 1 of the first instance of each
 * name (0: empty). */
struct inst_index {
	size_t *slots;
	size_t mask;
};

static size_t *inst_slot(const struct inst_index *x, const struct reg_svc_build *b,
                         const char *name)
{
	for (size_t i = name_hash(name) & x->mask;; i = (i + 1) & x->mask) {
		size_t *slot = &x->slots[i];

		if (*slot == 0 || strcmp(b->inst[*slot - 1].inst.name, name) == 0)
			return slot;
	}
}

static void check_tag(struct reg_loader *ld, const struct reg_svc_build *b,
                      const struct inst_index *x, const char *tag, const struct ynode *node,
                      struct sch_path *path)
{
	size_t slot = *inst_slot(x, b, tag);
	const struct ynode *name = slot ? find_key(b->inst[slot - 1].node, "name") : NULL;

	if (name)
		reg_error(ld, node, path, "tag \"%s\" is also the name of an instance (%s:%u:%u)",
		          tag, name->file, name->line, name->col);
}

/* Tags name TAG.SERVICE.<zone> and instances NAME.SERVICE.<zone>. */
static void check_tags(struct reg_loader *ld, const struct reg_svc_build *b,
                       const struct inst_index *x, char **tags, size_t n_tags,
                       const struct ynode *node, struct sch_path *path)
{
	for (size_t t = 0; node && t < n_tags; t++) {
		const struct ynode *tnode = node->kind == YNODE_SEQ ? node->items[t] : node;
		size_t old = node->kind == YNODE_SEQ ? sch_path_index(path, t) : path->len;

		check_tag(ld, b, x, tags[t], tnode, path);
		sch_path_pop(path, old);
	}
}

/* services.NAME.instances[i], from path = services.NAME */
static struct sch_path inst_path(const struct sch_path *path, size_t i)
{
	struct sch_path p = *path;

	sch_path_key(&p, "instances");
	sch_path_index(&p, i);
	return p;
}

static void resolve_instances(struct reg_loader *ld, struct reg_svc_build *b, struct sch_path *path)
{
	struct inst_index x = {NULL, 0};
	size_t cap = 16, old;

	while (cap < 2 * b->n_inst)
		cap *= 2;
	if (!(x.slots = calloc(cap, sizeof(*x.slots)))) {
		reg_error_line(ld, "out of memory");
		return;
	}
	x.mask = cap - 1;
	for (size_t i = 0; i < b->n_inst; i++) {
		struct reg_inst_build *ib = &b->inst[i];
		const struct ynode *name = find_key(ib->node, "name");
		struct sch_path ipath;

		size_t *slot;

		if (sch_inherit(ld, &reg_instance_table, 0, ib, &ib->set, NULL, NULL) < 0)
			goto done;
		if (!sch_is_set(&reg_instance_table, ib->set, "port"))
			ib->inst.port = b->svc.port;
		if (ib->inst.port == 0 && ib->node->kind == YNODE_MAP) {
			ipath = inst_path(path, i);
			reg_error(ld, ib->node, &ipath,
			          "no port: set port here, in the service or in defaults");
		}
		if (ib->inst.check_addr.family) {
			ipath = inst_path(path, i);
			reg_check_addresses(ld, ib, &ipath);
		}
		if (!ib->inst.name)
			continue;
		slot = inst_slot(&x, b, ib->inst.name);
		if (*slot == 0) {
			*slot = i + 1;
		} else {
			const struct ynode *first = find_key(b->inst[*slot - 1].node, "name");
			struct sch_path p = inst_path(path, i);

			sch_path_key(&p, "name");
			reg_error(ld, name, &p, "duplicate instance \"%s\" (first at %s:%u:%u)",
			          ib->inst.name, first->file, first->line, first->col);
		}
	}
	for (size_t i = 0; i < b->n_inst; i++) {
		struct reg_inst_build *ib = &b->inst[i];
		const struct ynode *tags = find_key(ib->node, "tags");
		struct sch_path p;

		if (!tags)
			continue;
		p = inst_path(path, i);
		sch_path_key(&p, "tags");
		check_tags(ld, b, &x, ib->inst.tags, ib->inst.n_tags, tags, &p);
	}
	old = sch_path_key(path, "tags");
	check_tags(ld, b, &x, b->svc.tags, b->svc.n_tags, find_key(b->node, "tags"), path);
	sch_path_pop(path, old);
done:
	free(x.slots);
}

static void resolve_services(struct reg_loader *ld)
{
	const struct reg_server *srv = &ld->top.server.srv;
	struct reg_svc_build *defs = &ld->top.defaults;

	for (size_t i = 0; i < ld->n_svcs; i++) {
		struct reg_svc_build *b = &ld->svcs[i];
		struct check_config *c = &b->svc.check;
		struct sch_path path = {.len = 0};
		char t[24], iv[24];
		uint64_t own = b->check_set; /* before defaults fill it */

		sch_path_key(&path, "services");
		sch_path_key(&path, b->key->value);
		if (sch_inherit(ld, &reg_service_table, SCH_DEFAULTS, b, &b->set, defs,
		                &defs->set) < 0)
			return;
		if (!sch_is_set(&reg_service_table, b->set, "ttl"))
			b->svc.ttl = srv->ttl;
		if (!sch_is_set(&reg_service_table, b->set, "max_answers"))
			b->svc.max_answers = srv->max_answers;
		if (!sch_is_set(&reg_check_table, b->check_set, "unhealthy_interval"))
			c->unhealthy_interval_ms = c->interval_ms;
		if (c->timeout_ms > c->interval_ms) {
			size_t old = b->check ? sch_path_key(&path, "check") : path.len;

			sch_fmt_ms(t, sizeof(t), c->timeout_ms);
			sch_fmt_ms(iv, sizeof(iv), c->interval_ms);
			reg_error(ld, b->check ? b->check : b->key, &path,
			          "timeout %s exceeds interval %s", t, iv);
			sch_path_pop(&path, old);
		}
		reg_check_rules(ld, b, own, &path);
		reg_resolve_answers(ld, b, &path);
		resolve_instances(ld, b, &path);
		/* the file it came from (a change reloads it alone): the node
		 * trees, which hold the names, go before assemble() */
		if (b->key->file && !(b->svc.file = strdup(b->key->file)))
			reg_error_line(ld, "out of memory");
		b->svc.file_hash = registry_file_hash(b->svc.file);
		reg_check_ports(ld, b, &path);
	}
}

/* The slot of name in ld->svc_slots: its first service's, or the empty one
 * where it goes. */
static size_t *name_slot(const struct reg_loader *ld, const char *name)
{
	for (size_t i = name_hash(name) & ld->svc_mask;; i = (i + 1) & ld->svc_mask) {
		size_t *slot = &ld->svc_slots[i];

		if (*slot == 0 || strcmp(ld->svcs[*slot - 1].svc.name, name) == 0)
			return slot;
	}
}

const struct reg_svc_build *reg_svc_first(const struct reg_loader *ld, const char *name)
{
	size_t *slot;

	if (!ld->svc_slots)
		return NULL;
	slot = name_slot(ld, name);
	return *slot ? &ld->svcs[*slot - 1] : NULL;
}

const struct reg_svc_build *reg_svc_next(const struct reg_loader *ld, const struct reg_svc_build *b)
{
	size_t next = ld->svc_next[b - ld->svcs];

	return next ? &ld->svcs[next - 1] : NULL;
}

/* Indexes the services by name and reports every repeated one at its first
 * occurrence, in file order. */
static void index_services(struct reg_loader *ld)
{
	size_t cap = 16, *last;

	while (cap < 2 * ld->n_svcs)
		cap *= 2;
	ld->svc_slots = calloc(cap, sizeof(*ld->svc_slots));
	ld->svc_next = calloc(ld->n_svcs ? ld->n_svcs : 1, sizeof(*ld->svc_next));
	/* last[k]: the latest service of the name whose first is k, to chain in order */
	last = calloc(ld->n_svcs ? ld->n_svcs : 1, sizeof(*last));
	if (!ld->svc_slots || !ld->svc_next || !last) {
		free(ld->svc_slots);
		ld->svc_slots = NULL;
		free(last);
		reg_error_line(ld, "out of memory");
		return;
	}
	ld->svc_mask = cap - 1;
	for (size_t i = 0; i < ld->n_svcs; i++) {
		const char *name = ld->svcs[i].svc.name;
		size_t *slot, k;
		const struct ynode *first;
		struct sch_path path = {.len = 0};

		if (!name)
			continue;
		slot = name_slot(ld, name);
		if (*slot == 0) {
			*slot = i + 1;
			last[i] = i;
			continue;
		}
		k = *slot - 1;
		ld->svc_next[last[k]] = i + 1;
		last[k] = i;
		first = ld->svcs[k].key;
		sch_path_key(&path, "services");
		sch_path_key(&path, ld->svcs[i].key->value);
		reg_error(ld, ld->svcs[i].key, &path,
		          "duplicate service \"%s\" (first at %s:%u:%u)", name, first->file,
		          first->line, first->col);
	}
	free(last);
}

void reg_svc_build_free(struct reg_svc_build *b)
{
	free(b->svc.name);
	b->svc.name = NULL;
	free(b->svc.file);
	b->svc.file = NULL;
	sch_free(&reg_service_table, b);
	for (size_t i = 0; i < b->n_inst; i++) {
		sch_free(&reg_instance_table, &b->inst[i]);
		reg_addrs_free(&b->inst[i].inst);
	}
	free(b->inst);
	b->inst = NULL;
	b->n_inst = 0;
}

/* Moves the resolved values out of the builds into ld->reg. */
static int assemble(struct reg_loader *ld)
{
	struct registry *reg = ld->reg;

	reg->server = ld->top.server.srv;
	memset(&ld->top.server.srv, 0, sizeof(ld->top.server.srv));
	reg->services = calloc(ld->n_svcs ? ld->n_svcs : 1, sizeof(*reg->services));
	if (!reg->services)
		return -1;
	for (size_t i = 0; i < ld->n_svcs; i++) {
		struct reg_svc_build *b = &ld->svcs[i];
		struct reg_service *svc = malloc(sizeof(*svc));
		struct reg_instance *inst = calloc(b->n_inst ? b->n_inst : 1, sizeof(*inst));

		if (!svc || !inst) {
			free(svc);
			free(inst);
			return -1;
		}
		for (size_t k = 0; k < b->n_inst; k++) {
			inst[k] = b->inst[k].inst;
			memset(&b->inst[k].inst, 0, sizeof(b->inst[k].inst));
		}
		*svc = b->svc;
		svc->instances = inst;
		svc->n_instances = b->n_inst;
		svc->refs = 1;
		svc->name_hash = registry_name_hash(svc->name);
		svc->digest_set = 0;
		svc->table_hint = UINT32_MAX;
		memset(&b->svc, 0, sizeof(b->svc));
		reg->services[reg->n_services++] = svc;
	}
	return 0;
}

/* Walks only the server: and defaults: (unless own_defaults: the text
 * brings its own) of main file path into ld->top, so that what follows is
 * loaded as one of its include files would be; its zones, includes and
 * services are not read. */
static void load_context(struct reg_loader *ld, const char *path, int own_defaults)
{
	struct ydoc *doc;
	struct ynode *keys[2], *items[2];
	struct ynode ctx = {.kind = YNODE_MAP, .keys = keys, .items = items};
	const struct ynode *root;
	struct sch_path spath = {.len = 0};
	uint64_t mask = 0;

	if (ydoc_parse_file(path, &doc, on_yaml_error, ld) < 0 || keep_doc(ld, doc) < 0)
		return;
	root = doc->root;
	for (size_t i = 0; root && root->kind == YNODE_MAP && i < root->n; i++)
		if (ctx.n < 2 &&
		    (strcmp(root->keys[i]->value, "server") == 0 ||
		     (!own_defaults && strcmp(root->keys[i]->value, "defaults") == 0))) {
			keys[ctx.n] = root->keys[i];
			items[ctx.n++] = root->items[i];
		}
	if (ctx.n)
		sch_walk(ld, &reg_top_table, 0, &ctx, &ld->top, &mask, &spath);
}

static int load(const char *name, const char *text, const struct sch_table *table,
                const char *context, int own_defaults, int from_api, struct registry **out,
                struct reg_errors *errs)
{
	struct reg_errors local = {NULL, 0};
	struct reg_loader ld = {.errs = errs ? errs : &local, .from_api = from_api};
	struct ydoc *doc = NULL;
	int rc;

	*out = NULL;
	ld.reg = calloc(1, sizeof(*ld.reg));
	if (!ld.reg || !(ld.reg->file = strdup(name)) || add_watch(ld.reg, name) < 0) {
		reg_error_line(&ld, "out of memory");
		goto done;
	}
	if (context)
		load_context(&ld, context, own_defaults);
	if (text)
		rc = ydoc_parse_string(text, strlen(text), name, &doc, on_yaml_error, &ld);
	else
		rc = ydoc_parse_file(name, &doc, on_yaml_error, &ld);
	if (rc < 0 || keep_doc(&ld, doc) < 0)
		goto done;
	if (doc->root) {
		struct sch_path path = {.len = 0};
		uint64_t mask = 0;

		sch_walk(&ld, table, 0, doc->root, &ld.top, &mask, &path);
	}
	load_includes(&ld);
	resolve_server(&ld);
	resolve_services(&ld);
	index_services(&ld);
	if (ld.top.server.srv.zone && reg_zones_load(&ld) == 0)
		reg_zones_check_services(&ld);
	for (size_t i = 0; !ld.failed && i < ld.reg->n_zones; i++)
		if (add_watch(ld.reg, ld.reg->zones[i].file) < 0)
			reg_error_line(&ld, "out of memory");
	/* every error that points into the files is known: the node trees
	 * (the largest part of a load) go before the registry is assembled,
	 * which lowers a reload's peak */
	free_docs(&ld);
	if (!ld.failed && assemble(&ld) < 0)
		reg_error_line(&ld, "out of memory");
done:
	for (size_t i = 0; i < ld.n_svcs; i++)
		reg_svc_build_free(&ld.svcs[i]);
	free(ld.svcs);
	reg_svc_build_free(&ld.top.defaults);
	reg_sites_free(&ld.top.server.srv);
	sch_free(&reg_server_table, &ld.top.server);
	for (size_t i = 0; i < ld.top.n_zones; i++)
		free(ld.top.zones[i].text);
	free(ld.top.zones);
	for (size_t i = 0; i < ld.top.n_includes; i++)
		free(ld.top.includes[i].text);
	free(ld.top.includes);
	free_docs(&ld);
	for (size_t i = 0; ld.reg && i < ld.reg->n_zones; i++)
		free(ld.zone_lines ? ld.zone_lines[i] : NULL);
	free(ld.zone_lines);
	free(ld.svc_slots);
	free(ld.svc_next);
	registry_errors_clear(&local);
	if (ld.failed) {
		registry_free(ld.reg);
		return -1;
	}
	*out = ld.reg;
	return 0;
}

int registry_load_file(const char *path, struct registry **out, struct reg_errors *errs)
{
	return load(path, NULL, &reg_top_table, NULL, 0, 0, out, errs);
}

int registry_load_string(const char *text, const char *name, struct registry **out,
                         struct reg_errors *errs)
{
	return load(name, text, &reg_top_table, NULL, 0, 0, out, errs);
}

int reg_load_include_string(const char *text, const char *name, const char *main_file,
                            struct registry **out, struct reg_errors *errs)
{
	return load(name, text, &reg_include_table, main_file, 0, 1, out, errs);
}

int reg_load_etcd_string(const char *text, const char *name, const char *main_file,
                         struct registry **out, struct reg_errors *errs)
{
	return load(name, text, &reg_etcd_table, main_file, 1, 1, out, errs);
}

int reg_load_include_file(const char *path, const char *main_file, struct registry **out,
                          struct reg_errors *errs)
{
	return load(path, NULL, &reg_include_table, main_file, 0, 0, out, errs);
}

void registry_service_ref(struct reg_service *svc)
{
	svc->refs++;
}

void registry_service_unref(struct reg_service *svc)
{
	if (!svc || --svc->refs > 0)
		return;
	for (size_t k = 0; k < svc->n_instances; k++) {
		free((char *)svc->instances[k].maintenance);
		sch_free(&reg_instance_table, &svc->instances[k]);
		reg_addrs_free(&svc->instances[k]);
	}
	free((char *)svc->maintenance);
	free(svc->instances);
	free(svc->name);
	free(svc->file);
	sch_free(&reg_service_table, svc);
	free(svc);
}

void registry_free(struct registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n_services; i++)
		registry_service_unref(reg->services[i]);
	free(reg->services);
	registry_maint_free(reg->maint, reg->n_maint);
	if (!reg->borrows) {
		reg_sites_free(&reg->server);
		sch_free(&reg_server_table, &reg->server);
		for (size_t i = 0; i < reg->n_zones; i++)
			reg_zone_free(&reg->zones[i]);
		free(reg->zones);
		for (size_t i = 0; i < reg->n_watch; i++)
			free(reg->watch[i]);
		free(reg->watch);
		free(reg->file);
	}
	free(reg);
}

const struct reg_service *registry_find_service(const struct registry *reg, const char *name)
{
	for (size_t i = 0; reg && i < reg->n_services; i++)
		if (strcmp(reg->services[i]->name, name) == 0)
			return reg->services[i];
	return NULL;
}

int registry_check_file(const char *path, FILE *out)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;

	if (registry_load_file(path, &reg, &errs) == 0) {
		fprintf(out, "%s: ok\n", path);
		registry_free(reg);
		registry_errors_clear(&errs);
		return 0;
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(out, "%s\n", errs.lines[i]);
	registry_errors_clear(&errs);
	return 2;
}

int registry_parse_listen(const char *text, struct reg_listen *out)
{
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (addr_parse_hostport(text, &out->addr, &out->addr_len, &port) < 0)
		return -1;
	out->text = strdup(text);
	return out->text ? 0 : -1;
}

void registry_schema_print(FILE *out)
{
	sch_print(out, &reg_server_table, "server.", 0);
	fprintf(out, "%-34s %s\n", "zones", "list of RFC 1035 master files, relative to this file");
	fprintf(out, "%-34s %s\n", "include",
	        "glob or list of globs of files holding only services:, relative to this file");
	sch_print(out, &reg_service_table, "defaults.", SCH_DEFAULTS);
	sch_print(out, &reg_service_table, "services.NAME.", SCH_SERVICE);
	sch_print(out, &reg_instance_table, "services.NAME.instances[].", 0);
}

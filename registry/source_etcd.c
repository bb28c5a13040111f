/* SPDX-License-Identifier: BSD-3-Clause */
/* source_etcd.c: the registry from the files and from etcd v3 together
 * (source.h; README "Running a fleet", SPEC section 9).
 *
 * The files source goes on serving the files; this source adds the services
 * stored under the etcd prefix (PREFIXservices/NAME, one service each, with
 * PREFIXdefaults as their defaults:). It keeps every key in memory: read
 * with one range request, then watched from the next revision over the JSON
 * gateway (etcd_client.c). A watch that ends resumes from the last revision
 * seen on the next endpoint; a compacted revision makes it read everything
 * again. A load (daemon_reload) gives the files' registry plus the etcd
 * services, so the daemon's one reload path applies both.
 *
 * Each key is checked alone when it arrives (the schema of an API write, the
 * main file's server: as context): a bad value, or a name a file already
 * defines, leaves that key out with its key and line:col in the log and in
 * /v1/status; every other key applies. The checked keys are then loaded
 * together as one document, so a load costs one parse of the etcd services.
 *
 * etcd down: the last registry goes on serving; a start while etcd is down
 * serves the cache file (the keys of the last sync, written atomically at
 * most once a second). The API's writes go to etcd (blocking the main loop
 * for at most the timeout per endpoint; the DNS workers go on answering).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "registry/etcd_client.h"
#include "registry/loader.h"
#include "registry/source.h"

#define COALESCE_MS    10   /* a burst of watch events makes one reload */
#define CACHE_EVERY_MS 1000 /* the cache file is written at most this often */
#define RETRY_MIN_MS   100  /* a failed read or watch is tried again after this ... */
#define RETRY_MAX_MS   2000 /* ... doubling up to this */

#define SERVICES  "services/"
#define DEFAULTS  "defaults"
#define MAINT     "maintenance/"
#define INSTANCES "instances/"
#define RESULTS   "health/" /* a ttl check's result, shared by the fleet */
#define OWN_MAX   64        /* revisions of our own results, not applied twice */
/* an instance key's value in the text instance() loads */
#define INST_LINE 8
#define INST_COL  9

/* One key under the prefix (key without the prefix). */
struct kv {
	char *key, *value;
	size_t len;
	int64_t mod;
	int64_t lease; /* the etcd lease the key is on (0: none) */
	int checked;   /* 0: not yet; 1: good; -1: rejected (error) */
	char *error;   /* the first error line, for /v1/status */
	int conflict;  /* a file defines the service: logged once */
};

struct etcd_source {
	struct reg_source s; /* first: the source is an etcd_source */
	struct reg_source *files;
	char *config, *prefix, *cache;
	struct event_base *base;
	struct etcd_client *cl;
	struct kv *kv; /* sorted by key */
	size_t n, cap;
	int64_t revision;
	int synced, up, from_cache, started, defaults_gen;
	uint64_t rejected;
	struct etcd_req *range, *watch;
	struct event *retry, *notify, *cache_ev;
	uint32_t retry_ms;
	int cache_dirty;
	int64_t own[OWN_MAX]; /* revisions of the results this srvd wrote (a ring) */
	size_t n_own;
	/* what the last load served, for writes and the report */
	char **file_names; /* sorted */
	size_t n_file_names;
	char **bad, **conflicts;
	size_t n_bad, n_conflicts;
};

/* --- the keys ---------------------------------------------------------- */

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static struct kv *kv_find(struct etcd_source *e, const char *key)
{
	struct kv probe = {.key = (char *)key};

	return e->n ? bsearch(&probe, e->kv, e->n, sizeof(*e->kv), kv_cmp) : NULL;
}

static void kv_clear(struct kv *k)
{
	free(k->key);
	free(k->value);
	free(k->error);
	memset(k, 0, sizeof(*k));
}

/* Stores key = value (len bytes, taken) at revision mod. Returns 1 if it
 * changed something, 0 if not (an old event), -1 when out of memory. */
static int kv_set(struct etcd_source *e, const char *key, char *value, size_t len, int64_t mod)
{
	struct kv *k = kv_find(e, key);
	size_t lo = 0, hi = e->n;

	if (k) {
		if (mod && k->mod >= mod) {
			free(value);
			return 0;
		}
		free(k->value);
		free(k->error);
		k->error = NULL;
		k->value = value;
		k->len = len;
		k->mod = mod;
		k->checked = 0;
		k->conflict = 0;
		return 1;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct kv *n = realloc(e->kv, cap * sizeof(*n));

		if (!n) {
			free(value);
			return -1;
		}
		e->kv = n;
		e->cap = cap;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(e->kv[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&e->kv[lo + 1], &e->kv[lo], (e->n - lo) * sizeof(*e->kv));
	memset(&e->kv[lo], 0, sizeof(*e->kv));
	if (!(e->kv[lo].key = strdup(key))) {
		memmove(&e->kv[lo], &e->kv[lo + 1], (e->n - lo) * sizeof(*e->kv));
		free(value);
		return -1;
	}
	e->kv[lo].value = value;
	e->kv[lo].len = len;
	e->kv[lo].mod = mod;
	e->n++;
	return 1;
}

/* Removes key (deleted at revision mod; 0: unconditionally). 1 if it was there. */
static int kv_del(struct etcd_source *e, const char *key, int64_t mod)
{
	struct kv *k = kv_find(e, key);
	size_t i;

	if (!k || (mod && k->mod > mod))
		return 0;
	i = (size_t)(k - e->kv);
	kv_clear(k);
	memmove(&e->kv[i], &e->kv[i + 1], (e->n - i - 1) * sizeof(*e->kv));
	e->n--;
	return 1;
}

static void kv_free_all(struct etcd_source *e)
{
	for (size_t i = 0; i < e->n; i++)
		kv_clear(&e->kv[i]);
	e->n = 0;
}

/* A key's effect on what is served changed: every service reloads
 * (defaults) or the one named. */
static void key_changed(struct etcd_source *e, const char *key)
{
	if (strcmp(key, DEFAULTS) == 0) {
		/* the defaults apply to every etcd service: check them all again */
		for (size_t i = 0; i < e->n; i++)
			e->kv[i].checked = 0;
	} else if (strncmp(key, SERVICES, strlen(SERVICES)) == 0) {
		/* its instance keys take its port: check them again */
		const char *name = key + strlen(SERVICES);
		size_t n = strlen(name);

		for (size_t i = 0; i < e->n; i++) {
			const char *k = e->kv[i].key;

			if (strncmp(k, INSTANCES, strlen(INSTANCES)) == 0 &&
			    strncmp(k + strlen(INSTANCES), name, n) == 0 &&
			    k[strlen(INSTANCES) + n] == '/') {
				e->kv[i].checked = 0;
				e->kv[i].conflict = 0;
			}
		}
	}
	e->cache_dirty = 1;
	if (e->started && !evtimer_pending(e->notify, NULL)) {
		struct timeval tv = {0, COALESCE_MS * 1000};

		evtimer_add(e->notify, &tv);
	}
}

/* --- checking and loading the etcd services ---------------------------- */

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_file_service(const struct etcd_source *e, const char *name)
{
	return e->n_file_names &&
	       bsearch(&name, e->file_names, e->n_file_names, sizeof(char *), str_cmp) != NULL;
}

/* text indented under a key of its own: the lines of a fragment's body
 * (registry_fragment_text(), which also refuses what the indenting would
 * get wrong), from "  NAME:" on. Caller frees. */
static char *service_block(const char *name, const char *value, size_t len, char *err,
                           size_t errlen)
{
	char *text = NULL, *at;
	size_t skip;

	if (registry_fragment_text(name, value, len, &text, err, errlen) < 0)
		return NULL;
	/* the fragment is "# comment\nservices:\n  NAME:\n    body" */
	at = strstr(text, "\nservices:\n");
	if (!at) {
		free(text);
		snprintf(err, errlen, "internal error: unexpected fragment layout");
		return NULL;
	}
	skip = (size_t)(at - text) + strlen("\nservices:\n");
	memmove(text, text + skip, strlen(text + skip) + 1);
	return text;
}

/* The defaults: block of the etcd defaults key, when it is good, else "". */
static const char *defaults_of(struct etcd_source *e, char **owned)
{
	struct kv *k = kv_find(e, DEFAULTS);
	char err[256], *block, *text;
	size_t n;

	*owned = NULL;
	if (!k || k->checked < 0 ||
	    !(block = service_block("defaults", k->value, k->len, err, sizeof(err))))
		return "";
	/* "  defaults:\n    body" -> "defaults:\n    body" */
	n = strlen(block);
	if (!(text = malloc(n + 1))) {
		free(block);
		return "";
	}
	memcpy(text, block + 2, n - 1);
	free(block);
	*owned = text;
	return text;
}

/* An error line of the load of key (positions in the fragment layout) as
 * "PREFIXKEY:LINE:COL: rest", with positions in the value. */
static char *key_error(struct etcd_source *e, const char *key, const char *line)
{
	const char *p = line;
	unsigned l = 0, c = 0;
	char buf[1400];
	int used = 0;

	/* the loader names the document by the key: skip it */
	p = strstr(line, key);
	if (p && p[strlen(key)] == ':') {
		p += strlen(key) + 1;
		if (sscanf(p, "%u:%u:%n", &l, &c, &used) == 2 && used) {
			p += used;
			/* where the value starts in the text loaded (check_key(), instance()) */
			unsigned at_l = REG_FRAGMENT_BODY_LINE, at_c = REG_FRAGMENT_BODY_COL;

			if (strncmp(key, INSTANCES, strlen(INSTANCES)) == 0) {
				at_l = INST_LINE;
				at_c = INST_COL;
			}
			if (l >= at_l)
				l = l - at_l + 1;
			if (c >= at_c)
				c = c - at_c + 1;
			snprintf(buf, sizeof(buf), "%s%s:%u:%u:%s", e->prefix, key, l, c, p);
			return strdup(buf);
		}
	} else {
		p = line;
	}
	snprintf(buf, sizeof(buf), "%s%s: %s", e->prefix, key, p);
	return strdup(buf);
}

static void reject(struct etcd_source *e, struct kv *k, const struct reg_errors *errs,
                   const char *msg)
{
	k->checked = -1;
	free(k->error);
	k->error = NULL;
	e->rejected++;
	if (msg) {
		k->error = key_error(e, k->key, msg);
		log_err("etcd: key rejected (the others apply): %s", k->error ? k->error : msg);
	}
	for (size_t i = 0; errs && i < errs->n; i++) {
		char *line = key_error(e, k->key, errs->lines[i]);

		log_err("etcd: key rejected (the others apply): %s", line ? line : errs->lines[i]);
		if (!k->error)
			k->error = line;
		else
			free(line);
	}
}

/* Checks one key alone. The name of the loaded document is the key, which
 * key_error() strips again. */
static void check_key(struct etcd_source *e, struct kv *k, const char *defaults)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *one = NULL;
	char err[300], *block = NULL, *text = NULL;
	const char *name;
	size_t need;

	if (strncmp(k->key, INSTANCES, strlen(INSTANCES)) == 0)
		return; /* checked against its service: add_instance() */
	k->checked = 1;
	if (strcmp(k->key, DEFAULTS) == 0) {
		name = DEFAULTS;
	} else if (strncmp(k->key, SERVICES, strlen(SERVICES)) == 0) {
		name = k->key + strlen(SERVICES);
		for (const char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				name = "";
		if (!registry_fragment_name_ok(name)) {
			reject(
			    e, k, NULL,
			    "not a service name (a lowercase DNS label: letters, digits, hyphen)");
			return;
		}
	} else {
		/* instances/ and maintenance/ keys are not read by this version:
		 * ignored, not rejected (a newer srvd of the fleet may use them) */
		return;
	}
	if (!(block = service_block(name, k->value, k->len, err, sizeof(err)))) {
		reject(e, k, NULL, err);
		return;
	}
	if (strcmp(name, DEFAULTS) == 0) {
		/* "  defaults:\n    body" at the fragment's body line and column */
		need = strlen(block) + 8;
		if ((text = malloc(need)))
			snprintf(text, need, "#\n#\n%s", block + 2);
	} else {
		/* the fragment's line numbers: a comment line, then services: */
		need = strlen(defaults) + strlen(block) + 64;
		if ((text = malloc(need)))
			snprintf(text, need, "#\nservices:\n%s%s", block, defaults);
	}
	if (!text) {
		reject(e, k, NULL, "out of memory");
		free(block);
		return;
	}
	if (reg_load_etcd_string(text, k->key, e->config, &one, &errs) < 0)
		reject(e, k, &errs, errs.n ? NULL : "cannot load");
	registry_free(one);
	registry_errors_clear(&errs);
	free(block);
	free(text);
}

/* Appends the services of more to reg (taking them). */
static int take_services(struct registry *reg, struct registry *more)
{
	struct reg_service **n;

	if (!more->n_services)
		return 0;
	n = realloc(reg->services, (reg->n_services + more->n_services) * sizeof(*n));
	if (!n)
		return -1;
	reg->services = n;
	memcpy(&reg->services[reg->n_services], more->services,
	       more->n_services * sizeof(*more->services));
	reg->n_services += more->n_services;
	more->n_services = 0; /* moved: registry_free(more) leaves them */
	return 0;
}

static int add_line(char ***v, size_t *n, const char *text)
{
	char **m = realloc(*v, (*n + 1) * sizeof(**v));

	if (!m)
		return -1;
	*v = m;
	if (!(m[*n] = strdup(text)))
		return -1;
	(*n)++;
	return 0;
}

static struct reg_service *find_service(struct registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n_services; i++)
		if (strcmp(reg->services[i]->name, name) == 0)
			return reg->services[i];
	return NULL;
}

/* The text that loads instance key k (name) of service svc: the value as
 * the one item of instances:, with its name added (at the end, so that the
 * value keeps its positions), at INST_LINE and INST_COL. Caller frees. */
static char *instance_text(const struct kv *k, const char *name, const struct reg_service *svc)
{
	struct evbuffer *b = evbuffer_new();
	const char *v = k->value, *close = NULL;
	char *out = NULL;
	size_t n;
	int flow, empty = 1;

	if (!b)
		return NULL;
	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	flow = *v == '{';
	if (flow) {
		close = strrchr(v, '}');
		for (const char *p = v + 1; close && p < close; p++)
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
				empty = 0;
	}
	evbuffer_add_printf(b, "#\nservices:\n  %s:\n    check: {type: none}\n", svc->name);
	if (svc->port)
		evbuffer_add_printf(b, "    port: %u\n", svc->port);
	else
		evbuffer_add_printf(b, "    # no port\n");
	evbuffer_add_printf(b, "    instances:\n      -\n        ");
	for (const char *p = k->value; *p; p++) {
		if (flow && p == close)
			evbuffer_add_printf(b, "%s\"name\": \"%s\"", empty ? "" : ", ", name);
		if (*p == '\r')
			continue;
		evbuffer_add(b, p, 1);
		if (*p == '\n')
			evbuffer_add(b, "        ", 8);
	}
	if (!flow)
		evbuffer_add_printf(b, "\n        name: \"%s\"\n", name);
	else
		evbuffer_add(b, "\n", 1);
	n = evbuffer_get_length(b);
	if ((out = malloc(n + 1))) {
		evbuffer_remove(b, out, n);
		out[n] = '\0';
	}
	evbuffer_free(b);
	return out;
}

/* Adds instance key k to its service in reg, if it is there (else it is
 * held until the service appears). A bad value or a name the service
 * already has rejects the key alone. */
static void add_instance(struct etcd_source *e, struct registry *reg, struct kv *k)
{
	const char *svc_name = k->key + strlen(INSTANCES), *slash = strchr(svc_name, '/');
	char service[64], msg[300];
	struct reg_errors errs = {NULL, 0};
	struct registry *one = NULL;
	struct reg_instance *grown;
	struct reg_service *svc;
	char *text;
	int fresh = k->checked == 0;

	if (!slash || (size_t)(slash - svc_name) >= sizeof(service)) {
		if (fresh)
			reject(e, k, NULL, "not instances/SERVICE/NAME");
		k->checked = -1;
		return;
	}
	memcpy(service, svc_name, (size_t)(slash - svc_name));
	service[slash - svc_name] = '\0';
	if (!registry_fragment_name_ok(service) || !registry_fragment_name_ok(slash + 1)) {
		if (fresh)
			reject(e, k, NULL, "not instances/SERVICE/NAME of DNS labels");
		k->checked = -1;
		return;
	}
	if (!(svc = find_service(reg, service)))
		return; /* held: its service may come later */
	for (size_t i = 0; i < svc->n_instances; i++)
		if (strcmp(svc->instances[i].name, slash + 1) == 0) {
			if (!k->conflict) {
				snprintf(msg, sizeof(msg),
				         "service %s already has an instance named %s", service,
				         slash + 1);
				reject(e, k, NULL, msg);
			}
			k->conflict = 1;
			return;
		}
	k->conflict = 0;
	if (!(text = instance_text(k, slash + 1, svc)))
		return;
	if (reg_load_etcd_string(text, k->key, NULL, &one, &errs) < 0) {
		if (fresh)
			reject(e, k, &errs, errs.n ? NULL : "cannot load");
		k->checked = -1;
	} else if (one->n_services == 1 && one->services[0]->n_instances == 1 &&
	           (grown = realloc(svc->instances, (svc->n_instances + 1) * sizeof(*grown)))) {
		/* svc is of the registry being loaded: its own, not shared yet */
		svc->instances = grown;
		grown[svc->n_instances++] = one->services[0]->instances[0];
		svc->digest_set = 0;
		one->services[0]->n_instances = 0; /* moved */
		k->checked = 1;
	}
	registry_free(one);
	registry_errors_clear(&errs);
	free(text);
}

static void add_instances(struct etcd_source *e, struct registry *reg)
{
	for (size_t i = 0; i < e->n; i++) {
		struct kv *k = &e->kv[i];

		if (strncmp(k->key, INSTANCES, strlen(INSTANCES)) != 0)
			continue;
		if (k->checked < 0 && !k->conflict) {
			if (k->error)
				add_line(&e->bad, &e->n_bad, k->error);
			continue;
		}
		add_instance(e, reg, k);
		if (k->checked < 0 && k->error)
			add_line(&e->bad, &e->n_bad, k->error);
	}
}

/* The zone file of a static record of the service zone at or below
 * NAME.<zone> or _NAME._PROTO.<zone> (names a service of that name would
 * make), or NULL. The files' loader refuses such a file service; an etcd
 * service is left out alone instead. */
static const char *static_owner(const struct registry *reg, const char *name)
{
	const char *zone = reg->server.zone;
	size_t zlen = zone ? strlen(zone) : 0, nlen = strlen(name);

	for (size_t z = 0; zone && z < reg->n_zones; z++) {
		const struct reg_zone *rz = &reg->zones[z];

		for (size_t i = 0;
		     rz->is_service_zone && rz->rrs && i < ldns_rr_list_rr_count(rz->rrs); i++) {
			char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(rz->rrs, i)));
			size_t olen = owner ? strlen(owner) : 0;
			const char *last;
			int hit = 0;

			for (size_t c = 0; c < olen; c++)
				if (owner[c] >= 'A' && owner[c] <= 'Z')
					owner[c] = (char)(owner[c] + 32);
			/* REL.<zone>: the last label of REL names the service, or the
			 * one before it for _NAME._PROTO */
			if (owner && olen > zlen + 1 && owner[olen - zlen - 1] == '.' &&
			    strcmp(owner + olen - zlen, zone) == 0) {
				owner[olen - zlen - 1] = '\0';
				last = strrchr(owner, '.') ? strrchr(owner, '.') + 1 : owner;
				hit = strcmp(last, name) == 0;
				if (!hit && last[0] == '_' && last != owner) {
					const char *second = last - 1;

					while (second > owner && second[-1] != '.')
						second--;
					hit = second[0] == '_' &&
					      (size_t)(last - 1 - second - 1) == nlen &&
					      strncmp(second + 1, name, nlen) == 0;
				}
			}
			free(owner);
			if (hit)
				return rz->file;
		}
	}
	return NULL;
}

/* Adds the good etcd services that no file defines to reg. */
static int merge(struct etcd_source *e, struct registry *reg, struct reg_errors *errs)
{
	struct evbuffer *doc = evbuffer_new();
	struct registry *more = NULL;
	struct reg_errors lerrs = {NULL, 0};
	char *owned, err[300];
	const char *defaults = defaults_of(e, &owned);
	size_t used = 0;
	int rc = -1;

	names_free(e->file_names, e->n_file_names);
	names_free(e->bad, e->n_bad);
	names_free(e->conflicts, e->n_conflicts);
	e->file_names = e->bad = e->conflicts = NULL;
	e->n_file_names = e->n_bad = e->n_conflicts = 0;
	if (!doc)
		goto done;
	for (size_t i = 0; i < reg->n_services; i++)
		if (add_line(&e->file_names, &e->n_file_names, reg->services[i]->name) < 0)
			goto done;
	if (e->n_file_names)
		qsort(e->file_names, e->n_file_names, sizeof(char *), str_cmp);
	/* the defaults first: a bad defaults key checks the services without */
	if (kv_find(e, DEFAULTS) && !kv_find(e, DEFAULTS)->checked) {
		check_key(e, kv_find(e, DEFAULTS), "");
		free(owned);
		defaults = defaults_of(e, &owned);
	}
	evbuffer_add_printf(doc, "%sservices:\n", defaults);
	for (size_t i = 0; i < e->n; i++) {
		struct kv *k = &e->kv[i];
		const char *name = k->key + strlen(SERVICES), *zfile;
		char *block;

		if (strncmp(k->key, INSTANCES, strlen(INSTANCES)) == 0)
			continue; /* once the services are there: add_instances() */
		if (!k->checked)
			check_key(e, k, defaults);
		if (k->checked < 0 && k->error)
			add_line(&e->bad, &e->n_bad, k->error);
		if (k->checked < 0 || strncmp(k->key, SERVICES, strlen(SERVICES)) != 0)
			continue;
		if (is_file_service(e, name)) {
			if (!k->conflict)
				log_warn(
				    "etcd: service %s is defined in a file and in etcd (%s%s): the "
				    "file's serves",
				    name, e->prefix, k->key);
			k->conflict = 1;
			add_line(&e->conflicts, &e->n_conflicts, name);
			continue;
		}
		if ((zfile = static_owner(reg, name))) {
			/* its names would collide with a static record: the table
			 * would refuse every reload, this key alone goes */
			snprintf(err, sizeof(err),
			         "%s%s: collides with a static record below %s.%s (%s)", e->prefix,
			         k->key, name, reg->server.zone, zfile);
			if (k->conflict != 2) {
				log_err("etcd: key rejected (the others apply): %s", err);
				e->rejected++;
			}
			k->conflict = 2;
			add_line(&e->bad, &e->n_bad, err);
			continue;
		}
		k->conflict = 0;
		if (!(block = service_block(name, k->value, k->len, err, sizeof(err))))
			continue; /* checked: cannot happen but out of memory */
		evbuffer_add(doc, block, strlen(block));
		free(block);
		used++;
	}
	rc = 0;
	if (!used) {
		add_instances(e, reg);
		goto done;
	}
	evbuffer_add(doc, "", 1);
	if (reg_load_etcd_string((const char *)evbuffer_pullup(doc, -1), "etcd", e->config, &more,
	                         &lerrs) < 0) {
		/* every key passed alone: the main file's server: changed since */
		log_warn("etcd: the services do not load together (%s); checking each again",
		         lerrs.n ? lerrs.lines[0] : "?");
		for (size_t i = 0; i < e->n; i++)
			e->kv[i].checked = 0;
		registry_errors_clear(&lerrs);
		evbuffer_free(doc);
		free(owned);
		if (e->defaults_gen++ < 1)
			return merge(e, reg, errs);
		registry_errors_add(errs, "etcd: the services from etcd do not load");
		e->defaults_gen = 0;
		return -1;
	}
	e->defaults_gen = 0;
	if (take_services(reg, more) < 0) {
		registry_errors_add(errs, "out of memory");
		rc = -1;
	}
	add_instances(e, reg);
done:
	registry_free(more);
	registry_errors_clear(&lerrs);
	if (doc)
		evbuffer_free(doc);
	free(owned);
	return rc;
}

/* The maintenance/ keys as drains, after the files' (*m, *n). */
static void add_drains(struct etcd_source *e, struct reg_maint **m, size_t *n)
{
	for (size_t i = 0; i < e->n; i++) {
		const char *key = e->kv[i].key, *slash;
		struct reg_maint *grown, *d;

		if (strncmp(key, MAINT, strlen(MAINT)) != 0)
			continue;
		key += strlen(MAINT);
		slash = strchr(key, '/');
		if (!(grown = realloc(*m, (*n + 1) * sizeof(**m))))
			return;
		*m = grown;
		d = &grown[*n];
		memset(d, 0, sizeof(*d));
		d->service = slash ? strndup(key, (size_t)(slash - key)) : strdup(key);
		d->instance = slash ? strdup(slash + 1) : NULL;
		d->reason = strdup(e->kv[i].len ? e->kv[i].value : "no reason given");
		if (!d->service || (slash && !d->instance) || !d->reason) {
			free(d->service);
			free(d->instance);
			free(d->reason);
			return;
		}
		(*n)++;
	}
}

static int etcd_load(struct reg_source *s, struct registry **out, struct reg_errors *errs)
{
	struct etcd_source *e = (struct etcd_source *)s;
	struct reg_maint *m;
	size_t n;

	if (reg_source_load(e->files, out, errs) < 0)
		return -1;
	/* the drains point into the services: attach them again once the etcd
	 * services are there */
	m = (*out)->maint;
	n = (*out)->n_maint;
	(*out)->maint = NULL;
	(*out)->n_maint = 0;
	if (merge(e, *out, errs) < 0) {
		registry_maint_free(m, n);
		registry_free(*out);
		*out = NULL;
		return -1;
	}
	add_drains(e, &m, &n);
	registry_maint_attach(*out, m, n);
	return 0;
}

/* --- the cache file ---------------------------------------------------- */

static void write_cache(struct etcd_source *e)
{
	struct evbuffer *b;
	char tmp[4200];
	int fd = -1, ok = 0;

	if (!e->cache || !e->synced)
		return;
	e->cache_dirty = 0;
	if (!(b = evbuffer_new()))
		return;
	evbuffer_add_printf(b,
	                    "# srvd: the etcd keys under %s at revision %" PRId64
	                    "; written by srvd, read at a start while etcd is down\n"
	                    "revision: %" PRId64 "\nkeys:\n",
	                    e->prefix, e->revision, e->revision);
	for (size_t i = 0; i < e->n; i++) {
		char *k = etcd_json_str(e->kv[i].key), *v = etcd_json_str(e->kv[i].value);

		if (k && v)
			evbuffer_add_printf(b, "  - {key: %s, mod: %" PRId64 ", value: %s}\n", k,
			                    e->kv[i].mod, v);
		free(k);
		free(v);
	}
	/* hidden beside it, per process: two srvd given one cache path do not
	 * rename each other's half-written file */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", e->cache, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		ok = 1;
		while (ok && evbuffer_get_length(b))
			ok = evbuffer_write(b, fd) > 0;
		ok = ok && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, e->cache) == 0;
	}
	if (!ok) {
		int err = errno;

		unlink(tmp);
		log_warn("etcd: cannot write the cache %s: %s", e->cache, strerror(err));
	}
	evbuffer_free(b);
}

static void on_cache(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_source *e = arg;

	(void)fd;
	(void)what;
	if (e->cache_dirty)
		write_cache(e);
}

static void ignore_yaml(void *arg, const char *line)
{
	snprintf(arg, 256, "%s", line);
}

/* Loads the cache file into the keys. Returns 0, or -1 (none, or bad). */
static int read_cache(struct etcd_source *e)
{
	struct ydoc *doc = NULL;
	const struct ynode *keys;
	char err[256] = "";

	if (!e->cache || access(e->cache, F_OK) < 0)
		return -1;
	if (ydoc_parse_file(e->cache, &doc, ignore_yaml, err) < 0 || !doc->root) {
		log_warn("etcd: the cache %s does not parse: %s", e->cache, err);
		ydoc_free(doc);
		return -1;
	}
	keys = etcd_get(doc->root, "keys");
	for (size_t i = 0; keys && keys->kind == YNODE_SEQ && i < keys->n; i++) {
		const struct ynode *k = etcd_get(keys->items[i], "key");
		const struct ynode *v = etcd_get(keys->items[i], "value");
		char *value;

		if (!k || !v || k->kind != YNODE_SCALAR || v->kind != YNODE_SCALAR)
			continue;
		if ((value = strdup(v->value)))
			kv_set(e, k->value, value, strlen(value), etcd_int(keys->items[i], "mod"));
	}
	e->revision = etcd_int(doc->root, "revision");
	ydoc_free(doc);
	return 0;
}

/* --- reading and watching ---------------------------------------------- */

static char *range_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix), *b64;

	if (!end)
		return NULL;
	/* the keys that start with prefix: up to prefix with its last byte + 1 */
	while (n && (unsigned char)end[n - 1] == 0xff)
		end[--n] = '\0';
	if (n)
		end[n - 1]++;
	b64 = etcd_b64(end, n);
	free(end);
	return b64;
}

/* The body of a range or watch request over the prefix. */
static char *prefix_body(struct etcd_source *e, const char *fmt_more, int64_t rev)
{
	char *key = etcd_b64(e->prefix, strlen(e->prefix)), *end = range_end(e->prefix);
	char *out = NULL;
	size_t need;

	if (key && end) {
		need = strlen(key) + strlen(end) + 200;
		if ((out = malloc(need))) {
			if (fmt_more)
				snprintf(
				    out, need,
				    "{\"create_request\": {\"key\": \"%s\", \"range_end\": \"%s\", "
				    "\"start_revision\": \"%" PRId64 "\"}}",
				    key, end, rev);
			else
				snprintf(out, need, "{\"key\": \"%s\", \"range_end\": \"%s\"}", key,
				         end);
		}
	}
	free(key);
	free(end);
	return out;
}

/* A key of the reply (base64) without the prefix into a new string, or NULL
 * (not under the prefix). */
static char *strip_key(struct etcd_source *e, const struct ynode *kv)
{
	const struct ynode *k = etcd_get(kv, "key");
	size_t len, plen = strlen(e->prefix);
	char *key;

	if (!k || k->kind != YNODE_SCALAR || !(key = etcd_unb64(k->value, &len)))
		return NULL;
	if (len < plen || memcmp(key, e->prefix, plen) != 0 || strlen(key) != len) {
		free(key);
		return NULL;
	}
	memmove(key, key + plen, len - plen + 1);
	return key;
}

static char *value_of(const struct ynode *kv, size_t *len)
{
	const struct ynode *v = etcd_get(kv, "value");

	*len = 0;
	/* an empty value is omitted (zero value) */
	return v && v->kind == YNODE_SCALAR ? etcd_unb64(v->value, len) : strdup("");
}

/* Replaces every key with those of a range reply. Returns 0 or -1. */
static int apply_range(struct etcd_source *e, const struct ynode *root)
{
	const struct ynode *kvs = etcd_get(root, "kvs"); /* absent: no key */
	struct etcd_source fresh = {.prefix = e->prefix};
	int64_t rev = etcd_int(etcd_get(root, "header"), "revision");

	for (size_t i = 0; kvs && kvs->kind == YNODE_SEQ && i < kvs->n; i++) {
		size_t len;
		char *key = strip_key(e, kvs->items[i]), *value = value_of(kvs->items[i], &len);

		if (key && strncmp(key, RESULTS, strlen(RESULTS)) == 0) {
			/* results apply as they come, not from a read of the past */
			free(value);
		} else if (key && value &&
		           kv_set(&fresh, key, value, len,
		                  etcd_int(kvs->items[i], "mod_revision")) > 0)
			kv_find(&fresh, key)->lease = etcd_int(kvs->items[i], "lease");
		else if (!key || !value)
			free(value);
		free(key);
	}
	/* what changed: new, different or gone keys */
	for (size_t i = 0; i < fresh.n; i++) {
		struct kv *old = kv_find(e, fresh.kv[i].key);

		if (old && old->len == fresh.kv[i].len &&
		    memcmp(old->value, fresh.kv[i].value, old->len) == 0) {
			/* unchanged: keep its check */
			fresh.kv[i].checked = old->checked;
			fresh.kv[i].conflict = old->conflict;
			fresh.kv[i].error = old->error;
			old->error = NULL;
			continue;
		}
		key_changed(e, fresh.kv[i].key);
	}
	for (size_t i = 0; i < e->n; i++)
		if (!kv_find(&fresh, e->kv[i].key))
			key_changed(e, e->kv[i].key);
	if (kv_find(&fresh, DEFAULTS) && !kv_find(&fresh, DEFAULTS)->checked)
		for (size_t i = 0; i < fresh.n; i++)
			fresh.kv[i].checked = 0;
	kv_free_all(e);
	free(e->kv);
	e->kv = fresh.kv;
	e->n = fresh.n;
	e->cap = fresh.cap;
	e->revision = rev;
	e->synced = 1;
	e->cache_dirty = 1;
	return 0;
}

static void start_sync(struct etcd_source *e);
static void start_watch(struct etcd_source *e);

static void set_up(struct etcd_source *e, int up, const char *why)
{
	if (up && !e->up)
		log_info("etcd: in touch with %s, revision %" PRId64, etcd_client_endpoint(e->cl),
		         e->revision);
	else if (!up && e->up)
		log_warn("etcd: lost touch (%s); serving the last registry (revision %" PRId64
		         ") until it is back",
		         why, e->revision);
	e->up = up;
}

static void retry_later(struct etcd_source *e)
{
	struct timeval tv;

	e->retry_ms = e->retry_ms ? e->retry_ms * 2 : RETRY_MIN_MS;
	if (e->retry_ms > RETRY_MAX_MS)
		e->retry_ms = RETRY_MAX_MS;
	tv.tv_sec = e->retry_ms / 1000;
	tv.tv_usec = (e->retry_ms % 1000) * 1000;
	evtimer_add(e->retry, &tv);
}

static void on_range(void *arg, struct etcd_reply *r)
{
	struct etcd_source *e = arg;

	e->range = NULL;
	if (r->status != 200) {
		set_up(e, 0, r->err);
		log_debug("etcd: read failed: %s", r->err);
		retry_later(e);
		return;
	}
	apply_range(e, r->root);
	if (e->from_cache)
		log_info("etcd: synced at revision %" PRId64 "; no longer serving the cache",
		         e->revision);
	e->from_cache = 0;
	key_changed(e, "");
	start_watch(e);
}

static void start_sync(struct etcd_source *e)
{
	char *body = prefix_body(e, NULL, 0);

	if (body)
		e->range = etcd_call(e->cl, "/v3/kv/range", body, on_range, e);
	free(body);
	if (!e->range)
		retry_later(e);
}

/* A result another srvd wrote (health/SERVICE/INSTANCE = {"pass": bool,
 * "note": text}): to the owner's health state. */
static void shared_result(struct etcd_source *e, const char *key, const struct ynode *kv,
                          int64_t mod)
{
	const char *svc = key + strlen(RESULTS), *slash = strchr(svc, '/');
	const struct ynode *p, *note;
	struct ydoc *doc = NULL;
	char service[64], err[256] = "", *value;
	size_t len;

	for (size_t i = 0; i < e->n_own && i < OWN_MAX; i++)
		if (e->own[i] == mod)
			return; /* ours: applied when written */
	if (!slash || (size_t)(slash - svc) >= sizeof(service) || !e->s.on_result)
		return;
	memcpy(service, svc, (size_t)(slash - svc));
	service[slash - svc] = '\0';
	if (!(value = value_of(kv, &len)))
		return;
	if (ydoc_parse_string(value, len, key, &doc, ignore_yaml, err) == 0 && doc->root &&
	    (p = etcd_get(doc->root, "pass")) && p->kind == YNODE_SCALAR) {
		note = etcd_get(doc->root, "note");
		e->s.on_result(e->s.arg, service, slash + 1, strcmp(p->value, "true") == 0,
		               note && note->kind == YNODE_SCALAR ? note->value : "");
	}
	ydoc_free(doc);
	free(value);
}

static void on_watch_line(void *arg, const struct ynode *root)
{
	struct etcd_source *e = arg;
	const struct ynode *res = etcd_get(root, "result"), *events, *err;

	if ((err = etcd_get(root, "error"))) {
		const struct ynode *m = etcd_get(err, "message");

		log_warn("etcd: the watch on %s ended: %s", etcd_client_endpoint(e->cl),
		         m && m->kind == YNODE_SCALAR ? m->value : "error");
		return; /* the stream ends next */
	}
	if (!res)
		return;
	if (etcd_int(res, "compact_revision")) {
		log_warn("etcd: revision %" PRId64 " is compacted (up to %" PRId64
		         "); reading every key again",
		         e->revision + 1, etcd_int(res, "compact_revision"));
		etcd_req_cancel(e->watch);
		e->watch = NULL;
		start_sync(e);
		return;
	}
	if (etcd_get(res, "created")) {
		e->retry_ms = 0;
		set_up(e, 1, NULL);
	}
	events = etcd_get(res, "events");
	for (size_t i = 0; events && events->kind == YNODE_SEQ && i < events->n; i++) {
		const struct ynode *ev = events->items[i], *kv = etcd_get(ev, "kv");
		const struct ynode *type = etcd_get(ev, "type"); /* absent: PUT (zero value) */
		int64_t mod = etcd_int(kv, "mod_revision");
		char *key = strip_key(e, kv);

		if (mod > e->revision)
			e->revision = mod;
		if (!key)
			continue;
		if (strncmp(key, RESULTS, strlen(RESULTS)) == 0) {
			if (!type || type->kind != YNODE_SCALAR ||
			    strcmp(type->value, "DELETE") != 0)
				shared_result(e, key, kv, mod);
			free(key);
			continue;
		}
		if (type && type->kind == YNODE_SCALAR && strcmp(type->value, "DELETE") == 0) {
			if (kv_del(e, key, mod))
				key_changed(e, key);
		} else {
			size_t len;
			char *value = value_of(kv, &len);

			if (value && kv_set(e, key, value, len, mod) > 0) {
				kv_find(e, key)->lease = etcd_int(kv, "lease");
				key_changed(e, key);
			}
		}
		free(key);
	}
}

static void on_watch_end(void *arg, const char *why)
{
	struct etcd_source *e = arg;

	e->watch = NULL;
	set_up(e, 0, why);
	log_info("etcd: watch ended (%s); resuming from revision %" PRId64 " on the next endpoint",
	         why, e->revision + 1);
	etcd_client_next(e->cl);
	retry_later(e);
}

static void start_watch(struct etcd_source *e)
{
	char *body = prefix_body(e, "watch", e->revision + 1);

	if (body)
		e->watch = etcd_stream(e->cl, "/v3/watch", body, 0, on_watch_line, on_watch_end, e);
	free(body);
	if (!e->watch)
		retry_later(e);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_source *e = arg;

	(void)fd;
	(void)what;
	if (e->range || e->watch)
		return;
	if (e->synced)
		start_watch(e);
	else
		start_sync(e);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_source *e = arg;
	struct reg_change c = {.why = "etcd change"};
	struct timeval tv = {CACHE_EVERY_MS / 1000, (CACHE_EVERY_MS % 1000) * 1000};

	(void)fd;
	(void)what;
	if (e->cache && e->cache_dirty && !evtimer_pending(e->cache_ev, NULL))
		evtimer_add(e->cache_ev, &tv);
	if (e->s.on_change)
		e->s.on_change(e->s.arg, &c);
}

/* The first read, blocking: the first load serves what etcd holds. */
static void first_sync(struct etcd_source *e)
{
	struct etcd_reply r;
	char *body = prefix_body(e, NULL, 0);

	if (!body)
		return;
	etcd_call_sync(e->cl, "/v3/kv/range", body, &r);
	free(body);
	if (r.status == 200) {
		apply_range(e, r.root);
		e->up = 1;
		log_info("etcd: read %zu keys under %s at revision %" PRId64 " from %s", e->n,
		         e->prefix, e->revision, etcd_client_endpoint(e->cl));
		write_cache(e);
	} else if (read_cache(e) == 0) {
		e->from_cache = 1;
		log_warn("etcd: %s; serving the cache %s (revision %" PRId64
		         ", %zu keys) until etcd answers",
		         r.err, e->cache, e->revision, e->n);
	} else {
		log_warn("etcd: %s; serving the files' services only until etcd answers", r.err);
	}
	ydoc_free(r.doc);
}

/* --- the source -------------------------------------------------------- */

static void etcd_watch(struct reg_source *s, const struct registry *reg)
{
	struct etcd_source *e = (struct etcd_source *)s;

	reg_source_watch(e->files, reg);
	if (reg && !e->started) {
		/* the main loop runs from here on */
		e->started = 1;
		if (e->synced)
			start_watch(e);
		else
			start_sync(e);
	}
}

static void etcd_drain(struct reg_source *s)
{
	reg_source_drain(((struct etcd_source *)s)->files);
}

/* A write's reply: sets w for a failure; 1 if it took effect. */
static int write_outcome(struct etcd_reply *r, struct reg_write *w, int txn)
{
	if (r->status != 200) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "etcd: %s", r->err);
		return 0;
	}
	if (txn && !etcd_get(r->root, "succeeded")) { /* false is omitted */
		w->result = REG_WRITE_LOST;
		snprintf(w->message, sizeof(w->message),
		         "the service changed since the revision given (If-Match), or exists "
		         "(create-only): read it again");
		return 0;
	}
	w->revision = etcd_int(etcd_get(r->root, "header"), "revision");
	w->result = REG_WRITE_OK;
	return 1;
}

/* The body of a write: a put or a delete of key, under cond. */
static char *write_body(const char *key64, const char *value64, int64_t lease, int64_t cond,
                        const char **path)
{
	size_t need = strlen(key64) * 3 + (value64 ? strlen(value64) : 0) + 400;
	char *out = malloc(need), op[160];

	if (!out)
		return NULL;
	if (cond == REG_IF_NONE) {
		*path = value64 ? "/v3/kv/put" : "/v3/kv/deleterange";
		if (value64)
			snprintf(out, need,
			         "{\"key\": \"%s\", \"value\": \"%s\", \"lease\": \"%" PRId64 "\"}",
			         key64, value64, lease);
		else
			snprintf(out, need, "{\"key\": \"%s\"}", key64);
		return out;
	}
	*path = "/v3/kv/txn";
	if (cond == REG_IF_ABSENT)
		snprintf(
		    op, sizeof(op),
		    "{\"target\": \"CREATE\", \"result\": \"EQUAL\", \"create_revision\": \"0\"");
	else
		snprintf(op, sizeof(op),
		         "{\"target\": \"MOD\", \"result\": \"EQUAL\", \"mod_revision\": \"%" PRId64
		         "\"",
		         cond);
	if (value64)
		snprintf(out, need,
		         "{\"compare\": [%s, \"key\": \"%s\"}], \"success\": [{\"request_put\": "
		         "{\"key\": \"%s\", \"value\": \"%s\", \"lease\": \"%" PRId64 "\"}}]}",
		         op, key64, key64, value64, lease);
	else
		snprintf(out, need,
		         "{\"compare\": [%s, \"key\": \"%s\"}], \"success\": "
		         "[{\"request_delete_range\": {\"key\": \"%s\"}}]}",
		         op, key64, key64);
	return out;
}

/* Writes (value non-NULL) or deletes key rel (under the prefix) in etcd,
 * on lease (0: none); what names it in messages. */
static void write_key(struct etcd_source *e, const char *rel, const char *what, const char *value,
                      size_t len, int64_t lease, int64_t cond, struct reg_write *w)
{
	char key[600], *key64, *value64 = NULL, *body = NULL;
	const char *path = NULL;
	struct etcd_reply r = {0};

	snprintf(key, sizeof(key), "%s%s", e->prefix, rel);
	key64 = etcd_b64(key, strlen(key));
	if (value)
		value64 = etcd_b64(value, len);
	if (!key64 || (value && !value64) ||
	    !(body = write_body(key64, value64, lease, cond, &path))) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		goto done;
	}
	etcd_call_sync(e->cl, path, body, &r);
	if (!write_outcome(&r, w, cond != REG_IF_NONE))
		goto done;
	if (!value && cond == REG_IF_NONE && !etcd_int(r.root, "deleted")) {
		w->result = REG_WRITE_NOT_FOUND;
		snprintf(w->message, sizeof(w->message), "no %s", what);
		goto done;
	}
	snprintf(w->where, sizeof(w->where), "etcd %s at revision %" PRId64, key, w->revision);
	/* read your write: the reload that follows serves it (the watch brings
	 * the same revision again, which changes nothing then) */
	if (value) {
		char *copy = malloc(len + 1);

		if (copy) {
			memcpy(copy, value, len);
			copy[len] = '\0';
			w->created = kv_find(e, rel) == NULL;
			if (kv_set(e, rel, copy, len, w->revision) >= 0 && kv_find(e, rel))
				kv_find(e, rel)->lease = lease;
		}
	} else {
		kv_del(e, rel, 0);
	}
	e->cache_dirty = 1;
done:
	ydoc_free(r.doc);
	free(key64);
	free(value64);
	free(body);
}

static void etcd_put(struct reg_source *s, const struct registry *current, const char *name,
                     const char *body, size_t len, int64_t cond, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	struct reg_errors errs = {NULL, 0};
	struct registry *one = NULL;
	char *block = NULL, *text = NULL, *owned, rel[300], what[300];
	const char *defaults = defaults_of(e, &owned);
	size_t need;

	(void)current;
	if (is_file_service(e, name)) {
		w->result = REG_WRITE_CONFLICT;
		snprintf(w->message, sizeof(w->message),
		         "service \"%s\" is defined in a file of this srvd: change it there", name);
		goto done;
	}
	/* checked as the etcd key will be, positions as in a fragment (the API
	 * maps them into the body) */
	if (!(block = service_block(name, body, len, w->message, sizeof(w->message)))) {
		w->result = REG_WRITE_INVALID;
		goto done;
	}
	need = strlen(block) + strlen(defaults) + 64;
	if (!(text = malloc(need))) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		goto done;
	}
	snprintf(text, need, "#\nservices:\n%s%s", block, defaults);
	if (reg_load_etcd_string(text, "body", e->config, &one, &w->errs) < 0) {
		w->result = REG_WRITE_INVALID;
		goto done;
	}
	snprintf(rel, sizeof(rel), "%s%s", SERVICES, name);
	snprintf(what, sizeof(what), "service named \"%s\"", name);
	write_key(e, rel, what, body, len, 0, cond, w);
done:
	registry_free(one);
	registry_errors_clear(&errs);
	free(block);
	free(text);
	free(owned);
}

static void etcd_delete(struct reg_source *s, const struct registry *current, const char *name,
                        int64_t cond, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	char key[300], what[300];

	snprintf(key, sizeof(key), "%s%s", SERVICES, name);
	if (is_file_service(e, name) && !kv_find(e, key)) {
		/* a file's service: the files source says where it is */
		reg_source_delete_if(e->files, current, name, cond, w);
		return;
	}
	snprintf(what, sizeof(what), "service named \"%s\"", name);
	write_key(e, key, what, NULL, 0, 0, cond, w);
}

static void etcd_delete_instance(struct reg_source *s, const struct registry *current,
                                 const char *service, const char *instance, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	char rel[300], what[300];

	snprintf(rel, sizeof(rel), "%s%s/%s", INSTANCES, service, instance);
	if (kv_find(e, rel)) {
		snprintf(what, sizeof(what), "instance %s/%s", service, instance);
		write_key(e, rel, what, NULL, 0, 0, REG_IF_NONE, w);
		return;
	}
	reg_source_delete_instance(e->files, current, service, instance, w);
}

/* Drains go to etcd (PREFIXmaintenance/SERVICE[/INSTANCE] = reason): the
 * whole fleet drains together. */
static void etcd_set_maint(struct reg_source *s, const struct registry *current,
                           const char *service, const char *instance, const char *reason,
                           struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	char rel[300], what[300];

	(void)current;
	snprintf(rel, sizeof(rel), "%s%s%s%s", MAINT, service, instance ? "/" : "",
	         instance ? instance : "");
	snprintf(what, sizeof(what), "drain of %s%s%s", service, instance ? "/" : "",
	         instance ? instance : "");
	write_key(e, rel, what, reason, reason ? strlen(reason) : 0, 0, REG_IF_NONE, w);
	if (!reason && w->result == REG_WRITE_NOT_FOUND)
		w->result = REG_WRITE_OK; /* not drained: nothing to end */
}

static void etcd_undo(struct reg_source *s, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;

	/* a write to etcd is not taken back: the fleet may already serve it; a
	 * key the load rejects is left out alone. Files' writes are undone. */
	if (w->undo)
		e->files->ops->undo(e->files, w);
}

static void etcd_put_instance(struct reg_source *s, const struct registry *current,
                              const char *service, const char *instance, const char *body,
                              size_t len, uint32_t ttl_s, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	const struct reg_service *cur = registry_find_service(current, service);
	struct reg_service probe = {.name = (char *)service, .port = cur ? cur->port : 1};
	struct kv k = {0}, *own;
	struct reg_errors errs = {NULL, 0};
	struct registry *one = NULL;
	struct etcd_reply r = {0};
	char rel[300], what[300], grant[64], *text = NULL;
	int64_t lease = 0;
	int own_served;

	snprintf(rel, sizeof(rel), "%s%s/%s", INSTANCES, service, instance);
	own = kv_find(e, rel);
	/* the name served is this key's own (applied): replacing it is fine */
	own_served = own && own->checked > 0 && !own->conflict;
	for (size_t i = 0; cur && i < cur->n_instances; i++)
		if (strcmp(cur->instances[i].name, instance) == 0 && !own_served) {
			w->result = REG_WRITE_CONFLICT;
			snprintf(w->message, sizeof(w->message),
			         "service %s already has an instance named %s (not on its own): "
			         "change the service",
			         service, instance);
			return;
		}
	/* checked as add_instance() will (without its service yet: any port) */
	k.key = rel;
	if (!(k.value = strndup(body, len)) || !(text = instance_text(&k, instance, &probe))) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		goto done;
	}
	if (reg_load_etcd_string(text, "body", NULL, &one, &errs) < 0) {
		w->result = REG_WRITE_INVALID;
		for (size_t i = 0; i < errs.n; i++) {
			char *line = key_error(e, rel, errs.lines[i]);

			registry_errors_add(&w->errs, line ? line : errs.lines[i]);
			free(line);
		}
		goto done;
	}
	if (ttl_s) {
		snprintf(grant, sizeof(grant), "{\"TTL\": \"%u\"}", ttl_s);
		etcd_call_sync(e->cl, "/v3/lease/grant", grant, &r);
		if (r.status != 200 || !(lease = etcd_int(r.root, "ID"))) {
			w->result = REG_WRITE_FAILED;
			snprintf(w->message, sizeof(w->message), "etcd: cannot grant a lease: %s",
			         r.err[0] ? r.err : "no ID");
			goto done;
		}
	}
	snprintf(what, sizeof(what), "instance %s/%s", service, instance);
	write_key(e, rel, what, body, len, lease, REG_IF_NONE, w);
	w->lease = lease;
done:
	ydoc_free(r.doc);
	registry_free(one);
	registry_errors_clear(&errs);
	free(k.value);
	free(text);
}

static void etcd_heartbeat(struct reg_source *s, const char *service, const char *instance,
                           struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	struct etcd_reply r = {0};
	char rel[300], body[64];
	struct kv *k;

	snprintf(rel, sizeof(rel), "%s%s/%s", INSTANCES, service, instance);
	if (!(k = kv_find(e, rel))) {
		w->result = REG_WRITE_NOT_FOUND;
		snprintf(w->message, sizeof(w->message),
		         "no instance %s/%s on its own (its lease may have expired: register it "
		         "again)",
		         service, instance);
		return;
	}
	if (!k->lease) {
		w->result = REG_WRITE_CONFLICT;
		snprintf(w->message, sizeof(w->message),
		         "instance %s/%s is not on a lease (no ?ttl=)", service, instance);
		return;
	}
	snprintf(body, sizeof(body), "{\"ID\": \"%" PRId64 "\"}", k->lease);
	w->lease = k->lease;
	etcd_call_sync(e->cl, "/v3/lease/keepalive", body, &r);
	if (r.status != 200) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "etcd: %s", r.err);
	} else if (!etcd_int(etcd_get(r.root, "result"), "TTL")) {
		/* an expired lease answers without TTL (zero, omitted) */
		w->result = REG_WRITE_NOT_FOUND;
		snprintf(w->message, sizeof(w->message),
		         "the lease of %s/%s expired: register it again", service, instance);
	} else {
		w->result = REG_WRITE_OK;
		w->revision = etcd_int(etcd_get(r.root, "result"), "TTL"); /* the TTL granted */
		snprintf(w->where, sizeof(w->where), "lease %" PRId64, k->lease);
	}
	ydoc_free(r.doc);
}

static void etcd_share_result(struct reg_source *s, const char *service, const char *instance,
                              int pass, const char *note, struct reg_write *w)
{
	struct etcd_source *e = (struct etcd_source *)s;
	char rel[300], what[300], *n = etcd_json_str(note ? note : ""), *value;
	size_t need;

	if (!n) {
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		return;
	}
	need = strlen(n) + 40;
	if (!(value = malloc(need))) {
		free(n);
		w->result = REG_WRITE_FAILED;
		snprintf(w->message, sizeof(w->message), "out of memory");
		return;
	}
	snprintf(value, need, "{\"pass\": %s, \"note\": %s}", pass ? "true" : "false", n);
	snprintf(rel, sizeof(rel), "%s%s/%s", RESULTS, service, instance);
	snprintf(what, sizeof(what), "result of %s/%s", service, instance);
	write_key(e, rel, what, value, strlen(value), 0, REG_IF_NONE, w);
	/* not a registry key: keep it out of the keys (and the cache) */
	kv_del(e, rel, 0);
	if (w->result == REG_WRITE_OK)
		e->own[e->n_own++ % OWN_MAX] = w->revision;
	free(value);
	free(n);
}

static int64_t etcd_revision(struct reg_source *s, const char *name)
{
	struct etcd_source *e = (struct etcd_source *)s;
	char key[300];
	struct kv *k;

	snprintf(key, sizeof(key), "%s%s", SERVICES, name);
	k = kv_find(e, key);
	return k ? k->mod : 0;
}

static void etcd_report(struct reg_source *s, struct reg_source_report *r)
{
	struct etcd_source *e = (struct etcd_source *)s;

	r->name = "etcd";
	r->up = e->up;
	r->from_cache = e->from_cache;
	r->synced = e->synced || e->from_cache;
	r->revision = e->revision;
	r->endpoint = etcd_client_endpoint(e->cl);
	r->rejected = e->rejected;
	r->bad = e->bad;
	r->n_bad = e->n_bad;
	r->conflicts = e->conflicts;
	r->n_conflicts = e->n_conflicts;
}

static void free_ev(struct event *ev)
{
	if (ev)
		event_free(ev);
}

static void etcd_free(struct reg_source *s)
{
	struct etcd_source *e = (struct etcd_source *)s;

	if (e->cache_dirty)
		write_cache(e);
	etcd_client_free(e->cl); /* cancels the read and the watch */
	free_ev(e->retry);
	free_ev(e->notify);
	free_ev(e->cache_ev);
	kv_free_all(e);
	free(e->kv);
	names_free(e->file_names, e->n_file_names);
	names_free(e->bad, e->n_bad);
	names_free(e->conflicts, e->n_conflicts);
	reg_source_free(e->files);
	free(e->config);
	free(e->prefix);
	free(e->cache);
	free(e);
}

static const struct reg_source_ops etcd_ops = {
    .name = "etcd",
    .load = etcd_load,
    .watch = etcd_watch,
    .drain = etcd_drain,
    .put_service = etcd_put,
    .delete_service = etcd_delete,
    .delete_instance = etcd_delete_instance,
    .set_maintenance = etcd_set_maint,
    .undo = etcd_undo,
    .free = etcd_free,
    .revision = etcd_revision,
    .report = etcd_report,
    .put_instance = etcd_put_instance,
    .heartbeat = etcd_heartbeat,
    .share_result = etcd_share_result,
};

/* TLS and authentication of server.registry.etcd (files relative to the
 * main file config). Returns 0, or -1 with a message in err. */
static int client_setup(struct etcd_client *cl, const struct reg_server *srv, const char *config,
                        char *err, size_t errlen)
{
	char *ca = NULL, *cert = NULL, *key = NULL, *pwf = NULL, line[1024] = "";
	int https = 0, rc = -1;
	FILE *f;

	for (size_t i = 0; i < srv->n_etcd_endpoints; i++)
		https |= strncmp(srv->etcd_endpoints[i], "https://", 8) == 0;
	if ((srv->etcd_tls_ca && !(ca = reg_path_join(config, srv->etcd_tls_ca))) ||
	    (srv->etcd_tls_cert && !(cert = reg_path_join(config, srv->etcd_tls_cert))) ||
	    (srv->etcd_tls_key && !(key = reg_path_join(config, srv->etcd_tls_key)))) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (!cert != !key) {
		snprintf(err, errlen, "server.registry.etcd.tls: cert and key go together");
		goto done;
	}
	if ((https || ca || cert) && etcd_client_tls(cl, ca, cert, key, err, errlen) < 0)
		goto done;
	if (!srv->etcd_username != !srv->etcd_password_file) {
		snprintf(err, errlen,
		         "server.registry.etcd: username and password_file go together");
		goto done;
	}
	if (srv->etcd_username) {
		if (!(pwf = reg_path_join(config, srv->etcd_password_file))) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (!(f = fopen(pwf, "r"))) {
			snprintf(err, errlen, "server.registry.etcd.password_file: %s: %s", pwf,
			         strerror(errno));
			goto done;
		}
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0]) {
			snprintf(err, errlen, "server.registry.etcd.password_file: %s: empty", pwf);
			goto done;
		}
		if (etcd_client_auth(cl, srv->etcd_username, line) < 0) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
	}
	rc = 0;
done:
	memset(line, 0, sizeof(line));
	free(ca);
	free(cert);
	free(key);
	free(pwf);
	return rc;
}

int reg_source_etcd_create(struct reg_source *files, const char *config, const struct registry *reg,
                           struct event_base *base, reg_source_change_fn on_change, void *arg,
                           struct reg_source **out, char *err, size_t errlen)
{
	const struct reg_server *srv = &reg->server;
	struct etcd_source *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (!e || !(e->config = strdup(config)) ||
	    !(e->prefix = strdup(srv->etcd_prefix ? srv->etcd_prefix : "/srvd/")) ||
	    (srv->etcd_cache && !(e->cache = reg_path_join(config, srv->etcd_cache)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	e->files = files;
	e->base = base;
	e->s.ops = &etcd_ops;
	e->s.on_change = on_change;
	e->s.arg = arg;
	if (etcd_client_create(base, srv->etcd_endpoints, srv->n_etcd_endpoints,
	                       srv->etcd_timeout_ms ? srv->etcd_timeout_ms : 2000, &e->cl, err,
	                       errlen) < 0 ||
	    client_setup(e->cl, srv, config, err, errlen) < 0)
		goto fail;
	e->retry = evtimer_new(base, on_retry, e);
	e->notify = evtimer_new(base, on_notify, e);
	e->cache_ev = evtimer_new(base, on_cache, e);
	if (!e->retry || !e->notify || !e->cache_ev) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	first_sync(e);
	*out = &e->s;
	return 0;
fail:
	if (e) {
		e->files = files;
		etcd_free(&e->s);
	} else {
		reg_source_free(files);
	}
	return -1;
}

/* --- srvd --import-to-etcd --------------------------------------------- */

/* The body of a fragment the control API wrote (registry_fragment_text()'s
 * layout: a header comment, services:, NAME:, the body indented), or NULL
 * for any other file. Caller frees. */
static char *fragment_body(const char *name, const char *text)
{
	char head[200];
	const char *p;
	struct evbuffer *b;
	char *out = NULL;
	size_t n;

	snprintf(head, sizeof(head),
	         "# %s.yaml: written by srvd's control API (PUT /v1/services/%s)\nservices:\n  "
	         "%s:\n",
	         name, name, name);
	if (strncmp(text, head, strlen(head)) != 0 || !(b = evbuffer_new()))
		return NULL;
	for (p = text + strlen(head); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		if (len >= 4 && strncmp(p, "    ", 4) == 0)
			evbuffer_add(b, p + 4, len - 4);
		else
			evbuffer_add(b, p, len);
		p += len;
	}
	n = evbuffer_get_length(b);
	if ((out = malloc(n + 1))) {
		evbuffer_remove(b, out, n);
		out[n] = '\0';
	}
	evbuffer_free(b);
	return out;
}

static int str_sort(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int reg_etcd_import(const char *config, FILE *out)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	struct etcd_source e = {0};
	char err[512], **names = NULL;
	size_t n_names = 0, imported = 0, kept = 0, failed = 0;
	char *dir = NULL;
	int status = 2;
	DIR *d = NULL;
	struct dirent *de;

	if (registry_load_file(config, &reg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(out, "%s\n", errs.lines[i]);
		goto done;
	}
	if (!reg->server.n_etcd_endpoints) {
		fprintf(out, "%s: no server.registry.etcd to import into\n", config);
		goto done;
	}
	if (registry_fragment_dir(config, NULL, &dir, err, sizeof(err)) < 0) {
		fprintf(out, "%s\n", err);
		goto done;
	}
	e.prefix = reg->server.etcd_prefix ? reg->server.etcd_prefix : "/srvd/";
	if (etcd_client_create(NULL, reg->server.etcd_endpoints, reg->server.n_etcd_endpoints,
	                       reg->server.etcd_timeout_ms ? reg->server.etcd_timeout_ms : 2000,
	                       &e.cl, err, sizeof(err)) < 0 ||
	    client_setup(e.cl, &reg->server, config, err, sizeof(err)) < 0) {
		fprintf(out, "%s: %s\n", config, err);
		goto done;
	}
	if (!(d = opendir(dir))) {
		fprintf(out, "%s: cannot read: %s\n", dir, strerror(errno));
		goto done;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **grown;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		if (!(grown = realloc(names, (n_names + 1) * sizeof(*names))) ||
		    !(grown[n_names] = strndup(de->d_name, len - 5))) {
			names = grown ? grown : names;
			fprintf(out, "out of memory\n");
			goto done;
		}
		names = grown;
		n_names++;
	}
	if (n_names)
		qsort(names, n_names, sizeof(*names), str_sort);
	status = 0;
	for (size_t i = 0; i < n_names; i++) {
		struct reg_write w;
		char *text = NULL, *body, rel[300], what[300];

		if (registry_fragment_read(dir, names[i], &text) < 0 ||
		    !(body = fragment_body(names[i], text))) {
			fprintf(out, "%s/%s.yaml: not written by the control API: skipped\n", dir,
			        names[i]);
			free(text);
			continue;
		}
		memset(&w, 0, sizeof(w));
		snprintf(rel, sizeof(rel), "%s%s", SERVICES, names[i]);
		snprintf(what, sizeof(what), "service %s", names[i]);
		/* create-only: what the fleet already has is kept */
		write_key(&e, rel, what, body, strlen(body), 0, REG_IF_ABSENT, &w);
		if (w.result == REG_WRITE_OK) {
			fprintf(out, "%s: imported into %s%s (revision %lld)\n", names[i], e.prefix,
			        rel, (long long)w.revision);
			imported++;
		} else if (w.result == REG_WRITE_LOST) {
			fprintf(out, "%s: %s%s exists in etcd: kept as it is\n", names[i], e.prefix,
			        rel);
			kept++;
		} else {
			fprintf(out, "%s: %s\n", names[i], w.message);
			failed++;
			status = 1;
		}
		reg_write_clear(&w);
		free(body);
		free(text);
	}
	fprintf(out,
	        "%zu imported, %zu already in etcd, %zu failed. Remove the imported files from %s: "
	        "a service in a file and in etcd serves from the file.\n",
	        imported, kept, failed, dir);
done:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	kv_free_all(&e);
	free(e.kv);
	etcd_client_free(e.cl);
	free(dir);
	registry_free(reg);
	registry_errors_clear(&errs);
	return status;
}

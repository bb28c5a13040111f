/* SPDX-License-Identifier: BSD-3-Clause */
/* maintenance.c: drained services and instances (README "Drain and
 * maintenance"): the list a source stores, its file format, and how a
 * registry points at it.
 *
 * A drain is kept apart from the services on purpose: it is the operator's
 * state of the moment, not the service's definition, so it survives a PUT
 * that replaces the service and applies to services of any file. The files
 * source keeps it in .srvd-maintenance.yaml in the include folder:
 *
 *   {"maintenance": [
 *     {"service": "web", "reason": "kernel upgrade"},
 *     {"service": "web", "instance": "web-1", "reason": "disk swap"}
 *   ]}
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "registry/ynode.h"

void registry_maint_free(struct reg_maint *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].service);
		free(m[i].instance);
		free(m[i].reason);
	}
	free(m);
}

struct perr {
	struct reg_errors *errs;
	int failed;
};

static void on_yaml_error(void *arg, const char *line)
{
	struct perr *p = arg;

	p->failed = 1;
	if (p->errs)
		registry_errors_add(p->errs, line);
}

static void node_error(struct perr *p, const struct ynode *n, const char *fmt, const char *what)
{
	char line[600], msg[300];

	snprintf(msg, sizeof(msg), fmt, what);
	snprintf(line, sizeof(line), "%s:%u:%u: %s", n->file, n->line, n->col, msg);
	on_yaml_error(p, line);
}

/* One entry {service, instance?, reason}: 0, or -1 (reported). */
static int parse_entry(struct perr *p, const struct ynode *e, struct reg_maint *out)
{
	const struct ynode *svc = NULL, *inst = NULL, *reason = NULL;

	if (e->kind != YNODE_MAP) {
		node_error(p, e, "maintenance: an entry is a mapping {service, instance, reason}%s",
		           "");
		return -1;
	}
	for (size_t i = 0; i < e->n; i++) {
		const char *k = e->keys[i]->value;
		const struct ynode **slot = strcmp(k, "service") == 0    ? &svc
		                            : strcmp(k, "instance") == 0 ? &inst
		                            : strcmp(k, "reason") == 0   ? &reason
		                                                         : NULL;
		if (!slot) {
			node_error(p, e->keys[i], "maintenance: unknown key \"%.100s\"", k);
			return -1;
		}
		if (e->items[i]->kind != YNODE_SCALAR || !e->items[i]->value) {
			node_error(p, e->items[i], "maintenance: %s must be a string", k);
			return -1;
		}
		*slot = e->items[i];
	}
	if (!svc || !svc->value[0]) {
		node_error(p, e, "maintenance: an entry needs service%s", "");
		return -1;
	}
	out->service = strdup(svc->value);
	out->instance = inst ? strdup(inst->value) : NULL;
	out->reason = strdup(reason ? reason->value : "");
	if (!out->service || (inst && !out->instance) || !out->reason) {
		on_yaml_error(p, "out of memory");
		return -1;
	}
	/* names as the registry keeps them */
	for (char *c = out->service; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	for (char *c = out->instance; c && *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	return 0;
}

int registry_maint_parse(const char *text, size_t len, const char *file, struct reg_maint **out,
                         size_t *n, struct reg_errors *errs)
{
	struct perr p = {errs, 0};
	struct ydoc *doc = NULL;
	const struct ynode *root, *list = NULL;
	struct reg_maint *m = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (ydoc_parse_string(text, len, file, &doc, on_yaml_error, &p) < 0)
		return -1;
	root = doc->root;
	if (root && root->kind != YNODE_MAP) {
		node_error(&p, root, "expected a mapping {\"maintenance\": [...]}%s", "");
		goto fail;
	}
	for (size_t i = 0; root && i < root->n; i++) {
		if (strcmp(root->keys[i]->value, "maintenance") != 0) {
			node_error(&p, root->keys[i], "unknown key \"%.100s\"",
			           root->keys[i]->value);
			goto fail;
		}
		list = root->items[i];
	}
	if (list && ynode_is_null(list))
		list = NULL;
	if (list && list->kind != YNODE_SEQ) {
		node_error(&p, list, "maintenance: expected a list%s", "");
		goto fail;
	}
	if (list && list->n && !(m = calloc(list->n, sizeof(*m)))) {
		on_yaml_error(&p, "out of memory");
		goto fail;
	}
	for (; list && k < list->n; k++)
		if (parse_entry(&p, list->items[k], &m[k]) < 0) {
			k++; /* frees what it filled */
			goto fail;
		}
	ydoc_free(doc);
	*out = m;
	*n = k;
	return 0;
fail:
	registry_maint_free(m, k);
	ydoc_free(doc);
	return -1;
}

/* Appends s as a JSON string to buf (len bytes at most, *used so far). */
static void put_json_str(char *buf, size_t len, size_t *used, const char *s)
{
	*used += (size_t)snprintf(buf + *used, len - *used, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c && *used < len; c++) {
		if (*c == '"' || *c == '\\')
			*used += (size_t)snprintf(buf + *used, len - *used, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			*used += (size_t)snprintf(buf + *used, len - *used, "\\u%04x", *c);
		else
			buf[(*used)++] = (char)*c;
	}
	if (*used < len)
		*used += (size_t)snprintf(buf + *used, len - *used, "\"");
}

char *registry_maint_format(const struct reg_maint *m, size_t n)
{
	static const char head[] = "# srvd: drained services and instances (README \"Drain and "
	                           "maintenance\"), written by the control API\n"
	                           "{\"maintenance\": [";
	size_t len = sizeof(head) + 8, used = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		len += 64 + 6 * (strlen(m[i].service) +
		                 (m[i].instance ? strlen(m[i].instance) : 0) + strlen(m[i].reason));
	if (!(buf = malloc(len)))
		return NULL;
	used = (size_t)snprintf(buf, len, "%s", head);
	for (size_t i = 0; i < n; i++) {
		used +=
		    (size_t)snprintf(buf + used, len - used, "%s\n  {\"service\": ", i ? "," : "");
		put_json_str(buf, len, &used, m[i].service);
		if (m[i].instance) {
			used += (size_t)snprintf(buf + used, len - used, ", \"instance\": ");
			put_json_str(buf, len, &used, m[i].instance);
		}
		used += (size_t)snprintf(buf + used, len - used, ", \"reason\": ");
		put_json_str(buf, len, &used, m[i].reason);
		used += (size_t)snprintf(buf + used, len - used, "}");
	}
	snprintf(buf + used, len - used, "%s]}\n", n ? "\n" : "");
	return buf;
}

static int same_target(const struct reg_maint *e, const char *service, const char *instance)
{
	if (strcmp(e->service, service) != 0)
		return 0;
	if (!e->instance || !instance)
		return !e->instance && !instance;
	return strcmp(e->instance, instance) == 0;
}

int registry_maint_set(struct reg_maint **m, size_t *n, const char *service, const char *instance,
                       const char *reason)
{
	struct reg_maint *grown, e = {NULL, NULL, NULL};

	for (size_t i = 0; i < *n; i++) {
		struct reg_maint *x = &(*m)[i];
		char *copy;

		if (!same_target(x, service, instance))
			continue;
		if (!reason) {
			/* every entry for it: a hand-edited file may hold two */
			size_t k = i;

			for (size_t j = i; j < *n; j++) {
				struct reg_maint *y = &(*m)[j];

				if (same_target(y, service, instance)) {
					free(y->service);
					free(y->instance);
					free(y->reason);
				} else {
					(*m)[k++] = *y;
				}
			}
			*n = k;
			return 1;
		}
		if (strcmp(x->reason, reason) == 0)
			return 0;
		if (!(copy = strdup(reason)))
			return -ENOMEM;
		free(x->reason);
		x->reason = copy;
		return 1;
	}
	if (!reason)
		return 0;
	e.service = strdup(service);
	e.instance = instance ? strdup(instance) : NULL;
	e.reason = strdup(reason);
	grown = realloc(*m, (*n + 1) * sizeof(**m));
	if (!e.service || (instance && !e.instance) || !e.reason || !grown) {
		free(e.service);
		free(e.instance);
		free(e.reason);
		if (grown)
			*m = grown;
		return -ENOMEM;
	}
	*m = grown;
	(*m)[(*n)++] = e;
	return 1;
}

/* Points s and its instances at their drains in m (copies: a service
 * outlives the registry it was loaded with when a change keeps it); 0 or
 * -ENOMEM. */
int registry_maint_attach_service(struct reg_service *s, const struct reg_maint *m, size_t n)
{
	int rc = 0;

	free((char *)s->maintenance);
	s->maintenance = NULL;
	for (size_t k = 0; k < s->n_instances; k++) {
		free((char *)s->instances[k].maintenance);
		s->instances[k].maintenance = NULL;
	}
	s->digest_set = 0;
	/* few drains against many instances: a scan per drain */
	for (size_t j = 0; j < n; j++) {
		char **at = NULL;

		if (strcmp(s->name, m[j].service) != 0)
			continue;
		if (!m[j].instance)
			at = (char **)&s->maintenance;
		for (size_t k = 0; !at && k < s->n_instances; k++)
			if (strcmp(s->instances[k].name, m[j].instance) == 0)
				at = (char **)&s->instances[k].maintenance;
		if (at) {
			char *copy = strdup(m[j].reason);

			if (!copy) {
				rc = -ENOMEM;
				continue;
			}
			free(*at); /* the last of several drains of one target */
			*at = copy;
		}
	}
	return rc;
}

void registry_maint_attach(struct registry *reg, struct reg_maint *m, size_t n)
{
	registry_maint_free(reg->maint, reg->n_maint);
	reg->maint = m;
	reg->n_maint = n;
	for (size_t i = 0; i < reg->n_services; i++)
		(void)registry_maint_attach_service(reg->services[i], m, n);
}

const char *registry_maintenance_of(const struct reg_service *s, const struct reg_instance *inst)
{
	return inst->maintenance ? inst->maintenance : s->maintenance;
}

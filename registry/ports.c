/* SPDX-License-Identifier: BSD-3-Clause */
/* ports.c: named ports (README "More answers"): `ports:` of a service,
 * NAME: PORT or NAME: {port, protocol}, answered as SRV at
 * _NAME._PROTO.SERVICE.<zone> (Kubernetes' form), and an instance's
 * `ports:`, NAME: PORT over the service's. Stored in the SCH_HEADERS layout
 * (NAME, "PORT" or "PORT/PROTO" pairs), so that digesting and freeing them
 * is the schema's; parsing, the load-time rules and reading them back are
 * here. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

static const struct sch_item port_item = {
    .key = "port", .type = SCH_UINT, .min = 1, .max = 65535, .size = sizeof(uint16_t)};
static const struct sch_item proto_item = {.key = "protocol", .type = SCH_LABEL};

/* One value: a port, or (a service's) {port: N, protocol: LABEL}, into
 * "PORT" or "PORT/PROTO" (text holds 80 bytes). */
static int parse_value(struct reg_loader *ld, const struct ynode *val, int service,
                       struct sch_path *path, char *text)
{
	uint16_t port = 0;
	char *proto = NULL;
	int rc = 0, have_port = 0;

	if (val->kind != YNODE_MAP || !service) {
		if (sch_parse_scalar(ld, &port_item, SCH_UINT, val, &port, path) < 0)
			return -1;
		snprintf(text, 80, "%u", (unsigned)port);
		return 0;
	}
	for (size_t i = 0; i < val->n; i++) {
		const struct ynode *k = val->keys[i];
		size_t old = sch_path_key(path, k->value);

		if (!strcmp(k->value, "port") && !have_port) {
			rc |=
			    sch_parse_scalar(ld, &port_item, SCH_UINT, val->items[i], &port, path);
			have_port = 1;
		} else if (!strcmp(k->value, "protocol") && !proto) {
			rc |= sch_parse_scalar(ld, &proto_item, SCH_LABEL, val->items[i], &proto,
			                       path);
		} else {
			reg_error(ld, k, path,
			          strcmp(k->value, "port") && strcmp(k->value, "protocol")
			              ? "unknown key (a named port has port and protocol)"
			              : "duplicate key");
			rc = -1;
		}
		sch_path_pop(path, old);
	}
	if (!have_port && rc == 0) {
		reg_error(ld, val, path, "missing key \"port\"");
		rc = -1;
	}
	if (rc == 0)
		snprintf(text, 80, proto ? "%u/%s" : "%u", (unsigned)port, proto ? proto : "");
	free(proto);
	return rc ? -1 : 0;
}

int reg_parse_ports(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                    void *base, struct sch_path *path)
{
	char **v, ***field = (char ***)((char *)base + item->offset);
	size_t *count = (size_t *)((char *)base + item->aux), ok = 0;
	int rc = 0, service = (item->flags & SCH_SERVICE) != 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_MAP) {
		reg_error(ld, node, path, "expected a mapping of port names to %s, got %s",
		          service ? "ports or {port, protocol}" : "ports", ynode_kind_name(node));
		return -1;
	}
	if (node->n > REG_PORTS_MAX) {
		reg_error(ld, node, path, "%zu named ports: at most %d", node->n, REG_PORTS_MAX);
		return -1;
	}
	v = calloc(2 * node->n + 1, sizeof(*v));
	if (!v) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		const struct ynode *key = node->keys[i];
		size_t old = sch_path_key(path, key->value);
		char text[80], name[64];
		int dup = 0;

		snprintf(name, sizeof(name), "%s", key->value);
		sch_lower(name);
		for (size_t k = 0; k < ok && !dup; k++)
			dup = strcmp(v[2 * k], name) == 0;
		if (!sch_is_label(key->value) || strlen(key->value) > 62) {
			reg_error(
			    ld, key, path,
			    "\"%s\" is not a port name (a DNS label of at most 62 characters: "
			    "_NAME is one label)",
			    key->value);
			rc = -1;
		} else if (dup) {
			reg_error(ld, key, path, "duplicate port name \"%s\"", name);
			rc = -1;
		} else if (parse_value(ld, node->items[i], service, path, text) < 0) {
			rc = -1;
		} else if (rc == 0) {
			v[2 * ok] = strdup(name);
			v[2 * ok + 1] = strdup(text);
			ok++;
			if (!v[2 * ok - 2] || !v[2 * ok - 1]) {
				reg_error(ld, key, path, "out of memory");
				rc = -1;
			}
		}
		sch_path_pop(path, old);
	}
	if (rc < 0) {
		sch_free_strv(v, 2 * ok);
		return -1;
	}
	sch_free_strv(*field, 2 * *count);
	*field = v;
	*count = ok;
	return 0;
}

void registry_port_of(const struct reg_service *s, const struct reg_instance *in, size_t k,
                      struct reg_named_port *out)
{
	const char *val = s->ports[2 * k + 1], *slash = strchr(val, '/');

	out->name = s->ports[2 * k];
	out->protocol = slash ? slash + 1 : s->protocol ? s->protocol : "tcp";
	out->port = (uint16_t)strtoul(val, NULL, 10);
	for (size_t i = 0; in && i < in->n_ports; i++)
		if (!strcmp(in->ports[2 * i], out->name))
			out->port = (uint16_t)strtoul(in->ports[2 * i + 1], NULL, 10);
}

/* The key node of name in a mapping node, or NULL. */
static const struct ynode *key_of(const struct ynode *map, const char *name)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (!strcasecmp(map->keys[i]->value, name))
			return map->keys[i];
	return NULL;
}

static int has(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return 1;
	return 0;
}

void reg_check_ports(struct reg_loader *ld, const struct reg_svc_build *b, struct sch_path *path)
{
	const struct reg_service *s = &b->svc;
	const struct ynode *ports = NULL;
	size_t old;

	for (size_t i = 0; b->node && b->node->kind == YNODE_MAP && i < b->node->n; i++)
		if (!strcmp(b->node->keys[i]->value, "ports"))
			ports = b->node->items[i];
	old = sch_path_key(path, "ports");
	for (size_t k = 0; k < s->n_ports; k++) {
		const char *name = s->ports[2 * k];
		const struct ynode *at = key_of(ports, name);
		const char *what = has(s->tags, s->n_tags, name) ? "a tag" : NULL;
		size_t o2 = sch_path_key(path, name);

		for (size_t i = 0; i < b->n_inst && !what; i++) {
			if (b->inst[i].inst.name && !strcmp(b->inst[i].inst.name, name))
				what = "an instance's name";
			else if (has(b->inst[i].inst.tags, b->inst[i].inst.n_tags, name))
				what = "a tag";
		}
		if (what)
			reg_error(
			    ld, at ? at : b->key, path,
			    "port name \"%s\" is also %s of the service (_%s._PROTO.%s.<zone> "
			    "would be ambiguous)",
			    name, what, name, s->name);
		sch_path_pop(path, o2);
	}
	sch_path_pop(path, old);
	for (size_t i = 0; i < b->n_inst; i++) {
		const struct reg_instance *in = &b->inst[i].inst;
		const struct ynode *iports = NULL;

		for (size_t k = 0; b->inst[i].node && b->inst[i].node->kind == YNODE_MAP &&
		                   k < b->inst[i].node->n;
		     k++)
			if (!strcmp(b->inst[i].node->keys[k]->value, "ports"))
				iports = b->inst[i].node->items[k];
		for (size_t p = 0; p < in->n_ports; p++) {
			const struct ynode *at = key_of(iports, in->ports[2 * p]);
			size_t k;
			struct sch_path ip = *path;

			for (k = 0; k < s->n_ports && strcmp(s->ports[2 * k], in->ports[2 * p]);
			     k++)
				;
			if (k < s->n_ports)
				continue;
			sch_path_key(&ip, "instances");
			sch_path_index(&ip, i);
			sch_path_key(&ip, "ports");
			sch_path_key(&ip, in->ports[2 * p]);
			reg_error(ld, at ? at : b->inst[i].node, &ip,
			          "the service has no port named \"%s\" (an instance overrides the "
			          "service's ports)",
			          in->ports[2 * p]);
		}
	}
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* answers.c: the rules of a service's answer keys beyond their types, once
 * values are resolved from defaults (README "Failover, locality and sticky
 * answers"): ttl_min is at most ttl; locality needs server.sites, and an
 * instance's site is one of them. Also server.sites itself: a mapping of
 * site names to lists of client address prefixes, no prefix in two sites. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "registry/loader.h"
#include "registry/registry.h"

/* Sites: at most this many (the table numbers them in 16 bits). */
#define SITES_MAX 1000

/* The node of key in the service's own mapping, else the service's name. */
static const struct ynode *key_node(const struct reg_svc_build *b, const char *key)
{
	for (size_t i = 0; b->node && b->node->kind == YNODE_MAP && i < b->node->n; i++)
		if (strcmp(b->node->keys[i]->value, key) == 0)
			return b->node->items[i];
	return b->key;
}

static const struct ynode *find(const struct ynode *map, const char *key)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

static int site_known(const struct reg_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_sites; i++)
		if (strcmp(srv->sites[i].name, name) == 0)
			return 1;
	return 0;
}

void reg_resolve_answers(struct reg_loader *ld, struct reg_svc_build *b, struct sch_path *path)
{
	const struct reg_server *srv = &ld->top.server.srv;
	struct reg_service *s = &b->svc;

	s->has_ttl_min = sch_is_set(&reg_service_table, b->set, "ttl_min");
	if (s->has_ttl_min && s->ttl_min > s->ttl) {
		size_t old = sch_path_key(path, "ttl_min");

		reg_error(ld, key_node(b, "ttl_min"), path, "%u exceeds ttl %u", s->ttl_min,
		          s->ttl);
		sch_path_pop(path, old);
	}
	if (s->locality != REG_LOCALITY_OFF && srv->n_sites == 0) {
		size_t old = sch_path_key(path, "locality");

		reg_error(ld, key_node(b, "locality"), path,
		          "needs server.sites (the client address prefixes of each site)");
		sch_path_pop(path, old);
	}
	for (size_t i = 0; i < b->n_inst; i++) {
		const char *site = b->inst[i].inst.site;
		struct sch_path p = *path;

		if (!site || site_known(srv, site))
			continue;
		sch_path_key(&p, "instances");
		sch_path_index(&p, i);
		sch_path_key(&p, "site");
		reg_error(ld, find(b->inst[i].node, "site"), &p,
		          "\"%s\" is not a site of server.sites", site);
	}
}

void reg_sites_free(struct reg_server *srv)
{
	for (size_t i = 0; i < srv->n_sites; i++) {
		for (size_t k = 0; k < srv->sites[i].n_prefixes; k++)
			free(srv->sites[i].prefixes[k]);
		free(srv->sites[i].prefixes);
		free(srv->sites[i].name);
	}
	free(srv->sites);
	srv->sites = NULL;
	srv->n_sites = 0;
}

/* The site and index of a prefix equal to text's among those parsed so far,
 * or -1. */
static int prefix_seen(const struct reg_server *srv, const char *text, size_t *site)
{
	uint8_t a[16], b[16];
	unsigned abits, bbits;
	int av6, bv6;

	if (addr_parse_prefix(text, &av6, a, &abits) < 0)
		return -1;
	for (size_t i = 0; i < srv->n_sites; i++)
		for (size_t k = 0; k < srv->sites[i].n_prefixes; k++)
			if (addr_parse_prefix(srv->sites[i].prefixes[k], &bv6, b, &bbits) == 0 &&
			    av6 == bv6 && abits == bbits && !memcmp(a, b, sizeof(a))) {
				*site = i;
				return 0;
			}
	return -1;
}

int reg_parse_sites(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                    void *target, struct sch_path *path)
{
	struct reg_server *srv = target; /* a struct reg_srv_build starts with it */
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_MAP) {
		reg_error(ld, node, path,
		          "expected a mapping of site names to address prefixes, got %s",
		          ynode_kind_name(node));
		return -1;
	}
	reg_sites_free(srv);
	if (node->n > SITES_MAX) {
		reg_error(ld, node, path, "%zu sites: at most %d", node->n, SITES_MAX);
		return -1;
	}
	srv->sites = calloc(node->n ? node->n : 1, sizeof(*srv->sites));
	if (!srv->sites) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		const struct ynode *key = node->keys[i], *val = node->items[i];
		struct ynode *const *items = val->items;
		const struct ynode *one = val;
		size_t old = sch_path_key(path, key->value), n = val->n;
		struct reg_site *site;

		if (!sch_is_label(key->value)) {
			reg_error(ld, key, path, "\"%s\" is not a DNS label", key->value);
			rc = -1;
			goto next;
		}
		if (val->kind == YNODE_MAP || ynode_is_null(val)) {
			reg_error(ld, val, path, "expected a list of address prefixes, got %s",
			          ynode_is_null(val) ? "no value" : ynode_kind_name(val));
			rc = -1;
			goto next;
		}
		if (val->kind == YNODE_SCALAR) {
			items = (struct ynode *const *)&one;
			n = 1;
		}
		site = &srv->sites[srv->n_sites];
		if (!(site->name = strdup(key->value)) ||
		    !(site->prefixes = calloc(n ? n : 1, sizeof(*site->prefixes)))) {
			free(site->name);
			site->name = NULL;
			reg_error(ld, key, path, "out of memory");
			rc = -1;
			goto next;
		}
		sch_lower(site->name);
		if (site_known(srv, site->name)) {
			reg_error(ld, key, path, "duplicate site \"%s\"", site->name);
			rc = -1;
		}
		srv->n_sites++;
		for (size_t k = 0; k < n; k++) {
			size_t pold = val->kind == YNODE_SEQ ? sch_path_index(path, k) : path->len;
			char *text = NULL;
			size_t other;

			if (sch_parse_scalar(ld, item, SCH_PREFIX, items[k], &text, path) < 0) {
				rc = -1;
			} else if (prefix_seen(srv, text, &other) == 0) {
				reg_error(ld, items[k], path, "%s is already in site \"%s\"", text,
				          srv->sites[other].name);
				free(text);
				rc = -1;
			} else {
				site->prefixes[site->n_prefixes++] = text;
			}
			sch_path_pop(path, pold);
		}
	next:
		sch_path_pop(path, old);
	}
	return rc;
}

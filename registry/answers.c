/* SPDX-License-Identifier: BSD-3-Clause */
/* answers.c: the rules of a service's answer keys beyond their types, once
 * values are resolved from defaults (README "Failover, locality and sticky
 * answers"): ttl_min is at most ttl. */
#include "config.h"

#include <string.h>

#include "registry/loader.h"
#include "registry/registry.h"

/* The node of key in the service's own mapping, else the service's name. */
static const struct ynode *key_node(const struct reg_svc_build *b, const char *key)
{
	for (size_t i = 0; b->node && b->node->kind == YNODE_MAP && i < b->node->n; i++)
		if (strcmp(b->node->keys[i]->value, key) == 0)
			return b->node->items[i];
	return b->key;
}

void reg_resolve_answers(struct reg_loader *ld, struct reg_svc_build *b, struct sch_path *path)
{
	struct reg_service *s = &b->svc;

	s->has_ttl_min = sch_is_set(&reg_service_table, b->set, "ttl_min");
	if (s->has_ttl_min && s->ttl_min > s->ttl) {
		size_t old = sch_path_key(path, "ttl_min");

		reg_error(ld, key_node(b, "ttl_min"), path, "%u exceeds ttl %u", s->ttl_min,
		          s->ttl);
		sch_path_pop(path, old);
	}
}

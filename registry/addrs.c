/* SPDX-License-Identifier: BSD-3-Clause */
/* addrs.c: an instance's addresses (README "More answers"): `address` is
 * one address or a list (dual-stack: address: [192.0.2.10, "2001:db8::10"]).
 * The first is the primary one (struct reg_instance.addr: the check probes
 * it unless check_address names another, the API shows it first); a list of
 * more than one also fills addrs/n_addrs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

static const struct sch_item addr_item = {.key = "address", .type = SCH_ADDR};

int reg_parse_addresses(struct reg_loader *ld, const struct sch_item *item,
                        const struct ynode *node, void *base, struct sch_path *path)
{
	struct reg_instance *in = base; /* reg_inst_build starts with it */
	struct reg_addr *v;
	size_t ok = 0;
	int rc = 0;

	(void)item;
	if (node->kind != YNODE_SEQ)
		return sch_parse_scalar(ld, &addr_item, SCH_ADDR, node, &in->addr, path);
	if (node->n == 0 || node->n > REG_ADDRS_MAX) {
		reg_error(ld, node, path, "%zu addresses: one to %d", node->n, REG_ADDRS_MAX);
		return -1;
	}
	v = calloc(node->n, sizeof(*v));
	if (!v) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		size_t old = sch_path_index(path, i), k;

		if (sch_parse_scalar(ld, &addr_item, SCH_ADDR, node->items[i], &v[ok], path) < 0) {
			rc = -1;
		} else {
			for (k = 0; k < ok && registry_addr_cmp(&v[k], &v[ok]); k++)
				;
			if (k < ok) {
				reg_error(ld, node->items[i], path, "the same address as [%zu]", k);
				rc = -1;
			} else {
				ok++;
			}
		}
		sch_path_pop(path, old);
	}
	if (rc < 0) {
		free(v);
		return -1;
	}
	free(in->addrs);
	in->addr = v[0];
	in->addrs = NULL;
	in->n_addrs = 0;
	if (ok > 1) {
		in->addrs = v;
		in->n_addrs = ok;
	} else {
		free(v);
	}
	return 0;
}

const struct reg_addr *registry_addrs(const struct reg_instance *in, size_t *n)
{
	*n = in->n_addrs ? in->n_addrs : 1;
	return in->n_addrs ? in->addrs : &in->addr;
}

const struct reg_addr *registry_check_addr(const struct reg_instance *in)
{
	return in->check_addr.family ? &in->check_addr : &in->addr;
}

void reg_check_addresses(struct reg_loader *ld, const struct reg_inst_build *ib,
                         struct sch_path *path)
{
	const struct reg_instance *in = &ib->inst;
	const struct reg_addr *a;
	size_t n, k;

	if (!in->check_addr.family)
		return;
	a = registry_addrs(in, &n);
	for (k = 0; k < n && registry_addr_cmp(&a[k], &in->check_addr); k++)
		;
	if (k == n) {
		const struct ynode *at = NULL;
		size_t old = sch_path_key(path, "check_address");

		for (size_t i = 0; ib->node && ib->node->kind == YNODE_MAP && i < ib->node->n; i++)
			if (!strcmp(ib->node->keys[i]->value, "check_address"))
				at = ib->node->items[i];
		reg_error(ld, at ? at : ib->node, path, "not one of the instance's addresses");
		sch_path_pop(path, old);
	}
}

void reg_addrs_free(struct reg_instance *in)
{
	free(in->addrs);
	in->addrs = NULL;
	in->n_addrs = 0;
}

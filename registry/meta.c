/* SPDX-License-Identifier: BSD-3-Clause */
/* meta.c: `meta:` of a service or an instance (README "More answers"):
 * KEY: VALUE pairs answered as TXT "KEY=VALUE" at the instance's name and
 * shown by the control API. Stored as the SCH_HEADERS layout (KEY, VALUE,
 * ... and a count), so that inheriting, digesting and freeing them is the
 * schema's; only the parsing and its rules are here. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

/* Letters, digits, '-', '_' and '.', 1 to 63 of them: no '=', which
 * separates the key from the value in the TXT string. */
static int key_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return n >= 1 && n <= 63;
}

int reg_parse_meta(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                   void *base, struct sch_path *path)
{
	char **v, ***field = (char ***)((char *)base + item->offset);
	size_t *count = (size_t *)((char *)base + item->aux), ok = 0;
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_MAP) {
		reg_error(ld, node, path, "expected a mapping of keys to values, got %s",
		          ynode_kind_name(node));
		return -1;
	}
	if (node->n > REG_META_MAX) {
		reg_error(ld, node, path, "%zu keys: at most %d", node->n, REG_META_MAX);
		return -1;
	}
	v = calloc(2 * node->n + 1, sizeof(*v));
	if (!v) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		const struct ynode *key = node->keys[i], *val = node->items[i];
		size_t old = sch_path_key(path, key->value);
		const char *text =
		    val->kind == YNODE_SCALAR && !ynode_is_null(val) ? val->value : NULL;
		int dup = 0;

		for (size_t k = 0; k < ok && !dup; k++)
			dup = strcmp(v[2 * k], key->value) == 0;
		if (!key_ok(key->value)) {
			reg_error(
			    ld, key, path,
			    "\"%s\" is not a metadata key (letters, digits, '-', '_', '.'; 1 to "
			    "63 characters)",
			    key->value);
			rc = -1;
		} else if (dup) {
			reg_error(ld, key, path, "duplicate key \"%s\"", key->value);
			rc = -1;
		} else if (!text) {
			reg_error(ld, val, path, "expected a value, got %s",
			          val->kind == YNODE_SCALAR ? "no value" : ynode_kind_name(val));
			rc = -1;
		} else if (!sch_text_ok(text)) {
			reg_error(ld, val, path, "a value may hold no control characters");
			rc = -1;
		} else if (strlen(key->value) + 1 + strlen(text) > REG_META_TEXT_MAX) {
			reg_error(ld, val, path,
			          "\"%s=...\" is longer than %d bytes (one TXT string)", key->value,
			          REG_META_TEXT_MAX);
			rc = -1;
		} else if (rc == 0) {
			v[2 * ok] = strdup(key->value);
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

size_t registry_meta_of(const struct reg_service *s, const struct reg_instance *in, const char **kv)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_meta && i < REG_META_MAX; i++) {
		const char *val = s->meta[2 * i + 1];

		for (size_t k = 0; k < in->n_meta; k++)
			if (!strcmp(in->meta[2 * k], s->meta[2 * i]))
				val = in->meta[2 * k + 1];
		kv[2 * n] = s->meta[2 * i];
		kv[2 * n++ + 1] = val;
	}
	for (size_t k = 0; k < in->n_meta && k < REG_META_MAX; k++) {
		size_t i;

		for (i = 0; i < s->n_meta && strcmp(in->meta[2 * k], s->meta[2 * i]); i++)
			;
		if (i == s->n_meta) {
			kv[2 * n] = in->meta[2 * k];
			kv[2 * n++ + 1] = in->meta[2 * k + 1];
		}
	}
	return n;
}

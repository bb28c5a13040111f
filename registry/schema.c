/* SPDX-License-Identifier: BSD-3-Clause */
/* schema.c: walks YAML nodes against the schema tables, resolves values
 * from parent layers and defaults, frees and documents what the tables
 * describe. The value types themselves are in types.c. */
#include "config.h"

#include "registry/schema.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/addr.h"
#include "registry/loader.h"
#include "registry/registry.h"

#define BIT(i) ((uint64_t)1 << (i))

/* Appends len bytes of text, truncated as snprintf would: paths are built
 * for every key of every instance, so this stays off stdio. */
static void path_append(struct sch_path *path, const char *text, size_t len)
{
	size_t room = sizeof(path->buf) - 1 - path->len;

	if (len > room)
		len = room;
	memcpy(path->buf + path->len, text, len);
	path->len += len;
	path->buf[path->len] = '\0';
}

size_t sch_path_key(struct sch_path *path, const char *key)
{
	size_t old = path->len;

	if (path->len)
		path_append(path, ".", 1);
	path_append(path, key, strlen(key));
	return old;
}

size_t sch_path_index(struct sch_path *path, size_t index)
{
	char digits[24], *p = digits + sizeof(digits);
	size_t old = path->len;

	*--p = ']';
	do
		*--p = (char)('0' + index % 10);
	while ((index /= 10) && p > digits + 1);
	*--p = '[';
	path_append(path, p, (size_t)(digits + sizeof(digits) - p));
	return old;
}

void sch_path_pop(struct sch_path *path, size_t len)
{
	path->len = len;
	path->buf[len] = '\0';
}

void sch_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_listens(struct reg_listen *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

/* A list node, or one scalar standing for a list of one. */
/* The elements of a list node; a lone scalar is a one-item list, its item
 * kept in *one (caller storage that must outlive *items). */
static int list_items(struct reg_loader *ld, const struct ynode *node, struct sch_path *path,
                      const struct ynode **one, struct ynode *const **items, size_t *n)
{
	static struct ynode *const none[1];

	if (ynode_is_null(node)) {
		*items = none;
		*n = 0;
		return 0;
	}
	if (node->kind == YNODE_MAP) {
		reg_error(ld, node, path, "expected a list, got a mapping");
		return -1;
	}
	if (node->kind == YNODE_SCALAR) {
		*one = node;
		*items = (struct ynode *const *)one;
		*n = 1;
		return 0;
	}
	*items = node->items;
	*n = node->n;
	return 0;
}

static int parse_list(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                      void *base, struct sch_path *path)
{
	struct ynode *const *items;
	const struct ynode *one;
	size_t n, ok = 0;
	char **v;
	int rc = 0;

	if (list_items(ld, node, path, &one, &items, &n) < 0)
		return -1;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t old = node->kind == YNODE_SEQ ? sch_path_index(path, i) : path->len;

		if (sch_parse_scalar(ld, item, item->elem, items[i], &v[ok], path) < 0)
			rc = -1;
		else
			ok++;
		sch_path_pop(path, old);
	}
	if (rc < 0) {
		sch_free_strv(v, ok);
		return -1;
	}
	sch_free_strv(*(char ***)((char *)base + item->offset),
	              *(size_t *)((char *)base + item->aux));
	*(char ***)((char *)base + item->offset) = v;
	*(size_t *)((char *)base + item->aux) = ok;
	return 0;
}

static int parse_listens(struct reg_loader *ld, const struct sch_item *item,
                         const struct ynode *node, void *base, struct sch_path *path)
{
	struct ynode *const *items;
	const struct ynode *one;
	struct reg_listen *v;
	size_t n, ok = 0;
	int rc = 0;

	if (list_items(ld, node, path, &one, &items, &n) < 0)
		return -1;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t old = node->kind == YNODE_SEQ ? sch_path_index(path, i) : path->len;
		uint16_t port;

		if (sch_parse_scalar(ld, item, SCH_HOSTPORT, items[i], &v[ok].text, path) < 0) {
			rc = -1;
		} else {
			addr_parse_hostport(v[ok].text, &v[ok].addr, &v[ok].addr_len, &port);
			ok++;
		}
		sch_path_pop(path, old);
	}
	if (rc < 0) {
		free_listens(v, ok);
		return -1;
	}
	free_listens(*(struct reg_listen **)((char *)base + item->offset),
	             *(size_t *)((char *)base + item->aux));
	*(struct reg_listen **)((char *)base + item->offset) = v;
	*(size_t *)((char *)base + item->aux) = ok;
	return 0;
}

void *sch_item_base(const struct sch_table *table, const struct sch_item *item, void *base,
                    int create)
{
	void **box;

	if (!(item->flags & SCH_BOXED))
		return base;
	box = (void **)((char *)base + table->box->offset);
	if (!*box && create)
		*box = table->box->create();
	return *box;
}

const void *sch_item_cbase(const struct sch_table *table, const struct sch_item *item,
                           const void *base)
{
	const void *box;

	if (!(item->flags & SCH_BOXED))
		return base;
	box = *(void *const *)((const char *)base + table->box->offset);
	return box ? box : table->box->defaults;
}

/* An HTTP header name (RFC 9110 token) and a value without control
 * characters: a value with CR or LF would let the registry smuggle a second
 * header or request into the probe. */
static int header_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

int sch_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int parse_headers(struct reg_loader *ld, const struct sch_item *item,
                         const struct ynode *node, void *base, struct sch_path *path)
{
	char **v, ***field = (char ***)((char *)base + item->offset);
	size_t *count = (size_t *)((char *)base + item->aux), ok = 0;
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_MAP) {
		reg_error(ld, node, path, "expected a mapping of header names to values, got %s",
		          ynode_kind_name(node));
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

		if (!header_name_ok(key->value)) {
			reg_error(ld, key, path, "\"%s\" is not an HTTP header name", key->value);
			rc = -1;
		} else if (!text) {
			reg_error(ld, val, path, "expected a header value, got %s",
			          val->kind == YNODE_SCALAR ? "no value" : ynode_kind_name(val));
			rc = -1;
		} else if (!sch_text_ok(text) || strlen(text) > 1024) {
			reg_error(ld, val, path,
			          "a header value may hold no control characters (CR, LF, ...) and "
			          "up to 1024 bytes");
			rc = -1;
		} else {
			for (size_t k = 0; k < ok; k++)
				if (strcasecmp(v[2 * k], key->value) == 0) {
					reg_error(ld, key, path, "duplicate header \"%s\"",
					          key->value);
					rc = -1;
				}
			if (rc == 0) {
				v[2 * ok] = strdup(key->value);
				v[2 * ok + 1] = strdup(text);
				if (!v[2 * ok] || !v[2 * ok + 1]) {
					reg_error(ld, key, path, "out of memory");
					rc = -1;
				}
				ok++;
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

static int parse_item(struct reg_loader *ld, const struct sch_table *table,
                      const struct sch_item *item, unsigned scope, const struct ynode *node,
                      void *base, struct sch_path *path)
{
	base = sch_item_base(table, item, base, 1);
	if (!base) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	/* a key with code of its own; its value keeps the layout of its type
	 * (meta:, ports:, server.reverse, address:) */
	if (item->custom && item->type != SCH_CUSTOM)
		return item->custom(ld, item, node, base, path);
	switch (item->type) {
	case SCH_MAP:
		/* A map item may narrow the scope of its children (defaults:). */
		if (item->flags & SCH_ALL)
			scope = item->flags & SCH_ALL;
		if (item->flags & SCH_BOXED)
			*(uint64_t *)((char *)base + item->aux) |= SCH_MAP_PRESENT;
		return sch_walk(ld, item->children, scope, node, (char *)base + item->offset,
		                (uint64_t *)((char *)base + item->aux), path);
	case SCH_CUSTOM:
		return item->custom(ld, item, node, base, path);
	case SCH_LIST:
		return parse_list(ld, item, node, base, path);
	case SCH_LISTENS:
		return parse_listens(ld, item, node, base, path);
	case SCH_HEADERS:
		return parse_headers(ld, item, node, base, path);
	case SCH_EXPECT:
		return sch_parse_expect(ld, item, node, base, path);
	case SCH_UINT:
	case SCH_DURATION:
	case SCH_RATIO:
	case SCH_STRING:
	case SCH_PATH:
	case SCH_LABEL:
	case SCH_DNAME:
	case SCH_ADDR:
	case SCH_HOSTPORT:
	case SCH_PREFIX:
	case SCH_BASE64:
	case SCH_ENUM:
		break;
	}
	return sch_parse_scalar(ld, item, item->type, node, (char *)base + item->offset, path);
}

static int in_scope(const struct sch_item *item, unsigned scope)
{
	return scope == 0 || (item->flags & scope);
}

int sch_walk(struct reg_loader *ld, const struct sch_table *table, unsigned scope,
             const struct ynode *map, void *target, uint64_t *mask, struct sch_path *path)
{
	uint64_t seen = 0;
	int rc = 0;

	if (ynode_is_null(map))
		goto required;
	if (map->kind != YNODE_MAP) {
		reg_error(ld, map, path, "expected a mapping, got %s", ynode_kind_name(map));
		return -1;
	}
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *key = map->keys[i];
		const struct sch_item *item = NULL;
		size_t old = sch_path_key(path, key->value);
		size_t idx;

		for (idx = 0; idx < table->n; idx++)
			if (strcmp(table->items[idx].key, key->value) == 0 &&
			    in_scope(&table->items[idx], scope)) {
				item = &table->items[idx];
				break;
			}
		if (!item) {
			reg_error(ld, key, path, "unknown key%s", table->hint ? table->hint : "");
			rc = -1;
		} else if (seen & BIT(idx)) {
			reg_error(ld, key, path, "duplicate key");
			rc = -1;
		} else {
			seen |= BIT(idx);
			if (parse_item(ld, table, item, scope, map->items[i], target, path) < 0)
				rc = -1;
			else
				*mask |= BIT(idx);
		}
		sch_path_pop(path, old);
	}
required:
	for (size_t idx = 0; idx < table->n; idx++) {
		const struct sch_item *item = &table->items[idx];

		if ((item->flags & SCH_REQUIRED) && in_scope(item, scope) && !(seen & BIT(idx))) {
			reg_error(ld, map, path, "missing key \"%s\"", item->key);
			rc = -1;
		}
	}
	return rc;
}

static int copy_field(const struct sch_item *item, void *dst, const void *src)
{
	void *d = (char *)dst + item->offset;
	const void *s = (const char *)src + item->offset;

	switch (item->type) {
	case SCH_STRING:
	case SCH_LABEL:
	case SCH_DNAME:
	case SCH_HOSTPORT:
	case SCH_PREFIX:
	case SCH_BASE64:
		if (*(char *const *)s && !(*(char **)d = strdup(*(char *const *)s)))
			return -1;
		return 0;
	case SCH_LIST: {
		size_t n = *(const size_t *)((const char *)src + item->aux);
		char **v = calloc(n ? n : 1, sizeof(*v));

		if (!v)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!(v[i] = strdup((*(char **const *)s)[i]))) {
				sch_free_strv(v, i);
				return -1;
			}
		*(char ***)d = v;
		*(size_t *)((char *)dst + item->aux) = n;
		return 0;
	}
	case SCH_HEADERS: {
		size_t n = *(const size_t *)((const char *)src + item->aux);
		char **v = calloc(2 * n + 1, sizeof(*v));

		if (!v)
			return -1;
		for (size_t i = 0; i < 2 * n; i++)
			if (!(v[i] = strdup((*(char **const *)s)[i]))) {
				sch_free_strv(v, i);
				return -1;
			}
		*(char ***)d = v;
		*(size_t *)((char *)dst + item->aux) = n;
		return 0;
	}
	case SCH_EXPECT:
		memcpy(d, s, CHECK_EXPECT_MAX * sizeof(struct check_range));
		*(size_t *)((char *)dst + item->aux) =
		    *(const size_t *)((const char *)src + item->aux);
		return 0;
	case SCH_LISTENS:
	case SCH_CUSTOM:
	case SCH_MAP:
		return 0; /* not inherited */
	case SCH_UINT:
	case SCH_DURATION:
	case SCH_RATIO:
	case SCH_PATH:
	case SCH_ADDR:
	case SCH_ENUM:
		memcpy(d, s, item->size);
		return 0;
	}
	return 0;
}

static void on_yaml_error(void *arg, const char *line)
{
	reg_error_line(arg, line);
}

static int apply_default(struct reg_loader *ld, const struct sch_table *table,
                         const struct sch_item *item, void *dst)
{
	struct sch_path path = {.buf = "", .len = 0};
	struct ydoc *doc = NULL;
	int rc;

	sch_path_key(&path, item->key);
	if (item->def[0] == '[' || item->def[0] == '{') {
		if (ydoc_parse_string(item->def, strlen(item->def), "<default>", &doc,
		                      on_yaml_error, ld) < 0)
			return -1;
		rc = parse_item(ld, table, item, 0, doc->root, dst, &path);
		ydoc_free(doc);
		return rc;
	}
	struct ynode node = {.kind = YNODE_SCALAR, .file = "<default>", .value = (char *)item->def};
	return parse_item(ld, table, item, 0, &node, dst, &path);
}

int sch_inherit(struct reg_loader *ld, const struct sch_table *table, unsigned scope, void *dst,
                uint64_t *dst_mask, const void *src, const uint64_t *src_mask)
{
	for (size_t idx = 0; idx < table->n; idx++) {
		const struct sch_item *item = &table->items[idx];

		if (!in_scope(item, scope))
			continue;
		if (item->type == SCH_MAP) {
			char *d = dst;
			const char *s = src;

			if (item->flags & SCH_BOXED) {
				/* no box on either side: the box's defaults stand */
				s = src ? *(const char *const *)(s + table->box->offset) : NULL;
				d = sch_item_base(table, item, dst,
				                  s && *(const uint64_t *)(s + item->aux) != 0);
				if (!d && s && *(const uint64_t *)(s + item->aux) != 0) {
					reg_error_line(ld, "out of memory");
					return -1;
				}
				if (!d)
					continue;
				if (s)
					*(uint64_t *)(d + item->aux) |=
					    *(const uint64_t *)(s + item->aux) & SCH_MAP_PRESENT;
			}
			if (sch_inherit(ld, item->children, scope, d + item->offset,
			                (uint64_t *)(d + item->aux), s ? s + item->offset : NULL,
			                s ? (const uint64_t *)(s + item->aux) : NULL) < 0)
				return -1;
			continue;
		}
		if (*dst_mask & BIT(idx))
			continue;
		if (src && src_mask && (*src_mask & BIT(idx))) {
			void *d = sch_item_base(table, item, dst, 1);

			if (!d || copy_field(item, d, sch_item_cbase(table, item, src)) < 0) {
				reg_error_line(ld, "out of memory");
				return -1;
			}
			*dst_mask |= BIT(idx);
		} else if (item->def && !(item->flags & SCH_BOXED) &&
		           apply_default(ld, table, item, dst) < 0) {
			/* a boxed item's default is in the box from its creation */
			return -1;
		}
	}
	return 0;
}

int sch_is_set(const struct sch_table *table, uint64_t mask, const char *key)
{
	for (size_t idx = 0; idx < table->n; idx++)
		if (strcmp(table->items[idx].key, key) == 0)
			return (mask & BIT(idx)) != 0;
	return 0;
}

void sch_free(const struct sch_table *table, void *target)
{
	for (size_t idx = 0; idx < table->n; idx++) {
		const struct sch_item *item = &table->items[idx];
		void *field = (char *)target + item->offset;

		if (item->flags & SCH_BOXED)
			continue; /* the box's, freed with its last reference */
		switch (item->type) {
		case SCH_MAP:
			sch_free(item->children, field);
			break;
		case SCH_STRING:
		case SCH_LABEL:
		case SCH_DNAME:
		case SCH_HOSTPORT:
		case SCH_PREFIX:
		case SCH_BASE64:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case SCH_LIST:
			sch_free_strv(*(char ***)field, *(size_t *)((char *)target + item->aux));
			*(char ***)field = NULL;
			*(size_t *)((char *)target + item->aux) = 0;
			break;
		case SCH_LISTENS:
			free_listens(*(struct reg_listen **)field,
			             *(size_t *)((char *)target + item->aux));
			*(struct reg_listen **)field = NULL;
			*(size_t *)((char *)target + item->aux) = 0;
			break;
		case SCH_HEADERS:
			sch_free_strv(*(char ***)field,
			              2 * *(size_t *)((char *)target + item->aux));
			*(char ***)field = NULL;
			*(size_t *)((char *)target + item->aux) = 0;
			break;
		case SCH_UINT:
		case SCH_DURATION:
		case SCH_RATIO:
		case SCH_PATH:
		case SCH_ADDR:
		case SCH_ENUM:
		case SCH_EXPECT:
		case SCH_CUSTOM:
			break; /* held in place, or by the caller */
		}
	}
	if (table->box) {
		void **box = (void **)((char *)target + table->box->offset);

		table->box->unref(*box);
		*box = NULL;
	}
}

static void range_text(const struct sch_item *item, char *buf, size_t len)
{
	char lo[24], hi[24];

	buf[0] = '\0';
	switch (item->type) {
	case SCH_UINT:
		snprintf(buf, len, "%" PRId64 "..%" PRId64, item->min, item->max);
		break;
	case SCH_HOSTPORT:
		snprintf(buf, len, "port %" PRId64 "..%" PRId64, item->min, item->max);
		break;
	case SCH_DURATION:
		sch_fmt_ms(lo, sizeof(lo), (uint64_t)item->min);
		sch_fmt_ms(hi, sizeof(hi), (uint64_t)item->max);
		snprintf(buf, len, "%s..%s", lo, hi);
		break;
	case SCH_ENUM:
		for (int i = 0; item->names[i]; i++) {
			strncat(buf, i ? "|" : "", len - strlen(buf) - 1);
			strncat(buf, item->names[i], len - strlen(buf) - 1);
		}
		break;
	case SCH_MAP:
	case SCH_RATIO:
	case SCH_STRING:
	case SCH_PATH:
	case SCH_LABEL:
	case SCH_DNAME:
	case SCH_ADDR:
	case SCH_PREFIX:
	case SCH_BASE64:
	case SCH_EXPECT:
	case SCH_LIST:
	case SCH_LISTENS:
	case SCH_HEADERS:
	case SCH_CUSTOM:
		break; /* no range to print */
	}
}

void sch_print(FILE *out, const struct sch_table *table, const char *prefix, unsigned scope)
{
	for (size_t idx = 0; idx < table->n; idx++) {
		const struct sch_item *item = &table->items[idx];
		char key[256], range[128];
		const char *type = sch_type_desc(item->type);
		int list = item->type == SCH_LIST || item->type == SCH_LISTENS;

		if (!in_scope(item, scope))
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, item->key);
		if (item->type == SCH_MAP) {
			fprintf(out, "%-34s %s\n", key, item->doc ? item->doc : "");
			snprintf(key, sizeof(key), "%s%s.", prefix, item->key);
			sch_print(out, item->children, key, scope);
			continue;
		}
		if (item->type == SCH_LIST)
			type = sch_type_desc(item->elem);
		else if (item->type == SCH_LISTENS)
			type = sch_type_desc(SCH_HOSTPORT);
		else if (item->type == SCH_CUSTOM)
			type = "a list";
		else if (item->type == SCH_HEADERS && item->custom)
			type = "a mapping";
		range_text(item, range, sizeof(range));
		/* Skip the article: "an unsigned integer" -> "unsigned integer". */
		type += strncmp(type, "an ", 3) == 0 ? 3 : 2;
		fprintf(out, "%-34s %s%s%s%s%s%s%s%s%s\n", key, list ? "list of " : "", type,
		        range[0] ? " " : "", range, item->def ? ", default " : "",
		        item->def ? item->def : "", item->flags & SCH_REQUIRED ? ", required" : "",
		        item->doc && item->doc[0] ? "; " : "", item->doc ? item->doc : "");
	}
}

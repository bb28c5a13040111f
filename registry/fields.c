/* SPDX-License-Identifier: BSD-3-Clause */
/* fields.c: what the schema tables say about values already loaded: their
 * digest, their equality by reload class, the keys a reload cannot apply,
 * and a view of a check for the API. One walk over the tables serves them
 * all, so a new key needs its row in tables.c and nothing else: no second
 * list of fields to keep in step.
 *
 * Values are digested with FNV-1a (64 bits), each with a length prefix;
 * two values are equal when their digests are (up to a 2^-64 collision).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

void sch_feed(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t x = *h, n = len;

	for (size_t i = 0; i < sizeof(n); i++) {
		x ^= (unsigned char)(n >> (8 * i));
		x *= FNV_PRIME;
	}
	for (size_t i = 0; i < len; i++) {
		x ^= p[i];
		x *= FNV_PRIME;
	}
	*h = x;
}

void sch_feed_u64(uint64_t *h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	sch_feed(h, b, sizeof(b));
}

void sch_feed_str(uint64_t *h, const char *s)
{
	if (!s) {
		sch_feed_u64(h, 0xffffffffffffffffULL);
		return;
	}
	sch_feed(h, s, strlen(s));
}

static uint64_t read_uint(const struct sch_item *item, const void *field)
{
	switch (item->size) {
	case 1:
		return *(const uint8_t *)field;
	case 2:
		return *(const uint16_t *)field;
	case 4:
		return *(const uint32_t *)field;
	default:
		return *(const uint64_t *)field;
	}
}

static size_t aux_count(const struct sch_item *item, const void *base)
{
	return *(const size_t *)((const char *)base + item->aux);
}

/* One item's value (item->type) in base into *h. Field by field: structs
 * have padding, and path buffers bytes past their NUL. */
static void feed_item(uint64_t *h, const struct sch_table *table, const struct sch_item *item,
                      const void *base)
{
	const void *field;

	base = sch_item_cbase(table, item, base);
	field = (const char *)base + item->offset;
	switch (item->type) {
	case SCH_MAP:
		if (item->flags & SCH_BOXED)
			sch_feed_u64(h, (*(const uint64_t *)((const char *)base + item->aux) &
			                 SCH_MAP_PRESENT) != 0);
		for (size_t i = 0; i < item->children->n; i++)
			feed_item(h, item->children, &item->children->items[i], field);
		return;
	case SCH_UINT:
		sch_feed_u64(h, read_uint(item, field));
		return;
	case SCH_DURATION:
		sch_feed_u64(h, *(const uint32_t *)field);
		return;
	case SCH_RATIO:
		sch_feed(h, field, sizeof(double));
		return;
	case SCH_ENUM:
		sch_feed_u64(h, (uint64_t)(int64_t) * (const int *)field);
		return;
	case SCH_STRING:
	case SCH_LABEL:
	case SCH_DNAME:
	case SCH_HOSTPORT:
	case SCH_PREFIX:
	case SCH_BASE64:
		sch_feed_str(h, *(char *const *)field);
		return;
	case SCH_PATH:
		sch_feed_str(h, (const char *)field);
		return;
	case SCH_ADDR: {
		const struct reg_addr *a = field;

		sch_feed_u64(h, (uint64_t)a->family);
		if (a->family == AF_INET6)
			sch_feed(h, &a->u.v6, sizeof(a->u.v6));
		else
			sch_feed(h, &a->u.v4, sizeof(a->u.v4));
		return;
	}
	case SCH_EXPECT: {
		const struct check_range *r = field;
		size_t n = aux_count(item, base);

		sch_feed_u64(h, n);
		for (size_t i = 0; i < n && i < CHECK_EXPECT_MAX; i++)
			sch_feed_u64(h, (uint64_t)r[i].lo << 16 | r[i].hi);
		return;
	}
	case SCH_LIST: {
		char *const *v = *(char **const *)field;
		size_t n = aux_count(item, base);

		sch_feed_u64(h, n);
		for (size_t i = 0; i < n; i++)
			sch_feed_str(h, v[i]);
		return;
	}
	case SCH_HEADERS: {
		char *const *v = *(char **const *)field;
		size_t n = aux_count(item, base);

		sch_feed_u64(h, n);
		for (size_t i = 0; i < 2 * n; i++)
			sch_feed_str(h, v[i]);
		return;
	}
	case SCH_LISTENS: {
		const struct reg_listen *v = *(struct reg_listen *const *)field;
		size_t n = aux_count(item, base);

		sch_feed_u64(h, n);
		for (size_t i = 0; i < n; i++)
			sch_feed(h, &v[i].addr, v[i].addr_len);
		return;
	}
	case SCH_CUSTOM:
		return; /* services, instances, zones, include: the caller's */
	}
}

static uint64_t item_digest(const struct sch_table *table, const struct sch_item *item,
                            const void *base)
{
	uint64_t h = FNV_OFFSET;

	feed_item(&h, table, item, base);
	return h;
}

void sch_digest(const struct sch_table *table, const void *target, uint64_t *h)
{
	for (size_t i = 0; i < table->n; i++) {
		const struct sch_item *item = &table->items[i];

		if (item->type == SCH_MAP && (item->flags & SCH_BOXED))
			feed_item(h, table, item, target); /* its presence with its keys */
		else if (item->type == SCH_MAP)
			sch_digest(item->children, (const char *)target + item->offset, h);
		else if (item->reload == SCH_ANSWERS || item->reload == SCH_HEALTH)
			feed_item(h, table, item, target);
	}
}

int sch_equal(const struct sch_table *table, const void *a, const void *b, enum sch_reload cls)
{
	for (size_t i = 0; i < table->n; i++) {
		const struct sch_item *item = &table->items[i];

		if (item->type == SCH_MAP && (item->flags & SCH_BOXED)) {
			/* a boxed map's keys are all of class cls (the check's) */
			if (item_digest(table, item, a) != item_digest(table, item, b))
				return 0;
		} else if (item->type == SCH_MAP) {
			if (!sch_equal(item->children,
			               (const char *)sch_item_cbase(table, item, a) + item->offset,
			               (const char *)sch_item_cbase(table, item, b) + item->offset,
			               cls))
				return 0;
		} else if (item->reload == cls &&
		           item_digest(table, item, a) != item_digest(table, item, b)) {
			return 0;
		}
	}
	return 1;
}

#define RESTART_KEYS_MAX 32

struct restart_key {
	char key[128];
	const char *text;
	int changed;
};

/* Every SCH_RESTART item under table, with its path and whether a and b
 * differ in it. */
static void collect_restart(const struct sch_table *table, const void *a, const void *b,
                            const char *prefix, struct restart_key *k, size_t *n)
{
	for (size_t i = 0; i < table->n && *n < RESTART_KEYS_MAX; i++) {
		const struct sch_item *item = &table->items[i];
		char key[128];

		snprintf(key, sizeof(key), "%s%s", prefix, item->key);
		if (item->type == SCH_MAP) {
			strncat(key, ".", sizeof(key) - strlen(key) - 1);
			collect_restart(item->children, (const char *)a + item->offset,
			                (const char *)b + item->offset, key, k, n);
		} else if (item->reload == SCH_RESTART) {
			snprintf(k[*n].key, sizeof(k[*n].key), "%s", key);
			k[*n].text = item->restart ? item->restart : "it takes a restart";
			k[*n].changed = item_digest(table, item, a) != item_digest(table, item, b);
			(*n)++;
		}
	}
}

/* A group is the keys sharing one text (server.http and http_token): when
 * any of them changed, the report names the whole group. */
void sch_restart_changes(const struct sch_table *table, const void *a, const void *b,
                         const char *prefix,
                         void (*report)(void *arg, const char *keys, const char *text), void *arg)
{
	struct restart_key k[RESTART_KEYS_MAX];
	size_t n = 0;

	collect_restart(table, a, b, prefix, k, &n);
	for (size_t i = 0; i < n; i++) {
		char keys[512] = "";
		int first = 1, changed = 0;

		for (size_t j = 0; j < i && first; j++)
			first = strcmp(k[j].text, k[i].text) != 0;
		if (!first)
			continue;
		for (size_t j = i; j < n; j++) {
			if (strcmp(k[j].text, k[i].text) != 0)
				continue;
			changed |= k[j].changed;
			if (keys[0])
				strncat(keys, " or ", sizeof(keys) - strlen(keys) - 1);
			strncat(keys, k[j].key, sizeof(keys) - strlen(keys) - 1);
		}
		if (changed)
			report(arg, keys, k[i].text);
	}
}

/* --- the registry-level views (registry.h) --- */

void registry_restart_changes(const struct registry *old, const struct registry *reg,
                              void (*report)(void *arg, const char *keys, const char *text),
                              void *arg)
{
	sch_restart_changes(&reg_server_table, &old->server, &reg->server, "server.", report, arg);
}

int registry_check_equal(const struct check_config *a, const struct check_config *b)
{
	return sch_equal(&reg_check_table, a, b, SCH_HEALTH);
}

int registry_check_defaults(struct check_config *c)
{
	struct reg_errors errs = {NULL, 0};
	struct reg_loader ld = {.errs = &errs};
	uint64_t mask = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = sch_inherit(&ld, &reg_check_table, 0, c, &mask, NULL, NULL);
	registry_errors_clear(&errs);
	return rc;
}

static int applies(const struct sch_item *item, enum check_type type)
{
	if (strcmp(item->key, "type") == 0)
		return 1;
	if (type == CHECK_NONE)
		return 0;
	/* no .checks: the keys of every probed type (ttl has none of them) */
	return item->checks ? (item->checks & (1u << type)) != 0 : check_type_probed(type);
}

/* The fields of table in base (a check, or its tls: or dns: map) for
 * registry_check_fields(); type filters the check's own keys. */
static void table_fields(const struct sch_table *table, const void *base, int check_level,
                         enum check_type type, void (*fn)(void *arg, const struct reg_field *f),
                         void *arg)
{
	for (size_t i = 0; i < table->n; i++) {
		const struct sch_item *item = &table->items[i];
		const void *ibase = sch_item_cbase(table, item, base);
		const void *field = (const char *)ibase + item->offset;
		struct reg_field f = {.key = item->key};
		char text[CHECK_EXPECT_MAX * 12 + 1];

		if (check_level && !applies(item, type))
			continue;
		switch (item->type) {
		case SCH_UINT:
			f.kind = REG_FIELD_UINT;
			f.num = read_uint(item, field);
			break;
		case SCH_DURATION:
			f.kind = REG_FIELD_MS;
			f.num = *(const uint32_t *)field;
			break;
		case SCH_ENUM:
			/* false/true keywords are booleans to a JSON client */
			if (strcmp(item->names[0], "false") == 0 && item->names[1] &&
			    strcmp(item->names[1], "true") == 0 && !item->names[2]) {
				f.kind = REG_FIELD_BOOL;
				f.num = *(const int *)field != 0;
			} else {
				f.kind = REG_FIELD_TEXT;
				f.text = item->names[*(const int *)field];
			}
			break;
		case SCH_PATH:
			f.kind = REG_FIELD_TEXT;
			f.text = field;
			break;
		case SCH_STRING:
		case SCH_DNAME:
			f.kind = REG_FIELD_TEXT;
			f.text = *(char *const *)field;
			if (!f.text)
				continue; /* unset */
			break;
		case SCH_LIST:
		case SCH_HEADERS:
			f.kind = item->type == SCH_LIST ? REG_FIELD_LIST : REG_FIELD_PAIRS;
			f.items = (const char *const *)*(char **const *)field;
			f.num = aux_count(item, ibase);
			if (!f.num)
				continue;
			break;
		case SCH_MAP:
			f.kind = REG_FIELD_BEGIN;
			fn(arg, &f);
			table_fields(item->children, field, 0, type, fn, arg);
			f.kind = REG_FIELD_END;
			fn(arg, &f);
			continue;
		case SCH_EXPECT: {
			const struct check_range *r = field;
			size_t n = aux_count(item, ibase);

			text[0] = '\0';
			for (size_t k = 0; k < n && k < CHECK_EXPECT_MAX; k++) {
				size_t len = strlen(text);

				snprintf(text + len, sizeof(text) - len,
				         r[k].lo == r[k].hi ? "%s%u" : "%s%u-%u", k ? ", " : "",
				         r[k].lo, r[k].hi);
			}
			f.kind = REG_FIELD_TEXT;
			f.text = text;
			break;
		}
		case SCH_RATIO:
		case SCH_LABEL:
		case SCH_ADDR:
		case SCH_HOSTPORT:
		case SCH_PREFIX:
		case SCH_BASE64:
		case SCH_LISTENS:
		case SCH_CUSTOM:
			continue; /* no check key has these types (yet) */
		}
		/* a number without a default left at 0 is unset (port: the instance's) */
		if ((f.kind == REG_FIELD_UINT || f.kind == REG_FIELD_MS) && !item->def &&
		    f.num == 0)
			continue;
		fn(arg, &f);
	}
}

void registry_check_fields(const struct check_config *c,
                           void (*fn)(void *arg, const struct reg_field *f), void *arg)
{
	table_fields(&reg_check_table, c, 1, c->type, fn, arg);
}

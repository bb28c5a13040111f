/* SPDX-License-Identifier: BSD-3-Clause */
/* schema.h: the table-driven schema of the registry YAML (Knot/tmux style).
 *
 * One struct sch_table per mapping level lists its keys with type, default
 * (as YAML text), range, documentation and where the value goes (an offset
 * into the target struct). sch_walk() is the one place that reports unknown
 * keys, duplicate keys, wrong types and out-of-range values; sch_inherit()
 * resolves values key by key from a parent layer and the table defaults;
 * sch_print() documents the schema from the same tables. */
#ifndef SRVD_REGISTRY_SCHEMA_H
#define SRVD_REGISTRY_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "registry/ynode.h"

struct reg_loader;

enum sch_type {
	SCH_MAP = 0,  /* children: a nested table; aux = offset of its uint64_t mask */
	SCH_UINT,     /* size 1, 2, 4 or 8 bytes, range min..max */
	SCH_DURATION, /* uint32_t milliseconds, range min..max in ms */
	SCH_RATIO,    /* double in 0..1 */
	SCH_STRING,   /* char *, any text */
	SCH_PATH,     /* char[size], an HTTP request path starting with '/' */
	SCH_LABEL,    /* char *, one DNS label, lowercased */
	SCH_DNAME,    /* char *, absolute domain name, lowercased */
	SCH_ADDR,     /* struct reg_addr */
	SCH_HOSTPORT, /* char *, "A.B.C.D:PORT" or "[v6]:PORT", port in min..max */
	SCH_PREFIX,   /* char *, an address or address/length */
	SCH_BASE64,   /* char *, base64 text of at least one byte (a TSIG secret) */
	SCH_ENUM,     /* int, one of names[] */
	SCH_EXPECT,   /* struct check_range[CHECK_EXPECT_MAX]; aux = offset of size_t count */
	SCH_LIST,     /* char **; aux = offset of size_t count; elements of type `elem` */
	SCH_LISTENS,  /* struct reg_listen *; aux = offset of size_t count */
	SCH_HEADERS,  /* char ** of HTTP header name, value pairs; aux = offset of size_t pairs */
	SCH_CUSTOM,   /* handled by `custom` */
};
/* An item of another type with `custom` is parsed by it, into its type's
 * layout (so the schema still frees, inherits and digests it): meta: and
 * ports: (SCH_HEADERS), server.reverse (SCH_LIST), address (SCH_ADDR). */

/* What a reload does with a key (Knot's CONF_IO_FRLD_* flags, one per
 * item): the registry digest, the restart warnings and the carrying over of
 * health state all come from this one field. */
enum sch_reload {
	SCH_APPLIES = 0, /* the next reload takes it; answers do not show it (logging) */
	SCH_ANSWERS,     /* the next reload takes it, and answers show it: in the digest */
	SCH_HEALTH,      /* as SCH_ANSWERS, and a change starts the instances' health afresh */
	SCH_RESTART,     /* read at start only: a reload that changes it warns (item.restart) */
};

#define SCH_REQUIRED 0x1u /* missing key is an error */
#define SCH_SERVICE  0x2u /* allowed in services.NAME */
#define SCH_DEFAULTS 0x4u /* allowed in defaults: */
#define SCH_ALL      (SCH_SERVICE | SCH_DEFAULTS)
#define SCH_BOXED    0x8u /* the field lives in the table's box (struct sch_box) */

/* In the mask of a boxed SCH_MAP: the mapping was written (even {}); it is
 * inherited and digested with the map's keys. */
#define SCH_MAP_PRESENT ((uint64_t)1 << 63)

struct sch_path {
	char buf[512];
	size_t len;
};

struct sch_item;
typedef int (*sch_custom_fn)(struct reg_loader *ld, const struct sch_item *item,
                             const struct ynode *node, void *target, struct sch_path *path);

struct sch_table;

struct sch_item {
	const char *key;
	enum sch_type type;
	enum sch_type elem; /* SCH_LIST: element type */
	unsigned flags;     /* SCH_REQUIRED; SCH_SERVICE/SCH_DEFAULTS scope */
	const char *def;    /* default as YAML text, NULL: none or resolved in code */
	int64_t min, max;
	size_t offset, aux, size;
	const struct sch_table *children;
	const char *const *names; /* SCH_ENUM, NULL-terminated */
	sch_custom_fn custom;
	const char *doc;
	enum sch_reload reload;
	const char *restart; /* SCH_RESTART: what stays in use until a restart */
	unsigned checks;     /* check keys: bits (1 << enum check_type) of the types that
	                      * use it; 0: every type that is probed */
};

/* A table whose rarely used keys (SCH_BOXED items) live in a separately
 * allocated, reference-counted block that the struct points to (the check's
 * struct check_more): offset and aux of a boxed item are relative to the
 * box. An absent box reads as `defaults`; the walker creates one, holding
 * the defaults, when a boxed key is first written. */
struct sch_box {
	size_t offset;          /* of the box pointer in the table's struct */
	void *(*create)(void);  /* a box holding the defaults, or NULL (out of memory) */
	void (*unref)(void *b); /* drops the reference the struct holds (frees the box's strings) */
	const void *defaults;   /* what an absent box reads as */
};

struct sch_table {
	const struct sch_item *items;
	size_t n;
	const char *hint;          /* appended to "unknown key" */
	const struct sch_box *box; /* for SCH_BOXED items, else NULL */
};

/* The struct that item's offset and aux are relative to: base itself, or
 * for a boxed item its box (created when create is set and there is none
 * yet; NULL then only when out of memory). sch_item_cbase() reads an absent
 * box as the defaults. */
void *sch_item_base(const struct sch_table *table, const struct sch_item *item, void *base,
                    int create);
const void *sch_item_cbase(const struct sch_table *table, const struct sch_item *item,
                           const void *base);

/* Path helpers: push returns the old length for sch_path_pop(). */
size_t sch_path_key(struct sch_path *path, const char *key);
size_t sch_path_index(struct sch_path *path, size_t index);
void sch_path_pop(struct sch_path *path, size_t len);

/* Frees n strings of v, then v. */
void sch_free_strv(char **v, size_t n);
/* 1 if text holds no control character (a header value, a meta value). */
int sch_text_ok(const char *text);

/* Walks a mapping node against table, writing values into target and
 * setting bit i of *mask for every item i present. scope filters items by
 * flags (0: all). Reports every problem through reg_error(). Returns 0 if
 * everything was valid, -1 otherwise. */
int sch_walk(struct reg_loader *ld, const struct sch_table *table, unsigned scope,
             const struct ynode *map, void *target, uint64_t *mask, struct sch_path *path);

/* Parses one scalar of type (not SCH_MAP, SCH_LIST, SCH_LISTENS, SCH_CUSTOM)
 * from node into field; item supplies the range and names. */
int sch_parse_scalar(struct reg_loader *ld, const struct sch_item *item, enum sch_type type,
                     const struct ynode *node, void *field, struct sch_path *path);

/* Fills every item of table not set in dst_mask: from src (when src_mask
 * has it) or from the item's default. Nested maps are resolved key by key.
 * src may be NULL. Returns 0, or -1 on out of memory. */
int sch_inherit(struct reg_loader *ld, const struct sch_table *table, unsigned scope, void *dst,
                uint64_t *dst_mask, const void *src, const uint64_t *src_mask);

/* 1 if the item named key is set in mask. */
int sch_is_set(const struct sch_table *table, uint64_t mask, const char *key);

/* Frees the heap values (strings, lists) that table placed in target. */
void sch_free(const struct sch_table *table, void *target);

/* Writes one line per key: path, type, range, default, documentation. */
void sch_print(FILE *out, const struct sch_table *table, const char *prefix, unsigned scope);

/* What a table says about values already loaded (fields.c). */

/* Feeds len bytes into the FNV-1a digest *h, with a length prefix so that
 * "ab" + "c" and "a" + "bc" differ. */
void sch_feed(uint64_t *h, const void *data, size_t len);
void sch_feed_u64(uint64_t *h, uint64_t v);
void sch_feed_str(uint64_t *h, const char *s); /* NULL differs from "" */

/* Feeds the values of every item of table in target whose class is
 * SCH_ANSWERS or SCH_HEALTH (nested maps included, custom items left to the
 * caller) into *h. */
void sch_digest(const struct sch_table *table, const void *target, uint64_t *h);

/* 1 if a and b hold equal values in every item of class cls. */
int sch_equal(const struct sch_table *table, const void *a, const void *b, enum sch_reload cls);

/* Calls report once per group of SCH_RESTART items (those sharing one
 * restart text) in which a value differs between a and b, with the key
 * paths of the whole group (prefix + key, joined by " or "). */
void sch_restart_changes(const struct sch_table *table, const void *a, const void *b,
                         const char *prefix,
                         void (*report)(void *arg, const char *keys, const char *text), void *arg);

/* Value helpers (types.c) shared by the walker and the loader. */
const char *sch_type_desc(enum sch_type type);       /* "an unsigned integer", ... */
void sch_fmt_ms(char *buf, size_t len, uint64_t ms); /* 1500 -> "1500ms", 60000 -> "1m" */
/* An SCH_EXPECT value: "200", "200-399", "200, 204" or a list of those. */
int sch_parse_expect(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                     void *base, struct sch_path *path);

/* Parsers of items with `custom`: meta: (registry/meta.c), ports:
 * (registry/ports.c), server.reverse (registry/reverse.c), an instance's
 * address (registry/addrs.c). */
int reg_parse_meta(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                   void *base, struct sch_path *path);
int reg_parse_ports(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                    void *base, struct sch_path *path);
int reg_parse_reverse(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                      void *base, struct sch_path *path);
int reg_parse_addresses(struct reg_loader *ld, const struct sch_item *item,
                        const struct ynode *node, void *base, struct sch_path *path);

int sch_is_label(const char *text);
void sch_lower(char *text);

#endif

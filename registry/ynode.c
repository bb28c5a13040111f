/* SPDX-License-Identifier: BSD-3-Clause */
/* ynode.c: builds a struct ynode tree from libyaml's event stream.
 *
 * An alias shares the anchored node (the tree is read-only once built), so
 * it costs no memory; but whoever walks the tree visits the node once per
 * alias, so a budget on the nodes aliases add (YNODE_ALIAS_NODES, counted
 * with each node's weight) keeps a "billion laughs" document from taking the
 * walker's time. Nodes written out in the text need no budget: the file's
 * size bounds them, and a registry of 100,000 services has millions.
 * Anchors are found through a hash table: a document may hold as many
 * anchors and aliases as it has nodes. */
#include "config.h"

#include "registry/ynode.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#define YNODE_DEPTH 64 /* nesting: our schema needs 5 */

struct frame {
	struct ynode *node;
	struct ynode *key; /* map: key waiting for its value */
};

/* A slot of the anchor table; name NULL: empty. */
struct anchor {
	char *name;
	size_t hash;
	struct ynode *node;
};

struct builder {
	struct ydoc *doc;
	struct frame stack[YNODE_DEPTH];
	size_t depth;
	struct anchor *anchors; /* open addressing, at most half full */
	size_t n_anchors, mask;
	size_t budget; /* nodes aliases may still add */
	ynode_error_fn err;
	void *arg;
};

static void report(struct builder *b, const yaml_mark_t *mark, const char *what)
{
	char line[1024];

	if (mark)
		snprintf(line, sizeof(line), "%s:%zu:%zu: %s", b->doc->file, mark->line + 1,
		         mark->column + 1, what);
	else
		snprintf(line, sizeof(line), "%s: %s", b->doc->file, what);
	b->err(b->arg, line);
}

/* The arena: chunks growing from 4 KiB to 1 MiB, so that a default's tiny
 * document stays small and a registry of millions of nodes pays neither
 * malloc's per-block header nor millions of free() calls. */
#define CHUNK_MIN ((size_t)4096)
#define CHUNK_MAX ((size_t)1 << 20)

/* 8-byte alignment suits every object here (pointers, size_t, unsigned)
 * and keeps short scalars at 8 bytes, not 16. */
#define ALIGN ((size_t)8)

struct ychunk {
	struct ychunk *next;
	size_t used, cap;
	uint64_t data[];
};

static void *arena_alloc(struct ydoc *doc, size_t len)
{
	struct ychunk *c = doc->arena;
	void *p;

	len = (len + ALIGN - 1) & ~(ALIGN - 1);
	if (!c || c->cap - c->used < len) {
		size_t cap = c ? c->cap * 2 : CHUNK_MIN;

		if (cap > CHUNK_MAX)
			cap = CHUNK_MAX;
		if (cap < len)
			cap = len;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		/* a block bigger than the current chunk goes behind it, so the
		 * current chunk's free space stays in use */
		if (doc->arena && cap == len) {
			c->next = doc->arena->next;
			doc->arena->next = c;
			c->used = len;
			return c->data;
		}
		c->next = doc->arena;
		doc->arena = c;
	}
	p = (char *)c->data + c->used;
	c->used += len;
	return p;
}

static char *arena_strndup(struct ydoc *doc, const char *text, size_t len)
{
	char *s = arena_alloc(doc, len + 1);

	if (s) {
		memcpy(s, text, len);
		s[len] = '\0';
	}
	return s;
}

void ydoc_free(struct ydoc *doc)
{
	if (!doc)
		return;
	while (doc->arena) {
		struct ychunk *next = doc->arena->next;

		free(doc->arena);
		doc->arena = next;
	}
	free(doc->file);
	free(doc);
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *mark)
{
	struct ynode *node = arena_alloc(b->doc, sizeof(*node));

	if (!node) {
		report(b, mark, "out of memory");
		return NULL;
	}
	memset(node, 0, sizeof(*node));
	node->weight = 1;
	node->kind = kind;
	node->file = b->doc->file;
	node->line = (unsigned)mark->line + 1;
	node->col = (unsigned)mark->column + 1;
	return node;
}

static unsigned weight_add(unsigned a, unsigned b)
{
	return a > UINT_MAX - b ? UINT_MAX : a + b;
}

/* Grows a child array in the arena; the old one stays there unused, which
 * doubling bounds to the size of the final arrays. */
static struct ynode **grow(struct ydoc *doc, struct ynode **old, size_t n, size_t cap)
{
	struct ynode **v = arena_alloc(doc, cap * sizeof(*v));

	if (v && n)
		memcpy(v, old, n * sizeof(*v));
	return v;
}

static int push_child(struct ydoc *doc, struct ynode *parent, struct ynode *key,
                      struct ynode *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct ynode **items = grow(doc, parent->items, parent->n, cap);

		if (!items)
			return -1;
		parent->items = items;
		if (parent->kind == YNODE_MAP) {
			struct ynode **keys = grow(doc, parent->keys, parent->n, cap);

			if (!keys)
				return -1;
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->kind == YNODE_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = child;
	parent->weight =
	    weight_add(weight_add(parent->weight, key ? key->weight : 0), child->weight);
	return 0;
}

/* Attaches a finished node to its parent (or makes it the root). */
static int attach(struct builder *b, struct ynode *node, const yaml_mark_t *mark)
{
	struct frame *top;

	if (b->depth == 0) {
		b->doc->root = node;
		return 0;
	}
	top = &b->stack[b->depth - 1];
	if (top->node->kind == YNODE_MAP && !top->key) {
		if (node->kind != YNODE_SCALAR) {
			report(b, mark, "mapping keys must be scalars");
			return -1;
		}
		top->key = node;
		return 0;
	}
	if (push_child(b->doc, top->node, top->key, node) < 0) {
		report(b, mark, "out of memory");
		return -1;
	}
	top->key = NULL;
	return 0;
}

static size_t anchor_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot of name: its anchor, or the empty slot where it goes. */
static struct anchor *anchor_slot(const struct builder *b, const char *name, size_t hash)
{
	for (size_t i = hash & b->mask;; i = (i + 1) & b->mask) {
		struct anchor *a = &b->anchors[i];

		if (!a->name || (a->hash == hash && strcmp(a->name, name) == 0))
			return a;
	}
}

static int anchors_grow(struct builder *b)
{
	size_t cap = b->anchors ? (b->mask + 1) * 2 : 16;
	struct anchor *old = b->anchors, *grown = calloc(cap, sizeof(*grown));
	size_t old_cap = old ? b->mask + 1 : 0;

	if (!grown)
		return -1;
	b->anchors = grown;
	b->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].name)
			*anchor_slot(b, old[i].name, old[i].hash) = old[i];
	free(old);
	return 0;
}

static int add_anchor(struct builder *b, const yaml_char_t *name, struct ynode *node)
{
	size_t hash;
	struct anchor *a;

	if (!name)
		return 0;
	if (2 * (b->n_anchors + 1) > (b->anchors ? b->mask + 1 : 0) && anchors_grow(b) < 0)
		return -1;
	hash = anchor_hash((const char *)name);
	a = anchor_slot(b, (const char *)name, hash);
	/* YAML allows redefining an anchor: later aliases get the new node */
	if (!a->name) {
		if (!(a->name = strdup((const char *)name)))
			return -1;
		a->hash = hash;
		b->n_anchors++;
	}
	a->node = node;
	return 0;
}

static struct ynode *find_anchor(const struct builder *b, const yaml_char_t *name)
{
	const struct anchor *a;

	if (!b->anchors)
		return NULL;
	a = anchor_slot(b, (const char *)name, anchor_hash((const char *)name));
	return a->name ? a->node : NULL;
}

static int on_scalar(struct builder *b, yaml_event_t *ev)
{
	struct ynode *node = node_new(b, YNODE_SCALAR, &ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;

	if (!node)
		return -1;
	node->value =
	    arena_strndup(b->doc, (const char *)ev->data.scalar.value, ev->data.scalar.length);
	if (!node->value) {
		report(b, &ev->start_mark, "out of memory");
		return -1;
	}
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	               (tag && strcmp(tag, YAML_STR_TAG) == 0);
	if (add_anchor(b, ev->data.scalar.anchor, node) < 0) {
		report(b, &ev->start_mark, "out of memory");
		return -1;
	}
	return attach(b, node, &ev->start_mark);
}

static int on_start(struct builder *b, yaml_event_t *ev, enum ynode_kind kind)
{
	const yaml_char_t *anchor =
	    kind == YNODE_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	struct ynode *node;

	if (b->depth == YNODE_DEPTH) {
		report(b, &ev->start_mark, "nesting too deep");
		return -1;
	}
	node = node_new(b, kind, &ev->start_mark);
	if (!node)
		return -1;
	if (add_anchor(b, anchor, node) < 0) {
		report(b, &ev->start_mark, "out of memory");
		return -1;
	}
	b->stack[b->depth].node = node;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 0;
}

static int on_alias(struct builder *b, yaml_event_t *ev)
{
	struct ynode *target = find_anchor(b, ev->data.alias.anchor);
	char what[300];

	if (!target) {
		snprintf(what, sizeof(what), "unknown alias *%s",
		         (const char *)ev->data.alias.anchor);
		report(b, &ev->start_mark, what);
		return -1;
	}
	for (size_t i = 0; i < b->depth; i++)
		if (b->stack[i].node == target) {
			report(b, &ev->start_mark, "recursive alias");
			return -1;
		}
	if (target->weight > b->budget) {
		snprintf(what, sizeof(what),
		         "aliases expand to more than %u nodes (each alias counts the nodes it "
		         "repeats)",
		         YNODE_ALIAS_NODES);
		report(b, &ev->start_mark, what);
		return -1;
	}
	b->budget -= target->weight;
	return attach(b, target, &ev->start_mark);
}

static int build(struct builder *b, yaml_parser_t *parser)
{
	int docs = 0;

	for (;;) {
		yaml_event_t ev;
		int rc = 0, done = 0;

		if (!yaml_parser_parse(parser, &ev)) {
			report(b, &parser->problem_mark,
			       parser->problem ? parser->problem : "YAML syntax error");
			return -1;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				report(b, &ev.start_mark, "only one YAML document per file");
				rc = -1;
			}
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(b, &ev, YNODE_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(b, &ev, YNODE_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct frame *top = &b->stack[--b->depth];

			rc = attach(b, top->node, &ev.start_mark);
			break;
		}
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			return -1;
		if (done)
			return 0;
	}
}

static int parse(yaml_parser_t *parser, const char *name, struct ydoc **out, ynode_error_fn err,
                 void *arg)
{
	struct builder b = {.budget = YNODE_ALIAS_NODES, .err = err, .arg = arg};
	int rc = -1;

	*out = NULL;
	b.doc = calloc(1, sizeof(*b.doc));
	if (!b.doc || !(b.doc->file = strdup(name))) {
		char line[1024];

		snprintf(line, sizeof(line), "%s: out of memory", name);
		err(arg, line);
		goto fail;
	}
	rc = build(&b, parser);
fail:
	for (size_t i = 0; b.anchors && i <= b.mask; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	if (rc < 0)
		ydoc_free(b.doc);
	else
		*out = b.doc;
	return rc;
}

int ydoc_parse_string(const char *text, size_t len, const char *name, struct ydoc **out,
                      ynode_error_fn err, void *arg)
{
	yaml_parser_t parser;
	int rc;

	if (!yaml_parser_initialize(&parser)) {
		*out = NULL;
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	rc = parse(&parser, name, out, err, arg);
	yaml_parser_delete(&parser);
	return rc;
}

FILE *ydoc_fopen(const char *path)
{
	FILE *fp = fopen(path, "r");
	struct stat st;

	/* a folder opens fine and fails on the first read, which libyaml
	 * reports as a vague "input error": say what is wrong instead */
	if (fp && fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		errno = EISDIR;
		return NULL;
	}
	return fp;
}

int ydoc_parse_stream(FILE *fp, const char *name, struct ydoc **out, ynode_error_fn err, void *arg)
{
	yaml_parser_t parser;
	int rc;

	*out = NULL;
	if (!yaml_parser_initialize(&parser)) {
		char line[1024];

		snprintf(line, sizeof(line), "%s: out of memory", name);
		err(arg, line);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	rc = parse(&parser, name, out, err, arg);
	yaml_parser_delete(&parser);
	return rc;
}

int ydoc_parse_file(const char *path, struct ydoc **out, ynode_error_fn err, void *arg)
{
	FILE *fp = ydoc_fopen(path);
	int rc;

	*out = NULL;
	if (!fp) {
		char line[1024];

		snprintf(line, sizeof(line), "%s: cannot open: %s", path, strerror(errno));
		err(arg, line);
		return -1;
	}
	rc = ydoc_parse_stream(fp, path, out, err, arg);
	fclose(fp);
	return rc;
}

int ynode_is_null(const struct ynode *node)
{
	if (node->kind != YNODE_SCALAR || node->quoted)
		return 0;
	return node->value[0] == '\0' || strcmp(node->value, "~") == 0 ||
	       strcmp(node->value, "null") == 0 || strcmp(node->value, "Null") == 0 ||
	       strcmp(node->value, "NULL") == 0;
}

const char *ynode_kind_name(const struct ynode *node)
{
	switch (node->kind) {
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SEQ:
		return "a list";
	case YNODE_SCALAR:
		break;
	}
	return "a scalar";
}

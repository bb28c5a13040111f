/* SPDX-License-Identifier: BSD-3-Clause */
/* ynode.c: builds a struct ynode tree from libyaml's event stream.
 *
 * Aliases are expanded by copying the anchored node; a node budget keeps a
 * "billion laughs" document from exhausting memory. */
#include "config.h"

#include "registry/ynode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YNODE_BUDGET (1u << 20) /* nodes in one document, aliases expanded */
#define YNODE_DEPTH  64         /* nesting: our schema needs 5 */

struct frame {
	struct ynode *node;
	struct ynode *key; /* map: key waiting for its value */
};

struct anchor {
	char *name;
	struct ynode *node;
};

struct builder {
	struct ydoc *doc;
	struct frame stack[YNODE_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t budget;
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

static void node_free(struct ynode *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->n; i++) {
		node_free(node->items[i]);
		if (node->keys)
			node_free(node->keys[i]);
	}
	free(node->items);
	free(node->keys);
	free(node->value);
	free(node);
}

void ydoc_free(struct ydoc *doc)
{
	if (!doc)
		return;
	node_free(doc->root);
	free(doc->file);
	free(doc);
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *mark)
{
	struct ynode *node;

	if (b->budget == 0) {
		report(b, mark, "document too large (aliases expand to too many nodes)");
		return NULL;
	}
	node = calloc(1, sizeof(*node));
	if (!node) {
		report(b, mark, "out of memory");
		return NULL;
	}
	b->budget--;
	node->kind = kind;
	node->file = b->doc->file;
	node->line = (unsigned)mark->line + 1;
	node->col = (unsigned)mark->column + 1;
	return node;
}

static int push_child(struct ynode *parent, struct ynode *key, struct ynode *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct ynode **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -1;
		parent->items = items;
		if (parent->kind == YNODE_MAP) {
			struct ynode **keys = realloc(parent->keys, cap * sizeof(*keys));

			if (!keys)
				return -1;
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->kind == YNODE_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = child;
	return 0;
}

/* Attaches a finished node to its parent (or makes it the root). Takes
 * ownership of node in every case. */
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
			node_free(node);
			return -1;
		}
		top->key = node;
		return 0;
	}
	if (push_child(top->node, top->key, node) < 0) {
		report(b, mark, "out of memory");
		node_free(node);
		return -1;
	}
	top->key = NULL;
	return 0;
}

static struct ynode *node_copy(struct builder *b, const struct ynode *src, const yaml_mark_t *mark)
{
	struct ynode *node = node_new(b, src->kind, mark);

	if (!node)
		return NULL;
	node->line = src->line;
	node->col = src->col;
	node->quoted = src->quoted;
	if (src->value && !(node->value = strdup(src->value)))
		goto fail;
	for (size_t i = 0; i < src->n; i++) {
		struct ynode *key = NULL, *item;

		if (src->keys && !(key = node_copy(b, src->keys[i], mark)))
			goto fail;
		item = node_copy(b, src->items[i], mark);
		if (!item || push_child(node, key, item) < 0) {
			node_free(key);
			node_free(item);
			goto fail;
		}
	}
	return node;
fail:
	node_free(node);
	return NULL;
}

static int add_anchor(struct builder *b, const yaml_char_t *name, struct ynode *node)
{
	if (!name)
		return 0;
	if (b->n_anchors == b->cap_anchors) {
		size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 8;
		struct anchor *a = realloc(b->anchors, cap * sizeof(*a));

		if (!a)
			return -1;
		b->anchors = a;
		b->cap_anchors = cap;
	}
	b->anchors[b->n_anchors].name = strdup((const char *)name);
	if (!b->anchors[b->n_anchors].name)
		return -1;
	b->anchors[b->n_anchors++].node = node;
	return 0;
}

static struct ynode *find_anchor(struct builder *b, const yaml_char_t *name)
{
	/* The latest definition wins, as YAML allows redefining anchors. */
	for (size_t i = b->n_anchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, (const char *)name) == 0)
			return b->anchors[i].node;
	return NULL;
}

static int on_scalar(struct builder *b, yaml_event_t *ev)
{
	struct ynode *node = node_new(b, YNODE_SCALAR, &ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;

	if (!node)
		return -1;
	node->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	if (!node->value) {
		node_free(node);
		report(b, &ev->start_mark, "out of memory");
		return -1;
	}
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	               (tag && strcmp(tag, YAML_STR_TAG) == 0);
	if (add_anchor(b, ev->data.scalar.anchor, node) < 0) {
		node_free(node);
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
		node_free(node);
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
	struct ynode *target = find_anchor(b, ev->data.alias.anchor), *copy;
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
	copy = node_copy(b, target, &ev->start_mark);
	if (!copy)
		return -1;
	return attach(b, copy, &ev->start_mark);
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
	struct builder b = {.budget = YNODE_BUDGET, .err = err, .arg = arg};
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
	/* Nodes still on the stack belong to no parent yet. */
	while (b.depth > 0) {
		b.depth--;
		node_free(b.stack[b.depth].key);
		node_free(b.stack[b.depth].node);
	}
	for (size_t i = 0; i < b.n_anchors; i++)
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

int ydoc_parse_file(const char *path, struct ydoc **out, ynode_error_fn err, void *arg)
{
	yaml_parser_t parser;
	FILE *fp = fopen(path, "r");
	int rc;

	*out = NULL;
	if (!fp) {
		char line[1024];

		snprintf(line, sizeof(line), "%s: cannot open: %s", path, strerror(errno));
		err(arg, line);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	rc = parse(&parser, path, out, err, arg);
	yaml_parser_delete(&parser);
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

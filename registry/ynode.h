/* SPDX-License-Identifier: BSD-3-Clause */
/* ynode.h: a small YAML node tree that remembers where every node came from.
 *
 * libyaml's events are folded into this tree so that the schema walker can
 * report `FILE:LINE:COL` for any node long after parsing. Scalars stay text:
 * the schema decides what a scalar means, not YAML 1.1's implicit typing. */
#ifndef SRVD_REGISTRY_YNODE_H
#define SRVD_REGISTRY_YNODE_H

#include <stddef.h>
#include <stdio.h>

enum ynode_kind { YNODE_SCALAR = 0, YNODE_SEQ, YNODE_MAP };

/* Nodes that aliases may add to one document, counting each alias as the
 * nodes it repeats (its anchor's weight): beyond, the document is refused. */
#define YNODE_ALIAS_NODES 1000000u

/* An alias is the anchored node itself, shared: a node may have several
 * parents, and nothing may change the tree once it is built. */
struct ynode {
	enum ynode_kind kind;
	unsigned weight;      /* nodes in this subtree, aliases counted again */
	const char *file;     /* borrowed from the owning ydoc */
	unsigned line, col;   /* 1-based */
	char *value;          /* scalar text */
	int quoted;           /* the scalar was quoted (or tagged !!str) */
	struct ynode **keys;  /* map: key scalars, parallel to items */
	struct ynode **items; /* seq: elements; map: values */
	size_t n, cap;
};

/* One parsed file. root is NULL for an empty document. Every node, value
 * and child array lives in the document's arena and goes with it. */
struct ydoc {
	char *file;
	struct ynode *root;
	struct ychunk *arena; /* private to ynode.c */
};

/* Receives each syntax error as one line "FILE:LINE:COL: problem". */
typedef void (*ynode_error_fn)(void *arg, const char *line);

/* Parses YAML text into *out (caller frees with ydoc_free()). name is used
 * in messages. Returns 0, or -1 after reporting the problem through err. */
int ydoc_parse_string(const char *text, size_t len, const char *name, struct ydoc **out,
                      ynode_error_fn err, void *arg);

/* fopen(path, "r") that refuses a folder (NULL, errno EISDIR). */
FILE *ydoc_fopen(const char *path);

/* The same for a file; a file that cannot be opened is reported as
 * "FILE: cannot open: reason". */
int ydoc_parse_file(const char *path, struct ydoc **out, ynode_error_fn err, void *arg);

/* The same for a stream the caller opened (and closes): for callers that
 * report an unopenable file at the place that named it. */
int ydoc_parse_stream(FILE *fp, const char *name, struct ydoc **out, ynode_error_fn err, void *arg);

/* Frees a document; accepts NULL. */
void ydoc_free(struct ydoc *doc);

/* 1 if node is a plain null scalar ("", "~", "null"). */
int ynode_is_null(const struct ynode *node);

/* "a mapping", "a list" or "a scalar", for messages. */
const char *ynode_kind_name(const struct ynode *node);

#endif

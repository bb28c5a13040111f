/* SPDX-License-Identifier: BSD-3-Clause */
/* reverse.c: server.reverse (README "More answers"): the address prefixes
 * whose reverse zones (in-addr.arpa, ip6.arpa) srvd serves, with a PTR for
 * every instance address inside them. A prefix names one zone, so its
 * length falls on a label: a multiple of 8 for IPv4, of 4 for IPv6. Stored
 * as an SCH_LIST of the prefixes as written (digests and frees are the
 * schema's); the rules and the parsing back are here. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

static const struct sch_item prefix_item = {.key = "reverse", .type = SCH_PREFIX};

int registry_reverse_prefix(const char *text, struct reg_addr *addr, unsigned *len)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;
	char *end;
	unsigned long l;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, buf, &addr->u.v4) == 1)
		addr->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &addr->u.v6) == 1)
		addr->family = AF_INET6;
	else
		return -1;
	max = addr->family == AF_INET ? 32 : 128;
	l = max;
	if (slash) {
		l = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end || l > max)
			return -1;
	}
	*len = (unsigned)l;
	return 0;
}

/* 1 if the first len bits of a and b agree. */
static int same_bits(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return 0;
	return !rest || !((a[full] ^ b[full]) & (uint8_t)(0xFF << (8 - rest)));
}

static const uint8_t *bytes(const struct reg_addr *a)
{
	return a->family == AF_INET ? (const uint8_t *)&a->u.v4 : (const uint8_t *)&a->u.v6;
}

int registry_reverse_covers(const char *prefix, const struct reg_addr *addr)
{
	struct reg_addr p;
	unsigned len;

	return registry_reverse_prefix(prefix, &p, &len) == 0 && p.family == addr->family &&
	       same_bits(bytes(&p), bytes(addr), len);
}

int reg_parse_reverse(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                      void *base, struct sch_path *path)
{
	char **v, ***field = (char ***)((char *)base + item->offset);
	size_t *count = (size_t *)((char *)base + item->aux), ok = 0, n;
	struct ynode *const *items;
	struct reg_addr *seen;
	unsigned *lens;
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind == YNODE_MAP) {
		reg_error(ld, node, path, "expected a list of prefixes, got a mapping");
		return -1;
	}
	items = node->kind == YNODE_SEQ ? node->items : (struct ynode *const *)&node;
	n = node->kind == YNODE_SEQ ? node->n : 1;
	v = calloc(n + 1, sizeof(*v));
	seen = calloc(n + 1, sizeof(*seen));
	lens = calloc(n + 1, sizeof(*lens));
	if (!v || !seen || !lens) {
		free(v);
		free(seen);
		free(lens);
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t old = node->kind == YNODE_SEQ ? sch_path_index(path, i) : path->len;
		char *text = NULL;
		struct reg_addr a;
		unsigned len, step;
		size_t k;

		if (sch_parse_scalar(ld, &prefix_item, SCH_PREFIX, items[i], &text, path) < 0 ||
		    registry_reverse_prefix(text, &a, &len) < 0) {
			if (text) /* parse_prefix() and ours disagree: say it as it does */
				reg_error(
				    ld, items[i], path,
				    "\"%s\" is not an address or prefix (e.g. 127.0.0.0/8 or ::1)",
				    text);
			free(text);
			rc = -1;
			sch_path_pop(path, old);
			continue;
		}
		step = a.family == AF_INET ? 8 : 4;
		for (k = 0; k < ok; k++)
			if (seen[k].family == a.family &&
			    same_bits(bytes(&seen[k]), bytes(&a), lens[k] < len ? lens[k] : len))
				break;
		if (len % step) {
			reg_error(ld, items[i], path,
			          "\"%s\": a reverse zone's prefix length is a multiple of %u (%s)",
			          text, step,
			          a.family == AF_INET ? "in-addr.arpa labels are octets"
			                              : "ip6.arpa labels are nibbles");
			rc = -1;
		} else if (k < ok) {
			reg_error(ld, items[i], path,
			          "\"%s\" overlaps \"%s\" (one zone per address)", text, v[k]);
			rc = -1;
		} else {
			/* bits past the length: 192.0.2.5/24 would name 2.0.192 */
			struct reg_addr masked = a;
			uint8_t *m = (uint8_t *)bytes(&masked);
			unsigned total = a.family == AF_INET ? 4 : 16;

			for (unsigned bit = len; bit < total * 8; bit++)
				m[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
			if (memcmp(bytes(&masked), bytes(&a), total)) {
				reg_error(ld, items[i], path, "\"%s\" has bits set past /%u", text,
				          len);
				rc = -1;
			} else {
				seen[ok] = a;
				lens[ok] = len;
				v[ok++] = text;
				text = NULL;
			}
		}
		free(text);
		sch_path_pop(path, old);
	}
	free(seen);
	free(lens);
	if (rc < 0) {
		for (size_t i = 0; i < ok; i++)
			free(v[i]);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < *count; i++)
		free((*field)[i]);
	free(*field);
	*field = v;
	*count = ok;
	return 0;
}

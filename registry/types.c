/* SPDX-License-Identifier: BSD-3-Clause */
/* types.c: the value types of the schema (integers, durations, labels,
 * domain names, addresses, HTTP statuses) and their error messages. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "common/addr.h"
#include "common/check.h"
#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

int registry_addr_cmp(const struct reg_addr *a, const struct reg_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->u, &b->u, a->family == AF_INET ? sizeof(a->u.v4) : sizeof(a->u.v6));
}

int sch_is_label(const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > 63 || text[0] == '-' || text[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)text[i]) && text[i] != '-')
			return 0;
	return 1;
}

void sch_lower(char *text)
{
	for (; *text; text++)
		*text = (char)tolower((unsigned char)*text);
}

const char *sch_type_desc(enum sch_type type)
{
	switch (type) {
	case SCH_MAP:
		return "a mapping";
	case SCH_UINT:
		return "an unsigned integer";
	case SCH_DURATION:
		return "a duration";
	case SCH_RATIO:
		return "a number between 0 and 1";
	case SCH_STRING:
		return "a string";
	case SCH_PATH:
		return "an HTTP path";
	case SCH_LABEL:
		return "a DNS label";
	case SCH_DNAME:
		return "a domain name";
	case SCH_ADDR:
		return "an IPv4 or IPv6 address";
	case SCH_HOSTPORT:
		return "an address:port";
	case SCH_PREFIX:
		return "an address prefix";
	case SCH_BASE64:
		return "base64 text";
	case SCH_ENUM:
		return "a keyword";
	case SCH_EXPECT:
		return "an HTTP status or range";
	case SCH_LIST:
	case SCH_LISTENS:
		return "a list";
	case SCH_HEADERS:
		return "a mapping of HTTP headers";
	case SCH_CUSTOM:
		break;
	}
	return "a value";
}

/* Formats milliseconds in the largest unit that divides them exactly. */
void sch_fmt_ms(char *buf, size_t len, uint64_t ms)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* Strict decimal: digits only, no sign, no spaces. -1: not a number, -2: overflow. */
static int parse_u64(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	if (!*text)
		return -1;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -2;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

static int parse_duration(const char *text, uint64_t *ms)
{
	size_t digits = strspn(text, "0123456789");
	const char *unit = text + digits;
	uint64_t mul, v;
	char num[32];

	if (digits == 0 || digits >= sizeof(num))
		return digits ? -2 : -1;
	memcpy(num, text, digits);
	num[digits] = '\0';
	if (parse_u64(num, &v) < 0)
		return -2;
	if (!*unit || strcmp(unit, "s") == 0)
		mul = 1000;
	else if (strcmp(unit, "ms") == 0)
		mul = 1;
	else if (strcmp(unit, "m") == 0)
		mul = 60000;
	else if (strcmp(unit, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -2;
	*ms = v * mul;
	return 0;
}

static int parse_addr(const char *text, struct reg_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, text, &addr->u.v4) == 1) {
		addr->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &addr->u.v6) == 1) {
		addr->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* "A.B.C.D:PORT" or "[v6]:PORT" into ss. -1: bad form; else the port is in *port. */
static int parse_prefix(const char *text)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	struct reg_addr addr;
	uint64_t len;

	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (parse_addr(host, &addr) < 0)
		return -1;
	if (!slash)
		return 0;
	if (parse_u64(slash + 1, &len) < 0 || len > (addr.family == AF_INET ? 32u : 128u))
		return -1;
	return 0;
}

/* One "200" or "200-399" into r. */
static int parse_range(const char *text, struct check_range *r)
{
	char buf[32];
	char *dash;
	uint64_t lo, hi;
	size_t len;

	while (*text == ' ')
		text++;
	len = strlen(text);
	while (len && text[len - 1] == ' ')
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(buf, &lo) < 0)
		return -1;
	hi = lo;
	if (dash && parse_u64(dash + 1, &hi) < 0)
		return -1;
	if (lo < 100 || hi > 599 || lo > hi)
		return -1;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

/* Adds the ranges of one scalar (comma-separated) to ranges[*n]. */
static int parse_expect_scalar(struct reg_loader *ld, const struct ynode *node,
                               struct check_range *ranges, size_t *n, struct sch_path *path)
{
	char *copy = strdup(node->value), *save = NULL, *tok;
	int rc = 0;

	if (!copy) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	tok = strtok_r(copy, ",", &save);
	if (!tok)
		rc = -1;
	for (; tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		if (*n == CHECK_EXPECT_MAX) {
			reg_error(ld, node, path, "more than %d status ranges", CHECK_EXPECT_MAX);
			free(copy);
			return -1;
		}
		if (parse_range(tok, &ranges[*n]) < 0)
			rc = -1;
		else
			(*n)++;
	}
	if (rc < 0)
		reg_error(ld, node, path,
		          "\"%s\" is not an HTTP status or range (100..599, e.g. 200 or 200-399)",
		          node->value);
	free(copy);
	return rc;
}

static int want_scalar(struct reg_loader *ld, enum sch_type type, const struct ynode *node,
                       struct sch_path *path)
{
	if (node->kind != YNODE_SCALAR) {
		reg_error(ld, node, path, "expected %s, got %s", sch_type_desc(type),
		          ynode_kind_name(node));
		return -1;
	}
	if (ynode_is_null(node)) {
		reg_error(ld, node, path, "expected %s, got no value", sch_type_desc(type));
		return -1;
	}
	return 0;
}

static int set_string(struct reg_loader *ld, const struct ynode *node, struct sch_path *path,
                      void *field, int lower)
{
	char *s = strdup(node->value);

	if (!s) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	if (lower)
		sch_lower(s);
	free(*(char **)field);
	*(char **)field = s;
	return 0;
}

static int parse_dname(struct reg_loader *ld, const struct ynode *node, struct sch_path *path,
                       void *field)
{
	size_t len = strlen(node->value);
	char *text = malloc(len + 2);
	ldns_rdf *rdf;

	if (!text) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	memcpy(text, node->value, len + 1);
	if (len == 0 || text[len - 1] != '.')
		strcat(text, ".");
	rdf = len ? ldns_dname_new_frm_str(text) : NULL;
	/* ldns accepts escapes and odd bytes; a name here must also be printable. */
	if (!rdf || strpbrk(text, " \t\\\"();@$") || (len > 1 && strstr(text, ".."))) {
		reg_error(ld, node, path, "\"%s\" is not a domain name", node->value);
		ldns_rdf_deep_free(rdf);
		free(text);
		return -1;
	}
	ldns_rdf_deep_free(rdf);
	sch_lower(text);
	free(*(char **)field);
	*(char **)field = text;
	return 0;
}

static void store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = v;
		break;
	}
}

int sch_parse_scalar(struct reg_loader *ld, const struct sch_item *item, enum sch_type type,
                     const struct ynode *node, void *field, struct sch_path *path)
{
	const char *text = node->value;
	uint64_t v;
	int rc;

	if (want_scalar(ld, type, node, path) < 0)
		return -1;
	switch (type) {
	case SCH_UINT:
		if (node->quoted) {
			reg_error(ld, node, path,
			          "expected an unsigned integer, got the string \"%s\"", text);
			return -1;
		}
		rc = parse_u64(text, &v);
		if (rc == -1) {
			reg_error(ld, node, path, "\"%s\" is not an unsigned integer", text);
			return -1;
		}
		if (rc == -2 || v < (uint64_t)item->min || v > (uint64_t)item->max) {
			reg_error(ld, node, path, "%s is out of range (%" PRId64 "..%" PRId64 ")",
			          text, item->min, item->max);
			return -1;
		}
		store_uint(field, item->size, v);
		return 0;
	case SCH_DURATION: {
		char lo[24], hi[24];

		rc = parse_duration(text, &v);
		if (rc == -1) {
			reg_error(ld, node, path,
			          "\"%s\" is not a duration (e.g. 250ms, 2s, 1m, 1h)", text);
			return -1;
		}
		if (rc == -2 || v < (uint64_t)item->min || v > (uint64_t)item->max) {
			sch_fmt_ms(lo, sizeof(lo), (uint64_t)item->min);
			sch_fmt_ms(hi, sizeof(hi), (uint64_t)item->max);
			reg_error(ld, node, path, "%s is out of range (%s..%s)", text, lo, hi);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	}
	case SCH_RATIO: {
		char *end;
		double d;

		errno = 0;
		d = strtod(text, &end);
		if (node->quoted || end == text || *end || errno || !isfinite(d) || d < 0 ||
		    d > 1 || isspace((unsigned char)text[0])) {
			reg_error(ld, node, path, "\"%s\" is not a number between 0 and 1", text);
			return -1;
		}
		*(double *)field = d;
		return 0;
	}
	case SCH_STRING:
		return set_string(ld, node, path, field, 0);
	case SCH_PATH:
		if (text[0] != '/' || strpbrk(text, " \t\r\n") || strlen(text) >= item->size) {
			reg_error(ld, node, path,
			          "\"%s\" is not an HTTP path (\"/\" first, no spaces, under %zu "
			          "characters)",
			          text, item->size);
			return -1;
		}
		strcpy((char *)field, text);
		return 0;
	case SCH_LABEL:
		if (!sch_is_label(text)) {
			reg_error(ld, node, path,
			          "\"%s\" is not a DNS label (letters, digits, hyphens; 1 to 63 "
			          "characters; no hyphen first or last)",
			          text);
			return -1;
		}
		return set_string(ld, node, path, field, 1);
	case SCH_DNAME:
		return parse_dname(ld, node, path, field);
	case SCH_ADDR:
		if (parse_addr(text, (struct reg_addr *)field) < 0) {
			reg_error(ld, node, path, "\"%s\" is not an IPv4 or IPv6 address", text);
			return -1;
		}
		return 0;
	case SCH_HOSTPORT: {
		struct sockaddr_storage ss;
		socklen_t sslen;
		uint16_t port;

		if (addr_parse_hostport(text, &ss, &sslen, &port) < 0) {
			reg_error(ld, node, path,
			          "\"%s\" is not an address:port (e.g. 127.0.0.1:53 or [::1]:53)",
			          text);
			return -1;
		}
		v = port;
		if (v < (uint64_t)item->min || v > (uint64_t)item->max) {
			reg_error(ld, node, path,
			          "port %" PRIu64 " is out of range (%" PRId64 "..%" PRId64 ")", v,
			          item->min, item->max);
			return -1;
		}
		return set_string(ld, node, path, field, 0);
	}
	case SCH_BASE64: {
		ldns_rdf *rdf = NULL;
		int ok = ldns_str2rdf_b64(&rdf, text) == LDNS_STATUS_OK && ldns_rdf_size(rdf) > 0;

		ldns_rdf_deep_free(rdf);
		if (!ok) {
			reg_error(
			    ld, node, path,
			    "\"%s\" is not base64 text (e.g. a secret from `openssl rand -base64 "
			    "32`)",
			    text);
			return -1;
		}
		return set_string(ld, node, path, field, 0);
	}
	case SCH_PREFIX:
		if (parse_prefix(text) < 0) {
			reg_error(ld, node, path,
			          "\"%s\" is not an address or prefix (e.g. 127.0.0.0/8 or ::1)",
			          text);
			return -1;
		}
		return set_string(ld, node, path, field, 0);
	case SCH_ENUM: {
		char list[256] = "";

		for (int i = 0; item->names[i]; i++)
			if (strcmp(text, item->names[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		for (int i = 0; item->names[i]; i++) {
			strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, item->names[i], sizeof(list) - strlen(list) - 1);
		}
		reg_error(ld, node, path, "\"%s\" is not one of %s", text, list);
		return -1;
	}
	case SCH_MAP:
	case SCH_EXPECT:
	case SCH_LIST:
	case SCH_LISTENS:
	case SCH_HEADERS:
	case SCH_CUSTOM:
		break; /* not scalars: parse_item() handles them */
	}
	reg_error(ld, node, path, "internal error: type %d is not a scalar", (int)type);
	return -1;
}

int sch_parse_expect(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                     void *base, struct sch_path *path)
{
	struct check_range ranges[CHECK_EXPECT_MAX];
	size_t n = 0;
	int rc = 0;

	if (node->kind == YNODE_MAP || ynode_is_null(node)) {
		reg_error(ld, node, path, "expected an HTTP status or range, got %s",
		          ynode_is_null(node) ? "no value" : "a mapping");
		return -1;
	}
	if (node->kind == YNODE_SCALAR) {
		rc = parse_expect_scalar(ld, node, ranges, &n, path);
	} else {
		for (size_t i = 0; i < node->n; i++) {
			size_t old = sch_path_index(path, i);

			if (want_scalar(ld, SCH_EXPECT, node->items[i], path) < 0 ||
			    parse_expect_scalar(ld, node->items[i], ranges, &n, path) < 0)
				rc = -1;
			sch_path_pop(path, old);
		}
		if (rc == 0 && n == 0) {
			reg_error(ld, node, path, "expected at least one HTTP status or range");
			rc = -1;
		}
	}
	if (rc < 0)
		return -1;
	memcpy((char *)base + item->offset, ranges, n * sizeof(ranges[0]));
	*(size_t *)((char *)base + item->aux) = n;
	return 0;
}

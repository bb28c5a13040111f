/* SPDX-License-Identifier: BSD-3-Clause */
/* zone.c: static records from RFC 1035 master files (`zones:`), read with
 * ldns one record at a time so that every record keeps its line number, and
 * checked against what srvd synthesises in the service zone. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/loader.h"
#include "registry/ynode.h"

#define ZONE_FILE_MAX (64u << 20) /* bytes in one zone file */

struct zread {
	const char *path;
	const struct reg_noted *noted; /* the file's name in the YAML */
	ldns_rr_list *rrs;
	size_t *lines;
	ldns_rdf *apex;
	int is_service_zone;
};

static void zerr(struct reg_loader *ld, const char *path, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void zerr(struct reg_loader *ld, const char *path, size_t line, const char *fmt, ...)
{
	char msg[1024], full[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(full, sizeof(full), "%s:%zu: %s", path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", path, msg);
	reg_error_line(ld, full);
}

void reg_zone_free(struct reg_zone *zone)
{
	if (!zone)
		return;
	free(zone->file);
	ldns_rdf_deep_free(zone->apex);
	ldns_rr_list_deep_free(zone->rrs);
	memset(zone, 0, sizeof(*zone));
}

/* The whole file, with a final newline so ldns counts the last line. */
static char *slurp(struct reg_loader *ld, const struct zread *z, size_t *len)
{
	const char *path = z->path;
	FILE *fp = ydoc_fopen(path);
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!fp) {
		/* nothing of the file to point at: point at its name in the YAML */
		reg_error(ld, z->noted->node, &z->noted->path, "\"%s\": cannot open: %s",
		          z->noted->text, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - *len < 4096) {
			char *grown;

			cap = cap ? cap * 2 : 8192;
			if (cap > ZONE_FILE_MAX + 8192 || !(grown = realloc(buf, cap))) {
				zerr(ld, path, 0, "too large or out of memory");
				goto fail;
			}
			buf = grown;
		}
		size_t got = fread(buf + *len, 1, cap - *len - 2, fp);

		*len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		zerr(ld, path, 0, "cannot read: %s", strerror(errno));
		goto fail;
	}
	fclose(fp);
	if (*len == 0 || buf[*len - 1] != '\n')
		buf[(*len)++] = '\n';
	buf[*len] = '\0';
	return buf;
fail:
	fclose(fp);
	free(buf);
	return NULL;
}

static int push_rr(struct zread *z, ldns_rr *rr, size_t line)
{
	size_t n = ldns_rr_list_rr_count(z->rrs);
	size_t *lines = realloc(z->lines, (n + 1) * sizeof(*lines));

	if (!lines)
		return -1;
	z->lines = lines;
	lines[n] = line;
	return ldns_rr_list_push_rr(z->rrs, rr) ? 0 : -1;
}

static int parse_records(struct reg_loader *ld, struct zread *z, const ldns_rdf *zone)
{
	uint32_t ttl = 3600;
	ldns_rdf *origin = ldns_rdf_clone(zone), *prev = ldns_rdf_clone(zone);
	size_t len;
	char *text = slurp(ld, z, &len);
	FILE *fp = text ? fmemopen(text, len, "r") : NULL;
	int line = 0, rc = 0;

	if (!fp || !origin || !prev) {
		if (text)
			zerr(ld, z->path, 0, "out of memory");
		rc = -1;
		goto done;
	}
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);

		switch (s) {
		case LDNS_STATUS_OK:
			if (push_rr(z, rr, (size_t)line) < 0) {
				ldns_rr_free(rr);
				zerr(ld, z->path, 0, "out of memory");
				rc = -1;
				goto done;
			}
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			zerr(ld, z->path, (size_t)line, "$INCLUDE is not supported");
			rc = -1;
			break;
		default:
			/* ldns resumes at the next line: report every bad record. */
			zerr(ld, z->path, (size_t)line, "%s", ldns_get_errorstr_by_id(s));
			rc = -1;
			break;
		}
	}
done:
	if (fp)
		fclose(fp);
	free(text);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

static int cmp_rr_then_pos(const void *a, const void *b)
{
	ldns_rr *const *x = *(ldns_rr *const *const *)a, *const *y = *(ldns_rr *const *const *)b;
	int c = ldns_rr_compare(*x, *y);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/* An RRset holds no duplicate records (RFC 2181 5), yet a file may list one
 * twice: keep the first, or every answer would carry it twice. Equal means
 * same owner (any case), class, type and rdata; the TTL does not count. */
static int drop_duplicates(struct reg_loader *ld, struct zread *z)
{
	size_t n = ldns_rr_list_rr_count(z->rrs), kept = 0;
	ldns_rr **rrs = n ? malloc(n * sizeof(*rrs)) : NULL;
	ldns_rr ***order = n ? malloc(n * sizeof(*order)) : NULL;

	if (n && (!rrs || !order)) {
		zerr(ld, z->path, 0, "out of memory");
		free(rrs);
		free(order);
		return -1;
	}
	/* sort pointers into rrs[] so that equal records sit in file order */
	for (size_t i = 0; i < n; i++) {
		rrs[i] = ldns_rr_list_rr(z->rrs, i);
		order[i] = &rrs[i];
	}
	qsort(order, n, sizeof(*order), cmp_rr_then_pos);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (ldns_rr_compare(*order[first], *order[i]) != 0) {
			first = i;
			continue;
		}
		ldns_rr_free(*order[i]);
		*order[i] = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!rrs[i])
			continue;
		ldns_rr_list_set_rr(z->rrs, rrs[i], kept);
		z->lines[kept++] = z->lines[i];
	}
	ldns_rr_list_set_rr_count(z->rrs, kept);
	free(rrs);
	free(order);
	return 0;
}

static int at_or_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	return ldns_dname_compare(name, apex) == 0 || ldns_dname_is_subdomain(name, apex);
}

static char *dname_str(const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf);

	if (s)
		sch_lower(s);
	return s;
}

static void owner_error(struct reg_loader *ld, struct zread *z, size_t i, const char *what)
{
	char *owner = dname_str(ldns_rr_owner(ldns_rr_list_rr(z->rrs, i)));

	zerr(ld, z->path, z->lines[i], "%s: %s", owner ? owner : "?", what);
	free(owner);
}

static int cmp_owner(const void *a, const void *b)
{
	const ldns_rr *x = *(ldns_rr *const *)a, *y = *(ldns_rr *const *)b;
	int c = ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(y));

	if (c)
		return c;
	return a < b ? -1 : a > b;
}

/* CNAME may not share its owner with any other record (RFC 1034 3.6.2). */
static void check_cnames(struct reg_loader *ld, struct zread *z)
{
	size_t n = ldns_rr_list_rr_count(z->rrs);
	ldns_rr **sorted = malloc((n ? n : 1) * sizeof(*sorted));

	if (!sorted) {
		zerr(ld, z->path, 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = ldns_rr_list_rr(z->rrs, i);
	qsort(sorted, n, sizeof(*sorted), cmp_owner);
	for (size_t i = 0; i < n;) {
		size_t end = i, cname = n, count = 0;

		while (end < n && ldns_dname_compare(ldns_rr_owner(sorted[i]),
		                                     ldns_rr_owner(sorted[end])) == 0) {
			if (ldns_rr_get_type(sorted[end]) == LDNS_RR_TYPE_CNAME && cname == n)
				cname = end;
			end++;
			count++;
		}
		if (cname < n && (count > 1 || (z->is_service_zone &&
		                                ldns_dname_compare(ldns_rr_owner(sorted[cname]),
		                                                   z->apex) == 0))) {
			for (size_t k = 0; k < n; k++)
				if (ldns_rr_list_rr(z->rrs, k) == sorted[cname])
					owner_error(ld, z, k, "CNAME beside other data");
		}
		i = end;
	}
	free(sorted);
}

static void check_records(struct reg_loader *ld, struct zread *z, const ldns_rdf *zone)
{
	size_t n = ldns_rr_list_rr_count(z->rrs);
	ldns_rdf *health = ldns_dname_new_frm_str("_health"),
	         *ready = ldns_dname_new_frm_str("_ready");

	if (!health || !ready || ldns_dname_cat(health, zone) != LDNS_STATUS_OK ||
	    ldns_dname_cat(ready, zone) != LDNS_STATUS_OK) {
		zerr(ld, z->path, 0, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		ldns_rr_type type = ldns_rr_get_type(rr);
		int at_apex = ldns_dname_compare(owner, z->apex) == 0;

		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			owner_error(ld, z, i, "only class IN records are served");
		else if (!at_or_below(owner, z->apex))
			owner_error(ld, z, i, "outside the zone");
		else if (ldns_dname_is_wildcard(owner))
			owner_error(ld, z, i, "wildcard records are not supported");
		else if (type == LDNS_RR_TYPE_DNAME)
			owner_error(ld, z, i, "DNAME records are not supported");
		else if (type == LDNS_RR_TYPE_NS && !at_apex)
			owner_error(ld, z, i, "NS below the apex (delegation) is not supported");
		else if (type == LDNS_RR_TYPE_NS && z->is_service_zone)
			owner_error(ld, z, i, "NS of the service zone come from server.ns");
		else if (type == LDNS_RR_TYPE_SOA && (!at_apex || i != 0))
			owner_error(ld, z, i, "more than one SOA record");
		else if (z->is_service_zone &&
		         (at_or_below(owner, health) || at_or_below(owner, ready)))
			owner_error(ld, z, i, "name is reserved by srvd (_health and _ready)");
	}
	check_cnames(ld, z);
done:
	ldns_rdf_deep_free(health);
	ldns_rdf_deep_free(ready);
}

/* The apex: the SOA owner, else the service zone. An SOA is moved first. */
static int find_apex(struct reg_loader *ld, struct zread *z, const ldns_rdf *zone,
                     const struct reg_zone *zones, size_t n_zones)
{
	size_t n = ldns_rr_list_rr_count(z->rrs), soa = n;
	char *apex, *svc;

	for (size_t i = 0; i < n && soa == n; i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(z->rrs, i)) == LDNS_RR_TYPE_SOA)
			soa = i;
	if (soa == n) {
		z->is_service_zone = 1;
		z->apex = ldns_rdf_clone(zone);
		return z->apex ? 0 : -1;
	}
	if (soa != 0) {
		ldns_rr *tmp = ldns_rr_list_rr(z->rrs, soa);
		size_t line = z->lines[soa];

		memmove(&z->lines[1], &z->lines[0], soa * sizeof(z->lines[0]));
		z->lines[0] = line;
		for (size_t i = soa; i > 0; i--)
			ldns_rr_list_set_rr(z->rrs, ldns_rr_list_rr(z->rrs, i - 1), i);
		ldns_rr_list_set_rr(z->rrs, tmp, 0);
	}
	z->apex = ldns_rdf_clone(ldns_rr_owner(ldns_rr_list_rr(z->rrs, 0)));
	if (!z->apex)
		return -1;
	apex = dname_str(z->apex);
	svc = dname_str(zone);
	if (ldns_dname_compare(z->apex, zone) == 0)
		zerr(ld, z->path, z->lines[0],
		     "SOA for the service zone %s: drop the SOA to add these records to it", svc);
	else if (ldns_dname_is_subdomain(z->apex, zone))
		zerr(ld, z->path, z->lines[0], "zone %s is inside the service zone %s", apex, svc);
	for (size_t i = 0; i < n_zones; i++)
		if (!zones[i].is_service_zone && ldns_dname_compare(zones[i].apex, z->apex) == 0)
			zerr(ld, z->path, z->lines[0], "zone %s is also loaded from %s", apex,
			     zones[i].file);
	free(apex);
	free(svc);
	return 0;
}

int reg_zones_load(struct reg_loader *ld)
{
	const struct reg_noted *files = ld->top.zones;
	size_t n_files = ld->top.n_zones;
	struct registry *reg = ld->reg;
	ldns_rdf *zone = ldns_dname_new_frm_str(ld->top.server.srv.zone);
	int rc = -1;

	if (n_files == 0) {
		ldns_rdf_deep_free(zone);
		return 0;
	}
	reg->zones = calloc(n_files, sizeof(*reg->zones));
	ld->zone_lines = calloc(n_files, sizeof(*ld->zone_lines));
	if (!zone || !reg->zones || !ld->zone_lines) {
		reg_error_line(ld, "out of memory");
		goto done;
	}
	rc = 0;
	for (size_t i = 0; i < n_files; i++) {
		struct zread z = {.rrs = ldns_rr_list_new()};
		char *path = reg_path_join(files[i].node->file, files[i].text);

		z.path = path;
		z.noted = &files[i];
		if (!path || !z.rrs) {
			reg_error_line(ld, "out of memory");
			free(path);
			ldns_rr_list_free(z.rrs);
			rc = -1;
			continue;
		}
		if (parse_records(ld, &z, zone) < 0 || drop_duplicates(ld, &z) < 0 ||
		    find_apex(ld, &z, zone, reg->zones, reg->n_zones) < 0) {
			rc = -1;
		} else {
			check_records(ld, &z, zone);
		}
		reg->zones[reg->n_zones].file = path;
		reg->zones[reg->n_zones].apex = z.apex;
		reg->zones[reg->n_zones].is_service_zone = z.is_service_zone;
		reg->zones[reg->n_zones].rrs = z.rrs;
		ld->zone_lines[reg->n_zones++] = z.lines;
	}
done:
	ldns_rdf_deep_free(zone);
	return rc;
}

/* Owners srvd synthesises: NAME.<zone> and _NAME._PROTO.<zone>, with all
 * names below them. rel is the owner without the zone, e.g. "_web._tcp". */
static const struct reg_svc_build *colliding(struct reg_loader *ld, const char *rel)
{
	const char *last = strrchr(rel, '.');
	const char *second = NULL;
	char svc[64], proto[64];

	last = last ? last + 1 : rel;
	if (last != rel) {
		second = last - 1;
		while (second > rel && second[-1] != '.')
			second--;
	}
	snprintf(svc, sizeof(svc), "%s", last);
	proto[0] = '\0';
	if (last[0] == '_' && second && second[0] == '_') {
		snprintf(svc, sizeof(svc), "%.*s", (int)(last - 1 - second - 1), second + 1);
		snprintf(proto, sizeof(proto), "%s", last + 1);
	}
	for (const struct reg_svc_build *b = reg_svc_first(ld, svc); b; b = reg_svc_next(ld, b))
		if (!proto[0] || (b->svc.protocol && strcmp(b->svc.protocol, proto) == 0))
			return b;
	return NULL;
}

int reg_zones_check_services(struct reg_loader *ld)
{
	const struct registry *reg = ld->reg;
	const char *zone = ld->top.server.srv.zone;
	size_t zlen = strlen(zone);
	unsigned char *reported = calloc(ld->n_svcs ? ld->n_svcs : 1, 1);

	if (!reported) {
		reg_error_line(ld, "out of memory");
		return -1;
	}
	for (size_t z = 0; z < reg->n_zones; z++) {
		const struct reg_zone *rz = &reg->zones[z];

		for (size_t i = 0;
		     rz->is_service_zone && rz->rrs && i < ldns_rr_list_rr_count(rz->rrs); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(rz->rrs, i);
			char *owner = dname_str(ldns_rr_owner(rr));
			char *type = ldns_rr_type2str(ldns_rr_get_type(rr));
			size_t olen = owner ? strlen(owner) : 0;
			const struct reg_svc_build *b;

			/* owner is "REL.<zone>": the apex itself names no service. */
			if (!owner || !type || olen <= zlen + 1 || owner[olen - zlen - 1] != '.' ||
			    strcmp(owner + olen - zlen, zone) != 0) {
				free(owner);
				free(type);
				continue;
			}
			owner[olen - zlen - 1] = '\0';
			b = colliding(ld, owner);
			if (b && !reported[b - ld->svcs]) {
				struct sch_path path = {.len = 0};

				reported[b - ld->svcs] = 1;
				owner[olen - zlen - 1] = '.';
				sch_path_key(&path, "services");
				sch_path_key(&path, b->key->value);
				reg_error(ld, b->key, &path,
				          "collides with static record %s %s (%s:%zu)", owner, type,
				          rz->file, ld->zone_lines[z] ? ld->zone_lines[z][i] : 0);
			}
			free(owner);
			free(type);
		}
	}
	free(reported);
	return 0;
}

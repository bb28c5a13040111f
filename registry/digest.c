/* SPDX-License-Identifier: BSD-3-Clause */
/* digest.c: a digest of what a registry answers, so a reload that changes
 * nothing a client can see keeps its table, serial and counters.
 *
 * Which keys count comes from the schema (each row's reload class, see
 * fields.c); what the tables cannot describe is fed here: the names of
 * services and instances (keys of maps and of lists) and the static zone
 * records, as ldns presentation text, which is canonical for equal records.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL

static void feed_zone(uint64_t *h, const struct reg_zone *z)
{
	char *text = z->apex ? ldns_rdf2str(z->apex) : NULL;

	sch_feed_str(h, text);
	free(text);
	sch_feed_u64(h, (uint64_t)z->is_service_zone);
	sch_feed_u64(h, z->rrs ? ldns_rr_list_rr_count(z->rrs) : 0);
	for (size_t i = 0; z->rrs && i < ldns_rr_list_rr_count(z->rrs); i++) {
		text = ldns_rr2str(ldns_rr_list_rr(z->rrs, i));
		/* out of memory: a digest that differs from every other, so the
		 * reload counts as a change rather than a false "unchanged" */
		if (!text)
			sch_feed_u64(h, (uint64_t)(uintptr_t)h ^ (uint64_t)i);
		sch_feed_str(h, text);
		free(text);
	}
}

uint64_t registry_service_digest(const struct reg_service *s)
{
	uint64_t h = FNV_OFFSET;

	/* immutable once in a registry: computed once (a change digests the
	 * services it loaded, not the registry) */
	if (s->digest_set)
		return s->digest;

	sch_feed_str(&h, s->name);
	sch_digest(&reg_service_table, s, &h);
	sch_feed_u64(&h, (uint64_t)s->has_ttl_min); /* ttl_min: 0 differs from unset */
	sch_feed_u64(&h, s->n_instances);
	for (size_t k = 0; k < s->n_instances; k++) {
		sch_digest(&reg_instance_table, &s->instances[k], &h);
		/* address: [...]: the schema digests the first */
		sch_feed_u64(&h, s->instances[k].n_addrs);
		for (size_t a = 0; a < s->instances[k].n_addrs; a++)
			sch_feed(&h, &s->instances[k].addrs[a], sizeof(s->instances[k].addrs[a]));
		/* a drain takes an instance out of answers (and its reason is
		 * in _health TXT) */
		sch_feed_str(&h, registry_maintenance_of(s, &s->instances[k]));
	}
	((struct reg_service *)s)->digest = h;
	((struct reg_service *)s)->digest_set = 1;
	return h;
}

uint64_t registry_rest_digest(const struct registry *reg)
{
	uint64_t h = FNV_OFFSET;

	/* the builds' tables describe the public structs at their start */
	sch_digest(&reg_server_table, &reg->server, &h);
	/* server.sites, a custom row: locality answers follow it */
	sch_feed_u64(&h, reg->server.n_sites);
	for (size_t i = 0; i < reg->server.n_sites; i++) {
		sch_feed_str(&h, reg->server.sites[i].name);
		sch_feed_u64(&h, reg->server.sites[i].n_prefixes);
		for (size_t k = 0; k < reg->server.sites[i].n_prefixes; k++)
			sch_feed_str(&h, reg->server.sites[i].prefixes[k]);
	}
	sch_feed_u64(&h, reg->n_zones);
	for (size_t i = 0; i < reg->n_zones; i++)
		feed_zone(&h, &reg->zones[i]);
	return h;
}

uint64_t registry_digest(const struct registry *reg)
{
	uint64_t h = registry_rest_digest(reg), sum = 0;

	/* the order of services alters no answer (a change may append the
	 * service a file now holds): a sum of theirs, which a change keeps up
	 * to date (registry_update()) */
	if (reg->services_sum_set) {
		sum = reg->services_sum;
	} else {
		for (size_t i = 0; i < reg->n_services; i++)
			sum += registry_service_digest(reg->services[i]);
		((struct registry *)reg)->services_sum = sum;
		((struct registry *)reg)->services_sum_set = 1;
	}
	sch_feed_u64(&h, reg->n_services);
	sch_feed_u64(&h, sum);
	return h;
}

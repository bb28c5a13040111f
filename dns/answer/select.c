/* SPDX-License-Identifier: BSD-3-Clause */
/* select.c: failover tiers (select.h). A service with failover: true
 * answers A/AAAA with the instances of its lowest priority that has a
 * served instance (Consul's prepared-query failover, gdnsd's multifo); SRV
 * keeps every priority, since SRV clients choose by priority themselves. */
#include "config.h"

#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "dns/answer/table_build.h"
#include "registry/registry.h"

int tb_build_select(struct builder *b, const struct reg_service *s, uint32_t si)
{
	struct dns_table *t = b->t;
	struct dns_service *ds = &t->services[si];

	for (size_t i = 0; i < s->n_instances; i++)
		t->instances[ds->first_instance + i].priority = s->instances[i].priority;
	if (s->failover)
		ds->select |= DNS_SEL_FAILOVER;
	return 0;
}

int32_t dns_failover_tier(const struct dns_table *t, const struct dns_service *svc)
{
	int32_t tier = -1;

	for (uint32_t i = 0; i < svc->n_instances; i++) {
		const struct dns_instance *in = &t->instances[svc->first_instance + i];

		if ((tier < 0 || in->priority < tier) &&
		    atomic_load_explicit(&in->hs->served, memory_order_relaxed))
			tier = in->priority;
	}
	return tier;
}

size_t dns_select(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_service *svc,
                  uint16_t qtype, uint32_t *a, size_t cnt)
{
	(void)ctx;
	if ((svc->select & DNS_SEL_FAILOVER) && qtype != DNS_T_SRV) {
		int32_t tier = dns_failover_tier(t, svc);
		size_t k = 0;

		if (tier >= 0) {
			for (size_t i = 0; i < cnt; i++)
				if (t->instances[a[i]].priority == (uint32_t)tier)
					a[k++] = a[i];
			cnt = k;
		}
	}
	return cnt;
}

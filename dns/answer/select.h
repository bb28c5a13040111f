/* SPDX-License-Identifier: BSD-3-Clause */
/* select.h: the answer features that choose among a service's passing
 * instances beyond its policy (README "Failover, locality and sticky
 * answers"): failover tiers, and the build of what they need. One order for
 * every answer: tags -> drained -> health (panic aside) -> failover tier ->
 * locality -> policy -> max_answers. Private to dns/. */
#ifndef SRVD_DNS_SELECT_H
#define SRVD_DNS_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/answer/table_impl.h"

struct builder;
struct dns_ctx;
struct reg_service;

/* Table build: service si's select bits and what its instances need for
 * them (priority). Called once its instances are in t->instances: 0 or -1. */
int tb_build_select(struct builder *b, const struct reg_service *s, uint32_t si);

/* The failover tier of svc now: the lowest priority of its served
 * instances, over the whole service (whatever the name asked); -1 when none
 * is served (panic then answers with every tier). */
int32_t dns_failover_tier(const struct dns_table *t, const struct dns_service *svc);

/* Narrows the candidates a[0..cnt) of an answer of qtype for svc (its
 * `select` bits are set) to those its features keep; returns how many are
 * left, in place and in their order. */
size_t dns_select(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_service *svc,
                  uint16_t qtype, uint32_t *a, size_t cnt);

#endif

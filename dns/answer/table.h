/* SPDX-License-Identifier: BSD-3-Clause */
/* table.h: the compiled answer table, an immutable snapshot of the registry
 * in wire format (README "Layout": immutable snapshots, no allocation on the hot path).
 *
 * dns_table_build() turns a struct registry into a hash table of lowercased
 * wire-format owner names, each node holding pre-encoded record data: static
 * RRsets, and for services, tags and SRV owners the list of instances whose
 * A/AAAA/SRV data is ready to copy. Workers share one table and never lock:
 * the only fields that change after the build are atomics (round-robin
 * counters, the serial, the readiness flag) or belong to the health checker
 * (health/state.h), which the table only reads.
 */
#ifndef SRVD_DNS_TABLE_H
#define SRVD_DNS_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct registry;
struct dns_table;
struct health_inst;
struct health_svc;

/* Builds the table for reg with SOA serial `serial`. Borrows reg for the
 * call only: the table keeps no pointer into it. Returns 0 and sets *out
 * (caller frees with dns_table_free()), or -1 with a message in err. */
int dns_table_build(const struct registry *reg, uint32_t serial, struct dns_table **out, char *err,
                    size_t errlen);

/* The table for reg after a change, from cur (the table served now, or
 * NULL): a delta over cur's base holding only the services that differ
 * from it, when that can say the same (table_delta.c), else a whole table
 * (dns_table_build()). Either answers exactly as dns_table_build(reg)
 * would. cur stays valid and unchanged, but for the health cells its
 * instances read (dns_table_bind_state() on the result moves those of the
 * base to the new ones). Main thread; 0 or -1 with err. */
int dns_table_update(const struct dns_table *cur, const struct registry *reg, uint32_t serial,
                     struct dns_table **out, char *err, size_t errlen);

/* 1 if t is a delta over a base table, 0 if whole. */
int dns_table_is_delta(const struct dns_table *t);

/* Frees a table (a delta: and its base, once no other delta holds it);
 * accepts NULL. No worker may still use it. Main thread. */
void dns_table_free(struct dns_table *table);

/* The readiness name `_ready.<zone>` answers only once this is set. */
void dns_table_set_ready(struct dns_table *table, int ready);

/* Makes the answers follow the health cells (common/state.h): every
 * instance reads `served` (and the _health TXT the rest) from inst[i] and
 * every service its n_served and panic flag from svc[s], in registry order
 * (inst: every instance of every service, service by service), so a
 * transition is visible to the next query without a rebuild. Until then
 * every instance is served (check type none). The arrays must outlive the
 * table; call before workers use it. The table knows no checker: the daemon
 * hands it the checker's cells. Returns 0, or -1 if the counts are not the
 * table's. */
int dns_table_bind_state(struct dns_table *table, const struct health_inst *inst, size_t n_inst,
                         const struct health_svc *svc, size_t n_svc);
/* The same, service by service: cells(arg, j, ...) gives the cells of
 * registry service j (its instances', *n of them, and its own) and returns
 * the number of the block that holds them (never reused; 0: unknown); with
 * inst NULL, only the number. A delta moves only base services not already
 * on that block. */
typedef uint64_t (*dns_cells_fn)(void *arg, size_t j, const struct health_inst **inst, size_t *n,
                                 const struct health_svc **svc);
int dns_table_bind(struct dns_table *table, size_t n_inst, size_t n_svc, dns_cells_fn cells,
                   void *arg);

/* The serial that follows `serial`: max(serial + 1, unix time now) in RFC
 * 1982 serial arithmetic, so serials rise and stay near the clock. */
uint32_t dns_serial_next(uint32_t serial);

/* Raises the service zone's SOA serial to dns_serial_next() of it, e.g.
 * after the served set changed. Safe to
 * call from any thread while workers answer; the next SOA sent carries it. */
void dns_table_bump_serial(struct dns_table *table);

/* Number of owner names (nodes) in the table, for logs and tests. */
size_t dns_table_size(const struct dns_table *table);

/* The current SOA serial of the service zone (built with, then bumped). */
uint32_t dns_table_serial(const struct dns_table *table);

#endif

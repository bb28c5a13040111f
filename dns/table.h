/* SPDX-License-Identifier: BSD-3-Clause */
/* table.h: the compiled answer table, an immutable snapshot of the registry
 * in wire format (DESIGN.md principle 3 and 4).
 *
 * dns_table_build() turns a struct registry into a hash table of lowercased
 * wire-format owner names, each node holding pre-encoded record data: static
 * RRsets, and for services, tags and SRV owners the list of instances whose
 * A/AAAA/SRV data is ready to copy. Workers share one table and never lock:
 * the only fields that change after the build are atomics (round-robin
 * counters, instance health flags, the readiness flag).
 */
#ifndef SRVD_DNS_TABLE_H
#define SRVD_DNS_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct registry;
struct dns_table;

/* Builds the table for reg with SOA serial `serial`. Borrows reg for the
 * call only: the table keeps no pointer into it. Returns 0 and sets *out
 * (caller frees with dns_table_free()), or -1 with a message in err. */
int dns_table_build(const struct registry *reg, uint32_t serial, struct dns_table **out, char *err,
                    size_t errlen);

/* Frees a table; accepts NULL. No worker may still use it. */
void dns_table_free(struct dns_table *table);

/* The readiness name `_ready.<zone>` answers only once this is set. */
void dns_table_set_ready(struct dns_table *table, int ready);

/* Marks an instance served (1) or withdrawn (0). Instances start served.
 * Safe to call while workers answer. Returns 0, or -1 if there is no such
 * service/instance. A service with panic_threshold answers with all its
 * instances while fewer than that fraction are served (SPEC 4). */
int dns_table_set_instance_up(struct dns_table *table, const char *service, const char *instance,
                              int up);

/* Number of owner names (nodes) in the table, for logs and tests. */
size_t dns_table_size(const struct dns_table *table);

/* The SOA serial the table was built with. */
uint32_t dns_table_serial(const struct dns_table *table);

#endif

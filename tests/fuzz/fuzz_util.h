/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_util.h: what the fuzz targets share: the fixed registry compiled into
 * an answer table, and a scratch folder that is removed at exit. */
#ifndef SRVD_TESTS_FUZZ_UTIL_H
#define SRVD_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct dns_table;
struct dns_ctx;

/* libFuzzer's entry point, defined by each target (and called by replay.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed registry's edns_udp_size. */
#define FUZZ_EDNS_UDP_SIZE 1400

/* The table of the fixed registry (services with A, AAAA and SRV data, tags,
 * a service too big for one UDP answer, static records in the service zone
 * and a static zone of its own), ready, with a context seeded by seed 1.
 * Built on the first call; aborts on any error. Both live until exit. */
const struct dns_table *fuzz_table(void);
struct dns_ctx *fuzz_ctx(void);

/* Creates an empty folder on the first call and returns its path: the one
 * $SRVD_FUZZ_SCRATCH names (which must not exist: run.sh sets it, so that
 * runs repeat), else a new one under $TMPDIR (or /tmp). It is removed at
 * exit (with the files fuzz_table() wrote there). */
const char *fuzz_tmpdir(void);

/* Prints msg and aborts: how a target reports a broken property. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

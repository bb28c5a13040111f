/* SPDX-License-Identifier: BSD-3-Clause */
/* state.h: the health state of instances and services, written by the
 * checker on the main thread and read, without locks, by DNS workers.
 *
 * Every field a worker reads is an atomic. The last probe result is text, so
 * it sits behind a sequence counter (seqlock): the writer bumps `seq` to odd,
 * writes, bumps to even; a reader copies and retries while `seq` was odd or
 * changed. Use health_inst_result() to read it.
 */
#ifndef SRVD_COMMON_STATE_H
#define SRVD_COMMON_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum health_status {
	HEALTH_UNCHECKED = 0, /* has a check, no result yet: not served */
	HEALTH_PASSING,       /* served */
	HEALTH_FAILING,       /* withdrawn */
};

#define HEALTH_RESULT_MAX 128

struct health_inst {
	_Atomic uint8_t served;         /* 1: in service answers: passing and not drained */
	_Atomic uint8_t status;         /* enum health_status */
	_Atomic uint8_t checked;        /* 0: check type none (always passing) */
	_Atomic uint8_t drained;        /* 1: in maintenance: not served, whatever its status */
	_Atomic uint32_t successes;     /* consecutive passes */
	_Atomic uint32_t failures;      /* consecutive failures */
	_Atomic int64_t last_change_ms; /* CLOCK_REALTIME ms of the last status change */
	_Atomic int64_t last_check_ms;  /* CLOCK_REALTIME ms of the last probe result, 0 = none */
	_Atomic int64_t
	    restored_ms;      /* CLOCK_REALTIME ms of the last failing -> passing, 0 = none */
	_Atomic uint32_t seq; /* seqlock over last_result */
	char last_result[HEALTH_RESULT_MAX]; /* e.g. "ok", "http: status 503" */
};

struct health_svc {
	_Atomic uint32_t n_served;  /* instances with served == 1 */
	_Atomic uint32_t n_passing; /* instances with status PASSING */
	_Atomic uint32_t n_failing; /* instances with status FAILING */
	_Atomic uint32_t n_drained; /* instances in maintenance: outside panic's count */
	_Atomic uint8_t panic;      /* 1 while below panic_threshold */
	/* CLOCK_REALTIME ms of the latest status change and restore of any of
	 * its instances, 0 = none (ttl_min: answers of an unstable service) */
	_Atomic int64_t last_change_ms;
	_Atomic int64_t last_restored_ms;
};

/* Copies the last result of inst into buf (NUL-terminated, at most len
 * bytes) consistently while the writer may be changing it. Returns the
 * string length. */
size_t health_inst_result(const struct health_inst *inst, char *buf, size_t len);

/* Writer side (checker only): sets the last result text. */
void health_inst_set_result(struct health_inst *inst, const char *text);

const char *health_status_name(enum health_status status); /* "unchecked", "passing", "failing" */

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* state.c: lock-free hand-over of an instance's last probe result. */
#include "common/state.h"

#include <string.h>

size_t health_inst_result(const struct health_inst *inst, char *buf, size_t len)
{
	uint32_t before, after;
	size_t n;

	if (len == 0)
		return 0;
	do {
		before = atomic_load_explicit(&inst->seq, memory_order_acquire);
		/* relaxed byte copies: the seqlock tells us whether they were torn */
		for (n = 0; n + 1 < len && n < HEALTH_RESULT_MAX; n++) {
			char c = __atomic_load_n(&inst->last_result[n], __ATOMIC_RELAXED);
			buf[n] = c;
			if (c == '\0')
				break;
		}
		buf[n] = '\0';
		atomic_thread_fence(memory_order_acquire);
		after = atomic_load_explicit(&inst->seq, memory_order_relaxed);
	} while ((before & 1) || before != after);
	return n;
}

void health_inst_set_result(struct health_inst *inst, const char *text)
{
	size_t n = strlen(text);

	if (n >= HEALTH_RESULT_MAX)
		n = HEALTH_RESULT_MAX - 1;
	atomic_fetch_add_explicit(&inst->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&inst->last_result[i], text[i], __ATOMIC_RELAXED);
	__atomic_store_n(&inst->last_result[n], '\0', __ATOMIC_RELAXED);
	atomic_fetch_add_explicit(&inst->seq, 1, memory_order_release);
}

const char *health_status_name(enum health_status status)
{
	switch (status) {
	case HEALTH_UNCHECKED:
		return "unchecked";
	case HEALTH_PASSING:
		return "passing";
	case HEALTH_FAILING:
		return "failing";
	}
	return "?";
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* alloc_count.h: counts every malloc, calloc, realloc, free and friends of the
 * whole test program while `counting` is set, so a test can prove a path
 * allocates nothing. Include it in exactly one file of a test program, then
 * call counter_install() once before counting.
 *
 * In a plain build the functions below replace glibc's for the whole
 * program (ldns, libevent and libc included) and forward to its __libc_*
 * entry points; under ASan, which owns the allocator, the sanitizer's hooks
 * count instead (SRVD_SANITIZERS). */
#ifndef SRVD_TESTS_ALLOC_COUNT_H
#define SRVD_TESTS_ALLOC_COUNT_H

#include <stdatomic.h>
#include <stddef.h>

#include <check.h>

static atomic_int counting;
static atomic_long n_alloc;

static void count(void)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add(&n_alloc, 1);
}

#ifdef SRVD_SANITIZERS
/* from <sanitizer/allocator_interface.h>, which not every compiler ships */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void on_malloc(const volatile void *ptr, size_t size)
{
	(void)ptr;
	(void)size;
	count();
}

static void on_free(const volatile void *ptr)
{
	(void)ptr;
	count();
}

static void counter_install(void)
{
	ck_assert_int_ne(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free), 0);
}
#else
/* glibc's own entry points: the definitions below replace malloc & co. for
 * the whole program (ldns, libevent and libc included) and forward here. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t align, size_t size);
void *memalign(size_t align, size_t size);

void *malloc(size_t size)
{
	count();
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
	count();
	return __libc_realloc(ptr, size);
}

void free(void *ptr)
{
	count();
	__libc_free(ptr);
}

void *memalign(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	count();
	p = __libc_memalign(align, size);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

static void counter_install(void)
{
}
#endif

#endif

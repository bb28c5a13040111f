/* SPDX-License-Identifier: BSD-3-Clause */
/* check_main.h: the one way a unit test program runs its Check suite. */
#ifndef SRVD_TESTS_CHECK_MAIN_H
#define SRVD_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of s (taking ownership) and returns the exit status. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: placeholder until the daemon front door lands. */
#include <stdio.h>
int main(void)
{
	puts("srvd");
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_https.c: check type https: the http check (probe_http.c) over TLS
 * (probe_stream.c), the certificate verified as check.tls says. */
#include "config.h"

#include "health/probe_int.h"

static int https_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	return probe_http_begin(p, sa, salen, 1);
}

const struct probe_ops probe_https_ops = {.start = https_start, .release = probe_http_release};

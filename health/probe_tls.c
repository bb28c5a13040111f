/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_tls.c: check type tls: the TLS handshake succeeds, the certificate
 * verified as check.tls says (probe_stream.c); nothing is sent after it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "health/probe_int.h"

static void tls_release(struct health_probe *p)
{
	probe_stream_free(p->priv);
	p->priv = NULL;
}

static void on_ready(struct health_probe *p, struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	probe_finish(p, 1, "tls: handshake done (%s)", ssl ? SSL_get_version(ssl) : "TLS");
}

static int tls_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	struct probe_stream *s = NULL;
	int r = probe_stream_start(p, sa, salen, 1, NULL, 0, on_ready, &s);

	p->priv = s;
	return r;
}

const struct probe_ops probe_tls_ops = {.start = tls_start, .release = tls_release};

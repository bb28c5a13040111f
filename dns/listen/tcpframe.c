/* SPDX-License-Identifier: BSD-3-Clause */
/* tcpframe.c: the TCP framing state machine (see tcpframe.h). */
#include "config.h"

#include <event2/buffer.h>

#include "dns/answer/answer.h"
#include "dns/listen/tcpframe.h"

enum dns_frame dns_frame_peek(const uint8_t *buf, size_t len, size_t *need)
{
	size_t mlen;

	if (len < 2) {
		*need = 2;
		return DNS_FRAME_MORE;
	}
	mlen = (size_t)buf[0] << 8 | buf[1];
	*need = 2 + mlen;
	if (mlen == 0)
		return DNS_FRAME_EMPTY;
	return len >= *need ? DNS_FRAME_OK : DNS_FRAME_MORE;
}

enum dns_tcpframe_next dns_tcpframe_process(const struct dns_tcpframe *f, struct evbuffer *in,
                                            struct evbuffer *out, size_t *n_queries)
{
	enum dns_tcpframe_next next = DNS_TCPFRAME_MORE;
	size_t avail, need, len, n = 0;
	uint8_t *p;

	for (;;) {
		if (evbuffer_get_length(out) > f->out_hiwat || (f->busy && f->busy(f->arg))) {
			next = DNS_TCPFRAME_PAUSED;
			break;
		}
		avail = evbuffer_get_length(in);
		if (avail < 2)
			break;
		p = evbuffer_pullup(in, 2);
		if (!p) {
			next = DNS_TCPFRAME_ERROR;
			break;
		}
		if (dns_frame_peek(p, 2, &need) == DNS_FRAME_EMPTY) {
			next = DNS_TCPFRAME_CLOSE;
			break;
		}
		if (avail < need)
			break;
		/* one contiguous message: the answer path reads it in place */
		p = evbuffer_pullup(in, (ssize_t)need);
		if (!p || dns_frame_peek(p, need, &need) != DNS_FRAME_OK) {
			next = DNS_TCPFRAME_ERROR;
			break;
		}
		if (f->stream) {
			int rc = f->stream(f->arg, p + 2, need - 2, out);
			if (rc < 0) {
				next = DNS_TCPFRAME_ERROR;
				break;
			}
			if (rc > 0) {
				evbuffer_drain(in, need);
				n++;
				continue;
			}
		}
		len = f->answer(f->arg, p + 2, need - 2, f->buf + 2);
		evbuffer_drain(in, need);
		n++;
		if (len > DNS_MAX_MSG) {
			next = DNS_TCPFRAME_ERROR; /* the answer overran its buffer's contract */
			break;
		}
		if (len > 0) {
			f->buf[0] = (uint8_t)(len >> 8);
			f->buf[1] = (uint8_t)len;
			if (evbuffer_add(out, f->buf, len + 2) < 0) {
				next = DNS_TCPFRAME_ERROR;
				break;
			}
		}
	}
	if (n_queries)
		*n_queries = n;
	return next;
}

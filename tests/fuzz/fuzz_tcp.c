/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_tcp.c: libFuzzer target of the TCP framing state machine
 * (dns/tcpframe.c) fed an arbitrary byte stream in chunks of random sizes,
 * answering with the real dns_answer() over TCP against the fixed registry.
 *
 * Input: 4 bytes seeding the chunk sizes and how much output the client
 * reads when the connection pauses, 1 byte choosing the output bound, then
 * the stream. A model walks the stream's 2-byte length framing on its own;
 * the machine must consume exactly the model's whole queries, in order,
 * stop at a zero-length message, emit exactly one length-prefixed response
 * per answered query in the same order, and never hold more than the bound
 * plus one message of output, pausing (and resuming once drained) as
 * tcp.c relies on. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "dns/answer/answer.h"
#include "dns/listen/tcpframe.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_FRAMES 70000

struct sim {
	const uint8_t *stream;
	size_t slen;
	size_t frame_off[MAX_FRAMES]; /* the model's whole queries, offsets of the prefix */
	size_t n_frames;
	int zero_frame;  /* the model stops at a zero-length message */
	size_t answered; /* queries the machine handed to answer() */
	size_t consumed; /* their bytes with the prefixes */
	struct evbuffer *expect;
	struct evbuffer *out; /* the connection's output, to check the bound */
	size_t hiwat;
	uint8_t *buf;
	uint64_t rng;
};

static uint64_t next_rand(struct sim *s)
{
	/* xorshift64: deterministic per input, so crashes reproduce */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void model(struct sim *s)
{
	size_t p = 0, len;

	s->n_frames = 0;
	s->zero_frame = 0;
	while (s->slen - p >= 2 && s->n_frames < MAX_FRAMES) {
		len = (size_t)s->stream[p] << 8 | s->stream[p + 1];
		if (len == 0) {
			s->zero_frame = 1;
			return;
		}
		if (s->slen - p - 2 < len)
			return;
		s->frame_off[s->n_frames++] = p;
		p += 2 + len;
	}
}

static size_t answer(void *arg, const uint8_t *query, size_t qlen, uint8_t *out)
{
	struct sim *s = arg;
	size_t off, len;
	uint8_t prefix[2];

	if (s->answered >= s->n_frames)
		fuzz_fail("query %zu beyond the model's %zu", s->answered + 1, s->n_frames);
	if (evbuffer_get_length(s->out) > s->hiwat)
		fuzz_fail("answering with %zu bytes of output waiting, bound %zu",
		          evbuffer_get_length(s->out), s->hiwat);
	off = s->frame_off[s->answered];
	if (qlen != ((size_t)s->stream[off] << 8 | s->stream[off + 1]) ||
	    memcmp(query, s->stream + off + 2, qlen) != 0)
		fuzz_fail("query %zu is not the stream's (%zu bytes at %zu)", s->answered, qlen,
		          off);
	if (off != s->consumed)
		fuzz_fail("query %zu at %zu, the machine consumed %zu", s->answered, off,
		          s->consumed);
	s->answered++;
	s->consumed += 2 + qlen;
	len = dns_answer(fuzz_ctx(), fuzz_table(), query, qlen, DNS_TCP, out, DNS_MAX_MSG, NULL);
	if (len > 0) {
		if (len < 12 || qlen < 2 || memcmp(out, query, 2) != 0)
			fuzz_fail("response %zu does not carry its query's ID", s->answered);
		prefix[0] = (uint8_t)(len >> 8);
		prefix[1] = (uint8_t)len;
		if (evbuffer_add(s->expect, prefix, 2) || evbuffer_add(s->expect, out, len))
			fuzz_fail("out of memory");
	}
	return len;
}

/* 1 if in starts with a whole message (or a zero-length one). */
static int whole_frame(struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	uint8_t *p = len >= 2 ? evbuffer_pullup(in, 2) : NULL;

	return p && len >= 2 + ((size_t)p[0] << 8 | p[1]);
}

/* The client reads output until at most `keep` bytes wait. */
static void client_reads(struct evbuffer *out, struct evbuffer *got, size_t keep)
{
	size_t len = evbuffer_get_length(out);

	if (len > keep && evbuffer_remove_buffer(out, got, len - keep) != (int)(len - keep))
		fuzz_fail("evbuffer_remove_buffer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim *s;
	static const size_t chunk_max[] = {1, 2, 3, 13, 100, 512, 4096, 70000};
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new(), *got = evbuffer_new();
	struct dns_tcpframe f;
	enum dns_tcpframe_next next = DNS_TCPFRAME_MORE;
	size_t pos = 0, n, lowat, cmax;
	int closed = 0;

	if (size < 5)
		goto done;
	if (!s && !(s = calloc(1, sizeof(*s))))
		fuzz_fail("out of memory");
	if (!s->buf && !(s->buf = malloc(2 + DNS_MAX_MSG)))
		fuzz_fail("out of memory");
	if (!in || !out || !got || !(s->expect = evbuffer_new()))
		fuzz_fail("out of memory");
	s->rng =
	    ((uint64_t)data[0] << 24 | (uint64_t)data[1] << 16 | (uint64_t)data[2] << 8 | data[3]) *
	        0x9E3779B97F4A7C15ull +
	    1;
	s->stream = data + 5;
	s->slen = size - 5;
	s->answered = s->consumed = 0;
	model(s);
	f = (struct dns_tcpframe){.answer = answer,
	                          .arg = s,
	                          .buf = s->buf,
	                          .out_hiwat = data[4] < 128 ? (size_t)data[4] * 64 : 128 * 1024};
	s->out = out;
	s->hiwat = f.out_hiwat;
	lowat = f.out_hiwat / 4;
	cmax = chunk_max[data[4] % (sizeof(chunk_max) / sizeof(chunk_max[0]))];

	while (!closed) {
		if (next == DNS_TCPFRAME_PAUSED) {
			client_reads(out, got, (size_t)(next_rand(s) % (lowat + 1)));
		} else {
			if (pos == s->slen)
				break;
			n = 1 +
			    (size_t)(next_rand(s) % (cmax < s->slen - pos ? cmax : s->slen - pos));
			if (evbuffer_add(in, s->stream + pos, n))
				fuzz_fail("out of memory");
			pos += n;
		}
		next = dns_tcpframe_process(&f, in, out, &n);
		if (evbuffer_get_length(out) > f.out_hiwat + 2 + DNS_MAX_MSG)
			fuzz_fail("output %zu over the bound %zu", evbuffer_get_length(out),
			          f.out_hiwat + 2 + DNS_MAX_MSG);
		switch (next) {
		case DNS_TCPFRAME_MORE:
			if (whole_frame(in))
				fuzz_fail("needs more input with a whole query in it");
			break;
		case DNS_TCPFRAME_PAUSED:
			if (evbuffer_get_length(out) <= f.out_hiwat)
				fuzz_fail("paused with %zu bytes of output",
				          evbuffer_get_length(out));
			break;
		case DNS_TCPFRAME_CLOSE:
			closed = 1;
			break;
		case DNS_TCPFRAME_ERROR:
			fuzz_fail("error (out of memory?)");
		}
	}
	if (s->answered != s->n_frames)
		fuzz_fail("%zu queries answered, the stream holds %zu", s->answered, s->n_frames);
	if (closed != s->zero_frame)
		fuzz_fail("closed %d, zero-length message %d", closed, s->zero_frame);
	if (evbuffer_get_length(in) != s->slen - s->consumed - (s->slen - pos))
		fuzz_fail("%zu bytes left in the input, expected %zu", evbuffer_get_length(in),
		          pos - s->consumed);
	client_reads(out, got, 0);
	n = evbuffer_get_length(got);
	if (n != evbuffer_get_length(s->expect) ||
	    (n && memcmp(evbuffer_pullup(got, -1), evbuffer_pullup(s->expect, -1), n) != 0))
		fuzz_fail("output (%zu bytes) is not the responses in order (%zu bytes)", n,
		          evbuffer_get_length(s->expect));
done:
	if (s && s->expect) {
		evbuffer_free(s->expect);
		s->expect = NULL;
	}
	if (in)
		evbuffer_free(in);
	if (out)
		evbuffer_free(out);
	if (got)
		evbuffer_free(got);
	return 0;
}

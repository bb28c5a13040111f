/* SPDX-License-Identifier: BSD-3-Clause */
/* json.h: a small streaming JSON writer into a libevent evbuffer.
 *
 * The writer tracks nesting and commas; strings are escaped per RFC 8259
 * and always come out as valid UTF-8 (invalid bytes become U+FFFD), so text
 * from files or clients can be passed as is. Out of memory is sticky:
 * json_failed() reports it at the end instead of every call checking.
 */
#ifndef SRVD_API_JSON_H
#define SRVD_API_JSON_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define JSON_MAX_DEPTH 16

struct json {
	struct evbuffer *out; /* borrowed */
	int depth;
	int failed;
	unsigned char first[JSON_MAX_DEPTH]; /* no member written yet at this depth */
	unsigned char after_key;             /* the next value follows a key */
};

/* Starts writing into out (borrowed for the writer's life). */
void json_init(struct json *j, struct evbuffer *out);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
/* A member name inside an object; the next call writes its value. */
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s); /* NULL writes null */
void json_strn(struct json *j, const char *s, size_t len);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_double(struct json *j, double v); /* non-finite values write null */
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* A key and its value in one call. */
void json_kstr(struct json *j, const char *key, const char *s);
void json_kint(struct json *j, const char *key, int64_t v);
void json_kuint(struct json *j, const char *key, uint64_t v);
void json_kbool(struct json *j, const char *key, int v);

/* Writes s as a JSON string (quotes included) into out; the escaping used
 * by the writer. Returns 0 or -1 on out of memory. */
int json_escape(struct evbuffer *out, const char *s, size_t len);

/* 1 if anything failed (out of memory, nesting deeper than JSON_MAX_DEPTH or
 * unbalanced), else 0. */
int json_failed(const struct json *j);

#endif

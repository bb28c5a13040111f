/* SPDX-License-Identifier: BSD-3-Clause */
/* json.c: the streaming JSON writer (RFC 8259) with strict string escaping. */
#include "config.h"

#include "api/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0 if the
 * bytes there are not one: overlong forms, surrogates and values past
 * U+10FFFF are rejected as RFC 3629 says. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int json_escape(struct evbuffer *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	int rc = 0;

	rc |= evbuffer_add(out, "\"", 1);
	while (i < len) {
		const char *esc = NULL;
		char hex[8];
		size_t n = utf8_len(s + i, len - i);

		if (n > 1 ||
		    (n == 1 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] != 0x7f)) {
			i += n;
			run += n;
			continue;
		}
		/* flush the plain run before the byte that needs escaping */
		rc |= evbuffer_add(out, s + i - run, run);
		run = 0;
		if (n == 0) {
			esc = "\\ufffd";
		} else {
			switch (s[i]) {
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			default:
				snprintf(hex, sizeof(hex), "\\u%04x", s[i]);
				esc = hex;
			}
		}
		rc |= evbuffer_add(out, esc, strlen(esc));
		i++;
	}
	rc |= evbuffer_add(out, s + i - run, run);
	rc |= evbuffer_add(out, "\"", 1);
	return rc ? -1 : 0;
}

void json_init(struct json *j, struct evbuffer *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->first[0] = 1;
}

static void put(struct json *j, const char *s, size_t len)
{
	if (evbuffer_add(j->out, s, len) < 0)
		j->failed = 1;
}

/* Writes the comma before a value or key when one is due. */
static void sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (!j->first[j->depth])
		put(j, ",", 1);
	j->first[j->depth] = 0;
}

static void nest_open(struct json *j, const char *c)
{
	sep(j);
	put(j, c, 1);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->failed = 1;
		return;
	}
	j->first[++j->depth] = 1;
}

static void nest_close(struct json *j, const char *c)
{
	if (j->depth == 0 || j->after_key) {
		j->failed = 1;
		return;
	}
	j->depth--;
	put(j, c, 1);
}

void json_obj_begin(struct json *j)
{
	nest_open(j, "{");
}

void json_obj_end(struct json *j)
{
	nest_close(j, "}");
}

void json_arr_begin(struct json *j)
{
	nest_open(j, "[");
}

void json_arr_end(struct json *j)
{
	nest_close(j, "]");
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	if (json_escape(j->out, key, strlen(key)) < 0)
		j->failed = 1;
	put(j, ":", 1);
	j->after_key = 1;
}

void json_strn(struct json *j, const char *s, size_t len)
{
	sep(j);
	if (json_escape(j->out, s, len) < 0)
		j->failed = 1;
}

void json_str(struct json *j, const char *s)
{
	if (!s)
		json_null(j);
	else
		json_strn(j, s, strlen(s));
}

void json_int(struct json *j, int64_t v)
{
	char buf[32];

	sep(j);
	put(j, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRId64, v));
}

void json_uint(struct json *j, uint64_t v)
{
	char buf[32];

	sep(j);
	put(j, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, v));
}

void json_double(struct json *j, double v)
{
	char buf[40];

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	sep(j);
	put(j, buf, (size_t)snprintf(buf, sizeof(buf), "%.15g", v));
}

void json_bool(struct json *j, int v)
{
	sep(j);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void json_null(struct json *j)
{
	sep(j);
	put(j, "null", 4);
}

void json_kstr(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_str(j, s);
}

void json_kint(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void json_kuint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_kbool(struct json *j, const char *key, int v)
{
	json_key(j, key);
	json_bool(j, v);
}

int json_failed(const struct json *j)
{
	return j->failed || j->depth != 0 || j->after_key;
}

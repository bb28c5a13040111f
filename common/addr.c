/* SPDX-License-Identifier: BSD-3-Clause */
/* addr.c: parsing, formatting and comparing socket addresses (addr.h). */
#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse_hostport(const char *text, struct sockaddr_storage *out, socklen_t *len,
                        uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = text;
	size_t hlen;
	unsigned long p = 0;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || end[1] != ':')
			return -1;
		h = text + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strchr(text, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -1;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host) || !colon[1])
		return -1;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9' || p > 65535)
			return -1;
		p = p * 10 + (unsigned long)(*d - '0');
	}
	if (p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
	}
	*port = (uint16_t)p;
	return 0;
}

void addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

static int same(const struct sockaddr *a, const struct sockaddr *b, int port)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return (!port || x->sin_port == y->sin_port) &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return (!port || x->sin6_port == y->sin6_port) &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

int addr_same(const struct sockaddr *a, const struct sockaddr *b)
{
	return same(a, b, 1);
}

int addr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	return same(a, b, 0);
}

int addr_parse_prefix(const char *text, int *v6, uint8_t addr[16], unsigned *bits)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	size_t len = strlen(text);
	unsigned max;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*v6 = 0;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*v6 = 1;
		max = 128;
	} else {
		return -1;
	}
	*bits = max;
	if (slash) {
		unsigned long v;

		if (!slash[1] || slash[1] < '0' || slash[1] > '9')
			return -1;
		v = strtoul(slash + 1, &end, 10);
		if (*end || v > max)
			return -1;
		*bits = (unsigned)v;
	}
	for (unsigned i = *bits; i < max; i++)
		addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	return 0;
}

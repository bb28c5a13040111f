/* SPDX-License-Identifier: BSD-3-Clause */
/* xfr_acl.c: server.transfer.allow, the address prefixes that may transfer
 * the zone (xfr.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/transfer/xfr.h"

struct prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

struct dns_xfr_acl {
	struct prefix *p;
	size_t n;
};

static int parse_prefix(const char *text, struct prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max;
	size_t len = strlen(text);

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	p->bits = max;
	if (slash) {
		unsigned long v;
		if (!slash[1] || slash[1] == '-' || slash[1] == '+')
			return -1;
		v = strtoul(slash + 1, &end, 10);
		if (*end || v > max)
			return -1;
		p->bits = (unsigned)v;
	}
	return 0;
}

int dns_xfr_acl_create(char *const *prefixes, size_t n, struct dns_xfr_acl **out, char *err,
                       size_t errlen)
{
	struct dns_xfr_acl *acl = calloc(1, sizeof(*acl));

	*out = NULL;
	if (!acl || (n && !(acl->p = calloc(n, sizeof(*acl->p))))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_prefix(prefixes[i], &acl->p[i]) < 0) {
			snprintf(err, errlen, "transfer.allow: bad address prefix '%s'",
			         prefixes[i]);
			goto fail;
		}
	}
	acl->n = n;
	*out = acl;
	return 0;
fail:
	dns_xfr_acl_free(acl);
	return -1;
}

void dns_xfr_acl_free(struct dns_xfr_acl *acl)
{
	if (!acl)
		return;
	free(acl->p);
	free(acl);
}

static int prefix_match(const struct prefix *p, const uint8_t *addr)
{
	unsigned full = p->bits / 8, rest = p->bits % 8;

	if (memcmp(p->addr, addr, full))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xFF << (8 - rest));
		if ((p->addr[full] & mask) != (addr[full] & mask))
			return 0;
	}
	return 1;
}

int dns_xfr_acl_allows(const struct dns_xfr_acl *acl, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	const uint8_t *addr;
	int family;

	if (!acl || !sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
		if (!memcmp(addr, v4mapped, sizeof(v4mapped))) {
			family = AF_INET;
			addr += 12;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < acl->n; i++)
		if (acl->p[i].family == family && prefix_match(&acl->p[i], addr))
			return 1;
	return 0;
}

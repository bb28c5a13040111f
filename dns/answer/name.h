/* SPDX-License-Identifier: BSD-3-Clause */
/* name.h: wire-format helpers shared by the table builder and the answer
 * path: big-endian stores, record body headers, uncompressed names. Private
 * to dns/. */
#ifndef SRVD_DNS_NAME_H
#define SRVD_DNS_NAME_H

#include <stddef.h>
#include <stdint.h>

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writes type, class, ttl and rdlength: the 10 bytes every body starts with. */
static inline void dns_body_head(uint8_t *p, uint16_t type, uint16_t cls, uint32_t ttl,
                                 uint16_t rdlen)
{
	dns_put16(p, type);
	dns_put16(p + 2, cls);
	dns_put32(p + 4, ttl);
	dns_put16(p + 8, rdlen);
}

/* Lowercases the ASCII letters of a wire name in place. */
void dns_name_lower(uint8_t *name, size_t len);

/* Wire length of a well-formed uncompressed name, root included. */
size_t dns_name_wire_len(const uint8_t *name);

/* Converts a text domain name to lowercase wire form in out; returns its
 * length, or 0 if it is not a valid name. */
size_t dns_name_from_text(const char *text, uint8_t out[256]);

/* Writes the label prefix+label (lowercased) followed by rest into out
 * (which may alias rest); returns the new length, or 0 if the label or the
 * name would be too long. */
size_t dns_name_prepend(uint8_t out[256], const char *prefix, const char *label,
                        const uint8_t *rest, size_t rest_len);

/* Returns 1 when name is apex or below it (both lowercase wire). */
int dns_name_under(const uint8_t *name, size_t len, const uint8_t *apex, size_t alen);

#endif

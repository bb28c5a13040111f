/* SPDX-License-Identifier: BSD-3-Clause */
/* addr.h: socket addresses: the one home of "A.B.C.D:PORT" / "[V6]:PORT"
 * parsing and formatting and of address comparison (Knot's
 * contrib/sockaddr.c), for the registry, the listeners, forwarding, NOTIFY
 * and the control API. Literal addresses only: nothing is ever looked up. */
#ifndef SRVD_COMMON_ADDR_H
#define SRVD_COMMON_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses "192.0.2.1:53" or "[2001:db8::1]:53" (port 0..65535, digits only)
 * into *out (*len bytes) and *port. Returns 0, or -1 if text is not such an
 * address (callers narrow the port range). */
int addr_parse_hostport(const char *text, struct sockaddr_storage *out, socklen_t *len,
                        uint16_t *port);

/* "192.0.2.1:53", "[::1]:53" (or "(family N)") into buf. */
void addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* 1 if a and b are the same IPv4 or IPv6 address, with (addr_same) or
 * without (addr_same_host) the port; 0 otherwise, or for other families. */
int addr_same(const struct sockaddr *a, const struct sockaddr *b);
int addr_same_host(const struct sockaddr *a, const struct sockaddr *b);

/* Parses "10.1.0.0/16", "2001:db8::/48" or a lone address (a prefix of its
 * full length) into *v6 (0 IPv4, 1 IPv6), addr (16 bytes: IPv4 in the
 * first 4, zero past the prefix) and *bits. Returns 0, or -1 if text is
 * not one. (server.sites; transfer.allow keeps its own in xfr_acl.c.) */
int addr_parse_prefix(const char *text, int *v6, uint8_t addr[16], unsigned *bits);

#endif

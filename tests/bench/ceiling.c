/* SPDX-License-Identifier: BSD-3-Clause */
/* ceiling.c: a zero-work UDP responder, the upper bound a DNS server can reach on this kernel.
 *
 * usage: ceiling [ADDR [PORT]]   (default 127.0.0.1, port 0 = any free port)
 *
 * It turns every datagram of at least a DNS header around with QR set and
 * sends it back, batched with recvmmsg/sendmmsg, in one thread. With no DNS
 * work at all, its CPU per query is the cost of the loopback path and the
 * syscalls; a server's CPU per query minus this one's is its DNS work. It
 * prints "listening on ADDR:PORT" once bound and runs until killed. Only
 * loopback addresses are accepted: it is a benchmark tool, not a server.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define BUFSZ 4096

static unsigned char bufs[BATCH][BUFSZ];
static struct sockaddr_in peers[BATCH];
static struct iovec iovs[BATCH];
static struct mmsghdr rmsg[BATCH];
static struct mmsghdr smsg[BATCH];

static int open_socket(const char *addr, const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	char *end;
	long p = strtol(port, &end, 10);
	int fd = -1, sz = 4 << 20;

	if (*end != '\0' || p < 0 || p > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "ceiling: bad address %s port %s\n", addr, port);
		goto fail;
	}
	if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "ceiling: %s is not a loopback address\n", addr);
		goto fail;
	}
	sa.sin_port = htons((unsigned short)p);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		goto fail_errno;
	/* the same buffer sizes a server would ask for; best effort */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		goto fail_errno;
	printf("listening on %s:%u\n", addr, ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
fail_errno:
	fprintf(stderr, "ceiling: %s:%s: %s\n", addr, port, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static void serve(int fd)
{
	for (int i = 0; i < BATCH; i++) {
		iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = BUFSZ};
		rmsg[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
		                                  .msg_namelen = sizeof(peers[i]),
		                                  .msg_iov = &iovs[i],
		                                  .msg_iovlen = 1};
	}
	for (;;) {
		int n, out = 0;

		for (int i = 0; i < BATCH; i++)
			rmsg[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		/* blocks for the first datagram, then takes whatever else is queued */
		n = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("ceiling: recvmmsg");
			return;
		}
		for (int i = 0; i < n; i++) {
			unsigned char *q = bufs[i];

			if (rmsg[i].msg_len < 12 || (q[2] & 0x80))
				continue;
			q[2] |= 0x80;
			smsg[out].msg_hdr = rmsg[i].msg_hdr;
			smsg[out].msg_hdr.msg_iov->iov_len = rmsg[i].msg_len;
			out++;
		}
		for (int done = 0; done < out;) {
			int r = sendmmsg(fd, smsg + done, (unsigned)(out - done), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				break; /* a full socket buffer loses the rest, as a server would */
			}
			done += r;
		}
		for (int i = 0; i < out; i++)
			smsg[i].msg_hdr.msg_iov->iov_len = BUFSZ;
	}
}

int main(int argc, char **argv)
{
	int fd = open_socket(argc > 1 ? argv[1] : "127.0.0.1", argc > 2 ? argv[2] : "0");

	if (fd < 0)
		return 1;
	serve(fd);
	close(fd);
	return 1;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_util.c: see fuzz_util.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/answer/answer.h"
#include "dns/answer/table.h"
#include "registry/registry.h"
#include "tests/fuzz/fuzz_util.h"

static char tmpdir[512];
static char zone_paths[2][600];
static struct dns_table *table;
static struct dns_ctx *ctx;

/* Static records in the service zone (no SOA): CNAME chains and loops, and
 * NS, MX and SRV whose targets have addresses for the additional section. */
static const char service_zone[] = "$ORIGIN svc.example.\n"
                                   "$TTL 300\n"
                                   "ns1          IN A      192.0.2.1\n"
                                   "ns1          IN AAAA   2001:db8::1\n"
                                   "www          IN CNAME  web.svc.example.\n"
                                   "alias        IN CNAME  www.svc.example.\n"
                                   "loop1        IN CNAME  loop2.svc.example.\n"
                                   "loop2        IN CNAME  loop1.svc.example.\n"
                                   "gone         IN CNAME  nothere.svc.example.\n"
                                   "ext          IN CNAME  elsewhere.example.net.\n"
                                   "docs         IN TXT    \"static text\" \"two strings\"\n"
                                   "docs         IN A      192.0.2.80\n"
                                   "mail         IN MX     10 mx.svc.example.\n"
                                   "mx           IN A      192.0.2.25\n"
                                   "_ldap._tcp   IN SRV    0 0 389 ldap.svc.example.\n"
                                   "ldap         IN A      192.0.2.40\n"
                                   "ldap         IN AAAA   2001:db8::40\n";

/* A zone of its own (it has an SOA). */
static const char other_zone[] = "$ORIGIN static.example.\n"
                                 "$TTL 600\n"
                                 "@     IN SOA  ns.static.example. admin.static.example. 7 3600 "
                                 "600 86400 60\n"
                                 "@     IN NS   ns.static.example.\n"
                                 "@     IN MX   5 host.static.example.\n"
                                 "ns    IN A    192.0.2.53\n"
                                 "host  IN AAAA 2001:db8::53\n"
                                 "host  IN A    192.0.2.54\n"
                                 "txt   IN TXT  \"hello\"\n";

static const char yaml_head[] = "server:\n"
                                "  listen: [\"127.0.0.1:0\"]\n"
                                "  sites: {east: [10.1.0.0/16], west: [\"2001:db8::/32\"]}\n"
                                "  zone: svc.example.\n"
                                "  ttl: 5\n"
                                "  max_answers: 8\n"
                                "  edns_udp_size: 1400\n"
                                "  identity: fuzz.example\n"
                                "  version: srvd-fuzz\n"
                                "  reverse: [\"192.0.2.0/24\", \"2001:db8:1::/48\"]\n"
                                "zones: [service.zone, other.zone]\n"
                                "defaults:\n"
                                "  check: {type: none}\n"
                                "services:\n"
                                "  web:\n"
                                "    port: 8080\n"
                                "    tags: [http]\n"
                                "    policy: random\n"
                                "    instances:\n"
                                "      - {name: web-1, address: 192.0.2.11, weight: 10, tags: "
                                "[canary]}\n"
                                "      - {name: web-2, address: 192.0.2.12, port: 8081}\n"
                                "      - {name: web-3, address: \"2001:db8::13\"}\n"
                                "      - {name: web-5, address: [192.0.2.15, \"2001:db8::15\", "
                                "192.0.2.11]}\n"
                                "      - {name: web-4, address: 192.0.2.11, port: 8082}\n"
                                "  api:\n"
                                "    protocol: udp\n"
                                "    port: 53\n"
                                "    ports: {http: 8080, dns: {port: 5353, protocol: tcp}}\n"
                                "    policy: weighted\n"
                                "    max_answers: 2\n"
                                "    failover: true\n"
                                "    instances:\n"
                                "      - {name: a1, address: 192.0.2.31, weight: 5, priority: "
                                "1, tags: [blue]}\n"
                                "      - {name: a2, address: \"2001:db8::32\", weight: 0}\n"
                                "      - {name: a3, address: 192.0.2.33, tags: [blue, green], "
                                "ports: {http: 8081}}\n"
                                "  fixed:\n"
                                "    port: 9\n"
                                "    policy: fixed\n"
                                "    ttl: 0\n"
                                "    ttl_min: 0\n"
                                "    meta: {version: 1.4.2}\n"
                                "    instances:\n"
                                "      - {name: f1, address: 192.0.2.41, meta: {commit: "
                                "ab12cd}}\n"
                                "  sticky:\n"
                                "    port: 8\n"
                                "    policy: hashed\n"
                                "    locality: prefer\n"
                                "    instances:\n"
                                "      - {name: s1, address: 192.0.2.51, site: east}\n"
                                "      - {name: s2, address: \"2001:db8::52\", site: west}\n"
                                "      - {name: s3, address: 192.0.2.53}\n"
                                "  empty:\n"
                                "    port: 7\n"
                                "    empty: nxdomain\n"
                                "    instances: []\n"
                                "  big:\n"
                                "    port: 443\n"
                                "    max_answers: 0\n"
                                "    tags: [all]\n"
                                "    instances:\n";

static void cleanup(void)
{
	dns_ctx_free(ctx);
	dns_table_free(table);
	ctx = NULL;
	table = NULL;
	for (size_t i = 0; i < 2; i++)
		if (zone_paths[i][0])
			unlink(zone_paths[i]);
	if (tmpdir[0])
		rmdir(tmpdir);
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The code under test reaches the kernel's randomness only through
 * getrandom() (dns_ctx_create(0), RRL and forwarder secrets, health jitter,
 * NOTIFY IDs); every fuzz program links with --wrap=getrandom, so a path
 * that seeds itself ends the run instead of making it unrepeatable. */
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags)
{
	(void)buf;
	(void)flags;
	fuzz_fail("getrandom(%zu bytes) reached: seed that generator with a constant, so that "
	          "a fuzz run repeats exactly",
	          len);
}

const char *fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR"), *fixed = getenv("SRVD_FUZZ_SCRATCH");

	if (tmpdir[0])
		return tmpdir;
	/* run.sh names the folder: mkdtemp's random name reaches the inputs
	 * (libFuzzer's dictionary takes strings the code compares) and from
	 * there the hash tables, so that runs would differ */
	if (fixed && *fixed) {
		snprintf(tmpdir, sizeof(tmpdir), "%s", fixed);
		if (mkdir(tmpdir, 0700) < 0)
			fuzz_fail("mkdir %s failed (it must not exist)", tmpdir);
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "%s/srvd-fuzz-XXXXXX",
		         base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir))
			fuzz_fail("mkdtemp %s failed", tmpdir);
	}
	atexit(cleanup);
	return tmpdir;
}

static void write_file(char *path, size_t cap, const char *name, const char *text)
{
	FILE *fp;

	snprintf(path, cap, "%s/%s", fuzz_tmpdir(), name);
	fp = fopen(path, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0)
		fuzz_fail("cannot write %s", path);
}

static void build(void)
{
	/* 40 instances with long names: more than one UDP answer holds */
	size_t cap = sizeof(yaml_head) + 40 * 128, len;
	char *yaml = malloc(cap), path[600];
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	char err[256] = "";

	if (!yaml)
		fuzz_fail("out of memory");
	len = (size_t)snprintf(yaml, cap, "%s", yaml_head);
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(yaml + len, cap - len,
		                        "      - {name: instance-with-a-long-name-%02d, address: "
		                        "\"2001:db8:1::%x\", weight: %d}\n",
		                        i, i + 1, i % 7);
	log_set_level(LOG_LEVEL_ERR);
	write_file(zone_paths[0], sizeof(zone_paths[0]), "service.zone", service_zone);
	write_file(zone_paths[1], sizeof(zone_paths[1]), "other.zone", other_zone);
	snprintf(path, sizeof(path), "%s/fuzz.yaml", fuzz_tmpdir());
	if (registry_load_string(yaml, path, &reg, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		fuzz_fail("the fixed registry does not load");
	}
	free(yaml);
	if (dns_table_build(reg, 2024060101u, &table, err, sizeof(err)) != 0)
		fuzz_fail("dns_table_build: %s", err);
	registry_free(reg);
	dns_table_set_ready(table, 1);
	ctx = dns_ctx_create(1);
	if (!ctx)
		fuzz_fail("out of memory");
}

const struct dns_table *fuzz_table(void)
{
	if (!table)
		build();
	return table;
}

struct dns_ctx *fuzz_ctx(void)
{
	if (!table)
		build();
	return ctx;
}

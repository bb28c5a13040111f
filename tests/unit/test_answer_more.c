/* SPDX-License-Identifier: BSD-3-Clause */
/* test_answer_more.c: the answers of SPEC section 11 (README "More answers"),
 * through dns_answer() and ldns, and their registry keys' errors. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

#define HEAD                                                                                       \
	"server:\n"                                                                                \
	"  zone: svc.example.\n"                                                                   \
	"  ttl: 5\n"                                                                               \
	"  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example., ttl: 3600,\n"            \
	"        refresh: 3600, retry: 600, expire: 86400, minimum: 5}\n"                          \
	"defaults:\n"                                                                              \
	"  policy: fixed\n"                                                                        \
	"  check: {type: none}\n"

static struct dns_ctx *ctx;

static void setup(void)
{
	ctx = dns_ctx_create(42);
	ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
	dns_ctx_free(ctx);
}

/* The errors of loading yaml as x.yaml, one line each, '\n'-separated. */
static char *load_errors(const char *yaml)
{
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	size_t len = 1;
	char *out;

	ck_assert_int_eq(registry_load_string(yaml, "x.yaml", &reg, &errs), -1);
	for (size_t i = 0; i < errs.n; i++)
		len += strlen(errs.lines[i]) + 1;
	out = calloc(1, len);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < errs.n; i++) {
		if (i)
			strcat(out, "\n");
		strcat(out, errs.lines[i]);
	}
	registry_errors_clear(&errs);
	return out;
}

static void expect_error(const char *yaml, const char *want)
{
	char *got = load_errors(yaml);

	ck_assert_msg(strcmp(got, want) == 0, "%s\nexpected:\n%s\ngot:\n%s", yaml, want, got);
	free(got);
}

/* rcode of name/type, with the SOA of zone in authority when negative. */
static void expect_rcode(const struct dns_table *t, const char *name, ldns_rr_type type,
                         ldns_pkt_rcode rcode, size_t n_answer)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);

	ck_assert_ptr_nonnull(p);
	ck_assert_msg(ldns_pkt_get_rcode(p) == rcode, "%s: rcode %d, expected %d", name,
	              ldns_pkt_get_rcode(p), rcode);
	ck_assert_uint_eq(tu_count(ldns_pkt_answer(p)), n_answer);
	ck_assert(ldns_pkt_aa(p));
	if (!n_answer) {
		ck_assert_uint_eq(tu_count(ldns_pkt_authority(p)), 1);
		ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), 0)),
		                 LDNS_RR_TYPE_SOA);
	}
	ldns_pkt_free(p);
}

/* Item 9: empty: nxdomain. */
static const char *empty_yaml = HEAD "services:\n"
                                     "  web:\n"
                                     "    port: 80\n"
                                     "    empty: nxdomain\n"
                                     "    tags: [blue]\n"
                                     "    instances:\n"
                                     "      - {name: web-1, address: 192.0.2.11, tags: [canary]}\n"
                                     "      - {name: web-2, address: 192.0.2.12}\n"
                                     "  db:\n"
                                     "    port: 5432\n"
                                     "    instances:\n"
                                     "      - {name: db-1, address: 192.0.2.21}\n";

/* every name of web's subtree, and _web._tcp */
static const char *const web_names[] = {
    "web.svc.example.",       "blue.web.svc.example.",          "canary.web.svc.example.",
    "_web._tcp.svc.example.", "_canary._tcp.web.svc.example.",  "_tcp.web.svc.example.",
    "web-1.web.svc.example.", "_health.web-1.web.svc.example.", "_health.web.svc.example.",
    "x.web.svc.example.",
};

START_TEST(empty_nxdomain)
{
	struct dns_table *t = tu_table(empty_yaml);
	struct tu_health *h = tu_health_bind(t);

	/* served: answers as ever */
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 2);
	expect_rcode(t, "_tcp.web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "web-1.web.svc.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, 0);
	tu_health_set(h, 0, 0, 0);
	/* one left: still there, the canary tag's name NODATA */
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1);
	expect_rcode(t, "canary.web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	tu_health_set(h, 0, 1, 0);
	for (size_t i = 0; i < sizeof(web_names) / sizeof(web_names[0]); i++) {
		expect_rcode(t, web_names[i], LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, 0);
		expect_rcode(t, web_names[i], LDNS_RR_TYPE_TXT, LDNS_RCODE_NXDOMAIN, 0);
		expect_rcode(t, web_names[i], LDNS_RR_TYPE_SRV, LDNS_RCODE_NXDOMAIN, 0);
	}
	/* other names stay */
	expect_rcode(t, "db.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1);
	expect_rcode(t, "_tcp.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "svc.example.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, 1);
	expect_rcode(t, "_health.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, 1);
	/* panic answers with every instance: not empty then */
	atomic_store(&h->svc[0].panic, 1);
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 2);
	atomic_store(&h->svc[0].panic, 0);
	/* back */
	tu_health_set(h, 0, 1, 1);
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1);
	expect_rcode(t, "_health.web.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, 1);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(empty_nodata_default)
{
	struct dns_table *t = tu_table(empty_yaml);
	struct tu_health *h = tu_health_bind(t);

	/* db keeps the default: NODATA with nothing served */
	tu_health_set(h, 1, 0, 0);
	expect_rcode(t, "db.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "_db._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "db-1.db.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(empty_no_instances)
{
	struct dns_table *t = tu_table("server: {zone: svc.example.}\n"
	                               "defaults: {empty: nxdomain}\n"
	                               "services:\n  web: {port: 80}\n");

	/* a service without instances is empty from the start (defaults: too) */
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, 0);
	expect_rcode(t, "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NXDOMAIN, 0);
	dns_table_free(t);
}
END_TEST

START_TEST(empty_errors)
{
	expect_error("services:\n  web: {port: 80, empty: none}\n",
	             "x.yaml:2:26: services.web.empty: \"none\" is not one of nodata, nxdomain");
	expect_error("server: {empty: nxdomain}\n", "x.yaml:1:10: server.empty: unknown key");
}
END_TEST

/* Item 8: meta. */
static const char *meta_yaml =
    HEAD "services:\n"
         "  web:\n"
         "    port: 80\n"
         "    ttl: 7\n"
         "    meta: {version: 1.4.2, commit: ab12cd}\n"
         "    instances:\n"
         "      - {name: web-1, address: 192.0.2.11, meta: {commit: ef34, zone: eu-1}}\n"
         "      - {name: web-2, address: 192.0.2.12}\n"
         "  db:\n"
         "    port: 5432\n"
         "    instances:\n"
         "      - {name: db-1, address: 192.0.2.21, meta: {role: primary}}\n"
         "      - {name: db-2, address: 192.0.2.22}\n";

static void expect_txt(const struct dns_table *t, const char *name, const char *want)
{
	ldns_pkt *p = tu_q(ctx, t, name, LDNS_RR_TYPE_TXT);

	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_owner(ldns_pkt_answer(p), 0), name);
	ck_assert_str_eq(tu_txt(ldns_pkt_answer(p), 0), want);
	ldns_pkt_free(p);
}

START_TEST(meta_txt)
{
	struct dns_table *t = tu_table(meta_yaml);
	ldns_pkt *p;

	/* the service's keys, the instance's value where it sets one, then its own */
	expect_txt(t, "web-1.web.svc.example.", "version=1.4.2|commit=ef34|zone=eu-1");
	expect_txt(t, "web-2.web.svc.example.", "version=1.4.2|commit=ab12cd");
	expect_txt(t, "db-1.db.svc.example.", "role=primary");
	p = tu_q(ctx, t, "web-1.web.svc.example.", LDNS_RR_TYPE_TXT);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 7);
	ldns_pkt_free(p);
	/* no meta: NODATA; the addresses as ever; other names have no TXT */
	expect_rcode(t, "db-2.db.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "web.svc.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, 0);
	expect_rcode(t, "web-1.web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1);
	expect_rcode(t, "web-1.web.svc.example.", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR, 1);
	dns_table_free(t);
}
END_TEST

START_TEST(meta_errors)
{
	char yaml[1024], want[512], big[300];

	expect_error("services:\n  web: {port: 80, meta: [a]}\n",
	             "x.yaml:2:25: services.web.meta: expected a mapping of keys to values, got a "
	             "list");
	expect_error("services:\n  web: {port: 80, meta: {\"a=b\": 1}}\n",
	             "x.yaml:2:26: services.web.meta.a=b: \"a=b\" is not a metadata key (letters, "
	             "digits, '-', '_', '.'; 1 to 63 characters)");
	expect_error("services:\n  web: {port: 80, meta: {a: {b: c}}}\n",
	             "x.yaml:2:29: services.web.meta.a: expected a value, got a mapping");
	expect_error("services:\n  web: {port: 80, meta: {a: 1, a: 2}}\n",
	             "x.yaml:2:32: services.web.meta.a: duplicate key \"a\"");
	expect_error("services:\n  web:\n    port: 80\n    instances:\n"
	             "      - {name: i, address: 192.0.2.1, meta: {a: \"x\\ty\"}}\n",
	             "x.yaml:5:49: services.web.instances[0].meta.a: a value may hold no control "
	             "characters");
	memset(big, 'v', 254);
	big[254] = '\0';
	snprintf(yaml, sizeof(yaml), "services:\n  web: {port: 80, meta: {k: %s}}\n", big);
	expect_error(yaml, "x.yaml:2:29: services.web.meta.k: \"k=...\" is longer than 255 bytes "
	                   "(one TXT string)");
	/* 255 bytes fit */
	big[253] = '\0';
	snprintf(yaml, sizeof(yaml), "services:\n  web: {port: 80, meta: {k: %s}}\n", big);
	{
		struct registry *reg = NULL;

		ck_assert_int_eq(registry_load_string(yaml, "x.yaml", &reg, NULL), 0);
		registry_free(reg);
	}
	/* at most REG_META_MAX keys */
	strcpy(yaml, "services:\n  web: {port: 80, meta: {");
	for (int i = 0; i <= REG_META_MAX; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "k%d: 1, ", i);
	strcat(yaml, "}}\n");
	snprintf(want, sizeof(want), "x.yaml:2:25: services.web.meta: %d keys: at most %d",
	         REG_META_MAX + 1, REG_META_MAX);
	expect_error(yaml, want);
	expect_error("defaults: {meta: {a: b}}\n", "x.yaml:1:12: defaults.meta: unknown key");
}
END_TEST

/* Item 3: named ports. */
static const char *ports_yaml =
    HEAD "services:\n"
         "  web:\n"
         "    port: 80\n"
         "    tags: [blue]\n"
         "    ports: {http: 8080, grpc: 9090, dns: {port: 53, protocol: udp}}\n"
         "    instances:\n"
         "      - {name: web-1, address: 192.0.2.11, priority: 1, weight: 5, ports: {grpc: "
         "9191}}\n"
         "      - {name: web-2, address: \"2001:db8::12\", port: 81}\n";

/* The SRV answer of name as "PRIO WEIGHT PORT TARGET" lines, in order. */
static const char *srv_text(const struct dns_table *t, const char *name, size_t n, size_t n_add)
{
	static char out[1024];
	ldns_pkt *p = tu_q(ctx, t, name, LDNS_RR_TYPE_SRV);

	tu_assert_ok(p, n);
	ck_assert_uint_eq(tu_count(ldns_pkt_additional(p)), n_add);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const ldns_rr_list *an = ldns_pkt_answer(p);

		ck_assert_str_eq(tu_owner(an, i), name);
		for (size_t f = 0; f < 4; f++)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
			         tu_rdf(an, i, f), f < 3 ? " " : "|");
	}
	ldns_pkt_free(p);
	return out;
}

START_TEST(named_ports)
{
	struct dns_table *t = tu_table(ports_yaml);
	struct tu_health *h = tu_health_bind(t);

	ck_assert_str_eq(srv_text(t, "_http._tcp.web.svc.example.", 2, 2),
	                 "1 5 8080 web-1.web.svc.example.|0 1 8080 web-2.web.svc.example.|");
	/* an instance's own number */
	ck_assert_str_eq(srv_text(t, "_grpc._tcp.web.svc.example.", 2, 2),
	                 "1 5 9191 web-1.web.svc.example.|0 1 9090 web-2.web.svc.example.|");
	/* its own protocol */
	ck_assert_str_eq(srv_text(t, "_dns._udp.web.svc.example.", 2, 2),
	                 "1 5 53 web-1.web.svc.example.|0 1 53 web-2.web.svc.example.|");
	expect_rcode(t, "_dns._tcp.web.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NXDOMAIN, 0);
	expect_rcode(t, "_udp.web.svc.example.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR, 0);
	/* the service's own SRV names keep port */
	ck_assert_str_eq(srv_text(t, "_web._tcp.svc.example.", 2, 2),
	                 "1 5 80 web-1.web.svc.example.|0 1 81 web-2.web.svc.example.|");
	ck_assert_str_eq(srv_text(t, "_blue._tcp.web.svc.example.", 2, 2),
	                 "1 5 80 web-1.web.svc.example.|0 1 81 web-2.web.svc.example.|");
	/* SRV only; health applies */
	expect_rcode(t, "_http._tcp.web.svc.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	tu_health_set(h, 0, 0, 0);
	ck_assert_str_eq(srv_text(t, "_grpc._tcp.web.svc.example.", 1, 1),
	                 "0 1 9090 web-2.web.svc.example.|");
	/* the table's bodies are untouched by the ports written over them */
	tu_health_set(h, 0, 0, 1);
	ck_assert_str_eq(srv_text(t, "_web._tcp.svc.example.", 2, 2),
	                 "1 5 80 web-1.web.svc.example.|0 1 81 web-2.web.svc.example.|");
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(named_ports_errors)
{
	expect_error(
	    "services:\n  web: {port: 80, ports: [http]}\n",
	    "x.yaml:2:26: services.web.ports: expected a mapping of port names to ports or "
	    "{port, protocol}, got a list");
	expect_error("services:\n  web: {port: 80, ports: {http: 70000}}\n",
	             "x.yaml:2:33: services.web.ports.http: 70000 is out of range (1..65535)");
	expect_error(
	    "services:\n  web: {port: 80, ports: {_x: 1}}\n",
	    "x.yaml:2:27: services.web.ports._x: \"_x\" is not a port name (a DNS label of "
	    "at most 62 characters: _NAME is one label)");
	expect_error("services:\n  web: {port: 80, ports: {dns: {protocol: udp}}}\n",
	             "x.yaml:2:32: services.web.ports.dns: missing key \"port\"");
	expect_error(
	    "services:\n  web: {port: 80, ports: {dns: {port: 53, proto: udp}}}\n",
	    "x.yaml:2:43: services.web.ports.dns.proto: unknown key (a named port has port "
	    "and protocol)");
	expect_error("services:\n  web: {port: 80, ports: {dns: {port: 53, protocol: _udp}}}\n",
	             "x.yaml:2:53: services.web.ports.dns.protocol: \"_udp\" is not a DNS label "
	             "(letters, digits, hyphens; 1 to 63 characters; no hyphen first or last)");
	expect_error(
	    "services:\n  web:\n    port: 80\n    tags: [http]\n"
	    "    ports: {http: 8080}\n",
	    "x.yaml:5:13: services.web.ports.http: port name \"http\" is also a tag of the "
	    "service (_http._PROTO.web.<zone> would be ambiguous)");
	expect_error("services:\n  web:\n    port: 80\n    ports: {web-1: 8080}\n"
	             "    instances: [{name: web-1, address: 192.0.2.1}]\n",
	             "x.yaml:4:13: services.web.ports.web-1: port name \"web-1\" is also an "
	             "instance's name of the service (_web-1._PROTO.web.<zone> would be "
	             "ambiguous)");
	expect_error(
	    "services:\n  web:\n    port: 80\n    ports: {grpc: 8080}\n"
	    "    instances: [{name: a, address: 192.0.2.1, tags: [grpc]}]\n",
	    "x.yaml:4:13: services.web.ports.grpc: port name \"grpc\" is also a tag of the "
	    "service (_grpc._PROTO.web.<zone> would be ambiguous)");
	expect_error("services:\n  web:\n    port: 80\n    ports: {http: 8080}\n"
	             "    instances: [{name: a, address: 192.0.2.1, ports: {htp: 1}}]\n",
	             "x.yaml:5:55: services.web.instances[0].ports.htp: the service has no port "
	             "named \"htp\" (an instance overrides the service's ports)");
	expect_error("services:\n  web:\n    port: 80\n    ports: {http: 8080}\n"
	             "    instances: [{name: a, address: 192.0.2.1, ports: {http: {port: 1}}}]\n",
	             "x.yaml:5:61: services.web.instances[0].ports.http: expected an unsigned "
	             "integer, got a mapping");
	expect_error("defaults: {ports: {a: 1}}\n", "x.yaml:1:12: defaults.ports: unknown key");
}
END_TEST

/* Item 2: PTR. */
static const char *ptr_yaml =
    "server:\n"
    "  zone: svc.example.\n"
    "  ttl: 5\n"
    "  reverse: [\"192.0.2.0/24\", \"2001:db8::/48\", 198.51.100.7]\n"
    "  soa: {mname: ns1.svc.example., rname: hostmaster.svc.example., ttl: 3600,\n"
    "        refresh: 3600, retry: 600, expire: 86400, minimum: 5}\n"
    "defaults:\n"
    "  check: {type: none}\n"
    "services:\n"
    "  web:\n"
    "    port: 80\n"
    "    ttl: 9\n"
    "    instances:\n"
    "      - {name: web-1, address: 192.0.2.10}\n"
    "      - {name: web-2, address: \"2001:db8::12\"}\n"
    "      - {name: web-3, address: 203.0.113.1}\n"
    "  api:\n"
    "    port: 81\n"
    "    instances:\n"
    "      - {name: a1, address: 192.0.2.10}\n"
    "      - {name: a2, address: 198.51.100.7}\n";

START_TEST(ptr)
{
	struct dns_table *t = tu_table(ptr_yaml);
	const char *v6 =
	    "2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
	ldns_pkt *p = tu_q(ctx, t, "10.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	uint32_t serial;

	/* two instances on one address: two PTRs, one RRset (one TTL) */
	tu_assert_ok(p, 2);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "web-1.web.svc.example.");
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 1, 0), "a1.api.svc.example.");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	                  ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 1)));
	ldns_pkt_free(p);
	p = tu_q(ctx, t, v6, LDNS_RR_TYPE_PTR);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "web-2.web.svc.example.");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 9);
	ldns_pkt_free(p);
	p = tu_q(ctx, t, "7.100.51.198.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "a2.api.svc.example.");
	ldns_pkt_free(p);
	/* the zone: SOA (the service zone's serial) and NS at its apex */
	p = tu_q(ctx, t, "2.0.192.in-addr.arpa.", LDNS_RR_TYPE_SOA);
	tu_assert_ok(p, 1);
	ck_assert_str_eq(tu_rdf(ldns_pkt_answer(p), 0, 0), "ns1.svc.example.");
	serial = ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 2));
	ck_assert_uint_eq(serial, TU_SERIAL);
	ldns_pkt_free(p);
	dns_table_bump_serial(t);
	p = tu_q(ctx, t, "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", LDNS_RR_TYPE_SOA);
	tu_assert_ok(p, 1);
	ck_assert_uint_eq(
	    ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 2)),
	    dns_table_serial(t));
	ldns_pkt_free(p);
	expect_rcode(t, "2.0.192.in-addr.arpa.", LDNS_RR_TYPE_NS, LDNS_RCODE_NOERROR, 1);
	/* names in the zone no instance uses: NXDOMAIN with the zone's SOA
	 * (the serial of now); an empty non-terminal: NODATA */
	expect_rcode(t, "11.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, 0);
	p = tu_q(ctx, t, "11.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	ck_assert_str_eq(tu_owner(ldns_pkt_authority(p), 0), "2.0.192.in-addr.arpa.");
	ck_assert_uint_eq(
	    ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_authority(p), 0), 2)),
	    dns_table_serial(t));
	ldns_pkt_free(p);
	expect_rcode(t, "10.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0);
	/* outside every prefix (web-3's address too): not ours (REFUSED, no
	 * AA), as any other name */
	{
		static const char *const out[] = {"1.113.0.203.in-addr.arpa.",
		                                  "8.100.51.198.in-addr.arpa.", "in-addr.arpa."};

		for (size_t i = 0; i < 3; i++) {
			p = tu_q(ctx, t, out[i], LDNS_RR_TYPE_PTR);
			ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
			ck_assert(!ldns_pkt_aa(p));
			ldns_pkt_free(p);
		}
	}
	dns_table_free(t);
}
END_TEST

START_TEST(ptr_errors)
{
	expect_error("server: {reverse: [192.0.2.0/20]}\n",
	             "x.yaml:1:20: server.reverse[0]: \"192.0.2.0/20\": a reverse zone's prefix "
	             "length is a multiple of 8 (in-addr.arpa labels are octets)");
	expect_error("server: {reverse: \"2001:db8::/46\"}\n",
	             "x.yaml:1:19: server.reverse: \"2001:db8::/46\": a reverse zone's prefix "
	             "length is a multiple of 4 (ip6.arpa labels are nibbles)");
	expect_error("server: {reverse: [192.0.2.5/24]}\n",
	             "x.yaml:1:20: server.reverse[0]: \"192.0.2.5/24\" has bits set past /24");
	expect_error("server: {reverse: [10.0.0.0/8, 10.1.0.0/16]}\n",
	             "x.yaml:1:32: server.reverse[1]: \"10.1.0.0/16\" overlaps \"10.0.0.0/8\" (one "
	             "zone per address)");
	expect_error("server: {reverse: [web]}\n",
	             "x.yaml:1:20: server.reverse[0]: \"web\" is not an address or prefix (e.g. "
	             "127.0.0.0/8 or ::1)");
	expect_error("server: {reverse: {a: b}}\n",
	             "x.yaml:1:19: server.reverse: expected a list of prefixes, got a mapping");
}
END_TEST

/* Item 1: dual-stack instances. */
static const char *dual_yaml =
    "server:\n"
    "  zone: svc.example.\n"
    "  ttl: 5\n"
    "  reverse: [\"192.0.2.0/24\", \"2001:db8::/32\"]\n"
    "defaults:\n"
    "  policy: fixed\n"
    "  check: {type: none}\n"
    "services:\n"
    "  web:\n"
    "    port: 80\n"
    "    instances:\n"
    "      - {name: web-1, address: [192.0.2.10, \"2001:db8::10\"]}\n"
    "      - {name: web-2, address: \"2001:db8::20\"}\n"
    "      - {name: web-3, address: [\"2001:db8::30\", 192.0.2.30, 192.0.2.31]}\n"
    "      - {name: web-4, address: 192.0.2.40}\n"
    "  one:\n"
    "    port: 80\n"
    "    max_answers: 1\n"
    "    instances:\n"
    "      - {name: o1, address: [192.0.2.50, 192.0.2.51]}\n"
    "      - {name: o2, address: 192.0.2.52}\n"
    "  shared:\n"
    "    port: 80\n"
    "    instances:\n"
    "      - {name: s1, address: [192.0.2.60, \"2001:db8::60\"]}\n"
    "      - {name: s2, address: [192.0.2.60, \"2001:db8::61\"], port: 81}\n"
    "      - {name: s3, address: 192.0.2.60, port: 82}\n";

/* The rdata of the answer's records (or additional's) joined by ' '. */
static const char *rdata_list(const ldns_rr_list *list)
{
	static char out[1024];

	out[0] = '\0';
	for (size_t i = 0; i < tu_count(list); i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "",
		         tu_rdf(list, i, 0));
	return out;
}

static void expect_rdata(const struct dns_table *t, const char *name, ldns_rr_type type,
                         const char *want)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);

	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_str_eq(rdata_list(ldns_pkt_answer(p)), want);
	ldns_pkt_free(p);
}

START_TEST(dual_stack)
{
	struct dns_table *t = tu_table(dual_yaml);
	struct tu_health *h = tu_health_bind(t);
	ldns_pkt *p;

	/* A: the IPv4 ones, AAAA: the IPv6 ones, registry order */
	expect_rdata(t, "web.svc.example.", LDNS_RR_TYPE_A,
	             "192.0.2.10 192.0.2.30 192.0.2.31 192.0.2.40");
	expect_rdata(t, "web.svc.example.", LDNS_RR_TYPE_AAAA,
	             "2001:db8::10 2001:db8::20 2001:db8::30");
	expect_rdata(t, "web-1.web.svc.example.", LDNS_RR_TYPE_A, "192.0.2.10");
	expect_rdata(t, "web-1.web.svc.example.", LDNS_RR_TYPE_AAAA, "2001:db8::10");
	expect_rdata(t, "web-3.web.svc.example.", LDNS_RR_TYPE_A, "192.0.2.30 192.0.2.31");
	expect_rdata(t, "web-2.web.svc.example.", LDNS_RR_TYPE_A, "");
	/* SRV: one per instance, every address of each target in additional */
	p = tu_q(ctx, t, "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV);
	tu_assert_ok(p, 4);
	ck_assert_str_eq(rdata_list(ldns_pkt_additional(p)),
	                 "192.0.2.10 2001:db8::10 2001:db8::20 192.0.2.30 192.0.2.31 2001:db8::30 "
	                 "192.0.2.40");
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 1), "web-1.web.svc.example.");
	ck_assert_str_eq(tu_owner(ldns_pkt_additional(p), 5), "web-3.web.svc.example.");
	ldns_pkt_free(p);
	/* health: a withdrawn instance takes all its addresses along */
	tu_health_set(h, 0, 0, 0);
	expect_rdata(t, "web.svc.example.", LDNS_RR_TYPE_AAAA, "2001:db8::20 2001:db8::30");
	/* max_answers counts instances */
	expect_rdata(t, "one.svc.example.", LDNS_RR_TYPE_A, "192.0.2.50 192.0.2.51");
	/* an address shared by instances: once (RFC 2181 5) */
	expect_rdata(t, "shared.svc.example.", LDNS_RR_TYPE_A, "192.0.2.60");
	expect_rdata(t, "shared.svc.example.", LDNS_RR_TYPE_AAAA, "2001:db8::60 2001:db8::61");
	/* PTR from every address */
	expect_rdata(t, "30.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, "web-3.web.svc.example.");
	expect_rdata(t, "31.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, "web-3.web.svc.example.");
	expect_rdata(t, "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	             LDNS_RR_TYPE_PTR, "web-1.web.svc.example.");
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

START_TEST(dual_stack_registry)
{
	struct registry *reg = NULL;
	const struct reg_addr *a;
	size_t n;
	char text[64];

	ck_assert_int_eq(registry_load_string(dual_yaml, "x.yaml", &reg, NULL), 0);
	/* the first is the primary: addr, and the address the check probes */
	inet_ntop(AF_INET6, &reg->services[0]->instances[2].addr.u.v6, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::30");
	a = registry_addrs(&reg->services[0]->instances[2], &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(a[1].family, AF_INET);
	ck_assert_ptr_eq(registry_check_addr(&reg->services[0]->instances[2]),
	                 &reg->services[0]->instances[2].addr);
	a = registry_addrs(&reg->services[0]->instances[3], &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(a, &reg->services[0]->instances[3].addr);
	registry_free(reg);
	ck_assert_int_eq(
	    registry_load_string("services:\n  web: {port: 1, instances: [{name: a, address: "
	                         "[\"::1\", 127.0.0.1], check_address: 127.0.0.1}]}\n",
	                         "x.yaml", &reg, NULL),
	    0);
	ck_assert_int_eq(registry_check_addr(&reg->services[0]->instances[0])->family, AF_INET);
	ck_assert_int_eq(reg->services[0]->instances[0].addr.family, AF_INET6);
	registry_free(reg);
}
END_TEST

START_TEST(dual_stack_errors)
{
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: []}]}\n",
	             "x.yaml:2:49: services.web.instances[0].address: 0 addresses: one to 8");
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: [127.0.0.1, "
	             "127.0.0.300]}]}\n",
	             "x.yaml:2:61: services.web.instances[0].address[1]: \"127.0.0.300\" is not an "
	             "IPv4 or IPv6 address");
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: [127.0.0.1, "
	             "\"::1\", 127.0.0.1]}]}\n",
	             "x.yaml:2:68: services.web.instances[0].address[2]: the same address as [0]");
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: [1.0.0.1, "
	             "1.0.0.2, 1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, 1.0.0.7, 1.0.0.8, 1.0.0.9]}]}\n",
	             "x.yaml:2:49: services.web.instances[0].address: 9 addresses: one to 8");
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: 127.0.0.1, "
	             "check_address: 127.0.0.2}]}\n",
	             "x.yaml:2:75: services.web.instances[0].check_address: not one of the "
	             "instance's addresses");
	expect_error("services:\n  web: {port: 1, instances: [{name: a, address: {a: 1}}]}\n",
	             "x.yaml:2:49: services.web.instances[0].address: expected an IPv4 or IPv6 "
	             "address, got a mapping");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("more answers");
	TCase *tc = tcase_create("spec section 11");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_nxdomain);
	tcase_add_test(tc, empty_nodata_default);
	tcase_add_test(tc, empty_no_instances);
	tcase_add_test(tc, empty_errors);
	tcase_add_test(tc, meta_txt);
	tcase_add_test(tc, meta_errors);
	tcase_add_test(tc, named_ports);
	tcase_add_test(tc, named_ports_errors);
	tcase_add_test(tc, ptr);
	tcase_add_test(tc, ptr_errors);
	tcase_add_test(tc, dual_stack);
	tcase_add_test(tc, dual_stack_registry);
	tcase_add_test(tc, dual_stack_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* tables.c: the registry schema, one table per mapping level, and the few
 * keys that need code of their own (services, instances, zones, include). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "registry/loader.h"

#define U32MAX_TTL        2147483647 /* RFC 2181 section 8 */
#define SIZE(type, field) sizeof(((type *)0)->field)

/* The walkers free these through the same tables, so builds must start with
 * the public struct. */
_Static_assert(offsetof(struct reg_svc_build, svc) == 0, "svc first");
_Static_assert(offsetof(struct reg_srv_build, srv) == 0, "srv first");
_Static_assert(offsetof(struct reg_inst_build, inst) == 0, "inst first");
_Static_assert(sizeof(enum reg_policy) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum check_type) == sizeof(int), "enum as int");

static const char *const policy_names[] = {"round-robin", "random", "weighted", "fixed", NULL};
static const char *const bool_names[] = {"false", "true", NULL};
/* in enum reg_syslog order */
static const char *const syslog_names[] = {"off",    "daemon", "user",   "local0",
                                           "local1", "local2", "local3", "local4",
                                           "local5", "local6", "local7", NULL};

const char *registry_policy_name(enum reg_policy policy)
{
	if ((unsigned)policy < sizeof(policy_names) / sizeof(policy_names[0]) - 1)
		return policy_names[policy];
	return "?";
}

#define CK(f) offsetof(struct check_config, f), 0, SIZE(struct check_config, f)
static const struct sch_item check_items[] = {
    {"type", SCH_ENUM, 0, SCH_ALL, "tcp", 0, 0, CK(type), NULL, check_type_names, NULL,
     "tcp: connect succeeds; http: GET path, status in expect; none: always passing"},
    {"interval", SCH_DURATION, 0, SCH_ALL, "2s", 10, 3600000, CK(interval_ms), NULL, NULL, NULL,
     "time between checks of a passing instance"},
    {"timeout", SCH_DURATION, 0, SCH_ALL, "1s", 10, 3600000, CK(timeout_ms), NULL, NULL, NULL,
     "bound on one check; may not exceed interval"},
    {"unhealthy_interval", SCH_DURATION, 0, SCH_ALL, NULL, 10, 3600000, CK(unhealthy_interval_ms),
     NULL, NULL, NULL, "time between checks of a failing instance, default: interval"},
    {"rise", SCH_UINT, 0, SCH_ALL, "2", 1, 100, CK(rise), NULL, NULL, NULL,
     "consecutive passes that restore an instance"},
    {"fall", SCH_UINT, 0, SCH_ALL, "3", 1, 100, CK(fall), NULL, NULL, NULL,
     "consecutive failures that withdraw an instance"},
    {"port", SCH_UINT, 0, SCH_ALL, NULL, 1, 65535, CK(port), NULL, NULL, NULL,
     "port to probe, default: the instance's port"},
    {"path", SCH_PATH, 0, SCH_ALL, "/", 0, 0, CK(path), NULL, NULL, NULL, "http: request path"},
    {"expect", SCH_EXPECT, 0, SCH_ALL, "200-399", 0, 0, offsetof(struct check_config, expect),
     offsetof(struct check_config, n_expect), SIZE(struct check_config, expect), NULL, NULL, NULL,
     "http: accepted statuses: 200, 200-399, or a list of those"},
};
const struct sch_table reg_check_table = {check_items, sizeof(check_items) / sizeof(check_items[0]),
                                          NULL};

static int parse_instances(struct reg_loader *ld, const struct sch_item *item,
                           const struct ynode *node, void *target, struct sch_path *path);
static int parse_services(struct reg_loader *ld, const struct sch_item *item,
                          const struct ynode *node, void *target, struct sch_path *path);
static int parse_noted(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                       void *target, struct sch_path *path);

#define SV(f) offsetof(struct reg_svc_build, svc.f), 0, SIZE(struct reg_service, f)
static const struct sch_item service_items[] = {
    {"protocol", SCH_LABEL, 0, SCH_ALL, "tcp", 0, 0, SV(protocol), NULL, NULL, NULL,
     "names the SRV owner _NAME._PROTOCOL.<zone>"},
    {"port", SCH_UINT, 0, SCH_ALL, NULL, 1, 65535, SV(port), NULL, NULL, NULL,
     "default port of the instances"},
    {"tags", SCH_LIST, SCH_LABEL, SCH_SERVICE, NULL, 0, 0, offsetof(struct reg_svc_build, svc.tags),
     offsetof(struct reg_svc_build, svc.n_tags), 0, NULL, NULL, NULL,
     "tags of every instance (TAG.NAME.<zone>)"},
    {"policy", SCH_ENUM, 0, SCH_ALL, "round-robin", 0, 0, SV(policy), NULL, policy_names, NULL,
     "order of the records in an answer"},
    {"ttl", SCH_UINT, 0, SCH_ALL, NULL, 0, U32MAX_TTL, SV(ttl), NULL, NULL, NULL,
     "TTL of the answers, default: server.ttl"},
    {"max_answers", SCH_UINT, 0, SCH_ALL, NULL, 0, 65535, SV(max_answers), NULL, NULL, NULL,
     "records in one answer (0: all), default: server.max_answers"},
    {"panic_threshold", SCH_RATIO, 0, SCH_ALL, "0", 0, 1, SV(panic_threshold), NULL, NULL, NULL,
     "below this fraction of passing instances, answer with all (0: off)"},
    {"check", SCH_MAP, 0, SCH_ALL, NULL, 0, 0, offsetof(struct reg_svc_build, svc.check),
     offsetof(struct reg_svc_build, check_set), 0, &reg_check_table, NULL, NULL,
     "health check, merged key by key: built-in < defaults.check < service"},
    {"instances", SCH_CUSTOM, 0, SCH_SERVICE, NULL, 0, 0, 0, 0, 0, NULL, NULL, parse_instances,
     "list of instances"},
};
const struct sch_table reg_service_table = {service_items,
                                            sizeof(service_items) / sizeof(service_items[0]), NULL};

#define IN(f) offsetof(struct reg_inst_build, inst.f), 0, SIZE(struct reg_instance, f)
static const struct sch_item instance_items[] = {
    {"name", SCH_LABEL, 0, SCH_REQUIRED, NULL, 0, 0, IN(name), NULL, NULL, NULL,
     "DNS label, unique in the service (NAME.SERVICE.<zone>)"},
    {"address", SCH_ADDR, 0, SCH_REQUIRED, NULL, 0, 0, IN(addr), NULL, NULL, NULL,
     "IPv4 or IPv6 address (quote IPv6: \"::1\")"},
    {"port", SCH_UINT, 0, 0, NULL, 1, 65535, IN(port), NULL, NULL, NULL,
     "default: the service's port (one of them is required)"},
    {"weight", SCH_UINT, 0, 0, "1", 0, 65535, IN(weight), NULL, NULL, NULL,
     "SRV weight; policy weighted"},
    {"priority", SCH_UINT, 0, 0, "0", 0, 65535, IN(priority), NULL, NULL, NULL, "SRV priority"},
    {"tags", SCH_LIST, SCH_LABEL, 0, NULL, 0, 0, offsetof(struct reg_inst_build, inst.tags),
     offsetof(struct reg_inst_build, inst.n_tags), 0, NULL, NULL, NULL, "tags of this instance"},
};
const struct sch_table reg_instance_table = {
    instance_items, sizeof(instance_items) / sizeof(instance_items[0]), NULL};

#define SOA(f) offsetof(struct reg_soa, f), 0, SIZE(struct reg_soa, f)
static const struct sch_item soa_items[] = {
    {"mname", SCH_DNAME, 0, 0, NULL, 0, 0, SOA(mname), NULL, NULL, NULL,
     "primary name server, default ns1.<zone>"},
    {"rname", SCH_DNAME, 0, 0, NULL, 0, 0, SOA(rname), NULL, NULL, NULL,
     "mailbox, default hostmaster.<zone>"},
    {"ttl", SCH_UINT, 0, 0, "3600", 0, U32MAX_TTL, SOA(ttl), NULL, NULL, NULL,
     "TTL of the SOA and NS records"},
    {"refresh", SCH_UINT, 0, 0, "3600", 0, U32MAX_TTL, SOA(refresh), NULL, NULL, NULL, ""},
    {"retry", SCH_UINT, 0, 0, "600", 0, U32MAX_TTL, SOA(retry), NULL, NULL, NULL, ""},
    {"expire", SCH_UINT, 0, 0, "86400", 0, U32MAX_TTL, SOA(expire), NULL, NULL, NULL, ""},
    {"minimum", SCH_UINT, 0, 0, "5", 0, U32MAX_TTL, SOA(minimum), NULL, NULL, NULL,
     "negative TTL is min(soa.ttl, minimum)"},
};
static const struct sch_table soa_table = {soa_items, sizeof(soa_items) / sizeof(soa_items[0]),
                                           NULL};

static const char *const tsig_alg_names[] = {"hmac-sha256", "hmac-sha1", "hmac-sha512", NULL};

/* offsets from struct reg_srv_build, whose first member is the server */
#define TS(f) offsetof(struct reg_server, f), 0, SIZE(struct reg_server, f)
static const struct sch_item tsig_items[] = {
    {"name", SCH_DNAME, 0, SCH_REQUIRED, NULL, 0, 0, TS(tsig_name), NULL, NULL, NULL,
     "key name, as the secondary knows it"},
    {"algorithm", SCH_ENUM, 0, 0, "hmac-sha256", 0, 0, TS(tsig_algorithm), NULL, tsig_alg_names,
     NULL, "hmac-sha256, hmac-sha1 or hmac-sha512"},
    {"secret", SCH_BASE64, 0, SCH_REQUIRED, NULL, 0, 0, TS(tsig_secret), NULL, NULL, NULL,
     "shared secret, base64"},
};
static const struct sch_table tsig_table = {tsig_items, sizeof(tsig_items) / sizeof(tsig_items[0]),
                                            NULL};

static const struct sch_item transfer_items[] = {
    {"allow", SCH_LIST, SCH_PREFIX, 0, NULL, 0, 0, offsetof(struct reg_server, transfer_allow),
     offsetof(struct reg_server, n_transfer_allow), 0, NULL, NULL, NULL,
     "addresses or prefixes allowed AXFR/IXFR"},
    {"notify", SCH_LIST, SCH_HOSTPORT, 0, NULL, 1, 65535,
     offsetof(struct reg_server, transfer_notify), offsetof(struct reg_server, n_transfer_notify),
     0, NULL, NULL, NULL, "secondaries sent NOTIFY on every serial change"},
    {"tsig", SCH_MAP, 0, 0, NULL, 0, 0, 0, offsetof(struct reg_srv_build, tsig_set), 0, &tsig_table,
     NULL, NULL, "TSIG key: transfers must be signed with it, NOTIFY is signed"},
};
static const struct sch_table transfer_table = {
    transfer_items, sizeof(transfer_items) / sizeof(transfer_items[0]), NULL};

#define RRL(f) offsetof(struct reg_rrl, f), 0, SIZE(struct reg_rrl, f)
static const struct sch_item rrl_items[] = {
    {"rate", SCH_UINT, 0, 0, "0", 0, 1000000, RRL(rate), NULL, NULL, NULL,
     "responses per second to one client prefix (0: off)"},
    {"slip", SCH_UINT, 0, 0, "2", 0, 100, RRL(slip), NULL, NULL, NULL,
     "every N-th limited answer is sent truncated (TC), the rest dropped; 0: drop all"},
    {"ipv4_prefix", SCH_UINT, 0, 0, "24", 8, 32, RRL(ipv4_prefix), NULL, NULL, NULL,
     "IPv4 clients are counted per /N"},
    {"ipv6_prefix", SCH_UINT, 0, 0, "56", 16, 128, RRL(ipv6_prefix), NULL, NULL, NULL,
     "IPv6 clients are counted per /N"},
    {"table_size", SCH_UINT, 0, 0, "65536", 64, 16777216, RRL(table_size), NULL, NULL, NULL,
     "rate buckets per worker"},
};
static const struct sch_table rrl_table = {rrl_items, sizeof(rrl_items) / sizeof(rrl_items[0]),
                                           NULL};

#define SR(f) offsetof(struct reg_srv_build, srv.f), 0, SIZE(struct reg_server, f)
static const struct sch_item server_items[] = {
    {"listen", SCH_LISTENS, 0, 0, "[\"127.0.0.1:5353\", \"[::1]:5353\"]", 0, 65535,
     offsetof(struct reg_srv_build, srv.listen), offsetof(struct reg_srv_build, srv.n_listen), 0,
     NULL, NULL, NULL, "UDP and TCP listeners, ADDR:PORT or [V6]:PORT (port 0: any)"},
    {"zone", SCH_DNAME, 0, 0, "svc.example.", 0, 0, SR(zone), NULL, NULL, NULL,
     "apex under which services are named"},
    {"ttl", SCH_UINT, 0, 0, "5", 0, U32MAX_TTL, SR(ttl), NULL, NULL, NULL,
     "TTL of service answers"},
    {"max_answers", SCH_UINT, 0, 0, "8", 0, 65535, SR(max_answers), NULL, NULL, NULL,
     "records in one A/AAAA/SRV answer (0: all)"},
    {"edns_udp_size", SCH_UINT, 0, 0, "1232", 512, 65535, SR(edns_udp_size), NULL, NULL, NULL,
     "largest UDP answer with EDNS"},
    {"soa", SCH_MAP, 0, 0, NULL, 0, 0, offsetof(struct reg_srv_build, srv.soa),
     offsetof(struct reg_srv_build, soa_set), 0, &soa_table, NULL, NULL,
     "SOA record of the service zone"},
    {"ns", SCH_LIST, SCH_DNAME, 0, NULL, 0, 0, offsetof(struct reg_srv_build, srv.ns),
     offsetof(struct reg_srv_build, srv.n_ns), 0, NULL, NULL, NULL,
     "NS records of the zone, default [soa.mname]"},
    {"http", SCH_HOSTPORT, 0, 0, NULL, 0, 65535, SR(http), NULL, NULL, NULL,
     "control API and /metrics, ADDR:PORT; omitted: off"},
    {"http_token", SCH_STRING, 0, 0, NULL, 0, 0, SR(http_token), NULL, NULL, NULL,
     "bearer token required by mutating API calls"},
    {"forward", SCH_LIST, SCH_HOSTPORT, 0, NULL, 1, 65535,
     offsetof(struct reg_srv_build, srv.forward), offsetof(struct reg_srv_build, srv.n_forward), 0,
     NULL, NULL, NULL, "resolvers for names outside our zones; omitted: REFUSED"},
    {"transfer", SCH_MAP, 0, 0, NULL, 0, 0, 0, offsetof(struct reg_srv_build, transfer_set), 0,
     &transfer_table, NULL, NULL, "zone transfers out"},
    {"identity", SCH_STRING, 0, 0, NULL, 0, 0, SR(identity), NULL, NULL, NULL,
     "id.server answer, default: the host name"},
    {"version", SCH_STRING, 0, 0, "srvd " PACKAGE_VERSION, 0, 0, SR(version), NULL, NULL, NULL,
     "version.server answer"},
    {"watch", SCH_ENUM, 0, 0, "true", 0, 0, SR(watch), NULL, bool_names, NULL,
     "reload when the registry, an include or a zone file changes (inotify)"},
    {"forward_timeout", SCH_DURATION, 0, 0, "1s", 10, 60000, SR(forward_timeout_ms), NULL, NULL,
     NULL, "wait for one forward resolver before trying the next"},
    {"log_queries", SCH_ENUM, 0, 0, "false", 0, 0, SR(log_queries), NULL, bool_names, NULL,
     "log one line per query (client, name, type, rcode, size)"},
    {"syslog", SCH_ENUM, 0, 0, "off", 0, 0, SR(syslog), NULL, syslog_names, NULL,
     "also log to syslog with this facility: off, daemon, user, local0..local7"},
    {"user", SCH_STRING, 0, 0, NULL, 0, 0, SR(user), NULL, NULL, NULL,
     "when started as root: drop to this user (and its group) after binding"},
    {"rrl", SCH_MAP, 0, 0, NULL, 0, 0, offsetof(struct reg_srv_build, srv.rrl),
     offsetof(struct reg_srv_build, rrl_set), 0, &rrl_table, NULL, NULL,
     "response rate limiting of UDP answers (off by default)"},
};
const struct sch_table reg_server_table = {server_items,
                                           sizeof(server_items) / sizeof(server_items[0]), NULL};

#define TOP(f) offsetof(struct reg_top_build, f)
static const struct sch_item top_items[] = {
    {"server", SCH_MAP, 0, 0, NULL, 0, 0, TOP(server), TOP(server.set), 0, &reg_server_table, NULL,
     NULL, "server settings"},
    {"zones", SCH_CUSTOM, 0, 0, NULL, 0, 0, TOP(zones), TOP(n_zones), 0, NULL, NULL, parse_noted,
     "RFC 1035 master files, relative to this file"},
    {"include", SCH_CUSTOM, 0, 0, NULL, 0, 0, TOP(includes), TOP(n_includes), 0, NULL, NULL,
     parse_noted, "globs of files holding more services:, relative to this file"},
    {"defaults", SCH_MAP, 0, SCH_DEFAULTS, NULL, 0, 0, TOP(defaults), TOP(defaults.set), 0,
     &reg_service_table, NULL, NULL, "inherited by every service"},
    {"services", SCH_CUSTOM, 0, 0, NULL, 0, 0, 0, 0, 0, NULL, NULL, parse_services,
     "services by name (DNS labels)"},
};
const struct sch_table reg_top_table = {top_items, sizeof(top_items) / sizeof(top_items[0]), NULL};

const struct sch_table reg_include_table = {&top_items[4], 1,
                                            " (an include file holds only services:)"};

/* zones: and include: keep each string with its node, for messages and for
 * paths relative to the file that names them. */
static int parse_noted(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                       void *target, struct sch_path *path)
{
	struct reg_noted **v = (struct reg_noted **)((char *)target + item->offset);
	size_t *n = (size_t *)((char *)target + item->aux);
	const struct ynode *one = node;
	struct ynode *const *items = node->items;
	size_t count = node->n;
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind == YNODE_MAP) {
		reg_error(ld, node, path, "expected a list of file names, got a mapping");
		return -1;
	}
	if (node->kind == YNODE_SCALAR) {
		items = (struct ynode *const *)&one;
		count = 1;
	}
	for (size_t i = 0; i < count; i++) {
		size_t old = node->kind == YNODE_SEQ ? sch_path_index(path, i) : path->len;
		struct reg_noted *grown;

		if (items[i]->kind != YNODE_SCALAR || ynode_is_null(items[i]) ||
		    !items[i]->value[0]) {
			reg_error(ld, items[i], path, "expected a file name, got %s",
			          items[i]->kind == YNODE_SCALAR ? "no value"
			                                         : ynode_kind_name(items[i]));
			rc = -1;
		} else if (!(grown = realloc(*v, (*n + 1) * sizeof(**v)))) {
			reg_error(ld, items[i], path, "out of memory");
			rc = -1;
		} else {
			*v = grown;
			grown[*n].node = items[i];
			grown[*n].path = *path;
			if (!(grown[*n].text = strdup(items[i]->value))) {
				reg_error(ld, items[i], path, "out of memory");
				rc = -1;
			} else {
				(*n)++;
			}
		}
		sch_path_pop(path, old);
	}
	return rc;
}

static int parse_instances(struct reg_loader *ld, const struct sch_item *item,
                           const struct ynode *node, void *target, struct sch_path *path)
{
	struct reg_svc_build *b = target;
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_SEQ) {
		reg_error(ld, node, path, "expected a list, got %s", ynode_kind_name(node));
		return -1;
	}
	b->inst = calloc(node->n ? node->n : 1, sizeof(*b->inst));
	if (!b->inst) {
		reg_error(ld, node, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		struct reg_inst_build *ib = &b->inst[b->n_inst++];
		size_t old = sch_path_index(path, i);

		ib->node = node->items[i];
		if (sch_walk(ld, &reg_instance_table, 0, node->items[i], ib, &ib->set, path) < 0)
			rc = -1;
		sch_path_pop(path, old);
	}
	return rc;
}

static int parse_services(struct reg_loader *ld, const struct sch_item *item,
                          const struct ynode *node, void *target, struct sch_path *path)
{
	int rc = 0;

	if (ynode_is_null(node))
		return 0;
	if (node->kind != YNODE_MAP) {
		reg_error(ld, node, path, "expected a mapping of services, got %s",
		          ynode_kind_name(node));
		return -1;
	}
	for (size_t i = 0; i < node->n; i++) {
		const struct ynode *key = node->keys[i], *val = node->items[i];
		size_t old = sch_path_key(path, key->value);
		struct reg_svc_build *b;

		if (!sch_is_label(key->value)) {
			reg_error(ld, key, path,
			          "\"%s\" is not a DNS label (letters, digits, hyphens; 1 to 63 "
			          "characters; no hyphen first or last)",
			          key->value);
			rc = -1;
			sch_path_pop(path, old);
			continue;
		}
		if (ld->n_svcs == ld->cap_svcs) {
			size_t cap = ld->cap_svcs ? ld->cap_svcs * 2 : 8;
			struct reg_svc_build *grown = realloc(ld->svcs, cap * sizeof(*grown));

			if (!grown) {
				reg_error(ld, key, path, "out of memory");
				return -1;
			}
			ld->svcs = grown;
			ld->cap_svcs = cap;
		}
		b = &ld->svcs[ld->n_svcs++];
		memset(b, 0, sizeof(*b));
		b->key = key;
		b->node = val;
		b->svc.name = strdup(key->value);
		if (!b->svc.name) {
			reg_error(ld, key, path, "out of memory");
			return -1;
		}
		sch_lower(b->svc.name);
		if (sch_walk(ld, &reg_service_table, SCH_SERVICE, val, b, &b->set, path) < 0)
			rc = -1;
		for (size_t k = 0; val->kind == YNODE_MAP && k < val->n; k++)
			if (strcmp(val->keys[k]->value, "check") == 0)
				b->check = val->items[k];
		sch_path_pop(path, old);
	}
	return rc;
}

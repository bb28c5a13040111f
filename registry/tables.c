/* SPDX-License-Identifier: BSD-3-Clause */
/* tables.c: the registry schema, one table per mapping level, and the few
 * keys that need code of their own (services, instances, zones, include). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "registry/loader.h"

/* What a reload that changes a key read only at start keeps using; keys
 * with the same text are reported together. */
#define RESTART_API     "the control API keeps its settings until srvd is restarted"
#define RESTART_FORWARD "the old resolvers stay in use until srvd is restarted"
#define RESTART_TSIG    "transfers keep the old key until srvd is restarted"
#define CHECK_BIT(t)    (1u << (t))

#define U32MAX_TTL        2147483647 /* RFC 2181 section 8 */
#define SIZE(type, field) sizeof(((type *)0)->field)

/* The walkers free these through the same tables, so builds must start with
 * the public struct. */
_Static_assert(offsetof(struct reg_svc_build, svc) == 0, "svc first");
_Static_assert(offsetof(struct reg_srv_build, srv) == 0, "srv first");
_Static_assert(offsetof(struct reg_inst_build, inst) == 0, "inst first");
_Static_assert(sizeof(enum reg_policy) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum check_type) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum reg_empty) == sizeof(int), "enum as int");
_Static_assert(SCH_MAP_PRESENT == CHECK_MAP_PRESENT, "one bit says a boxed map was written");

static const char *const policy_names[REG_POLICIES + 1] = {
    [REG_POLICY_ROUND_ROBIN] = "round-robin", [REG_POLICY_RANDOM] = "random",
    [REG_POLICY_WEIGHTED] = "weighted",       [REG_POLICY_FIXED] = "fixed",
    [REG_POLICY_HASHED] = "hashed",           [REG_POLICIES] = NULL,
};
static const char *const bool_names[] = {"false", "true", NULL};
/* in enum reg_locality order */
static const char *const locality_names[] = {"off", "prefer", "strict", NULL};
/* in enum reg_empty order */
static const char *const empty_names[] = {"nodata", "nxdomain", NULL};
/* in enum reg_syslog order */
static const char *const syslog_names[] = {"off",    "daemon", "user",   "local0",
                                           "local1", "local2", "local3", "local4",
                                           "local5", "local6", "local7", NULL};

const char *registry_policy_name(enum reg_policy policy)
{
	return (unsigned)policy < REG_POLICIES && policy_names[policy] ? policy_names[policy] : "?";
}

#define HTTP_BITS    (CHECK_BIT(CHECK_HTTP) | CHECK_BIT(CHECK_HTTPS))
#define CHECKED_BITS (((1u << CHECK_TYPES) - 1) & ~CHECK_BIT(CHECK_NONE))
#define MO(f)        .offset = offsetof(struct check_more, f), .size = SIZE(struct check_more, f)
#define TL(f)        .offset = offsetof(struct check_tls, f), .size = SIZE(struct check_tls, f)
static const struct sch_item check_tls_items[] = {
    {.key = "server_name",
     .reload = SCH_HEALTH,
     .type = SCH_STRING,
     .flags = SCH_ALL,
     TL(server_name),
     .doc = "name sent (SNI) and verified, default: none (the address is verified)"},
    {.key = "verify",
     .reload = SCH_HEALTH,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "true",
     TL(verify),
     .names = bool_names,
     .doc = "check the certificate chain and name; false accepts any certificate (logged)"},
    {.key = "ca",
     .reload = SCH_HEALTH,
     .type = SCH_STRING,
     .flags = SCH_ALL,
     TL(ca),
     .doc = "PEM file of the CAs trusted (absolute path), default: the system store"},
};
static const struct sch_table check_tls_table = {
    check_tls_items, sizeof(check_tls_items) / sizeof(check_tls_items[0]), NULL, NULL};

#define DN(f) .offset = offsetof(struct check_dns, f), .size = SIZE(struct check_dns, f)
static const struct sch_item check_dns_items[] = {
    {.key = "name",
     .reload = SCH_HEALTH,
     .type = SCH_DNAME,
     .flags = SCH_ALL,
     DN(name),
     .doc = "the name asked, required"},
    {.key = "type",
     .reload = SCH_HEALTH,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "A",
     DN(type),
     .names = check_dns_type_names,
     .doc = "the query type"},
    {.key = "rcode",
     .reload = SCH_HEALTH,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "NOERROR",
     DN(rcode),
     .names = check_rcode_names,
     .doc = "the response code that passes"},
};
static const struct sch_table check_dns_table = {
    check_dns_items, sizeof(check_dns_items) / sizeof(check_dns_items[0]), NULL, NULL};

#define CK(f) .offset = offsetof(struct check_config, f), .size = SIZE(struct check_config, f)
static const struct sch_item check_items[] = {
    {.key = "type",
     .reload = SCH_HEALTH,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "tcp",
     CK(type),
     .names = check_type_names,
     .doc = "tcp: connect succeeds; http, https: a request to path, status in expect; tls: "
            "the handshake; grpc: grpc.health.v1 Check is SERVING; dns: a query gets rcode; "
            "exec: command exits 0; ttl: heartbeats arrive in time; none: always passing"},
    {.key = "interval",
     .reload = SCH_HEALTH,
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .def = "2s",
     .min = 10,
     .max = 3600000,
     CK(interval_ms),
     .doc = "time between checks of a passing instance"},
    {.key = "timeout",
     .reload = SCH_HEALTH,
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .def = "1s",
     .min = 10,
     .max = 3600000,
     CK(timeout_ms),
     .doc = "bound on one check; may not exceed interval"},
    {.key = "unhealthy_interval",
     .reload = SCH_HEALTH,
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .min = 10,
     .max = 3600000,
     CK(unhealthy_interval_ms),
     .doc = "time between checks of a failing instance, default: interval"},
    {.key = "rise",
     .reload = SCH_HEALTH,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .def = "2",
     .min = 1,
     .max = 100,
     CK(rise),
     .doc = "consecutive passes that restore an instance"},
    {.key = "fall",
     .reload = SCH_HEALTH,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .def = "3",
     .min = 1,
     .max = 100,
     CK(fall),
     .doc = "consecutive failures that withdraw an instance"},
    {.key = "port",
     .reload = SCH_HEALTH,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .min = 1,
     .max = 65535,
     CK(port),
     .doc = "port to probe, default: the instance's port"},
    {.key = "path",
     .reload = SCH_HEALTH,
     .checks = HTTP_BITS,
     .type = SCH_PATH,
     .flags = SCH_ALL,
     .def = "/",
     CK(path),
     .doc = "http, https: request path"},
    {.key = "expect",
     .reload = SCH_HEALTH,
     .checks = HTTP_BITS,
     .type = SCH_EXPECT,
     .flags = SCH_ALL,
     .def = "200-399",
     .offset = offsetof(struct check_config, expect),
     .aux = offsetof(struct check_config, n_expect),
     .size = SIZE(struct check_config, expect),
     .doc = "http, https: accepted statuses: 200, 200-399, or a list of those"},
    /* the keys of the richer types live in the check's box (struct
     * check_more), so that a plain check costs one pointer */
    {.key = "method",
     .reload = SCH_HEALTH,
     .checks = HTTP_BITS,
     .type = SCH_ENUM,
     .flags = SCH_ALL | SCH_BOXED,
     .def = "GET",
     MO(method),
     .names = check_method_names,
     .doc = "http, https: request method (sent without a body)"},
    {.key = "headers",
     .reload = SCH_HEALTH,
     .checks = HTTP_BITS,
     .type = SCH_HEADERS,
     .flags = SCH_ALL | SCH_BOXED,
     .offset = offsetof(struct check_more, headers),
     .aux = offsetof(struct check_more, n_headers),
     .doc = "http, https: request headers, e.g. {Host: api.internal}; Host defaults to the "
            "instance's address and port"},
    {.key = "body_match",
     .reload = SCH_HEALTH,
     .checks = HTTP_BITS,
     .type = SCH_STRING,
     .flags = SCH_ALL | SCH_BOXED,
     MO(body_match),
     .doc = "http, https: text that must appear in the first 4 KiB of the body (up to 1024 "
            "bytes)"},
    {.key = "tls",
     .checks = CHECK_BIT(CHECK_HTTPS) | CHECK_BIT(CHECK_TLS) | CHECK_BIT(CHECK_GRPC),
     .type = SCH_MAP,
     .flags = SCH_ALL | SCH_BOXED,
     .offset = offsetof(struct check_more, tls),
     .aux = offsetof(struct check_more, tls_set),
     .children = &check_tls_table,
     .doc = "https, tls, grpc: TLS settings; a grpc check with tls: (even {}) uses TLS"},
    {.key = "grpc_service",
     .reload = SCH_HEALTH,
     .checks = CHECK_BIT(CHECK_GRPC),
     .type = SCH_STRING,
     .flags = SCH_ALL | SCH_BOXED,
     MO(grpc_service),
     .doc = "grpc: the service asked of grpc.health.v1.Health/Check, default \"\" (the "
            "server)"},
    {.key = "dns",
     .checks = CHECK_BIT(CHECK_DNS),
     .type = SCH_MAP,
     .flags = SCH_ALL | SCH_BOXED,
     .offset = offsetof(struct check_more, dns),
     .aux = offsetof(struct check_more, dns_set),
     .children = &check_dns_table,
     .doc = "dns: the query sent to the instance's address and port over UDP"},
    {.key = "ttl",
     .reload = SCH_HEALTH,
     .checks = CHECK_BIT(CHECK_TTL),
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .min = 1000,
     .max = 86400000,
     CK(ttl_ms),
     .doc = "ttl: the longest wait between heartbeats (PUT .../instances/NAME/pass), "
            "required"},
    {.key = "deregister_after",
     .checks = CHECKED_BITS,
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .min = 1000,
     .max = 2592000000,
     CK(deregister_after_ms),
     .doc = "an instance the API registered that fails this long is removed (not drained "
            "ones; registry files are not changed), default: never"},
    {.key = "slow_start",
     .reload = SCH_ANSWERS,
     .checks = CHECKED_BITS,
     .type = SCH_DURATION,
     .flags = SCH_ALL,
     .min = 1000,
     .max = 3600000,
     CK(slow_start_ms),
     .doc = "a restored instance's weight ramps from 1 to its full weight over this time "
            "(SRV weights, policy weighted), default: off"},
    {.key = "command",
     .reload = SCH_HEALTH,
     .checks = CHECK_BIT(CHECK_EXEC),
     .type = SCH_LIST,
     .elem = SCH_STRING,
     .flags = SCH_ALL | SCH_BOXED,
     .offset = offsetof(struct check_more, command),
     .aux = offsetof(struct check_more, n_command),
     .doc = "exec: program (absolute path) and arguments, {address} and {port} substituted; "
            "no shell; needs server.exec_checks"},
};
static void *check_box_create(void)
{
	return check_more_new();
}
static void check_box_unref(void *box)
{
	check_more_unref(box);
}
static const struct sch_box check_box = {.offset = offsetof(struct check_config, more),
                                         .create = check_box_create,
                                         .unref = check_box_unref,
                                         .defaults = &check_more_defaults};
const struct sch_table reg_check_table = {check_items, sizeof(check_items) / sizeof(check_items[0]),
                                          NULL, &check_box};

static int parse_instances(struct reg_loader *ld, const struct sch_item *item,
                           const struct ynode *node, void *target, struct sch_path *path);
static int parse_services(struct reg_loader *ld, const struct sch_item *item,
                          const struct ynode *node, void *target, struct sch_path *path);
static int parse_noted(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                       void *target, struct sch_path *path);

#define SV(f) .offset = offsetof(struct reg_svc_build, svc.f), .size = SIZE(struct reg_service, f)
static const struct sch_item service_items[] = {
    {.key = "protocol",
     .reload = SCH_ANSWERS,
     .type = SCH_LABEL,
     .flags = SCH_ALL,
     .def = "tcp",
     SV(protocol),
     .doc = "names the SRV owner _NAME._PROTOCOL.<zone>"},
    {.key = "port",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .min = 1,
     .max = 65535,
     SV(port),
     .doc = "default port of the instances"},
    {.key = "tags",
     .reload = SCH_ANSWERS,
     .type = SCH_LIST,
     .elem = SCH_LABEL,
     .flags = SCH_SERVICE,
     .offset = offsetof(struct reg_svc_build, svc.tags),
     .aux = offsetof(struct reg_svc_build, svc.n_tags),
     .doc = "tags of every instance (TAG.NAME.<zone>)"},
    {.key = "policy",
     .reload = SCH_ANSWERS,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "round-robin",
     SV(policy),
     .names = policy_names,
     .doc = "order of the records in an answer"},
    {.key = "ttl",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .max = U32MAX_TTL,
     SV(ttl),
     .doc = "TTL of the answers, default: server.ttl"},
    {.key = "max_answers",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .max = 65535,
     SV(max_answers),
     .doc = "records in one answer (0: all), default: server.max_answers"},
    {.key = "panic_threshold",
     .reload = SCH_ANSWERS,
     .type = SCH_RATIO,
     .flags = SCH_ALL,
     .def = "0",
     .max = 1,
     SV(panic_threshold),
     .doc = "below this fraction of passing instances, answer with all (0: off)"},
    {.key = "check",
     .type = SCH_MAP,
     .flags = SCH_ALL,
     .offset = offsetof(struct reg_svc_build, svc.check),
     .aux = offsetof(struct reg_svc_build, check_set),
     .children = &reg_check_table,
     .doc = "health check, merged key by key: built-in < defaults.check < service"},
    {.key = "instances",
     .type = SCH_CUSTOM,
     .flags = SCH_SERVICE,
     .custom = parse_instances,
     .doc = "list of instances"},
    {.key = "failover",
     .reload = SCH_ANSWERS,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "false",
     SV(failover),
     .names = bool_names,
     .doc = "A/AAAA answers carry only the lowest priority that has a passing instance "
            "(SRV keeps every priority)"},
    {.key = "ttl_min",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .max = U32MAX_TTL,
     SV(ttl_min),
     .doc = "TTL of the answers while an instance fails, ramps (slow_start) or changed "
            "state within the last ttl seconds; at most ttl, default: off"},
    {.key = "locality",
     .reload = SCH_ANSWERS,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "off",
     SV(locality),
     .names = locality_names,
     .doc = "prefer: instances of the client's site (server.sites) first; strict: only "
            "those while at least min_local pass"},
    {.key = "min_local",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .flags = SCH_ALL,
     .def = "1",
     .min = 1,
     .max = 65535,
     SV(min_local),
     .doc = "locality strict: below this many passing local instances, the others answer "
            "too"},
    {.key = "empty",
     .reload = SCH_ANSWERS,
     .type = SCH_ENUM,
     .flags = SCH_ALL,
     .def = "nodata",
     SV(empty),
     .names = empty_names,
     .doc = "no passing instance: nodata, or nxdomain for the service's whole subtree"},
    {.key = "meta",
     .reload = SCH_ANSWERS,
     .type = SCH_HEADERS,
     .flags = SCH_SERVICE,
     .offset = offsetof(struct reg_svc_build, svc.meta),
     .aux = offsetof(struct reg_svc_build, svc.n_meta),
     .custom = reg_parse_meta,
     .doc = "metadata of every instance, KEY: VALUE (TXT \"KEY=VALUE\" at INSTANCE.NAME.<zone>)"},
    {.key = "ports",
     .reload = SCH_ANSWERS,
     .type = SCH_HEADERS,
     .flags = SCH_SERVICE,
     .offset = offsetof(struct reg_svc_build, svc.ports),
     .aux = offsetof(struct reg_svc_build, svc.n_ports),
     .custom = reg_parse_ports,
     .doc = "named ports, NAME: PORT or NAME: {port, protocol} (SRV at "
            "_NAME._PROTOCOL.SERVICE.<zone>)"},
};
const struct sch_table reg_service_table = {
    service_items, sizeof(service_items) / sizeof(service_items[0]), NULL, NULL};

#define IN(f)                                                                                      \
	.offset = offsetof(struct reg_inst_build, inst.f), .size = SIZE(struct reg_instance, f)
static const struct sch_item instance_items[] = {
    {.key = "name",
     .reload = SCH_ANSWERS,
     .type = SCH_LABEL,
     .flags = SCH_REQUIRED,
     IN(name),
     .doc = "DNS label, unique in the service (NAME.SERVICE.<zone>)"},
    {.key = "address",
     .reload = SCH_HEALTH,
     .type = SCH_ADDR,
     .flags = SCH_REQUIRED,
     IN(addr),
     .custom = reg_parse_addresses,
     .doc = "IPv4 or IPv6 address (quote IPv6: \"::1\"), or a list of up to 8 (dual-stack: "
            "A gets the IPv4, AAAA the IPv6 ones; the first is the primary one)"},
    {.key = "port",
     .reload = SCH_HEALTH,
     .type = SCH_UINT,
     .min = 1,
     .max = 65535,
     IN(port),
     .doc = "default: the service's port (one of them is required)"},
    {.key = "weight",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "1",
     .max = 65535,
     IN(weight),
     .doc = "SRV weight; policy weighted"},
    {.key = "priority",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "0",
     .max = 65535,
     IN(priority),
     .doc = "SRV priority"},
    {.key = "tags",
     .reload = SCH_ANSWERS,
     .type = SCH_LIST,
     .elem = SCH_LABEL,
     .offset = offsetof(struct reg_inst_build, inst.tags),
     .aux = offsetof(struct reg_inst_build, inst.n_tags),
     .doc = "tags of this instance"},
    {.key = "site",
     .reload = SCH_ANSWERS,
     .type = SCH_LABEL,
     IN(site),
     .doc = "its site, a key of server.sites (locality)"},
    {.key = "meta",
     .reload = SCH_ANSWERS,
     .type = SCH_HEADERS,
     .offset = offsetof(struct reg_inst_build, inst.meta),
     .aux = offsetof(struct reg_inst_build, inst.n_meta),
     .custom = reg_parse_meta,
     .doc = "metadata of this instance, over the service's key by key"},
    {.key = "ports",
     .reload = SCH_ANSWERS,
     .type = SCH_HEADERS,
     .offset = offsetof(struct reg_inst_build, inst.ports),
     .aux = offsetof(struct reg_inst_build, inst.n_ports),
     .custom = reg_parse_ports,
     .doc = "this instance's numbers of the service's named ports, NAME: PORT"},
    {.key = "check_address",
     .reload = SCH_HEALTH,
     .type = SCH_ADDR,
     IN(check_addr),
     .doc = "which of its addresses the check probes, default: the first"},
};
const struct sch_table reg_instance_table = {
    instance_items, sizeof(instance_items) / sizeof(instance_items[0]), NULL, NULL};

#define SOA(f) .offset = offsetof(struct reg_soa, f), .size = SIZE(struct reg_soa, f)
static const struct sch_item soa_items[] = {
    {.key = "mname",
     .reload = SCH_ANSWERS,
     .type = SCH_DNAME,
     SOA(mname),
     .doc = "primary name server, default ns1.<zone>"},
    {.key = "rname",
     .reload = SCH_ANSWERS,
     .type = SCH_DNAME,
     SOA(rname),
     .doc = "mailbox, default hostmaster.<zone>"},
    {.key = "ttl",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "3600",
     .max = U32MAX_TTL,
     SOA(ttl),
     .doc = "TTL of the SOA and NS records"},
    {.key = "refresh",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "3600",
     .max = U32MAX_TTL,
     SOA(refresh),
     .doc = ""},
    {.key = "retry",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "600",
     .max = U32MAX_TTL,
     SOA(retry),
     .doc = ""},
    {.key = "expire",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "86400",
     .max = U32MAX_TTL,
     SOA(expire),
     .doc = ""},
    {.key = "minimum",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "5",
     .max = U32MAX_TTL,
     SOA(minimum),
     .doc = "negative TTL is min(soa.ttl, minimum)"},
};
static const struct sch_table soa_table = {soa_items, sizeof(soa_items) / sizeof(soa_items[0]),
                                           NULL, NULL};

static const char *const tsig_alg_names[] = {"hmac-sha256", "hmac-sha1", "hmac-sha512", NULL};

/* offsets from struct reg_srv_build, whose first member is the server */
#define TS(f) .offset = offsetof(struct reg_server, f), .size = SIZE(struct reg_server, f)
static const struct sch_item tsig_items[] = {
    {.key = "name",
     .reload = SCH_RESTART,
     .restart = RESTART_TSIG,
     .type = SCH_DNAME,
     .flags = SCH_REQUIRED,
     TS(tsig_name),
     .doc = "key name, as the secondary knows it"},
    {.key = "algorithm",
     .reload = SCH_RESTART,
     .restart = RESTART_TSIG,
     .type = SCH_ENUM,
     .def = "hmac-sha256",
     TS(tsig_algorithm),
     .names = tsig_alg_names,
     .doc = "hmac-sha256, hmac-sha1 or hmac-sha512"},
    {.key = "secret",
     .reload = SCH_RESTART,
     .restart = RESTART_TSIG,
     .type = SCH_BASE64,
     .flags = SCH_REQUIRED,
     TS(tsig_secret),
     .doc = "shared secret, base64"},
};
static const struct sch_table tsig_table = {tsig_items, sizeof(tsig_items) / sizeof(tsig_items[0]),
                                            NULL, NULL};

static const struct sch_item transfer_items[] = {
    {.key = "allow",
     .reload = SCH_RESTART,
     .restart = "the old list stays in use until srvd is restarted",
     .type = SCH_LIST,
     .elem = SCH_PREFIX,
     .offset = offsetof(struct reg_server, transfer_allow),
     .aux = offsetof(struct reg_server, n_transfer_allow),
     .doc = "addresses or prefixes allowed AXFR/IXFR"},
    {.key = "notify",
     .type = SCH_LIST,
     .elem = SCH_HOSTPORT,
     .min = 1,
     .max = 65535,
     .offset = offsetof(struct reg_server, transfer_notify),
     .aux = offsetof(struct reg_server, n_transfer_notify),
     .doc = "secondaries sent NOTIFY on every serial change"},
    {.key = "tsig",
     .type = SCH_MAP,
     .aux = offsetof(struct reg_srv_build, tsig_set),
     .children = &tsig_table,
     .doc = "TSIG key: transfers must be signed with it, NOTIFY is signed"},
};
static const struct sch_table transfer_table = {
    transfer_items, sizeof(transfer_items) / sizeof(transfer_items[0]), NULL, NULL};

#define RESTART_ETCD "the old etcd settings stay in use until srvd is restarted"
static const struct sch_item etcd_tls_items[] = {
    {.key = "ca",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_tls_ca),
     .doc = "CA certificates (PEM) that sign the members' certificates; default: the system's"},
    {.key = "cert",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_tls_cert),
     .doc = "client certificate (PEM), for members that ask for one"},
    {.key = "key",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_tls_key),
     .doc = "the client certificate's private key (PEM)"},
};
static const struct sch_table etcd_tls_table = {
    etcd_tls_items, sizeof(etcd_tls_items) / sizeof(etcd_tls_items[0]), NULL, NULL};

static const struct sch_item etcd_items[] = {
    {.key = "endpoints",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_LIST,
     .elem = SCH_STRING,
     .flags = SCH_REQUIRED,
     .offset = offsetof(struct reg_server, etcd_endpoints),
     .aux = offsetof(struct reg_server, n_etcd_endpoints),
     .doc = "etcd members, http://HOST:PORT or https://HOST:PORT each, tried in order"},
    {.key = "prefix",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     .def = "/srvd/",
     TS(etcd_prefix),
     .doc = "the keys srvd reads: PREFIXservices/NAME, PREFIXdefaults"},
    {.key = "timeout",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_DURATION,
     .def = "2s",
     .min = 10,
     .max = 60000,
     TS(etcd_timeout_ms),
     .doc = "wait for one etcd request before trying the next endpoint"},
    {.key = "cache",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_cache),
     .doc = "file keeping the last synced keys (relative to this file): a start while etcd "
            "is down serves them"},
    {.key = "username",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_username),
     .doc = "etcd user, when etcd's authentication is on (with password_file)"},
    {.key = "password_file",
     .reload = SCH_RESTART,
     .restart = RESTART_ETCD,
     .type = SCH_STRING,
     TS(etcd_password_file),
     .doc = "file whose first line is the user's password (relative to this file)"},
    {.key = "tls",
     .type = SCH_MAP,
     .aux = offsetof(struct reg_srv_build, etcd_tls_set),
     .children = &etcd_tls_table,
     .doc = "certificates for https:// endpoints"},
};
static const struct sch_table etcd_table = {etcd_items, sizeof(etcd_items) / sizeof(etcd_items[0]),
                                            NULL, NULL};

static const struct sch_item registry_items[] = {
    {.key = "etcd",
     .type = SCH_MAP,
     .aux = offsetof(struct reg_srv_build, etcd_set),
     .children = &etcd_table,
     .doc = "services also from etcd v3, shared by a fleet of srvd (README \"Running a fleet\")"},
};
static const struct sch_table registry_table = {
    registry_items, sizeof(registry_items) / sizeof(registry_items[0]), NULL, NULL};

#define RRL(f) .offset = offsetof(struct reg_rrl, f), .size = SIZE(struct reg_rrl, f)
static const struct sch_item rrl_items[] = {
    {.key = "rate",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "0",
     .max = 1000000,
     RRL(rate),
     .doc = "responses per second to one client prefix (0: off)"},
    {.key = "slip",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "2",
     .max = 100,
     RRL(slip),
     .doc = "every N-th limited answer is sent truncated (TC), the rest dropped; 0: drop all"},
    {.key = "ipv4_prefix",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "24",
     .min = 8,
     .max = 32,
     RRL(ipv4_prefix),
     .doc = "IPv4 clients are counted per /N"},
    {.key = "ipv6_prefix",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "56",
     .min = 16,
     .max = 128,
     RRL(ipv6_prefix),
     .doc = "IPv6 clients are counted per /N"},
    {.key = "table_size",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "65536",
     .min = 64,
     .max = 16777216,
     RRL(table_size),
     .doc = "rate buckets per worker"},
};
static const struct sch_table rrl_table = {rrl_items, sizeof(rrl_items) / sizeof(rrl_items[0]),
                                           NULL, NULL};

#define SR(f) .offset = offsetof(struct reg_srv_build, srv.f), .size = SIZE(struct reg_server, f)
static const struct sch_item server_items[] = {
    {.key = "listen",
     .reload = SCH_RESTART,
     .restart = "the old addresses keep serving until srvd is restarted",
     .type = SCH_LISTENS,
     .def = "[\"127.0.0.1:5353\", \"[::1]:5353\"]",
     .max = 65535,
     .offset = offsetof(struct reg_srv_build, srv.listen),
     .aux = offsetof(struct reg_srv_build, srv.n_listen),
     .doc = "UDP and TCP listeners, ADDR:PORT or [V6]:PORT (port 0: any)"},
    {.key = "zone",
     .reload = SCH_ANSWERS,
     .type = SCH_DNAME,
     .def = "svc.example.",
     SR(zone),
     .doc = "apex under which services are named"},
    {.key = "ttl",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "5",
     .max = U32MAX_TTL,
     SR(ttl),
     .doc = "TTL of service answers"},
    {.key = "max_answers",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "8",
     .max = 65535,
     SR(max_answers),
     .doc = "records in one A/AAAA/SRV answer (0: all)"},
    {.key = "edns_udp_size",
     .reload = SCH_ANSWERS,
     .type = SCH_UINT,
     .def = "1232",
     .min = 512,
     .max = 65535,
     SR(edns_udp_size),
     .doc = "largest UDP answer with EDNS"},
    {.key = "soa",
     .type = SCH_MAP,
     .offset = offsetof(struct reg_srv_build, srv.soa),
     .aux = offsetof(struct reg_srv_build, soa_set),
     .children = &soa_table,
     .doc = "SOA record of the service zone"},
    {.key = "ns",
     .reload = SCH_ANSWERS,
     .type = SCH_LIST,
     .elem = SCH_DNAME,
     .offset = offsetof(struct reg_srv_build, srv.ns),
     .aux = offsetof(struct reg_srv_build, srv.n_ns),
     .doc = "NS records of the zone, default [soa.mname]"},
    {.key = "http",
     .reload = SCH_RESTART,
     .restart = RESTART_API,
     .type = SCH_HOSTPORT,
     .max = 65535,
     SR(http),
     .doc = "control API and /metrics, ADDR:PORT; omitted: off"},
    {.key = "http_token",
     .reload = SCH_RESTART,
     .restart = RESTART_API,
     .type = SCH_STRING,
     SR(http_token),
     .doc = "bearer token required by mutating API calls"},
    {.key = "heartbeat_token",
     .reload = SCH_RESTART,
     .restart = RESTART_API,
     .type = SCH_STRING,
     SR(heartbeat_token),
     .doc = "bearer token that allows only heartbeats: PUT /v1/services/S/instances/I/pass "
            "and /fail (http_token works there too)"},
    {.key = "forward",
     .reload = SCH_RESTART,
     .restart = RESTART_FORWARD,
     .type = SCH_LIST,
     .elem = SCH_HOSTPORT,
     .min = 1,
     .max = 65535,
     .offset = offsetof(struct reg_srv_build, srv.forward),
     .aux = offsetof(struct reg_srv_build, srv.n_forward),
     .doc = "resolvers for names outside our zones; omitted: REFUSED"},
    {.key = "transfer",
     .type = SCH_MAP,
     .aux = offsetof(struct reg_srv_build, transfer_set),
     .children = &transfer_table,
     .doc = "zone transfers out"},
    {.key = "identity",
     .reload = SCH_ANSWERS,
     .type = SCH_STRING,
     SR(identity),
     .doc = "id.server answer, default: the host name"},
    {.key = "version",
     .reload = SCH_ANSWERS,
     .type = SCH_STRING,
     .def = "srvd " PACKAGE_VERSION,
     SR(version),
     .doc = "version.server answer"},
    {.key = "watch",
     .type = SCH_ENUM,
     .def = "true",
     SR(watch),
     .names = bool_names,
     .doc = "reload when the registry, an include or a zone file changes (inotify)"},
    {.key = "forward_timeout",
     .reload = SCH_RESTART,
     .restart = RESTART_FORWARD,
     .type = SCH_DURATION,
     .def = "1s",
     .min = 10,
     .max = 60000,
     SR(forward_timeout_ms),
     .doc = "wait for one forward resolver before trying the next"},
    {.key = "log_queries",
     .type = SCH_ENUM,
     .def = "false",
     SR(log_queries),
     .names = bool_names,
     .doc = "log one line per query (client, name, type, rcode, size)"},
    {.key = "syslog",
     .type = SCH_ENUM,
     .def = "off",
     SR(syslog),
     .names = syslog_names,
     .doc = "also log to syslog with this facility: off, daemon, user, local0..local7"},
    {.key = "user",
     .reload = SCH_RESTART,
     .restart = "srvd keeps running as it started until it is restarted",
     .type = SCH_STRING,
     SR(user),
     .doc = "when started as root: drop to this user (and its group) after binding"},
    {.key = "exec_checks",
     .type = SCH_ENUM,
     .def = "false",
     SR(exec_checks),
     .names = bool_names,
     .doc = "allow checks of type exec (commands) in registry files; never in services "
            "written through the API, never as root without server.user"},
    {.key = "rrl",
     .type = SCH_MAP,
     .offset = offsetof(struct reg_srv_build, srv.rrl),
     .aux = offsetof(struct reg_srv_build, rrl_set),
     .children = &rrl_table,
     .doc = "response rate limiting of UDP answers (off by default)"},
    {.key = "sites",
     .reload = SCH_ANSWERS,
     .type = SCH_CUSTOM,
     .custom = reg_parse_sites,
     .doc = "sites by name, each a list of client address prefixes (locality), e.g. "
            "{east: [10.1.0.0/16]}"},
    {.key = "reverse",
     .reload = SCH_ANSWERS,
     .type = SCH_LIST,
     .elem = SCH_PREFIX,
     .offset = offsetof(struct reg_srv_build, srv.reverse),
     .aux = offsetof(struct reg_srv_build, srv.n_reverse),
     .custom = reg_parse_reverse,
     .doc = "prefixes whose reverse zones srvd serves: PTR from instance addresses to "
            "instance names (lengths: IPv4 a multiple of 8, IPv6 of 4)"},
    {.key = "registry",
     .type = SCH_MAP,
     .aux = offsetof(struct reg_srv_build, registry_set),
     .children = &registry_table,
     .doc = "where services come from besides the files"},
};
const struct sch_table reg_server_table = {
    server_items, sizeof(server_items) / sizeof(server_items[0]), NULL, NULL};

#define TOP(f) offsetof(struct reg_top_build, f)
static const struct sch_item top_items[] = {
    {.key = "server",
     .type = SCH_MAP,
     .offset = TOP(server),
     .aux = TOP(server.set),
     .children = &reg_server_table,
     .doc = "server settings"},
    {.key = "zones",
     .type = SCH_CUSTOM,
     .offset = TOP(zones),
     .aux = TOP(n_zones),
     .custom = parse_noted,
     .doc = "RFC 1035 master files, relative to this file"},
    {.key = "include",
     .type = SCH_CUSTOM,
     .offset = TOP(includes),
     .aux = TOP(n_includes),
     .custom = parse_noted,
     .doc = "globs of files holding more services:, relative to this file"},
    {.key = "defaults",
     .type = SCH_MAP,
     .flags = SCH_DEFAULTS,
     .offset = TOP(defaults),
     .aux = TOP(defaults.set),
     .children = &reg_service_table,
     .doc = "inherited by every service"},
    {.key = "services",
     .type = SCH_CUSTOM,
     .custom = parse_services,
     .doc = "services by name (DNS labels)"},
};
const struct sch_table reg_top_table = {top_items, sizeof(top_items) / sizeof(top_items[0]), NULL,
                                        NULL};

const struct sch_table reg_include_table = {&top_items[4], 1,
                                            " (an include file holds only services:)", NULL};

/* defaults: and services:, in that order in top_items */
const struct sch_table reg_etcd_table = {&top_items[3], 2, NULL, NULL};

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

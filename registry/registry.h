/* SPDX-License-Identifier: BSD-3-Clause */
/* registry.h: the registry model (services, instances, tags, checks, server
 * settings, static zones) and its loader from YAML (README "The registry", srvd.yaml(5)).
 *
 * A struct registry is built once by registry_load_*() and then only read:
 * dns/ compiles it into an answer table, health/ reads the checks. All
 * strings and arrays inside belong to the registry and go with
 * registry_free(). Names (zone, services, instances, tags) are stored
 * lowercased; the zone and other domain names are absolute ("svc.example.").
 */
#ifndef SRVD_REGISTRY_H
#define SRVD_REGISTRY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include "common/check.h"

/* A new policy: a value here, its name in tables.c and its ordering in
 * dns/answer/policy.c (dns_policy_of()). */
enum reg_policy {
	REG_POLICY_ROUND_ROBIN = 0,
	REG_POLICY_RANDOM,
	REG_POLICY_WEIGHTED,
	REG_POLICY_FIXED,
	REG_POLICY_HASHED, /* rendezvous hash of the client's subnet: stable per client */
	REG_POLICIES       /* the number of policies, not a policy */
};

/* service.empty: what a service with no passing instance answers. */
enum reg_empty {
	REG_EMPTY_NODATA = 0, /* NOERROR, no records (the default) */
	REG_EMPTY_NXDOMAIN,   /* NXDOMAIN for the whole subtree (RFC 8020) */
};

/* Returns "round-robin", "random", "weighted", "fixed" or "hashed". */
const char *registry_policy_name(enum reg_policy policy);

struct reg_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* Orders addresses (family, then bytes); 0 when equal. */
int registry_addr_cmp(const struct reg_addr *a, const struct reg_addr *b);

struct reg_instance {
	char *name; /* DNS label, lowercased */
	struct reg_addr addr;
	uint16_t port;     /* resolved: the instance's own or the service's */
	uint16_t weight;   /* default 1 */
	uint16_t priority; /* default 0 */
	char **tags;       /* the instance's own tags, lowercased */
	size_t n_tags;
	/* drained: the reason of its own maintenance, else NULL (a copy of its
	 * entry in the registry's maint[]; see registry_maintenance_of()) */
	const char *maintenance;
	char *site;  /* a key of server.sites (locality), or NULL */
	char **meta; /* meta: its own KEY, VALUE pairs (n_meta of them); see registry_meta_of() */
	size_t n_meta;
	char **ports; /* ports: NAME, "PORT" pairs over the service's; see registry_port_of() */
	size_t n_ports;
	/* address: [A, B, ...] (dual-stack): every address, addr (the primary)
	 * first; NULL and 0 for one address. See registry_addrs(). */
	struct reg_addr *addrs;
	size_t n_addrs;
	struct reg_addr check_addr; /* check_address: the one probed; family 0: addr */
};

struct reg_service {
	char *name;     /* DNS label, lowercased */
	char *protocol; /* DNS label without '_', default "tcp" */
	uint16_t port;  /* default port of the instances (0 if unset) */
	char **tags;    /* tags of the service: they apply to every instance */
	size_t n_tags;
	enum reg_policy policy;
	uint32_t ttl;              /* resolved: the service's or server.ttl */
	uint32_t max_answers;      /* resolved: the service's or server.max_answers; 0 = all */
	double panic_threshold;    /* 0..1, 0 = off */
	struct check_config check; /* resolved: built-in < defaults.check < service check */
	struct reg_instance *instances;
	size_t n_instances;
	const char *maintenance; /* the whole service drained: the reason, else NULL */
	/* A service is shared by the registries that hold it (a change loads
	 * the services it touched and keeps the others: registry_update()):
	 * refs counts them. Immutable once in a registry. */
	unsigned refs;
	uint64_t name_hash; /* registry_name_hash(name), for a change's checks */
	char *file;         /* the file it was defined in, as loaded (NULL: a string) */
	uint32_t file_hash; /* registry_file_hash(file): a change compares this first */
	uint64_t digest;    /* registry_service_digest(), once computed (digest_set) */
	int digest_set;
	/* its index in the last whole answer table built from it: a hint for
	 * a change's delta, checked against the digest (dns/answer/table_delta.c) */
	uint32_t table_hint;
	int failover;       /* 1: A/AAAA carry only the lowest priority tier that passes */
	uint32_t ttl_min;   /* TTL while the service is unstable, if has_ttl_min */
	int has_ttl_min;    /* resolved: ttl_min is set here or in defaults */
	int locality;       /* enum reg_locality */
	uint32_t min_local; /* locality strict: local instances that must pass */
	int empty;          /* enum reg_empty, default nodata */
	char **meta;        /* meta: KEY, VALUE pairs of every instance */
	size_t n_meta;
	char **ports; /* ports: NAME, "PORT" or "PORT/PROTO" pairs; see registry_port_of() */
	size_t n_ports;
};

/* services.NAME.locality: how the client's own site (server.sites) comes first. */
enum reg_locality { REG_LOCALITY_OFF = 0, REG_LOCALITY_PREFER, REG_LOCALITY_STRICT };

/* server.sites: a site and the client address prefixes that are in it. */
struct reg_site {
	char *name;      /* DNS label, lowercased */
	char **prefixes; /* "10.1.0.0/16", "2001:db8::/48", as written */
	size_t n_prefixes;
};

struct reg_listen {
	struct sockaddr_storage addr; /* port 0 allowed */
	socklen_t addr_len;
	char *text; /* as written, e.g. "[::1]:5353" */
};

struct reg_soa {
	char *mname, *rname; /* absolute names */
	uint32_t ttl;        /* TTL of the SOA and NS records, default 3600 */
	uint32_t refresh, retry, expire, minimum;
};

/* transfer.tsig.algorithm, in the order ldns names them. */
enum reg_tsig_alg { REG_TSIG_HMAC_SHA256 = 0, REG_TSIG_HMAC_SHA1, REG_TSIG_HMAC_SHA512 };

/* server.syslog: off, or the facility srvd logs to besides stderr. */
enum reg_syslog {
	REG_SYSLOG_OFF = 0,
	REG_SYSLOG_DAEMON,
	REG_SYSLOG_USER,
	REG_SYSLOG_LOCAL0, /* .. LOCAL7 = LOCAL0 + 7 */
};

/* Response rate limiting (server.rrl), per client prefix, Knot/NSD style:
 * over `rate` responses per second, every `slip`-th limited answer goes out
 * truncated (TC=1, so a real client retries over TCP) and the rest are
 * dropped. */
struct reg_rrl {
	uint32_t rate;        /* responses per second per prefix; 0 (default) = off */
	uint32_t slip;        /* 0 = drop every limited answer; default 2 */
	uint32_t ipv4_prefix; /* default 24 */
	uint32_t ipv6_prefix; /* default 56 */
	uint32_t table_size;  /* buckets per worker, default 65536 */
};

struct reg_server {
	struct reg_listen *listen; /* default 127.0.0.1:5353 and [::1]:5353 */
	size_t n_listen;
	char *zone;             /* absolute, lowercased, default "svc.example." */
	uint32_t ttl;           /* default 5 */
	uint32_t max_answers;   /* default 8 */
	uint16_t edns_udp_size; /* default 1232, 512..65535 */
	struct reg_soa soa;     /* defaults: ns1.<zone>, hostmaster.<zone>, 3600, 600, 86400, 5 */
	char **ns;              /* absolute names, default [ns1.<zone>] */
	size_t n_ns;
	char *http;            /* "addr:port" or NULL (off) */
	char *http_token;      /* or NULL */
	char *heartbeat_token; /* or NULL: allows only heartbeats (.../pass, .../fail) */
	char **forward;        /* "addr:port" each; none = REFUSED */
	size_t n_forward;
	char **transfer_allow; /* prefixes, e.g. "127.0.0.0/8" */
	size_t n_transfer_allow;
	char **transfer_notify; /* "addr:port" */
	size_t n_transfer_notify;
	/* transfer.tsig: key for transfers and NOTIFY; NULL name = none */
	char *tsig_name;             /* absolute, lowercased */
	int tsig_algorithm;          /* enum reg_tsig_alg */
	char *tsig_secret;           /* base64 */
	char *identity;              /* id.server answer, default the host name */
	char *version;               /* version.server answer, default "srvd <version>" */
	int watch;                   /* 1 (default): reload when a file in `watch` changes */
	char *user;                  /* drop root to this user after binding; NULL = stay */
	uint32_t forward_timeout_ms; /* per upstream try, default 1000 */
	int log_queries;             /* 1: one info line per query */
	int syslog;                  /* enum reg_syslog: REG_SYSLOG_OFF (default) or a facility */
	struct reg_rrl rrl;
	int exec_checks; /* 1: checks of type exec may run (registry files only, never as root) */
	struct reg_site *sites; /* server.sites, in file order */
	size_t n_sites;
	char **reverse; /* prefixes whose reverse zones srvd serves (PTR), as written */
	size_t n_reverse;
	/* server.registry.etcd (README "Running a fleet"): no endpoints = files only */
	char **etcd_endpoints; /* "http://HOST:PORT", tried in order */
	size_t n_etcd_endpoints;
	char *etcd_prefix;        /* default "/srvd/" */
	uint32_t etcd_timeout_ms; /* per request, then the next endpoint; default 2s */
	char *etcd_cache;         /* last synced keys, for a start while etcd is down; NULL: none */
	char *etcd_username;      /* etcd authentication, or NULL */
	char *etcd_password_file; /* the password (first line), relative to the main file */
	char *etcd_tls_ca, *etcd_tls_cert, *etcd_tls_key; /* for https:// endpoints */
};

/* One static zone from a `zones:` file. A file with an SOA record is a zone
 * of its own (apex = the SOA owner); a file without one adds records to the
 * service zone (origin = server.zone). */
struct reg_zone {
	char *file;          /* path as resolved */
	ldns_rdf *apex;      /* owned; absolute */
	int is_service_zone; /* 1: records merged into server.zone */
	ldns_rr_list *rrs;   /* owned; every record of the file in file order, except
	                      * that the SOA (if any) is moved first */
};

struct registry {
	char *file; /* the top-level file it was loaded from */
	struct reg_server server;
	struct reg_service **services; /* in file order (includes after the main file) */
	size_t n_services;
	struct reg_zone *zones;
	size_t n_zones;
	/* what a reload on file change watches: the main file, every include
	 * glob (joined to its file's folder) and every zone file, as paths
	 * whose last component may be a glob pattern */
	char **watch;
	size_t n_watch;
	/* drained services and instances, as the source stores them (the files
	 * source: .srvd-maintenance.yaml in the include folder); entries for
	 * names not in the registry are kept, unused */
	struct reg_maint *maint;
	size_t n_maint;
	/* 1: file, server, zones and watch are those of the registry this one
	 * was updated from (registry_update()) until registry_adopt() */
	int borrows;
	/* the sum of its services' digests (registry_digest()), once known */
	uint64_t services_sum;
	int services_sum_set;
};

/* One drain (README "Drain and maintenance"): an instance, or a whole
 * service when instance is NULL. */
struct reg_maint {
	char *service, *instance, *reason;
};

/* Collected errors of one load, each a whole line
 * "FILE:LINE:COL: key.path: what is wrong" (no newline); zone file errors
 * are "FILE:LINE: what is wrong", unreadable files "FILE: cannot open: why".
 * Loads append to it: start from {NULL, 0}. */
struct reg_errors {
	char **lines;
	size_t n;
};

/* Loads the registry at path, its includes and zone files. On success
 * returns 0 and sets *out (caller frees with registry_free()). On failure
 * returns -1, *out stays NULL, and errs holds every error found (caller
 * frees with registry_errors_clear()). errs may be NULL. */
int registry_load_file(const char *path, struct registry **out, struct reg_errors *errs);

/* The same for YAML text in memory (unit tests); name is the file name used
 * in messages and the base for relative paths ("." if it has no folder). */
int registry_load_string(const char *text, const char *name, struct registry **out,
                         struct reg_errors *errs);

/* Loads path like registry_load_file() for `srvd -t`: prints "PATH: ok" or
 * every error line to out. Returns 0 (valid) or 2 (invalid), the exit
 * status of `srvd -t`. */
int registry_check_file(const char *path, FILE *out);

/* Parses a listen address as server.listen does ("A.B.C.D:PORT" or
 * "[v6]:PORT", port 0 allowed), e.g. for `srvd -l`. On success returns 0
 * and fills *out; out->text is a copy the caller frees. Returns -1 if text
 * is malformed or on out of memory. */
int registry_parse_listen(const char *text, struct reg_listen *out);

/* Prints every key of the schema with its type, range, default and meaning,
 * one per line (from the same tables the loader uses). */
void registry_schema_print(FILE *out);

/* Frees a registry (its services once no other registry holds them);
 * accepts NULL. Main thread (the counts are not atomic). */
void registry_free(struct registry *reg);

/* The registry after a change to include files of current (a file that
 * is gone, or no longer defines a service, takes its services away): the
 * services of `files` loaded anew, as in a full load, every other service
 * of current shared, and the drains m (taken over, also on failure; the
 * services whose drains differ from current's are loaded anew too). It
 * borrows current's file, server, zones and watch list until
 * registry_adopt(); free it with registry_free() either way. Returns 0 and
 * sets *out; 1 when only a full load can say (a file outside every
 * include glob, a service name defined twice, static zones, which are
 * checked against every service); -1 with errors in errs (file:line:col). */
int registry_update(const struct registry *current, char *const *files, size_t n_files,
                    struct reg_maint *m, size_t n_maint, struct registry **out,
                    struct reg_errors *errs);

/* FNV-1a of a file's path (reg_service.file_hash; 0 for NULL), and of a
 * service's name (reg_service.name_hash). */
uint32_t registry_file_hash(const char *path);
uint64_t registry_name_hash(const char *name);

/* reg (from registry_update(from, ...)) takes over what it borrowed from
 * `from`, which is left to be freed. */
void registry_adopt(struct registry *reg, struct registry *from);

/* One more registry holds svc / one fewer (the last frees it; NULL ok). */
void registry_service_ref(struct reg_service *svc);
void registry_service_unref(struct reg_service *svc);

/* Appends a copy of line to errs (dropped when out of memory). */
void registry_errors_add(struct reg_errors *errs, const char *line);

/* Frees the lines of errs and zeroes it; accepts NULL. */
void registry_errors_clear(struct reg_errors *errs);

/* A 64-bit digest of everything in reg that can alter an answer: every key
 * whose schema row is of reload class "answers" or "health" (tables.c), the
 * service and instance names and the static zone records. A reload that
 * changes only other keys (listen addresses, the control API, forwarding,
 * transfers, logging, server.watch) keeps the table and its serial. Equal
 * digests mean a reload changes no answer (up to a 2^-64 collision).
 * Borrows reg for the call. */
uint64_t registry_digest(const struct registry *reg);

/* The part of registry_digest() of one service (with its drains), and of
 * all but the services (server, zones): an incremental build compares
 * these to find what a change touched (dns/answer/table_delta.c). */
uint64_t registry_service_digest(const struct reg_service *s);
uint64_t registry_rest_digest(const struct registry *reg);

/* For each group of server keys read only at start whose values differ
 * between old and reg, calls report with their paths ("server.http or
 * server.http_token") and what stays in use until a restart. */
void registry_restart_changes(const struct registry *old, const struct registry *reg,
                              void (*report)(void *arg, const char *keys, const char *text),
                              void *arg);

/* 1 if a and b agree on every check key whose change starts an instance's
 * health afresh (reload class "health"), else 0. */
int registry_check_equal(const struct check_config *a, const struct check_config *b);

/* Sets *c to the schema's defaults of a check (tcp, 2s, 1s, rise 2, fall 3,
 * path /, expect 200-399; unhealthy_interval 0: as interval). Returns 0, or
 * -1 on out of memory. */
int registry_check_defaults(struct check_config *c);

/* One key of a check as the control API shows it. A mapping (tls:, dns:)
 * comes as BEGIN, its keys, END. */
struct reg_field {
	const char *key;
	enum {
		REG_FIELD_UINT,
		REG_FIELD_MS,
		REG_FIELD_TEXT,
		REG_FIELD_BOOL,
		REG_FIELD_LIST,  /* items[0 .. num) */
		REG_FIELD_PAIRS, /* items[0 .. 2 num): name, value, ... */
		REG_FIELD_BEGIN,
		REG_FIELD_END
	} kind;
	uint64_t num;             /* UINT, MS (milliseconds), BOOL, LIST and PAIRS counts */
	const char *text;         /* TEXT */
	const char *const *items; /* LIST, PAIRS */
};

/* Calls fn for every key of c that its type uses (only `type` for none)
 * and that is set, in schema order. Borrows c for the call. */
void registry_check_fields(const struct check_config *c,
                           void (*fn)(void *arg, const struct reg_field *f), void *arg);

/* meta: (README "More answers"): at most this many keys in one mapping, and
 * "KEY=VALUE" fits one TXT character-string. */
#define REG_META_MAX      64
#define REG_META_TEXT_MAX 255

/* The metadata of instance in of s: the service's pairs (with the instance's
 * value where it sets the same key), then the instance's other keys, as
 * KEY, VALUE pointers into kv (room for 2 * 2 * REG_META_MAX); returns the
 * number of pairs. Borrows s and in. */
size_t registry_meta_of(const struct reg_service *s, const struct reg_instance *in,
                        const char **kv);

/* address: (README "More answers"): at most this many addresses per instance. */
#define REG_ADDRS_MAX 8

/* Every address of in (its primary first), *n of them. */
const struct reg_addr *registry_addrs(const struct reg_instance *in, size_t *n);

/* The address in's check probes: check_address, else its primary one. */
const struct reg_addr *registry_check_addr(const struct reg_instance *in);

/* ports: (README "More answers"): at most this many named ports per service. */
#define REG_PORTS_MAX 64

struct reg_named_port {
	const char *name;     /* the port's name, a DNS label (lowercase) */
	const char *protocol; /* its own or the service's */
	uint16_t port;        /* the instance's, else the service's */
};

/* Named port k (< s->n_ports) of s as instance in (NULL: the service's
 * value) answers it; the strings are borrowed from s. */
void registry_port_of(const struct reg_service *s, const struct reg_instance *in, size_t k,
                      struct reg_named_port *out);

/* server.reverse (README "More answers"): a prefix ("192.0.2.0/24", an
 * address alone is /32 or /128) into *addr and *len: 0, or -1 if text is
 * none. */
int registry_reverse_prefix(const char *text, struct reg_addr *addr, unsigned *len);

/* 1 if addr lies inside prefix (text as above), else 0. */
int registry_reverse_covers(const char *prefix, const struct reg_addr *addr);

/* Looks a service up by lowercase name; NULL if none. Borrows reg. */
const struct reg_service *registry_find_service(const struct registry *reg, const char *name);

/* Fragments (fragment.c): one-service files `NAME.yaml` in the include
 * folder, written by the control API so that YAML stays the one source of
 * truth. Functions return 0 or a negative errno code. */

/* Where the fragment text puts the first line and column of the body. */
#define REG_FRAGMENT_BODY_LINE 4
#define REG_FRAGMENT_BODY_COL  5

/* 1 if name can name a service (a DNS label), else 0. */
int registry_fragment_name_ok(const char *name);

/* Finds the folder of the first `include:` glob of main_file and checks that
 * the glob loads NAME.yaml (name NULL: no check). Sets *dir (caller frees). Errors, with a message
 * in err: -ENOENT (no include:), -EINVAL (the glob would not load NAME.yaml,
 * or the folder is a pattern), -EIO (main_file unreadable), -ENOMEM. */
int registry_fragment_dir(const char *main_file, const char *name, char **dir, char *err,
                          size_t errlen);

/* The text of NAME.yaml for one service whose mapping is body (JSON or
 * YAML, len bytes), indented under `services: NAME:` from
 * REG_FRAGMENT_BODY_LINE/COL on, into *text (caller frees). CRLF becomes LF.
 * Errors, with a message in err: -EINVAL (body holds a NUL, a lone CR, NEL,
 * LS or PS: line breaks that libyaml knows and the indenting would miss),
 * -ENOMEM. */
int registry_fragment_text(const char *name, const char *body, size_t len, char **text, char *err,
                           size_t errlen);

/* Validates fragment text for service name with the include-file schema,
 * as an include file of main_file (NULL: on its own): it inherits the main
 * file's server: and defaults:, as it will once written, but the main
 * file's zones, includes and services are not read (collisions with them
 * show at reload). Checks that it holds exactly {services: {name: ...}}.
 * Messages name NAME.yaml; if the main file's server: or defaults: do not
 * load, one line says so, without a position. Returns 0, or -1 with the
 * errors in errs as registry_load_string(). */
int registry_fragment_check(const char *main_file, const char *text, const char *name,
                            struct reg_errors *errs);

/* Maintenance (maintenance.c): drains, stored apart from the services. */

/* The file of the files source, in the include folder. A leading dot: the
 * include glob never loads it as services (glob(3) skips hidden files). */
#define REG_MAINT_NAME ".srvd-maintenance" /* fragment name: + ".yaml" */

/* Parses the text of the maintenance file (file names it in errors) into
 * *out, *n (free with registry_maint_free()). Returns 0, or -1 with
 * file:line:col errors in errs. */
int registry_maint_parse(const char *text, size_t len, const char *file, struct reg_maint **out,
                         size_t *n, struct reg_errors *errs);

/* The text of the maintenance file for m (JSON, one entry a line), or NULL
 * when out of memory. */
char *registry_maint_format(const struct reg_maint *m, size_t n);

/* Sets (reason non-NULL) or clears (NULL) the drain of service/instance
 * (instance NULL: the service) in *m, *n. Returns 1 if it changed
 * something, 0 if not, -ENOMEM. */
int registry_maint_set(struct reg_maint **m, size_t *n, const char *service, const char *instance,
                       const char *reason);

void registry_maint_free(struct reg_maint *m, size_t n);

/* Gives reg the drains m (taken over) and sets its services' and
 * instances' `maintenance` from them (registry_maint_attach_service()).
 * Only for a registry just loaded: its services are its own. */
void registry_maint_attach(struct registry *reg, struct reg_maint *m, size_t n);
/* Sets s's and its instances' `maintenance` to copies of their drains in m
 * (a service is kept by the next registry when a change does not touch
 * it); 0 or -ENOMEM. */
int registry_maint_attach_service(struct reg_service *s, const struct reg_maint *m, size_t n);

/* The reason instance inst of s is drained (its own, else its service's),
 * or NULL. */
const char *registry_maintenance_of(const struct reg_service *s, const struct reg_instance *inst);

/* The fragment text of service name (text, as read) without its instance
 * named instance, into *out (caller frees): the body is written again as
 * flow YAML, values keep their spelling. Errors, with a message in err:
 * -ENOENT (no such instance), -EINVAL (text is not one service), -ENOMEM. */
int registry_fragment_drop_instance(const char *name, const char *text, const char *instance,
                                    char **out, char *err, size_t errlen);

/* Reads dir/NAME.yaml into *text (caller frees); -ENOENT if there is none. */
int registry_fragment_read(const char *dir, const char *name, char **text);

/* Replaces dir/NAME.yaml with text atomically (hidden temp file, fsync,
 * rename, fsync of dir); creates dir if missing. */
int registry_fragment_write(const char *dir, const char *name, const char *text);

/* Removes dir/NAME.yaml and fsyncs dir; -ENOENT if there is none. */
int registry_fragment_remove(const char *dir, const char *name);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* loader.h: state of one registry load, shared by the files of registry/.
 *
 * Everything lives in a struct reg_loader on the caller's stack: there is
 * no global state, so loads may run concurrently (a reload beside a -t). */
#ifndef SRVD_REGISTRY_LOADER_H
#define SRVD_REGISTRY_LOADER_H

#include <stdint.h>

#include "registry/registry.h"
#include "registry/schema.h"
#include "registry/ynode.h"

/* A string from the YAML with the node it came from. */
struct reg_noted {
	char *text;
	const struct ynode *node;
	struct sch_path path; /* e.g. zones[1], for messages about the file */
};

/* Its key path services.NAME.instances[i] is rebuilt for messages rather
 * than kept: 520 bytes each would be half a gigabyte for a million. */
struct reg_inst_build {
	struct reg_instance inst;
	uint64_t set;
	const struct ynode *node;
};

/* services.NAME and defaults: share one table and this layout. */
struct reg_svc_build {
	struct reg_service svc;
	uint64_t set;
	uint64_t check_set;
	const struct ynode *key;   /* the name, NULL for defaults: */
	const struct ynode *node;  /* the service's mapping */
	const struct ynode *check; /* the check: node, if any */
	struct reg_inst_build *inst;
	size_t n_inst;
	size_t cap_inst;
};

struct reg_srv_build {
	struct reg_server srv;
	uint64_t set, soa_set, transfer_set, rrl_set, tsig_set, registry_set, etcd_set,
	    etcd_tls_set;
};

/* The top level of the main file; include files use the same struct. */
struct reg_top_build {
	struct reg_srv_build server;
	struct reg_svc_build defaults;
	struct reg_noted *zones;
	size_t n_zones;
	struct reg_noted *includes;
	size_t n_includes;
};

struct reg_loader {
	struct reg_errors *errs;
	int failed;
	int from_api;       /* a service written through the control API: no exec checks */
	struct ydoc **docs; /* kept until the end: errors point into them */
	size_t n_docs;
	struct reg_top_build top;
	struct reg_svc_build *svcs;
	size_t n_svcs, cap_svcs;
	struct registry *reg;
	size_t **zone_lines; /* per reg->zones[i]: line of each record */
	/* services by name (reg_index_services), so that duplicate and
	 * collision checks stay linear with 100,000 services: an open
	 * addressing table of first indices + 1 (0: empty), and for each
	 * service the next one of the same name + 1 (0: none) */
	size_t *svc_slots;
	size_t svc_mask;
	size_t *svc_next;
};

/* Records one error line "FILE:LINE:COL: PATH: message" at node (or
 * "FILE: message" when node is NULL and file is given). */
void reg_error(struct reg_loader *ld, const struct ynode *node, const struct sch_path *path,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records an error line that is already formatted. */
void reg_error_line(struct reg_loader *ld, const char *line);

/* The schema tables (tables.c). */
extern const struct sch_table reg_top_table;     /* the main file */
extern const struct sch_table reg_include_table; /* an include file */
extern const struct sch_table reg_etcd_table;    /* etcd: services: and defaults: */
extern const struct sch_table reg_service_table; /* services.NAME and defaults: */
extern const struct sch_table reg_server_table;
extern const struct sch_table reg_check_table;
extern const struct sch_table reg_instance_table;

void reg_svc_build_free(struct reg_svc_build *b);

/* The rules of a resolved check beyond its keys' types (checkrules.c): keys
 * the type does not use (those set in the service's own check:, own_mask),
 * keys a type requires, exec's conditions. Reports with file:line:col at
 * path (services.NAME). */
void reg_check_rules(struct reg_loader *ld, const struct reg_svc_build *b, uint64_t own_mask,
                     struct sch_path *path);

/* The rules of named ports (ports.c): a port name is no tag and no
 * instance name of the service; an instance's ports are the service's. */
void reg_check_ports(struct reg_loader *ld, const struct reg_svc_build *b, struct sch_path *path);

/* check_address is one of the instance's addresses (addrs.c); path:
 * services.NAME.instances[i]. */
void reg_check_addresses(struct reg_loader *ld, const struct reg_inst_build *ib,
                         struct sch_path *path);
/* Frees what address: allocated beyond the schema's fields. */
void reg_addrs_free(struct reg_instance *in);

/* The first service named name (lowercase) in ld->svcs, or NULL; with
 * reg_svc_next() the others of that name in file order. Valid once
 * resolve has indexed the services (before zones are checked). */
const struct reg_svc_build *reg_svc_first(const struct reg_loader *ld, const char *name);
const struct reg_svc_build *reg_svc_next(const struct reg_loader *ld,
                                         const struct reg_svc_build *b);

/* The answer keys of service b that depend on others (answers.c): ttl_min
 * against ttl, locality and its instances' sites against server.sites.
 * Reports at path (services.NAME). */
void reg_resolve_answers(struct reg_loader *ld, struct reg_svc_build *b, struct sch_path *path);

/* server.sites (answers.c): the custom parser of its schema row, and the
 * free of what it holds (sch_free leaves custom items to their owner). */
int reg_parse_sites(struct reg_loader *ld, const struct sch_item *item, const struct ynode *node,
                    void *target, struct sch_path *path);
void reg_sites_free(struct reg_server *srv);

/* Static zones (zone.c): reads every zones: file into ld->reg->zones and
 * checks it against the service zone and the services. */
int reg_zones_load(struct reg_loader *ld);
void reg_zone_free(struct reg_zone *zone);
int reg_zones_check_services(struct reg_loader *ld);

/* Loads text as an include file (only services:, so no zone or include is
 * ever opened), as registry_load_string() does a main file: of main_file
 * (NULL: none), as one of its includes, inheriting its server: and
 * defaults: (which are all an include inherits); nothing else of main_file
 * is read, so its services and zones are not checked against. It checks
 * what the control API writes, so exec checks are refused (whoever may
 * register a service must not get to run commands). */
int reg_load_include_string(const char *text, const char *name, const char *main_file,
                            struct registry **out, struct reg_errors *errs);

/* The same for include file path of main_file, as a full load reads it
 * (its checks may be exec). */
int reg_load_include_file(const char *path, const char *main_file, struct registry **out,
                          struct reg_errors *errs);
/* The same for the services of etcd (source_etcd.c): text holds services:
 * and optionally defaults:, which replace the main file's (the fleet shares
 * the etcd defaults; a srvd's own defaults apply to its file services). */
int reg_load_etcd_string(const char *text, const char *name, const char *main_file,
                         struct registry **out, struct reg_errors *errs);

/* Joins a path relative to the folder of `base`; caller frees. */
char *reg_path_join(const char *base, const char *rel);

#endif

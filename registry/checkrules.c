/* SPDX-License-Identifier: BSD-3-Clause */
/* checkrules.c: what a resolved check must obey beyond the types of its
 * keys: a key only for the types that use it (the rows' .checks), what a
 * type requires (dns.name, command), and the conditions of exec checks
 * (server.exec_checks, registry files only, never as root). */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/schema.h"

#define BODY_MATCH_MAX 1024

/* The key node of key in map, or NULL. */
static const struct ynode *key_node(const struct ynode *map, const char *key)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->keys[i];
	return NULL;
}

/* Where to report about check key `key` of b: the key as written in the
 * service's check:, else the check:, else the service's name. */
static const struct ynode *where(const struct reg_svc_build *b, const char *key)
{
	const struct ynode *n = key ? key_node(b->check, key) : NULL;

	return n ? n : b->check ? b->check : b->key;
}

static void check_error(struct reg_loader *ld, const struct reg_svc_build *b, const char *key,
                        struct sch_path *path, const char *msg)
{
	size_t old = sch_path_key(path, "check");

	if (key && key_node(b->check, key))
		sch_path_key(path, key);
	reg_error(ld, where(b, key), path, "%s", msg);
	sch_path_pop(path, old);
}

static void types_text(unsigned bits, char *buf, size_t len)
{
	buf[0] = '\0';
	for (unsigned t = 0; t < CHECK_TYPES; t++)
		if (bits & (1u << t)) {
			strncat(buf, buf[0] ? ", " : "", len - strlen(buf) - 1);
			strncat(buf, check_type_name((enum check_type)t), len - strlen(buf) - 1);
		}
}

/* The types of keys with no .checks: every type that is probed (not ttl,
 * whose instances report themselves: interval, rise ... mean nothing). */
static unsigned probed_bits(void)
{
	unsigned bits = 0;

	for (unsigned t = 0; t < CHECK_TYPES; t++)
		if (check_type_probed((enum check_type)t))
			bits |= 1u << t;
	return bits;
}

/* 1 if srvd, running as root, would stay root: no server.user, or one that
 * is root itself. */
static int stays_root(const struct reg_server *srv)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (geteuid() != 0)
		return 0;
	if (!srv->user)
		return 1;
	return getpwnam_r(srv->user, &pw, buf, sizeof(buf), &res) == 0 && res && pw.pw_uid == 0;
}

static int hostname_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

static void check_exec(struct reg_loader *ld, const struct reg_svc_build *b,
                       const struct check_more *m, struct sch_path *path)
{
	char msg[512];

	if (ld->from_api) {
		check_error(
		    ld, b, "type", path,
		    "type exec is not allowed in services written through the API (only in "
		    "registry files: whoever may register a service must not run commands)");
		return;
	}
	if (!ld->top.server.srv.exec_checks) {
		check_error(ld, b, "type", path,
		            "type exec runs commands: allow it with server.exec_checks: true");
		return;
	}
	if (stays_root(&ld->top.server.srv)) {
		check_error(ld, b, "type", path,
		            "type exec never runs as root: srvd runs as root, set server.user to "
		            "the user that runs the commands");
		return;
	}
	if (m->n_command == 0) {
		check_error(ld, b, "command", path,
		            "type exec needs command: [\"/path/to/program\", \"{address}\", "
		            "\"{port}\"]");
		return;
	}
	if (m->n_command > CHECK_COMMAND_MAX) {
		snprintf(msg, sizeof(msg), "at most %d arguments, the program included",
		         CHECK_COMMAND_MAX);
		check_error(ld, b, "command", path, msg);
	}
	if (m->command[0][0] != '/') {
		snprintf(msg, sizeof(msg),
		         "\"%.200s\" is not an absolute path (no shell and no PATH search)",
		         m->command[0]);
		check_error(ld, b, "command", path, msg);
	}
	for (size_t i = 0; i < m->n_command; i++)
		if (strlen(m->command[i]) > 4096) {
			check_error(ld, b, "command", path, "an argument is over 4096 bytes");
			break;
		}
}

static void check_tls(struct reg_loader *ld, const struct reg_svc_build *b,
                      const struct check_more *m, struct sch_path *path)
{
	char msg[600];
	struct stat st;

	if (m->tls.server_name && !hostname_ok(m->tls.server_name)) {
		snprintf(
		    msg, sizeof(msg),
		    "tls.server_name \"%.200s\" is not a host name (letters, digits, '-', '.', "
		    "no trailing dot)",
		    m->tls.server_name);
		check_error(ld, b, "tls", path, msg);
	}
	if (m->tls.ca && m->tls.ca[0] != '/') {
		snprintf(msg, sizeof(msg), "tls.ca \"%.200s\" is not an absolute path", m->tls.ca);
		check_error(ld, b, "tls", path, msg);
	} else if (m->tls.ca && stat(m->tls.ca, &st) < 0) {
		snprintf(msg, sizeof(msg), "tls.ca %.200s: %s", m->tls.ca, strerror(errno));
		check_error(ld, b, "tls", path, msg);
	} else if (m->tls.ca && !S_ISREG(st.st_mode)) {
		snprintf(msg, sizeof(msg), "tls.ca %.200s: not a file", m->tls.ca);
		check_error(ld, b, "tls", path, msg);
	}
}

void reg_check_rules(struct reg_loader *ld, const struct reg_svc_build *b, uint64_t own_mask,
                     struct sch_path *path)
{
	const struct check_config *c = &b->svc.check;
	const struct check_more *m = check_more_of(c);
	char msg[256], types[128];

	/* none keeps the keys of the check it switched off */
	for (size_t i = 0; c->type != CHECK_NONE && i < reg_check_table.n; i++) {
		const struct sch_item *item = &reg_check_table.items[i];
		/* type is every type's; others without .checks, every probed type's */
		unsigned bits = item->checks                     ? item->checks
		                : strcmp(item->key, "type") == 0 ? ~0u
		                                                 : probed_bits();

		if (!(own_mask & ((uint64_t)1 << i)) || (bits & (1u << c->type)))
			continue;
		types_text(bits, types, sizeof(types));
		snprintf(msg, sizeof(msg), "only for %s, not type %s", types,
		         check_type_name(c->type));
		check_error(ld, b, item->key, path, msg);
	}
	switch (c->type) {
	case CHECK_HTTP:
	case CHECK_HTTPS:
		if (m->body_match &&
		    (!m->body_match[0] || strlen(m->body_match) > BODY_MATCH_MAX)) {
			snprintf(msg, sizeof(msg), "body_match must hold 1 to %d bytes",
			         BODY_MATCH_MAX);
			check_error(ld, b, "body_match", path, msg);
		} else if (m->body_match && m->method == CHECK_HEAD) {
			check_error(ld, b, "body_match", path,
			            "body_match needs a body: method HEAD gets none");
		}
		if (c->type == CHECK_HTTPS)
			check_tls(ld, b, m, path);
		break;
	case CHECK_TLS:
	case CHECK_GRPC:
		check_tls(ld, b, m, path);
		if (m->grpc_service && strlen(m->grpc_service) > 1024)
			check_error(ld, b, "grpc_service", path, "grpc_service is over 1024 bytes");
		break;
	case CHECK_DNS:
		if (!m->dns.name)
			check_error(ld, b, "dns", path,
			            "type dns needs dns.name, the name asked (e.g. dns: {name: "
			            "example.org.})");
		break;
	case CHECK_EXEC:
		check_exec(ld, b, m, path);
		break;
	case CHECK_TTL:
		if (!c->ttl_ms)
			check_error(ld, b, "type", path,
			            "type ttl needs ttl, the longest wait between heartbeats (e.g. "
			            "ttl: 30s)");
		break;
	case CHECK_TCP:
	case CHECK_NONE:
	case CHECK_TYPES:
		break;
	}
}

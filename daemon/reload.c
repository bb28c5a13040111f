/* SPDX-License-Identifier: BSD-3-Clause */
/* reload.c: re-reading the registry while serving (README "Reloading").
 *
 * Everything runs on the main thread: the new registry is loaded (only the
 * files that changed, where the source can say which: reg_source_update()
 * and registry_update(), sharing the other services), its table
 * built and its checker created while the workers keep answering from the
 * old table; nothing is touched until all of that succeeded. Then the new
 * checker takes over the state of the instances that survive, and the table
 * is published with one atomic swap. The table is a delta over the served
 * one's base where it can be (dns_table_update()), so a change costs the
 * services it touched in the table. The old table and the old checker
 * (whose state the old table points into) are retired together and freed
 * once no worker holds the table (server.c, daemon_retire()).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/listen/server.h"
#include "dns/answer/table.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

static int reject(struct daemon *d, const char *why, const struct reg_errors *errs)
{
	struct daemon_reload_stats *st = &d->stats;

	st->failed++;
	st->last_fail_ms = daemon_now_ms();
	snprintf(st->last_error, sizeof(st->last_error), "%s",
	         errs->n ? errs->lines[0] : "cannot load");
	log_err("reload rejected: %zu error%s in %s (%s); still serving serial %u", errs->n,
	        errs->n == 1 ? "" : "s", d->opt->config, why, dns_table_serial(d->table));
	for (size_t i = 0; i < errs->n; i++)
		log_err("%s", errs->lines[i]);
	return -1;
}

/* Sockets, the API, forwarding, transfers' ACL and key, and the user are
 * set up once, at start: say so when the file asks otherwise (the schema
 * rows of reload class "restart" say which keys, and what stays in use). */
static void report_restart(void *arg, const char *keys, const char *text)
{
	const struct daemon *d = arg;

	/* -l replaces server.listen: the file's value is not in use anyway */
	if (d->opt->n_listen && strcmp(keys, "server.listen") == 0)
		return;
	log_warn("reload: %s changed; %s", keys, text);
}

void daemon_reload_full(struct daemon *d)
{
	d->reload_full = 1;
}

int daemon_reload(struct daemon *d, const char *why, struct reg_errors *errs)
{
	struct reg_errors local = {NULL, 0};
	struct reg_errors *e = errs ? errs : &local;
	struct registry *reg = NULL;
	struct dns_table *table = NULL, *old;
	struct health_garbage *gone = NULL;
	uint64_t digest;
	uint32_t serial;
	size_t kept;
	char err[512], line[1100];
	int r = -1, rc, updated, full = d->reload_full;

	d->reload_full = 0;
	/* what changed, at its cost (only the files or services it names),
	 * else (SIGHUP, the main file) everything */
	rc = full ? 1 : reg_source_update(d->src, d->reg, &reg, e);
	updated = rc == 0;
	if (rc > 0) {
		/* the files are read now: what changed until here needs no
		 * second reload */
		reg_source_drain(d->src);
		rc = reg_source_load(d->src, &reg, e);
	}
	if (rc < 0) {
		if (e->n == 0)
			registry_errors_add(e, "cannot load the registry");
		goto reject;
	}
	/* still root (no server.user): the same refusal as at start */
	if (daemon_unsafe_files(reg, e) < 0)
		goto reject;
	registry_restart_changes(d->reg, reg, report_restart, d);
	digest = registry_digest(reg);
	if (digest == d->digest) {
		/* same answers: keep table, serial and health; the rest of the
		 * file (e.g. server.watch) is taken over */
		registry_adopt(reg, d->reg);
		registry_free(d->reg);
		d->reg = reg;
		d->stats.unchanged++;
		daemon_apply_logging(reg);
		log_info("reload (%s): nothing that alters an answer changed; serial %u stays", why,
		         dns_table_serial(d->table));
		reg_source_watch(d->src, d->reg);
		daemon_give_back();
		r = 0;
		goto done;
	}
	/* the new answers go out with the new serial in one swap; max(serial +
	 * 1, now) (RFC 1982) never goes backwards, and a restart, starting at
	 * now, stays above what secondaries saw (serial.c) */
	serial = dns_serial_next(dns_table_serial(d->table));
	/* a delta over the served table's base where the change allows:
	 * the services it touched, not the registry (table_delta.c) */
	if (dns_table_update(d->table, reg, serial, &table, err, sizeof(err)) < 0) {
		snprintf(line, sizeof(line), "%s: %s", d->opt->config, err);
		registry_errors_add(e, line);
		goto reject;
	}
	/* the checker keeps the blocks of the services the change did not
	 * touch (their state, probes and the cells the tables read) and builds
	 * the others, which take over from the blocks they replace */
	if (health_update(d->health, reg, &kept, &gone) < 0) {
		registry_errors_add(e, "out of memory");
		goto reject;
	}
	/* nothing fails from here on. The state first, then the binding: a
	 * delta's binding moves the cells its base's instances read, in the
	 * served view too, so they must hold the taken-over state by then */
	if (daemon_bind_cells(table, d->health) < 0)
		log_err("reload: internal error: health state does not match the table");
	if (d->ready)
		dns_table_set_ready(table, 1);
	old = dns_server_swap_table(d->srv, table);
	/* the dropped blocks' cells go with the table that reads them */
	daemon_retire(d, old, gone);
	d->table = table;
	registry_adopt(reg, d->reg);
	registry_free(d->reg);
	d->reg = reg;
	d->digest = digest;
	d->stats.ok++;
	daemon_apply_logging(reg);
	d->stats.last_ok_ms = daemon_now_ms();
	log_info(
	    "reload (%s): serial %u, %zu services, %zu instances (%zu kept their health state; %s)",
	    why, serial, reg->n_services, daemon_count_instances(reg), kept,
	    !updated                    ? "every file read, table built whole"
	    : dns_table_is_delta(table) ? "changed files read, changed services built"
	                                : "changed files read, table built whole");
	daemon_serial_reloaded(d);
	reg_source_watch(d->src, d->reg);
	registry_errors_clear(&local);
	return 0;
reject:
	dns_table_free(table);
	registry_free(reg);
	daemon_give_back();
	reject(d, why, e);
	/* a symlink may point elsewhere now: follow it, so that a fix there is seen */
	reg_source_watch(d->src, d->reg);
done:
	registry_errors_clear(&local);
	return r;
}

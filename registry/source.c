/* SPDX-License-Identifier: BSD-3-Clause */
/* source.c: the calls of source.h, through each source's operations. */
#include "config.h"

#include "registry/source.h"

#include <stdio.h>
#include <string.h>

int reg_source_load(struct reg_source *s, struct registry **out, struct reg_errors *errs)
{
	return s->ops->load(s, out, errs);
}

void reg_source_watch(struct reg_source *s, const struct registry *reg)
{
	s->ops->watch(s, reg);
}

void reg_source_drain(struct reg_source *s)
{
	s->ops->drain(s);
}

void reg_source_put(struct reg_source *s, const struct registry *current, const char *name,
                    const char *body, size_t len, struct reg_write *w)
{
	reg_source_put_if(s, current, name, body, len, REG_IF_NONE, w);
}

void reg_source_put_if(struct reg_source *s, const struct registry *current, const char *name,
                       const char *body, size_t len, int64_t cond, struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	s->ops->put_service(s, current, name, body, len, cond, w);
}

void reg_source_delete(struct reg_source *s, const struct registry *current, const char *name,
                       struct reg_write *w)
{
	reg_source_delete_if(s, current, name, REG_IF_NONE, w);
}

void reg_source_delete_if(struct reg_source *s, const struct registry *current, const char *name,
                          int64_t cond, struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	s->ops->delete_service(s, current, name, cond, w);
}

int64_t reg_source_revision(struct reg_source *s, const char *name)
{
	return s->ops->revision ? s->ops->revision(s, name) : 0;
}

int reg_source_report(struct reg_source *s, struct reg_source_report *r)
{
	memset(r, 0, sizeof(*r));
	if (!s->ops->report)
		return -1;
	s->ops->report(s, r);
	return 0;
}

void reg_source_delete_instance(struct reg_source *s, const struct registry *current,
                                const char *service, const char *instance, struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	s->ops->delete_instance(s, current, service, instance, w);
}

void reg_source_set_maintenance(struct reg_source *s, const struct registry *current,
                                const char *service, const char *instance, const char *reason,
                                struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	s->ops->set_maintenance(s, current, service, instance, reason, w);
}

void reg_source_undo(struct reg_source *s, struct reg_write *w)
{
	if (w->result == REG_WRITE_OK)
		s->ops->undo(s, w);
}

void reg_write_clear(struct reg_write *w)
{
	registry_errors_clear(&w->errs);
	if (w->undo && w->undo_free)
		w->undo_free(w->undo);
	memset(w, 0, sizeof(*w));
}

void reg_source_free(struct reg_source *s)
{
	if (s)
		s->ops->free(s);
}

int reg_source_update(struct reg_source *s, const struct registry *current, struct registry **out,
                      struct reg_errors *errs)
{
	*out = NULL;
	return s->ops->update ? s->ops->update(s, current, out, errs) : 1;
}

/* Instances on their own exist in a shared store only. */
static void no_instances(struct reg_write *w)
{
	w->result = REG_WRITE_CONFLICT;
	snprintf(w->message, sizeof(w->message),
	         "instances on their own (and their leases) need the shared registry: "
	         "server.registry.etcd; change the service instead");
}

void reg_source_put_instance(struct reg_source *s, const struct registry *current,
                             const char *service, const char *instance, const char *body,
                             size_t len, uint32_t ttl_s, struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	if (!s->ops->put_instance)
		no_instances(w);
	else
		s->ops->put_instance(s, current, service, instance, body, len, ttl_s, w);
}

void reg_source_heartbeat(struct reg_source *s, const char *service, const char *instance,
                          struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	if (!s->ops->heartbeat)
		no_instances(w);
	else
		s->ops->heartbeat(s, service, instance, w);
}

int reg_source_share_result(struct reg_source *s, const char *service, const char *instance,
                            int pass, const char *note, struct reg_write *w)
{
	memset(w, 0, sizeof(*w));
	if (!s->ops->share_result)
		return -1;
	s->ops->share_result(s, service, instance, pass, note, w);
	return 0;
}

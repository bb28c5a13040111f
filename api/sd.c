/* SPDX-License-Identifier: BSD-3-Clause */
/* sd.c: GET /v1/sd/prometheus, Prometheus's HTTP service discovery format
 * (README "Discovery over HTTP"): a JSON list of target groups, one per
 * passing instance, `"ADDR:PORT"` with its labels.
 *
 * Prometheus (2.42, Debian 12's) rejects the whole response when one label
 * name has a byte outside [a-zA-Z0-9_], so every name made from registry
 * text goes through api_label_name().
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "api/json.h"
#include "registry/registry.h"

void api_label_name(const char *prefix, const char *key, char *out, size_t len)
{
	size_t n;

	if (len == 0)
		return;
	snprintf(out, len, "%s%s", prefix, key);
	n = strlen(prefix) < len ? strlen(prefix) : len - 1;
	for (char *p = out + n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

/* ",a,b," (Consul's __meta_consul_tags): a regex can match ",a," whatever
 * the order; ",," for none. Service tags, then the instance's own. */
static void tags_label(struct json *j, const struct reg_service *s, const struct reg_instance *in)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		json_kstr(j, "__meta_srvd_tags", ",,");
		return;
	}
	evbuffer_add(b, ",", 1);
	for (size_t t = 0; t < s->n_tags; t++)
		evbuffer_add_printf(b, "%s,", s->tags[t]);
	for (size_t t = 0; t < in->n_tags; t++)
		evbuffer_add_printf(b, "%s,", in->tags[t]);
	if (evbuffer_get_length(b) == 1)
		evbuffer_add(b, ",", 1);
	json_key(j, "__meta_srvd_tags");
	json_strn(j, (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

/* meta: (README "More answers"): __meta_srvd_meta_KEY per key, as its TXT
 * answers (the service's keys, the instance's over them). */
static void meta_labels(struct json *j, const struct reg_service *s, const struct reg_instance *in)
{
	const char *kv[4 * REG_META_MAX];
	size_t n = registry_meta_of(s, in, kv);
	char label[128];

	for (size_t i = 0; i < n; i++) {
		api_label_name("__meta_srvd_meta_", kv[2 * i], label, sizeof(label));
		json_kstr(j, label, kv[2 * i + 1]);
	}
}

/* One target group: the instance's address and port (IPv6 in brackets),
 * and its labels, __meta_srvd_port_NAME and __meta_srvd_meta_KEY through
 * api_label_name(). */
static void target_group(struct json *j, const struct api *api, size_t si, size_t k)
{
	const struct reg_service *s = api_registry(api)->services[si];
	const struct reg_instance *in = &s->instances[k];
	char addr[INET6_ADDRSTRLEN], target[INET6_ADDRSTRLEN + 8];

	inet_ntop(in->addr.family, &in->addr.u, addr, sizeof(addr));
	snprintf(target, sizeof(target), in->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
	         (unsigned)in->port);
	json_obj_begin(j);
	json_key(j, "targets");
	json_arr_begin(j);
	json_str(j, target);
	json_arr_end(j);
	json_key(j, "labels");
	json_obj_begin(j);
	json_kstr(j, "__meta_srvd_service", s->name);
	json_kstr(j, "__meta_srvd_instance", in->name);
	tags_label(j, s, in);
	meta_labels(j, s, in);
	for (size_t p = 0; p < s->n_ports; p++) {
		struct reg_named_port np;
		char label[128], num[8];

		registry_port_of(s, in, p, &np);
		api_label_name("__meta_srvd_port_", np.name, label, sizeof(label));
		snprintf(num, sizeof(num), "%u", (unsigned)np.port);
		json_kstr(j, label, num);
	}
	json_kstr(j, "__meta_srvd_health", api_inst_health(api, si, k));
	json_obj_end(j);
	json_obj_end(j);
}

/* ?service=NAME: that service only (none if there is no such service);
 * ?all=1: failing and unchecked instances too (see __meta_srvd_health). */
void api_sd_prometheus(struct api *api, struct http_req *req, const char *arg)
{
	const struct registry *reg;
	const char *pos = NULL;
	char only[API_ARG_MAX];
	struct evbuffer *buf;
	struct json j;
	int all = api_query_flag(req, "all"), filter;

	if (api_block(api, req, api_sd_prometheus, arg, API_INDEX_SRVD))
		return;
	filter = api_query_next(http_req_query(req), "service", &pos, only, sizeof(only));
	if (filter < 0) {
		api_reply_error(req, 400, "service: expected a service name");
		return;
	}
	for (char *p = only; filter && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	if (!(buf = evbuffer_new())) {
		http_reply(req, 500, NULL, NULL);
		return;
	}
	reg = api_registry(api);
	json_init(&j, buf);
	json_arr_begin(&j);
	for (size_t i = 0; i < reg->n_services; i++) {
		if (filter && strcmp(reg->services[i]->name, only) != 0)
			continue;
		for (size_t k = 0; k < reg->services[i]->n_instances; k++)
			if (all || api_inst_passing(api, i, k))
				target_group(&j, api, i, k);
	}
	json_arr_end(&j);
	api_reply_json(req, 200, buf, &j);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* metrics.c: srvd's counters in the Prometheus text format 0.0.4.
 *
 * Every family gets its HELP and TYPE lines and every label combination it
 * can have (zeros included), so rates work from the first scrape and a
 * family never disappears between scrapes.
 */
#include "config.h"

#include "api/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/http.h"
#include "api/api.h"
#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

struct mw {
	struct evbuffer *out;
	int failed;
};

static void emit(struct mw *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct mw *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (evbuffer_add_vprintf(m->out, fmt, ap) < 0)
		m->failed = 1;
	va_end(ap);
}

static void family(struct mw *m, const char *name, const char *type, const char *help)
{
	emit(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with backslash, double quote and newline escaped. */
static void label_value(struct mw *m, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			emit(m, "\\%c", *v);
		else if (*v == '\n')
			emit(m, "\\n");
		else
			emit(m, "%c", *v);
	}
}

static const char *rcode_name(unsigned rc)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};

	if (rc < sizeof(names) / sizeof(names[0]))
		return names[rc];
	if (rc == 16)
		return "BADVERS";
	return NULL;
}

static void dns_families(struct mw *m, const struct metrics_input *in)
{
	const struct dns_server_stats *s = in->fig ? &in->fig->dns : NULL;
	const struct dns_stats *q = in->fig && in->fig->have_queries ? &in->fig->queries : NULL;
	static const char *const transports[2] = {"udp", "tcp"};

	if (q) {
		family(m, "srvd_dns_queries_total", "counter",
		       "DNS queries received, by transport and query type.");
		for (unsigned t = 0; t < 2; t++)
			for (unsigned k = 0; k < DNS_STATS_QTYPES; k++)
				emit(
				    m,
				    "srvd_dns_queries_total{transport=\"%s\",qtype=\"%s\"} %" PRIu64
				    "\n",
				    transports[t], dns_stats_qtype_name(k), q->queries[t][k]);
	}
	if (s) {
		family(m, "srvd_dns_responses_total", "counter", "DNS responses sent, by rcode.");
		for (unsigned rc = 0; rc < DNS_SERVER_RCODES; rc++) {
			const char *name = rcode_name(rc);
			int always = rc <= 5 || rc == 16;

			if (!always && s->rcode[rc] == 0)
				continue;
			if (name)
				emit(m, "srvd_dns_responses_total{rcode=\"%s\"} %" PRIu64 "\n",
				     name, s->rcode[rc]);
			else
				emit(m, "srvd_dns_responses_total{rcode=\"RCODE%u\"} %" PRIu64 "\n",
				     rc, s->rcode[rc]);
		}
		family(m, "srvd_dns_truncated_total", "counter",
		       "Answers sent with TC=1 (the client should retry over TCP).");
		emit(m, "srvd_dns_truncated_total %" PRIu64 "\n", s->truncated);
		family(m, "srvd_dns_dropped_total", "counter",
		       "Queries that got no response (unparsable, a response, rate limited, or a "
		       "failed send).");
		emit(m, "srvd_dns_dropped_total %" PRIu64 "\n", s->dropped);
		family(m, "srvd_dns_rrl_total", "counter",
		       "UDP answers over server.rrl.rate: dropped, or slipped (sent truncated).");
		emit(m, "srvd_dns_rrl_total{action=\"drop\"} %" PRIu64 "\n", s->rrl_dropped);
		emit(m, "srvd_dns_rrl_total{action=\"slip\"} %" PRIu64 "\n", s->rrl_slipped);
		family(m, "srvd_tcp_connections_total", "counter", "TCP connections accepted.");
		emit(m, "srvd_tcp_connections_total %" PRIu64 "\n", s->tcp_accepted);
		family(m, "srvd_tcp_evicted_total", "counter",
		       "TCP connections closed to make room for a new one.");
		emit(m, "srvd_tcp_evicted_total %" PRIu64 "\n", s->tcp_evicted);
		family(m, "srvd_tcp_timeouts_total", "counter",
		       "TCP connections closed after the idle timeout.");
		emit(m, "srvd_tcp_timeouts_total %" PRIu64 "\n", s->tcp_timeouts);
		family(m, "srvd_forward_queries_total", "counter",
		       "Queries for names outside our zones relayed to server.forward.");
		emit(m, "srvd_forward_queries_total %" PRIu64 "\n", s->forwarded);
		family(m, "srvd_forward_failures_total", "counter",
		       "Upstream tries that failed (timeout, SERVFAIL, REFUSED, send error).");
		emit(m, "srvd_forward_failures_total %" PRIu64 "\n", s->forward_failures);
		family(m, "srvd_transfers_total", "counter",
		       "Zone transfers out, by what was sent: axfr (whole zone, also an IXFR "
		       "beyond the history), ixfr (differences), refused.");
		emit(m, "srvd_transfers_total{type=\"axfr\"} %" PRIu64 "\n", s->xfr_axfr);
		emit(m, "srvd_transfers_total{type=\"ixfr\"} %" PRIu64 "\n", s->xfr_ixfr);
		emit(m, "srvd_transfers_total{type=\"refused\"} %" PRIu64 "\n", s->xfr_refused);
	}
	if (q) {
		uint64_t cum = 0;

		family(
		    m, "srvd_dns_malformed_total", "counter",
		    "Malformed queries: answered FORMERR, or dropped before the question parsed.");
		emit(m, "srvd_dns_malformed_total %" PRIu64 "\n", q->malformed);
		family(m, "srvd_dns_answer_duration_seconds", "histogram",
		       "Time spent building one answer (inside dns_answer).");
		for (unsigned b = 0; b < DNS_STATS_BUCKETS; b++) {
			cum += q->answer_bucket[b];
			emit(m, "srvd_dns_answer_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			     (double)dns_stats_bucket_ns[b] / 1e9, cum);
		}
		cum += q->answer_bucket[DNS_STATS_BUCKETS];
		emit(m, "srvd_dns_answer_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
		emit(m, "srvd_dns_answer_duration_seconds_sum %.9f\n",
		     (double)q->answer_ns_sum / 1e9);
		emit(m, "srvd_dns_answer_duration_seconds_count %" PRIu64 "\n", cum);
	}
}

static void instance_families(struct mw *m, const struct metrics_input *in)
{
	static const enum health_status states[] = {HEALTH_UNCHECKED, HEALTH_PASSING,
	                                            HEALTH_FAILING};
	const struct registry *reg = in->reg;

	family(m, "srvd_instances", "gauge", "Instances by service and health state.");
	for (size_t i = 0; i < reg->n_services; i++) {
		unsigned count[3] = {0, 0, 0};

		for (size_t k = 0; k < reg->services[i]->n_instances; k++) {
			struct health_inst *hi = health_instance(in->health, i, k);
			unsigned st = hi ? atomic_load(&hi->status) : HEALTH_UNCHECKED;
			if (st < 3)
				count[st]++;
		}
		for (unsigned s = 0; s < 3; s++) {
			emit(m, "srvd_instances{service=\"");
			label_value(m, reg->services[i]->name);
			emit(m, "\",state=\"%s\"} %u\n", health_status_name(states[s]),
			     count[states[s]]);
		}
	}
	family(m, "srvd_instances_served", "gauge",
	       "Instances of a service that passed their checks and are served (panic mode answers "
	       "with all of them).");
	for (size_t i = 0; i < reg->n_services; i++) {
		unsigned served = 0;

		for (size_t k = 0; k < reg->services[i]->n_instances; k++) {
			struct health_inst *hi = health_instance(in->health, i, k);
			served += hi && atomic_load(&hi->served);
		}
		emit(m, "srvd_instances_served{service=\"");
		label_value(m, reg->services[i]->name);
		emit(m, "\"} %u\n", served);
	}
}

int metrics_write(struct evbuffer *out, const struct metrics_input *in)
{
	struct mw m = {out, 0};

	family(&m, "srvd_build_info", "gauge", "Always 1; the labels name the build.");
	emit(&m, "srvd_build_info{version=\"");
	label_value(&m, in->version ? in->version : "unknown");
	emit(&m, "\"} 1\n");
	family(&m, "srvd_start_time_seconds", "gauge", "When srvd started, in Unix time.");
	emit(&m, "srvd_start_time_seconds %.3f\n",
	     (double)(in->fig ? in->fig->started_ms : 0) / 1000.0);
	dns_families(&m, in);
	if (in->reg && in->health) {
		instance_families(&m, in);
		family(&m, "srvd_services", "gauge", "Services in the registry.");
		emit(&m, "srvd_services %zu\n", in->reg->n_services);
	}
	if (in->probes) {
		family(&m, "srvd_health_probes_total", "counter",
		       "Health probe results, by check type and outcome.");
		for (unsigned t = 0; t < CHECK_TYPES; t++)
			for (unsigned o = 0;
			     check_type_probed((enum check_type)t) && o < HEALTH_OUTCOMES; o++)
				emit(&m,
				     "srvd_health_probes_total{type=\"%s\",outcome=\"%s\"} %" PRIu64
				     "\n",
				     check_type_name((enum check_type)t),
				     health_outcome_name((enum health_outcome)o),
				     in->probes->probes[t][o]);
	}
	if (in->fig) {
		family(&m, "srvd_reloads_total", "counter",
		       "Registry reloads, by result (unchanged: nothing that alters an answer).");
		emit(&m, "srvd_reloads_total{result=\"ok\"} %" PRIu64 "\n", in->fig->reloads_ok);
		emit(&m, "srvd_reloads_total{result=\"unchanged\"} %" PRIu64 "\n",
		     in->fig->reloads_unchanged);
		emit(&m, "srvd_reloads_total{result=\"failed\"} %" PRIu64 "\n",
		     in->fig->reloads_failed);
		family(&m, "srvd_reload_last_success_timestamp_seconds", "gauge",
		       "When a reload last published a registry, in Unix time (0: never).");
		emit(&m, "srvd_reload_last_success_timestamp_seconds %.3f\n",
		     (double)in->fig->reload_ok_ms / 1000.0);
		family(&m, "srvd_reload_last_failure_timestamp_seconds", "gauge",
		       "When a reload was last rejected, in Unix time (0: never).");
		emit(&m, "srvd_reload_last_failure_timestamp_seconds %.3f\n",
		     (double)in->fig->reload_fail_ms / 1000.0);
	}
	if (in->source) {
		family(&m, "srvd_registry_source_up", "gauge",
		       "1 while srvd is in touch with the shared registry (etcd), else 0: it "
		       "serves the last registry it had.");
		emit(&m, "srvd_registry_source_up{source=\"%s\"} %d\n", in->source->name,
		     in->source->up);
		family(&m, "srvd_registry_source_revision", "gauge",
		       "The last revision of the shared registry seen.");
		emit(&m, "srvd_registry_source_revision{source=\"%s\"} %lld\n", in->source->name,
		     (long long)in->source->revision);
		family(&m, "srvd_registry_keys_rejected_total", "counter",
		       "Keys of the shared registry rejected (a bad value, once per revision); "
		       "the others apply.");
		emit(&m, "srvd_registry_keys_rejected_total{source=\"%s\"} %" PRIu64 "\n",
		     in->source->name, in->source->rejected);
		family(&m, "srvd_registry_keys_bad", "gauge",
		       "Keys of the shared registry left out now (bad values).");
		emit(&m, "srvd_registry_keys_bad{source=\"%s\"} %zu\n", in->source->name,
		     in->source->n_bad);
		family(&m, "srvd_registry_conflicts", "gauge",
		       "Services defined both in a file and in the shared registry (the file's "
		       "serves).");
		emit(&m, "srvd_registry_conflicts{source=\"%s\"} %zu\n", in->source->name,
		     in->source->n_conflicts);
	}
	family(&m, "srvd_registry_serial", "gauge", "SOA serial of the service zone.");
	emit(&m, "srvd_registry_serial %" PRIu32 "\n", in->serial);
	if (in->fig) {
		family(&m, "srvd_notify_total", "counter",
		       "NOTIFY messages to server.transfer.notify: sent (retries included), "
		       "retried, acked (answered), failed (given up after five tries).");
		emit(&m, "srvd_notify_total{result=\"sent\"} %" PRIu64 "\n", in->fig->notify.sent);
		emit(&m, "srvd_notify_total{result=\"retried\"} %" PRIu64 "\n",
		     in->fig->notify.retried);
		emit(&m, "srvd_notify_total{result=\"acked\"} %" PRIu64 "\n",
		     in->fig->notify.acked);
		emit(&m, "srvd_notify_total{result=\"failed\"} %" PRIu64 "\n",
		     in->fig->notify.failed);
	}
	if (in->api) {
		family(&m, "srvd_api_connections", "gauge",
		       "Control API connections: active (counted against the connection limit) "
		       "and waiting (long polls, in their own pool).");
		emit(&m, "srvd_api_connections{state=\"active\"} %zu\n", in->api->conns);
		emit(&m, "srvd_api_connections{state=\"waiting\"} %zu\n", in->api->waiting);
		family(&m, "srvd_api_refused_total", "counter",
		       "Control API requests or connections refused by a limit: 503 at the "
		       "connection, per-address, waiting or body limits; closed at a deadline; "
		       "answered from the head without reading the body; event streams closed "
		       "because their reader fell behind.");
		emit(&m, "srvd_api_refused_total{reason=\"limit\"} %llu\n", in->api->refused);
		emit(&m, "srvd_api_refused_total{reason=\"deadline\"} %llu\n", in->api->timed_out);
		emit(&m, "srvd_api_refused_total{reason=\"body_unread\"} %llu\n",
		     in->api->body_refused);
		emit(&m, "srvd_api_refused_total{reason=\"slow_reader\"} %llu\n", in->api->dropped);
	}
	return m.failed ? -1 : 0;
}

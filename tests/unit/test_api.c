/* SPDX-License-Identifier: BSD-3-Clause */
/* test_api.c: the control API's parts that need no daemon: the JSON writer's
 * escaping, the Prometheus text from counter snapshots, error lines as JSON,
 * and registry fragments (validation, the include folder, atomic writes). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/api_int.h"
#include "api/json.h"
#include "api/metrics.h"
#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "health/health.h"
#include "registry/registry.h"
#include "tests/unit/check_main.h"

/* The buffer's text as a NUL-terminated string (caller frees). */
static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

static char *escaped(const char *s, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	char *out;

	ck_assert_int_eq(json_escape(b, s, len), 0);
	out = text_of(b);
	evbuffer_free(b);
	return out;
}

#define CK_ESC(in, want)                                                                           \
	do {                                                                                       \
		char *got_ = escaped(in, sizeof(in) - 1);                                          \
		ck_assert_str_eq(got_, want);                                                      \
		free(got_);                                                                        \
	} while (0)

START_TEST(test_json_escape)
{
	CK_ESC("plain", "\"plain\"");
	CK_ESC("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	CK_ESC("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	CK_ESC("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	CK_ESC("nul\0x", "\"nul\\u0000x\"");
	/* valid UTF-8 passes through: é, €, U+1F600 */
	CK_ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* invalid bytes, overlong forms, surrogates, truncated sequences: U+FFFD each byte */
	CK_ESC("a\xff"
	       "b",
	       "\"a\\ufffdb\"");
	CK_ESC("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	CK_ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	CK_ESC("x\xe2\x82", "\"x\\ufffd\\ufffd\"");
	CK_ESC("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}
END_TEST

START_TEST(test_json_writer)
{
	struct evbuffer *b = evbuffer_new();
	struct json j;
	char *s;

	json_init(&j, b);
	json_obj_begin(&j);
	json_kstr(&j, "name", "we\"b");
	json_kuint(&j, "port", 8080);
	json_kint(&j, "delta", -3);
	json_key(&j, "tags");
	json_arr_begin(&j);
	json_str(&j, "a");
	json_str(&j, NULL);
	json_obj_begin(&j);
	json_obj_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_end(&j);
	json_kbool(&j, "ok", 1);
	json_key(&j, "x");
	json_double(&j, 0.5);
	json_obj_end(&j);
	ck_assert_int_eq(json_failed(&j), 0);
	s = text_of(b);
	ck_assert_str_eq(s, "{\"name\":\"we\\\"b\",\"port\":8080,\"delta\":-3,"
	                    "\"tags\":[\"a\",null,{},[]],\"ok\":true,\"x\":0.5}");
	free(s);

	/* unbalanced and a dangling key are reported */
	evbuffer_drain(b, evbuffer_get_length(b));
	json_init(&j, b);
	json_obj_begin(&j);
	ck_assert_int_ne(json_failed(&j), 0);
	json_key(&j, "k");
	json_obj_end(&j);
	ck_assert_int_ne(json_failed(&j), 0);
	evbuffer_free(b);
}
END_TEST

/* Error lines become objects with the position inside the client's body. */
START_TEST(test_json_errors)
{
	char *lines[] = {
	    /* one line, written in two (parenthesised: not a missing comma) */
	    ("web.yaml:5:13: services.web.instances[0].address: \"10.0.0.300\" is not an IPv4 or "
	     "IPv6 address"),
	    "web.yaml:3:3: services.web: expected a mapping, got a scalar",
	    "srvd.yaml:7: zone file says: no",
	    "web.yaml:4:5: did not find expected ',' or '}'",
	};
	struct reg_errors errs = {lines, 4};
	struct evbuffer *b = evbuffer_new();
	struct json j;
	char *s;

	json_init(&j, b);
	json_arr_begin(&j);
	api_json_errors(&j, &errs, 1);
	json_arr_end(&j);
	s = text_of(b);
	ck_assert_str_eq(s, "[{\"line\":2,\"column\":9,\"path\":\"services.web.instances[0]."
	                    "address\",\"message\":\"\\\"10.0.0.300\\\" is not an IPv4 or IPv6 "
	                    "address\"},"
	                    "{\"path\":\"services.web\",\"message\":\"expected a mapping, got a "
	                    "scalar\"},"
	                    "{\"line\":4,\"message\":\"zone file says: no\"},"
	                    "{\"line\":1,\"column\":1,\"message\":\"did not find expected ',' or "
	                    "'}'\"}]");
	free(s);

	/* reload errors keep the real file and position */
	evbuffer_drain(b, evbuffer_get_length(b));
	errs.n = 1;
	json_init(&j, b);
	json_arr_begin(&j);
	api_json_errors(&j, &errs, 0);
	json_arr_end(&j);
	s = text_of(b);
	ck_assert_ptr_nonnull(
	    strstr(s, "{\"file\":\"web.yaml\",\"line\":5,\"column\":13,\"path\":"));
	free(s);
	evbuffer_free(b);
}
END_TEST

static const char *metrics_yaml = "services:\n"
                                  "  web:\n"
                                  "    port: 80\n"
                                  "    check: {type: none}\n"
                                  "    instances:\n"
                                  "      - {name: a, address: 192.0.2.1}\n"
                                  "      - {name: b, address: 192.0.2.2}\n"
                                  "  db:\n"
                                  "    port: 5432\n"
                                  "    check: {type: tcp}\n"
                                  "    instances:\n"
                                  "      - {name: c, address: 127.0.0.1}\n";

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

START_TEST(test_metrics)
{
	struct api_figures fig = {0};
	struct dns_server_stats *srv = &fig.dns;
	struct dns_stats *qs = &fig.queries;
	struct health_counters probes = {0};
	struct metrics_input in = {0};
	struct registry *reg = NULL;
	struct health *h = NULL;
	struct event_base *base = event_base_new();
	struct evbuffer *b = evbuffer_new();
	regex_t sample;
	char *s, *line, *save;
	int samples = 0;

	ck_assert_int_eq(registry_load_string(metrics_yaml, "m.yaml", &reg, NULL), 0);
	ck_assert_int_eq(health_create(base, reg, NULL, NULL, &h), 0);
	qs->queries[DNS_UDP][dns_stats_qtype_index(1)] = 37;
	qs->queries[DNS_UDP][dns_stats_qtype_index(33)] = 11;
	qs->queries[DNS_TCP][dns_stats_qtype_index(28)] = 5;
	qs->queries[DNS_TCP][dns_stats_qtype_index(99)] = 2;
	qs->malformed = 1;
	qs->answer_bucket[0] = 3;
	qs->answer_bucket[2] = 4;
	qs->answer_bucket[DNS_STATS_BUCKETS] = 1;
	qs->answer_ns_sum = 1500000000;
	srv->rcode[3] = 3;
	srv->rcode[16] = 2;
	srv->rcode[9] = 1;
	srv->truncated = 6;
	srv->dropped = 7;
	fig.reloads_ok = 4;
	fig.reloads_failed = 2;
	probes.probes[CHECK_HTTP][HEALTH_OUTCOME_TIMEOUT] = 9;
	in.version = "1.0 \"q\" \\ \n";
	fig.have_queries = 1;
	in.fig = &fig;
	in.probes = &probes;
	in.reg = reg;
	in.health = h;
	in.serial = 2024010203;
	ck_assert_int_eq(metrics_write(b, &in), 0);
	s = text_of(b);

	ck_assert(has_line(s, "srvd_build_info{version=\"1.0 \\\"q\\\" \\\\ \\n\"} 1"));
	ck_assert(has_line(s, "srvd_dns_queries_total{transport=\"udp\",qtype=\"A\"} 37"));
	ck_assert(has_line(s, "srvd_dns_queries_total{transport=\"udp\",qtype=\"SRV\"} 11"));
	ck_assert(has_line(s, "srvd_dns_queries_total{transport=\"tcp\",qtype=\"AAAA\"} 5"));
	ck_assert(has_line(s, "srvd_dns_queries_total{transport=\"tcp\",qtype=\"other\"} 2"));
	ck_assert(has_line(s, "srvd_dns_queries_total{transport=\"tcp\",qtype=\"ANY\"} 0"));
	ck_assert(has_line(s, "srvd_dns_responses_total{rcode=\"NXDOMAIN\"} 3"));
	ck_assert(has_line(s, "srvd_dns_responses_total{rcode=\"BADVERS\"} 2"));
	ck_assert(has_line(s, "srvd_dns_responses_total{rcode=\"NOTAUTH\"} 1"));
	ck_assert(has_line(s, "srvd_dns_responses_total{rcode=\"SERVFAIL\"} 0"));
	ck_assert(!strstr(s, "YXDOMAIN"));
	ck_assert(has_line(s, "srvd_dns_truncated_total 6"));
	ck_assert(has_line(s, "srvd_dns_dropped_total 7"));
	ck_assert(has_line(s, "srvd_dns_malformed_total 1"));
	ck_assert(has_line(s, "# TYPE srvd_dns_answer_duration_seconds histogram"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_bucket{le=\"1e-06\"} 3"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_bucket{le=\"2.5e-06\"} 3"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_bucket{le=\"5e-06\"} 7"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_bucket{le=\"0.01\"} 7"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_bucket{le=\"+Inf\"} 8"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_count 8"));
	ck_assert(has_line(s, "srvd_dns_answer_duration_seconds_sum 1.500000000"));
	ck_assert(has_line(s, "srvd_instances{service=\"web\",state=\"passing\"} 2"));
	ck_assert(has_line(s, "srvd_instances{service=\"web\",state=\"unchecked\"} 0"));
	ck_assert(has_line(s, "srvd_instances{service=\"db\",state=\"unchecked\"} 1"));
	ck_assert(has_line(s, "srvd_instances{service=\"db\",state=\"failing\"} 0"));
	ck_assert(has_line(s, "srvd_instances_served{service=\"web\"} 2"));
	ck_assert(has_line(s, "srvd_instances_served{service=\"db\"} 0"));
	ck_assert(has_line(s, "srvd_health_probes_total{type=\"http\",outcome=\"timeout\"} 9"));
	ck_assert(has_line(s, "srvd_health_probes_total{type=\"tcp\",outcome=\"pass\"} 0"));
	ck_assert(has_line(s, "srvd_reloads_total{result=\"ok\"} 4"));
	ck_assert(has_line(s, "srvd_reloads_total{result=\"unchanged\"} 0"));
	ck_assert(has_line(s, "srvd_reloads_total{result=\"failed\"} 2"));
	ck_assert(has_line(s, "srvd_registry_serial 2024010203"));

	/* every line is a comment with HELP/TYPE or a well-formed sample */
	ck_assert_int_eq(regcomp(&sample,
	                         "^(# (HELP|TYPE) [a-z_]+ .+|"
	                         "[a-z_]+(\\{[a-z_]+=\"([^\"\\\\]|\\\\.)*\"(,[a-z_]+=\"([^\"\\\\]|"
	                         "\\\\.)*\")*\\})? [-+0-9.e]+|"
	                         "[a-z_]+\\{le=\"\\+Inf\"\\} [0-9]+)$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&sample, line, 0, NULL, 0) != 0)
			ck_abort_msg("malformed exposition line: %s", line);
		samples += line[0] != '#';
	}
	ck_assert_int_gt(samples, 50);
	regfree(&sample);
	free(s);

	/* without query stats (workers not up) those families are left out */
	evbuffer_drain(b, evbuffer_get_length(b));
	fig.have_queries = 0;
	ck_assert_int_eq(metrics_write(b, &in), 0);
	s = text_of(b);
	ck_assert(!strstr(s, "srvd_dns_queries_total"));
	ck_assert(has_line(s, "srvd_dns_dropped_total 7"));
	free(s);

	evbuffer_free(b);
	health_free(h);
	registry_free(reg);
	event_base_free(base);
}
END_TEST

START_TEST(test_stats_record)
{
	struct dns_stats_worker w;
	struct dns_stats sum = {0};
	struct dns_answer_info ok = {.qtype = 33, .rcode = 0}, formerr = {.qtype = 0, .rcode = 1};
	struct dns_answer_info unparsed = {.qtype = 0};

	memset(&w, 0, sizeof(w));
	dns_stats_record(&w, DNS_UDP, &ok, 30, 100, 500);
	dns_stats_record(&w, DNS_UDP, &ok, 30, 100, 3000);
	dns_stats_record(&w, DNS_TCP, &formerr, 12, 12, 20000000);
	dns_stats_record(&w, DNS_UDP, &unparsed, 5, 0, 1000);
	dns_stats_record(&w, DNS_UDP, &unparsed, 40, 0,
	                 1000); /* a response: dropped, not malformed */
	dns_stats_record(&w, DNS_UDP, NULL, 0, 0, 0);
	dns_stats_add(&sum, &w);
	ck_assert_uint_eq(sum.queries[DNS_UDP][2], 2);
	ck_assert_uint_eq(sum.queries[DNS_TCP][7], 1);
	ck_assert_uint_eq(sum.queries[DNS_UDP][7], 3);
	ck_assert_uint_eq(sum.malformed, 3);
	ck_assert_uint_eq(sum.answer_bucket[0], 3); /* 500 ns and exactly 1 us */
	ck_assert_uint_eq(sum.answer_bucket[2], 1); /* 3 us */
	ck_assert_uint_eq(sum.answer_bucket[DNS_STATS_BUCKETS], 1);
	ck_assert_uint_eq(sum.answer_ns_sum, 500 + 3000 + 20000000 + 2000);
	ck_assert_str_eq(dns_stats_qtype_name(dns_stats_qtype_index(28)), "AAAA");
	ck_assert_str_eq(dns_stats_qtype_name(dns_stats_qtype_index(255)), "ANY");
	ck_assert_str_eq(dns_stats_qtype_name(dns_stats_qtype_index(65)), "other");
}
END_TEST

/* Validates body as the fragment of service name; returns the error count
 * and the first error line in first (if any). */
static size_t check_body(const char *name, const char *body, char *first, size_t len)
{
	struct reg_errors errs = {NULL, 0};
	char *text = NULL, err[256];
	size_t n;

	ck_assert_int_eq(registry_fragment_text(name, body, strlen(body), &text, err, sizeof(err)),
	                 0);
	registry_fragment_check(NULL, text, name, &errs);
	n = errs.n;
	if (first)
		snprintf(first, len, "%s", n ? errs.lines[0] : "");
	registry_errors_clear(&errs);
	free(text);
	return n;
}

START_TEST(test_fragment_check)
{
	char first[512];

	ck_assert_uint_eq(check_body("web",
	                             "{\"port\": 8080, \"check\": {\"type\": \"none\"}, "
	                             "\"instances\": [{\"name\": \"a\", \"address\": "
	                             "\"127.0.0.1\"}]}",
	                             NULL, 0),
	                  0);
	/* compact and pretty-printed JSON, tabs included, and YAML */
	ck_assert_uint_eq(check_body("web",
	                             "{\"port\":8080,\"check\":{\"type\":\"none\"},"
	                             "\"instances\":[{\"name\":\"a\",\"address\":\"::1\"}]}",
	                             first, sizeof(first)),
	                  0);
	ck_assert_uint_eq(check_body("web",
	                             "{\n\t\"port\": 8080,\n\t\"instances\": [\n\t\t{\"name\": "
	                             "\"a\", \"address\": \"127.0.0.1\"}\n\t]\n}\n",
	                             first, sizeof(first)),
	                  0);
	ck_assert_uint_eq(
	    check_body("web", "port: 80\ninstances:\n  - {name: a, address: \"::1\"}\n", NULL, 0),
	    0);
	/* errors carry the path and a position inside the body */
	ck_assert_uint_eq(check_body("web",
	                             "{\"port\": 8080,\n \"instances\": [{\"name\": \"a\", "
	                             "\"address\": \"10.0.0.300\"}]}",
	                             first, sizeof(first)),
	                  1);
	ck_assert_str_eq(first, "web.yaml:5:45: services.web.instances[0].address: \"10.0.0.300\" "
	                        "is not an IPv4 or IPv6 address");
	ck_assert_uint_eq(check_body("web", "{\"port\": 80, \"colour\": 1}", first, sizeof(first)),
	                  1);
	ck_assert_str_eq(first, "web.yaml:4:18: services.web.colour: unknown key");
	ck_assert_uint_ge(check_body("web", "{\"port\": 80,", first, sizeof(first)), 1);
	ck_assert_uint_ge(check_body("web", "[1, 2]", NULL, 0), 1);
	/* the body cannot add keys next to the service */
	ck_assert_uint_ge(check_body("web", "{}\nserver: {zone: evil.}", NULL, 0), 1);

	ck_assert_int_eq(registry_fragment_name_ok("web-1"), 1);
	ck_assert_int_eq(registry_fragment_name_ok("Web"), 1);
	ck_assert_int_eq(registry_fragment_name_ok(""), 0);
	ck_assert_int_eq(registry_fragment_name_ok("-web"), 0);
	ck_assert_int_eq(registry_fragment_name_ok("../etc"), 0);
	ck_assert_int_eq(registry_fragment_name_ok("a.b"), 0);
	ck_assert_int_eq(registry_fragment_name_ok("a_b"), 0);
	ck_assert_int_eq(registry_fragment_name_ok(
	                     "a123456789012345678901234567890123456789012345678901234567890123"),
	                 0);
}
END_TEST

/* A service the body tries to add beside web through a line break that the
 * indenting would not see. */
#define EVIL                                                                                       \
	"  evil:%s    port: 1%s    check: {type: none}%s    instances: [{name: e, "                \
	"address: 192.0.2.66}]%s"

START_TEST(test_fragment_line_breaks)
{
	static const struct {
		const char *brk, *what;
	} bad[] = {
	    {"\r", "carriage return"},
	    {"\xc2\x85", "U+0085"},
	    {"\xe2\x80\xa8", "U+2028"},
	    {"\xe2\x80\xa9", "U+2029"},
	};
	struct reg_errors errs = {NULL, 0};
	char body[512], err[256], *text = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *b = bad[i].brk;

		snprintf(body, sizeof(body), "{\"port\": 80, \"instances\": []}%s" EVIL, b, b, b, b,
		         b);
		err[0] = '\0';
		ck_assert_int_eq(
		    registry_fragment_text("web", body, strlen(body), &text, err, sizeof(err)),
		    -EINVAL);
		ck_assert_ptr_null(text);
		ck_assert_msg(strstr(err, bad[i].what) && strstr(err, "line 1"), "%s", err);
	}
	/* a line break at the very end, and a NUL */
	ck_assert_int_eq(registry_fragment_text("web", "{}\r", 3, &text, err, sizeof(err)),
	                 -EINVAL);
	ck_assert_int_eq(registry_fragment_text("web", "{}\n\0x", 5, &text, err, sizeof(err)),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "NUL byte on line 2"));

	/* CRLF is a line end like LF, and leaves no CR in the file */
	snprintf(body, sizeof(body),
	         "port: 80\r\ninstances:\r\n  - {name: a, address: \"::1\"}\r\n");
	len = strlen(body);
	ck_assert_int_eq(registry_fragment_text("web", body, len, &text, err, sizeof(err)), 0);
	ck_assert_ptr_null(strchr(text, '\r'));
	ck_assert_ptr_nonnull(strstr(text, "  web:\n    port: 80\n    instances:\n      - {name"));
	ck_assert_int_eq(registry_fragment_check(NULL, text, "web", &errs), 0);
	free(text);
	text = NULL;

	/* text that another service was smuggled into (as the indenting once
	 * let a CR do) is refused by the check on its own */
	snprintf(body, sizeof(body),
	         "services:\n  web:\n    {\"port\": 80, \"instances\": []}\n" EVIL, "\n", "\n",
	         "\n", "\n");
	ck_assert_int_eq(registry_fragment_check(NULL, body, "web", &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.lines[0], "web.yaml: the body must be the one service web");
	registry_errors_clear(&errs);
	/* and so is a service under another name */
	ck_assert_int_eq(registry_fragment_check(
	                     NULL, "services:\n  db: {port: 1, instances: []}\n", "web", &errs),
	                 -1);
	registry_errors_clear(&errs);
	/* main-file keys are unknown in an include file: zones: would open files */
	ck_assert_int_eq(registry_fragment_check(NULL,
	                                         "services:\n  web: {port: 80, instances: []}\n"
	                                         "server: {zone: x.example.}\n"
	                                         "zones: [/etc/passwd]\n",
	                                         "web", &errs),
	                 -1);
	ck_assert_uint_eq(errs.n, 2);
	for (size_t i = 0; i < errs.n; i++) {
		ck_assert_msg(strstr(errs.lines[i], "unknown key (an include file holds only "
		                                    "services:)"),
		              "%s", errs.lines[i]);
		ck_assert_ptr_null(strstr(errs.lines[i], "passwd"));
	}
	registry_errors_clear(&errs);
}
END_TEST

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* Number of entries in folder other than . and .. */
static int count_entries(const char *folder)
{
	DIR *d = opendir(folder);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

START_TEST(test_fragment_files)
{
	char main_file[128], want[128], err[256], *dir = NULL, *text = NULL;
	struct registry *reg = NULL;
	struct reg_errors errs = {NULL, 0};

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/srvd-test-api-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(main_file, sizeof(main_file), "%s/srvd.yaml", tmpdir);

	write_file("srvd.yaml", "services: {}\n");
	ck_assert_int_eq(registry_fragment_dir(main_file, "web", &dir, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no include:"));
	write_file("srvd.yaml", "include: [conf/*.yml]\n");
	ck_assert_int_eq(registry_fragment_dir(main_file, "web", &dir, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "would not load web.yaml"));
	write_file("srvd.yaml", "include: \"*/x/*.yaml\"\n");
	ck_assert_int_eq(registry_fragment_dir(main_file, "web", &dir, err, sizeof(err)), -EINVAL);
	write_file("srvd.yaml", "include: [services.d/*.yaml, other/*.yaml]\n"
	                        "services:\n  db: {check: {type: none}, instances: "
	                        "[{name: d, address: 192.0.2.9, port: 5}]}\n");
	ck_assert_int_eq(registry_fragment_dir(main_file, "web", &dir, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/services.d", tmpdir);
	ck_assert_str_eq(dir, want);

	/* the folder is created; the write leaves no temp file behind */
	ck_assert_int_eq(registry_fragment_read(dir, "web", &text), -ENOENT);
	ck_assert_int_eq(registry_fragment_text("web",
	                                        "{\"port\": 80, \"check\": {\"type\": \"none\"}, "
	                                        "\"instances\": [{\"name\": \"a\", \"address\": "
	                                        "\"192.0.2.1\"}]}",
	                                        strlen("{\"port\": 80, \"check\": {\"type\": "
	                                               "\"none\"}, \"instances\": [{\"name\": "
	                                               "\"a\", \"address\": \"192.0.2.1\"}]}"),
	                                        &text, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(registry_fragment_write(dir, "web", text), 0);
	ck_assert_int_eq(count_entries(dir), 1);
	free(text);
	ck_assert_int_eq(registry_fragment_read(dir, "web", &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "services:\n  web:\n    {\"port\": 80"));

	/* the main file loads it through its include */
	ck_assert_int_eq(registry_load_file(main_file, &reg, &errs), 0);
	ck_assert_uint_eq(reg->n_services, 2);
	ck_assert_ptr_nonnull(registry_find_service(reg, "web"));
	ck_assert_uint_eq(registry_find_service(reg, "web")->port, 80);
	registry_free(reg);

	/* replaced in place */
	ck_assert_int_eq(registry_fragment_write(dir, "web", "services: {}\n"), 0);
	free(text);
	ck_assert_int_eq(registry_fragment_read(dir, "web", &text), 0);
	ck_assert_str_eq(text, "services: {}\n");
	ck_assert_int_eq(count_entries(dir), 1);

	ck_assert_int_eq(registry_fragment_remove(dir, "web"), 0);
	ck_assert_int_eq(registry_fragment_remove(dir, "web"), -ENOENT);
	ck_assert_int_eq(count_entries(dir), 0);

	free(text);
	rmdir(dir);
	free(dir);
	unlink(main_file);
	ck_assert_int_eq(rmdir(tmpdir), 0);
}
END_TEST

/* A PUT body means what the same text means in an include file: it
 * inherits the main file's server: and defaults:, and nothing else of it
 * (its zones and includes are not opened). */
START_TEST(test_fragment_check_in_context)
{
	static const char body[] =
	    "{\"instances\": [{\"name\": \"a\", \"address\": \"192.0.2.1\"}]}";
	char main_file[128], err[256], *text = NULL;
	struct reg_errors errs = {NULL, 0};

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/srvd-test-api-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(main_file, sizeof(main_file), "%s/srvd.yaml", tmpdir);
	write_file("srvd.yaml", "server: {ttl: 42}\n"
	                        "defaults: {port: 8080, check: {type: none}}\n"
	                        "zones: [no-such.zone]\n"
	                        "include: no-such.d/*.yaml\n"
	                        "services: {web: {instances: []}}\n");
	ck_assert_int_eq(registry_fragment_text("web", body, strlen(body), &text, err, sizeof(err)),
	                 0);
	/* on its own the body has no port (and a TCP check of port 0) */
	ck_assert_int_eq(registry_fragment_check(NULL, text, "web", &errs), -1);
	ck_assert_str_eq(errs.lines[0], "web.yaml:4:20: services.web.instances[0]: no port: set "
	                                "port here, in the service or in defaults");
	registry_errors_clear(&errs);
	/* as an include of the main file it has 8080; the main file's services
	 * (web too: collisions show at reload), zones and includes are not read */
	ck_assert_int_eq(registry_fragment_check(main_file, text, "web", &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	free(text);
	/* invalid either way: the body's error, at the body's position */
	ck_assert_int_eq(
	    registry_fragment_text(
	        "web", "{\"instances\": [{\"name\": \"a\",\n  \"address\": \"1.2.3\"}]}",
	        strlen("{\"instances\": [{\"name\": \"a\",\n  \"address\": \"1.2.3\"}]}"), &text,
	        err, sizeof(err)),
	    0);
	ck_assert_int_eq(registry_fragment_check(main_file, text, "web", &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.lines[0], "web.yaml:5:18: services.web.instances[0].address: "
	                                "\"1.2.3\" is not an IPv4 or IPv6 address");
	registry_errors_clear(&errs);
	/* a main file whose defaults no longer load: the body's errors (no
	 * port now), then one line for the main file, without a position */
	write_file("srvd.yaml", "\n\n\n\ndefaults: {port: 99999}\n");
	ck_assert_int_eq(registry_fragment_check(main_file, text, "web", &errs), -1);
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_ptr_nonnull(strstr(errs.lines[2], "do not load (srvd -t lists why)"));
	ck_assert_ptr_null(strstr(errs.lines[2], ":5:"));
	registry_errors_clear(&errs);
	free(text);
	unlink(main_file);
	ck_assert_int_eq(rmdir(tmpdir), 0);
}
END_TEST

/* Query parameters as clients send them: repeated, empty, percent- and
 * form-encoded; bad escapes and overlong values are refused, not cut. */
START_TEST(test_query_next)
{
	const char *q = "tag=a&index=12&tag=b%2Dc&tagx=no&tag&passing&dc=d+c&bad=%zz&long=abcdef";
	const char *pos = NULL;
	char v[8];

	ck_assert_int_eq(api_query_next(q, "tag", &pos, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "a");
	ck_assert_int_eq(api_query_next(q, "tag", &pos, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "b-c");
	ck_assert_int_eq(api_query_next(q, "tag", &pos, v, sizeof(v)), 1);
	ck_assert_str_eq(v, ""); /* a bare key */
	ck_assert_int_eq(api_query_next(q, "tag", &pos, v, sizeof(v)), 0);
	pos = NULL;
	ck_assert_int_eq(api_query_next(q, "index", &pos, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "12");
	pos = NULL;
	ck_assert_int_eq(api_query_next(q, "dc", &pos, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "d c");
	pos = NULL;
	ck_assert_int_eq(api_query_next(q, "bad", &pos, v, sizeof(v)), -1);
	pos = NULL;
	ck_assert_int_eq(api_query_next(q, "long", &pos, v, 4), -1);
	pos = NULL;
	ck_assert_int_eq(api_query_next("a=%2", "a", &pos, v, sizeof(v)), -1);
	pos = NULL;
	ck_assert_int_eq(api_query_next("a=%00", "a", &pos, v, sizeof(v)), -1);
	pos = NULL;
	ck_assert_int_eq(api_query_next(NULL, "a", &pos, v, sizeof(v)), 0);
	pos = NULL;
	ck_assert_int_eq(api_query_next("", "a", &pos, v, sizeof(v)), 0);
}
END_TEST

/* Consul's wait: ms, s and m; 0 is the default; beyond the maximum, the maximum. */
START_TEST(test_parse_wait)
{
	unsigned ms = 1;

	ck_assert_int_eq(api_parse_wait("30s", &ms), 0);
	ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(api_parse_wait("120000ms", &ms), 0); /* what Consul's Go client sends */
	ck_assert_uint_eq(ms, 120000);
	ck_assert_int_eq(api_parse_wait("5m", &ms), 0);
	ck_assert_uint_eq(ms, 300000);
	ck_assert_int_eq(api_parse_wait("0s", &ms), 0);
	ck_assert_uint_eq(ms, API_WAIT_DEFAULT_MS);
	ck_assert_int_eq(api_parse_wait("11m", &ms), 0);
	ck_assert_uint_eq(ms, API_WAIT_MAX_MS);
	ck_assert_int_eq(api_parse_wait("99999999999999999999999s", &ms), 0);
	ck_assert_uint_eq(ms, API_WAIT_MAX_MS);
	ck_assert_int_eq(api_parse_wait("30", &ms), -1);
	ck_assert_int_eq(api_parse_wait("1h", &ms), -1);
	ck_assert_int_eq(api_parse_wait("-1s", &ms), -1);
	ck_assert_int_eq(api_parse_wait("s", &ms), -1);
	ck_assert_int_eq(api_parse_wait("", &ms), -1);
	ck_assert_int_eq(api_parse_wait("1.5s", &ms), -1);
}
END_TEST

/* Prometheus takes only [a-zA-Z0-9_] in label names. */
START_TEST(test_label_name)
{
	char out[32];

	api_label_name("__meta_srvd_port_", "http-alt", out, sizeof(out));
	ck_assert_str_eq(out, "__meta_srvd_port_http_alt");
	api_label_name("__meta_srvd_meta_", "Team.Name/x\xc3\xa9", out, sizeof(out));
	ck_assert_str_eq(out, "__meta_srvd_meta_Team_Name_x__");
	api_label_name("__meta_srvd_meta_", "a_long_key_that_will_not_fit", out, 24);
	ck_assert_str_eq(out, "__meta_srvd_meta_a_long");
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_json_writer);
	tcase_add_test(tc, test_json_errors);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_stats_record);
	tcase_add_test(tc, test_fragment_check);
	tcase_add_test(tc, test_fragment_line_breaks);
	tcase_add_test(tc, test_fragment_files);
	tcase_add_test(tc, test_fragment_check_in_context);
	tcase_add_test(tc, test_query_next);
	tcase_add_test(tc, test_parse_wait);
	tcase_add_test(tc, test_label_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(api_suite());
}

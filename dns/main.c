/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: the front door: flags (SPEC section 1), start-up, signals, shutdown. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <ldns/ldns.h>
#include <yaml.h>

#include "common/log.h"
#include "dns/server.h"
#include "dns/table.h"
#include "health/health.h"
#include "registry/registry.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG  2
#define LISTEN_MAX   64

struct options {
	const char *config;
	int check;
	struct reg_listen listen[LISTEN_MAX];
	size_t n_listen;
	unsigned workers;
	int verbose, quiet;
};

static const char usage_text[] =
    "usage: srvd [-c FILE] [-t [FILE]] [-l ADDR:PORT]... [-w N] [-v|-q] [--version] [-h]\n"
    "  -c, --config FILE    registry YAML (default " SYSCONFDIR "/srvd/srvd.yaml)\n"
    "  -t, --check [FILE]   validate FILE (or the -c file), print `FILE: ok` or the\n"
    "                       errors, exit 0 or 2\n"
    "  -l, --listen ADDR:PORT\n"
    "                       listen there instead of server.listen (repeatable;\n"
    "                       IPv6 as [::1]:5353; port 0 picks a free port)\n"
    "  -w, --workers N      DNS worker threads (default: number of CPUs)\n"
    "  -v, --verbose        log debug messages too\n"
    "  -q, --quiet          log warnings and errors only\n"
    "      --version        print the versions of srvd and its libraries\n"
    "  -h, --help           print this help\n";

static void usage_error(const char *fmt, const char *arg)
{
	fputs("srvd: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'srvd --help' for more information.\n", stderr);
}

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (port 0..65535). Returns 0 or -1. */
static int parse_listen(const char *text, struct reg_listen *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -1;
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -1;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -1;
	if (*text == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->addr_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->addr_len = sizeof(*s4);
	}
	out->text = (char *)text; /* argv outlives everything */
	return 0;
}

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > DNS_SERVER_WORKERS_MAX ? DNS_SERVER_WORKERS_MAX : (unsigned)n;
}

static void print_version(void)
{
	printf("srvd %s\n", PACKAGE_VERSION);
	printf("ldns %s, libevent %s, libyaml %s\n", ldns_version(), event_get_version(),
	       yaml_get_version_string());
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 't'},
	    {"listen", required_argument, NULL, 'l'},
	    {"workers", required_argument, NULL, 'w'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	unsigned long n;
	int c;

	o->config = SYSCONFDIR "/srvd/srvd.yaml";
	o->workers = default_workers();
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:tl:w:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->check = 1;
			break;
		case 'l':
			if (o->n_listen == LISTEN_MAX) {
				usage_error("too many -l addresses (at most %s)", "64");
				return EXIT_CONFIG;
			}
			if (parse_listen(optarg, &o->listen[o->n_listen]) < 0) {
				usage_error("-l %s: expected ADDR:PORT, e.g. 127.0.0.1:5353 or "
				            "[::1]:5353",
				            optarg);
				return EXIT_CONFIG;
			}
			o->n_listen++;
			break;
		case 'w':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || n < 1 ||
			    n > DNS_SERVER_WORKERS_MAX) {
				usage_error("-w %s: expected a number of workers from 1 to 256",
				            optarg);
				return EXIT_CONFIG;
			}
			o->workers = (unsigned)n;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_VERSION:
			print_version();
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			usage_error("option %s needs an argument", argv[optind - 1]);
			return EXIT_CONFIG;
		default:
			if (optopt) {
				char flag[3] = {'-', (char)optopt, '\0'};
				usage_error("unknown option %s", flag);
			} else {
				usage_error("unknown option %s", argv[optind - 1]);
			}
			return EXIT_CONFIG;
		}
	}
	/* `srvd -t FILE`, like `nginx -t`/`named-checkconf FILE`: the file may
	 * follow -t instead of -c */
	if (o->check && optind == argc - 1) {
		o->config = argv[optind++];
	}
	if (optind < argc) {
		usage_error("unexpected argument %s", argv[optind]);
		return EXIT_CONFIG;
	}
	if (o->verbose && o->quiet) {
		usage_error("-v and -q contradict each other%s", "");
		return EXIT_CONFIG;
	}
	return -1;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	log_warn("reload: not yet supported");
}

/* The served set changed: SOA serial up, so secondaries and caches notice. */
static void on_health_change(void *arg)
{
	dns_table_bump_serial(arg);
}

struct ready_poll {
	struct health *health;
	struct dns_table *table;
	struct event *ev;
};

/* `_ready` answers once every checked instance has a first result. */
static void on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
	struct ready_poll *rp = arg;

	if (!health_first_round_done(rp->health))
		return;
	dns_table_set_ready(rp->table, 1);
	event_del(rp->ev);
}

static size_t count_instances(const struct registry *reg)
{
	size_t n = 0;

	for (size_t i = 0; i < reg->n_services; i++)
		n += reg->services[i].n_instances;
	return n;
}

static int run(const struct options *o)
{
	struct reg_errors errs = {0};
	struct registry *reg = NULL;
	struct dns_table *table = NULL;
	struct dns_server *srv = NULL;
	struct event_base *base = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct dns_server_config cfg = {0};
	struct health *health = NULL;
	struct ready_poll rp = {0};
	const struct timeval poll_tv = {0, 20000};
	char err[512];
	int status = EXIT_RUNTIME;

	if (registry_load_file(o->config, &reg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load\n", o->config);
		status = EXIT_CONFIG;
		goto finish;
	}
	if (dns_table_build(reg, (uint32_t)time(NULL), &table, err, sizeof(err)) < 0) {
		log_err("%s: %s", o->config, err);
		status = EXIT_CONFIG;
		goto finish;
	}
	base = event_base_new();
	if (!base) {
		log_err("out of memory");
		goto finish;
	}
	/* probes run on this (the main) base, never in a DNS worker; the table
	 * reads their state, so bind it before any worker answers */
	if (health_create(base, reg, on_health_change, table, &health) < 0) {
		log_err("cannot set up health checks: out of memory");
		goto finish;
	}
	if (dns_table_bind_health(table, health) < 0) {
		log_err("health state does not match the answer table");
		goto finish;
	}
	rp.health = health;
	rp.table = table;
	rp.ev = event_new(base, -1, EV_PERSIST, on_ready_poll, &rp);
	if (!rp.ev || event_add(rp.ev, &poll_tv) < 0) {
		log_err("out of memory");
		goto finish;
	}
	/* Signals first: once a worker answers, a test or an init system may
	 * already send SIGTERM, and it must find our handler. */
	ev_term = evsignal_new(base, SIGTERM, on_stop, base);
	ev_int = evsignal_new(base, SIGINT, on_stop, base);
	ev_hup = evsignal_new(base, SIGHUP, on_hup, base);
	if (!ev_term || !ev_int || !ev_hup || event_add(ev_term, NULL) < 0 ||
	    event_add(ev_int, NULL) < 0 || event_add(ev_hup, NULL) < 0) {
		log_err("cannot set up signal handling");
		goto finish;
	}
	cfg.listen = o->n_listen ? o->listen : reg->server.listen;
	cfg.n_listen = o->n_listen ? o->n_listen : reg->server.n_listen;
	cfg.n_workers = o->workers;
	cfg.table = table;
	if (dns_server_create(&cfg, &srv, err, sizeof(err)) < 0 ||
	    dns_server_start(srv, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto finish;
	}
	log_info("srvd %s serving %s: %zu services, %zu instances, %u workers", PACKAGE_VERSION,
	         reg->server.zone, reg->n_services, count_instances(reg), o->workers);
	if (health_start(health) < 0) {
		log_err("cannot start health checks: out of memory");
		goto finish;
	}
	on_ready_poll(-1, 0, &rp); /* nothing checked: ready at once */
	if (event_base_dispatch(base) < 0) {
		log_err("main event loop failed");
		goto finish;
	}
	dns_server_stop(srv);
	log_info("stopped");
	status = 0;
finish:
	dns_server_free(srv);
	if (rp.ev)
		event_free(rp.ev);
	/* workers are gone: nothing reads the health state any more */
	health_free(health);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_hup)
		event_free(ev_hup);
	if (base)
		event_base_free(base);
	dns_table_free(table);
	registry_free(reg);
	registry_errors_clear(&errs);
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	int r;

	memset(&o, 0, sizeof(o));
	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	if (o.check)
		return registry_check_file(o.config, stdout);

	log_set_level(o.verbose ? LOG_LEVEL_DEBUG : o.quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO);
	log_route_libevent();
	/* a client closing early must not kill us; the write reports EPIPE */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0) {
		log_err("libevent: cannot enable threads");
		return EXIT_RUNTIME;
	}
	return run(&o);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: the command line (README "Command line", srvd(8)); daemon.c runs the rest. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <ldns/ldns.h>
#include <yaml.h>

#include "api/api.h"
#include "common/addr.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "dns/listen/server.h"
#include "dns/answer/table.h"
#include "registry/registry.h"
#include "registry/source.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG  2
#define LISTEN_MAX   64

struct options {
	const char *config;
	int check;
	int import_etcd;
	struct reg_listen listen[LISTEN_MAX];
	size_t n_listen;
	unsigned workers;
	int verbose, quiet;
};

static const char usage_text[] =
    "usage: srvd [-c FILE] [-t [FILE]] [-l ADDR:PORT]... [-w N] [-v|-q] [--version] [-h]\n"
    "       srvd [-c FILE] --import-to-etcd\n"
    "  -c, --config FILE    registry YAML (default " SYSCONFDIR "/srvd/srvd.yaml)\n"
    "  -t, --check [FILE]   validate FILE (or the -c file), print `FILE: ok` or the\n"
    "                       errors, exit 0 or 2\n"
    "  -l, --listen ADDR:PORT\n"
    "                       listen there instead of server.listen (repeatable;\n"
    "                       IPv6 as [::1]:5353; port 0 picks a free port)\n"
    "  -w, --workers N      DNS worker threads (default: number of CPUs)\n"
    "      --import-to-etcd copy the services the API wrote into the include folder\n"
    "                       into server.registry.etcd (create-only), then exit\n"
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
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (addr_parse_hostport(text, &out->addr, &out->addr_len, &port) < 0)
		return -1;
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
	enum { OPT_VERSION = 256, OPT_IMPORT };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 't'},
	    {"listen", required_argument, NULL, 'l'},
	    {"workers", required_argument, NULL, 'w'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"import-to-etcd", no_argument, NULL, OPT_IMPORT},
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
		case OPT_IMPORT:
			o->import_etcd = 1;
			break;
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

/* `srvd -t`: the registry loaded once, through the files source as the start
 * loads it (the main file, includes, zones and the drains file,
 * .srvd-maintenance.yaml, whose failure fails the start too); as root, also
 * what start-up as root would refuse. */
static int check_file(const char *path)
{
	struct reg_source *src = NULL;
	struct registry *reg = NULL;
	struct reg_errors errs = {NULL, 0};
	int status = 0;

	if (reg_source_files_create(path, NULL, NULL, NULL, &src) < 0)
		return registry_check_file(path, stdout);
	if (reg_source_load(src, &reg, &errs) < 0 ||
	    (geteuid() == 0 && daemon_unsafe_files(reg, &errs) != 0)) {
		for (size_t i = 0; i < errs.n; i++)
			printf("%s\n", errs.lines[i]);
		status = EXIT_CONFIG;
	} else {
		printf("%s: ok\n", path);
	}
	registry_errors_clear(&errs);
	registry_free(reg);
	reg_source_free(src);
	return status;
}

/* --- the control API's view of the daemon (api.h): main wires the two, so
 * that neither knows the other --- */

static const struct registry *api_registry_of(void *ctx)
{
	return daemon_registry(ctx);
}

static struct health *api_health_of(void *ctx)
{
	return daemon_health(ctx);
}

static struct reg_source *api_source_of(void *ctx)
{
	return daemon_source(ctx);
}

static uint32_t api_serial_of(void *ctx)
{
	return dns_table_serial(daemon_table(ctx));
}

static void api_figures_of(void *ctx, struct api_figures *out)
{
	struct daemon_reload_stats r;

	memset(out, 0, sizeof(*out));
	out->started_ms = daemon_started_ms(ctx);
	daemon_dns_stats(ctx, &out->dns);
	out->have_queries = daemon_dns_query_stats(ctx, &out->queries) == 0;
	daemon_reload_stats(ctx, &r);
	out->reloads_ok = r.ok;
	out->reloads_unchanged = r.unchanged;
	out->reloads_failed = r.failed;
	out->reload_ok_ms = r.last_ok_ms;
	out->reload_fail_ms = r.last_fail_ms;
	snprintf(out->reload_error, sizeof(out->reload_error), "%s", r.last_error);
	daemon_notify_stats(ctx, &out->notify);
}

static void api_watch_of(void *ctx, void (*fn)(void *arg), void *arg)
{
	daemon_observe(ctx, fn, arg);
}

static int api_reload_of(void *ctx, int full, struct reg_errors *errs, int *changed)
{
	struct daemon_reload_stats before, after;
	int rc;

	daemon_reload_stats(ctx, &before);
	if (full)
		daemon_reload_full(ctx);
	rc = daemon_reload(ctx, "api", errs);
	daemon_reload_stats(ctx, &after);
	*changed = after.ok > before.ok;
	return rc;
}

/* The daemon binds its sockets, then the API binds its own, then root is
 * dropped and everything serves (knotd's order: the server knows nothing of
 * its control socket). */
static int run(const struct options *o)
{
	struct daemon_options dopt = {o->config, o->listen, o->n_listen, o->workers};
	struct daemon *d = NULL;
	struct api *api = NULL;
	const struct reg_server *srv;
	char err[512];
	int status = daemon_create(&dopt, &d);

	if (status != 0)
		return status;
	srv = &daemon_registry(d)->server;
	if (srv->http) {
		struct api_ops ops = {
		    .ctx = d,
		    .registry = api_registry_of,
		    .health = api_health_of,
		    .serial = api_serial_of,
		    .source = api_source_of,
		    .figures = api_figures_of,
		    .reload = api_reload_of,
		    .watch = api_watch_of,
		};

		if (api_create(daemon_base(d), &ops, srv->http, srv->http_token,
		               srv->heartbeat_token, &api, err, sizeof(err)) < 0) {
			log_err("%s", err);
			daemon_free(d);
			return EXIT_RUNTIME;
		}
	}
	status = daemon_serve(d);
	api_free(api);
	daemon_free(d);
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
		return check_file(o.config);
	if (o.import_etcd)
		return reg_etcd_import(o.config, stdout);

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

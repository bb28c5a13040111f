/* SPDX-License-Identifier: BSD-3-Clause */
/* srvctl.c: the command-line client of srvd's control API (README "srvctl",
 * srvctl(1)): the few things operators type, as tables, or the API's JSON
 * with --json.
 *
 * Plain HTTP/1.1 over one TCP connection per command (Connection: close),
 * no TLS: the API is meant to listen on loopback. Responses are parsed with
 * srvd's own YAML reader (JSON is YAML). Exit status and error text follow
 * `curl -f`, which scripts already know: 22 for an HTTP error (>= 400), 7
 * when the connection fails, 28 on a timeout, 2 for a usage error.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "registry/ynode.h"

#define EXIT_USAGE    2
#define EXIT_RESOLVE  6
#define EXIT_CONNECT  7
#define EXIT_HTTP     22
#define EXIT_SEND     55
#define EXIT_RECV     56
#define EXIT_TIMEOUT  28
#define EXIT_BADREPLY 8

#define DEFAULT_API "http://127.0.0.1:8053"
#define TIMEOUT_S   30
#define REPLY_MAX   (64u << 20) /* bytes of a reply kept */

struct opts {
	const char *api;
	const char *token_file;
	int json;
	char host[256], port[16];
	char token[1024];
};

struct reply {
	int status;
	char *body;
	size_t len;
};

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "srvctl: ");
	if (code != EXIT_USAGE)
		fprintf(stderr, "(%d) ", code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(FILE *out)
{
	fputs("usage: srvctl [--api URL] [--token-file FILE] [--json] COMMAND [ARGS]\n"
	      "  services                        list services: passing/total, policy, port\n"
	      "  show SERVICE                    a service, its check and its instances\n"
	      "  drain SERVICE [INSTANCE] [REASON]   take out of answers (maintenance)\n"
	      "  undrain SERVICE [INSTANCE]      end the maintenance\n"
	      "  pass SERVICE INSTANCE [NOTE]    heartbeat of a ttl check; fail: the opposite\n"
	      "  fail SERVICE INSTANCE [NOTE]\n"
	      "  register FILE.yaml              PUT the service in FILE (named after it)\n"
	      "  deregister SERVICE              DELETE the service\n"
	      "  reload                          POST /v1/reload\n"
	      "URL defaults to $SRVD_API or " DEFAULT_API
	      "; FILE (the bearer token) to $SRVD_TOKEN_FILE.\n",
	      out);
}

/* http://HOST:PORT[/] into o->host, o->port. */
static void parse_api(struct opts *o)
{
	const char *p = o->api, *end;
	size_t n;

	if (strncmp(p, "http://", 7) != 0)
		die(EXIT_USAGE,
		    "--api %s: only http://HOST:PORT (no TLS: keep the API on loopback)", o->api);
	p += 7;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			die(EXIT_USAGE, "--api %s: no ']'", o->api);
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= sizeof(o->host))
		die(EXIT_USAGE, "--api %s: no host", o->api);
	memcpy(o->host, p, n);
	o->host[n] = '\0';
	snprintf(o->port, sizeof(o->port), "80");
	if (*end == ':') {
		n = strspn(end + 1, "0123456789");
		if (n == 0 || n > 5 || (end[1 + n] && strcmp(end + 1 + n, "/") != 0) ||
		    strtoul(end + 1, NULL, 10) < 1 || strtoul(end + 1, NULL, 10) > 65535)
			die(EXIT_USAGE, "--api %s: bad port (1..65535)", o->api);
		memcpy(o->port, end + 1, n);
		o->port[n] = '\0';
	} else if (*end && strcmp(end, "/") != 0) {
		die(EXIT_USAGE, "--api %s: give http://HOST:PORT, without a path", o->api);
	}
}

static void read_token(struct opts *o)
{
	FILE *f;
	size_t n;

	o->token[0] = '\0';
	if (!o->token_file || !o->token_file[0])
		return;
	if (!(f = fopen(o->token_file, "r")))
		die(EXIT_USAGE, "--token-file %s: %s", o->token_file, strerror(errno));
	n = fread(o->token, 1, sizeof(o->token) - 1, f);
	fclose(f);
	o->token[n] = '\0';
	n = strcspn(o->token, "\r\n");
	while (n && (o->token[n - 1] == ' ' || o->token[n - 1] == '\t'))
		n--;
	o->token[n] = '\0';
	if (!n)
		die(EXIT_USAGE, "--token-file %s: no token on its first line", o->token_file);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die(errno == EAGAIN ? EXIT_TIMEOUT : EXIT_SEND, "Failure sending data: %s",
			    strerror(errno));
		buf += w;
		len -= (size_t)w;
	}
}

/* One request; the reply's body is NUL-terminated. */
static void request(const struct opts *o, const char *method, const char *path, const char *body,
                    struct reply *r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	struct timeval tv = {TIMEOUT_S, 0};
	char head[2048], *buf = NULL, *p;
	size_t len = 0, cap = 0;
	int fd = -1, rc, err = 0;

	rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0)
		die(EXIT_RESOLVE, "Could not resolve host: %s (%s)", o->host, gai_strerror(rc));
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	/* SO_SNDTIMEO bounds connect(): it then fails with EINPROGRESS */
	if (fd < 0 && (err == EINPROGRESS || err == EAGAIN || err == ETIMEDOUT))
		die(EXIT_TIMEOUT, "Failed to connect to %s port %s after %d s: Operation timed out",
		    o->host, o->port, TIMEOUT_S);
	if (fd < 0)
		die(EXIT_CONNECT, "Failed to connect to %s port %s: %s", o->host, o->port,
		    strerror(err));
	rc = snprintf(head, sizeof(head),
	              "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: srvctl/" PACKAGE_VERSION
	              "\r\nAccept: application/json\r\nConnection: close\r\n%s%s%sContent-Length: "
	              "%zu\r\n%s\r\n",
	              method, path, strchr(o->host, ':') ? "[" : "", o->host,
	              strchr(o->host, ':') ? "]" : "", o->port,
	              o->token[0] ? "Authorization: Bearer " : "", o->token,
	              o->token[0] ? "\r\n" : "", body ? strlen(body) : 0,
	              body ? "Content-Type: application/json\r\n" : "");
	if (rc < 0 || (size_t)rc >= sizeof(head))
		die(EXIT_USAGE, "the request head is over %zu bytes (token or names too long)",
		    sizeof(head));
	send_all(fd, head, strlen(head));
	if (body)
		send_all(fd, body, strlen(body));
	for (;;) {
		ssize_t got;

		if (cap - len < 65536) {
			if (cap > REPLY_MAX)
				die(EXIT_RECV, "the reply is over %u bytes", REPLY_MAX);
			cap = cap ? cap * 2 : 131072;
			if (!(p = realloc(buf, cap)))
				die(EXIT_RECV, "out of memory");
			buf = p;
		}
		got = recv(fd, buf + len, cap - len - 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			die(errno == EAGAIN ? EXIT_TIMEOUT : EXIT_RECV, "%s after %d s",
			    errno == EAGAIN ? "Operation timed out" : strerror(errno), TIMEOUT_S);
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (!buf)
		die(EXIT_BADREPLY, "Empty reply from server");
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		die(EXIT_BADREPLY, "Weird server reply");
	p = strstr(buf, "\r\n\r\n");
	if (!p)
		die(EXIT_BADREPLY, "Weird server reply: no end of the head");
	p += 4;
	r->len = len - (size_t)(p - buf);
	{
		/* the server closes after the reply: a body shorter than its
		 * Content-Length was cut off */
		const char *cl = strcasestr(buf, "\r\nContent-Length:");

		if (cl && cl < p && strtoull(cl + 17, NULL, 10) > r->len)
			die(EXIT_BADREPLY, "the reply was cut off: %zu of %llu body bytes", r->len,
			    strtoull(cl + 17, NULL, 10));
	}
	r->body = malloc(r->len + 1);
	if (!r->body)
		die(EXIT_RECV, "out of memory");
	memcpy(r->body, p, r->len + 1);
	free(buf);
}

/* --- reading the JSON ------------------------------------------------- */

static void ignore(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

static const struct ynode *get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

/* The text of a scalar member, "-" for null or missing. */
static const char *str(const struct ynode *map, const char *key)
{
	const struct ynode *n = get(map, key);

	if (!n || n->kind != YNODE_SCALAR || (!n->quoted && ynode_is_null(n)))
		return "-";
	return n->value;
}

static struct ydoc *parse(const struct reply *r)
{
	struct ydoc *doc = NULL;

	if (ydoc_parse_string(r->body, r->len, "reply", &doc, ignore, NULL) < 0 || !doc->root)
		die(EXIT_BADREPLY, "the reply is not JSON: %.200s", r->body);
	return doc;
}

/* curl -f: an HTTP error is exit 22, with the API's message. For a body
 * sent from file, every error first as FILE:LINE:COL (the API counts lines
 * and columns in the body, which is the file). */
static void check(const struct reply *r, const char *file)
{
	struct ydoc *doc = NULL;
	const struct ynode *errs, *first;
	char msg[1200] = "";

	if (r->status < 400)
		return;
	if (ydoc_parse_string(r->body, r->len, "reply", &doc, ignore, NULL) == 0 &&
	    (errs = get(doc->root, "errors")) && errs->kind == YNODE_SEQ && errs->n) {
		for (size_t i = 0; file && i < errs->n; i++) {
			const struct ynode *e = errs->items[i];

			if (!get(e, "line") || get(e, "file"))
				continue;
			fprintf(stderr, "%s:%s:%s: %s%s%s\n", file, str(e, "line"),
			        str(e, "column"), get(e, "path") ? str(e, "path") : "",
			        get(e, "path") ? ": " : "", str(e, "message"));
		}
		first = errs->items[0];
		if (get(first, "path"))
			snprintf(msg, sizeof(msg), ": %s: %s", str(first, "path"),
			         str(first, "message"));
		else
			snprintf(msg, sizeof(msg), ": %s", str(first, "message"));
		if (errs->n > 1)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (and %zu more)",
			         errs->n - 1);
	}
	ydoc_free(doc);
	die(EXIT_HTTP, "The requested URL returned error: %d%s", r->status, msg);
}

/* --- the commands ----------------------------------------------------- */

/* A path segment, percent-encoded. */
static void seg(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, len - n, "%%%02X", c);
	}
	out[n] = '\0';
}

/* {"KEY": "TEXT"} with TEXT escaped, or NULL when text is NULL. */
static char *json_member(const char *key, const char *text)
{
	size_t n = 0, cap;
	char *out;

	if (!text)
		return NULL;
	cap = strlen(key) + 6 * strlen(text) + 16;
	if (!(out = malloc(cap)))
		die(EXIT_SEND, "out of memory");
	n = (size_t)snprintf(out, cap, "{\"%s\": \"", key);
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\')
			n += (size_t)snprintf(out + n, cap - n, "\\%c", *c);
		else if (*c < 0x20)
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *c);
		else
			out[n++] = (char)*c;
	}
	snprintf(out + n, cap - n, "\"}");
	return out;
}

static void print_services(const struct ynode *root)
{
	const struct ynode *list = get(root, "services");

	printf("%-24s %-9s %-12s %-8s %s\n", "SERVICE", "PASSING", "POLICY", "PORT", "MAINTENANCE");
	for (size_t i = 0; list && list->kind == YNODE_SEQ && i < list->n; i++) {
		const struct ynode *s = list->items[i];
		char passing[32], port[24];

		snprintf(passing, sizeof(passing), "%s/%s", str(s, "passing"), str(s, "total"));
		snprintf(port, sizeof(port), "%s/%s", str(s, "port"), str(s, "protocol"));
		printf("%-24s %-9s %-12s %-8s %s\n", str(s, "name"), passing, str(s, "policy"),
		       port, str(s, "maintenance"));
	}
}

static void print_service(const struct ynode *s)
{
	const struct ynode *check = get(s, "check"), *list = get(s, "instances");

	printf("service %s: %s/%s passing, policy %s, port %s/%s, ttl %s%s\n", str(s, "name"),
	       str(s, "passing"), str(s, "total"), str(s, "policy"), str(s, "port"),
	       str(s, "protocol"), str(s, "ttl"), strcmp(str(s, "panic"), "true") ? "" : ", PANIC");
	if (strcmp(str(s, "maintenance"), "-") != 0)
		printf("maintenance: %s\n", str(s, "maintenance"));
	printf("check: %s\n", str(check, "type"));
	printf("%-16s %-39s %-5s %-6s %-9s %-6s %-24s %s\n", "INSTANCE", "ADDRESS", "PORT",
	       "WEIGHT", "STATE", "SERVED", "MAINTENANCE", "LAST");
	for (size_t i = 0; list && list->kind == YNODE_SEQ && i < list->n; i++) {
		const struct ynode *in = list->items[i];

		printf("%-16s %-39s %-5s %-6s %-9s %-6s %-24s %s\n", str(in, "name"),
		       str(in, "address"), str(in, "port"), str(in, "weight"), str(in, "state"),
		       strcmp(str(in, "served"), "true") == 0 ? "yes" : "no",
		       str(in, "maintenance"), str(in, "last_result"));
	}
}

static void need(int argc, int min, int max, const char *what)
{
	if (argc < min || argc > max)
		die(EXIT_USAGE, "usage: srvctl %s", what);
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct reply r = {0};
	char path[1024], a[300], b[300];
	const char *cmd, *method = "GET";
	char *body = NULL;
	struct ydoc *doc;
	int i;

	o.api = getenv("SRVD_API") ? getenv("SRVD_API") : DEFAULT_API;
	o.token_file = getenv("SRVD_TOKEN_FILE");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--api") == 0 && i + 1 < argc) {
			o.api = argv[++i];
		} else if (strncmp(argv[i], "--api=", 6) == 0) {
			o.api = argv[i] + 6;
		} else if (strcmp(argv[i], "--token-file") == 0 && i + 1 < argc) {
			o.token_file = argv[++i];
		} else if (strncmp(argv[i], "--token-file=", 13) == 0) {
			o.token_file = argv[i] + 13;
		} else if (strcmp(argv[i], "--json") == 0) {
			o.json = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("srvctl " PACKAGE_VERSION "\n");
			return 0;
		} else {
			usage(stderr);
			die(EXIT_USAGE, "unknown option %s", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	parse_api(&o);
	read_token(&o);
	cmd = argv[i++];
	argc -= i;
	argv += i;
	if (argc > 0)
		seg(a, sizeof(a), argv[0]);
	if (argc > 1)
		seg(b, sizeof(b), argv[1]);
	if (strcmp(cmd, "services") == 0) {
		need(argc, 0, 0, "services");
		snprintf(path, sizeof(path), "/v1/services");
	} else if (strcmp(cmd, "show") == 0) {
		need(argc, 1, 1, "show SERVICE");
		snprintf(path, sizeof(path), "/v1/services/%s", a);
	} else if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
		int drain = cmd[0] == 'd';

		need(argc, 1, drain ? 3 : 2,
		     drain ? "drain SERVICE [INSTANCE] [REASON]" : "undrain SERVICE [INSTANCE]");
		method = drain ? "PUT" : "DELETE";
		if (argc > 1)
			snprintf(path, sizeof(path), "/v1/services/%s/instances/%s/maintenance", a,
			         b);
		else
			snprintf(path, sizeof(path), "/v1/services/%s/maintenance", a);
		if (drain && argc > 2)
			body = json_member("reason", argv[2]);
	} else if (strcmp(cmd, "pass") == 0 || strcmp(cmd, "fail") == 0) {
		need(argc, 2, 3,
		     cmd[0] == 'p' ? "pass SERVICE INSTANCE [NOTE]"
		                   : "fail SERVICE INSTANCE [NOTE]");
		method = "PUT";
		snprintf(path, sizeof(path), "/v1/services/%s/instances/%s/%s", a, b, cmd);
		if (argc > 2)
			body = json_member("note", argv[2]);
	} else if (strcmp(cmd, "register") == 0) {
		const char *file = argc ? argv[0] : "", *base = strrchr(file, '/');
		char name[256];
		FILE *f;
		size_t n = 0, cap = 0;

		need(argc, 1, 1, "register FILE.yaml");
		base = base ? base + 1 : file;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "."), base);
		seg(a, sizeof(a), name);
		if (!name[0])
			die(EXIT_USAGE,
			    "register %s: the file's name (without .yaml) names the service", file);
		if (!(f = ydoc_fopen(file)))
			die(EXIT_USAGE, "register %s: %s", file, strerror(errno));
		for (;;) {
			if (cap - n < 4096 && !(body = realloc(body, cap = cap * 2 + 65536)))
				die(EXIT_SEND, "out of memory");
			size_t got = fread(body + n, 1, cap - n - 1, f);
			if (got == 0)
				break;
			n += got;
		}
		if (ferror(f))
			die(EXIT_USAGE, "register %s: %s", file, strerror(errno));
		fclose(f);
		body[n] = '\0';
		method = "PUT";
		snprintf(path, sizeof(path), "/v1/services/%s", a);
	} else if (strcmp(cmd, "deregister") == 0) {
		need(argc, 1, 1, "deregister SERVICE");
		method = "DELETE";
		snprintf(path, sizeof(path), "/v1/services/%s", a);
	} else if (strcmp(cmd, "reload") == 0) {
		need(argc, 0, 0, "reload");
		method = "POST";
		snprintf(path, sizeof(path), "/v1/reload");
	} else {
		usage(stderr);
		die(EXIT_USAGE, "unknown command %s", cmd);
	}
	request(&o, method, path, body, &r);
	free(body);
	check(&r, strcmp(cmd, "register") == 0 ? argv[0] : NULL);
	if (o.json) {
		fwrite(r.body, 1, r.len, stdout);
		free(r.body);
		return 0;
	}
	doc = parse(&r);
	if (strcmp(cmd, "services") == 0) {
		print_services(doc->root);
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "register") == 0) {
		print_service(doc->root);
	} else if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
		if (argc > 1 && strcmp(str(doc->root, "drained"), "true") == 0)
			printf("%s/%s: drained: %s\n", argv[0], str(doc->root, "name"),
			       str(doc->root, "maintenance"));
		else if (argc > 1)
			printf("%s/%s: not drained (%s)\n", argv[0], str(doc->root, "name"),
			       str(doc->root, "state"));
		else
			print_service(doc->root);
	} else if (strcmp(cmd, "pass") == 0 || strcmp(cmd, "fail") == 0) {
		printf("%s/%s: %s (%s)\n", argv[0], str(doc->root, "name"), str(doc->root, "state"),
		       str(doc->root, "last_result"));
	} else if (strcmp(cmd, "deregister") == 0) {
		printf("deregistered %s (reload %s)\n", str(doc->root, "deleted"),
		       str(doc->root, "reload"));
	} else {
		printf("reload %s, serial %s\n", str(doc->root, "result"),
		       str(doc->root, "serial"));
	}
	ydoc_free(doc);
	free(r.body);
	return 0;
}

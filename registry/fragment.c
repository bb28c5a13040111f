/* SPDX-License-Identifier: BSD-3-Clause */
/* fragment.c: one-service YAML files in the include folder, written for the control API.
 *
 * A fragment is `services: {NAME: BODY}` laid out as block YAML with the
 * client's body (JSON, which is YAML, or YAML) indented under NAME, so that
 * the schema code validates it exactly as it would a hand-written file and
 * errors map back to the body's own lines. Writes are atomic: a hidden temp
 * file (not matched by the include glob, so a concurrent reload never sees
 * it half-written), fsync, rename over NAME.yaml, fsync of the folder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/loader.h"
#include "registry/registry.h"
#include "registry/ynode.h"

#define INDENT "    "

int registry_fragment_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || name[0] == '-' || name[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static void ignore_error(void *arg, const char *line)
{
	snprintf(arg, 256, "%s", line);
}

int registry_fragment_dir(const char *main_file, const char *name, char **dir, char *err,
                          size_t errlen)
{
	struct ydoc *doc = NULL;
	const struct ynode *inc = NULL, *root;
	char yerr[256] = "", file[80], *pattern = NULL, *slash;
	int rc = -EINVAL;

	*dir = NULL;
	if (ydoc_parse_file(main_file, &doc, ignore_error, yerr) < 0) {
		snprintf(err, errlen, "%s", yerr);
		return -EIO;
	}
	root = doc->root;
	for (size_t i = 0; root && root->kind == YNODE_MAP && i < root->n; i++)
		if (strcmp(root->keys[i]->value, "include") == 0)
			inc = root->items[i];
	if (inc && inc->kind == YNODE_SEQ)
		inc = inc->n ? inc->items[0] : NULL;
	if (!inc || inc->kind != YNODE_SCALAR || !inc->value[0]) {
		snprintf(err, errlen,
		         "%s has no include: folder to write services to (add e.g. "
		         "`include: services.d/*.yaml`)",
		         main_file);
		rc = -ENOENT;
		goto fail;
	}
	if (!(pattern = reg_path_join(main_file, inc->value))) {
		rc = -ENOMEM;
		goto fail;
	}
	slash = strrchr(pattern, '/');
	if (slash && strcspn(pattern, "*?[") < (size_t)(slash - pattern)) {
		snprintf(err, errlen, "the include folder in \"%s\" is itself a pattern",
		         inc->value);
		goto fail;
	}
	snprintf(file, sizeof(file), "%s.yaml", name ? name : "");
	if (name && fnmatch(slash ? slash + 1 : pattern, file, FNM_PERIOD) != 0) {
		snprintf(err, errlen, "include: \"%s\" would not load %s", inc->value, file);
		goto fail;
	}
	if (slash == pattern)
		*dir = strdup("/");
	else if (slash)
		*dir = strndup(pattern, (size_t)(slash - pattern));
	else
		*dir = strdup(".");
	rc = *dir ? 0 : -ENOMEM;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(pattern);
	ydoc_free(doc);
	return rc;
}

/* libyaml ends a line at LF, CR, CRLF, NEL, LS and PS; the fragment indents
 * the body line by line, so a break it does not indent after would let the
 * body write keys beside NAME or beside services:. JSON needs none of them
 * raw (inside strings they are escaped), so only LF and CRLF are accepted
 * and NUL, which would cut the text short, is refused as well. Returns 0 or
 * -EINVAL with the reason in err. */
static int body_check(const char *body, size_t len, char *err, size_t errlen)
{
	const unsigned char *b = (const unsigned char *)body;
	unsigned line = 1;
	const char *what;

	for (size_t i = 0; i < len; i++) {
		if (b[i] == '\n') {
			line++;
			continue;
		}
		if (b[i] == '\0')
			what = "a NUL byte";
		else if (b[i] == '\r' && (i + 1 == len || b[i + 1] != '\n'))
			what = "a carriage return not followed by a line feed";
		else if (b[i] == 0xc2 && i + 1 < len && b[i + 1] == 0x85)
			what = "a next-line character (U+0085)";
		else if (b[i] == 0xe2 && i + 2 < len && b[i + 1] == 0x80 && b[i + 2] == 0xa8)
			what = "a line separator (U+2028)";
		else if (b[i] == 0xe2 && i + 2 < len && b[i + 1] == 0x80 && b[i + 2] == 0xa9)
			what = "a paragraph separator (U+2029)";
		else
			continue;
		snprintf(err, errlen,
		         "the body contains %s on line %u: lines must end in LF or CRLF, and "
		         "strings must escape such characters",
		         what, line);
		return -EINVAL;
	}
	return 0;
}

int registry_fragment_text(const char *name, const char *body, size_t len, char **text, char *err,
                           size_t errlen)
{
	/* worst case: every line indented and every byte a tab (two spaces) */
	size_t cap = 128 + 3 * strlen(name) + 7 * len + 8, n = 0, i = 0;
	const char *p = body;
	char *out;
	int json;

	*text = NULL;
	if (body_check(body, len, err, errlen) < 0)
		return -EINVAL;
	if (!(out = malloc(cap))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (p < body + len && strchr(" \t\r\n", *p))
		p++;
	/* JSON allows tabs as whitespace, YAML indentation does not */
	json = p < body + len && (*p == '{' || *p == '[');
	n = (size_t)snprintf(out, cap,
	                     "# %s.yaml: written by srvd's control API (PUT /v1/services/%s)\n"
	                     "services:\n  %s:\n",
	                     name, name, name);
	while (i < len) {
		size_t end = i;
		while (end < len && body[end] != '\n')
			end++;
		memcpy(out + n, INDENT, sizeof(INDENT) - 1);
		n += sizeof(INDENT) - 1;
		for (size_t k = i; k < end; k++) {
			if (json && body[k] == '\t') {
				out[n++] = ' ';
				out[n++] = ' ';
			} else if (body[k] != '\r') { /* body_check left only CRLF's */
				out[n++] = body[k];
			}
		}
		out[n++] = '\n';
		i = end + 1;
	}
	out[n] = '\0';
	*text = out;
	return 0;
}

/* 1 if root is exactly {services: {name: ...}}: the schema alone would
 * accept more services beside name, which the API could then neither list
 * as this fragment's nor delete. */
static int one_service(const struct ynode *root, const char *name)
{
	const struct ynode *svcs;

	if (!root || root->kind != YNODE_MAP || root->n != 1 ||
	    strcmp(root->keys[0]->value, "services") != 0)
		return 0;
	svcs = root->items[0];
	return svcs->kind == YNODE_MAP && svcs->n == 1 && strcmp(svcs->keys[0]->value, name) == 0;
}

int registry_fragment_check(const char *main_file, const char *text, const char *name,
                            struct reg_errors *errs)
{
	struct registry *reg = NULL;
	struct reg_errors found = {NULL, 0};
	struct ydoc *doc = NULL;
	char file[80], line[1200], yerr[256] = "";
	size_t flen;
	int rc, main_bad = 0;

	snprintf(file, sizeof(file), "%s.yaml", name);
	flen = strlen(file);
	/* the include schema: a main-file key such as zones: would open files */
	rc = reg_load_include_string(text, file, main_file, &reg, &found);
	registry_free(reg);
	/* the body's errors as they are; the main file's (it changed on disk
	 * since it loaded) as one line without a position, which would read as
	 * one in the body */
	for (size_t i = 0; i < found.n; i++) {
		if (strncmp(found.lines[i], file, flen) != 0 || found.lines[i][flen] != ':')
			main_bad = 1;
		else if (errs)
			registry_errors_add(errs, found.lines[i]);
	}
	registry_errors_clear(&found);
	if (main_bad && errs) {
		snprintf(line, sizeof(line),
		         "the server: or defaults: of %s, which the service inherits, do not load "
		         "(srvd -t lists why)",
		         main_file);
		registry_errors_add(errs, line);
	}
	if (rc < 0)
		return -1;
	if (ydoc_parse_string(text, strlen(text), file, &doc, ignore_error, yerr) < 0 ||
	    !one_service(doc->root, name)) {
		snprintf(line, sizeof(line), "%s: the body must be the one service %s", file, name);
		if (errs)
			registry_errors_add(errs, line);
		rc = -1;
	}
	ydoc_free(doc);
	return rc;
}

static char *fragment_path(const char *dir, const char *name, const char *prefix,
                           const char *suffix)
{
	size_t len = strlen(dir) + strlen(name) + strlen(prefix) + strlen(suffix) + 8;
	char *p = malloc(len);

	if (p)
		snprintf(p, len, "%s/%s%s.yaml%s", dir, prefix, name, suffix);
	return p;
}

int registry_fragment_read(const char *dir, const char *name, char **text)
{
	char *path = fragment_path(dir, name, "", ""), *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f = NULL;
	int rc = 0;

	*text = NULL;
	if (!path)
		return -ENOMEM;
	if (!(f = fopen(path, "r"))) {
		rc = -errno;
		goto fail;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap + 65536);
			if (!grown) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = grown;
			cap += 65536;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		goto fail;
	}
	buf[len] = '\0';
	*text = buf;
	buf = NULL;
fail:
	if (f)
		fclose(f);
	free(buf);
	free(path);
	return rc;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int registry_fragment_write(const char *dir, const char *name, const char *text)
{
	char *tmp = fragment_path(dir, name, ".", ".XXXXXX");
	char *path = fragment_path(dir, name, "", "");
	size_t len = strlen(text), done = 0;
	int fd = -1, rc = 0, made = 0;

	if (!tmp || !path) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	made = 1;
	if (fchmod(fd, 0644) < 0)
		goto fail_errno;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_errno;
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail_errno;
	rc = sync_dir(dir);
	goto done;
fail_errno:
	rc = -errno;
fail:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
done:
	free(tmp);
	free(path);
	return rc;
}

int registry_fragment_remove(const char *dir, const char *name)
{
	char *path = fragment_path(dir, name, "", "");
	int rc;

	if (!path)
		return -ENOMEM;
	rc = unlink(path) < 0 ? -errno : sync_dir(dir);
	free(path);
	return rc;
}

/* --- removing one instance from a fragment (deregister_after) ---------- */

struct sbuf {
	char *p;
	size_t n, cap;
	int failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* 1 if a plain scalar can stay plain in flow context: numbers, booleans,
 * durations, names, IPv4 addresses keep their type and spelling. */
static int flow_plain_ok(const char *v)
{
	if (!v[0] || v[0] == ':' || v[0] == '-' || v[0] == '~')
		if (strcmp(v, "~") != 0 && !(v[0] == '-' && v[1] >= '0' && v[1] <= '9'))
			return 0;
	/* a negative number too: every character must still be safe ("-1,ok" is not) */
	for (const char *c = v; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("._:/+-", *c)))
			return 0;
	return 1;
}

static void emit_scalar(struct sbuf *b, const struct ynode *n)
{
	char esc[8];

	if (!n->quoted && ynode_is_null(n)) {
		sb_str(b, "null");
		return;
	}
	if (!n->quoted && flow_plain_ok(n->value)) {
		sb_str(b, n->value);
		return;
	}
	sb_str(b, "\"");
	for (const unsigned char *c = (const unsigned char *)n->value; *c; c++) {
		if (*c == '"' || *c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*c;
			sb_add(b, esc, 2);
		} else if (*c < 0x20 || *c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *c);
			sb_str(b, esc);
		} else {
			sb_add(b, (const char *)c, 1);
		}
	}
	sb_str(b, "\"");
}

/* n as flow YAML (JSON where it can), leaving out the element skip. */
static void emit_flow(struct sbuf *b, const struct ynode *n, const struct ynode *skip, int depth)
{
	int first = 1;

	if (depth > 64) {
		b->failed = 1;
		return;
	}
	switch (n->kind) {
	case YNODE_MAP:
		sb_str(b, "{");
		for (size_t i = 0; i < n->n; i++) {
			sb_str(b, i ? ", " : "");
			emit_scalar(b, n->keys[i]);
			sb_str(b, ": ");
			emit_flow(b, n->items[i], skip, depth + 1);
		}
		sb_str(b, "}");
		return;
	case YNODE_SEQ:
		sb_str(b, "[");
		for (size_t i = 0; i < n->n; i++) {
			if (n->items[i] == skip)
				continue;
			sb_str(b, first ? "" : ", ");
			first = 0;
			emit_flow(b, n->items[i], skip, depth + 1);
		}
		sb_str(b, "]");
		return;
	case YNODE_SCALAR:
		emit_scalar(b, n);
		return;
	}
	b->failed = 1;
}

int registry_fragment_drop_instance(const char *name, const char *text, const char *instance,
                                    char **out, char *err, size_t errlen)
{
	struct ydoc *doc = NULL;
	const struct ynode *svc, *list = NULL, *skip = NULL;
	struct sbuf b = {NULL, 0, 0, 0};
	char yerr[256] = "";
	int rc = -EINVAL;

	*out = NULL;
	if (ydoc_parse_string(text, strlen(text), name, &doc, ignore_error, yerr) < 0 ||
	    !one_service(doc->root, name) || doc->root->items[0]->items[0]->kind != YNODE_MAP) {
		snprintf(err, errlen, "%s.yaml is not one service", name);
		goto done;
	}
	svc = doc->root->items[0]->items[0];
	for (size_t i = 0; i < svc->n; i++)
		if (strcmp(svc->keys[i]->value, "instances") == 0)
			list = svc->items[i];
	for (size_t i = 0; list && list->kind == YNODE_SEQ && i < list->n && !skip; i++) {
		const struct ynode *in = list->items[i];

		for (size_t k = 0; in->kind == YNODE_MAP && k < in->n; k++)
			if (strcmp(in->keys[k]->value, "name") == 0 &&
			    in->items[k]->kind == YNODE_SCALAR &&
			    strcasecmp(in->items[k]->value, instance) == 0)
				skip = in;
	}
	if (!skip) {
		snprintf(err, errlen, "%s.yaml has no instance %s", name, instance);
		rc = -ENOENT;
		goto done;
	}
	emit_flow(&b, svc, skip, 0);
	if (b.failed) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto done;
	}
	rc = registry_fragment_text(name, b.p, b.n, out, err, errlen);
done:
	free(b.p);
	ydoc_free(doc);
	return rc;
}

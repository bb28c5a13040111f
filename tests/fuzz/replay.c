/* SPDX-License-Identifier: BSD-3-Clause */
/* replay.c: a main() for a fuzz target without libFuzzer (any compiler), so
 * that `make check` runs every corpus and regression input through it.
 *
 * replay_TARGET [PATH]...: each PATH is a file or a folder whose files are
 * run in name order; without PATH, the target's corpus and regress folders
 * under SRCDIR/tests/fuzz. A broken property aborts, so the test fails on
 * the input it names last. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_util.h"

#define INPUT_MAX (1024 * 1024)

static int run_file(const char *path)
{
	int fd = open(path, O_RDONLY), rc = -1;
	uint8_t *buf = NULL;
	size_t len = 0;
	ssize_t got;

	if (fd < 0)
		goto done;
	buf = malloc(INPUT_MAX);
	if (!buf)
		goto done;
	while (len < INPUT_MAX && (got = read(fd, buf + len, INPUT_MAX - len)) > 0)
		len += (size_t)got;
	if (got < 0)
		goto done;
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	rc = 0;
done:
	if (rc)
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs path; returns the number of inputs run, or -1 on an error. */
static long run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char full[4096];
	long n = 0;
	int k;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	k = scandir(path, &names, NULL, by_name);
	if (k < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < k; i++) {
		if (names[i]->d_name[0] != '.' && n >= 0) {
			snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
			if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
				n = run_file(full) < 0 ? -1 : n + 1;
		}
		free(names[i]);
	}
	free(names);
	return n;
}

int main(int argc, char **argv)
{
	const char *dflt[] = {SRCDIR "/tests/fuzz/corpus/" FUZZ_TARGET,
	                      SRCDIR "/tests/fuzz/regress/" FUZZ_TARGET};
	long total = 0, n;

	for (int i = 1; i < (argc > 1 ? argc : 3); i++) {
		n = run_path(argc > 1 ? argv[i] : dflt[i - 1]);
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replay %s: %ld inputs, no failure\n", FUZZ_TARGET, total);
	/* an empty corpus would make this test pass without testing anything */
	return total > 0 ? 0 : 1;
}

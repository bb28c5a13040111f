/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_exec.c: check type exec: runs check.command (no shell; {address}
 * and {port} substituted in every argument) in a process group of its own,
 * stdin from /dev/null, stdout and stderr into a pipe read on the event
 * base. Exit status 0 passes; anything else fails, with the first line of
 * the output as the reason. The output past that line is read and thrown
 * away, so a chatty command never blocks on a full pipe nor costs memory.
 *
 * The command's end is watched through a pidfd (one descriptor per probe,
 * no SIGCHLD handler to share with the daemon's signals). At the timeout,
 * or when the probe is cancelled, the whole group gets SIGKILL; a process
 * that has not yet died then is reaped later by a reaper on the base, so
 * no zombie stays behind. The loader allows exec checks only with
 * server.exec_checks, only in registry files and never as root (registry/
 * checkrules.c); the probe refuses root again, should srvd run as root.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "health/probe_int.h"

extern char **environ;

#define EXEC_READ_CHUNK     65536
#define EXEC_READS_PER_TURN 16 /* 1 MiB of output per turn of the event loop */
#define REAP_POLL_MS        20 /* without pidfds (Linux < 5.3): waitpid() this often */

struct exec_probe {
	pid_t pid; /* 0 once reaped (or never started) */
	int pidfd; /* -1: none, the timer polls */
	int out;   /* read end of the output pipe, -1 once at EOF */
	struct event *out_ev, *exit_ev;
	char line[HEALTH_RESULT_MAX]; /* the first line of the output */
	size_t line_len;
	int line_done;
	int status; /* of waitpid(), once reaped */
};

/* --- reaping what a timeout killed --- */

/* Processes killed but not yet reaped. A list rather than events alone, so
 * that what is still pending when srvd exits is reachable, not leaked. */
struct reaper {
	pid_t pid;
	int pidfd;
	struct event *ev;
	struct reaper *next;
};
static struct reaper *reapers;

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void reaper_free(struct reaper *r)
{
	for (struct reaper **pp = &reapers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	event_free(r->ev);
	if (r->pidfd >= 0)
		close(r->pidfd);
	free(r);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct reaper *r = arg;
	pid_t got = waitpid(r->pid, NULL, WNOHANG);

	if (got == r->pid || (got < 0 && errno == ECHILD))
		reaper_free(r);
}

/* pid was sent SIGKILL: reap it now if it is gone, else once it is. */
static void reap_later(struct event_base *base, pid_t pid, int pidfd)
{
	struct reaper *r;
	struct timeval tv = {0, REAP_POLL_MS * 1000};
	pid_t got = waitpid(pid, NULL, WNOHANG);

	if (got == pid || (got < 0 && errno == ECHILD)) {
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r) {
		r->pid = pid;
		r->pidfd = pidfd;
		r->ev = pidfd >= 0 ? event_new(base, pidfd, EV_READ | EV_PERSIST, on_reap, r)
		                   : event_new(base, -1, EV_PERSIST, on_reap, r);
	}
	if (!r || !r->ev || event_add(r->ev, pidfd >= 0 ? NULL : &tv) < 0) {
		/* out of memory: a SIGKILLed process dies at once but for a
		 * disk wait; wait for it here rather than leave a zombie */
		log_warn("exec check: waiting for killed process %d", (int)pid);
		waitpid(pid, NULL, 0);
		if (r && r->ev)
			event_free(r->ev);
		free(r);
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	r->next = reapers;
	reapers = r;
}

/* --- the probe --- */

static void exec_release(struct health_probe *p)
{
	struct exec_probe *x = p->priv;

	if (x->out_ev)
		event_free(x->out_ev);
	if (x->exit_ev)
		event_free(x->exit_ev);
	if (x->out >= 0)
		close(x->out);
	if (x->pid > 0) {
		/* still running: a timeout or a cancel; the group goes with it */
		kill(-x->pid, SIGKILL);
		reap_later(p->base, x->pid, x->pidfd);
	} else if (x->pidfd >= 0) {
		close(x->pidfd);
	}
	free(x);
	p->priv = NULL;
}

/* Reads what the pipe holds now, at most EXEC_READS_PER_TURN chunks: a
 * command that writes without pause must not keep the main thread here (the
 * persistent event comes back for the rest, and the timeout still fires).
 * Keeps the first line. Returns 1 at EOF. */
static int drain(struct exec_probe *x)
{
	static char buf[EXEC_READ_CHUNK];

	for (int turn = 0; x->out >= 0 && turn < EXEC_READS_PER_TURN; turn++) {
		ssize_t n = read(x->out, buf, sizeof(buf));

		if (n == 0)
			return 1;
		if (n < 0)
			return !(errno == EAGAIN || errno == EINTR);
		for (ssize_t i = 0; i < n && !x->line_done; i++) {
			if (buf[i] == '\n' || buf[i] == '\r') {
				x->line_done = x->line_len > 0;
				continue;
			}
			if (x->line_len < sizeof(x->line) - 1) {
				/* control characters would garble the _health TXT and logs */
				x->line[x->line_len++] =
				    (unsigned char)buf[i] < 0x20 || buf[i] == 0x7f ? '?' : buf[i];
				x->line[x->line_len] = '\0';
			}
		}
	}
	return x->out < 0;
}

static void verdict(struct health_probe *p)
{
	struct exec_probe *x = p->priv;
	const char *sep = x->line_len ? ": " : "";

	if (WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0)
		probe_finish(p, 1, "exec: exit 0%s%s", sep, x->line);
	else if (WIFEXITED(x->status))
		probe_finish(p, 0, "exec: exit %d%s%s", WEXITSTATUS(x->status), sep, x->line);
	else if (WIFSIGNALED(x->status))
		probe_finish(p, 0, "exec: killed by signal %d%s%s", WTERMSIG(x->status), sep,
		             x->line);
	else
		probe_finish(p, 0, "exec: ended (status %d)", x->status);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	struct exec_probe *x = p->priv;

	if (drain(x)) {
		event_del(x->out_ev);
		close(x->out);
		x->out = -1;
	}
}

static void on_exit_(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	struct exec_probe *x = p->priv;
	pid_t got;

	if (x->pid <= 0)
		return; /* reaped: waitpid(0) would wait for any child of the group */
	got = waitpid(x->pid, &x->status, WNOHANG);
	if (got == 0 || (got < 0 && errno == EINTR))
		return; /* the poll timer: not yet */
	event_del(x->exit_ev);
	if (got < 0) {
		probe_finish(p, 0, "exec: waitpid: %s", strerror(errno));
		x->pid = 0;
		return;
	}
	/* what it wrote before it ended is in the pipe; what processes it left
	 * behind in its group would write is not waited for: they go */
	kill(-x->pid, SIGKILL);
	x->pid = 0;
	drain(x);
	verdict(p);
}

/* arg with {address} and {port} replaced; NULL when out of memory. */
static char *substitute(const char *arg, const char *addr, const char *port)
{
	size_t len = strlen(arg) + 1;
	char *out, *o;

	for (const char *s = strchr(arg, '{'); s; s = strchr(s + 1, '{'))
		len += strlen(addr) + strlen(port); /* more than enough */
	out = malloc(len);
	if (!out)
		return NULL;
	for (o = out; *arg;) {
		if (strncmp(arg, "{address}", 9) == 0) {
			o = stpcpy(o, addr);
			arg += 9;
		} else if (strncmp(arg, "{port}", 6) == 0) {
			o = stpcpy(o, port);
			arg += 6;
		} else {
			*o++ = *arg++;
		}
	}
	*o = '\0';
	return out;
}

static int spawn(struct health_probe *p, struct exec_probe *x, char **argv, int wfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	sigemptyset(&none);
	sigfillset(&all);
	/* its own process group (the timeout kills the group), default signal
	 * dispositions (srvd ignores SIGPIPE) and nothing blocked */
	if (!(r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                              POSIX_SPAWN_SETSIGDEF)) &&
	    !(r = posix_spawnattr_setpgroup(&attr, 0)) &&
	    !(r = posix_spawnattr_setsigmask(&attr, &none)) &&
	    !(r = posix_spawnattr_setsigdefault(&attr, &all)) &&
	    !(r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, wfd, 1)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, wfd, 2))
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	    /* srvd opens everything close-on-exec; this is the belt to those braces */
	    && !(r = posix_spawn_file_actions_addclosefrom_np(&fa, 3))
#endif
	)
		r = posix_spawn(&x->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	(void)p;
	return r;
}

static int exec_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	const struct check_more *m = check_more_of(p->cfg);
	struct exec_probe *x = calloc(1, sizeof(*x));
	char addr[INET6_ADDRSTRLEN + 1], port[8], *argv[CHECK_COMMAND_MAX + 1] = {0};
	uint16_t portnum;
	int fds[2] = {-1, -1}, r = 0;
	size_t n = m->n_command < CHECK_COMMAND_MAX ? m->n_command : CHECK_COMMAND_MAX;
	struct timeval poll = {0, REAP_POLL_MS * 1000};

	(void)salen;
	if (!x)
		return -ENOMEM;
	p->priv = x;
	x->out = -1;
	x->pidfd = -1;
	if (geteuid() == 0) {
		probe_finish(p, 0, "exec: refusing to run a command as root (set server.user)");
		return 0;
	}
	if (n == 0) {
		probe_finish(p, 0, "exec: no command");
		return 0;
	}
	probe_addr_text(sa, addr, sizeof(addr), &portnum, NULL, 0);
	snprintf(port, sizeof(port), "%u", portnum);
	for (size_t i = 0; i < n; i++)
		if (!(argv[i] = substitute(m->command[i], addr, port)))
			goto nomem;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = errno;
		goto out;
	}
	r = spawn(p, x, argv, fds[1]);
	close(fds[1]);
	fds[1] = -1;
	if (r != 0) {
		x->pid = 0;
		close(fds[0]);
		goto out;
	}
	x->out = fds[0];
	fcntl(x->out, F_SETFL, fcntl(x->out, F_GETFL) | O_NONBLOCK);
	x->pidfd = pidfd_open_(x->pid);
	x->out_ev = event_new(p->base, x->out, EV_READ | EV_PERSIST, on_output, p);
	x->exit_ev = x->pidfd >= 0 ? event_new(p->base, x->pidfd, EV_READ | EV_PERSIST, on_exit_, p)
	                           : event_new(p->base, -1, EV_PERSIST, on_exit_, p);
	if (!x->out_ev || !x->exit_ev || event_add(x->out_ev, NULL) < 0 ||
	    event_add(x->exit_ev, x->pidfd >= 0 ? NULL : &poll) < 0) {
		/* release() kills and reaps what started */
		for (size_t i = 0; i < n; i++)
			free(argv[i]);
		exec_release(p);
		return -ENOMEM;
	}
out:
	if (r)
		probe_finish(p, health_probe_local_errno(r) || r == EAGAIN ? HEALTH_PROBE_LOCAL : 0,
		             "exec: %s: %s", argv[0], strerror(r));
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	return 0;
nomem:
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	exec_release(p);
	return -ENOMEM;
}

const struct probe_ops probe_exec_ops = {.start = exec_start, .release = exec_release};

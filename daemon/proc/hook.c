/*
 * hook.c - on_state: the program a tunnel runs when its state changes.
 *
 * A tunnel_observer.  The program is run without a shell, as the daemon's
 * own user, in a session of its own, from /, with /dev/null for input, its
 * output and errors read into the log line by line, no descriptor of the
 * daemon's, default signals and an environment of TUNNEL, STATE,
 * PREVIOUS, REASON, SERVER, PATH and LANG only.  The program passed
 * file_trust() when the configuration was loaded (config.c) and must pass
 * it again before each run.
 *
 * One run at a time per tunnel: the changes made while it runs are
 * coalesced into the latest, delivered when it ends (STATE and PREVIOUS
 * are that change's).  At most HOOK_RUNNING_MAX run at once over all the
 * tunnels; the others wait their turn in order.  A run that outlives
 * on_state_timeout is killed with its process group: SIGTERM, SIGKILL
 * HOOK_KILL_GRACE later, and SIGKILL to what is left when it ends.
 * Whatever the program does, its tunnel is not touched: a failure is
 * logged and counted (the tunnel's status hook_failures).
 *
 * Its end is watched through a pidfd and it is reaped by its pid: nothing
 * in tunneld waits for any child but its own, so none is stolen.  At
 * shutdown nothing more is run and the programs running get SIGTERM
 * (SIGKILL, those past on_state_timeout).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include "proc.h"

#define HOOK_RUNNING_MAX	16	/* at once, over all the tunnels */
#define HOOK_KILL_GRACE		2	/* seconds from SIGTERM to SIGKILL */
#define HOOK_LINE_MAX		1024	/* bytes of an output line logged */
#define HOOK_OUTPUT_MAX		65536	/* bytes of output logged per run */
#define HOOK_LINES_MAX		256	/* lines of output logged per run */
#define HOOK_PATH		"PATH=/usr/sbin:/usr/bin:/sbin:/bin"

struct hook_change {
	char	*state;		/* NULL: none */
	char	*previous;
	char	*reason;
	char	*server;
};

struct hook {
	TAILQ_ENTRY(hook)	 entry;
	TAILQ_ENTRY(hook)	 wait_entry;
	char			*name;		/* the tunnel's */
	struct hook_change	 next;		/* to deliver */
	int			 waiting;	/* on hooks_waiting */
	/* the run, while pid != -1 */
	pid_t			 pid;
	char			*program;
	char			*state;		/* the STATE it was given */
	double			 timeout;
	double			 started;
	int			 pidfd;
	int			 outfd;
	struct event		*ev_exit;
	struct event		*ev_out;
	struct event		*ev_timer;
	int			 timed_out;	/* SIGTERM sent */
	char			 line[HOOK_LINE_MAX + 1];
	size_t			 linelen;
	size_t			 logged;	/* bytes of output */
	size_t			 lines;		/* logged */
	size_t			 dropped;
};
TAILQ_HEAD(hooks, hook);
static struct hooks	 hooks_all = TAILQ_HEAD_INITIALIZER(hooks_all);
static struct hooks	 hooks_waiting = TAILQ_HEAD_INITIALIZER(hooks_waiting);
static unsigned		 hooks_running;
static int		 hooks_stopping;

static void	 hook_pump(void);
static void	 hook_exit_cb(evutil_socket_t, short, void *);
static void	 hook_timer_cb(evutil_socket_t, short, void *);

static void __attribute__((format(printf, 3, 4)))
hook_log(struct hook *h, int level, const char *fmt, ...)
{
	struct log_fields lf = { h->name, NULL, NULL };
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, &lf, h->name, fmt, ap);
	va_end(ap);
}

static void
hook_change_clear(struct hook_change *ch)
{
	free(ch->state);
	free(ch->previous);
	free(ch->reason);
	free(ch->server);
	memset(ch, 0, sizeof *ch);
}

/* The hook of the tunnel of that name, a new one if it has none. */
static struct hook *
hook_get(const char *name)
{
	struct hook *h;

	TAILQ_FOREACH(h, &hooks_all, entry) {
		if (strcmp(h->name, name) == 0)
			return h;
	}
	h = xcalloc(1, sizeof *h);
	h->name = xstrdup(name);
	h->pid = -1;
	h->pidfd = h->outfd = -1;
	TAILQ_INSERT_TAIL(&hooks_all, h, entry);
	return h;
}

static void
hook_free(struct hook *h)
{
	TAILQ_REMOVE(&hooks_all, h, entry);
	free(h->name);
	free(h);
}

/* Freed when it has nothing running, waiting or to deliver. */
static void
hook_maybe_free(struct hook *h)
{
	if (h->pid != -1 || h->waiting || h->next.state != NULL)
		return;
	hook_free(h);
}

/* A failed run, counted in its tunnel's status if it is still there. */
static void
hook_failed(struct hook *h)
{
	struct tunnel *t;

	if ((t = tunnel_find(h->name)) != NULL)
		t->hook_failures++;
}

/* --- the output ---------------------------------------------------------- */

static void
hook_line(struct hook *h)
{
	size_t i;

	if (h->linelen == 0)
		return;
	if (h->logged + h->linelen > HOOK_OUTPUT_MAX ||
	    h->lines == HOOK_LINES_MAX)
		h->dropped += h->linelen;
	else {
		h->logged += h->linelen;
		h->lines++;
		h->line[h->linelen] = '\0';
		for (i = 0; i < h->linelen; i++) {
			if ((unsigned char)h->line[i] < ' ' ||
			    h->line[i] == 0x7f)
				h->line[i] = '?';
		}
		hook_log(h, LOG_LVL_INFO, "on_state: %s", h->line);
	}
	h->linelen = 0;
}

/* Lines, each cut at HOOK_LINE_MAX (the rest dropped and counted). */
static void
hook_output(struct hook *h, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			hook_line(h);
		else if (h->linelen < HOOK_LINE_MAX)
			h->line[h->linelen++] = buf[i];
		else
			h->dropped++;
	}
}

/* Read what is there; -1 at the end of the output or on an error. */
static int
hook_read(struct hook *h)
{
	char buf[4096];
	ssize_t n;

	if (h->outfd == -1)
		return -1;
	n = read(h->outfd, buf, sizeof buf);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		hook_line(h);
		event_del(h->ev_out);
		close(h->outfd);
		h->outfd = -1;
		return -1;
	}
	hook_output(h, buf, (size_t)n);
	return 1;
}

static void
hook_out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)hook_read(arg);
}

/* --- a run --------------------------------------------------------------- */

static char *
hook_env(const char *name, const char *value)
{
	char *s;

	xasprintf(&s, "%s=%s", name, value != NULL ? value : "");
	return s;
}

/*
 * posix_spawn(): no shell; a new session (and process group, which the
 * timeout kills whole); descriptors 0 from /dev/null, 1 and 2 the pipe,
 * none above; every signal at its default and none blocked; from /.
 */
static int
hook_spawn(char *const argv[], char *const envp[], int out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&sa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, out, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, argv[0], &fa, &sa, argv, envp);
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Run tc's program for change ch; -1 with *cause if it could not be. */
static int
hook_exec(struct hook *h, const struct tunnel_conf *tc,
    const struct hook_change *ch, char **cause)
{
	char *envp[] = { hook_env("TUNNEL", h->name),
	    hook_env("STATE", ch->state), hook_env("PREVIOUS", ch->previous),
	    hook_env("REASON", ch->reason), hook_env("SERVER", ch->server),
	    xstrdup(HOOK_PATH), xstrdup("LANG=C"), NULL };
	int fds[2] = { -1, -1 }, rc = -1, e;
	size_t i;
	pid_t pid;

	/* as at the last load: the file may have changed since */
	if (file_trust(tc->on_state[0], "on_state", cause) != 0)
		goto out;
	if (!budget_fd_room() || pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    budget_fd_over(fds[1])) {
		xasprintf(cause, "no descriptors to spare");
		goto out;
	}
	if ((e = hook_spawn(tc->on_state, envp, fds[1], &pid)) != 0) {
		xasprintf(cause, "%s", strerror(e));
		goto out;
	}
	if ((h->pidfd = pidfd_open(pid, 0)) == -1) {
		e = errno;
		(void)kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		xasprintf(cause, "pidfd_open: %s", strerror(e));
		goto out;
	}
	h->pid = pid;
	h->outfd = fds[0];
	fds[0] = -1;
	h->program = xstrdup(tc->on_state[0]);
	h->state = xstrdup(ch->state);
	h->timeout = tc->on_state_timeout;
	h->started = mono_now();
	h->timed_out = 0;
	h->linelen = h->logged = h->lines = h->dropped = 0;
	h->ev_exit = event_new(tunneld_base, h->pidfd, EV_READ, hook_exit_cb,
	    h);
	h->ev_out = event_new(tunneld_base, h->outfd, EV_READ | EV_PERSIST,
	    hook_out_cb, h);
	h->ev_timer = evtimer_new(tunneld_base, hook_timer_cb, h);
	event_add(h->ev_exit, NULL);
	event_add(h->ev_out, NULL);
	timer_add_secs(h->ev_timer, h->timeout);
	hooks_running++;
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (fds[i] != -1)
			close(fds[i]);
	}
	for (i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	return rc;
}

/* Deliver h's latest change with its tunnel's program as it is now. */
static void
hook_start(struct hook *h)
{
	struct hook_change ch = h->next;
	struct tunnel *t;
	char *cause = NULL;

	memset(&h->next, 0, sizeof h->next);
	if ((t = tunnel_find(h->name)) != NULL && t->conf->on_state != NULL) {
		t->hook_runs++;
		hook_log(h, LOG_LVL_DEBUG, "on_state %s: %s (previous %s)",
		    t->conf->on_state[0], ch.state, ch.previous);
		if (hook_exec(h, t->conf, &ch, &cause) != 0) {
			t->hook_failures++;
			hook_log(h, LOG_LVL_WARNING, "on_state %s (%s): not "
			    "run: %s", t->conf->on_state[0], ch.state, cause);
			free(cause);
		}
	}
	hook_change_clear(&ch);
}

/* The waiting hooks, in order, while fewer than the most run. */
static void
hook_pump(void)
{
	struct hook *h;

	while (hooks_running < HOOK_RUNNING_MAX &&
	    (h = TAILQ_FIRST(&hooks_waiting)) != NULL) {
		TAILQ_REMOVE(&hooks_waiting, h, wait_entry);
		h->waiting = 0;
		hook_start(h);
		hook_maybe_free(h);
	}
}

/* h's change is delivered when it has its turn, after its run if any. */
static void
hook_schedule(struct hook *h)
{
	if (h->pid != -1 || h->waiting)
		return;
	TAILQ_INSERT_TAIL(&hooks_waiting, h, wait_entry);
	h->waiting = 1;
	hook_pump();
}

/* The run's descriptors and events let go; the process is not waited. */
static void
hook_run_clear(struct hook *h)
{
	if (h->ev_exit != NULL)
		event_free(h->ev_exit);
	if (h->ev_out != NULL)
		event_free(h->ev_out);
	if (h->ev_timer != NULL)
		event_free(h->ev_timer);
	h->ev_exit = h->ev_out = h->ev_timer = NULL;
	if (h->pidfd != -1)
		close(h->pidfd);
	if (h->outfd != -1)
		close(h->outfd);
	h->pidfd = h->outfd = -1;
	free(h->program);
	free(h->state);
	h->program = h->state = NULL;
	h->pid = -1;
	hooks_running--;
}

/* How the run ended, for the log; NULL if it succeeded. */
static char *
hook_verdict(struct hook *h, int status)
{
	char *s = NULL;

	if (h->timed_out)
		xasprintf(&s, "timed out after %g s (on_state_timeout): "
		    "killed", h->timeout);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		xasprintf(&s, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		xasprintf(&s, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	return s;
}

static void
hook_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook *h = arg;
	char *failed;
	int status = 0, i;

	/* what it started in its group goes with it when it timed out */
	if (h->timed_out)
		(void)kill(-h->pid, SIGKILL);
	while (waitpid(h->pid, &status, 0) == -1 && errno == EINTR)
		;
	for (i = 0; i < 64 && hook_read(h) > 0; i++)
		;
	hook_line(h);
	if (h->dropped > 0)
		hook_log(h, LOG_LVL_WARNING, "on_state %s (%s): %zu more "
		    "bytes of output not logged (at most %d bytes a line, %d "
		    "lines and %d bytes a run)", h->program, h->state,
		    h->dropped, HOOK_LINE_MAX, HOOK_LINES_MAX,
		    HOOK_OUTPUT_MAX);
	if ((failed = hook_verdict(h, status)) != NULL) {
		hook_failed(h);
		hook_log(h, LOG_LVL_WARNING, "on_state %s (%s): %s", h->program,
		    h->state, failed);
		free(failed);
	} else
		hook_log(h, LOG_LVL_INFO, "on_state %s (%s): done in %.1f s",
		    h->program, h->state, mono_now() - h->started);
	hook_run_clear(h);
	if (h->next.state != NULL) {
		TAILQ_INSERT_TAIL(&hooks_waiting, h, wait_entry);
		h->waiting = 1;
	} else
		hook_maybe_free(h);
	hook_pump();	/* frees h if its turn comes and nothing is run */
}

/* on_state_timeout: SIGTERM to the program, SIGKILL to its group later. */
static void
hook_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook *h = arg;

	if (!h->timed_out) {
		h->timed_out = 1;
		hook_log(h, LOG_LVL_NOTICE, "on_state %s (%s): still running "
		    "after %g s (on_state_timeout): SIGTERM, SIGKILL in %d s",
		    h->program, h->state, h->timeout, HOOK_KILL_GRACE);
		(void)kill(-h->pid, SIGTERM);
		timer_add_secs(h->ev_timer, HOOK_KILL_GRACE);
	} else
		(void)kill(-h->pid, SIGKILL);
}

/* --- the observer -------------------------------------------------------- */

/* REASON: why it changed, else what went wrong last, else nothing. */
static const char *
hook_reason(const struct tunnel *t, const struct tunnel_transition *tr)
{
	if (tr->reason != NULL && tr->reason[0] != '\0')
		return tr->reason;
	if (tr->new != TS_UP && t->pub_last_error != NULL)
		return t->pub_last_error;
	return "";
}

/* A tunnel_observer: a change for the tunnel's program, if it has one. */
void
hook_tunnel_changed(const struct tunnel_transition *tr, void *arg)
{
	struct tunnel *t;
	struct hook *h;

	if (hooks_stopping || (t = tunnel_find(tr->name)) == NULL ||
	    t->conf->on_state == NULL)
		return;
	h = hook_get(tr->name);
	hook_change_clear(&h->next);
	h->next.state = xstrdup(tunnel_state_name(tr->new));
	h->next.previous = xstrdup(tunnel_state_name(tr->old));
	h->next.reason = xstrdup(hook_reason(t, tr));
	h->next.server = xstrdup(tr->server != NULL ? tr->server : "");
	hook_schedule(h);
}

/* Shutdown: nothing more is run; the programs running get SIGTERM, or
 * SIGKILL to the group if past on_state_timeout already (the grace that
 * ends with it is cut short), and are not waited for. */
void
hook_shutdown(void)
{
	struct hook *h, *h1;

	hooks_stopping = 1;
	for (h = TAILQ_FIRST(&hooks_all); h != NULL; h = h1) {
		h1 = TAILQ_NEXT(h, entry);
		if (h->pid != -1) {
			hook_log(h, LOG_LVL_NOTICE, "on_state %s (%s): still "
			    "running at shutdown: %s", h->program, h->state,
			    h->timed_out ? "past on_state_timeout: SIGKILL" :
			    "SIGTERM");
			(void)kill(-h->pid, h->timed_out ? SIGKILL : SIGTERM);
			hook_run_clear(h);
		}
		if (h->waiting)
			TAILQ_REMOVE(&hooks_waiting, h, wait_entry);
		h->waiting = 0;
		hook_change_clear(&h->next);
		hook_free(h);
	}
}

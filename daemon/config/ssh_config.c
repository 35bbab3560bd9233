/*
 * ssh_config.c - ssh_config = true: a tunnel's host is an alias of the
 * daemon user's ~/.ssh/config and of /etc/ssh/ssh_config (or of the file
 * ssh_config_file names, as ssh -F), resolved with OpenSSH's own rules by
 * OpenSSH itself: `ssh -G ALIAS` prints every option as ssh would use it
 * for that alias (Host and Match blocks, Include, wildcards, tokens).
 *
 * ssh -G prints ssh's built-in defaults too (port 22, the default identity
 * files, ServerAliveInterval 0 ...), which must not override tunneld's.
 * So ssh -G reads a configuration of ours (a temporary file, -F):
 * the user's files by Include, then a Host * block of sentinel values.
 * ssh takes the first value obtained, so a sentinel in the output means
 * the user's files do not set that option.  The options ssh prints only
 * when set, or as "none", need none; Port is taken when it is not 22.
 * What the files set is applied to the tunnel through the keyword table
 * (the same checks as tunneld.conf), unless the tunnel's own block writes
 * the setting: tunneld.conf wins.  A value from ssh_config beats one
 * inherited from defaults, which is about every host, where the alias is
 * about this one.
 *
 * Each run is bounded (SSH_G_TIMEOUT: then ssh and what it started are
 * killed, and the error names the alias).  At start-up and for tunneld -n
 * the runs are made in turn; for a reload they are not made on the main
 * thread: a first load collects them (a batch), each runs in a thread of
 * its own, and the load that is applied takes their answers from the
 * batch (reload.c), so that status keeps answering meanwhile.  ssh runs
 * as the daemon's user and runs what a Match exec says, as ssh would.
 * What was resolved, and from where, is kept in struct ssh_resolved for
 * --print-config.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config_keywords.h"
#include "ssh_config.h"

#define SSH_G_TIMEOUT	10	/* seconds for each ssh -G */
#define SSH_G_OUT_MAX	(256 * 1024)
#define SSH_G_ERR_MAX	2048
#define SSH_UNSET	"/nonexistent/tunneld-unset"	/* sentinels */
#define SSH_UNSET_N	"3333333"

/* The options taken, the keyword each one fills, and the value that
 * says the user's files do not set it. */
static const struct ssh_option {
	const char	*key;		/* as ssh -G prints it */
	const char	*name;		/* as ssh_config(5) writes it */
	const char	*keyword;
	const char	*unset;		/* our sentinel, or ssh's default */
	int		 sentinel;	/* unset is ours: write it */
} ssh_options[SSH_CONFIG_OPTIONS] = {
	{ "hostname", "HostName", "host", NULL, 0 },	/* the alias */
	{ "port", "Port", "port", "22", 0 },
	{ "user", "User", "user", SSH_UNSET, 1 },
	{ "identityfile", "IdentityFile", "identity_file", SSH_UNSET, 1 },
	{ "certificatefile", "CertificateFile", "certificate_file", SSH_UNSET,
	    1 },
	{ "identityagent", "IdentityAgent", "identity_agent", "none", 0 },
	{ "proxyjump", "ProxyJump", "jump", "none", 0 },
	{ "userknownhostsfile", "UserKnownHostsFile", "known_hosts",
	    SSH_UNSET, 1 },
	{ "serveraliveinterval", "ServerAliveInterval", "keepalive_interval",
	    SSH_UNSET_N, 1 },
	{ "serveralivecountmax", "ServerAliveCountMax", "keepalive_count",
	    SSH_UNSET_N, 1 },
	{ "connecttimeout", "ConnectTimeout", "connect_timeout", "none", 0 },
};

static size_t
ssh_option_index(const char *key)
{
	size_t i;

	for (i = 0; i < nitems(ssh_options) - 1; i++) {
		if (strcmp(ssh_options[i].key, key) == 0)
			break;
	}
	return i;
}

/* One line of ssh -G's output. */
struct ssh_line {
	char	*key;
	char	*value;
};
struct ssh_dump {
	struct ssh_line	*v;
	size_t		 n;
};

static void
ssh_dump_clear(struct ssh_dump *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].key);
		free(d->v[i].value);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* "key value" lines; a key given more than once (identityfile) keeps
 * every value, one per line. */
static void
ssh_dump_parse(struct ssh_dump *d, char *text)
{
	char *line, *sp, *joined;
	size_t i;

	while ((line = strsep(&text, "\n")) != NULL) {
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		for (i = 0; i < d->n; i++) {
			if (strcmp(d->v[i].key, line) == 0)
				break;
		}
		if (i < d->n) {
			xasprintf(&joined, "%s\n%s", d->v[i].value, sp);
			free(d->v[i].value);
			d->v[i].value = joined;
			continue;
		}
		d->v = xreallocarray(d->v, d->n + 1, sizeof *d->v);
		d->v[d->n].key = xstrdup(line);
		d->v[d->n++].value = xstrdup(sp);
	}
}

static const char *
ssh_dump_get(const struct ssh_dump *d, const char *key)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->v[i].key, key) == 0)
			return d->v[i].value;
	}
	return NULL;
}

/* ssh in PATH, as execvp would find it; NULL if there is none. */
static char *
ssh_config_find_ssh(void)
{
	const char *path = getenv("PATH");
	char *dirs, *p, *dir, *file;

	if (path == NULL)
		path = "/usr/bin:/bin";
	p = dirs = xstrdup(path);
	while ((dir = strsep(&p, ":")) != NULL) {
		xasprintf(&file, "%s/ssh", *dir != '\0' ? dir : ".");
		if (access(file, X_OK) == 0) {
			free(dirs);
			return file;
		}
		free(file);
	}
	free(dirs);
	return NULL;
}

/* Read what the child writes on fd into *buf (at most max bytes kept). */
static int
ssh_config_drain(int fd, char **buf, size_t *len, size_t max)
{
	char tmp[4096];
	ssize_t n;

	n = read(fd, tmp, sizeof tmp);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	if (*len + (size_t)n > max)
		n = (ssize_t)(max - *len);
	*buf = xreallocarray(*buf, *len + (size_t)n + 1, 1);
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

/* The configuration ssh -G reads: the user's files, then sentinels. */
static char *
ssh_config_wrapper(const char *file, const char *home)
{
	char *w, *n, cwd[4096];
	size_t i;

	if (file != NULL && *file != '/' && getcwd(cwd, sizeof cwd) != NULL)
		xasprintf(&w, "Include \"%s/%s\"\n", cwd, file);
	else if (file != NULL)
		xasprintf(&w, "Include \"%s\"\n", file);
	else
		xasprintf(&w, "Include \"%s/.ssh/config\"\n"
		    "Include /etc/ssh/ssh_config\n", home);
	xasprintf(&n, "%sHost *\n", w);
	free(w);
	w = n;
	for (i = 0; i < nitems(ssh_options); i++) {
		if (!ssh_options[i].sentinel)
			continue;
		xasprintf(&n, "%s  %s %s\n", w, ssh_options[i].name,
		    ssh_options[i].unset);
		free(w);
		w = n;
	}
	return w;
}

/*
 * The ssh -G the main thread is running (start-up, tunneld -n), for
 * ssh_config_abort(): a signal handler may read these.
 */
static volatile sig_atomic_t ssh_g_main_pid;
static char ssh_g_main_path[4096];
static volatile sig_atomic_t ssh_g_main_path_set;

/*
 * SIGTERM or SIGINT before the event loop: the ssh -G of the main thread,
 * and what its Match exec runs (its process group), die with tunneld, and
 * its temporary file goes.  Async-signal-safe.
 */
void
ssh_config_abort(void)
{
	pid_t pid = (pid_t)ssh_g_main_pid;

	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	if (ssh_g_main_path_set)
		unlink(ssh_g_main_path);
}

/* A temporary file holding text (ssh closes every descriptor past 2
 * before it reads its configuration: no pipe); its path, or NULL. */
static char *
ssh_config_text_file(const char *text)
{
	const char *tmp = getenv("TMPDIR");
	size_t len = strlen(text), off = 0;
	char *path;
	ssize_t n;
	int fd;

	xasprintf(&path, "%s/tunneld-ssh-G.XXXXXX", tmp != NULL &&
	    *tmp == '/' ? tmp : "/tmp");
	if ((fd = mkstemp(path)) == -1) {
		free(path);
		return NULL;
	}
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off < len) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

/*
 * Run argv (argv[0] a path) with stdin from /dev/null; its output in *out,
 * its error output in *err.  Its exit status, or -1 (not started, or
 * timed out: killed).
 */
static int
ssh_config_run(char *const argv[], int main_thread, char **out, char **err)
{
	sigset_t stop, old;
	struct pollfd pfd[2];
	size_t olen = 0, elen = 0;
	int o[2], e[2], status, left = 2, n;
	double end = mono_now() + SSH_G_TIMEOUT;
	pid_t pid;

	*out = xstrdup("");
	*err = xstrdup("");
	if (pipe2(o, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(e, O_CLOEXEC) == -1) {
		close(o[0]);
		close(o[1]);
		return -1;
	}
	/* no SIGTERM between the fork and ssh_g_main_pid */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (main_thread)
		sigprocmask(SIG_BLOCK, &stop, &old);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);	/* a Match exec's command dies with it */
		if (main_thread)
			sigprocmask(SIG_SETMASK, &old, NULL);
		/* dup2() clears close-on-exec on the copies */
		if (null == -1 || dup2(null, 0) == -1 || dup2(o[1], 1) == -1 ||
		    dup2(e[1], 2) == -1)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);	/* before either runs on: no race */
	if (main_thread) {
		ssh_g_main_pid = pid;
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	close(o[1]);
	close(e[1]);
	pfd[0].fd = o[0];
	pfd[1].fd = e[0];
	pfd[0].events = pfd[1].events = POLLIN;
	while (pid != -1 && left > 0) {
		n = poll(pfd, 2, (int)((end - mono_now()) * 1000) + 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || mono_now() > end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			left = -1;
			break;
		}
		if (pfd[0].revents != 0 && pfd[0].fd != -1 &&
		    !ssh_config_drain(o[0], out, &olen, SSH_G_OUT_MAX)) {
			pfd[0].fd = -1;
			left--;
		}
		if (pfd[1].revents != 0 && pfd[1].fd != -1 &&
		    !ssh_config_drain(e[0], err, &elen, SSH_G_ERR_MAX)) {
			pfd[1].fd = -1;
			left--;
		}
	}
	close(o[0]);
	close(e[0]);
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (main_thread)
		ssh_g_main_pid = 0;
	if (left == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
	    WTERMSIG(status);
}

/* ssh -G for alias, reading file (NULL: the user's and the system's)
 * through our wrapper: its exit status (-1: no answer in time, -2: no
 * temporary file), output and error output.  Touches nothing shared: a
 * batch runs it in threads. */
static int
ssh_config_exec(const char *ssh, const char *file, const char *home,
    const char *alias, int main_thread, char **out, char **err)
{
	char *argv[7], *config, *path;
	int rc;

	config = ssh_config_wrapper(file, home);
	path = ssh_config_text_file(config);
	free(config);
	if (path == NULL) {
		*out = xstrdup("");
		xasprintf(err, "%s", strerror(errno));
		return -2;
	}
	argv[0] = (char *)ssh;
	argv[1] = (char *)"-G";
	argv[2] = (char *)"-F";
	argv[3] = path;
	argv[4] = (char *)"--";
	argv[5] = (char *)alias;
	argv[6] = NULL;
	if (main_thread && strlen(path) < sizeof ssh_g_main_path) {
		memcpy(ssh_g_main_path, path, strlen(path) + 1);
		atomic_signal_fence(memory_order_seq_cst);
		ssh_g_main_path_set = 1;
	}
	rc = ssh_config_run(argv, main_thread, out, err);
	unlink(path);
	if (main_thread)
		ssh_g_main_path_set = 0;
	free(path);
	return rc;
}

/*
 * A batch of ssh -G runs (reload.c): while one is collecting, the runs a
 * load would make are recorded instead (the load fails: it is thrown
 * away); once run, the next load takes its answers from it.  Main thread
 * only, but for the runs themselves.
 */
struct ssh_g_run {
	char		*ssh, *file, *home, *alias;
	int		 rc;
	char		*out, *err;
	pthread_t	 thread;
	struct ssh_g_batch *batch;
};
struct ssh_g_batch {
	int		 collect;
	struct ssh_g_run *v;
	size_t		 n;
	size_t		 running;	/* threads not finished (lock) */
	pthread_mutex_t	 lock;
	struct event	*done;
	void		(*cb)(void *);
	void		*arg;
};
static struct ssh_g_batch *ssh_g_batch;

static int
ssh_g_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

static struct ssh_g_run *
ssh_g_find(const char *ssh, const char *file, const char *home,
    const char *alias)
{
	struct ssh_g_run *r;
	size_t i;

	for (i = 0; i < ssh_g_batch->n; i++) {
		r = &ssh_g_batch->v[i];
		if (strcmp(r->ssh, ssh) == 0 && ssh_g_same(r->file, file) &&
		    strcmp(r->home, home) == 0 && strcmp(r->alias, alias) == 0)
			return r;
	}
	return NULL;
}

struct ssh_g_batch *
ssh_config_batch_new(void)
{
	struct ssh_g_batch *b = xcalloc(1, sizeof *b);

	b->collect = 1;
	pthread_mutex_init(&b->lock, NULL);
	return b;
}

/* The batch loads collect into or answer from (NULL: none, ssh runs). */
void
ssh_config_batch_use(struct ssh_g_batch *b)
{
	ssh_g_batch = b;
}

size_t
ssh_config_batch_size(const struct ssh_g_batch *b)
{
	return b->n;
}

static void *
ssh_g_thread(void *arg)
{
	struct ssh_g_run *r = arg;
	struct ssh_g_batch *b = r->batch;
	int last;

	r->rc = ssh_config_exec(r->ssh, r->file, r->home, r->alias, 0,
	    &r->out, &r->err);
	pthread_mutex_lock(&b->lock);
	last = --b->running == 0;
	pthread_mutex_unlock(&b->lock);
	if (last)
		event_active(b->done, EV_READ, 0);	/* evthread: safe */
	return NULL;
}

static void
ssh_g_done(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_g_batch *b = arg;
	size_t i;

	for (i = 0; i < b->n; i++)
		pthread_join(b->v[i].thread, NULL);
	b->cb(b->arg);
}

/*
 * Run every ssh -G of the batch, each in a thread; cb(arg) on the main
 * loop when all have ended.  0, or -1 if no thread could be made (the
 * batch is then empty of answers: the load runs ssh itself).
 */
int
ssh_config_batch_start(struct ssh_g_batch *b, void (*cb)(void *), void *arg)
{
	size_t i;

	b->collect = 0;
	b->cb = cb;
	b->arg = arg;
	b->done = event_new(worker_base(worker_main), -1, 0, ssh_g_done, b);
	b->running = b->n;
	for (i = 0; i < b->n; i++) {
		b->v[i].batch = b;
		if (pthread_create(&b->v[i].thread, NULL, ssh_g_thread,
		    &b->v[i]) != 0)
			break;
	}
	if (i == b->n)
		return 0;
	/* the threads made so far end; the batch is then given up */
	pthread_mutex_lock(&b->lock);
	b->running -= b->n - i;
	pthread_mutex_unlock(&b->lock);
	while (i-- > 0)
		pthread_join(b->v[i].thread, NULL);
	for (i = 0; i < b->n; i++)
		b->v[i].rc = -3;
	return -1;
}

void
ssh_config_batch_free(struct ssh_g_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->v[i].ssh);
		free(b->v[i].file);
		free(b->v[i].home);
		free(b->v[i].alias);
		free(b->v[i].out);
		free(b->v[i].err);
	}
	free(b->v);
	if (b->done != NULL)
		event_free(b->done);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* ssh -G for alias (ssh_config_exec), or its answer from the batch, into
 * d; -1 with a cause if it failed, or if the batch is collecting. */
static int
ssh_config_dump(const char *ssh, const char *file, const char *home,
    const char *alias, struct ssh_dump *d, char **cause)
{
	struct ssh_g_run *r = NULL;
	char *out, *err, *nl;
	int rc;

	if (ssh_g_batch != NULL && (r = ssh_g_find(ssh, file, home,
	    alias)) == NULL && ssh_g_batch->collect) {
		ssh_g_batch->v = xreallocarray(ssh_g_batch->v,
		    ssh_g_batch->n + 1, sizeof *ssh_g_batch->v);
		r = &ssh_g_batch->v[ssh_g_batch->n++];
		memset(r, 0, sizeof *r);
		r->ssh = xstrdup(ssh);
		r->file = file != NULL ? xstrdup(file) : NULL;
		r->home = xstrdup(home);
		r->alias = xstrdup(alias);
	}
	if (ssh_g_batch != NULL && ssh_g_batch->collect) {
		xasprintf(cause, "ssh -G %s: collected", alias);
		return -1;
	}
	if (r != NULL && r->rc != -3) {
		rc = r->rc;
		out = xstrdup(r->out != NULL ? r->out : "");
		err = xstrdup(r->err != NULL ? r->err : "");
	} else
		rc = ssh_config_exec(ssh, file, home, alias, 1, &out, &err);
	if ((nl = strchr(err, '\n')) != NULL)
		*nl = '\0';	/* its first line says it */
	if (rc == -2)
		xasprintf(cause, "cannot write a temporary file for ssh -G: "
		    "%s", err);
	else if (rc == -1)
		xasprintf(cause, "%s -G %s gave no answer within %d seconds: "
		    "killed (a Match exec that does not end?)", ssh, alias,
		    SSH_G_TIMEOUT);
	else if (rc != 0)
		xasprintf(cause, "%s -G %s failed (exit status %d)%s%s", ssh,
		    alias, rc, *err != '\0' ? ": " : "", err);
	else
		ssh_dump_parse(d, out);
	free(out);
	free(err);
	return rc == 0 ? 0 : -1;
}

/* ~ and the tokens of a path (ssh_config(5) TOKENS) as ssh expands them. */
static char *
ssh_config_path(const char *v, const struct ssh_dump *d, const char *alias)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *home = pw != NULL ? pw->pw_dir : "/", *t;
	char *s = xstrdup(""), *n;

	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
		free(s);
		s = xstrdup(home);
		v++;
	}
	for (; *v != '\0'; v++) {
		t = NULL;
		if (*v == '%' && v[1] != '\0') {
			switch (*++v) {
			case 'd': t = home; break;
			case 'u': t = pw != NULL ? pw->pw_name : ""; break;
			case 'h': t = ssh_dump_get(d, "hostname"); break;
			case 'p': t = ssh_dump_get(d, "port"); break;
			case 'r': t = ssh_dump_get(d, "user"); break;
			case 'n': t = alias; break;
			case '%': t = "%"; break;
			}
		}
		if (t != NULL)
			xasprintf(&n, "%s%s", s, t);
		else
			xasprintf(&n, "%s%c", s, *v);
		free(s);
		s = n;
	}
	return s;
}

/* The value of option o as tunneld takes it: the first of a list, paths
 * expanded; NULL if the user's files do not set it. */
static char *
ssh_config_value(const struct ssh_option *o, const char *v,
    const struct ssh_dump *d, const char *alias)
{
	size_t n;
	char *first, *p;

	/* identityfile: ours comes after the user's, if any */
	if (strcmp(v, "none") == 0 || (o->unset != NULL &&
	    strcmp(v, o->unset) == 0))
		return NULL;
	n = strcmp(o->key, "userknownhostsfile") == 0 ? strcspn(v, " \n") :
	    strcspn(v, "\n");
	first = xstrdup(v);
	first[n] = '\0';
	if (strcmp(o->key, "identityfile") == 0 ||
	    strcmp(o->key, "certificatefile") == 0 ||
	    strcmp(o->key, "userknownhostsfile") == 0 ||
	    (strcmp(o->key, "identityagent") == 0 &&
	    strcmp(first, "SSH_AUTH_SOCK") != 0 && first[0] != '$')) {
		p = ssh_config_path(first, d, alias);
		free(first);
		first = p;
	}
	return first;
}

void
ssh_resolved_free(struct ssh_resolved *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < nitems(r->from); i++)
		free(r->from[i].value);
	free(r->alias);
	free(r->command);
	free(r->notes);
	free(r);
}

/* A line for --print-config. */
static void
ssh_resolved_note(struct ssh_resolved *r, const char *msg)
{
	char *n;

	xasprintf(&n, "%s%s\n", r->notes != NULL ? r->notes : "", msg);
	free(r->notes);
	r->notes = n;
}

/* Set keyword kw of tc to value, through the table's own checks; -1
 * (with a cause) if the value does not fit. */
static int
ssh_config_set(const struct keyword *kw, const char *value,
    struct tunnel_conf *tc, const char *ssh_file, char **cause)
{
	struct errlist errs = { 0 };
	struct kw_ctx ctx = { ssh_file, &errs };
	config_setting_t *s;
	config_t cfg;
	char *end;
	double d;
	int rc;

	config_init(&cfg);
	if (kw->type == KW_INT || kw->type == KW_DURATION) {
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0') {
			config_destroy(&cfg);
			xasprintf(cause, "\"%s\" is not a number", value);
			return -1;
		}
		s = config_setting_add(config_root_setting(&cfg), kw->name,
		    kw->type == KW_INT ? CONFIG_TYPE_INT : CONFIG_TYPE_FLOAT);
		if (kw->type == KW_INT)
			config_setting_set_int(s, (int)d);
		else
			config_setting_set_float(s, d);
	} else {
		s = config_setting_add(config_root_setting(&cfg), kw->name,
		    CONFIG_TYPE_STRING);
		config_setting_set_string(s, value);
	}
	rc = keyword_parse(kw, s, &ctx, tc);
	config_destroy(&cfg);
	if (rc != 0) {
		/* "FILE: name: what": what */
		end = errs.n > 0 ? strstr(errs.v[0], ": ") : NULL;
		if (end != NULL && strncmp(end + 2, kw->name,
		    strlen(kw->name)) == 0 && strncmp(end + 2 +
		    strlen(kw->name), ": ", 2) == 0)
			end += strlen(kw->name) + 2;
		xasprintf(cause, "%s", end != NULL ? end + 2 : "invalid");
	}
	errlist_clear(&errs);
	return rc;
}

/* Option i: whether the user's files set it (ssh -G and our sentinels),
 * and whether it goes into the tunnel. */
static void
ssh_config_option(struct ssh_resolved *r, size_t i, struct tunnel_conf *tc,
    config_setting_t *group, const struct ssh_dump *user,
    struct ssh_config_ctx *c)
{
	const struct ssh_option *o = &ssh_options[i];
	const struct keyword *kw = keyword_find(o->keyword, KW_TUNNEL);
	const char *v = ssh_dump_get(user, o->key);
	char *value, *cause;
	int written = strcmp(o->key, "hostname") != 0 &&
	    config_setting_get_member(group, o->keyword) != NULL;

	r->from[i].origin = written ? SSH_FROM_TUNNEL : SSH_FROM_NONE;
	if (v == NULL || (value = ssh_config_value(o, v, user, r->alias)) ==
	    NULL)
		return;		/* not in the ssh configuration */
	if (strcmp(o->key, "hostname") == 0 && strcmp(value, r->alias) == 0) {
		free(value);
		return;
	}
	r->from[i].value = value;
	if (kw == NULL) {
		r->from[i].origin = SSH_FROM_UNSUPPORTED;
		return;
	}
	if (written) {
		r->from[i].origin = SSH_FROM_OVERRIDDEN;
		return;
	}
	if (ssh_config_set(kw, value, tc, c->ssh_file, &cause) != 0) {
		errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": "
		    "ssh_config: %s %s: %s", tc->name, o->name, value, cause);
		free(cause);
		r->from[i].origin = SSH_FROM_NONE;
		return;
	}
	r->from[i].origin = SSH_FROM_SSH;
}

/* ProxyCommand cannot be followed: an error unless the tunnel says how
 * it goes instead. */
static void
ssh_config_proxycommand(struct tunnel_conf *tc, config_setting_t *group,
    const struct ssh_dump *user, struct ssh_config_ctx *c)
{
	const char *v = ssh_dump_get(user, "proxycommand");

	if (v == NULL || strcmp(v, "none") == 0 ||
	    config_setting_get_member(group, "proxy") != NULL ||
	    config_setting_get_member(group, "jump") != NULL)
		return;
	errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": ssh_config: "
	    "\"%s\" has ProxyCommand %s, which tunneld does not run; set "
	    "proxy or jump in the tunnel instead", tc->name, tc->host, v);
}

/*
 * Resolve tc->host as an ssh_config alias; group is the tunnel's own
 * block (what it writes wins).  Errors go to c->errs at c->file:c->line.
 */
void
ssh_config_resolve(struct tunnel_conf *tc, config_setting_t *group,
    struct ssh_config_ctx *c)
{
	struct ssh_dump user = { 0 };
	struct ssh_resolved *r;
	struct passwd *pw;
	char *ssh, *cause;
	const char *p;
	size_t i;

	if ((ssh = ssh_config_find_ssh()) == NULL) {
		errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": "
		    "ssh_config = true needs OpenSSH's ssh client to read the "
		    "ssh configuration (ssh -G), and there is no ssh in PATH "
		    "(%s): install it (Debian: openssh-client), or write the "
		    "settings in tunneld.conf", tc->name,
		    getenv("PATH") != NULL ? getenv("PATH") : "unset");
		return;
	}
	if (tc->nservers > 1 || (tc->nservers == 1 &&
	    tc->servers[0].port != 0)) {
		errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": "
		    "ssh_config = true takes one alias as host, without a port "
		    "(the alias says its port, or write port = N)", tc->name);
		goto out;
	}
	pw = getpwuid(geteuid());
	if (tc->ssh_config_file != NULL && access(tc->ssh_config_file, R_OK)
	    == -1) {
		errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": "
		    "ssh_config_file: cannot read %s: %s", tc->name,
		    tc->ssh_config_file, strerror(errno));
		goto out;
	}
	if (ssh_config_dump(ssh, tc->ssh_config_file, pw != NULL ?
	    pw->pw_dir : "/", tc->host, &user, &cause) != 0) {
		errlist_add(c->errs, c->file, c->line, "tunnel \"%s\": "
		    "ssh_config: %s", tc->name, cause);
		free(cause);
		goto out;
	}
	r = xcalloc(1, sizeof *r);
	r->alias = xstrdup(tc->host);
	if (tc->ssh_config_file != NULL)
		xasprintf(&r->command, "%s -G %s, reading %s", ssh, tc->host,
		    tc->ssh_config_file);
	else
		xasprintf(&r->command, "%s -G %s, reading %s/.ssh/config, "
		    "/etc/ssh/ssh_config", ssh, tc->host, pw != NULL ?
		    pw->pw_dir : "~");
	if (tc->ssh_config_file != NULL)
		c->ssh_file = xstrdup(tc->ssh_config_file);
	else
		xasprintf(&c->ssh_file, "%s/.ssh/config", pw != NULL ?
		    pw->pw_dir : "");
	for (i = 0; i < nitems(ssh_options); i++)
		ssh_config_option(r, i, tc, group, &user, c);
	free(c->ssh_file);
	c->ssh_file = NULL;
	if ((p = ssh_dump_get(&user, "identityfile")) != NULL &&
	    (p = strchr(p, '\n')) != NULL && strcmp(p + 1, SSH_UNSET) != 0 &&
	    r->from[ssh_option_index("identityfile")].origin == SSH_FROM_SSH)
		ssh_resolved_note(r, "IdentityFile: several; the first is "
		    "used");
	ssh_config_proxycommand(tc, group, &user, c);
	ssh_resolved_free(tc->resolved);
	tc->resolved = r;
out:
	ssh_dump_clear(&user);
	free(ssh);
}

/* For --print-config: kw's line in a resolved tunnel, and where its
 * value came from (a comment), or NULL for a keyword ssh has no say in. */
char *
ssh_config_origin(const struct tunnel_conf *tc, const struct keyword *kw)
{
	const struct ssh_resolved *r = tc->resolved;
	char *s = NULL;
	size_t i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < nitems(ssh_options); i++) {
		if (strcmp(ssh_options[i].keyword, kw->name) == 0)
			break;
	}
	if (i == nitems(ssh_options))
		return NULL;
	switch (r->from[i].origin) {
	case SSH_FROM_SSH:
		xasprintf(&s, "ssh_config: %s %s", ssh_options[i].name,
		    r->from[i].value);
		break;
	case SSH_FROM_OVERRIDDEN:
		xasprintf(&s, "tunneld.conf, over ssh_config's %s %s",
		    ssh_options[i].name, r->from[i].value);
		break;
	case SSH_FROM_TUNNEL:
		xasprintf(&s, "tunneld.conf; not in ssh_config");
		break;
	default:
		xasprintf(&s, "defaults or built-in; not in ssh_config");
		break;
	}
	return s;
}

/* The comments above a resolved tunnel's settings. */
void
ssh_config_print_header(FILE *f, const struct tunnel_conf *tc,
    const char *indent)
{
	const struct ssh_resolved *r = tc->resolved;
	size_t i;
	const char *p, *nl;

	if (r == NULL)
		return;
	fprintf(f, "%s# ssh_config: \"%s\" resolved by %s\n", indent,
	    r->alias, r->command);
	for (i = 0; i < nitems(ssh_options); i++) {
		if (r->from[i].origin == SSH_FROM_UNSUPPORTED)
			fprintf(f, "%s# ssh_config: %s %s: not applied (no "
			    "%s setting in this tunneld)\n", indent,
			    ssh_options[i].name, r->from[i].value,
			    ssh_options[i].keyword);
	}
	for (p = r->notes; p != NULL && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		fprintf(f, "%s# ssh_config: %.*s\n", indent, (int)(nl - p), p);
	}
}

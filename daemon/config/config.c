/*
 * config.c - tunneld.conf (libconfig syntax): parse, validate, apply defaults.
 *
 * Every error is reported as FILE:LINE: message and parsing goes on to find
 * the rest, as OpenBSD's parse.y and sshd's servconf.c do.  libconfig itself
 * stops at the first syntax error of a file; that one is reported alone.
 * What each keyword is, and how it is checked, is in config_keywords.c.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libconfig.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_keywords.h"
#include "ssh_config.h"

void
errlist_add(struct errlist *e, const char *file, int line, const char *fmt, ...)
{
	char *msg, *full;
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (line > 0)
		xasprintf(&full, "%s:%d: %s", file, line, msg);
	else
		xasprintf(&full, "%s: %s", file, msg);
	free(msg);
	e->v = xreallocarray(e->v, e->n + 1, sizeof *e->v);
	e->v[e->n++] = full;
}

void
errlist_clear(struct errlist *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* Where a setting was written; libconfig knows the file of @include'd ones. */
const char *
cfg_file(const config_setting_t *s, const char *fallback)
{
	const char *f = config_setting_source_file(s);

	return f != NULL ? f : fallback;
}

#define PROBE_INTERVAL_MIN	1	/* seconds, when not 0 */
#define CERR(s, ...) errlist_add(errs, cfg_file((s), path), \
	config_setting_source_line(s), __VA_ARGS__)

/*
 * The trust checks (file.c: file_trust()) of a load.  They stat() every
 * directory above a file, which on a file system that does not answer (a
 * hung NFS mount) waits for ever: so, as cfg_check() does for reading, a
 * child makes them and the daemon waits at most CFG_TRUST_TIMEOUT.  The
 * files tunnels name are checked together at the end of the load, in one
 * child.
 */
#define CFG_CHECK_TIMEOUT	10	/* seconds: a child's verdict */
#define CFG_TRUST_TIMEOUT	5	/* seconds: trust checks */

struct cfg_trust_req {
	char	*path;
	char	*what;
	int	 secret;	/* read with O_NOFOLLOW: no link either */
	int	 exec;		/* a program run: a file, executable */
	char	*file;		/* where it is set, or NULL */
	int	 line;
	char	*prefix;	/* "tunnel \"x\": " */
	char	*cause;		/* the verdict: NULL if trusted */
	int	 unknown;	/* no verdict in time */
};
static struct cfg_trust_req	*cfg_trust_pending;
static size_t			 cfg_trust_npending;

/* A program tunneld runs: there, a regular file, executable by it. */
static char *
cfg_program_check(const struct cfg_trust_req *r)
{
	struct stat st;
	char *cause = NULL;

	if (stat(r->path, &st) == -1)
		xasprintf(&cause, "%s %s: %s", r->what, r->path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		xasprintf(&cause, "%s %s is not a regular file", r->what,
		    r->path);
	else if (access(r->path, X_OK) == -1)
		xasprintf(&cause, "%s %s is not executable (owner uid %lu, "
		    "mode %04o)", r->what, r->path, (unsigned long)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	return cause;
}

static char *
cfg_trust_one(const struct cfg_trust_req *r)
{
	struct stat st;
	char *cause = NULL;

	if (r->secret && lstat(r->path, &st) == 0 && S_ISLNK(st.st_mode)) {
		xasprintf(&cause, "%s %s is a symbolic link: a secret is read "
		    "only from the file itself (set %s to the file it points "
		    "to)", r->what, r->path, r->what);
		return cause;
	}
	if (file_trust(r->path, r->what, &cause) != 0)
		return cause;
	if (r->exec)
		return cfg_program_check(r);
	return NULL;
}

static int
cfg_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void __attribute__((noreturn))
cfg_trust_child(struct cfg_trust_req *v, size_t n, int fd)
{
	char *cause;
	uint32_t len;
	size_t i;

	for (i = 0; i < n; i++) {
		cause = cfg_trust_one(&v[i]);
		len = cause != NULL ? (uint32_t)strlen(cause) : 0;
		if (cfg_write_all(fd, &len, sizeof len) != 0 ||
		    (len > 0 && cfg_write_all(fd, cause, len) != 0))
			_exit(1);
		free(cause);
	}
	_exit(0);
}

/* Read exactly len bytes from fd by the deadline end; 0 or -1. */
static int
cfg_read_by(int fd, void *buf, size_t len, double end)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = poll(&pfd, 1, (int)((end - mono_now()) * 1000) + 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || mono_now() > end)
			return -1;
		if ((n = read(fd, (char *)buf + got, len - got)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* The descriptor a path such as /dev/fd/N (bash's <(...)) names, or -1. */
static int
cfg_path_fd(const char *path)
{
	const char *p;
	char *end;
	long n;

	if (path == NULL)
		return -1;
	if (strncmp(path, "/dev/fd/", 8) == 0)
		p = path + 8;
	else if (strncmp(path, "/proc/self/fd/", 14) == 0)
		p = path + 14;
	else
		return -1;
	errno = 0;
	n = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || n < 0 || n > INT_MAX)
		return -1;
	return (int)n;
}

static void
cfg_close_from_to(int lo, int hi)	/* [lo, hi]; hi -1: every one above */
{
	int fd;

	if (hi != -1 && lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo,
	    hi == -1 ? ~0U : (unsigned)hi, 0U) == 0)
		return;
#endif
	for (fd = lo; fd < 65536 && (hi == -1 || fd <= hi); fd++)
		(void)close(fd);
}

/*
 * In a child that does not exec: every descriptor above standard error is
 * closed but keep and the one path names (a configuration read from
 * /dev/fd/N), so that the child holds none of the daemon's listeners while
 * it lives - a reload closing one and listening on its port in another
 * tunnel would find it still taken.
 */
static void
cfg_child_fds(int keep, const char *path)
{
	int a = keep, b = cfg_path_fd(path);

	if (b < 3 || b == keep)
		b = a;
	if (b < a) {
		a = b;
		b = keep;
	}
	cfg_close_from_to(3, a - 1);
	cfg_close_from_to(a + 1, b - 1);
	cfg_close_from_to(b + 1, -1);
}

/*
 * Every verdict of v[0..n) into v[i].cause, made in a child; those it
 * gave no answer for in time are marked unknown.
 */
static void
cfg_trust_run(struct cfg_trust_req *v, size_t n)
{
	double end = mono_now() + CFG_TRUST_TIMEOUT;
	uint32_t len;
	size_t i = 0;
	pid_t pid;
	int fds[2];

	if (n == 0)
		return;
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		for (i = 0; i < n; i++)		/* no child: here, then */
			v[i].cause = cfg_trust_one(&v[i]);
		return;
	}
	if (pid == 0) {
		/* a grandchild does it: one stuck on a file system that does
		 * not answer cannot be killed or reaped, and is init's */
		close(fds[0]);
		cfg_child_fds(fds[1], NULL);
		if ((pid = fork()) != 0)
			_exit(pid == -1);
		pid = getpid();
		if (cfg_write_all(fds[1], &pid, sizeof pid) != 0)
			_exit(1);
		cfg_trust_child(v, n, fds[1]);
	}
	close(fds[1]);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	pid = -1;
	if (cfg_read_by(fds[0], &pid, sizeof pid, end) != 0)
		pid = -1;
	for (i = 0; pid != -1 && i < n; i++) {
		if (cfg_read_by(fds[0], &len, sizeof len, end) != 0 ||
		    len > 65536)
			break;
		if (len == 0)
			continue;
		v[i].cause = xmalloc((size_t)len + 1);
		if (cfg_read_by(fds[0], v[i].cause, len, end) != 0) {
			free(v[i].cause);
			v[i].cause = NULL;
			break;
		}
		v[i].cause[len] = '\0';
	}
	if (pid != -1 && i < n)
		kill(pid, SIGKILL);	/* if it can be: it is stuck */
	for (; i < n; i++) {
		v[i].unknown = 1;
		xasprintf(&v[i].cause, "%s %s: cannot check it or the "
		    "directories above it: no answer within %d seconds (a "
		    "file system that does not answer?)", v[i].what, v[i].path,
		    CFG_TRUST_TIMEOUT);
	}
	close(fds[0]);
}

/*
 * A verdict into errs: at FILE:LINE of the setting if there is one.  A
 * file a tunnel names that could not be checked in time is only warned
 * of: the worker checks it again when it opens it (file.c: FILE_TRUST),
 * and the other tunnels should not wait on it.
 */
static void
cfg_trust_report(struct errlist *errs, struct cfg_trust_req *r, int later)
{
	if (r->cause == NULL)
		return;
	if (r->unknown && later && !r->exec)
		log_warnx("%s:%d: %s%s; checked when it is opened", r->file,
		    r->line, r->prefix, r->cause);
	else if (r->file != NULL)
		errlist_add(errs, r->file, r->line, "%s%s", r->prefix,
		    r->cause);
	else if (errs != NULL) {
		errs->v = xreallocarray(errs->v, errs->n + 1, sizeof *errs->v);
		errs->v[errs->n++] = r->cause;
		r->cause = NULL;
	}
}

static void
cfg_trust_req_clear(struct cfg_trust_req *r)
{
	free(r->path);
	free(r->what);
	free(r->file);
	free(r->prefix);
	free(r->cause);
}

/* WHAT PATH must be trusted, now; 0 or -1 with the error in errs. */
static int
cfg_trust(struct errlist *errs, const char *file, int line,
    const char *prefix, const char *path, const char *what)
{
	struct cfg_trust_req r;
	int rc;

	memset(&r, 0, sizeof r);
	r.path = xstrdup(path);
	r.what = xstrdup(what);
	r.file = file != NULL ? xstrdup(file) : NULL;
	r.line = line;
	r.prefix = xstrdup(prefix);
	cfg_trust_run(&r, 1);
	rc = r.cause == NULL ? 0 : -1;
	cfg_trust_report(errs, &r, 0);
	cfg_trust_req_clear(&r);
	return rc;
}

/* The same, at the end of the load (cfg_trust_flush). */
static void
cfg_trust_later(const char *file, int line, const char *prefix,
    const char *path, const char *what, int secret)
{
	struct cfg_trust_req *r;

	cfg_trust_pending = xreallocarray(cfg_trust_pending,
	    cfg_trust_npending + 1, sizeof *cfg_trust_pending);
	r = &cfg_trust_pending[cfg_trust_npending++];
	memset(r, 0, sizeof *r);
	r->path = xstrdup(path);
	r->what = xstrdup(what);
	r->secret = secret;
	r->file = xstrdup(file);
	r->line = line;
	r->prefix = xstrdup(prefix);
}

/* The same for a program tunneld runs, which must also be executable. */
static void
cfg_trust_program_later(const char *file, int line, const char *prefix,
    const char *path, const char *what)
{
	cfg_trust_later(file, line, prefix, path, what, 0);
	cfg_trust_pending[cfg_trust_npending - 1].exec = 1;
}

static void
cfg_trust_flush(struct errlist *errs)
{
	size_t i;

	cfg_trust_run(cfg_trust_pending, cfg_trust_npending);
	for (i = 0; i < cfg_trust_npending; i++) {
		cfg_trust_report(errs, &cfg_trust_pending[i], 1);
		cfg_trust_req_clear(&cfg_trust_pending[i]);
	}
	free(cfg_trust_pending);
	cfg_trust_pending = NULL;
	cfg_trust_npending = 0;
}

/* Files that @include brought in, each checked once (seen: those done). */
static void
cfg_trust_includes(config_setting_t *g, const char *path, char ***seen,
    size_t *nseen, struct errlist *errs)
{
	config_setting_t *s;
	const char *f;
	size_t j;
	int i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		if ((f = config_setting_source_file(s)) != NULL &&
		    strcmp(f, path) != 0) {
			for (j = 0; j < *nseen; j++) {
				if (strcmp((*seen)[j], f) == 0)
					break;
			}
			if (j == *nseen) {
				*seen = xreallocarray(*seen, *nseen + 1,
				    sizeof **seen);
				(*seen)[(*nseen)++] = xstrdup(f);
				cfg_trust(errs, NULL, 0, "", f,
				    "included file");
			}
		}
		if (config_setting_is_group(s) || config_setting_is_list(s))
			cfg_trust_includes(s, path, seen, nseen, errs);
	}
}

/* Every file of one configuration file (path and what it @includes). */
static void
cfg_trust_file(config_t *cfg, const char *path, struct errlist *errs)
{
	char **seen = NULL;
	size_t nseen = 0, i;

	cfg_trust_includes(config_root_setting(cfg), path, &seen, &nseen,
	    errs);
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

/*
 * The settings of one group into obj: the global ones of the file (the
 * sections defaults and tunnels are left to the caller) or those of
 * defaults or a tunnel.  Every keyword comes from the table.
 */
static void
cfg_settings(config_setting_t *g, enum kw_where where, const char *path,
    struct errlist *errs, void *obj)
{
	struct kw_ctx ctx = { path, errs };
	const struct keyword *kw;
	config_setting_t *s;
	int i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		if ((kw = keyword_find(config_setting_name(s), where)) == NULL)
			CERR(s, "unknown setting \"%s\"",
			    config_setting_name(s));
		else if (kw->type != KW_SECTION)
			keyword_parse(kw, s, &ctx, obj);
	}
}

static void
tunnel_conf_free(struct tunnel_conf *tc)
{
	size_t i;

	if (tc == NULL)
		return;
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_TUNNEL)
			keyword_clear(&keywords[i], tc);
	}
	ssh_resolved_free(tc->resolved);
	free(tc->name);
	free(tc->file);
	free(tc);
}

/* A tunnel's configuration with every built-in default. */
static struct tunnel_conf *
tunnel_conf_builtin(void)
{
	struct tunnel_conf *tc = xcalloc(1, sizeof *tc);
	size_t i;

	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_TUNNEL)
			keyword_default(&keywords[i], tc);
	}
	return tc;
}

static int
cfg_tunnel_name_ok(const char *n)
{
	if (!isalpha((unsigned char)*n))
		return 0;
	for (n++; *n != '\0'; n++) {
		if (!isalnum((unsigned char)*n) && *n != '-' && *n != '_')
			return 0;
	}
	return 1;
}

/* The setting NAME of a tunnel, where it is written (its block, then
 * defaults), else the tunnel's block. */
static config_setting_t *
cfg_where(config_setting_t *t, config_setting_t *dg, const char *name)
{
	config_setting_t *s;

	if ((s = config_setting_get_member(t, name)) == NULL &&
	    (dg == NULL || (s = config_setting_get_member(dg, name)) == NULL))
		s = t;
	return s;
}

/*
 * The files a tunnel names must be trusted (file.c).  SSH: the
 * ssh_config_file only, now, before ssh -G reads it (0 or -1); else the
 * others, which ssh_config may have set, at the end of the load.
 */
static int
cfg_trust_tunnel(config_setting_t *t, config_setting_t *dg, const char *path,
    struct errlist *errs, const struct tunnel_conf *tc, int ssh)
{
	const struct {
		const char	*name;
		const char	*value;
		int		 secret;	/* file.c: read with O_NOFOLLOW */
	} f[] = {
		{ "identity_file", tc->identity_file, 1 },
		{ "certificate_file", tc->certificate_file, 0 },
		{ "known_hosts", tc->known_hosts, 0 },
		{ "password_file", tc->password_file, 1 },
		{ "passphrase_file", tc->passphrase_file, 1 },
	};
	config_setting_t *s;
	char *prefix;
	size_t i;
	int rc = 0;

	xasprintf(&prefix, "tunnel \"%s\": ", tc->name);
	if (ssh) {
		s = cfg_where(t, dg, "ssh_config_file");
		if (tc->ssh_config_file != NULL && cfg_trust(errs,
		    cfg_file(s, path), config_setting_source_line(s), prefix,
		    tc->ssh_config_file, "ssh_config_file") != 0)
			rc = -1;
		free(prefix);
		return rc;
	}
	for (i = 0; i < nitems(f); i++) {
		if (f[i].value == NULL)
			continue;
		s = cfg_where(t, dg, f[i].name);
		cfg_trust_later(cfg_file(s, path),
		    config_setting_source_line(s), prefix, f[i].value,
		    f[i].name, f[i].secret);
	}
	if (tc->on_state != NULL) {
		s = cfg_where(t, dg, "on_state");
		cfg_trust_program_later(cfg_file(s, path),
		    config_setting_source_line(s), prefix, tc->on_state[0],
		    "on_state");
	}
	free(prefix);
	return 0;
}

/*
 * control_socket: the directories above it must be trusted as a
 * configuration's are, since whoever may write them may put a socket of
 * theirs in its place for tunnelctl, or take the name away.
 */
static void
cfg_trust_socket(config_setting_t *root, const char *path,
    const struct config *conf)
{
	config_setting_t *s;

	if (conf->control_socket == NULL ||
	    (s = config_setting_get_member(root, "control_socket")) == NULL)
		return;
	cfg_trust_later(cfg_file(s, path), config_setting_source_line(s), "",
	    conf->control_socket, "control_socket", 0);
}

/* jump: every hop [user@]host[:port], said where it is written. */
static void
cfg_check_jump(config_setting_t *t, config_setting_t *dg, const char *path,
    struct errlist *errs, const struct tunnel_conf *tc)
{
	config_setting_t *s;
	char *cause = NULL;

	if (tc->jump == NULL || hop_check(tc->jump, &cause) == 0)
		return;
	if ((s = config_setting_get_member(t, "jump")) == NULL &&
	    (dg == NULL || (s = config_setting_get_member(dg, "jump")) == NULL))
		s = t;
	CERR(s, "tunnel \"%s\": jump: %s", tc->name, cause);
	free(cause);
}

/* ssh_config = true: host is an alias (ssh_config.c); the tunnel's own
 * settings win. */
static void
cfg_ssh_config(struct tunnel_conf *tc, config_setting_t *t, const char *path,
    struct errlist *errs)
{
	config_setting_t *h = config_setting_get_member(t, "host");
	struct ssh_config_ctx c = { errs, cfg_file(t, path),
	    (int)config_setting_source_line(h != NULL ? h : t), NULL };

	ssh_config_resolve(tc, t, &c);
}

/* The tunnels group of one file (the main one or a drop-in). */
static void
cfg_tunnels(struct config *conf, config_setting_t *tg, config_setting_t *dg,
    const char *path, struct errlist *errs)
{
	struct tunnel_conf *tc;
	config_setting_t *t;
	const char *name;
	int i, n;

	if (!config_setting_is_group(tg)) {
		CERR(tg, "tunnels: expected a group: tunnels = { name = "
		    "{ ... }; };");
		return;
	}
	n = config_setting_length(tg);
	for (i = 0; i < n; i++) {
		t = config_setting_get_elem(tg, i);
		name = config_setting_name(t);
		if (!config_setting_is_group(t)) {
			CERR(t, "tunnel \"%s\": expected a group { ... }",
			    name);
			continue;
		}
		if (!cfg_tunnel_name_ok(name)) {
			CERR(t, "tunnel \"%s\": a name is a letter, then "
			    "letters, digits, '-' or '_'", name);
			continue;
		}
		if ((tc = config_find(conf, name)) != NULL) {
			CERR(t, "tunnel \"%s\" is already defined at %s:%d",
			    name, tc->file, tc->line);
			continue;
		}
		tc = tunnel_conf_builtin();
		tc->name = xstrdup(name);
		tc->file = xstrdup(cfg_file(t, path));
		tc->line = config_setting_source_line(t);
		if (dg != NULL)	/* errors in defaults were reported once */
			cfg_settings(dg, KW_TUNNEL, path, NULL, tc);
		cfg_settings(t, KW_TUNNEL, path, errs, tc);
		if (tc->host == NULL)
			CERR(t, "tunnel \"%s\": host is required", name);
		else if (tc->ssh_config && cfg_trust_tunnel(t, dg, path, errs,
		    tc, 1) == 0)
			cfg_ssh_config(tc, t, path, errs);
		cfg_trust_tunnel(t, dg, path, errs, tc, 0);
		if (tc->reconnect_max < tc->reconnect_min)
			CERR(t, "tunnel \"%s\": reconnect_max (%g) is below "
			    "reconnect_min (%g)", name, tc->reconnect_max,
			    tc->reconnect_min);
		if (tc->probe_interval > 0 &&
		    tc->probe_interval < PROBE_INTERVAL_MIN)
			CERR(cfg_where(t, dg, "probe_interval"), "tunnel \"%s\": "
			    "probe_interval (%g) is below %d s: while a probe is "
			    "out, a connection to the forward is held for its "
			    "first bytes (up to 2 s), and the target is "
			    "connected to", name, tc->probe_interval,
			    PROBE_INTERVAL_MIN);
		if (tc->user == NULL)
			CERR(t, "tunnel \"%s\": no user, and the daemon's own "
			    "user has no name", name);
		cfg_check_jump(t, dg, path, errs, tc);
		conf->tunnels = xreallocarray(conf->tunnels,
		    conf->ntunnels + 1, sizeof *conf->tunnels);
		conf->tunnels[conf->ntunnels++] = tc;
	}
}

/* Two listeners on the same address and port (or path) cannot both work. */
static void
cfg_check_listeners(struct config *conf, struct errlist *errs)
{
	struct tunnel_conf *a, *b;
	struct fwdspec *fa, *fb;
	size_t i, j, k, l;
	char *where;

	for (i = 0; i < conf->ntunnels; i++) {
		a = conf->tunnels[i];
		for (k = 0; k < a->nfwds; k++) {
			fa = &a->fwds[k];
			for (j = i; j < conf->ntunnels; j++) {
				b = conf->tunnels[j];
				for (l = (i == j ? k + 1 : 0); l < b->nfwds;
				    l++) {
					fb = &b->fwds[l];
					/* remote listeners collide only on
					 * the same server: same tunnel */
					if ((fa->kind == FWD_REMOTE ||
					    fa->kind == FWD_REMOTE_DYNAMIC) &&
					    i != j)
						continue;
					if (!fwdspec_listen_conflict(fa, fb))
						continue;
					where = fwdspec_listen_string(
					    &fb->listen);
					errlist_add(errs, fb->file, fb->line,
					    "tunnel \"%s\": %s listener %s "
					    "duplicates \"%s\" of tunnel "
					    "\"%s\" at %s:%d", b->name,
					    fwdspec_kind_name(fb->kind), where,
					    fa->spec, a->name, fa->file,
					    fa->line);
					free(where);
				}
			}
		}
	}
}

/*
 * libconfig 1.5 (Debian 12) leaks the 64-byte string buffer of its lexer
 * when a string stands where a setting's name is expected (a line holding
 * only "x"), and every refused reload of such a file would leak again.
 * So a short-lived child reads each file first: it sends back its verdict
 * and exits with whatever libconfig kept, and the daemon itself reads only
 * a file the child could read.  The child also bounds the time a file may
 * take (a FIFO, a hung file system): the daemon never waits longer.
 */
struct cfg_verdict {
	int	ok;
	int	io;		/* CONFIG_ERR_FILE_IO, with errno in err */
	int	fifo;		/* a pipe: it could be read only once */
	int	err;
	int	line;
	char	file[1024];
	char	text[256];
};

static void __attribute__((noreturn))
cfg_check_child(const char *path, int fd)
{
	struct cfg_verdict v;
	struct stat st;
	config_t cfg;
	size_t off = 0;
	ssize_t n;

	memset(&v, 0, sizeof v);
	config_init(&cfg);
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		v.fifo = 1;
	else if (config_read_file(&cfg, path) == CONFIG_TRUE)
		v.ok = 1;
	else if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
		v.io = 1;
		v.err = errno;
	} else {
		if (config_error_file(&cfg) != NULL)
			snprintf(v.file, sizeof v.file, "%s",
			    config_error_file(&cfg));
		v.line = config_error_line(&cfg);
		snprintf(v.text, sizeof v.text, "%s", config_error_text(&cfg));
	}
	while (off < sizeof v) {
		if ((n = write(fd, (char *)&v + off, sizeof v - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	_exit(0);
}

/* The child's verdict on path; -1 if there is none (no child, timeout). */
static int
cfg_check(const char *path, struct cfg_verdict *v, int *timedout)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	int fds[2];
	double end = mono_now() + CFG_CHECK_TIMEOUT;

	*timedout = 0;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		cfg_child_fds(fds[1], path);
		cfg_check_child(path, fds[1]);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (got < sizeof *v) {
		n = poll(&pfd, 1, (int)((end - mono_now()) * 1000) + 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || mono_now() > end) {
			*timedout = 1;
			kill(pid, SIGKILL);
			break;
		}
		if ((n = read(fds[0], (char *)v + got, sizeof *v - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return got == sizeof *v ? 0 : -1;
}

static int
cfg_read(config_t *cfg, const char *path, struct errlist *errs)
{
	struct cfg_verdict v;
	int timedout;

	if (cfg_check(path, &v, &timedout) == 0 && !v.ok) {
		if (v.fifo)
			errlist_add(errs, path, 0, "is a pipe: tunneld reads "
			    "its configuration twice (a child checks it "
			    "first); write it to a file");
		else if (v.io)
			errlist_add(errs, path, 0, "cannot read: %s",
			    strerror(v.err));
		else
			errlist_add(errs, v.file[0] != '\0' ? v.file : path,
			    v.line, "%s", v.text);
		return -1;
	}
	if (timedout) {
		errlist_add(errs, path, 0, "cannot read: no end of file after "
		    "%d seconds", CFG_CHECK_TIMEOUT);
		return -1;
	}
	config_init(cfg);
	if (config_read_file(cfg, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		errlist_add(errs, path, 0, "cannot read: %s", strerror(errno));
	else
		errlist_add(errs, config_error_file(cfg) != NULL ?
		    config_error_file(cfg) : path, config_error_line(cfg),
		    "%s", config_error_text(cfg));
	config_destroy(cfg);
	return -1;
}

static int
cfg_dropin_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".conf") == 0;
}

/*
 * Every *.conf of include_dir, in name order, may add tunnels.  An
 * include_dir (written at INC) or a drop-in that is not trusted is not
 * read; every drop-in is still checked, so that all are reported.
 */
static void
cfg_dropins(struct config *conf, config_setting_t *dg, config_setting_t *inc,
    const char *main_path, struct errlist *errs)
{
	struct dirent **ents;
	config_setting_t *root, *s;
	config_t cfg;
	char *path;
	int i, j, n, trusted;

	trusted = cfg_trust(errs, inc != NULL ? cfg_file(inc, main_path) :
	    main_path, inc != NULL ? config_setting_source_line(inc) : 0, "",
	    conf->include_dir, "include_dir") == 0;
	n = scandir(conf->include_dir, &ents, cfg_dropin_filter, alphasort);
	if (n == -1) {
		if (errno != ENOENT)
			errlist_add(errs, conf->include_dir, 0,
			    "cannot read directory: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", conf->include_dir, ents[i]->d_name);
		if (cfg_trust(errs, NULL, 0, "", path, "drop-in") == 0 &&
		    trusted && cfg_read(&cfg, path, errs) == 0) {
			cfg_trust_file(&cfg, path, errs);
			root = config_root_setting(&cfg);
			for (j = 0; j < config_setting_length(root); j++) {
				s = config_setting_get_elem(root, j);
				if (strcmp(config_setting_name(s),
				    "tunnels") == 0)
					cfg_tunnels(conf, s, dg, path, errs);
				else
					CERR(s, "only \"tunnels\" may be set "
					    "in a drop-in file");
			}
			config_destroy(&cfg);
		}
		free(path);
		free(ents[i]);
	}
	free(ents);
}

struct config *
config_load(const char *path, struct errlist *errs)
{
	struct config *conf;
	config_setting_t *root, *dg, *tg;
	struct tunnel_conf *scratch;
	config_t cfg;
	size_t before = errs->n, i;

	if (cfg_trust(errs, NULL, 0, "", path, "configuration file") != 0 ||
	    cfg_read(&cfg, path, errs) != 0)
		return NULL;
	cfg_trust_file(&cfg, path, errs);
	conf = xcalloc(1, sizeof *conf);
	conf->file = xstrdup(path);
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_GLOBAL)
			keyword_default(&keywords[i], conf);
	}
	root = config_root_setting(&cfg);
	cfg_settings(root, KW_GLOBAL, path, errs, conf);
	dg = config_setting_get_member(root, "defaults");
	tg = config_setting_get_member(root, "tunnels");
	if (dg != NULL && !config_setting_is_group(dg)) {
		CERR(dg, "defaults: expected a group { ... }");
		dg = NULL;
	}
	if (dg != NULL) {
		scratch = tunnel_conf_builtin();
		cfg_settings(dg, KW_TUNNEL, path, errs, scratch);
		tunnel_conf_free(scratch);
	}
	if (tg != NULL)
		cfg_tunnels(conf, tg, dg, path, errs);
	if (conf->include_dir != NULL)
		cfg_dropins(conf, dg, config_setting_get_member(root,
		    "include_dir"), path, errs);
	cfg_check_listeners(conf, errs);
	cfg_trust_socket(root, path, conf);
	cfg_trust_flush(errs);
	config_destroy(&cfg);

	if (errs->n != before) {
		config_free(conf);
		return NULL;
	}
	return conf;
}

void
config_free(struct config *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->ntunnels; i++)
		tunnel_conf_free(conf->tunnels[i]);
	free(conf->tunnels);
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_GLOBAL)
			keyword_clear(&keywords[i], conf);
	}
	free(conf->file);
	free(conf);
}

struct tunnel_conf *
config_find(struct config *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->ntunnels; i++) {
		if (strcmp(conf->tunnels[i]->name, name) == 0)
			return conf->tunnels[i];
	}
	return NULL;
}

/* The same forward, as written? */
int
fwdspec_same(const struct fwdspec *a, const struct fwdspec *b)
{
	return a->kind == b->kind && strcmp(a->spec, b->spec) == 0;
}

/*
 * forward.c - one entry of a tunnel's local/remote/dynamic lists at run time:
 * its state (changed by forward_set_state()), its statistics and, for the
 * kinds that listen on this machine (local, dynamic), its listening
 * sockets.  Listeners belong to the tunnel,
 * not to a session: they stay bound while the session is re-established.
 * The remote kinds listen on the server: forward_remote.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunnel.h"

#define LISTEN_BACKLOG	128

const char *
forward_state_name(enum forward_state st)
{
	switch (st) {
	case FS_PENDING:
		return "pending";
	case FS_UP:
		return "up";
	case FS_FAILED:
		return "failed";
	}
	return "unknown";
}

struct forward *
forward_new(struct tunnel *t, const struct fwdspec *spec)
{
	struct forward *f = xcalloc(1, sizeof *f);

	f->tunnel = t;
	f->spec = spec;		/* f->state: FS_PENDING, zero */
	return f;
}

/*
 * The one place that changes a forward's state.  The change is logged, and
 * the tunnel, whose state follows its forwards', is told
 * (tunnel_forward_changed()) - unless it is changing several of them at
 * once and hears of them together afterwards (tunnel_forwards_batch_begin()).
 * The error that goes with the new state is set first (forward_set_error()):
 * the tunnel reads it.
 */
void
forward_set_state(struct forward *f, enum forward_state st, const char *why)
{
	enum forward_state old = f->state;

	if (st == old)
		return;
	f->state = st;
	log_forward(f, LOG_LVL_DEBUG, "%s forward \"%s\": %s -> %s%s%s%s",
	    fwdspec_kind_name(f->spec->kind), f->spec->spec,
	    forward_state_name(old), forward_state_name(st), why ? " (" : "",
	    why ? why : "", why ? ")" : "");
	if (f->tunnel->fwd_batch == 0)
		tunnel_forward_changed(f->tunnel);
}

void
forward_set_error(struct forward *f, const char *error)
{
	free(f->last_error);
	f->last_error = error != NULL ? xstrdup(error) : NULL;
}

int
forward_is_remote(const struct forward *f)
{
	return f->spec->kind == FWD_REMOTE || f->spec->kind == FWD_REMOTE_DYNAMIC;
}

void
forward_fail(struct forward *f, const char *error)
{
	if (f->state != FS_FAILED || f->last_error == NULL ||
	    strcmp(f->last_error, error) != 0)
		log_forward(f, LOG_LVL_WARNING, "%s forward \"%s\": %s",
		    fwdspec_kind_name(f->spec->kind), f->spec->spec, error);
	forward_set_error(f, error);
	forward_set_state(f, FS_FAILED, error);
}

#define ACCEPT_BURST	64	/* connections taken per wake-up */

static void
forward_who(struct forward *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s: accept on %s", f->tunnel->conf->name,
	    f->listen_str != NULL ? f->listen_str : f->spec->spec);
}

/* The pause is over: listen again, unless the forwards' share of the
 * descriptors is still used up (budget.c). */
static void
forward_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward *f = arg;
	char who[512];
	size_t i;

	if (f->nlfds == 0)
		return;
	if (!budget_fd_room()) {
		forward_who(f, who, sizeof who);
		listen_pause_start(&f->pause, who, "the descriptors left are "
		    "kept for the control socket and the sessions");
		return;
	}
	for (i = 0; i < f->nlfds; i++)
		event_add(f->levs[i], NULL);
}

/* Out of descriptors: stop accepting for a while instead of spinning. */
static void
forward_pause(struct forward *f, const char *why)
{
	char who[512];
	size_t i;

	for (i = 0; i < f->nlfds; i++)
		event_del(f->levs[i]);
	if (f->pause.timer == NULL)
		listen_pause_init(&f->pause, tunnel_base(f->tunnel),
		    forward_resume_cb, f);
	forward_who(f, who, sizeof who);
	listen_pause_start(&f->pause, who, why);
}

/* Connections a forward holds: forwarded, and waiting for a session (the
 * tunnel's, or an extra one being set up: tunnel_sessions.c). */
static unsigned
forward_connections(const struct forward *f)
{
	return f->counters.connections + f->nwaiters;
}

/* NULL if f may take one more connection; otherwise the budget it is
 * over, by the name of its setting. */
const char *
forward_over_budget(struct forward *f)
{
	const struct tunnel *t = f->tunnel;
	unsigned n = 0;
	size_t i;

	if (forward_connections(f) >=
	    (unsigned)t->conf->max_forward_connections)
		return "max_forward_connections";
	for (i = 0; i < t->nfwds; i++)
		n += forward_connections(t->fwds[i]);
	if (n >= (unsigned)t->conf->max_connections)
		return "max_connections";
	return NULL;
}

/* A connection refused at once for a budget: counted, for the forward
 * and its tunnel (status "refused"), and logged (log.c folds repeats). */
void
forward_refused(struct forward *f, const char *host, int port,
    const char *why)
{
	f->refused++;
	f->tunnel->refused++;
	log_forward(f, LOG_LVL_NOTICE, "%s forward \"%s\": connection from "
	    "%s:%d refused: %s", fwdspec_kind_name(f->spec->kind),
	    f->spec->spec, host, port, why);
}

static void
forward_peer(const struct sockaddr_storage *ss, char *host, size_t len,
    int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)len);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)len);
		*port = ntohs(sin6->sin6_port);
	} else {	/* a UNIX socket client, as OpenSSH reports it */
		snprintf(host, len, "127.0.0.1");
		*port = 0;
	}
}

/* A connection, on the session chosen for it. */
void
forward_serve(struct forward *f, struct session *s, int fd, const char *host,
    int port)
{
	if (f->spec->kind == FWD_DYNAMIC)
		forward_dynamic_accepted(f, s, fd, host, port);
	else
		forward_local_accepted(f, s, fd, host, port);
}

/* The session is up: serve the connections that waited for it. */
void
forward_session_up(struct forward *f)
{
	tunnel_sessions_serve_waiting(f);
}

static void
forward_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct forward *f = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	const char *why;
	int fd, port, i;

	memset(&ss, 0, sizeof ss);	/* what accept4() leaves, defined */
	for (i = 0; i < ACCEPT_BURST; i++) {
		len = sizeof ss;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (budget_accept_exhausted(errno))
				forward_pause(f, strerror(errno));
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_forward(f, LOG_LVL_WARNING,
				    "accept on %s: %s", f->listen_str,
				    strerror(errno));
			return;
		}
		forward_peer(&ss, host, sizeof host, &port);
		if (budget_fd_over(fd)) {
			close(fd);
			forward_refused(f, host, port, "out of descriptors "
			    "for forwarded connections");
			forward_pause(f, "the descriptors left are kept for "
			    "the control socket and the sessions");
			return;
		}
		listen_pause_ok(&f->pause);
		if ((why = forward_over_budget(f)) != NULL) {
			close(fd);
			forward_refused(f, host, port, why);
			continue;
		}
		tunnel_sessions_accept(f, fd, host, port);
	}
}

static void
forward_add_listener(struct forward *f, int fd)
{
	struct event *ev;

	ev = event_new(tunnel_base(f->tunnel), fd, EV_READ | EV_PERSIST,
	    forward_accept_cb, f);
	event_add(ev, NULL);
	f->lfds = xreallocarray(f->lfds, f->nlfds + 1, sizeof *f->lfds);
	f->levs = xreallocarray(f->levs, f->nlfds + 1, sizeof *f->levs);
	f->lfds[f->nlfds] = fd;
	f->levs[f->nlfds] = ev;
	f->nlfds++;
}

static void
forward_listen_str_add(struct forward *f, const char *s)
{
	char *n;

	if (f->listen_str == NULL) {
		f->listen_str = xstrdup(s);
		return;
	}
	xasprintf(&n, "%s,%s", f->listen_str, s);
	free(f->listen_str);
	f->listen_str = n;
}

/* "127.0.0.1:9107", "[::1]:9107" */
static void
forward_addr_str(int family, const char *addr, int port, char *buf,
    size_t len)
{
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr,
	    port);
}

/* Bind one TCP address; 0 or -1 with errno. */
static int
forward_bind_tcp(struct forward *f, int family, const char *addr, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char buf[INET6_ADDRSTRLEN + 16];
	int fd, one = 1, e;

	memset(&ss, 0, sizeof ss);
	forward_addr_str(family, addr, port, buf, sizeof buf);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof *sin;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof *sin6;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		e = errno;
		close(fd);
		log_forward(f, LOG_LVL_DEBUG, "listen on %s: %s", buf,
		    strerror(e));
		return errno = e, -1;
	}
	forward_add_listener(f, fd);
	forward_listen_str_add(f, buf);
	return 0;
}

/*
 * A UNIX socket listener, as OpenSSH's StreamLocalBindMask 0177 (mode 0600)
 * with stale sockets replaced: a socket file nobody answers on is removed,
 * a live one is never taken over.
 */
static int
forward_bind_unix(struct forward *f, const char *path, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, probe, e;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			xasprintf(cause, "cannot listen on %s: a file that is "
			    "not a socket is in the way", path);
			return -1;
		}
		/* non-blocking: a listener that never accepts, its backlog
		 * full, must not block the worker (EAGAIN: it is alive) */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (probe != -1 && (connect(probe, (struct sockaddr *)&sun,
		    sizeof sun) == 0 || errno == EAGAIN ||
		    errno == EINPROGRESS)) {
			close(probe);
			xasprintf(cause, "cannot listen on %s: another "
			    "program is listening there", path);
			return -1;
		}
		if (probe != -1)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	forward_add_listener(f, fd);
	forward_listen_str_add(f, path);
	return 0;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	xasprintf(cause, "cannot listen on %s: %s", path, strerror(e));
	return -1;
}

/* Close the listening sockets (not the connections they accepted). */
static void
forward_unlisten(struct forward *f)
{
	size_t i;

	for (i = 0; i < f->nlfds; i++) {
		event_free(f->levs[i]);
		close(f->lfds[i]);
		if (f->spec->listen.path != NULL && i == 0)
			unlink(f->spec->listen.path);
	}
	free(f->lfds);
	free(f->levs);
	f->lfds = NULL;
	f->levs = NULL;
	f->nlfds = 0;
}

/*
 * Every address of the listen name, or none: a forward that listens on
 * [::1]:P while another program holds 127.0.0.1:P would send the clients of
 * 127.0.0.1 to that program, and must not be called up (ssh only warns).
 * The one exception is an address family the host does not have (IPv6
 * disabled): "localhost" and "*" then mean the IPv4 address alone.
 */
static int
forward_bind(struct forward *f, char **cause)
{
	const struct fwd_addr *a = &f->spec->listen;
	const char *h = a->host, *addrs[2];
	char where[INET6_ADDRSTRLEN + 16];
	int families[2], e = 0, failed = -1, bound = 0, port = a->port;
	size_t i, n = 2;

	if (a->path != NULL)
		return forward_bind_unix(f, a->path, cause);
	families[0] = AF_INET;
	families[1] = AF_INET6;
	if (h == NULL || strcmp(h, "localhost") == 0) {
		addrs[0] = "127.0.0.1";
		addrs[1] = "::1";
	} else if (fwdspec_bind_is_wildcard(h)) {
		addrs[0] = "0.0.0.0";
		addrs[1] = "::";
	} else {
		addrs[0] = h;
		families[0] = strchr(h, ':') != NULL ? AF_INET6 : AF_INET;
		n = 1;
	}
	for (i = 0; i < n && failed == -1; i++) {
		if (forward_bind_tcp(f, families[i], addrs[i], port) == 0)
			bound++;
		else if (n > 1 && (errno == EAFNOSUPPORT ||
		    errno == EADDRNOTAVAIL) && families[i] == AF_INET6)
			log_forward(f, LOG_LVL_DEBUG, "no IPv6 here: not "
			    "listening on [%s]:%d", addrs[i], port);
		else {
			e = errno;
			failed = (int)i;
		}
	}
	if (failed == -1 && bound > 0)
		return 0;
	if (failed == -1) {		/* no address of any family */
		failed = 0;
		e = EADDRNOTAVAIL;
	}
	forward_unlisten(f);
	free(f->listen_str);
	f->listen_str = NULL;
	forward_addr_str(families[failed], addrs[failed], port, where,
	    sizeof where);
	xasprintf(cause, "cannot listen on %s: %s%s", where, strerror(e),
	    n > 1 ? " (a forward listens on every address of its name or on "
	    "none; tried again later)" : "");
	return -1;
}

/*
 * Start: listen here (local, dynamic), or ask the server to listen (remote
 * kinds, once the session is up).  0, or -1: the forward failed.
 */
int
forward_start(struct forward *f)
{
	char *cause = NULL;

	if (forward_is_remote(f)) {
		forward_remote_request(f);
		return 0;
	}
	if (f->nlfds > 0)
		return 0;
	if (forward_bind(f, &cause) != 0) {
		forward_fail(f, cause);
		free(cause);
		return -1;
	}
	forward_set_error(f, NULL);
	forward_set_state(f, session_is_established(f->tunnel->session) ?
	    FS_UP : FS_PENDING, "listening");
	log_forward(f, LOG_LVL_INFO, "listening on %s for %s", f->listen_str,
	    f->spec->spec);
	return 0;
}

/* Close the listeners; connections already accepted go on, those waiting
 * for a session are closed. */
void
forward_stop(struct forward *f)
{
	tunnel_sessions_unwait(f);
	forward_unlisten(f);
	listen_pause_clear(&f->pause);
	if (forward_is_remote(f)) {
		forward_remote_session_lost(f);
		return;
	}
	free(f->listen_str);
	f->listen_str = NULL;
	if (f->state != FS_FAILED)
		forward_set_state(f, FS_PENDING, "stopped");
}

void
forward_free(struct forward *f)
{
	tunnel_sessions_forget(f->tunnel, f);
	forward_stop(f);
	forward_probe_free(f);
	if (f->retry_timer != NULL)
		event_free(f->retry_timer);
	free(f->listen_str);
	free(f->server_note);
	free(f->last_error);
	free(f);
}

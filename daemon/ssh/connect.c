/*
 * connect.c - outbound connections: the session's own to its server, and
 * for remote (-R) and reverse dynamic forwards.  Resolve the name with
 * evdns, then non-blocking connect()s racing as RFC 8305 (happy eyeballs)
 * has them: the addresses with the families interleaved, the next one
 * started CONNECT_STAGGER after the last while it is still trying (at once
 * when it fails), the first to connect wins and the others are closed; the
 * whole within the caller's timeout.  A blackholed first address (broken
 * IPv6) then costs 250 ms, not all of the timeout.  Or connect to a UNIX
 * socket path.  Or, for a session behind an upstream proxy
 * (connector_start_via), connect to the proxy so, then have proxy.c ask it
 * for the server.  Nothing here ever blocks the loop.
 *
 * The callback runs exactly once, never from inside connector_start(), and
 * the connector frees itself after it; connector_cancel() before that
 * guarantees it will not run.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/util.h>

#include "base/base.h"
#include "ssh.h"

#define CONNECT_STAGGER	0.25	/* RFC 8305's Connection Attempt Delay */

/* One connect() in flight. */
struct attempt {
	struct connector	*k;
	int			 fd;		/* -1: over */
	struct event		*ev;
	char			 addr[INET6_ADDRSTRLEN + 8];
};

struct connector {
	struct event_base	*base;
	connector_cb		 cb;
	void			*arg;
	char			*host;
	char			*path;
	int			 resolving;
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo	*ai;
	struct evutil_addrinfo	**order;	/* families interleaved */
	struct attempt		*att;		/* one per address */
	size_t			 naddrs, next;
	unsigned		 running;
	int			 fd;
	int			 error;		/* errno; -1: name unknown */
	char			*why;
	const char		*addr;		/* the latest attempt's */
	struct event		*ev_stagger;	/* the next address's turn */
	struct event		*ev_done;	/* deferred callback */
	struct event		*ev_timeout;
	struct proxy_url	 via;		/* via.host: through a proxy */
	char			*via_host;	/* what to ask it for */
	int			 via_port;
	struct proxy_talk	*talk;		/* asking it */
	int			 talked;
	char			 via_addr[INET6_ADDRSTRLEN + 32];
};

static void
connector_attempt_close(struct attempt *a)
{
	if (a->ev != NULL) {
		event_free(a->ev);
		a->ev = NULL;
	}
	if (a->fd != -1) {
		close(a->fd);
		a->fd = -1;
		a->k->running--;
	}
}

static void
connector_attempts_close(struct connector *k)
{
	size_t i;

	for (i = 0; i < k->next; i++)
		connector_attempt_close(&k->att[i]);
}

static void
connector_free(struct connector *k)
{
	if (k->dns_req != NULL)
		evdns_getaddrinfo_cancel(k->dns_req);
	connector_attempts_close(k);
	if (k->ai != NULL)
		evutil_freeaddrinfo(k->ai);
	if (k->fd != -1)
		close(k->fd);
	event_free(k->ev_stagger);
	event_free(k->ev_done);
	event_free(k->ev_timeout);
	free(k->order);
	free(k->att);
	free(k->host);
	free(k->path);
	free(k->why);
	proxy_talk_free(k->talk);
	proxy_url_clear(&k->via);
	free(k->via_host);
	free(k);
}

static int connector_via(struct connector *);

static void
connector_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connector *k = arg;
	int cfd = k->fd;

	if (k->via.host != NULL && connector_via(k))
		return;
	k->fd = -1;	/* handed over */
	k->cb(cfd, k->error, cfd == -1 ? k->why : NULL, k->arg);
	connector_free(k);
}

/* Finish: k->fd >= 0 on success, else error (errno or -1) and why. */
static void
connector_finish(struct connector *k, int error, const char *fmt, ...)
{
	va_list ap;

	connector_attempts_close(k);
	event_del(k->ev_stagger);
	event_del(k->ev_timeout);
	k->error = error;
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&k->why, fmt, ap) == -1)
			k->why = NULL;
		va_end(ap);
	}
	event_active(k->ev_done, 0, 0);
}

static void connector_next(struct connector *);

/* An attempt's connect() finished: the winner, or on to the next address
 * at once. */
static void
connector_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct attempt *a = arg;
	struct connector *k = a->k;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		log_debug("%s: connected to %s (address %zu of %zu)", k->host,
		    a->addr, (size_t)(a - k->att) + 1, k->naddrs);
		k->fd = a->fd;
		a->fd = -1;
		k->running--;
		k->addr = a->addr;
		connector_finish(k, 0, NULL);
		return;
	}
	log_debug("%s: connect to %s: %s", k->host, a->addr, strerror(err));
	k->error = err;
	connector_attempt_close(a);
	event_del(k->ev_stagger);
	connector_next(k);
}

static void
connector_stagger_cb(evutil_socket_t fd, short what, void *arg)
{
	connector_next(arg);
}

static void
connector_addr_string(const struct sockaddr *sa, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof h);
		snprintf(buf, len, "[%s]:%d", h, ntohs(sin6->sin6_port));
	} else {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, h, sizeof h);
		snprintf(buf, len, "%s:%d", h, ntohs(sin->sin_port));
	}
}

/* Start a connect() to the next address; 1 if one is in flight (or won). */
static int
connector_attempt(struct connector *k)
{
	struct evutil_addrinfo *ai = k->order[k->next];
	struct attempt *a = &k->att[k->next++];
	int one = 1;

	a->k = k;
	connector_addr_string(ai->ai_addr, a->addr, sizeof a->addr);
	k->addr = a->addr;
	a->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (a->fd == -1) {
		k->error = errno;
		return 0;
	}
	k->running++;
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(a->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    errno == EINPROGRESS) {
		/* writable when done, at once for a connect() that was */
		a->ev = event_new(k->base, a->fd, EV_WRITE, connector_write_cb,
		    a);
		event_add(a->ev, NULL);
		return 1;
	}
	k->error = errno;
	log_debug("%s: connect to %s: %s", k->host, a->addr,
	    strerror(k->error));
	connector_attempt_close(a);
	return 0;
}

/* The next address's turn: start it (and past any that fail at once),
 * then give it CONNECT_STAGGER before the one after. */
static void
connector_next(struct connector *k)
{
	while (k->next < k->naddrs) {
		if (connector_attempt(k)) {
			if (k->next < k->naddrs)
				timer_add_secs(k->ev_stagger, CONNECT_STAGGER);
			return;
		}
	}
	if (k->running == 0)
		connector_finish(k, k->error, "%s", strerror(k->error));
}

/* RFC 8305 section 4: alternate the families, the first one's first. */
static void
connector_order(struct connector *k)
{
	struct evutil_addrinfo *ai, *a, *b;
	int first;
	size_t n = 0;

	for (ai = k->ai; ai != NULL; ai = ai->ai_next)
		n++;
	k->order = xcalloc(n + 1, sizeof *k->order);
	k->att = xcalloc(n + 1, sizeof *k->att);
	k->naddrs = n;
	if (n == 0)
		return;
	first = k->ai->ai_family;
	a = k->ai;	/* the next of the first family */
	b = k->ai;	/* the next of the others */
	n = 0;
	while (n < k->naddrs) {
		while (a != NULL && a->ai_family != first)
			a = a->ai_next;
		if (a != NULL) {
			k->order[n++] = a;
			a = a->ai_next;
		}
		while (b != NULL && b->ai_family == first)
			b = b->ai_next;
		if (b != NULL) {
			k->order[n++] = b;
			b = b->ai_next;
		}
	}
}

static void
connector_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct connector *k = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;
	k->dns_req = NULL;
	k->resolving = 0;
	if (result != 0) {
		connector_finish(k, -1, "cannot resolve %s: %s", k->host,
		    evutil_gai_strerror(result));
		return;
	}
	k->ai = res;
	connector_order(k);
	k->error = ECONNREFUSED;
	connector_next(k);
}

static void
connector_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connector *k = arg;

	if (k->dns_req != NULL) {
		evdns_getaddrinfo_cancel(k->dns_req);
		k->dns_req = NULL;
	}
	connector_finish(k, ETIMEDOUT, "%s", strerror(ETIMEDOUT));
}

static void
connector_unix(struct connector *k)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (bstrcpy(sun.sun_path, k->path, sizeof sun.sun_path) != 0) {
		/* fwdspec.c refuses such a path: cannot happen */
		k->error = ENAMETOOLONG;
		connector_finish(k, k->error, "%s: %s", k->path,
		    strerror(k->error));
		return;
	}
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd != -1 && connect(k->fd, (struct sockaddr *)&sun,
	    sizeof sun) == 0) {
		connector_finish(k, 0, NULL);
		return;
	}
	k->error = errno;
	if (k->fd != -1) {
		close(k->fd);
		k->fd = -1;
	}
	/* EAGAIN: the listener's backlog is full; as good as refused */
	connector_finish(k, k->error, "%s: %s", k->path, strerror(k->error));
}

/*
 * Connect to host:port, or path; cb(fd, error, why, arg) once done.  A
 * timeout of 0: the caller's own timer bounds it.  ai_flags for the
 * resolver (EVUTIL_AI_ADDRCONFIG).
 */
struct connector *
connector_start(struct event_base *base, struct evdns_base *dns,
    const char *host, int port, const char *path, double timeout,
    int ai_flags, connector_cb cb, void *arg)
{
	struct connector *k = xcalloc(1, sizeof *k);
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	char serv[16], *cause;

	k->base = base;
	k->cb = cb;
	k->arg = arg;
	k->fd = -1;
	k->ev_done = event_new(base, -1, 0, connector_done_cb, k);
	k->ev_timeout = evtimer_new(base, connector_timeout_cb, k);
	k->ev_stagger = evtimer_new(base, connector_stagger_cb, k);
	if (timeout > 0)
		timer_add_secs(k->ev_timeout, timeout);
	if (path != NULL) {
		k->path = xstrdup(path);
		connector_unix(k);
		return k;
	}
	k->host = xstrdup(host);
	if (host_name_check(host, &cause) != 0) {	/* the check's too */
		connector_finish(k, -1, "%s", cause);
		free(cause);
		return k;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = ai_flags;
	snprintf(serv, sizeof serv, "%d", port);
	/* evdns may answer at once (numeric addresses, /etc/hosts): then
	 * the callback has run and the request is NULL */
	k->resolving = 1;
	req = evdns_getaddrinfo(dns, host, serv, &hints, connector_dns_cb, k);
	if (k->resolving)
		k->dns_req = req;
	return k;
}

void
connector_cancel(struct connector *k)
{
	if (k != NULL)
		connector_free(k);
}

/* --- through a proxy ---------------------------------------------------- */

/* proxy.c is done: the connection through the proxy is open, or not. */
static void
connector_via_cb(int error, const char *why, void *arg)
{
	struct connector *k = arg;

	k->talked = 1;
	if (error != 0) {
		close(k->fd);
		k->fd = -1;
		connector_finish(k, error, "%s", why);
		return;
	}
	event_active(k->ev_done, 0, 0);
}

/* From connector_done_cb(): 1 if the proxy is still to be asked (and is
 * being asked now), 0 when the caller is to be told. */
static int
connector_via(struct connector *k)
{
	char *why;

	if (k->talked)
		return 0;
	if (k->fd == -1) {	/* the proxy itself cannot be reached */
		if (k->error == -1)	/* its name: why says so */
			xasprintf(&why, "%s: %s", proxy_kind_name(k->via.kind),
			    k->why != NULL ? k->why : "");
		else
			xasprintf(&why, "%s %s: %s",
			    proxy_kind_name(k->via.kind), k->addr != NULL ?
			    k->addr : k->via.host, k->why != NULL ? k->why :
			    "");
		free(k->why);
		k->why = why;
		return 0;
	}
	k->talk = proxy_talk_start(k->base, k->fd, k->via.kind,
	    k->addr, k->via_host, k->via_port, connector_via_cb,
	    k);
	return 1;
}

/*
 * Connect to host:port through proxy ("http://..." or "socks5://...",
 * checked by the configuration), or straight there if proxy is NULL.
 * The caller's own timer bounds it.  connector_address() names the proxy.
 */
struct connector *
connector_start_via(struct event_base *base, struct evdns_base *dns,
    const char *proxy, const char *host, int port, int ai_flags,
    connector_cb cb, void *arg)
{
	struct proxy_url u;
	struct connector *k;
	char *cause;

	if (proxy == NULL)
		return connector_start(base, dns, host, port, NULL, 0,
		    ai_flags, cb, arg);
	if (proxy_parse(proxy, &u, &cause) != 0) {
		/* the configuration checked it: cannot happen */
		k = connector_start(base, dns, NULL, 0, "/", 0, 0, cb, arg);
		free(k->why);
		xasprintf(&k->why, "proxy %s", cause);
		free(cause);
		return k;
	}
	k = connector_start(base, dns, u.host, u.port, NULL, 0, ai_flags, cb,
	    arg);
	k->via = u;
	k->via_host = xstrdup(host);
	k->via_port = port;
	return k;
}

/* Still waiting for the name's addresses? */
int
connector_resolving(struct connector *k)
{
	return k->resolving;
}

/* The address tried last (or connected to), for messages; or NULL. */
const char *
connector_address(struct connector *k)
{
	if (k->via.host == NULL || k->addr == NULL)
		return k->addr;
	snprintf(k->via_addr, sizeof k->via_addr, "%s %s",
	    proxy_kind_name(k->via.kind), k->addr);
	return k->via_addr;
}

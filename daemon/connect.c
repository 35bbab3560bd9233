/*
 * connect.c - outbound connections from this machine, for remote (-R) and
 * reverse dynamic forwards: resolve the name with evdns, then a
 * non-blocking connect() to each address in turn; or connect to a UNIX
 * socket path.  Nothing here ever blocks the loop.
 *
 * The callback runs exactly once, never from inside connector_start(), and
 * the connector frees itself after it; connector_cancel() before that
 * guarantees it will not run.
 */
#include "config.h"

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

#include "tunneld.h"

struct connector {
	struct event_base	*base;
	connector_cb		 cb;
	void			*arg;
	char			*host;
	char			*path;
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo	*ai, *ai_cur;
	int			 fd;
	int			 error;		/* errno; -1: name unknown */
	char			*why;
	struct event		*ev_write;	/* connect() finished */
	struct event		*ev_done;	/* deferred callback */
	struct event		*ev_timeout;
};

static void
connector_free(struct connector *k)
{
	if (k->dns_req != NULL)
		evdns_getaddrinfo_cancel(k->dns_req);
	if (k->ai != NULL)
		evutil_freeaddrinfo(k->ai);
	if (k->fd != -1)
		close(k->fd);
	if (k->ev_write != NULL)
		event_free(k->ev_write);
	event_free(k->ev_done);
	event_free(k->ev_timeout);
	free(k->host);
	free(k->path);
	free(k->why);
	free(k);
}

static void
connector_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connector *k = arg;
	int cfd = k->fd;

	k->fd = -1;	/* handed over */
	k->cb(cfd, k->error, cfd == -1 ? k->why : NULL, k->arg);
	connector_free(k);
}

/* Finish: fd >= 0 on success, else error (errno or -1) and why. */
static void
connector_finish(struct connector *k, int error, const char *fmt, ...)
{
	va_list ap;

	if (k->ev_write != NULL)
		event_del(k->ev_write);
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

static void
connector_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connector *k = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		connector_finish(k, 0, NULL);
		return;
	}
	k->error = err;
	event_free(k->ev_write);
	k->ev_write = NULL;
	close(k->fd);
	k->fd = -1;
	k->ai_cur = k->ai_cur->ai_next;
	connector_next(k);
}

/* Try the addresses from ai_cur on. */
static void
connector_next(struct connector *k)
{
	struct evutil_addrinfo *ai;
	int one = 1;

	for (ai = k->ai_cur; ai != NULL; ai = ai->ai_next) {
		k->ai_cur = ai;
		k->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (k->fd == -1) {
			k->error = errno;
			continue;
		}
		setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(k->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			k->ev_write = event_new(k->base, k->fd, EV_WRITE,
			    connector_write_cb, k);
			event_add(k->ev_write, NULL);
			return;
		}
		k->error = errno;
		close(k->fd);
		k->fd = -1;
	}
	connector_finish(k, k->error, "%s", strerror(k->error));
}

static void
connector_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct connector *k = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;
	k->dns_req = NULL;
	if (result != 0) {
		connector_finish(k, -1, "cannot resolve %s: %s", k->host,
		    evutil_gai_strerror(result));
		return;
	}
	k->ai = k->ai_cur = res;
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
	if (k->fd != -1) {
		close(k->fd);
		k->fd = -1;
	}
	connector_finish(k, ETIMEDOUT, "%s", strerror(ETIMEDOUT));
}

static void
connector_unix(struct connector *k)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", k->path);
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

struct connector *
connector_start(struct event_base *base, struct evdns_base *dns,
    const char *host, int port, const char *path, double timeout,
    connector_cb cb, void *arg)
{
	struct connector *k = xcalloc(1, sizeof *k);
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	char serv[16];

	k->base = base;
	k->cb = cb;
	k->arg = arg;
	k->fd = -1;
	k->ev_done = event_new(base, -1, 0, connector_done_cb, k);
	k->ev_timeout = evtimer_new(base, connector_timeout_cb, k);
	timer_add_secs(k->ev_timeout, timeout);
	if (path != NULL) {
		k->path = xstrdup(path);
		connector_unix(k);
		return k;
	}
	k->host = xstrdup(host);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(serv, sizeof serv, "%d", port);
	/* evdns may answer at once (numeric addresses, /etc/hosts): then
	 * the callback has run and the request is NULL */
	req = evdns_getaddrinfo(dns, host, serv, &hints, connector_dns_cb, k);
	k->dns_req = req;
	return k;
}

void
connector_cancel(struct connector *k)
{
	if (k != NULL)
		connector_free(k);
}

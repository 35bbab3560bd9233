/*
 * forward_local.c - local forwards (ssh -L): every connection accepted on a
 * listener becomes a direct-tcpip (or direct-streamlocal) channel opened
 * from the server to the forward's target.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunneld.h"

#define ACCEPT_BURST	64	/* connections taken per wake-up */

void	forward_local_accept_cb(evutil_socket_t, short, void *);

static void
forward_local_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward *f = arg;
	size_t i;

	for (i = 0; i < f->nlfds; i++)
		event_add(f->levs[i], NULL);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
forward_local_pause(struct forward *f, int e)
{
	struct timeval tv = { 1, 0 };
	size_t i;

	log_warnx("%s: accept on %s: %s; pausing new connections for 1s",
	    f->tunnel->conf->name, f->listen_str, strerror(e));
	for (i = 0; i < f->nlfds; i++)
		event_del(f->levs[i]);
	if (f->resume_timer == NULL)
		f->resume_timer = evtimer_new(tunneld_base,
		    forward_local_resume_cb, f);
	evtimer_add(f->resume_timer, &tv);
}

static void
forward_local_peer(const struct sockaddr_storage *ss, char *host, size_t len,
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

void
forward_local_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct forward *f = arg;
	struct tunnel *t = f->tunnel;
	const struct fwdspec *sp = f->spec;
	struct sockaddr_storage ss;
	struct channel *c;
	socklen_t len;
	char host[INET6_ADDRSTRLEN], label[512];
	int fd, port, i;

	for (i = 0; i < ACCEPT_BURST; i++) {
		len = sizeof ss;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				forward_local_pause(f, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warnx("%s: accept on %s: %s", t->conf->name,
				    f->listen_str, strerror(errno));
			return;
		}
		forward_local_peer(&ss, host, sizeof host, &port);
		if (sp->connect.path != NULL)
			snprintf(label, sizeof label, "%s from %s:%d to %s",
			    sp->spec, host, port, sp->connect.path);
		else
			snprintf(label, sizeof label, "%s from %s:%d to %s:%d",
			    sp->spec, host, port, sp->connect.host,
			    sp->connect.port);
		if (!session_is_established(t->session)) {
			log_info("%s: %s: refused, the tunnel is %s",
			    t->conf->name, label, tunnel_state_name(t->state));
			close(fd);
			continue;
		}
		log_debug("%s: %s: accepted", t->conf->name, label);
		c = channel_new(t->session, f, fd, label);
		if (sp->connect.path != NULL)
			session_open(t->session, OPEN_STREAMLOCAL,
			    sp->connect.path, 0, host, port, c);
		else
			session_open(t->session, OPEN_DIRECT_TCPIP,
			    sp->connect.host, sp->connect.port, host, port, c);
	}
}

/*
 * forward_dynamic.c - dynamic forwards (ssh -D): a SOCKS4/4a/5 proxy here.
 * Each accepted client first speaks SOCKS (channel.c, socks.c); its CONNECT
 * becomes a direct-tcpip channel to the host it named, which the server
 * resolves and connects to, as ssh does.
 */
#include "config.h"

#include <stdio.h>

#include "tunnel.h"

/* A SOCKS client, on s: the tunnel's session or an extra one; its
 * request comes back through that session's socks_request call. */
void
forward_dynamic_accepted(struct forward *f, struct session *s, int fd,
    const char *host, int port)
{
	struct tunnel *t = f->tunnel;
	struct channel *c;
	char label[512];

	snprintf(label, sizeof label, "%s from %s:%d", f->spec->spec, host,
	    port);
	log_forward(f, LOG_LVL_DEBUG, "%s: accepted", label);
	c = channel_new(s, fd, label);
	channel_set_owner(c, f, &f->counters);
	channel_socks_start(c, t->conf->connect_timeout);
}

/* The client's request is complete: ask the server for the connection,
 * on the session where it waits least (tunnel_sessions_pick_open()). */
void
forward_dynamic_request(struct forward *f, struct session *s,
    struct channel *c, const char *host, int port)
{
	struct session *to = tunnel_sessions_pick_open(f->tunnel, f);

	if (to != NULL && to != s && session_is_established(to) &&
	    channel_move(c, to))
		s = to;
	/* the originator is not known to SOCKS; OpenSSH sends its own */
	session_open(s, OPEN_DIRECT_TCPIP, host, port,
	    "127.0.0.1", 0, c);
}

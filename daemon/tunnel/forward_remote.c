/*
 * forward_remote.c - remote forwards (ssh -R) and reverse dynamic forwards
 * (ssh -R [bind:]port): the server listens (tcpip-forward, asked again on
 * every new session) and forwards each connection to us as a channel; we
 * connect it to the target here (connect.c), or first speak SOCKS on it and
 * connect where the client asks, within permit_remote_open.
 *
 * What the server binds is its choice (sshd GatewayPorts), and it does not
 * say: status shows what OpenSSH's rules make of the request, given what
 * session_gateway_ports() learnt of the server.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "tunnel.h"

static void	forward_remote_connect(struct forward *, struct channel *);

/* The address sent in tcpip-forward, as ssh's channel_rfwd_bind_host(). */
const char *
forward_remote_bind(const struct forward *f)
{
	const char *h = f->spec->listen.host;

	if (h == NULL)
		return "localhost";
	if (fwdspec_bind_is_wildcard(h))
		return "";
	return h;
}

static int
forward_remote_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 ||
	    strcmp(h, "::1") == 0;
}

/* What the server listens on, by sshd's channel_fwd_bind_addr(). */
static void
forward_remote_describe(struct forward *f)
{
	const char *h = forward_remote_bind(f), *what;
	enum gateway_ports gp = session_gateway_ports(f->tunnel->session, 0);
	int p = f->bound_port;

	free(f->listen_str);
	if (f->server_note != NULL &&
	    strstr(f->server_note, "GatewayPorts") != NULL)
		what = "*";	/* "overridden by server GatewayPorts" */
	else if (strcmp(h, "localhost") == 0)
		what = "localhost";
	else if (forward_remote_loopback(h))
		what = h;
	else if (gp == GP_NO)
		what = "localhost";
	else if (gp == GP_YES || *h == '\0')
		what = "*";
	else
		what = h;
	if (strchr(what, ':') != NULL)
		xasprintf(&f->listen_str, "[%s]:%d", what, p);
	else
		xasprintf(&f->listen_str, "%s:%d", what, p);
}

/* Does what the server binds depend on its GatewayPorts (beyond a note)? */
static int
forward_remote_ambiguous(const struct forward *f)
{
	return !forward_remote_loopback(forward_remote_bind(f));
}

/* Ask the server to listen, if the session is up and nothing is asked. */
void
forward_remote_request(struct forward *f)
{
	struct session *s = f->tunnel->session;

	if (!session_is_established(s) || f->requested || f->listening)
		return;
	f->requested = 1;
	if (forward_remote_ambiguous(f))
		session_gateway_ports(s, 1);
	log_forward(f, LOG_LVL_DEBUG, "asking the server to listen for %s",
	    f->spec->spec);
	session_listen(s, f, forward_remote_bind(f), f->spec->listen.port);
}

/*
 * The server listens: the forward is up, unless the last probe found
 * that its listener does not work (then a probe that comes back) - a
 * re-request, or a session replaced for it, does not make it work.  But
 * under require_forwards only a verdict on this session counts: that one
 * dropped the last session, and held against the new one it would drop
 * each before its own probe could run, for good.
 */
static void
forward_remote_up(struct forward *f)
{
	struct tunnel *t = f->tunnel;

	forward_remote_describe(f);
	if (t->conf->require_forwards && !forward_probe_failed(f, t->up_at))
		forward_probe_forget(f);
	if (!forward_probe_failed(f, t->conf->require_forwards ? t->up_at :
	    0)) {
		forward_set_error(f, NULL);
		forward_set_state(f, FS_UP, "the server listens");
	}
	log_forward(f, LOG_LVL_INFO, "the server listens on %s for %s%s%s",
	    f->listen_str, f->spec->spec,
	    f->server_note != NULL ? "; it says: " : "",
	    f->server_note != NULL ? f->server_note : "");
	forward_probe_start(f);
}

static void
forward_remote_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	forward_remote_request(arg);
}

/* Ask again later: exponential from reconnect_min up to FORWARD_RETRY_MAX
 * seconds, with jitter. */
static void
forward_remote_retry(struct forward *f)
{
	double d;

	d = backoff_delay(f->tunnel->conf->reconnect_min, FORWARD_RETRY_MAX,
	    ++f->retries);
	if (f->retry_timer == NULL)
		f->retry_timer = evtimer_new(tunnel_base(f->tunnel),
		    forward_remote_retry_cb, f);
	timer_add_secs(f->retry_timer, d);
}

/*
 * The server would not listen.  If it gave this forward to an earlier
 * session, the likely cause is that session itself: sshd has not yet
 * noticed that it is dead and still holds the port.  The forward is then
 * pending, not failed, and asked for again until the server lets go.
 */
static void
forward_remote_refused(struct forward *f, const char *error, const char *note)
{
	char *msg, *where = fwdspec_listen_string(&f->spec->listen);

	tunnel_forwards_batch_begin(f->tunnel);	/* an error, a state, or both */
	forward_remote_retry(f);
	if (f->granted_before && note == NULL) {
		xasprintf(&msg, "the server still holds %s for the previous "
		    "session, which it has not yet noticed is dead; asking "
		    "again, with backoff, until it lets go.  On the server, "
		    "ClientAliveInterval and ClientAliveCountMax in sshd_config "
		    "make it notice sooner", where);
		if (f->last_error == NULL || f->state != FS_PENDING)
			log_forward(f, LOG_LVL_WARNING, "remote forward "
			    "\"%s\": %s", f->spec->spec, msg);
		forward_set_error(f, msg);
		forward_set_state(f, FS_PENDING, "the server still holds it");
	} else {
		if (note != NULL)
			xasprintf(&msg, "%s on %s: %s", error, where, note);
		else
			xasprintf(&msg, "%s on %s (the port is in use there, "
			    "or not permitted: the server's log says which)",
			    error, where);
		forward_fail(f, msg);
	}
	free(where);
	free(msg);
	tunnel_forwards_batch_end(f->tunnel);
}

/* The server's answer to tcpip-forward: it listens (on port), or error. */
void
forward_remote_listened(struct forward *f, int port, const char *error,
    const char *note)
{
	f->requested = 0;
	free(f->server_note);
	f->server_note = note != NULL ? xstrdup(note) : NULL;
	if (error != NULL) {
		forward_remote_refused(f, error, note);
		return;
	}
	f->listening = 1;
	f->bound_port = port;
	f->retries = 0;
	f->granted_before = 1;
	if (f->spec->listen.port == 0)
		log_forward(f, LOG_LVL_NOTICE, "the server allocated port %d "
		    "for %s", port, f->spec->spec);
	if (forward_remote_ambiguous(f) &&
	    session_gateway_ports(f->tunnel->session, 0) == GP_PROBING)
		return;		/* up once the probe has answered */
	tunnel_forwards_batch_begin(f->tunnel);
	forward_remote_up(f);
	tunnel_forwards_batch_end(f->tunnel);
}

/* The server's GatewayPorts is known: forwards waiting for it are up. */
void
forward_remote_gateway_known(struct tunnel *t)
{
	struct forward *f;
	size_t i;

	tunnel_forwards_batch_begin(t);
	for (i = 0; i < t->nfwds; i++) {
		f = t->fwds[i];
		if (forward_is_remote(f) && f->listening &&
		    f->state != FS_UP)
			forward_remote_up(f);
	}
	tunnel_forwards_batch_end(t);
}

/* The session is gone, and with it the server's listener. */
void
forward_remote_session_lost(struct forward *f)
{
	f->listening = 0;
	f->requested = 0;
	f->retries = 0;
	forward_probe_stop(f);
	if (f->retry_timer != NULL)
		evtimer_del(f->retry_timer);
	if (f->state != FS_FAILED)	/* a new session asks afresh */
		forward_set_error(f, NULL);
	free(f->listen_str);
	f->listen_str = NULL;
	if (f->state == FS_UP)
		forward_set_state(f, FS_PENDING, "the session is gone");
}

/* A connection to the server's listener, forwarded to us as a channel:
 * while a probe is out, held for its first bytes (probe.c). */
void
forward_remote_accept(struct forward *f, struct channel *c)
{
	channel_set_owner(c, f, NULL);
	if (!forward_probe_sniff(f, c))
		forward_remote_connect(f, c);
}

/* A held connection's first bytes came: the probe's, or a real one. */
void
forward_remote_sniffed(struct forward *f, struct channel *c)
{
	if (forward_probe_sniffed(f, c))
		return;
	log_forward(f, LOG_LVL_DEBUG, "%s: a connection arrived during a "
	    "probe, not the probe's: connected", f->spec->spec);
	forward_remote_connect(f, c);
}

/* A real connection forwarded to us: connected to the target here. */
static void
forward_remote_connect(struct forward *f, struct channel *c)
{
	const struct fwdspec *sp = f->spec;
	const char *why;
	char label[512];

	if (sp->kind == FWD_REMOTE_DYNAMIC)
		snprintf(label, sizeof label, "%s from the server (SOCKS)",
		    sp->spec);
	else if (sp->connect.path != NULL)
		snprintf(label, sizeof label, "%s from the server to %s",
		    sp->spec, sp->connect.path);
	else
		snprintf(label, sizeof label, "%s from the server to %s:%d",
		    sp->spec, sp->connect.host, sp->connect.port);
	log_forward(f, LOG_LVL_DEBUG, "%s: forwarded to us", label);
	channel_set_label(c, label);
	/* the connection made here for it must stay out of the reserve */
	why = forward_over_budget(f);
	if (why == NULL && !budget_fd_room())
		why = "out of descriptors for forwarded connections";
	if (why != NULL) {
		forward_refused(f, "the server", 0, why);
		channel_abort(c, why);
		return;
	}
	channel_set_owner(c, f, &f->counters);
	if (sp->kind == FWD_REMOTE_DYNAMIC)
		channel_socks_start(c, f->tunnel->conf->connect_timeout);
	else
		channel_connect(c, sp->connect.host, sp->connect.port,
		    sp->connect.path);
}

/* A reverse dynamic client's request: allowed, then connected from here. */
void
forward_remote_dynamic_request(struct forward *f, struct channel *c,
    const char *host, int port)
{
	const struct tunnel_conf *tc = f->tunnel->conf;

	if (!tc->permit_any && !permit_match(tc->permits, tc->npermits,
	    host, port)) {
		log_forward(f, LOG_LVL_NOTICE, "%s: %s:%d is not in "
		    "permit_remote_open, refused", channel_label(c), host,
		    port);
		channel_socks_done(c, SOCKS5_NOT_ALLOWED);
		return;
	}
	channel_connect(c, host, port, NULL);
}

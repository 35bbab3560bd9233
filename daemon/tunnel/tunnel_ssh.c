/*
 * tunnel_ssh.c - a tunnel's use of the SSH transport (ssh/): the parameters
 * of its sessions, from its tunneld.conf entry, and the one table of
 * callbacks through which every session of its pool (tunnel_sessions.c)
 * reports.  A callback tells the tunnel's own session from an extra one
 * by asking the pool.  Each runs from an event of the session's, after
 * the pump (ssh/session_pump.c), so it may do what it likes: the tunnel's
 * entry points (tunnel_session_up/lost, tunnel_forward_changed) and the
 * forwards' are called as they are.
 */
#include "config.h"

#include <string.h>

#include "tunnel.h"

/* The session parameters of a tunneld.conf entry, for its first server. */
void
tunnel_ssh_conf_params(const struct tunnel_conf *tc, struct session_params *p)
{
	memset(p, 0, sizeof *p);
	p->name = tc->name;
	p->tunnel = tc->name;
	p->host = tc->host;
	p->port = tc->port;
	p->user = tc->user;
	p->identity_file = tc->identity_file;
	p->certificate_file = tc->certificate_file;
	p->identity_agent = tc->identity_agent;
	p->passphrase_file = tc->passphrase_file;
	p->password_file = tc->password_file;
	p->known_hosts = tc->known_hosts;
	p->host_key = tc->host_key;
	p->jump = tc->jump;
	p->proxy = tc->proxy;
	p->accept_new = tc->strict == HKC_ACCEPT_NEW;
	p->ciphers = tc->ciphers;
	p->macs = tc->macs;
	p->kex_algorithms = tc->kex_algorithms;
	p->host_key_algorithms = tc->host_key_algorithms;
	p->connect_timeout = tc->connect_timeout;
	p->keepalive_interval = tc->keepalive_interval;
	p->keepalive_count = tc->keepalive_count;
	p->window_budget = (long long)tc->window_budget << 20;
	p->channel_stall_timeout = tc->channel_stall_timeout;
}

/* The parameters of one of the tunnel's sessions: the server in use, the
 * session's name for messages ("NAME", "NAME#2"). */
static void
tunnel_ssh_params(struct tunnel *t, const char *name,
    struct session_params *p)
{
	tunnel_ssh_conf_params(t->conf, p);
	p->name = name;
	p->host = tunnel_server_host(t);	/* of its list: in use */
	p->port = tunnel_server_port(t);
	p->ratelimit = t->ratelimit;
}

static void
tunnel_ssh_up_cb(void *arg)
{
	struct pool_member *m = arg;

	if (tunnel_sessions_is_own(m))
		tunnel_session_up(tunnel_sessions_tunnel(m));
	else
		tunnel_sessions_extra_up(m);
}

static void
tunnel_ssh_lost_cb(void *arg, enum session_error class, const char *why)
{
	struct pool_member *m = arg;

	if (tunnel_sessions_is_own(m))
		tunnel_session_lost(tunnel_sessions_tunnel(m), class, why);
	else
		tunnel_sessions_extra_lost(m, class, why);
}

/* Only the tunnel's own session asks the server to listen: an extra one
 * has no answers to wait for, and no gateway to learn. */
static void
tunnel_ssh_listened_cb(void *arg, void *owner, int port, const char *error,
    const char *note)
{
	if (tunnel_sessions_is_own(arg))
		forward_remote_listened(owner, port, error, note);
}

static void
tunnel_ssh_gateway_known_cb(void *arg)
{
	if (tunnel_sessions_is_own(arg))
		forward_remote_gateway_known(tunnel_sessions_tunnel(arg));
}

static void
tunnel_ssh_forwarded_cb(void *arg, void *owner, struct channel *c)
{
	if (tunnel_sessions_is_own(arg))
		forward_remote_accept(owner, c);
	else
		channel_abort(c, "forwarded to an extra session, which has "
		    "no listener");
}

static void
tunnel_ssh_sniffed_cb(void *arg, void *owner, struct channel *c)
{
	if (tunnel_sessions_is_own(arg))
		forward_remote_sniffed(owner, c);
	else
		channel_abort(c, "forwarded to an extra session, which has "
		    "no listener");
}

static void
tunnel_ssh_socks_request_cb(void *arg, void *owner, struct channel *c,
    const char *host, int port)
{
	struct forward *f = owner;

	if (f->spec->kind == FWD_REMOTE_DYNAMIC)
		forward_remote_dynamic_request(f, c, host, port);
	else
		forward_dynamic_request(f, tunnel_sessions_session(arg), c,
		    host, port);
}

static void
tunnel_ssh_channel_error_cb(void *arg, void *owner, const char *error)
{
	forward_set_error(owner, error);
}

static const struct session_ops tunnel_ssh_ops = {
	.up = tunnel_ssh_up_cb,
	.lost = tunnel_ssh_lost_cb,
	.listened = tunnel_ssh_listened_cb,
	.gateway_known = tunnel_ssh_gateway_known_cb,
	.forwarded = tunnel_ssh_forwarded_cb,
	.socks_request = tunnel_ssh_socks_request_cb,
	.channel_error = tunnel_ssh_channel_error_cb,
	.sniffed = tunnel_ssh_sniffed_cb,
};

/*
 * A new session for the pool's member m, on the tunnel's worker's event
 * and DNS bases: every session of a tunnel has the same server, user, key
 * and host key checks, under its own name for messages.
 */
struct session *
tunnel_ssh_session(struct tunnel *t, struct pool_member *m, const char *name)
{
	struct session_params p;

	tunnel_ssh_params(t, name, &p);
	return session_new(tunnel_base(t), worker_dns(t->worker), &p,
	    &tunnel_ssh_ops, m);
}

/* reload: a session of the tunnel's takes its new configuration. */
void
tunnel_ssh_set_params(struct tunnel *t, struct session *s, const char *name)
{
	struct session_params p;

	tunnel_ssh_params(t, name, &p);
	session_set_params(s, &p);
}

/* reload: the tunnel's configuration changed, not its session's: the
 * sessions take the new copy (keepalives, timeouts). */
void
tunnel_ssh_reconf(struct tunnel *t)
{
	tunnel_sessions_reconf(t);
}

/*
 * tunnel_ssh.c - a tunnel's use of the SSH transport (ssh/): the parameters
 * of its session, from its tunneld.conf entry, and the callbacks through
 * which the session reports.  Each runs from an event of the session's,
 * after the pump (ssh/session_pump.c), so it may do what it likes: the
 * tunnel's entry points (tunnel_session_up/lost, tunnel_forward_changed)
 * and the forwards' are called as they are.
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

static void
tunnel_ssh_params(struct tunnel *t, struct session_params *p)
{
	tunnel_ssh_conf_params(t->conf, p);
	p->host = tunnel_server_host(t);	/* of its list: in use */
	p->port = tunnel_server_port(t);
}

static void
tunnel_ssh_up_cb(void *arg)
{
	tunnel_session_up(arg);
}

static void
tunnel_ssh_lost_cb(void *arg, enum session_error class, const char *why)
{
	tunnel_session_lost(arg, class, why);
}

static void
tunnel_ssh_listened_cb(void *arg, void *owner, int port, const char *error,
    const char *note)
{
	forward_remote_listened(owner, port, error, note);
}

static void
tunnel_ssh_gateway_known_cb(void *arg)
{
	forward_remote_gateway_known(arg);
}

static void
tunnel_ssh_forwarded_cb(void *arg, void *owner, struct channel *c)
{
	forward_remote_accept(owner, c);
}

static void
tunnel_ssh_socks_request_cb(void *arg, void *owner, struct channel *c,
    const char *host, int port)
{
	struct tunnel *t = arg;
	struct forward *f = owner;

	if (f->spec->kind == FWD_REMOTE_DYNAMIC)
		forward_remote_dynamic_request(f, c, host, port);
	else
		forward_dynamic_request(f, t->session, c, host, port);
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
};

/* A new session for the tunnel, on its worker's event and DNS bases. */
struct session *
tunnel_ssh_session(struct tunnel *t)
{
	struct session_params p;

	tunnel_ssh_params(t, &p);
	return session_new(tunnel_base(t), worker_dns(t->worker), &p,
	    &tunnel_ssh_ops, t);
}

/*
 * An extra session for the tunnel (tunnel_sessions.c): the same server,
 * user, key and host key checks as its own, under its own name for
 * messages, reporting to ops.
 */
struct session *
tunnel_ssh_extra(struct tunnel *t, const char *name,
    const struct session_ops *ops, void *arg)
{
	struct session_params p;

	tunnel_ssh_params(t, &p);
	p.name = name;
	return session_new(tunnel_base(t), worker_dns(t->worker), &p, ops,
	    arg);
}

/* reload: an extra session takes the tunnel's new configuration. */
void
tunnel_ssh_extra_reconf(struct tunnel *t, struct session *s,
    const char *name)
{
	struct session_params p;

	tunnel_ssh_params(t, &p);
	p.name = name;
	session_set_params(s, &p);
}

/* reload: the tunnel's configuration changed, not its session's: the
 * sessions take the new copy (keepalives, timeouts). */
void
tunnel_ssh_reconf(struct tunnel *t)
{
	struct session_params p;

	if (t->session == NULL)
		return;
	tunnel_ssh_params(t, &p);
	session_set_params(t->session, &p);
	tunnel_sessions_reconf(t);
}

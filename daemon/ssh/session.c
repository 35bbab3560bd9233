/*
 * session.c - one SSH connection (one libssh2 session) on one event base.
 *
 * Everything a session owns - its socket, its libssh2 session, its channels
 * and their events - lives on the event base it was created on, so sessions
 * can later be spread over worker threads, one base each.
 *
 * A session knows nothing of tunnels or forwards: its owner fills a
 * struct session_params (copied here) and registers a struct session_ops,
 * through which the session reports, always from an event of its own
 * (ev_deliver for the pump's news, ev_dead for the end) - never from under
 * a libssh2 call.
 *
 * Phases: resolving (evdns) -> connecting (non-blocking TCP, happy eyeballs:
 * connect.c; through an upstream proxy: proxy.c) -> handshake (+ host key
 * check) -> auth -> established; connect_timeout covers all of them.
 * Keepalives are in session_keepalive.c; an established session is driven
 * by session_pump.c, on session_io.c's socket callbacks, with
 * session_open.c's open slot and session_listen.c's global requests.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "session.h"
#include "sshcert.h"

static const char *phase_names[] = { "resolving", "connecting",
	"handshake", "authenticating", "established", "dead" };

/* Connecting: still resolving the name, or connecting to an address? */
static enum session_phase
session_phase(struct session *s)
{
	if (s->phase == SP_CONNECTING && s->conn != NULL &&
	    connector_resolving(s->conn))
		return SP_RESOLVING;
	return s->phase;
}

/* What a tunnel in "connecting" is doing, for tunnelctl's progress. */
const char *
session_phase_name(struct session *s)
{
	if (s == NULL)
		return NULL;
	if (s->phase == SP_ESTABLISHED)
		return "forwarding";	/* asking the server for its forwards */
	return phase_names[session_phase(s)];
}

const char *
session_name(struct session *s)
{
	return s->conf->name;
}

static void
session_params_vlog(const struct session_params *p, int level,
    const char *fmt, va_list ap)
{
	struct log_fields lf = { p->tunnel, NULL, NULL };

	log_vfields(level, p->tunnel != NULL ? &lf : NULL, p->name, fmt, ap);
}

/* A message about the session: "NAME: ...", with the owner's TUNNEL=. */
void
session_log(struct session *s, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_params_vlog(s->conf, level, fmt, ap);
	va_end(ap);
}

/* The same, before there is a session (host key, identity): by its
 * parameters. */
void
session_params_log(const struct session_params *p, int level,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_params_vlog(p, level, fmt, ap);
	va_end(ap);
}

struct event_base *
session_base(struct session *s)
{
	return s->base;
}

int
session_is_established(struct session *s)
{
	return s != NULL && s->phase == SP_ESTABLISHED;
}

/* The owner's parameters, strings and all: the session keeps its copy. */
static void
session_conf_set(struct session_conf *sc, const struct session_params *p)
{
#define SESSION_PARAM_FREE(f)	free(sc->own.f);
#define SESSION_PARAM_COPY(f)	sc->own.f = p->f != NULL ? xstrdup(p->f) : NULL;
#define SESSION_PARAM_POINT(f)	sc->p.f = sc->own.f;
	SESSION_PARAM_STRINGS(SESSION_PARAM_FREE)
	sc->p = *p;
	SESSION_PARAM_STRINGS(SESSION_PARAM_COPY)
	SESSION_PARAM_STRINGS(SESSION_PARAM_POINT)
#undef SESSION_PARAM_FREE
#undef SESSION_PARAM_COPY
#undef SESSION_PARAM_POINT
}

/* reload: the same connection settings (those a live session cannot
 * change are the owner's to compare), a new copy of them */
void
session_set_params(struct session *s, const struct session_params *p)
{
	session_conf_set(&s->params, p);
	hop_set_params(s);
}

/* An owner's forward goes (reload): its connections go on without it,
 * what was to be said to it is not. */
void
session_forget_owner(struct session *s, void *owner)
{
	struct channel *c;

	TAILQ_FOREACH(c, &s->channels, entry) {
		if (c->owner != owner)
			continue;
		if (c->counters != NULL)
			c->counters->connections--;
		c->owner = NULL;
		c->counters = NULL;
	}
	session_events_drop(s, owner, NULL);
}

double
session_connect_timeout(struct session *s)
{
	return s->conf->connect_timeout;
}

struct evdns_base *
session_dns(struct session *s)
{
	return s->dns;
}

/* The session's own address (its socket's), or with peer set the
 * server's: 0, or -1 when it has no connected socket yet (or any more). */
int
session_address(struct session *s, int peer, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof *ss;

	if (s == NULL || s->fd == -1)
		return -1;
	if (peer ? getpeername(s->fd, (struct sockaddr *)ss, &len) :
	    getsockname(s->fd, (struct sockaddr *)ss, &len))
		return -1;
	return 0;
}

double
session_rtt_ms(struct session *s)
{
	return s != NULL ? s->rtt_ms : -1;
}

/*
 * Channel windows cost memory (libssh2 queues up to a window of data per
 * channel): a few channels get 2 MiB each for throughput, many share a
 * budget of 16 MiB with at least 256 KiB each.
 */
unsigned
session_channel_window(struct session *s)
{
	long long w = WINDOW_BUDGET / (s->nchannels + 1), room;

	if (w > WINDOW_MAX)
		w = WINDOW_MAX;
	if (w > (room = window_room(s)))	/* bases count (window.c) */
		w = room;
	if (w < WINDOW_MIN)
		w = WINDOW_MIN;
	return (unsigned)w;
}

/* A session that died tells its tunnel from a deferred event, never from
 * under a callback that still uses it. */
void
session_fail(struct session *s, enum session_error class, const char *fmt,
    ...)
{
	va_list ap;

	if (s->phase == SP_DEAD)
		return;
	session_log(s, LOG_LVL_DEBUG, "session failed while %s",
	    phase_names[session_phase(s)]);
	connector_cancel(s->conn);
	s->conn = NULL;
	certscan_free(s->scan);
	s->scan = NULL;
	s->phase = SP_DEAD;
	s->class = class;
	va_start(ap, fmt);
	if (vasprintf(&s->error, fmt, ap) == -1)
		s->error = NULL;
	va_end(ap);
	if (s->ev_read != NULL)
		event_del(s->ev_read);
	if (s->ev_write != NULL)
		event_del(s->ev_write);
	event_del(s->ev_keepalive);
	event_del(s->ev_alive);
	event_active(s->ev_dead, 0, 0);
}

void
session_dead_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char *why;

	/* a jump host's end is the cause of the end of what ran through it */
	if ((why = hop_blame(s, &s->class)) != NULL) {
		free(s->error);
		s->error = why;
	}
	/* The owner frees the session: touch nothing after this call. */
	s->ops->lost(s->ops_arg, s->class,
	    s->error != NULL ? s->error : "session failed");
}

const char *
session_ssh_error(struct session *s)
{
	char *msg = NULL;

	if (s->ssh == NULL)
		return "no session";
	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg != NULL ? msg : "unknown libssh2 error";
}

/* --- connecting ---------------------------------------------------------- */

static void
session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->phase == SP_ESTABLISHED)
		return;
	if (s->conn != NULL && connector_address(s->conn) != NULL)	/* yet */
		snprintf(s->addr, sizeof s->addr, "%s",
		    connector_address(s->conn));
	if (s->via != NULL && s->fd == -1) {
		session_fail(s, SE_NETWORK, "timed out after %gs: jump host %s "
		    "was %s", s->conf->connect_timeout, s->via_name,
		    s->via->phase == SP_ESTABLISHED ? "up" :
		    phase_names[session_phase(s->via)]);
		return;
	}
	if (s->scan != NULL) {
		session_fail(s, SE_NETWORK, "timed out after %gs while "
		    "fetching the host certificate from %s",
		    s->conf->connect_timeout, s->addr);
		return;
	}
	session_fail(s, SE_NETWORK, "timed out after %gs while %s%s%s%s%s%s",
	    s->conf->connect_timeout, phase_names[session_phase(s)],
	    s->addr[0] ? " with " : "", s->addr,
	    auth_waiting(s) != NULL ? " (the ssh-agent at " : "",
	    auth_waiting(s) != NULL ? auth_waiting(s) : "",
	    auth_waiting(s) != NULL ? " does not answer)" : "");
}

/*
 * TCP_NODELAY, which libssh2 never sets (doc/libssh2.md rule 5);
 * and the kernel's backstop behind the SSH keepalives: TCP keepalives on
 * an idle link, TCP_USER_TIMEOUT for data the peer stops acknowledging,
 * both on the keepalive_interval x keepalive_count schedule.
 */
static void
session_socket_options(const struct session_params *tc, int fd)
{
	int one = 1, idle, cnt;
	unsigned int ms;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (tc->keepalive_interval <= 0)
		return;
	/* the check bounds the interval to Linux's TCP_KEEPIDLE (32767 s);
	 * its 127 probes at most: TCP_USER_TIMEOUT bounds the whole */
	idle = tc->keepalive_interval < 1 ? 1 : (int)tc->keepalive_interval;
	cnt = tc->keepalive_count > 127 ? 127 : tc->keepalive_count;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	ms = tcp_user_timeout_ms(tc->keepalive_interval, tc->keepalive_count);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
}

/* The connector is done: connected (to the first address that answered),
 * or not. */
static void
session_connected_cb(int fd, int error, const char *why, void *arg)
{
	struct session *s = arg;
	const char *addr = connector_address(s->conn);

	/* the address connected to, or tried last; for messages */
	snprintf(s->addr, sizeof s->addr, "%s", addr != NULL ? addr : "");
	s->conn = NULL;
	if (fd == -1) {
		if (error == -1)	/* the name: why says so */
			session_fail(s, SE_NETWORK, "%s", why);
		else
			session_fail(s, SE_NETWORK, "cannot connect to %s port "
			    "%d: %s", s->conf->host, s->conf->port, why);
		return;
	}
	session_log(s, LOG_LVL_DEBUG, "connected to %s", s->addr);
	session_socket_options(s->conf, fd);
	session_attach(s, fd);
}

/* The session's socket, connected (or a channel of a jump host's): the
 * handshake starts. */
void
session_attach(struct session *s, int fd)
{
	s->fd = fd;
	s->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->ev_write = event_new(s->base, fd, EV_WRITE, session_write_cb, s);
	s->phase = SP_HANDSHAKE;
	session_step(s);
}

/* --- handshake and authentication ---------------------------------------- */

/* The owner's algorithms, or our defaults, in libssh2's preferences. */
static int
session_ssh_algorithms(struct session *s)
{
	static const struct {
		int			method;
		enum session_alg	kind;
	} prefs[] = {
		{ LIBSSH2_METHOD_CRYPT_CS, SA_CIPHERS },
		{ LIBSSH2_METHOD_CRYPT_SC, SA_CIPHERS },
		{ LIBSSH2_METHOD_MAC_CS, SA_MACS },
		{ LIBSSH2_METHOD_MAC_SC, SA_MACS },
		{ LIBSSH2_METHOD_KEX, SA_KEX },
	};
	const char *lists[SA_COUNT];
	const char *pref;
	size_t i;

	lists[SA_CIPHERS] = s->conf->ciphers;
	lists[SA_MACS] = s->conf->macs;
	lists[SA_KEX] = s->conf->kex_algorithms;
	lists[SA_HOSTKEY] = s->conf->host_key_algorithms;
	for (i = 0; i < nitems(prefs); i++) {
		if ((pref = lists[prefs[i].kind]) == NULL)
			pref = session_algs_default(prefs[i].kind);
		if (pref != NULL && libssh2_session_method_pref(s->ssh,
		    prefs[i].method, pref) != 0) {
			session_fail(s, SE_FATAL, "algorithms \"%s\": %s", pref,
			    session_ssh_error(s));
			return -1;
		}
	}
	return 0;
}

/* The host key algorithms: the owner's, or those known_hosts has first. */
static int
session_ssh_hostkey_algorithms(struct session *s)
{
	struct hostkey_plan plan;
	const char *pref = s->conf->host_key_algorithms;
	char *cause = NULL;

	memset(&plan, 0, sizeof plan);
	if (pref == NULL) {
		hostkey_plan(s->ssh, s->conf, &plan, &cause);
		free(cause);
		pref = plan.method_pref;
	}
	if (pref != NULL) {
		session_log(s, LOG_LVL_DEBUG, "host key algorithms %s", pref);
		if (libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_HOSTKEY,
		    pref) != 0) {
			session_fail(s, SE_FATAL, "host key algorithms \"%s\": "
			    "%s", pref, session_ssh_error(s));
			free(plan.method_pref);
			return -1;
		}
	}
	free(plan.method_pref);
	return 0;
}

/* The libssh2 session, with our callbacks and the algorithms. */
static int
session_ssh_create(struct session *s)
{
	if (session_lib_new(s) == NULL) {
		session_fail(s, SE_NETWORK, "cannot create an SSH session");
		return -1;
	}
	libssh2_session_set_blocking(s->ssh, 0);
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_RECV, session_recv_cb);
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_SEND, session_send_cb);
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_DEBUG, session_debug_cb);
	if (session_ssh_algorithms(s) != 0 ||
	    session_ssh_hostkey_algorithms(s) != 0)
		return -1;
	return 0;
}

/* The name known_hosts knows the server by: "host", or "[host]:port". */
static char *
session_kh_name(struct session *s)
{
	char *name;

	if (s->conf->port == 22)
		return xstrdup(s->conf->host);
	xasprintf(&name, "[%s]:%d", s->conf->host, s->conf->port);
	return name;
}

/* The fetch's verdict: on to authentication, or the session fails as for
 * a bad host key; a fetch that could not be made (a busy server closed
 * it, MaxStartups, PerSourcePenalties) as a network failure, retried. */
static void
session_cert_cb(const unsigned char *cert, size_t len, const char *error,
    int refused, void *arg)
{
	struct session *s = arg;
	char *cause = NULL, *name;
	int rc = -1;
	enum session_error class = refused ? SE_FATAL : SE_NETWORK;

	if (error != NULL) {
		name = session_kh_name(s);
		xasprintf(&cause, "host certificate of %s: cannot fetch it "
		    "from %s: %s", name, s->addr, error);
		free(name);
	} else {
		session_log(s, LOG_LVL_DEBUG, "host certificate fetched (%zu "
		    "bytes)", len);
		rc = hostkey_cert_verify(s->ssh, s->conf, s->addr, cert, len,
		    0, &cause);
		if (rc == 0)
			hostkey_cert_keep(s->ssh, s->conf, cert, len);
		class = SE_FATAL;
	}
	certscan_free(s->scan);		/* cert and error with it */
	s->scan = NULL;
	if (rc != 0) {
		session_fail(s, class, "%s", cause);
		free(cause);
		return;
	}
	session_log(s, LOG_LVL_DEBUG, "host key verified by its certificate");
	s->phase = SP_AUTH;
	session_step(s);
}

/*
 * The host is known by a @cert-authority line alone: its certificate is
 * fetched by a connection of its own to the same address (certscan.c),
 * while this session waits, idle, before authentication.  Direct
 * connections only: through a jump host or a proxy there is no address
 * of the server's to connect to.  2 (waiting) or -1.
 */
static int
session_cert_fetch(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	const char *types, *error = NULL;
	char *name, *why = NULL;

	types = hostkey_cert_types(s->ssh);
	if (s->via != NULL || s->conf->proxy != NULL)
		xasprintf(&why, "tunneld checks host certificates on direct "
		    "connections only, not through %s; add the host's plain "
		    "key to known_hosts", s->via != NULL ? "a jump host" :
		    "a proxy");
	else if (types == NULL)
		xasprintf(&why, "there are none for the key type %s",
		    session_algs_negotiated(s, SA_HOSTKEY));
	if (why != NULL) {
		name = session_kh_name(s);
		session_fail(s, SE_FATAL, "host key for %s is unknown: "
		    "known_hosts trusts host certificates for it "
		    "(@cert-authority), but %s", name, why);
		free(name);
		free(why);
		return -1;
	}
	if (getpeername(s->fd, (struct sockaddr *)&ss, &sslen) == -1) {
		session_fail(s, SE_NETWORK, "SSH handshake with %s: %s",
		    s->addr, strerror(errno));
		return -1;
	}
	session_log(s, LOG_LVL_DEBUG, "fetching the host certificate (%s) "
	    "from %s", types, s->addr);
	s->scan = certscan_start(s->base, (struct sockaddr *)&ss, sslen,
	    types, s->conf->connect_timeout, session_cert_cb, s, &error);
	if (s->scan == NULL) {
		name = session_kh_name(s);
		session_fail(s, SE_NETWORK, "host certificate of %s: cannot "
		    "fetch it from %s: %s", name, s->addr, error);
		free(name);
		return -1;
	}
	event_del(s->ev_read);	/* idle until the verdict */
	event_del(s->ev_write);
	return 2;
}

/*
 * A certificate kept from an earlier session to this server with this key
 * (hostkey.c), checked again in full: 0 when it passes, and no fetch is
 * needed; else -1 (none kept, or it no longer passes: the server may have
 * a new one), and the session fetches it.
 */
static int
session_cert_kept(struct session *s)
{
	unsigned char *blob;
	char *cause = NULL;
	size_t len;
	int rc;

	/* direct connections only, as the fetch: the same answer for a
	 * session through a jump host whatever sessions came before */
	if (s->via != NULL || s->conf->proxy != NULL ||
	    (blob = hostkey_cert_kept(s->ssh, s->conf, &len)) == NULL)
		return -1;
	rc = hostkey_cert_verify(s->ssh, s->conf, s->addr, blob, len, 1,
	    &cause);
	free(blob);
	if (rc != 0) {
		session_log(s, LOG_LVL_DEBUG, "the host certificate kept from "
		    "an earlier session no longer passes (%s): fetching it "
		    "again", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static int
session_handshake(struct session *s)
{
	char *cause = NULL;
	int rc;

	if (s->ssh == NULL && session_ssh_create(s) != 0)
		return -1;
	rc = libssh2_session_handshake(s->ssh, s->fd);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 1;
	if (rc != 0) {
		session_fail(s, SE_NETWORK, "SSH handshake with %s: %s", s->addr,
		    session_ssh_error(s));
		return -1;
	}
	if ((rc = hostkey_verify(s->ssh, s->conf, &cause)) == HOSTKEY_CERT)
		return session_cert_kept(s) == 0 ? 0 : session_cert_fetch(s);
	if (rc != 0) {
		session_fail(s, SE_FATAL, "%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* Drive the handshake and authentication; on success the session is up. */
void
session_step(struct session *s)
{
	int rc;

	if (s->phase == SP_HANDSHAKE) {
		if (s->scan != NULL)	/* session_cert_cb goes on */
			return;
		if ((rc = session_handshake(s)) != 0) {
			if (rc == 1)
				session_arm(s);
			return;
		}
		session_log(s, LOG_LVL_DEBUG, "host key verified");
		s->phase = SP_AUTH;
	}
	if (s->phase == SP_AUTH) {
		if ((rc = auth_step(s)) != 0) {
			if (rc == 1)	/* 2: auth.c waits for the agent */
				session_arm(s);
			return;
		}
		auth_free(s);
		identity_clear(&s->id);	/* the secrets are no longer needed */
		event_del(s->ev_read);
		event_del(s->ev_write);
		event_del(s->ev_timeout);
		s->phase = SP_ESTABLISHED;
		s->last_rx = mono_now();
		session_keepalive_start(s);
		session_arm(s);
		session_log(s, LOG_LVL_INFO, "authenticated to %s as %s",
		    s->addr, s->conf->user);
		session_log(s, LOG_LVL_INFO, "cipher %s, MAC %s, key exchange "
		    "%s, host key %s", session_algs_negotiated(s, SA_CIPHERS),
		    session_algs_negotiated(s, SA_MACS),
		    session_algs_negotiated(s, SA_KEX),
		    session_algs_negotiated(s, SA_HOSTKEY));
		session_raise(s, SEV_UP, NULL, NULL);
	}
}

struct session *
session_new(struct event_base *base, struct evdns_base *dns,
    const struct session_params *p, const struct session_ops *ops, void *arg)
{
	struct session *s = xcalloc(1, sizeof *s);
	char *cause = NULL;
	int rc = 0;

	s->ops = ops;
	s->ops_arg = arg;
	session_conf_set(&s->params, p);
	s->conf = &s->params.p;
	s->base = base;
	s->dns = dns;
	s->fd = -1;
	s->rtt_ms = -1;
	TAILQ_INIT(&s->channels);
	TAILQ_INIT(&s->opens);
	TAILQ_INIT(&s->listeners);
	TAILQ_INIT(&s->events);
	s->rxq = xmalloc(RXQ_SIZE);
	s->txq_cap = TXQ_SIZE;
	s->txq = xmalloc(s->txq_cap);
	s->ev_timeout = evtimer_new(base, session_timeout_cb, s);
	s->ev_pump = event_new(base, -1, 0, session_pump_cb, s);
	s->ev_dead = event_new(base, -1, 0, session_dead_cb, s);
	s->ev_deliver = event_new(base, -1, 0, session_deliver_cb, s);
	s->ev_keepalive = event_new(base, -1, EV_PERSIST, session_keepalive_cb,
	    s);
	s->ev_alive = evtimer_new(base, session_alive_cb, s);
	s->phase = SP_CONNECTING;

	timer_add_secs(s->ev_timeout, s->conf->connect_timeout);

	/* Key problems are found before the network is touched. */
	if (identity_load(s->conf, &s->id, &cause) != 0 ||
	    (rc = auth_start(s, &cause)) != 0) {
		/* -2: an agent that may come later */
		session_fail(s, rc == -2 ? SE_NETWORK : SE_FATAL, "%s", cause);
		free(cause);
		return s;
	}
	/* the session's own timer bounds it: connect_timeout for all */
	if (s->conf->jump != NULL) {
		hop_start(s);
		return s;
	}
	s->conn = connector_start_via(base, dns, s->conf->proxy, s->conf->host,
	    s->conf->port, EVUTIL_AI_ADDRCONFIG, session_connected_cb, s);
	return s;
}

/* The struct itself, and what only the delivery loop may free. */
void
session_release(struct session *s)
{
	session_events_drop(s, NULL, NULL);
	event_free(s->ev_deliver);
	session_conf_set(&s->params, &(struct session_params){ 0 });
	free(s);
}

/*
 * Tear down without blocking: shutdown before free (LIBSSH2.md rule 8).
 * From inside an upward call (session_deliver_cb()), the struct goes
 * when that call has returned.
 */
void
session_free(struct session *s)
{
	struct channel *c, *next;
	struct open_req *r;

	if (s == NULL || s->freed)
		return;
	if (s->pumping) {	/* the pump's rule, broken: a bug */
		session_log(s, LOG_LVL_ERROR,
		    "session freed from inside its pump");
		abort();
	}
	connector_cancel(s->conn);
	s->conn = NULL;
	certscan_free(s->scan);
	s->scan = NULL;
	s->phase = SP_DEAD;
	TAILQ_FOREACH_SAFE(c, &s->channels, entry, next)
		channel_session_gone(c);
	while ((r = TAILQ_FIRST(&s->opens)) != NULL) {
		TAILQ_REMOVE(&s->opens, r, entry);
		session_open_free(r);
	}
	session_listeners_free(s);
	if (s->fd != -1)
		shutdown(s->fd, SHUT_RDWR);
	session_lib_release(s);
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	if (s->ev_write != NULL)
		event_free(s->ev_write);
	event_free(s->ev_timeout);
	event_free(s->ev_pump);
	event_free(s->ev_dead);
	event_free(s->ev_keepalive);
	event_free(s->ev_alive);
	if (s->fd != -1)
		close(s->fd);
	session_free(s->via);		/* the channel s ran in, with it */
	s->via = NULL;
	free(s->via_name);
	identity_clear(&s->id);
	auth_free(s);
	free(s->rxq);
	free(s->txq);
	free(s->debug_msg);
	free(s->error);
	if (s->delivering) {
		s->freed = 1;
		return;
	}
	session_release(s);
}

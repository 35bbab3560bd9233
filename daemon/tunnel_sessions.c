/*
 * tunnel_sessions.c - a tunnel's extra sessions (sessions = N, issue 14).
 *
 * libssh2 opens one channel at a time per session (LIBSSH2.md rule 3): a
 * burst of connections through -L or -D waits one round trip per
 * connection.  A tunnel with sessions = N may carry its connections over
 * up to N SSH sessions to its server, so that up to N opens are in flight.
 *
 * The first session is the tunnel's own (tunnel.c): remote forwards,
 * keepalives, the tunnel's state.  The others, "extra" sessions, live
 * here, on the tunnel's worker:
 *  - one starts only when a new connection would queue behind an open on
 *    every session there is, the tunnel is up, fewer than N sessions
 *    exist, and a set-up slot for the server is free without making a
 *    tunnel wait (tunnel_setup_extra());
 *  - it authenticates and checks the host key as the tunnel's own does
 *    (the same session_params, tunnel_ssh_extra());
 *  - connections given to it while it is being set up are held here (the
 *    socket, not yet a channel) and served when it is up, or on the
 *    tunnel's session if it fails;
 *  - it closes when it has had no connection for sessions_idle seconds,
 *    so an idle tunnel costs the server one connection, as ssh does;
 *  - losing it costs its own connections only (a warning says how many);
 *    after a failure no other is started for reconnect_min seconds;
 *  - they all go when the tunnel's own session goes.
 *
 * Each connection goes to the session where it waits least: the fewest
 * channels still opening (a session being set up counts as
 * SETUP_OPENS opens, about the round trips its set-up costs, plus the
 * connections it holds), then the fewest channels, so bulk connections
 * spread over the sessions.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunneld.h"

#define SETUP_OPENS	6	/* a set-up weighs as many queued opens */
#define HELD_MAX	256	/* connections one extra session holds */
#define IDLE_CHECK_MIN	0.1	/* seconds between looks at an idle one */
#define IDLE_CHECK_MAX	5.0

struct held_conn {
	TAILQ_ENTRY(held_conn)	 entry;
	struct forward		*f;
	int			 fd;
	char			 host[INET6_ADDRSTRLEN];
	int			 port;
};

struct extra {
	TAILQ_ENTRY(extra)	 entry;
	struct tunnel		*t;
	unsigned		 id;		/* 2, 3, ...: "NAME#id" */
	char			*name;
	struct session		*s;
	struct setup_slots	*slot;		/* while being set up */
	int			 up;
	double			 busy_at;	/* last seen with connections */
	struct event		*idle_timer;
	TAILQ_HEAD(, held_conn)	 held;
	unsigned		 nheld;
};

struct tunnel_pool {
	TAILQ_HEAD(, extra)	 extras;
	unsigned		 n;
	double			 quiet_until;	/* no new one before */
};

static struct extra	*tunnel_sessions_start(struct tunnel *);
static void		 tunnel_sessions_free(struct extra *);

static struct tunnel_pool *
tunnel_sessions_pool(struct tunnel *t)
{
	if (t->pool == NULL) {
		t->pool = xcalloc(1, sizeof *t->pool);
		TAILQ_INIT(&t->pool->extras);
	}
	return t->pool;
}

/* The lowest id not in use: names stay small as sessions come and go. */
static unsigned
tunnel_sessions_id(struct tunnel_pool *p)
{
	struct extra *e;
	unsigned id;

	for (id = 2;; id++) {
		TAILQ_FOREACH(e, &p->extras, entry) {
			if (e->id == id)
				break;
		}
		if (e == NULL)
			return id;
	}
}

/* --- held connections ---------------------------------------------------- */

static void
tunnel_sessions_hold(struct extra *e, struct forward *f, int fd,
    const char *host, int port)
{
	struct held_conn *h = xcalloc(1, sizeof *h);

	h->f = f;
	h->fd = fd;
	snprintf(h->host, sizeof h->host, "%s", host);
	h->port = port;
	TAILQ_INSERT_TAIL(&e->held, h, entry);
	e->nheld++;
}

/* The extra session is up (s) or failed (s NULL): what it held goes on it,
 * or on the tunnel's session, or is closed if there is none. */
static void
tunnel_sessions_release(struct extra *e, struct session *s)
{
	struct tunnel *t = e->t;
	struct held_conn *h;

	if (s == NULL && session_is_established(t->session))
		s = t->session;
	while ((h = TAILQ_FIRST(&e->held)) != NULL) {
		TAILQ_REMOVE(&e->held, h, entry);
		e->nheld--;
		if (s != NULL)
			forward_serve(h->f, s, h->fd, h->host, h->port);
		else
			close(h->fd);
		free(h);
	}
}

/* --- choosing a session -------------------------------------------------- */

/* How long a new connection would wait there, in opens. */
static unsigned
tunnel_sessions_wait(struct extra *e, unsigned *channels)
{
	unsigned opening;

	if (!e->up) {
		*channels = e->nheld;
		return SETUP_OPENS + e->nheld;
	}
	session_load(e->s, channels, &opening);
	return opening;
}

static int
tunnel_sessions_may_grow(struct tunnel *t)
{
	struct tunnel_pool *p = t->pool;
	unsigned n = p != NULL ? 1 + p->n : 1;

	if (t->state != TS_UP && t->state != TS_DEGRADED)
		return 0;
	if (n >= (unsigned)t->conf->sessions)
		return 0;
	return p == NULL || mono_now() >= p->quiet_until;
}

/*
 * The session a new connection of f's goes on, the tunnel's being
 * established: the one where it waits least.  When it would wait behind
 * an open on every one, an extra session starts (if allowed).  NULL: the
 * connection is held for an extra session being set up.
 */
struct session *
tunnel_sessions_pick(struct tunnel *t, struct forward *f, int fd,
    const char *host, int port)
{
	struct extra *e, *best = NULL;
	unsigned wait, channels, best_wait, best_channels, i = 1;

	if (t->conf->sessions <= 1 && t->pool == NULL)
		return t->session;
	session_load(t->session, &best_channels, &best_wait);
	if (t->pool != NULL) {
		TAILQ_FOREACH(e, &t->pool->extras, entry) {
			/* after a reload lowered sessions: no new ones */
			if (++i > (unsigned)t->conf->sessions)
				break;
			if (e->up || e->nheld < HELD_MAX) {
				wait = tunnel_sessions_wait(e, &channels);
				if (wait < best_wait || (wait == best_wait &&
				    channels < best_channels)) {
					best = e;
					best_wait = wait;
					best_channels = channels;
				}
			}
		}
	}
	if (best_wait > 0 && tunnel_sessions_may_grow(t) &&
	    (e = tunnel_sessions_start(t)) != NULL && SETUP_OPENS < best_wait)
		best = e;
	if (best == NULL)
		return t->session;
	if (best->up)
		return best->s;
	tunnel_sessions_hold(best, f, fd, host, port);
	return NULL;
}

/* --- an extra session's life --------------------------------------------- */

static double
tunnel_sessions_period(struct tunnel *t)
{
	double d = t->conf->sessions_idle / 4;

	return d < IDLE_CHECK_MIN ? IDLE_CHECK_MIN : d > IDLE_CHECK_MAX ?
	    IDLE_CHECK_MAX : d;
}

/* Is the extra session beyond what sessions allows now (reload)? */
static int
tunnel_sessions_surplus(struct extra *e)
{
	struct extra *x;
	unsigned i = 1;

	TAILQ_FOREACH(x, &e->t->pool->extras, entry) {
		i++;
		if (x == e)
			break;
	}
	return i > (unsigned)e->t->conf->sessions;
}

static void
tunnel_sessions_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct extra *e = arg;
	struct tunnel *t = e->t;
	unsigned channels, opening;
	double now = mono_now();

	session_load(e->s, &channels, &opening);
	if (channels > 0)
		e->busy_at = now;
	else if (tunnel_sessions_surplus(e)) {
		log_info("%s: extra session closed: sessions is %d now",
		    e->name, t->conf->sessions);
		tunnel_sessions_free(e);
		return;
	} else if (now - e->busy_at >= t->conf->sessions_idle) {
		log_info("%s: extra session closed: no connections for %gs",
		    e->name, t->conf->sessions_idle);
		tunnel_sessions_free(e);
		return;
	}
	timer_add_secs(e->idle_timer, tunnel_sessions_period(t));
}

static void
tunnel_sessions_up_cb(void *arg)
{
	struct extra *e = arg;
	struct tunnel *t = e->t;

	tunnel_setup_extra_done(e->slot);
	e->slot = NULL;
	e->up = 1;
	e->busy_at = mono_now();
	log_info("%s: extra session up (%u of at most %d for the tunnel), "
	    "%u connections waited for it", e->name, 1 + t->pool->n,
	    t->conf->sessions, e->nheld);
	timer_add_secs(e->idle_timer, tunnel_sessions_period(t));
	tunnel_sessions_release(e, e->s);
}

static void
tunnel_sessions_lost_cb(void *arg, enum session_error class, const char *why)
{
	struct extra *e = arg;
	struct tunnel *t = e->t;
	unsigned channels, opening;
	double quiet;

	session_load(e->s, &channels, &opening);
	quiet = class == SE_NETWORK ? t->conf->reconnect_min :
	    t->conf->reconnect_max;
	t->pool->quiet_until = mono_now() + quiet;
	if (e->up)
		log_warnx("%s: extra session lost (%s): its %u connections "
		    "are closed, the tunnel stays up; no new extra session "
		    "for %gs", e->name, why, channels, quiet);
	else
		log_warnx("%s: extra session failed (%s): the %u connections "
		    "that waited for it go on the tunnel's session; no new "
		    "extra session for %gs", e->name, why, e->nheld, quiet);
	tunnel_sessions_release(e, NULL);
	tunnel_sessions_free(e);
}

/* An extra session never listens on the server: nothing is forwarded to
 * it, and its owner knows no gateway. */
static void
tunnel_sessions_listened_cb(void *arg, void *owner, int port,
    const char *error, const char *note)
{
}

static void
tunnel_sessions_gateway_known_cb(void *arg)
{
}

static void
tunnel_sessions_forwarded_cb(void *arg, void *owner, struct channel *c)
{
	channel_abort(c, "forwarded to an extra session, which has no "
	    "listener");
}

static void
tunnel_sessions_socks_request_cb(void *arg, void *owner, struct channel *c,
    const char *host, int port)
{
	struct extra *e = arg;

	forward_dynamic_request(owner, e->s, c, host, port);
}

static void
tunnel_sessions_channel_error_cb(void *arg, void *owner, const char *error)
{
	forward_set_error(owner, error);
}

static const struct session_ops tunnel_sessions_ops = {
	.up = tunnel_sessions_up_cb,
	.lost = tunnel_sessions_lost_cb,
	.listened = tunnel_sessions_listened_cb,
	.gateway_known = tunnel_sessions_gateway_known_cb,
	.forwarded = tunnel_sessions_forwarded_cb,
	.socks_request = tunnel_sessions_socks_request_cb,
	.channel_error = tunnel_sessions_channel_error_cb,
};

/* A new extra session, if the server's set-up limit has a slot for it. */
static struct extra *
tunnel_sessions_start(struct tunnel *t)
{
	struct tunnel_pool *p = tunnel_sessions_pool(t);
	struct setup_slots *slot;
	struct extra *e;

	if ((slot = tunnel_setup_extra(t)) == NULL) {
		log_debug("%s: no extra session: no set-up slot free for "
		    "%s port %d", t->name, tunnel_server_host(t),
		    tunnel_server_port(t));
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	e->t = t;
	e->slot = slot;
	e->id = tunnel_sessions_id(p);
	xasprintf(&e->name, "%s#%u", t->name, e->id);
	TAILQ_INIT(&e->held);
	e->idle_timer = evtimer_new(tunnel_base(t), tunnel_sessions_idle_cb,
	    e);
	TAILQ_INSERT_TAIL(&p->extras, e, entry);
	p->n++;
	log_info("%s: extra session starting: opens queue on every session "
	    "(%u of at most %d)", e->name, 1 + p->n, t->conf->sessions);
	e->s = tunnel_ssh_extra(t, e->name, &tunnel_sessions_ops, e);
	return e;
}

/* The extra session goes, with its connections (its held ones are
 * released before). */
static void
tunnel_sessions_free(struct extra *e)
{
	struct tunnel_pool *p = e->t->pool;

	tunnel_sessions_release(e, NULL);
	TAILQ_REMOVE(&p->extras, e, entry);
	p->n--;
	session_free(e->s);
	tunnel_setup_extra_done(e->slot);
	event_free(e->idle_timer);
	free(e->name);
	free(e);
}

/* --- the tunnel's side --------------------------------------------------- */

/* The tunnel's session ends: every extra session goes, with what it held
 * (nothing serves it now). */
void
tunnel_sessions_clear(struct tunnel *t)
{
	struct extra *e;

	if (t->pool == NULL)
		return;
	while ((e = TAILQ_FIRST(&t->pool->extras)) != NULL) {
		log_info("%s: extra session closed with the tunnel's", e->name);
		tunnel_sessions_free(e);
	}
	free(t->pool);
	t->pool = NULL;
}

/* reload: the extra sessions take the new configuration. */
void
tunnel_sessions_reconf(struct tunnel *t)
{
	struct extra *e;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH(e, &t->pool->extras, entry)
		tunnel_ssh_extra_reconf(t, e->s, e->name);
}

/* reload: keepalive_interval or keepalive_count changed: the extra
 * sessions re-arm their keepalives too (after tunnel_sessions_reconf). */
void
tunnel_sessions_rearm(struct tunnel *t)
{
	struct extra *e;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH(e, &t->pool->extras, entry)
		session_keepalive_rearm(e->s);
}

/* The forward goes (reload): its held connections are closed, those on
 * extra sessions go on without it. */
void
tunnel_sessions_forget(struct tunnel *t, struct forward *f)
{
	struct held_conn *h, *next;
	struct extra *e;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH(e, &t->pool->extras, entry) {
		TAILQ_FOREACH_SAFE(h, &e->held, entry, next) {
			if (h->f != f)
				continue;
			TAILQ_REMOVE(&e->held, h, entry);
			e->nheld--;
			close(h->fd);
			free(h);
		}
		session_forget_owner(e->s, f);
	}
}

static json_object *
tunnel_sessions_one(unsigned id, const char *role, struct session *s,
    int up, unsigned held)
{
	json_object *o = json_object_new_object();
	unsigned channels, opening;

	session_load(s, &channels, &opening);
	json_object_object_add(o, "id", json_object_new_int((int)id));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "state", json_object_new_string(
	    up || session_is_established(s) ? "up" : s == NULL ?
	    "resolving" : session_phase_name(s)));
	json_object_object_add(o, "channels",
	    json_object_new_int64(channels + held));
	json_object_object_add(o, "opens_queued",
	    json_object_new_int64(opening + held));
	status_session_transport(o, s);
	return o;
}

/* The sessions, the tunnel's first (when it has one), as status shows
 * them. */
json_object *
tunnel_sessions_status(struct tunnel *t)
{
	json_object *a = json_object_new_array();
	struct extra *e;

	if (t->session == NULL)
		return a;
	json_object_array_add(a, tunnel_sessions_one(1, "tunnel", t->session,
	    session_is_established(t->session), 0));
	if (t->pool == NULL)
		return a;
	TAILQ_FOREACH(e, &t->pool->extras, entry)
		json_object_array_add(a, tunnel_sessions_one(e->id, "extra",
		    e->s, e->up, e->nheld));
	return a;
}

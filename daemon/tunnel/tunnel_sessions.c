/*
 * tunnel_sessions.c - a tunnel's extra sessions (sessions = N, issues 14
 * and 24): a pool that costs the server a session only when it pays.
 *
 * libssh2 opens one channel at a time per session (LIBSSH2.md rule 3): a
 * burst of connections through -L or -D waits one open per connection.
 * A tunnel with sessions = N may carry its connections over up to N SSH
 * sessions to its server, so that up to N opens are in flight.
 *
 * The first session is the tunnel's own (tunnel.c): remote forwards,
 * keepalives, the tunnel's state.  The others, "extra" sessions, live
 * here, on the tunnel's worker.  Each is, to the server, a TCP connection,
 * a key exchange, a login in its auth log and sshd processes, so:
 *  - a new connection goes to the lowest-numbered session whose open slot
 *    is free (session_load() counts no opening there; an abandoned open
 *    still in flight holds the slot), so that the extras drain when the
 *    tunnel is quiet and close after sessions_idle;
 *  - when no session has its slot free, it goes where it waits least: on
 *    a session, the opens queued ahead at the time an open takes there
 *    (session_open_wait(): the one in flight at least its age); on an
 *    extra being set up, what is left of a set-up and the connections it
 *    holds;
 *  - an extra starts only when even that wait, or what the opens queued
 *    on the sessions take one after another, is longer than setting up a
 *    session takes (the tunnel's set-ups measured, pool_counts.setup_avg;
 *    tunnel_sessions_grow()), or when an extra comes up and the queued
 *    opens still take longer; and only while the tunnel is up, fewer
 *    than N sessions exist, fewer than POOL_SETUP_MAX of the tunnel's are
 *    being set up, and the server's set-up limit has a slot for extras
 *    that no tunnel waits for (tunnel_setup_extra());
 *  - it authenticates and checks the host key as the tunnel's own does
 *    (the same session_params, tunnel_ssh_extra());
 *  - connections given to it while it is being set up are held here (the
 *    socket, not yet a channel) and served when it is up, or on the
 *    tunnel's session if it fails;
 *  - nothing here closes one while it is being set up (idle or surplus are
 *    looked at once it is up), so the pool never makes sshd log a
 *    pre-authentication close, which fail2ban and PerSourcePenalties
 *    count against the address;
 *  - it closes when it has had no connection for sessions_idle seconds,
 *    so an idle tunnel costs the server one connection, as ssh does;
 *  - losing it costs its own connections only (a warning says how many);
 *    after a failure no other is started for reconnect_min seconds;
 *  - they all go when the tunnel's own session goes.
 * Every start and close is counted, closes by why (status "pool").
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunnel.h"

#define POOL_SETUP_MAX	4	/* a tunnel's extras in set-up at once: with
				   tunnel_setup.c's 4 per server, tunneld's
				   extras stay far inside a stock sshd's
				   MaxStartups 10:30:100 */
#define SETUP_OPENS	7	/* an open, before one is measured, is taken
				   for a set-up's share: a set-up is about 7
				   round trips, an open one */
#define SETUP_AVG_WEIGHT 4	/* a set-up's share of the average: 1/4 */
#define HELD_MAX	256	/* connections one extra session holds */
#define LATE_OPENS	4	/* an open this many opens' time in flight is
				   late: its target does not answer */
#define LATE_MIN	0.05	/* seconds: no open is late sooner */
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
	double			 t0;		/* started */
	int			 up;
	double			 busy_at;	/* last seen with connections */
	struct event		*idle_timer;
	TAILQ_HEAD(, held_conn)	 held;
	unsigned		 nheld;
};

struct tunnel_pool {
	TAILQ_HEAD(, extra)	 extras;	/* by id */
	unsigned		 n;
	unsigned		 nsetup;	/* of them being set up */
	double			 quiet_until;	/* no new one before */
};

static struct extra	*tunnel_sessions_start(struct tunnel *, double, double);
static void		 tunnel_sessions_free(struct extra *, enum pool_close);

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

/* The connections of f's held for extras being set up: they count in
 * f's budgets (forward_over_budget()) and status. */
unsigned
tunnel_sessions_held(struct tunnel *t, const struct forward *f)
{
	struct extra *e;
	struct held_conn *h;
	unsigned n = 0;

	if (t->pool == NULL)
		return 0;
	TAILQ_FOREACH(e, &t->pool->extras, entry) {
		TAILQ_FOREACH(h, &e->held, entry) {
			if (h->f == f)
				n++;
		}
	}
	return n;
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

/* Seconds setting up a session takes the tunnel: its set-ups measured. */
static double
tunnel_sessions_setup_cost(struct tunnel *t)
{
	return t->pool_counts.setup_avg;
}

static void
tunnel_sessions_setup_took(struct tunnel *t, double secs)
{
	struct pool_counts *pc = &t->pool_counts;

	pc->setup_avg = pc->setup_avg <= 0 ? secs :
	    pc->setup_avg + (secs - pc->setup_avg) / SETUP_AVG_WEIGHT;
}

/* The tunnel's own session starts, and is up: its set-up is measured. */
void
tunnel_sessions_own_begin(struct tunnel *t)
{
	t->pool_counts.own_t0 = mono_now();
}

void
tunnel_sessions_own_up(struct tunnel *t)
{
	if (t->pool_counts.own_t0 > 0)
		tunnel_sessions_setup_took(t, mono_now() -
		    t->pool_counts.own_t0);
	t->pool_counts.own_t0 = 0;
}

/* Seconds an open takes on the tunnel's session, before one is measured
 * there too. */
static double
tunnel_sessions_open_dflt(struct tunnel *t)
{
	double each = session_open_time(t->session);

	return each > 0 ? each : tunnel_sessions_setup_cost(t) / SETUP_OPENS;
}

/*
 * Seconds a new connection would wait for its open on the session; *work:
 * what the opens queued there take at the time an open takes, 0 if the
 * one in flight is late by more than a set-up (an extra cannot help what
 * waits behind it: only new connections, which the wait turns away).
 */
static double
tunnel_sessions_wait_on(struct tunnel *t, struct session *s, double each,
    double *work)
{
	double wait = session_open_wait(s, each, work);

	if (wait - *work > tunnel_sessions_setup_cost(t))
		*work = 0;
	return wait;
}

/* The same on an extra session, being set up or not. */
static double
tunnel_sessions_wait(struct extra *e, double each, double *work)
{
	double left;

	if (e->up)
		return tunnel_sessions_wait_on(e->t, e->s, each, work);
	*work = e->nheld * each;
	left = tunnel_sessions_setup_cost(e->t) - (mono_now() - e->t0);
	return (left > each ? left : each) + *work;
}

/* Is the session's open slot free (nothing opening there)? */
static int
tunnel_sessions_free_slot(struct session *s)
{
	unsigned channels, opening;

	session_load(s, &channels, &opening);
	return opening == 0;
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
	if (p != NULL && p->nsetup >= POOL_SETUP_MAX)
		return 0;
	return p == NULL || mono_now() >= p->quiet_until;
}

/*
 * May the extra take new connections?  One being set up holds them; one
 * that is up, only while its session is (it may have failed, its loss
 * not yet delivered) and no open of it was given up by libssh2: that one
 * is retired, and closes once its channels are gone (doc/libssh2.md
 * rule 15).
 */
static int
tunnel_sessions_usable(struct extra *e)
{
	return !e->up || (session_is_established(e->s) &&
	    !session_open_timed_out(e->s));
}

/* The extras a new connection may go to, lowest id first: those within
 * sessions (after a reload lowered it, the others take no new ones). */
#define FOREACH_USABLE(e, t, i)						\
	for ((i) = 2, (e) = (t)->pool != NULL ?				\
	    TAILQ_FIRST(&(t)->pool->extras) : NULL;			\
	    (e) != NULL && (i) <= (unsigned)(t)->conf->sessions;	\
	    (e) = TAILQ_NEXT((e), entry), (i)++)

/*
 * Seconds the opens queued on the tunnel's sessions take, one after
 * another (each: an open's time where none is measured); *best is the
 * extra where a new connection waits least (NULL: the tunnel's session),
 * *best_wait that wait.
 */
static double
tunnel_sessions_queued(struct tunnel *t, double each, struct extra **best,
    double *best_wait)
{
	struct extra *e;
	double wait, work, queued;
	unsigned i;

	*best = NULL;
	*best_wait = tunnel_sessions_wait_on(t, t->session, each, &queued);
	FOREACH_USABLE(e, t, i) {
		if (!tunnel_sessions_usable(e))
			continue;
		wait = tunnel_sessions_wait(e, each, &work);
		queued += work;
		if (!e->up && e->nheld >= HELD_MAX)
			continue;
		if (wait < *best_wait) {
			*best = e;
			*best_wait = wait;
		}
	}
	return queued;
}

/*
 * An extra session starts (if one may) when a new connection would wait
 * longer than a set-up takes (wait: an open stuck on every session), or
 * when the opens queued on the sessions would take longer, one after
 * another, than a set-up (queued: a burst): then it has work when it is
 * up, and bursts like this one find it for sessions_idle.  (Weighing only
 * the wait of one new connection, the queue spread over the sessions,
 * would keep a pool in which every burst still waits about a set-up.)
 */
static struct extra *
tunnel_sessions_grow(struct tunnel *t, double wait, double queued)
{
	double setup = tunnel_sessions_setup_cost(t);

	if ((wait <= setup && queued <= setup) || !tunnel_sessions_may_grow(t))
		return NULL;
	return tunnel_sessions_start(t, wait, queued);
}

/*
 * Has f taken its share of the open slots?  Opens to a target that does
 * not answer (dropped SYNs: sshd's connect hangs about two minutes) hold
 * their session's one slot; a forward whose late opens (in flight for
 * LATE_OPENS opens' time) hold half the sessions (at least one) gets no
 * more slots - its new connections queue behind its own late open (*own)
 * - so that one forward, a SOCKS one whose targets any local user names,
 * cannot take every session of the tunnel and every login the pool may
 * open.  A burst of healthy opens is never late: they take an open's time.
 */
static int
tunnel_sessions_share_taken(struct tunnel *t, struct forward *f,
    struct session **own)
{
	struct extra *e;
	unsigned i, n = 0, share = (unsigned)t->conf->sessions / 2;
	double late = LATE_OPENS * tunnel_sessions_open_dflt(t);

	if (late < LATE_MIN)
		late = LATE_MIN;
	*own = NULL;
	if (session_open_late_for(t->session, f, late)) {
		*own = t->session;
		n++;
	}
	FOREACH_USABLE(e, t, i) {
		if (e->up && session_open_late_for(e->s, f, late)) {
			if (*own == NULL)
				*own = e->s;
			n++;
		}
	}
	return n >= (share > 0 ? share : 1);
}

/*
 * The session f's new open goes on without weighing waits, or NULL: the
 * only one; the forward's own late open once it has taken its share; the
 * lowest-numbered session with its open slot free.
 */
static struct session *
tunnel_sessions_first(struct tunnel *t, struct forward *f)
{
	struct extra *e;
	struct session *own;
	unsigned i;

	if (t->conf->sessions <= 1 && t->pool == NULL)
		return t->session;
	if (tunnel_sessions_share_taken(t, f, &own))
		return own;
	if (tunnel_sessions_free_slot(t->session))
		return t->session;
	FOREACH_USABLE(e, t, i) {
		if (e->up && tunnel_sessions_usable(e) &&
		    tunnel_sessions_free_slot(e->s))
			return e->s;
	}
	return NULL;
}

/*
 * The session a new connection of f's goes on, the tunnel's being
 * established: the lowest-numbered one with its open slot free; else the
 * one where it waits least, a new extra session's included.  NULL: the
 * connection is held for an extra session being set up.
 */
struct session *
tunnel_sessions_pick(struct tunnel *t, struct forward *f, int fd,
    const char *host, int port)
{
	struct extra *e, *best;
	struct session *s;
	double each, best_wait, work, queued;

	if ((s = tunnel_sessions_first(t, f)) != NULL)
		return s;
	each = tunnel_sessions_open_dflt(t);
	queued = tunnel_sessions_queued(t, each, &best, &best_wait);
	if ((e = tunnel_sessions_grow(t, best_wait, queued)) != NULL &&
	    tunnel_sessions_wait(e, each, &work) < best_wait)
		best = e;
	if (best == NULL)
		return t->session;
	if (best->up)
		return best->s;
	tunnel_sessions_hold(best, f, fd, host, port);
	return NULL;
}

/*
 * The session a SOCKS client's request is opened on, once the request is
 * read (the client waited on the tunnel's session until then: an idle
 * client holds no slot and grows no session): as above, but only a
 * session that is up - a connection being served cannot be held.
 */
struct session *
tunnel_sessions_pick_open(struct tunnel *t, struct forward *f)
{
	struct extra *e, *best;
	struct session *s;
	double each, best_wait, wait, work, queued;
	unsigned i;

	if ((s = tunnel_sessions_first(t, f)) != NULL)
		return s;
	each = tunnel_sessions_open_dflt(t);
	queued = tunnel_sessions_queued(t, each, &best, &best_wait);
	tunnel_sessions_grow(t, best_wait, queued);	/* for those to come */
	s = t->session;
	best_wait = tunnel_sessions_wait_on(t, t->session, each, &work);
	FOREACH_USABLE(e, t, i) {
		if (!e->up || !tunnel_sessions_usable(e))
			continue;
		if ((wait = tunnel_sessions_wait(e, each, &work)) < best_wait) {
			s = e->s;
			best_wait = wait;
		}
	}
	return s;
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
	else if (session_open_timed_out(e->s)) {
		log_info("%s: extra session closed: libssh2 gave up an open "
		    "on it, which the server may still hold", e->name);
		tunnel_sessions_free(e, PC_OPEN_TIMEOUT);
		return;
	} else if (tunnel_sessions_surplus(e)) {
		log_info("%s: extra session closed: sessions is %d now",
		    e->name, t->conf->sessions);
		tunnel_sessions_free(e, PC_SESSIONS);
		return;
	} else if (now - e->busy_at >= t->conf->sessions_idle) {
		log_info("%s: extra session closed: no connections for %gs",
		    e->name, t->conf->sessions_idle);
		tunnel_sessions_free(e, PC_IDLE);
		return;
	}
	timer_add_secs(e->idle_timer, tunnel_sessions_period(t));
}

/* An extra is up: if the opens still queued would take longer than a
 * set-up, the next starts now rather than at the next connection, so
 * that a burst's successor finds the pool grown (set-ups stay at most
 * POOL_SETUP_MAX at once). */
static void
tunnel_sessions_up_grow(struct tunnel *t)
{
	struct extra *best;
	double best_wait;

	tunnel_sessions_grow(t, 0, tunnel_sessions_queued(t,
	    tunnel_sessions_open_dflt(t), &best, &best_wait));
}

static void
tunnel_sessions_up_cb(void *arg)
{
	struct extra *e = arg;
	struct tunnel *t = e->t;

	tunnel_setup_extra_done(e->slot);
	e->slot = NULL;
	e->up = 1;
	t->pool->nsetup--;
	e->busy_at = mono_now();
	tunnel_sessions_setup_took(t, e->busy_at - e->t0);
	log_info("%s: extra session up in %.0f ms (%u of at most %d for the "
	    "tunnel), %u connections waited for it", e->name,
	    (e->busy_at - e->t0) * 1000, 1 + t->pool->n, t->conf->sessions,
	    e->nheld);
	timer_add_secs(e->idle_timer, tunnel_sessions_period(t));
	tunnel_sessions_release(e, e->s);
	tunnel_sessions_up_grow(t);
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
	tunnel_sessions_free(e, e->up ? PC_LOST : PC_SETUP_FAILED);
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

/* A new extra session, if the server's set-up limit has a slot for it: a
 * new connection would wait that long, the opens queued take queued, one
 * after another (seconds). */
static struct extra *
tunnel_sessions_start(struct tunnel *t, double wait, double queued)
{
	struct tunnel_pool *p = tunnel_sessions_pool(t);
	struct setup_slots *slot;
	struct extra *e, *x;

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
	e->t0 = mono_now();
	e->idle_timer = evtimer_new(tunnel_base(t), tunnel_sessions_idle_cb,
	    e);
	TAILQ_FOREACH(x, &p->extras, entry) {
		if (x->id > e->id)
			break;
	}
	if (x != NULL)
		TAILQ_INSERT_BEFORE(x, e, entry);
	else
		TAILQ_INSERT_TAIL(&p->extras, e, entry);
	p->n++;
	p->nsetup++;
	t->pool_counts.started++;
	log_info("%s: extra session starting: opens queue on every session, "
	    "a new one would wait %.0f ms, the queued take %.0f ms, a set-up "
	    "%.0f ms (%u of at most %d)", e->name, wait * 1000, queued * 1000,
	    tunnel_sessions_setup_cost(t) * 1000, 1 + p->n,
	    t->conf->sessions);
	e->s = tunnel_ssh_extra(t, e->name, &tunnel_sessions_ops, e);
	return e;
}

/* The extra session goes, with its connections (its held ones are
 * released before), counted under why. */
static void
tunnel_sessions_free(struct extra *e, enum pool_close why)
{
	struct tunnel_pool *p = e->t->pool;

	e->t->pool_counts.closed[why]++;
	tunnel_sessions_release(e, NULL);
	TAILQ_REMOVE(&p->extras, e, entry);
	p->n--;
	if (!e->up)
		p->nsetup--;
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
	struct extra *e, *next;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH_SAFE(e, &t->pool->extras, entry, next) {
		log_info("%s: extra session closed with the tunnel's", e->name);
		tunnel_sessions_free(e, PC_TUNNEL);
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
	json_object_object_add(o, "open_ms", session_open_time(s) > 0 ?
	    json_object_new_double(session_open_time(s) * 1000) : NULL);
	tunnel_session_transport(o, s);
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

static const char *const pool_close_names[PC_COUNT] = {
	[PC_IDLE] = "idle",
	[PC_LOST] = "lost",
	[PC_SETUP_FAILED] = "setup-failed",
	[PC_SESSIONS] = "sessions",
	[PC_TUNNEL] = "tunnel",
	[PC_OPEN_TIMEOUT] = "open-timeout",
};

/* What the pool did, as status shows it: extras started (why: "queue")
 * and closed (by why), being set up, and the costs it weighs. */
json_object *
tunnel_sessions_pool_status(struct tunnel *t)
{
	const struct pool_counts *pc = &t->pool_counts;
	json_object *o = json_object_new_object(), *started, *closed;
	double each;
	int i;

	started = json_object_new_object();
	json_object_object_add(started, "queue",
	    json_object_new_int64((int64_t)pc->started));
	json_object_object_add(o, "started", started);
	closed = json_object_new_object();
	for (i = 0; i < PC_COUNT; i++)
		json_object_object_add(closed, pool_close_names[i],
		    json_object_new_int64((int64_t)pc->closed[i]));
	json_object_object_add(o, "closed", closed);
	json_object_object_add(o, "in_setup", json_object_new_int(
	    t->pool != NULL ? (int)t->pool->nsetup : 0));
	json_object_object_add(o, "setup_ms", pc->setup_avg > 0 ?
	    json_object_new_double(pc->setup_avg * 1000) : NULL);
	each = session_is_established(t->session) ?
	    tunnel_sessions_open_dflt(t) : 0;
	json_object_object_add(o, "open_ms", each > 0 ?
	    json_object_new_double(each * 1000) : NULL);
	return o;
}

/*
 * On the tunnel's worker: a session's row (tunnel_sessions.c) gets what
 * its transport says - the opens queued or in flight, how long the one in
 * flight has waited, the open that is stuck (its target and age, once it
 * has waited OPEN_STUCK), and the channels closed for making no progress.
 */
void
tunnel_session_transport(json_object *o, struct session *s)
{
	json_object *stuck = NULL;
	char target[300];
	double oldest, age;
	unsigned n;

	n = session_opens(s, &oldest);
	json_object_object_add(o, "opens", json_object_new_int64(n));
	json_object_object_add(o, "oldest_open_s", oldest > 0 ?
	    json_object_new_double(oldest) : NULL);
	if (session_open_stuck(s, &age, target, sizeof target)) {
		stuck = json_object_new_object();
		json_object_object_add(stuck, "target",
		    json_object_new_string(target));
		json_object_object_add(stuck, "age_s",
		    json_object_new_double(age));
	}
	json_object_object_add(o, "stuck_open", stuck);
	json_object_object_add(o, "channels_stalled", json_object_new_int64(
	    (int64_t)session_channels_stalled(s)));
}

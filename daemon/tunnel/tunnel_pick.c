/*
 * tunnel_pick.c - which of a tunnel's sessions a new connection goes on,
 * and when the pool grows: the session where an open waits least, by each
 * session's measured open time, without starting an extra one that would
 * not be up before the others are free (doc/internals.md, "The pool of
 * sessions").
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tunnel.h"
#include "tunnel_pool.h"

/* --- choosing a session -------------------------------------------------- */

/* Seconds an open takes on the tunnel's session, before one is measured
 * there too. */
double
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

/*
 * The same on an extra session, being set up or not.  One being set up
 * has what is left of a set-up to go; one set up for longer than a set-up
 * takes, at least as long again as it is over: the longer a server has
 * not answered, the longer it is taken to need (session_open_wait()
 * weighs an open in flight by its age the same way).
 */
static double
tunnel_sessions_wait_in(struct pool_member *e, double each, double *work)
{
	double setup = tunnel_sessions_setup_cost(e->t);
	double took = mono_now() - e->t0, left;

	if (e->up)
		return tunnel_sessions_wait_on(e->t, e->s, each, work);
	*work = e->nheld * each;
	left = took < setup ? setup - took : took - setup;
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
	unsigned n = p != NULL ? 1 + p->nextra : 1;

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
tunnel_sessions_usable(struct pool_member *e)
{
	return !e->up || (session_is_established(e->s) &&
	    !session_open_timed_out(e->s));
}

/* The extras a new connection may go to, lowest id first: those within
 * sessions (after a reload lowered it, the others take no new ones). */
#define FOREACH_USABLE(e, t, i)						\
	for ((i) = 2, (e) = tunnel_sessions_extras(t);			\
	    (e) != NULL && (i) <= (unsigned)(t)->conf->sessions;	\
	    (e) = TAILQ_NEXT((e), entry), (i)++)

/*
 * Seconds the opens queued on the tunnel's sessions take, one after
 * another (each: an open's time where none is measured); *best is the
 * extra where a new connection waits least (NULL: the tunnel's session),
 * *best_wait that wait.
 */
double
tunnel_sessions_queued(struct tunnel *t, double each, struct pool_member **best,
    double *best_wait)
{
	struct pool_member *e;
	double wait, work, queued;
	unsigned i;

	*best = NULL;
	*best_wait = tunnel_sessions_wait_on(t, t->session, each, &queued);
	FOREACH_USABLE(e, t, i) {
		if (!tunnel_sessions_usable(e))
			continue;
		wait = tunnel_sessions_wait_in(e, each, &work);
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
struct pool_member *
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
	struct pool_member *e;
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
	struct pool_member *e;
	struct session *own;
	unsigned i;

	if (t->conf->sessions <= 1 && tunnel_sessions_extras(t) == NULL)
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
static struct session *
tunnel_sessions_pick(struct tunnel *t, struct forward *f, int fd,
    const char *host, int port)
{
	struct pool_member *e, *best;
	struct session *s;
	double each, best_wait, work, queued;

	if ((s = tunnel_sessions_first(t, f)) != NULL)
		return s;
	each = tunnel_sessions_open_dflt(t);
	queued = tunnel_sessions_queued(t, each, &best, &best_wait);
	if ((e = tunnel_sessions_grow(t, best_wait, queued)) != NULL &&
	    tunnel_sessions_wait_in(e, each, &work) < best_wait)
		best = e;
	if (best == NULL)
		return t->session;
	if (best->up)
		return best->s;
	tunnel_sessions_enqueue(f, best, fd, host, port);
	return NULL;
}

/* A connection, while the tunnel's session is established: on the session
 * picked for it, or held for an extra session started for it.  A SOCKS
 * client waits on the tunnel's session until its request is read. */
void
tunnel_sessions_dispatch(struct forward *f, int fd, const char *host,
    int port)
{
	struct session *s;

	if (f->spec->kind == FWD_DYNAMIC)
		forward_serve(f, f->tunnel->session, fd, host, port);
	else if ((s = tunnel_sessions_pick(f->tunnel, f, fd, host, port)) !=
	    NULL)
		forward_serve(f, s, fd, host, port);
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
	struct pool_member *e, *best;
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
		wait = tunnel_sessions_wait_in(e, each, &work);
		if (wait < best_wait) {
			s = e->s;
			best_wait = wait;
		}
	}
	return s;
}


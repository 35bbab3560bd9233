/*
 * tunnel_sessions.c - the pool of a tunnel's SSH sessions: its own session
 * (the first member, id 1: remote forwards, keepalives, the tunnel's
 * state) and, with sessions = N, up to N - 1 extra ones (2, 3, ...) that
 * carry its -L and -D connections when opens queue on the others; which
 * session a new connection goes on; and the one queue of connections
 * waiting for a session, the tunnel's own while it is being (re-)
 * established or an extra one while it is being set up.  How the pool
 * grows and shrinks, and why: doc/internals.md, "The pool of sessions".
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunnel.h"
#include "tunnel_pool.h"

static void		 tunnel_sessions_free(struct pool_member *,
			    enum pool_close);

static struct tunnel_pool *
tunnel_sessions_pool(struct tunnel *t)
{
	if (t->pool == NULL) {
		t->pool = xcalloc(1, sizeof *t->pool);
		TAILQ_INIT(&t->pool->members);
		TAILQ_INIT(&t->pool->waiting);
	}
	return t->pool;
}

/* A message about the pool's member name (NAME#2): "NAME#2: ...", with
 * the tunnel's TUNNEL= in the journal. */
static void __attribute__((format(printf, 4, 5)))
tunnel_sessions_log(struct tunnel *t, const char *name, int level,
    const char *fmt, ...)
{
	struct log_fields lf = { t->name, NULL, NULL };
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, &lf, name, fmt, ap);
	va_end(ap);
}

/* The pool goes once it has neither a session nor a waiting connection
 * (at the end of an entry point: nothing uses it after). */
static void
tunnel_sessions_tidy(struct tunnel *t)
{
	struct tunnel_pool *p = t->pool;

	if (p != NULL && TAILQ_EMPTY(&p->members) &&
	    TAILQ_EMPTY(&p->waiting)) {
		free(p);
		t->pool = NULL;
	}
}

/* The tunnel's own session's member, or NULL. */
static struct pool_member *
tunnel_sessions_own(struct tunnel *t)
{
	struct pool_member *m;

	if (t->pool == NULL || (m = TAILQ_FIRST(&t->pool->members)) == NULL)
		return NULL;
	return m->id == OWN_ID ? m : NULL;
}

/* The first extra session, or NULL; the others follow by id. */
struct pool_member *
tunnel_sessions_extras(struct tunnel *t)
{
	struct pool_member *m;

	if (t->pool == NULL || (m = TAILQ_FIRST(&t->pool->members)) == NULL)
		return NULL;
	return m->id == OWN_ID ? TAILQ_NEXT(m, entry) : m;
}

/* The session callbacks' questions (tunnel_ssh.c). */
struct tunnel *
tunnel_sessions_tunnel(struct pool_member *m)
{
	return m->t;
}

struct session *
tunnel_sessions_session(struct pool_member *m)
{
	return m->s;
}

int
tunnel_sessions_is_own(struct pool_member *m)
{
	return m == tunnel_sessions_own(m->t);
}

/* The lowest id not in use: names stay small as sessions come and go. */
static unsigned
tunnel_sessions_id(struct tunnel_pool *p)
{
	struct pool_member *m;
	unsigned id;

	for (id = OWN_ID + 1;; id++) {
		TAILQ_FOREACH(m, &p->members, entry) {
			if (m->id == id)
				break;
		}
		if (m == NULL)
			return id;
	}
}

/* A new member, in its place by id, its session started. */
static struct pool_member *
tunnel_sessions_member(struct tunnel *t, unsigned id, const char *name)
{
	struct tunnel_pool *p = tunnel_sessions_pool(t);
	struct pool_member *m = xcalloc(1, sizeof *m), *x;

	m->t = t;
	m->id = id;
	m->name = xstrdup(name);
	m->t0 = mono_now();
	TAILQ_FOREACH(x, &p->members, entry) {
		if (x->id > m->id)
			break;
	}
	if (x != NULL)
		TAILQ_INSERT_BEFORE(x, m, entry);
	else
		TAILQ_INSERT_TAIL(&p->members, m, entry);
	m->s = tunnel_ssh_session(t, m, m->name);
	return m;
}

/* The member and its session go (what waited for it is released before). */
static void
tunnel_sessions_member_free(struct pool_member *m)
{
	TAILQ_REMOVE(&m->t->pool->members, m, entry);
	session_free(m->s);
	tunnel_setup_extra_done(m->slot);
	if (m->idle_timer != NULL)
		event_free(m->idle_timer);
	free(m->name);
	free(m);
}

/* --- the tunnel's own session -------------------------------------------- */

/* Seconds setting up a session takes the tunnel: its set-ups measured. */
double
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

/* The tunnel's own session starts (TE_SLOT): the pool's first member. */
void
tunnel_sessions_own_start(struct tunnel *t)
{
	if (tunnel_sessions_own(t) != NULL) {
		log_error("BUG: %s: a second session", t->name);
		return;
	}
	t->session = tunnel_sessions_member(t, OWN_ID, t->name)->s;
}

/* The tunnel's own session is up: its set-up is measured. */
void
tunnel_sessions_own_up(struct tunnel *t)
{
	struct pool_member *m = tunnel_sessions_own(t);

	if (m == NULL || m->up)
		return;
	m->up = 1;
	tunnel_sessions_setup_took(t, mono_now() - m->t0);
}

/* --- connections waiting for a session ----------------------------------- */

static void
tunnel_sessions_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* f's connection waits for the extra m being set up, or (m NULL) for the
 * tunnel's own session, at most connect_timeout. */
void
tunnel_sessions_enqueue(struct forward *f, struct pool_member *m, int fd,
    const char *host, int port)
{
	struct tunnel *t = f->tunnel;
	struct forward_waiter *w = xcalloc(1, sizeof *w);

	w->f = f;
	w->m = m;
	w->fd = fd;
	snprintf(w->host, sizeof w->host, "%s", host);
	w->port = port;
	if (m == NULL) {
		w->timer = evtimer_new(tunnel_base(t),
		    tunnel_sessions_timeout_cb, w);
		timer_add_secs(w->timer, t->conf->connect_timeout);
	} else
		m->nheld++;
	TAILQ_INSERT_TAIL(&tunnel_sessions_pool(t)->waiting, w, entry);
	f->nwaiters++;
}

/* The connection leaves the queue: served (its socket kept) or closed. */
static void
tunnel_sessions_dequeue(struct forward_waiter *w, int close_fd)
{
	TAILQ_REMOVE(&w->f->tunnel->pool->waiting, w, entry);
	w->f->nwaiters--;
	if (w->m != NULL)
		w->m->nheld--;
	if (close_fd)
		close(w->fd);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/* The first connection waiting for m (NULL: for the tunnel's session),
 * of the forward f or (f NULL) of any. */
static struct forward_waiter *
tunnel_sessions_waiting(struct tunnel *t, struct pool_member *m,
    const struct forward *f)
{
	struct forward_waiter *w;

	if (t->pool == NULL)
		return NULL;
	TAILQ_FOREACH(w, &t->pool->waiting, entry) {
		if (w->m == m && (f == NULL || w->f == f))
			return w;
	}
	return NULL;
}

static void
tunnel_sessions_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_waiter *w = arg;
	struct forward *f = w->f;
	struct tunnel *t = f->tunnel;

	log_forward(f, LOG_LVL_INFO, "%s from %s:%d: no session within %gs, "
	    "closed", f->spec->spec, w->host, w->port,
	    t->conf->connect_timeout);
	tunnel_sessions_dequeue(w, 1);
	tunnel_sessions_tidy(t);
}

/*
 * A connection while the session is being (re-)established waits for it,
 * at most connect_timeout; unless the tunnel is not coming back by itself
 * (down, failed) or too many wait already.
 */
static void
tunnel_sessions_wait_own(struct forward *f, int fd, const char *host,
    int port)
{
	struct tunnel *t = f->tunnel;

	if ((t->state != TS_CONNECTING && t->state != TS_BACKOFF) ||
	    f->nwaiters >= WAIT_MAX) {
		log_forward(f, LOG_LVL_INFO, "%s from %s:%d: refused, the "
		    "tunnel is %s%s", f->spec->spec, host, port,
		    tunnel_state_name(t->state), f->nwaiters >= WAIT_MAX ?
		    " and too many connections wait" : "");
		close(fd);
		return;
	}
	tunnel_sessions_enqueue(f, NULL, fd, host, port);
	log_forward(f, LOG_LVL_DEBUG, "%s from %s:%d: waiting for the session",
	    f->spec->spec, host, port);
}

/* A connection a forward accepted: on a session, or waiting for one. */
void
tunnel_sessions_accept(struct forward *f, int fd, const char *host, int port)
{
	if (session_is_established(f->tunnel->session))
		tunnel_sessions_dispatch(f, fd, host, port);
	else
		tunnel_sessions_wait_own(f, fd, host, port);
}

/* The tunnel's session is up: f's connections that waited for it go on
 * the sessions picked for them. */
void
tunnel_sessions_serve_waiting(struct forward *f)
{
	struct tunnel *t = f->tunnel;
	struct forward_waiter *w;
	char host[INET6_ADDRSTRLEN];
	int fd, port;

	while ((w = tunnel_sessions_waiting(t, NULL, f)) != NULL) {
		fd = w->fd;
		port = w->port;
		snprintf(host, sizeof host, "%s", w->host);
		tunnel_sessions_dequeue(w, 0);
		tunnel_sessions_dispatch(f, fd, host, port);
	}
	tunnel_sessions_tidy(t);
}

/* f stops listening: its connections waiting for the tunnel's session
 * are closed (those held for an extra are served when it is up). */
void
tunnel_sessions_unwait(struct forward *f)
{
	struct forward_waiter *w;

	while ((w = tunnel_sessions_waiting(f->tunnel, NULL, f)) != NULL)
		tunnel_sessions_dequeue(w, 1);
	tunnel_sessions_tidy(f->tunnel);
}

/* The connections of f's held for extras being set up: they count in
 * f's status (its budgets count every waiting one, f->nwaiters). */
unsigned
tunnel_sessions_held(struct tunnel *t, const struct forward *f)
{
	struct forward_waiter *w;
	unsigned n = 0;

	if (t->pool == NULL)
		return 0;
	TAILQ_FOREACH(w, &t->pool->waiting, entry) {
		if (w->m != NULL && w->f == f)
			n++;
	}
	return n;
}

/* The extra session is up (s) or failed (s NULL): what it held goes on it,
 * or on the tunnel's session, or is closed if there is none. */
static void
tunnel_sessions_release(struct pool_member *e, struct session *s)
{
	struct tunnel *t = e->t;
	struct forward_waiter *w;
	struct forward *f;
	char host[INET6_ADDRSTRLEN];
	int fd, port;

	if (s == NULL && session_is_established(t->session))
		s = t->session;
	while ((w = tunnel_sessions_waiting(t, e, NULL)) != NULL) {
		if (s == NULL) {
			tunnel_sessions_dequeue(w, 1);
			continue;
		}
		f = w->f;
		fd = w->fd;
		port = w->port;
		snprintf(host, sizeof host, "%s", w->host);
		tunnel_sessions_dequeue(w, 0);
		forward_serve(f, s, fd, host, port);
	}
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
tunnel_sessions_surplus(struct pool_member *e)
{
	struct pool_member *x;
	unsigned i = 1;

	for (x = tunnel_sessions_extras(e->t); x != NULL;
	    x = TAILQ_NEXT(x, entry)) {
		i++;
		if (x == e)
			break;
	}
	return i > (unsigned)e->t->conf->sessions;
}

static void
tunnel_sessions_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_member *e = arg;
	struct tunnel *t = e->t;
	unsigned channels, opening;
	double now = mono_now();

	session_load(e->s, &channels, &opening);
	if (channels > 0)
		e->busy_at = now;
	else if (session_open_timed_out(e->s)) {
		tunnel_sessions_log(t, e->name, LOG_LVL_INFO, "extra session "
		    "closed: libssh2 gave up an open on it, which the server "
		    "may still hold");
		tunnel_sessions_free(e, PC_OPEN_TIMEOUT);
		return;
	} else if (tunnel_sessions_surplus(e)) {
		tunnel_sessions_log(t, e->name, LOG_LVL_INFO, "extra session "
		    "closed: sessions is %d now", t->conf->sessions);
		tunnel_sessions_free(e, PC_SESSIONS);
		return;
	} else if (now - e->busy_at >= t->conf->sessions_idle) {
		tunnel_sessions_log(t, e->name, LOG_LVL_INFO, "extra session "
		    "closed: no connections for %gs", t->conf->sessions_idle);
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
	struct pool_member *best;
	double best_wait;

	tunnel_sessions_grow(t, 0, tunnel_sessions_queued(t,
	    tunnel_sessions_open_dflt(t), &best, &best_wait));
}

/* An extra session is up: what waited for it goes on it. */
void
tunnel_sessions_extra_up(struct pool_member *e)
{
	struct tunnel *t = e->t;

	tunnel_setup_extra_done(e->slot);
	e->slot = NULL;
	e->up = 1;
	t->pool->nsetup--;
	e->busy_at = mono_now();
	tunnel_sessions_setup_took(t, e->busy_at - e->t0);
	tunnel_sessions_log(t, e->name, LOG_LVL_INFO, "extra session up in "
	    "%.0f ms (%u of at most %d for the tunnel), %u connections "
	    "waited for it", (e->busy_at - e->t0) * 1000, 1 + t->pool->nextra, t->conf->sessions,
	    e->nheld);
	timer_add_secs(e->idle_timer, tunnel_sessions_period(t));
	tunnel_sessions_release(e, e->s);
	tunnel_sessions_up_grow(t);
}

/* An extra session is lost, or failed to come up: its connections are
 * closed, what waited for it goes on the tunnel's session. */
void
tunnel_sessions_extra_lost(struct pool_member *e, enum session_error class,
    const char *why)
{
	struct tunnel *t = e->t;
	unsigned channels, opening;
	double quiet;

	session_load(e->s, &channels, &opening);
	quiet = class == SE_NETWORK ? t->conf->reconnect_min :
	    t->conf->reconnect_max;
	t->pool->quiet_until = mono_now() + quiet;
	if (e->up)
		tunnel_sessions_log(t, e->name, LOG_LVL_WARNING, "extra "
		    "session lost (%s): its %u connections are closed, the "
		    "tunnel stays up; no new extra session for %gs", why,
		    channels, quiet);
	else
		tunnel_sessions_log(t, e->name, LOG_LVL_WARNING, "extra "
		    "session failed (%s): the %u connections that waited for "
		    "it go on the tunnel's session; no new extra session for "
		    "%gs", why, e->nheld, quiet);
	tunnel_sessions_release(e, NULL);
	tunnel_sessions_free(e, e->up ? PC_LOST : PC_SETUP_FAILED);
}

/* A new extra session, if the server's set-up limit has a slot for it: a
 * new connection would wait that long, the opens queued take queued, one
 * after another (seconds). */
struct pool_member *
tunnel_sessions_start(struct tunnel *t, double wait, double queued)
{
	struct tunnel_pool *p = tunnel_sessions_pool(t);
	struct setup_slots *slot;
	struct pool_member *e;
	unsigned id;
	char *name;

	if ((slot = tunnel_setup_extra(t)) == NULL) {
		log_debug("%s: no extra session: no set-up slot free for "
		    "%s port %d", t->name, tunnel_server_host(t),
		    tunnel_server_port(t));
		return NULL;
	}
	p->nextra++;
	p->nsetup++;
	t->pool_counts.started++;
	id = tunnel_sessions_id(p);
	xasprintf(&name, "%s#%u", t->name, id);
	tunnel_sessions_log(t, name, LOG_LVL_INFO, "extra session starting: "
	    "opens queue on every session, a new one would wait %.0f ms, the "
	    "queued take %.0f ms (an open %.2f ms), a set-up %.0f ms (%u of "
	    "at most %d)", wait * 1000, queued * 1000,
	    tunnel_sessions_open_dflt(t) * 1000,
	    tunnel_sessions_setup_cost(t) * 1000, 1 + p->nextra,
	    t->conf->sessions);
	e = tunnel_sessions_member(t, id, name);
	free(name);
	e->slot = slot;
	e->idle_timer = evtimer_new(tunnel_base(t), tunnel_sessions_idle_cb,
	    e);
	return e;
}

/* The extra session goes, with its connections (its held ones are
 * released before), counted under why. */
static void
tunnel_sessions_free(struct pool_member *e, enum pool_close why)
{
	struct tunnel_pool *p = e->t->pool;

	e->t->pool_counts.closed[why]++;
	tunnel_sessions_release(e, NULL);
	p->nextra--;
	if (!e->up)
		p->nsetup--;
	tunnel_sessions_member_free(e);
}

/* --- the tunnel's side --------------------------------------------------- */

/* The tunnel's session ends: every extra session goes, with what it held
 * (nothing serves it now), and then the tunnel's own. */
void
tunnel_sessions_clear(struct tunnel *t)
{
	struct pool_member *e, *next, *own;

	for (e = tunnel_sessions_extras(t); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		tunnel_sessions_log(t, e->name, LOG_LVL_INFO, "extra session "
		    "closed with the tunnel's");
		tunnel_sessions_free(e, PC_TUNNEL);
	}
	if ((own = tunnel_sessions_own(t)) != NULL)
		tunnel_sessions_member_free(own);
	t->session = NULL;
	if (t->pool != NULL)
		t->pool->quiet_until = 0;	/* a new session, a new start */
	tunnel_sessions_tidy(t);
}

/* reload: the sessions take the new configuration. */
void
tunnel_sessions_reconf(struct tunnel *t)
{
	struct pool_member *m;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH(m, &t->pool->members, entry)
		tunnel_ssh_set_params(t, m->s, m->name);
}

/* reload: keepalive_interval or keepalive_count changed: the extra
 * sessions re-arm their keepalives too (after tunnel_sessions_reconf). */
void
tunnel_sessions_rearm(struct tunnel *t)
{
	struct pool_member *e;

	for (e = tunnel_sessions_extras(t); e != NULL; e = TAILQ_NEXT(e, entry))
		session_keepalive_rearm(e->s);
}

/* The forward goes (reload): its waiting connections are closed, those on
 * extra sessions go on without it. */
void
tunnel_sessions_forget(struct tunnel *t, struct forward *f)
{
	struct forward_waiter *w, *next;
	struct pool_member *e;

	if (t->pool == NULL)
		return;
	TAILQ_FOREACH_SAFE(w, &t->pool->waiting, entry, next) {
		if (w->f == f)
			tunnel_sessions_dequeue(w, 1);
	}
	for (e = tunnel_sessions_extras(t); e != NULL; e = TAILQ_NEXT(e, entry))
		session_forget_owner(e->s, f);
	tunnel_sessions_tidy(t);
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
	struct pool_member *e;

	if (t->session == NULL)
		return a;
	json_object_array_add(a, tunnel_sessions_one(1, "tunnel", t->session,
	    session_is_established(t->session), 0));
	for (e = tunnel_sessions_extras(t); e != NULL; e = TAILQ_NEXT(e, entry))
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

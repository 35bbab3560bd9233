/*
 * tunnel.c - the per-tunnel state machine of SPEC.md, written as one.
 * What a tunnel holds - its configuration and its forwards - changes only
 * here and in tunnel_reconf.c (a reload's two steps); the main thread's
 * side (the list, creation, commands, the news of a change) is
 * tunnel_main.c.
 *
 * Events (enum tunnel_event) come from the control socket through the main
 * thread (up, down, restart), from the session (up, lost with the class of
 * its error), from the forwards (every one up, answers awaited, one
 * failed: forward_set_state() tells tunnel_forward_changed()), from the
 * set-up limit (a slot, tunnel_setup.c) and from the retry timer.
 * tunnel_fsm_next() is the transition table, pure; tunnel_fsm() looks an
 * event up, runs its own action and changes state with
 * tunnel_change_state(), which runs the entry actions (the session freed,
 * the set-up slot given back, the retry timer armed and cancelled, the
 * forwards started and stopped), logs "old -> new" by name and posts the
 * change to the main thread.  An event the table does not allow is
 * logged ("BUG: ...") and ignored.
 *
 *   down ----up----> connecting --session up, forwards--> up | degraded
 *   connecting | up | degraded --lost--> backoff --retry--> connecting
 *   connecting | up | degraded --lost, fatal--> failed --up--> connecting
 *   up <--forwards--> degraded (--retry: the failed listeners again)
 *   any --down--> down;  any --restart--> down --> connecting
 *
 * Servers (host = [ ... ]): a tunnel is on one server of its list at a
 * time, t->server.  When its session is lost, the next attempt goes to the
 * next server (round the list) at once, without a delay; when every server
 * has been tried once since the last stable session (a round), the backoff
 * takes one step and the next attempt waits for it: a round counts as one
 * failure, so a dead list is tried at most once per backoff delay.  A
 * tunnel never goes back to the first server by itself: it stays on the
 * server that works until that one fails; up from down or failed, restart,
 * and a reload that changes the list start again from the first.  A
 * session replaced because the network changed (tunnel_session_replace())
 * is retried at once on the same server, and is not a failure.
 *
 * A tunnel lives on one worker thread (worker.c); the main thread reaches
 * it through worker_send() and worker_call() (tunnel_main.c).  The
 * session, which may read key files, starts from the tunnel's own event
 * (ev_begin), not inside a job the main thread waits for.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel.h"
#include "tunnel_priv.h"


const char *
tunnel_state_name(enum tunnel_state st)
{
	switch (st) {
	case TS_DOWN:
		return "down";
	case TS_CONNECTING:
		return "connecting";
	case TS_UP:
		return "up";
	case TS_DEGRADED:
		return "degraded";
	case TS_BACKOFF:
		return "backoff";
	case TS_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *
tunnel_event_name(enum tunnel_event ev)
{
	switch (ev) {
	case TE_UP:
		return "up requested";
	case TE_DOWN:
		return "down requested";
	case TE_RESTART:
		return "restart requested";
	case TE_SLOT:
		return "set-up slot";
	case TE_SESSION_UP:
		return "session up";
	case TE_LOST:
		return "session lost";
	case TE_LOST_AUTH:
		return "session lost (authentication)";
	case TE_LOST_FATAL:
		return "session lost (fatal)";
	case TE_FWD_UP:
		return "forwards up";
	case TE_FWD_PENDING:
		return "forwards pending";
	case TE_FWD_FAILED:
		return "forward failed";
	case TE_RETRY:
		return "retry timer";
	}
	return "unknown event";
}

/* --- the transition table ------------------------------------------------ */

/* A session is being set up or is established. */
static int
tunnel_state_live(enum tunnel_state st)
{
	return st == TS_CONNECTING || st == TS_UP || st == TS_DEGRADED;
}

/*
 * The state that event ev leads to from st: 0 and *next, or -1 when ev
 * cannot happen in st (a bug).  An event that changes nothing leads back
 * to st.  The forward events come only while a session is established
 * (tunnel_forward_changed() sees to it); in connecting that is the forward
 * set-up, where pending answers keep it connecting.
 */
int
tunnel_fsm_next(enum tunnel_state st, enum tunnel_event ev,
    enum tunnel_state *next)
{
	*next = st;
	switch (ev) {
	case TE_UP:
		if (!tunnel_state_live(st))
			*next = TS_CONNECTING;
		return 0;
	case TE_DOWN:
		*next = TS_DOWN;
		return 0;
	case TE_RESTART:
		*next = TS_CONNECTING;
		return 0;
	case TE_SLOT:
	case TE_SESSION_UP:
		return st == TS_CONNECTING ? 0 : -1;
	case TE_LOST:
	case TE_LOST_AUTH:
		*next = TS_BACKOFF;
		return tunnel_state_live(st) ? 0 : -1;
	case TE_LOST_FATAL:
		*next = TS_FAILED;
		return tunnel_state_live(st) ? 0 : -1;
	case TE_FWD_UP:
		*next = TS_UP;
		return tunnel_state_live(st) ? 0 : -1;
	case TE_FWD_PENDING:
		if (st == TS_UP || st == TS_DEGRADED)
			*next = TS_UP;	/* a forward added, or asked again */
		return tunnel_state_live(st) ? 0 : -1;
	case TE_FWD_FAILED:
		*next = TS_DEGRADED;
		return tunnel_state_live(st) ? 0 : -1;
	case TE_RETRY:
		if (st == TS_BACKOFF)
			*next = TS_CONNECTING;
		return st == TS_BACKOFF || st == TS_DEGRADED ? 0 : -1;
	}
	return -1;
}

/*
 * The delay before attempt n+1 after n failures in a row: exponential from
 * reconnect_min up to reconnect_max, with full jitter between reconnect_min
 * and that ceiling, so that tunnels that fell together do not come back in
 * step.  Authentication failures start at AUTH_RETRY_MIN instead: sshd
 * counts them against the source address (PerSourcePenalties, MaxStartups).
 */
double
tunnel_backoff(const struct tunnel_conf *tc, unsigned attempts,
    enum session_error class)
{
	double lo = tc->reconnect_min, hi = tc->reconnect_max;

	if (class == SE_AUTH) {
		lo = lo > AUTH_RETRY_MIN ? lo : AUTH_RETRY_MIN;
		hi = hi > lo ? hi : lo;
	}
	return backoff_delay(lo, hi, attempts);
}

/* --- the state change and its entry actions ------------------------------ */

static void
tunnel_set_error(struct tunnel *t, const char *error)
{
	char *old = t->last_error;

	t->last_error = error != NULL ? xstrdup(error) : NULL;
	free(old);
}

static void
tunnel_session_end(struct tunnel *t)
{
	size_t i;

	tunnel_sessions_clear(t);
	t->up_at = 0;
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_session_lost(t->fwds[i]);
		if (t->fwds[i]->state == FS_UP)
			forward_set_state(t->fwds[i], FS_PENDING,
			    "the session is gone");
	}
}

/* Entering connecting: listeners first, then a set-up slot; the session
 * starts from ev_begin, in the worker's loop. */
static void
tunnel_connect(struct tunnel *t)
{
	size_t i;

	for (i = 0; i < t->nfwds; i++) {
		if (t->fwds[i]->nlfds == 0)
			forward_start(t->fwds[i]);
	}
	if (tunnel_setup_enter(t))
		event_active(t->ev_begin, EV_TIMEOUT, 0);
}

static void
tunnel_arm_retry(struct tunnel *t, double delay)
{
	timer_add_secs(t->retry_timer, delay);
	t->next_retry = time(NULL) + (time_t)ceil(delay);
}

/* In degraded: a listener here that failed is tried again (the remote
 * kinds keep their own schedule). */
static void
tunnel_arm_forward_retry(struct tunnel *t)
{
	size_t i;

	for (i = 0; i < t->nfwds; i++) {
		if (t->fwds[i]->state == FS_FAILED &&
		    !forward_is_remote(t->fwds[i]))
			break;
	}
	if (i < t->nfwds && !evtimer_pending(t->retry_timer, NULL))
		tunnel_arm_retry(t, t->conf->reconnect_max < FORWARD_RETRY_MAX ?
		    t->conf->reconnect_max : FORWARD_RETRY_MAX);
}

/*
 * The one place that changes state.  What the new state may not keep is
 * let go (the set-up slot outside connecting, the session outside the
 * live states, the retry timer outside backoff and degraded), then the
 * new state's entry actions run, then the change is logged by name and
 * posted to the main thread.  Called with new == old, it runs the actions
 * of staying (degraded arms its retry again, down closes what is open).
 */
static void
tunnel_change_state(struct tunnel *t, enum tunnel_state new,
    const char *reason)
{
	struct log_fields lf;
	enum tunnel_state old = t->state;
	char *server;
	size_t i;

	t->state = new;
	if (new != TS_CONNECTING) {
		tunnel_setup_leave(t);
		event_del(t->ev_begin);
	}
	if (!tunnel_state_live(new))
		tunnel_session_end(t);
	if (new != TS_BACKOFF && new != TS_DEGRADED) {
		evtimer_del(t->retry_timer);
		t->next_retry = 0;
	}
	switch (new) {
	case TS_DOWN:
		for (i = 0; i < t->nfwds; i++) {
			forward_stop(t->fwds[i]);
			forward_set_state(t->fwds[i], FS_PENDING,
			    "the tunnel is down");
		}
		break;
	case TS_FAILED:
		for (i = 0; i < t->nfwds; i++)
			forward_stop(t->fwds[i]);
		break;
	case TS_CONNECTING:
		if (old != TS_CONNECTING)
			tunnel_connect(t);
		break;
	case TS_BACKOFF:
		tunnel_arm_retry(t, t->retry_delay);
		break;
	case TS_DEGRADED:
		tunnel_arm_forward_retry(t);
		break;
	case TS_UP:
		break;
	}
	if (old == new)
		return;
	t->since = time(NULL);
	server = tunnel_server_string(t);
	lf.tunnel = t->name;
	lf.state = tunnel_state_name(new);
	lf.forward = NULL;
	log_fields(new == TS_FAILED || new == TS_BACKOFF || new == TS_DEGRADED ?
	    LOG_LVL_WARNING : LOG_LVL_NOTICE, &lf, "%s: %s -> %s%s%s%s, "
	    "server %s", t->name, tunnel_state_name(old),
	    tunnel_state_name(new), reason ? " (" : "", reason ? reason : "",
	    reason ? ")" : "", server);
	free(server);
	tunnel_post_change(t, old, reason);
}

/* --- the events' own actions --------------------------------------------- */

/* TE_SLOT: the session starts (it reads the key files: from the loop). */
static void
tunnel_session_begin(struct tunnel *t)
{
	tunnel_sessions_own_start(t);
}

/* TE_SESSION_UP: the slot goes to the next tunnel; the forwards start. */
static void
tunnel_forwards_session_up(struct tunnel *t)
{
	size_t i;

	t->up_at = mono_now();
	tunnel_sessions_own_up(t);
	if (session_address(t->session, 1, &t->peer) != 0)	/* netwatch.c */
		memset(&t->peer, 0, sizeof t->peer);
	tunnel_setup_leave(t);
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_request(t->fwds[i]);
		else if (t->fwds[i]->nlfds > 0) {
			forward_set_state(t->fwds[i], FS_UP, "session up");
			forward_session_up(t->fwds[i]);
		}
	}
}

/* TE_RETRY in degraded: the listeners here that failed, again. */
static void
tunnel_retry_listeners(struct tunnel *t)
{
	size_t i;

	for (i = 0; i < t->nfwds; i++) {
		if (t->fwds[i]->state == FS_FAILED &&
		    !forward_is_remote(t->fwds[i]))
			forward_start(t->fwds[i]);
	}
}

/* Did the session that ended hold: STABLE_PERIOD up, and (under
 * require_forwards, where a failed probe ends it) no forward whose every
 * probe failed?  Without require_forwards a probe's failure leaves the
 * session up: it held, degraded. */
static int
tunnel_was_stable(struct tunnel *t)
{
	size_t i;

	if (t->up_at <= 0 || mono_now() - t->up_at < STABLE_PERIOD)
		return 0;
	if (!t->conf->require_forwards)
		return 1;
	for (i = 0; i < t->nfwds; i++)
		if (!forward_probe_proven(t->fwds[i], t->up_at))
			return 0;
	return 1;
}

/*
 * TE_LOST, TE_LOST_AUTH: the next attempt's server and delay.  A session
 * replaced after a network change goes again at once, to the same server.
 * Otherwise the next server is tried at once, until a round of the list
 * has failed: then the backoff takes a step (a single server: every
 * failure is a round).  A session that stayed up for STABLE_PERIOD was
 * not a flap: the schedule starts again from the bottom - unless, under
 * require_forwards, a probe (probe_interval) dropped it with no probe of
 * that forward back before: a listener that never answers is judged only
 * at the probe's deadline (connect_timeout, at most 10 s, from 1 s after
 * the forward is up), which would hold each such session past
 * STABLE_PERIOD and retry at the bottom for ever.  Returns the reason to
 * show, to be freed.
 */
static char *
tunnel_schedule_retry(struct tunnel *t, enum session_error class,
    const char *reason)
{
	size_t n = t->conf->nservers > 0 ? t->conf->nservers : 1;
	char *why, *next;

	if (t->replace) {
		t->replace = 0;
		t->retry_delay = 0;
		return xstrdup(reason);
	}
	if (tunnel_was_stable(t)) {
		t->attempts = 0;
		t->round = 0;
	}
	t->server = (t->server + 1) % n;
	if (++t->round < n) {
		t->retry_delay = 0;
		next = tunnel_server_string(t);
		xasprintf(&why, "%s; trying %s next", reason, next);
		free(next);
		return why;
	}
	t->round = 0;
	t->attempts++;
	t->retry_delay = tunnel_backoff(t->conf, t->attempts, class);
	log_debug("%s: backoff step %u: the next attempt in %.2fs", t->name,
	    t->attempts, t->retry_delay);
	if (class == SE_AUTH)
		xasprintf(&why, "%s; retrying slowly (in %.0fs), as repeated "
		    "failures make sshd penalise this address", reason,
		    t->retry_delay);
	else if (n > 1)
		xasprintf(&why, "%s; every server tried (backoff step %u), "
		    "next round in %.2fs", reason, t->attempts,
		    t->retry_delay);
	else
		why = xstrdup(reason);
	return why;
}

/* From the top: the first server, no failure counted. */
static void
tunnel_first_server(struct tunnel *t)
{
	t->attempts = 0;
	t->server = 0;
	t->round = 0;
}

/*
 * Feed event ev to the tunnel's state machine; reason is for the log, the
 * events and last_error.  The tunnel's worker only.
 */
void
tunnel_fsm(struct tunnel *t, enum tunnel_event ev, const char *reason)
{
	enum tunnel_state next;
	char *why;

	if (tunnel_fsm_next(t->state, ev, &next) != 0) {
		log_error("BUG: %s: event \"%s\" in state %s%s%s, ignored",
		    t->name, tunnel_event_name(ev), tunnel_state_name(t->state),
		    reason != NULL ? ": " : "", reason != NULL ? reason : "");
		return;
	}
	log_tunnel(t, LOG_LVL_DEBUG, "%s in state %s", tunnel_event_name(ev),
	    tunnel_state_name(t->state));
	switch (ev) {
	case TE_UP:
		if (next == t->state)
			return;			/* wanted already */
		if (t->state == TS_BACKOFF)
			t->reconnects++;	/* cut short */
		else
			tunnel_first_server(t);
		break;
	case TE_DOWN:
		break;
	case TE_RESTART:
		tunnel_change_state(t, TS_DOWN, reason);
		tunnel_first_server(t);
		break;
	case TE_SLOT:
		tunnel_session_begin(t);
		return;
	case TE_SESSION_UP:
		tunnel_forwards_batch_begin(t);
		tunnel_forwards_session_up(t);
		tunnel_forwards_batch_end(t);
		return;
	case TE_LOST:
	case TE_LOST_AUTH:
		why = tunnel_schedule_retry(t, ev == TE_LOST_AUTH ? SE_AUTH :
		    SE_NETWORK, reason);
		tunnel_set_error(t, why);
		tunnel_change_state(t, next, why);
		free(why);
		return;
	case TE_LOST_FATAL:
		tunnel_set_error(t, reason);
		log_tunnel(t, LOG_LVL_ERROR, "%s", reason);
		break;
	case TE_FWD_UP:
	case TE_FWD_PENDING:
		if (next == TS_UP)
			tunnel_set_error(t, NULL);
		reason = NULL;
		break;
	case TE_FWD_FAILED:
		tunnel_set_error(t, reason);
		break;
	case TE_RETRY:
		t->next_retry = 0;
		if (t->state == TS_DEGRADED) {
			tunnel_forwards_batch_begin(t);
			tunnel_retry_listeners(t);
			tunnel_forwards_batch_end(t);
			return;
		}
		t->reconnects++;
		reason = "retry";
		break;
	}
	tunnel_change_state(t, next, reason);
}

/* --- the timer and the start of a session -------------------------------- */

void
tunnel_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	tunnel_fsm(arg, TE_RETRY, NULL);
}

void
tunnel_begin_cb(evutil_socket_t fd, short what, void *arg)
{
	tunnel_fsm(arg, TE_SLOT, NULL);
}

struct event_base *
tunnel_base(struct tunnel *t)
{
	return worker_base(t->worker);
}

/* --- the entry points: thin wrappers that feed events -------------------- */

/* Wanted: connect now (also cuts a backoff short). */
void
tunnel_start(struct tunnel *t, const char *why)
{
	tunnel_fsm(t, TE_UP, why);
}

/* Not wanted: close everything and stay down until started again. */
void
tunnel_stop(struct tunnel *t, const char *why)
{
	tunnel_fsm(t, TE_DOWN, why);
}

void
tunnel_session_up(struct tunnel *t)
{
	tunnel_fsm(t, TE_SESSION_UP, NULL);
}

/* The session ended; it is freed here, so reason is copied first. */
void
tunnel_session_lost(struct tunnel *t, enum session_error class,
    const char *reason)
{
	char *copy = xstrdup(reason);

	tunnel_fsm(t, class == SE_FATAL ? TE_LOST_FATAL : class == SE_AUTH ?
	    TE_LOST_AUTH : TE_LOST, copy);
	free(copy);
}

/*
 * The network changed under the session (netwatch.c): its local address is
 * gone.  It is replaced at once - backoff, and the retry without a delay,
 * on the same server - not counted as a failure.
 */
void
tunnel_session_replace(struct tunnel *t, const char *why)
{
	if (!tunnel_state_live(t->state))
		return;
	t->replace = 1;
	tunnel_fsm(t, TE_LOST, why);
	t->replace = 0;
}


/* The tunnel's worker: the server in use, or to be tried next. */
const char *
tunnel_server_host(struct tunnel *t)
{
	return config_server_host(t->conf, t->server);
}

int
tunnel_server_port(struct tunnel *t)
{
	return config_server_port(t->conf, t->server);
}

/* "host:port", to be freed. */
char *
tunnel_server_string(struct tunnel *t)
{
	return config_server_string(tunnel_server_host(t),
	    tunnel_server_port(t));
}

/*
 * require_forwards (ssh's ExitOnForwardFailure): a forward that could not
 * be established drops the session, which is retried with the backoff,
 * instead of leaving the tunnel degraded.  At set-up and later alike (a
 * forward added by a reload): the tunnel is up with all of them or not.
 */
static void
tunnel_forward_required(struct tunnel *t, struct forward *f)
{
	char *why;

	xasprintf(&why, "%s forward \"%s\" not established (require_forwards):"
	    " %s", fwdspec_kind_name(f->spec->kind), f->spec->spec,
	    f->last_error);
	tunnel_fsm(t, TE_LOST, why);
	free(why);
}

/*
 * A forward changed: every one up, or answers to remote forwards still
 * awaited, or one failed (a pending forward with an error was refused and
 * is asked for again: that counts as failed).  Only while a session is
 * established: otherwise the forwards are not the question.
 */
void
tunnel_forward_changed(struct tunnel *t)
{
	struct forward *f, *failed = NULL;
	int pending = 0;
	size_t i;

	if (!session_is_established(t->session))
		return;
	for (i = 0; i < t->nfwds; i++) {
		f = t->fwds[i];
		if (t->conf->require_forwards && f->requested)
			pending = 1;	/* asked again: its answer decides */
		else if ((f->state == FS_FAILED || (f->state == FS_PENDING &&
		    f->last_error != NULL)) && failed == NULL)
			failed = f;
		else if (f->state == FS_PENDING && f->last_error == NULL)
			pending = 1;
	}
	if (failed != NULL && t->conf->require_forwards)
		tunnel_forward_required(t, failed);
	else if (failed != NULL)
		tunnel_fsm(t, TE_FWD_FAILED, failed->last_error);
	else
		tunnel_fsm(t, pending ? TE_FWD_PENDING : TE_FWD_UP, NULL);
}

/*
 * Several forwards change together (the session up, listeners retried, a
 * reload): forward_set_state() does not tell the tunnel of each, it hears
 * of them all at the end.
 */
void
tunnel_forwards_batch_begin(struct tunnel *t)
{
	t->fwd_batch++;
}

void
tunnel_forwards_batch_end(struct tunnel *t)
{
	if (--t->fwd_batch == 0)
		tunnel_forward_changed(t);
}

/*
 * A message about a tunnel: "NAME: ..." with the journal's TUNNEL= field;
 * about one of its forwards, FORWARD= too.  The message names the forward
 * itself, where it reads best ("listening on ADDR for SPEC", "KIND forward
 * \"SPEC\": ..."): log_forward() adds only the tunnel's name.
 */
void
log_tunnel(struct tunnel *t, int level, const char *fmt, ...)
{
	struct log_fields lf = { t->name, NULL, NULL };
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, &lf, t->name, fmt, ap);
	va_end(ap);
}

void
log_forward(struct forward *f, int level, const char *fmt, ...)
{
	struct log_fields lf = { f->tunnel->name, NULL, f->spec->spec };
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, &lf, f->tunnel->name, fmt, ap);
	va_end(ap);
}

/*
 * tunnel.c - the per-tunnel state machine of SPEC.md.
 *
 *   down -> connecting -> up | degraded
 *   connecting | up | degraded -> backoff -> connecting   (session lost;
 *                                  exponential backoff with full jitter)
 *   any -> failed        (retrying cannot help: host key, key file)
 *   any -> down          (tunnelctl down, shutdown)
 *
 * tunnel_set_state() is the one place that changes state: it logs the
 * transition by name with its reason and posts it to the main thread,
 * which tells the control clients and systemd.
 *
 * A tunnel lives on one worker thread (worker.c).  The functions marked
 * "main thread" below are the only ones the main thread calls; they reach
 * the tunnel through worker_call().
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunneld.h"

#define STABLE_PERIOD		10	/* seconds up that reset the backoff */
#define AUTH_RETRY_MIN		60	/* seconds: refused keys are retried slowly */
#define SETUP_PER_SERVER	8	/* sessions in set-up to one server at
					   once: sshd's default MaxStartups
					   refuses beyond 10, and it counts a
					   session a little longer than we do */

struct tunnels tunnels = TAILQ_HEAD_INITIALIZER(tunnels);
static pthread_rwlock_t tunnels_lock = PTHREAD_RWLOCK_INITIALIZER;
struct event_base *tunneld_base;	/* the main thread's loop */
static uint64_t tunnel_ids;

static void	tunnel_connect(struct tunnel *, const char *);

/*
 * Per worker thread and server (host, port): the sessions being set up and
 * the tunnels waiting for one of its SETUP_PER_SERVER slots, shared out
 * over the workers.  Thread-local: no worker waits for another.
 */
struct setup_slot {
	TAILQ_ENTRY(setup_slot)	 entry;
	char			*host;
	int			 port;
	unsigned		 n;
	TAILQ_HEAD(, tunnel)	 queue;
};
static _Thread_local TAILQ_HEAD(setup_slots, setup_slot) setup_slots;

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

static void
tunnel_set_error(struct tunnel *t, const char *error)
{
	free(t->last_error);
	t->last_error = error != NULL ? xstrdup(error) : NULL;
}

/* A state change, as posted to the main thread. */
struct tunnel_change {
	uint64_t		 id;
	char			*name;
	enum tunnel_state	 old, new;
	time_t			 next_retry;
	char			*reason;
};

/* Main thread: the view, the control clients, systemd. */
static void
tunnel_changed_job(void *arg)
{
	struct tunnel_change *ch = arg;
	struct tunnel *t;

	TAILQ_FOREACH(t, &tunnels, entry) {
		if (t->id == ch->id) {
			t->pub_state = ch->new;
			t->pub_next_retry = ch->next_retry;
			control_notify_state(ch->name, ch->old, ch->new,
			    ch->reason);
			notify_status();
			break;
		}
	}
	free(ch->name);
	free(ch->reason);
	free(ch);
}

static void
tunnel_set_state(struct tunnel *t, enum tunnel_state st, const char *reason)
{
	enum tunnel_state old = t->state;
	struct tunnel_change *ch;

	if (old == st)
		return;
	t->state = st;
	t->since = time(NULL);
	if (st == TS_FAILED || st == TS_BACKOFF || st == TS_DEGRADED)
		log_warnx("%s: %s -> %s%s%s%s", t->conf->name,
		    tunnel_state_name(old), tunnel_state_name(st),
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	else
		log_notice("%s: %s -> %s%s%s%s", t->conf->name,
		    tunnel_state_name(old), tunnel_state_name(st),
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	ch = xcalloc(1, sizeof *ch);
	ch->id = t->id;
	ch->name = xstrdup(t->name);
	ch->old = old;
	ch->new = st;
	ch->next_retry = t->next_retry;
	ch->reason = reason != NULL ? xstrdup(reason) : NULL;
	worker_post(worker_main, tunnel_changed_job, ch);
}

static void
tunnel_arm_retry(struct tunnel *t, double delay)
{

	timer_add_secs(t->retry_timer, delay);
	t->next_retry = time(NULL) + (time_t)ceil(delay);
}

static void
tunnel_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	size_t i;

	t->next_retry = 0;
	switch (t->state) {
	case TS_BACKOFF:
		t->reconnects++;
		tunnel_connect(t, "retry");
		break;
	case TS_DEGRADED:	/* try the failed listeners here again (the
				   remote kinds keep their own schedule) */
		for (i = 0; i < t->nfwds; i++) {
			if (t->fwds[i]->state == FS_FAILED &&
			    !forward_is_remote(t->fwds[i]))
				forward_start(t->fwds[i]);
		}
		tunnel_forward_changed(t);
		break;
	default:
		break;
	}
}

struct event_base *
tunnel_base(struct tunnel *t)
{
	return worker_base(t->worker);
}

/* On the tunnel's worker: its timers and forwards are created there. */
static void
tunnel_init_job(void *arg)
{
	struct tunnel *t = arg;
	struct tunnel_conf *tc = t->conf;
	size_t i;

	t->retry_timer = evtimer_new(tunnel_base(t), tunnel_retry_cb, t);
	t->nfwds = tc->nfwds;
	t->fwds = xcalloc(tc->nfwds, sizeof *t->fwds);
	for (i = 0; i < tc->nfwds; i++)
		t->fwds[i] = forward_new(t, &tc->fwds[i]);
}

/* Main thread: a new tunnel, down, on the least loaded worker. */
struct tunnel *
tunnel_create(struct tunnel_conf *tc)
{
	struct tunnel *t = xcalloc(1, sizeof *t);

	t->name = xstrdup(tc->name);
	t->id = ++tunnel_ids;
	t->worker = worker_pick();
	t->conf = tc;
	t->state = t->pub_state = TS_DOWN;
	t->since = time(NULL);
	worker_call(t->worker, tunnel_init_job, t);
	pthread_rwlock_wrlock(&tunnels_lock);
	TAILQ_INSERT_TAIL(&tunnels, t, entry);
	pthread_rwlock_unlock(&tunnels_lock);
	return t;
}

static void
tunnel_destroy_job(void *arg)
{
	struct tunnel *t = arg;
	size_t i;

	tunnel_stop(t, "shutdown");
	for (i = 0; i < t->nfwds; i++)
		forward_free(t->fwds[i]);
	free(t->fwds);
	event_free(t->retry_timer);
	free(t->last_error);
}

/* Main thread. */
void
tunnel_destroy(struct tunnel *t)
{
	pthread_rwlock_wrlock(&tunnels_lock);
	TAILQ_REMOVE(&tunnels, t, entry);
	pthread_rwlock_unlock(&tunnels_lock);
	worker_call(t->worker, tunnel_destroy_job, t);
	worker_unpick(t->worker);
	free(t->name);
	free(t);
}

/* Main thread. */
struct tunnel *
tunnel_find(const char *name)
{
	struct tunnel *t;

	TAILQ_FOREACH(t, &tunnels, entry) {
		if (strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

/* Any thread: is this a tunnel's name?  (the journal's TUNNEL= field) */
int
tunnel_known(const char *name)
{
	struct tunnel *t;
	int found = 0;

	pthread_rwlock_rdlock(&tunnels_lock);
	TAILQ_FOREACH(t, &tunnels, entry) {
		if (strcmp(t->name, name) == 0) {
			found = 1;
			break;
		}
	}
	pthread_rwlock_unlock(&tunnels_lock);
	return found;
}

struct tunnel_command_job {
	struct tunnel		*t;
	enum tunnel_command	 cmd;
	const char		*why;
	enum tunnel_state	 state;		/* after it */
};

static void
tunnel_command_job(void *arg)
{
	struct tunnel_command_job *j = arg;

	if (j->cmd != TC_UP)
		tunnel_stop(j->t, j->why);
	if (j->cmd != TC_DOWN)
		tunnel_start(j->t, j->why);
	j->state = j->t->state;
}

/* Main thread: tunnelctl up, down, restart; autostart. */
void
tunnel_command(struct tunnel *t, enum tunnel_command cmd, const char *why)
{
	struct tunnel_command_job j = { t, cmd, why, TS_DOWN };

	worker_call(t->worker, tunnel_command_job, &j);
	/* at once, not when the posted change arrives: READY's STATUS= */
	t->pub_state = j.state;
}

static unsigned
tunnel_setup_max(void)
{
	unsigned n = SETUP_PER_SERVER / worker_count();

	return n > 0 ? n : 1;
}

static void
tunnel_session_begin(struct tunnel *t)
{
	t->slot->n++;
	t->in_setup = 1;
	t->session = session_new(tunnel_base(t), worker_dns(t->worker), t->conf,
	    t);
}

/* A session is set up (or gone): the next one to that server may start. */
static void
tunnel_setup_done(struct tunnel *t)
{
	struct setup_slot *sl = t->slot;
	struct tunnel *next;

	if (sl == NULL)
		return;
	if (t->queued) {
		TAILQ_REMOVE(&sl->queue, t, setup_entry);
		t->queued = 0;
	}
	if (t->in_setup) {
		t->in_setup = 0;
		sl->n--;
	}
	t->slot = NULL;
	while (sl->n < tunnel_setup_max() &&
	    (next = TAILQ_FIRST(&sl->queue)) != NULL) {
		TAILQ_REMOVE(&sl->queue, next, setup_entry);
		next->queued = 0;
		tunnel_session_begin(next);
	}
	if (sl->n == 0 && TAILQ_EMPTY(&sl->queue)) {
		TAILQ_REMOVE(&setup_slots, sl, entry);
		free(sl->host);
		free(sl);
	}
}

static void
tunnel_connect(struct tunnel *t, const char *why)
{
	struct setup_slot *sl;
	size_t i;

	evtimer_del(t->retry_timer);
	t->next_retry = 0;
	for (i = 0; i < t->nfwds; i++) {	/* listeners first */
		if (t->fwds[i]->nlfds == 0)
			forward_start(t->fwds[i]);
	}
	tunnel_set_state(t, TS_CONNECTING, why);
	if (setup_slots.tqh_last == NULL)
		TAILQ_INIT(&setup_slots);
	TAILQ_FOREACH(sl, &setup_slots, entry) {
		if (sl->port == t->conf->port &&
		    strcmp(sl->host, t->conf->host) == 0)
			break;
	}
	if (sl == NULL) {
		sl = xcalloc(1, sizeof *sl);
		sl->host = xstrdup(t->conf->host);
		sl->port = t->conf->port;
		TAILQ_INIT(&sl->queue);
		TAILQ_INSERT_TAIL(&setup_slots, sl, entry);
	}
	t->slot = sl;
	if (sl->n >= tunnel_setup_max()) {	/* connecting, phase "queued" */
		log_debug("%s: queued: %u sessions to %s port %d are being "
		    "set up", t->name, sl->n, sl->host, sl->port);
		TAILQ_INSERT_TAIL(&sl->queue, t, setup_entry);
		t->queued = 1;
		return;
	}
	tunnel_session_begin(t);
}

/* Wanted: connect now (also cuts a backoff short). */
void
tunnel_start(struct tunnel *t, const char *why)
{
	switch (t->state) {
	case TS_CONNECTING:
	case TS_UP:
	case TS_DEGRADED:
		return;
	case TS_BACKOFF:
		t->reconnects++;
		break;
	case TS_DOWN:
	case TS_FAILED:
		t->attempts = 0;
		break;
	}
	tunnel_connect(t, why);
}

/* Not wanted: close everything and stay down until started again. */
void
tunnel_stop(struct tunnel *t, const char *why)
{
	size_t i;

	evtimer_del(t->retry_timer);
	t->next_retry = 0;
	if (t->session != NULL) {
		session_free(t->session);
		t->session = NULL;
	}
	tunnel_setup_done(t);
	for (i = 0; i < t->nfwds; i++) {
		forward_stop(t->fwds[i]);
		t->fwds[i]->state = FS_PENDING;
	}
	tunnel_set_state(t, TS_DOWN, why);
}

/*
 * up or degraded, from the forwards' states; while the first answers to
 * remote forward requests are awaited, still connecting (forward set-up).
 */
void
tunnel_forward_changed(struct tunnel *t)
{
	const char *error = NULL;
	struct forward *f;
	int pending = 0;
	size_t i;

	if (!session_is_established(t->session))
		return;
	for (i = 0; i < t->nfwds; i++) {
		f = t->fwds[i];
		/* a pending forward with an error was refused and is asked
		 * for again; one without is waiting for its first answer */
		if ((f->state == FS_FAILED || (f->state == FS_PENDING &&
		    f->last_error != NULL)) && error == NULL)
			error = f->last_error;
		else if (f->state == FS_PENDING && f->last_error == NULL)
			pending = 1;
	}
	if (pending && t->state == TS_CONNECTING)
		return;
	if (error == NULL) {
		tunnel_set_error(t, NULL);
		tunnel_set_state(t, TS_UP, NULL);
		return;
	}
	tunnel_set_error(t, error);
	tunnel_set_state(t, TS_DEGRADED, error);
	for (i = 0; i < t->nfwds; i++) {	/* remote ones retry themselves */
		if (t->fwds[i]->state == FS_FAILED &&
		    !forward_is_remote(t->fwds[i]))
			break;
	}
	if (i < t->nfwds && !evtimer_pending(t->retry_timer, NULL))
		tunnel_arm_retry(t, t->conf->reconnect_max < FORWARD_RETRY_MAX ?
		    t->conf->reconnect_max : FORWARD_RETRY_MAX);
}

void
tunnel_session_up(struct tunnel *t)
{
	size_t i;

	t->up_at = mono_now();
	tunnel_setup_done(t);
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_request(t->fwds[i]);
		else if (t->fwds[i]->nlfds > 0) {
			t->fwds[i]->state = FS_UP;
			forward_session_up(t->fwds[i]);
		}
	}
	tunnel_forward_changed(t);
}

/*
 * The delay before attempt n+1 after n failures in a row: exponential from
 * reconnect_min up to reconnect_max, with full jitter between reconnect_min
 * and that ceiling, so that tunnels that fell together do not come back in
 * step.  Authentication failures start at AUTH_RETRY_MIN instead: sshd
 * counts them against the source address (PerSourcePenalties, MaxStartups).
 */
static double
tunnel_backoff(const struct tunnel *t, enum session_error class)
{
	const struct tunnel_conf *tc = t->conf;
	double lo = tc->reconnect_min, hi = tc->reconnect_max;

	if (class == SE_AUTH) {
		lo = lo > AUTH_RETRY_MIN ? lo : AUTH_RETRY_MIN;
		hi = hi > lo ? hi : lo;
	}
	return backoff_delay(lo, hi, t->attempts);
}

/*
 * The session ended.  Retrying cannot fix a fatal error (host key, key
 * file): failed.  Anything else: backoff.  A session that stayed up for
 * STABLE_PERIOD was not a flap: the schedule starts again from the bottom.
 */
void
tunnel_session_lost(struct tunnel *t, enum session_error class,
    const char *reason)
{
	char *reason_copy = xstrdup(reason), *why;	/* the session owns it */
	double delay;
	size_t i;

	reason = reason_copy;
	session_free(t->session);
	t->session = NULL;
	tunnel_setup_done(t);
	if (t->up_at > 0 && mono_now() - t->up_at >= STABLE_PERIOD)
		t->attempts = 0;
	t->up_at = 0;
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_session_lost(t->fwds[i]);
		if (t->fwds[i]->state == FS_UP)
			t->fwds[i]->state = FS_PENDING;
	}
	if (class == SE_FATAL) {
		tunnel_set_error(t, reason);
		for (i = 0; i < t->nfwds; i++)
			forward_stop(t->fwds[i]);
		log_error("%s: %s", t->conf->name, reason);
		tunnel_set_state(t, TS_FAILED, reason);
		free(reason_copy);
		return;
	}
	t->attempts++;
	delay = tunnel_backoff(t, class);
	if (class == SE_AUTH)
		xasprintf(&why, "%s; retrying slowly (in %.0fs), as repeated "
		    "failures make sshd penalise this address", reason, delay);
	else
		why = xstrdup(reason);
	tunnel_set_error(t, why);
	tunnel_arm_retry(t, delay);
	tunnel_set_state(t, TS_BACKOFF, why);
	free(why);
	free(reason_copy);
}

/*
 * tunnel_main.c - the main thread's side of the tunnels: the list of
 * tunnels, their creation and end, the commands tunnelctl sends them, and
 * their state changes as the main thread hears them (its copy for status,
 * then the observers: control clients, systemd).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel.h"
#include "tunnel_priv.h"

struct tunnels tunnels = TAILQ_HEAD_INITIALIZER(tunnels);
static pthread_rwlock_t tunnels_lock = PTHREAD_RWLOCK_INITIALIZER;
static uint64_t tunnel_ids;

/* A state change, as posted to the main thread. */
struct tunnel_change {
	uint64_t		 id;
	char			*name;
	enum tunnel_state	 old, new;
	time_t			 since;
	time_t			 next_retry;
	unsigned		 reconnects;
	char			*last_error;
	char			*reason;
	char			*server;
};

static struct {
	tunnel_observer	*fn;
	void		*arg;
}		 tunnel_observers[OBSERVERS_MAX];
static size_t	 tunnel_nobservers;

/* Main thread, at start-up: fn hears every state change from now on. */
void
tunnel_observe(tunnel_observer *fn, void *arg)
{
	if (tunnel_nobservers == nitems(tunnel_observers))
		abort();	/* main.c registers a fixed few */
	tunnel_observers[tunnel_nobservers].fn = fn;
	tunnel_observers[tunnel_nobservers++].arg = arg;
}

static void
tunnel_tell(const struct tunnel_change *ch, const char *server)
{
	struct tunnel_transition tr;
	size_t i;

	tr.name = ch->name;
	tr.old = ch->old;
	tr.new = ch->new;
	tr.reason = ch->reason;
	tr.server = server;
	for (i = 0; i < tunnel_nobservers; i++)
		tunnel_observers[i].fn(&tr, tunnel_observers[i].arg);
}

/* Main thread: its copy, then the observers (control clients, systemd). */
static void
tunnel_changed_job(void *arg)
{
	struct tunnel_change *ch = arg;
	struct tunnel *t;

	TAILQ_FOREACH(t, &tunnels, entry) {
		if (t->id == ch->id) {
			t->pub_state = ch->new;
			t->pub_since = ch->since;
			t->pub_next_retry = ch->next_retry;
			t->pub_reconnects = ch->reconnects;
			free(t->pub_last_error);
			t->pub_last_error = ch->last_error;
			ch->last_error = NULL;
			free(t->pub_server);
			t->pub_server = ch->server;
			ch->server = NULL;
			tunnel_tell(ch, t->pub_server);
			break;
		}
	}
	free(ch->name);
	free(ch->last_error);
	free(ch->reason);
	free(ch->server);
	free(ch);
}

void
tunnel_post_change(struct tunnel *t, enum tunnel_state old,
    const char *reason)
{
	struct tunnel_change *ch = xcalloc(1, sizeof *ch);

	ch->id = t->id;
	ch->name = xstrdup(t->name);
	ch->old = old;
	ch->new = t->state;
	ch->since = t->since;
	ch->next_retry = t->next_retry;
	ch->reconnects = t->reconnects;
	ch->last_error = t->last_error != NULL ? xstrdup(t->last_error) : NULL;
	ch->reason = reason != NULL ? xstrdup(reason) : NULL;
	ch->server = tunnel_server_string(t);
	worker_post(worker_main, tunnel_changed_job, ch);
}

/* The session (and its extra ones) and the server's side of the forwards
 * are gone. */

/*
 * On a worker: fn for every tunnel that lives here.  The list is the main
 * thread's: it is read under the lock, and the tunnels are used after it,
 * which is safe because a tunnel is freed only by a job on its own worker
 * (tunnel_destroy()), which cannot run while this one does.
 */
void
tunnel_foreach_here(void (*fn)(struct tunnel *, void *), void *arg)
{
	struct worker *w = worker_self();
	struct tunnel *t, **here = NULL;
	size_t n = 0, i;

	pthread_rwlock_rdlock(&tunnels_lock);
	TAILQ_FOREACH(t, &tunnels, entry) {
		if (t->worker != w)
			continue;
		here = xreallocarray(here, n + 1, sizeof *here);
		here[n++] = t;
	}
	pthread_rwlock_unlock(&tunnels_lock);
	for (i = 0; i < n; i++)
		fn(here[i], arg);
	free(here);
}

/* --- the main thread's side ---------------------------------------------- */

/* On the tunnel's worker: its events and forwards are created there. */
static void
tunnel_init_job(void *arg)
{
	struct tunnel *t = arg;

	t->retry_timer = evtimer_new(tunnel_base(t), tunnel_retry_cb, t);
	t->ev_begin = event_new(tunnel_base(t), -1, 0, tunnel_begin_cb, t);
	t->ratelimit = ratelimit_new(tunnel_base(t));
	ratelimit_set(t->ratelimit, t->conf->rate_limit);
	tunnel_forwards_new(t);
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
	t->since = t->pub_since = time(NULL);
	if (worker_send(t->worker, tunnel_init_job, t) != 0)
		log_tunnel(t, LOG_LVL_WARNING, "worker %u is busy; the tunnel "
		    "is set up there when it is free", worker_id(t->worker));
	pthread_rwlock_wrlock(&tunnels_lock);
	TAILQ_INSERT_TAIL(&tunnels, t, entry);
	pthread_rwlock_unlock(&tunnels_lock);
	return t;
}

/* On the tunnel's worker: down, and freed. */
static void
tunnel_destroy_job(void *arg)
{
	struct tunnel *t = arg;

	tunnel_fsm(t, TE_DOWN, "shutdown");
	tunnel_forwards_free(t);
	event_free(t->retry_timer);
	event_free(t->ev_begin);
	ratelimit_free(t->ratelimit);	/* its sessions are gone */
	free(t->last_error);
	free(t->pub_last_error);
	free(t->pub_server);
	json_object_put(t->pub_status);
	free(t->name);
	free(t);
}

/*
 * Main thread: the tunnel leaves the list at once and is stopped and freed
 * on its worker.  0 when that is done; -1 when the worker is busy: it is
 * done when the worker is free, and until then the tunnel may still use
 * its configuration.  The caller never touches t again.
 */
int
tunnel_destroy(struct tunnel *t)
{
	struct worker *w = t->worker;
	struct log_fields lf = { NULL, NULL, NULL };
	char *name;
	int rc;

	pthread_rwlock_wrlock(&tunnels_lock);
	TAILQ_REMOVE(&tunnels, t, entry);
	pthread_rwlock_unlock(&tunnels_lock);
	worker_unpick(w);
	lf.tunnel = name = xstrdup(t->name);	/* t may be gone */
	if ((rc = worker_send(w, tunnel_destroy_job, t)) != 0)
		log_fields(LOG_LVL_WARNING, &lf, "%s: worker %u is busy; the "
		    "tunnel is closed when it is free", name, worker_id(w));
	free(name);
	return rc;
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

/* A command, shared by the main thread and the worker: the last one to
 * let go frees it (the main thread may stop waiting before it runs). */
struct tunnel_command_job {
	struct tunnel		*t;
	enum tunnel_command	 cmd;
	char			*why;
	enum tunnel_state	 state;		/* after it */
	atomic_int		 refs;
};

static void
tunnel_command_unref(struct tunnel_command_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1) {
		free(j->why);
		free(j);
	}
}

static void
tunnel_command_job(void *arg)
{
	struct tunnel_command_job *j = arg;
	static const enum tunnel_event ev[] = {
		[TC_UP] = TE_UP, [TC_DOWN] = TE_DOWN, [TC_RESTART] = TE_RESTART
	};

	tunnel_fsm(j->t, ev[j->cmd], j->why);
	j->state = j->t->state;
	tunnel_command_unref(j);
}

/* Main thread: tunnelctl up, down, restart; autostart. */
void
tunnel_command(struct tunnel *t, enum tunnel_command cmd, const char *why)
{
	struct tunnel_command_job *j = xcalloc(1, sizeof *j);

	j->t = t;
	j->cmd = cmd;
	j->why = xstrdup(why);
	atomic_init(&j->refs, 2);
	/* at once, not when the posted change arrives: READY's STATUS= */
	if (worker_send(t->worker, tunnel_command_job, j) == 0)
		t->pub_state = j->state;
	else
		log_tunnel(t, LOG_LVL_WARNING, "worker %u is busy; \"%s\" is "
		    "carried out when it is free", worker_id(t->worker), why);
	tunnel_command_unref(j);
}


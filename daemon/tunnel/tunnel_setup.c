/*
 * tunnel_setup.c - the per-server set-up limit: at most SETUP_PER_SERVER
 * sessions to one server (host, port) are being set up at once, over all
 * the workers together, because that is where sshd's MaxStartups applies.
 * Other tunnels wait in "connecting" (phase "queued"), oldest first.
 *
 * One small table, keyed by host and port, under one mutex; a worker
 * never waits for another.  When a tunnel gives back its slot, the slot
 * goes at once to the first tunnel waiting (SETUP_GRANTED), wherever it
 * lives, and that tunnel's worker is told with worker_post(): its
 * tunnel_setup_kick_job() starts every tunnel granted there.  A tunnel is
 * in the table only while it is connecting; tunnel_setup_leave() takes it
 * out in every state it can be in, so a grant can never reach a tunnel
 * that has gone.
 *
 * A tunnel through jump hosts sets up a session with each of them and
 * with its target: it takes a slot of each of these servers (a hop or
 * target behind a hop is named by the path to it, "h (via a,b:2)"), in
 * one order for everyone (sorted), waiting in the queue of the first that
 * has none free while it holds the ones before it; so no two tunnels can
 * wait for each other.  A tunnel with one server is the case above.
 *
 * An extra session of a tunnel's (sessions = N, tunnel_sessions.c) takes
 * a slot of each of the same servers only when every one has a free slot,
 * nobody waits for one, and fewer than SETUP_EXTRA_PER_SERVER extras of
 * any tunnel are being set up with it (tunnel_setup_extra()), all at once
 * or none: it never waits, never delays a tunnel's own session, and the
 * other SETUP_PER_SERVER - SETUP_EXTRA_PER_SERVER slots stay for the
 * tunnels' own sessions, whatever the extras do.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel.h"

/* Extras in set-up to one server at once, over all tunnels: half the
 * limit, so that a tunnel that loses its session finds a slot. */
#define SETUP_EXTRA_PER_SERVER	(SETUP_PER_SERVER / 2)

enum { SETUP_NONE, SETUP_QUEUED, SETUP_GRANTED, SETUP_ACTIVE };

struct setup_server {
	TAILQ_ENTRY(setup_server) entry;
	char			*host;
	int			 port;
	unsigned		 refs;		/* tunnels that need a slot here */
	unsigned		 n;		/* slots taken: granted, active */
	unsigned		 extras;	/* ... of them by extra sessions */
	TAILQ_HEAD(, tunnel)	 queue;		/* waiting, oldest first */
	TAILQ_HEAD(, tunnel)	 granted;	/* their worker is told */
};

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, setup_server) setup_servers =
    TAILQ_HEAD_INITIALIZER(setup_servers);

/* With setup_lock held: the server, with one more tunnel using it. */
static struct setup_server *
tunnel_setup_server(const char *host, int port)
{
	struct setup_server *sv;

	TAILQ_FOREACH(sv, &setup_servers, entry) {
		if (sv->port == port && strcmp(sv->host, host) == 0)
			break;
	}
	if (sv == NULL) {
		sv = xcalloc(1, sizeof *sv);
		sv->host = xstrdup(host);
		sv->port = port;
		TAILQ_INIT(&sv->queue);
		TAILQ_INIT(&sv->granted);
		TAILQ_INSERT_TAIL(&setup_servers, sv, entry);
	}
	sv->refs++;
	return sv;
}

/* With setup_lock held: one tunnel fewer uses it. */
static void
tunnel_setup_server_put(struct setup_server *sv)
{
	if (--sv->refs > 0)
		return;
	TAILQ_REMOVE(&setup_servers, sv, entry);
	free(sv->host);
	free(sv);
}

/* The servers a tunnel's set-up talks to, as "host" and port. */
struct setup_name {
	char	*host;
	int	 port;
};

static int
tunnel_setup_name_cmp(const void *a, const void *b)
{
	const struct setup_name *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c != 0 ? c : (x->port > y->port) - (x->port < y->port);
}

/* The target and every jump host, named by the path to them, sorted,
 * each once. */
static struct setup_name *
tunnel_setup_names(struct tunnel *t, size_t *np)
{
	const struct tunnel_conf *tc = t->conf;
	struct setup_name *v = NULL;
	const char *p = tc->jump;
	char *host;
	size_t n = 0, i, j;
	int port;

	for (; p != NULL; p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 :
	    NULL) {
		if (hop_first(p, &host, &port) != 0)
			continue;	/* config.c said so */
		v = xreallocarray(v, n + 1, sizeof *v);
		if (p == tc->jump)
			v[n].host = host;
		else {
			xasprintf(&v[n].host, "%s (via %.*s)", host,
			    (int)(p - 1 - tc->jump), tc->jump);
			free(host);
		}
		v[n++].port = port;
	}
	v = xreallocarray(v, n + 1, sizeof *v);
	if (tc->jump == NULL)
		v[n].host = xstrdup(tunnel_server_host(t));
	else
		xasprintf(&v[n].host, "%s (via %s)", tunnel_server_host(t),
		    tc->jump);
	v[n++].port = tunnel_server_port(t);
	qsort(v, n, sizeof *v, tunnel_setup_name_cmp);
	for (i = j = 0; i < n; i++) {
		if (j > 0 && tunnel_setup_name_cmp(&v[j - 1], &v[i]) == 0)
			free(v[i].host);
		else
			v[j++] = v[i];
	}
	*np = j;
	return v;
}

/* On a worker: start the tunnels granted a slot that live here. */
static void
tunnel_setup_kick_job(void *arg)
{
	struct worker *w = arg;
	struct setup_server *sv;
	struct tunnel *t, *next, **start = NULL;
	size_t n = 0, i;

	pthread_mutex_lock(&setup_lock);
	TAILQ_FOREACH(sv, &setup_servers, entry) {
		TAILQ_FOREACH_SAFE(t, &sv->granted, setup_entry, next) {
			if (t->worker != w)
				continue;
			TAILQ_REMOVE(&sv->granted, t, setup_entry);
			t->setup_at = NULL;
			t->setup_state = SETUP_ACTIVE;
			start = xreallocarray(start, n + 1, sizeof *start);
			start[n++] = t;
		}
	}
	pthread_mutex_unlock(&setup_lock);
	for (i = 0; i < n; i++)
		event_active(start[i]->ev_begin, EV_TIMEOUT, 0);
	free(start);
}

/*
 * With setup_lock held: t takes its slots in order, from the first it
 * lacks: 1 when it has them all, 0 when it waits in the queue of the
 * first server without a free one.  (A queue is never waited in while
 * its server has a free slot: a slot that frees goes to its queue.)
 */
static int
tunnel_setup_take(struct tunnel *t)
{
	struct setup_server *sv;

	while (t->setup_got < t->nsetup) {
		sv = t->setup[t->setup_got];
		if (sv->n >= SETUP_PER_SERVER) {
			log_tunnel(t, LOG_LVL_DEBUG, "queued: %u sessions to "
			    "%s port %d are being set up", sv->n, sv->host,
			    sv->port);
			TAILQ_INSERT_TAIL(&sv->queue, t, setup_entry);
			t->setup_at = sv;
			t->setup_state = SETUP_QUEUED;
			return 0;
		}
		sv->n++;
		t->setup_got++;
	}
	return 1;
}

/* With setup_lock held: sv's free slots go to the tunnels that wait for
 * them, whose worker is told once they have all theirs. */
static void
tunnel_setup_grant(struct setup_server *sv)
{
	struct tunnel *next;

	while (sv->n < SETUP_PER_SERVER &&
	    (next = TAILQ_FIRST(&sv->queue)) != NULL) {
		TAILQ_REMOVE(&sv->queue, next, setup_entry);
		next->setup_at = NULL;
		sv->n++;
		next->setup_got++;
		if (!tunnel_setup_take(next))
			continue;	/* now waits for a later server */
		TAILQ_INSERT_TAIL(&sv->granted, next, setup_entry);
		next->setup_at = sv;
		next->setup_state = SETUP_GRANTED;
		worker_post(next->worker, tunnel_setup_kick_job, next->worker);
	}
}

/*
 * The tunnel's worker, entering connecting: 1 when it has its slots (its
 * session may start), 0 when it waits in a queue.
 */
int
tunnel_setup_enter(struct tunnel *t)
{
	struct setup_name *names;
	size_t i, n;
	int got;

	names = tunnel_setup_names(t, &n);
	pthread_mutex_lock(&setup_lock);
	if (t->setup != NULL) {
		log_error("BUG: %s: asks for a set-up slot twice", t->name);
		got = t->setup_state == SETUP_ACTIVE;
		pthread_mutex_unlock(&setup_lock);
		for (i = 0; i < n; i++)
			free(names[i].host);
		free(names);
		return got;
	}
	t->setup = xreallocarray(NULL, n, sizeof *t->setup);
	t->nsetup = n;
	t->setup_got = 0;
	for (i = 0; i < n; i++) {
		t->setup[i] = tunnel_setup_server(names[i].host, names[i].port);
		free(names[i].host);
	}
	free(names);
	if ((got = tunnel_setup_take(t)))
		t->setup_state = SETUP_ACTIVE;
	pthread_mutex_unlock(&setup_lock);
	return got;
}

/*
 * The tunnel's worker: its session is set up, or gone, or no longer
 * wanted.  Its slots (and its place in a queue) are given back, and free
 * slots go to the tunnels that wait, on whatever worker.
 */
void
tunnel_setup_leave(struct tunnel *t)
{
	size_t i;

	pthread_mutex_lock(&setup_lock);
	if (t->setup == NULL) {
		pthread_mutex_unlock(&setup_lock);
		return;
	}
	switch (t->setup_state) {
	case SETUP_QUEUED:
		TAILQ_REMOVE(&t->setup_at->queue, t, setup_entry);
		break;
	case SETUP_GRANTED:
		TAILQ_REMOVE(&t->setup_at->granted, t, setup_entry);
		break;
	}
	t->setup_at = NULL;
	t->setup_state = SETUP_NONE;
	for (i = 0; i < t->setup_got; i++)
		t->setup[i]->n--;
	for (i = 0; i < t->setup_got; i++)
		tunnel_setup_grant(t->setup[i]);
	for (i = 0; i < t->nsetup; i++)
		tunnel_setup_server_put(t->setup[i]);
	free(t->setup);
	t->setup = NULL;
	t->nsetup = t->setup_got = 0;
	pthread_mutex_unlock(&setup_lock);
}

/* Slots held by an extra session (tunnel_sessions.c). */
struct setup_slots {
	struct setup_server	**sv;
	size_t			  n;
};

/*
 * The tunnel's worker: a slot of each server for an extra session of the
 * tunnel t, if every one has a free slot, no tunnel waits for one and
 * fewer than SETUP_EXTRA_PER_SERVER extras are being set up there; NULL
 * if not.
 */
struct setup_slots *
tunnel_setup_extra(struct tunnel *t)
{
	struct setup_slots *sl = xcalloc(1, sizeof *sl);
	struct setup_name *names;
	size_t i;
	int free_all = 1;

	names = tunnel_setup_names(t, &sl->n);
	sl->sv = xreallocarray(NULL, sl->n, sizeof *sl->sv);
	pthread_mutex_lock(&setup_lock);
	for (i = 0; i < sl->n; i++) {
		sl->sv[i] = tunnel_setup_server(names[i].host, names[i].port);
		if (sl->sv[i]->n >= SETUP_PER_SERVER ||
		    sl->sv[i]->extras >= SETUP_EXTRA_PER_SERVER ||
		    !TAILQ_EMPTY(&sl->sv[i]->queue))
			free_all = 0;
		free(names[i].host);
	}
	free(names);
	for (i = 0; i < sl->n; i++) {
		if (free_all) {
			sl->sv[i]->n++;
			sl->sv[i]->extras++;
		} else
			tunnel_setup_server_put(sl->sv[i]);
	}
	pthread_mutex_unlock(&setup_lock);
	if (!free_all) {
		free(sl->sv);
		free(sl);
		return NULL;
	}
	return sl;
}

/* The extra session is set up, or gone: its slots go back, to the
 * tunnels that wait for them. */
void
tunnel_setup_extra_done(struct setup_slots *sl)
{
	size_t i;

	if (sl == NULL)
		return;
	pthread_mutex_lock(&setup_lock);
	for (i = 0; i < sl->n; i++) {
		sl->sv[i]->n--;
		sl->sv[i]->extras--;
	}
	for (i = 0; i < sl->n; i++)
		tunnel_setup_grant(sl->sv[i]);
	for (i = 0; i < sl->n; i++)
		tunnel_setup_server_put(sl->sv[i]);
	pthread_mutex_unlock(&setup_lock);
	free(sl->sv);
	free(sl);
}

/* The tunnel's worker: still waiting for a slot?  (phase "queued") */
int
tunnel_setup_queued(struct tunnel *t)
{
	int queued;

	pthread_mutex_lock(&setup_lock);
	queued = t->setup_state == SETUP_QUEUED ||
	    t->setup_state == SETUP_GRANTED;
	pthread_mutex_unlock(&setup_lock);
	return queued;
}

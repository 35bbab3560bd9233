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
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tunneld.h"

enum { SETUP_NONE, SETUP_QUEUED, SETUP_GRANTED, SETUP_ACTIVE };

struct setup_server {
	TAILQ_ENTRY(setup_server) entry;
	char			*host;
	int			 port;
	unsigned		 n;		/* slots taken: granted, active */
	TAILQ_HEAD(, tunnel)	 queue;		/* waiting, oldest first */
	TAILQ_HEAD(, tunnel)	 granted;	/* their worker is told */
};

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, setup_server) setup_servers =
    TAILQ_HEAD_INITIALIZER(setup_servers);

/* With setup_lock held. */
static struct setup_server *
tunnel_setup_server(const char *host, int port)
{
	struct setup_server *sv;

	TAILQ_FOREACH(sv, &setup_servers, entry) {
		if (sv->port == port && strcmp(sv->host, host) == 0)
			return sv;
	}
	sv = xcalloc(1, sizeof *sv);
	sv->host = xstrdup(host);
	sv->port = port;
	TAILQ_INIT(&sv->queue);
	TAILQ_INIT(&sv->granted);
	TAILQ_INSERT_TAIL(&setup_servers, sv, entry);
	return sv;
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
 * The tunnel's worker, entering connecting: 1 when it has a slot (its
 * session may start), 0 when it waits in the queue.
 */
int
tunnel_setup_enter(struct tunnel *t)
{
	struct setup_server *sv;
	int got;

	pthread_mutex_lock(&setup_lock);
	if (t->setup != NULL) {
		log_error("BUG: %s: asks for a set-up slot twice", t->name);
		got = t->setup_state == SETUP_ACTIVE;
		pthread_mutex_unlock(&setup_lock);
		return got;
	}
	sv = t->setup = tunnel_setup_server(tunnel_server_host(t),
	    tunnel_server_port(t));
	if ((got = sv->n < SETUP_PER_SERVER)) {
		sv->n++;
		t->setup_state = SETUP_ACTIVE;
	} else {
		log_debug("%s: queued: %u sessions to %s port %d are being "
		    "set up", t->name, sv->n, sv->host, sv->port);
		TAILQ_INSERT_TAIL(&sv->queue, t, setup_entry);
		t->setup_state = SETUP_QUEUED;
	}
	pthread_mutex_unlock(&setup_lock);
	return got;
}

/*
 * The tunnel's worker: its session is set up, or gone, or no longer
 * wanted.  Its slot (or its place in the queue) is given back, and free
 * slots go to the tunnels that wait, on whatever worker.
 */
void
tunnel_setup_leave(struct tunnel *t)
{
	struct setup_server *sv;
	struct tunnel *next;

	pthread_mutex_lock(&setup_lock);
	if ((sv = t->setup) == NULL) {
		pthread_mutex_unlock(&setup_lock);
		return;
	}
	switch (t->setup_state) {
	case SETUP_QUEUED:
		TAILQ_REMOVE(&sv->queue, t, setup_entry);
		break;
	case SETUP_GRANTED:
		TAILQ_REMOVE(&sv->granted, t, setup_entry);
		sv->n--;
		break;
	case SETUP_ACTIVE:
		sv->n--;
		break;
	}
	t->setup = NULL;
	t->setup_state = SETUP_NONE;
	while (sv->n < SETUP_PER_SERVER &&
	    (next = TAILQ_FIRST(&sv->queue)) != NULL) {
		TAILQ_REMOVE(&sv->queue, next, setup_entry);
		TAILQ_INSERT_TAIL(&sv->granted, next, setup_entry);
		next->setup_state = SETUP_GRANTED;
		sv->n++;
		worker_post(next->worker, tunnel_setup_kick_job, next->worker);
	}
	if (sv->n == 0 && TAILQ_EMPTY(&sv->queue)) {
		TAILQ_REMOVE(&setup_servers, sv, entry);
		free(sv->host);
		free(sv);
	}
	pthread_mutex_unlock(&setup_lock);
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

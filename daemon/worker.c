/*
 * worker.c - the threads that carry the tunnels, so that busy tunnels use
 * every core.
 *
 * Each worker is one thread with its own event base and evdns base.  A
 * tunnel is placed on the least loaded worker when it is created and stays
 * there: its session, listeners, channels and timers are touched by that
 * thread only (one owner per fd, one thread per libssh2 session).  The main
 * thread keeps the control socket, signals, reload and systemd.
 *
 *   main -> worker   worker_call(): run a function on the worker's thread,
 *                    between two of its callbacks, and wait for it; this is
 *                    how the main thread starts, stops, reloads and reads a
 *                    tunnel, so it always sees a consistent tunnel
 *   worker -> main   worker_post(worker_main, ...): queued, not waited for
 *                    (state changes for the control clients and systemd)
 *
 * A worker never waits for the main thread, so the two cannot deadlock.
 * The main thread's own queue is worker_main, which has no thread of its
 * own: its jobs run in the main loop.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "tunneld.h"

struct job {
	TAILQ_ENTRY(job)	 entry;
	void			(*fn)(void *);
	void			*arg;
	int			 wait;		/* worker_call: the caller waits */
	int			 done;
};

struct worker {
	unsigned		 id;		/* 0: the main thread */
	pthread_t		 thread;
	int			 running;	/* a thread of its own */
	struct event_base	*base;
	struct evdns_base	*dns;
	struct event		*ev_jobs;
	pthread_mutex_t		 lock;
	pthread_cond_t		 done;
	TAILQ_HEAD(, job)	 jobs;
	unsigned		 ntunnels;	/* placed here (main thread) */
};

struct worker		 *worker_main;
static struct worker	**workers;
static unsigned		  nworkers;

/* Run what is queued, in order; waiting callers are woken one by one. */
static void
worker_jobs_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	while ((j = TAILQ_FIRST(&w->jobs)) != NULL) {
		TAILQ_REMOVE(&w->jobs, j, entry);
		pthread_mutex_unlock(&w->lock);
		j->fn(j->arg);
		pthread_mutex_lock(&w->lock);
		if (j->wait) {
			j->done = 1;
			pthread_cond_broadcast(&w->done);
		} else
			free(j);
	}
	pthread_mutex_unlock(&w->lock);
}

static void
worker_enqueue(struct worker *w, struct job *j)
{
	TAILQ_INSERT_TAIL(&w->jobs, j, entry);
	event_active(w->ev_jobs, EV_READ, 0);	/* thread-safe: evthread */
}

/* Run fn(arg) on w's thread and wait for it to finish. */
void
worker_call(struct worker *w, void (*fn)(void *), void *arg)
{
	struct job j;

	if (!w->running || pthread_equal(pthread_self(), w->thread)) {
		fn(arg);
		return;
	}
	memset(&j, 0, sizeof j);
	j.fn = fn;
	j.arg = arg;
	j.wait = 1;
	pthread_mutex_lock(&w->lock);
	worker_enqueue(w, &j);
	while (!j.done)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/* Queue fn(arg) on w's thread; do not wait.  arg belongs to fn. */
void
worker_post(struct worker *w, void (*fn)(void *), void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	worker_enqueue(w, j);
	pthread_mutex_unlock(&w->lock);
}

struct event_base *
worker_base(struct worker *w)
{
	return w->base;
}

struct evdns_base *
worker_dns(struct worker *w)
{
	return w->dns;
}

unsigned
worker_id(struct worker *w)
{
	return w->id;
}

unsigned
worker_count(void)
{
	return nworkers;
}

static struct worker *
worker_new(unsigned id, struct event_base *base)
{
	struct worker *w = xcalloc(1, sizeof *w);

	w->id = id;
	w->base = base;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done, NULL);
	TAILQ_INIT(&w->jobs);
	w->ev_jobs = event_new(base, -1, 0, worker_jobs_cb, w);
	if (id == 0)
		return w;
	w->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)	/* no resolv.conf: names from hosts */
		w->dns = evdns_base_new(base, 0);
	evdns_base_load_hosts(w->dns, NULL);
	return w;
}

static void *
worker_main_loop(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Before any event base exists: libevent's locking. */
int
worker_threads_enable(void)
{
	return evthread_use_pthreads();
}

/*
 * The main thread's queue on base, and n workers (0: one per online CPU,
 * at most WORKERS_MAX).  -1 with cause set when a thread cannot start.
 */
int
worker_init(struct event_base *base, unsigned n, char **cause)
{
	sigset_t all, old;
	unsigned i;
	long cpus;
	int rc;

	worker_main = worker_new(0, base);
	if (n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX :
		    (unsigned)cpus;
	}
	workers = xcalloc(n, sizeof *workers);
	/* signals are the main thread's: the workers block them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		workers[i] = worker_new(i + 1, event_base_new());
		if ((rc = pthread_create(&workers[i]->thread, NULL,
		    worker_main_loop, workers[i])) != 0) {
			xasprintf(cause, "cannot start worker thread %u of %u: "
			    "%s; set workers in tunneld.conf to fewer", i + 1,
			    n, strerror(rc));
			break;
		}
		workers[i]->running = 1;
		nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (nworkers < n)
		return -1;
	log_info("%u worker thread%s", n, n == 1 ? "" : "s");
	return 0;
}

/* The worker with the fewest tunnels takes the next one. */
struct worker *
worker_pick(void)
{
	struct worker *best = workers[0];
	unsigned i;

	for (i = 1; i < nworkers; i++) {
		if (workers[i]->ntunnels < best->ntunnels)
			best = workers[i];
	}
	best->ntunnels++;
	return best;
}

void
worker_unpick(struct worker *w)
{
	w->ntunnels--;
}

static void
worker_nop(void *arg)
{
}

/* Every worker answers (the systemd watchdog: a stuck thread stops it). */
void
worker_ping_all(void)
{
	worker_call_all(worker_nop, NULL);
}

/* Run fn(arg) on every worker in turn, waiting for each; fn finds out
 * where it runs with worker_self(). */
void
worker_call_all(void (*fn)(void *), void *arg)
{
	unsigned i;

	for (i = 0; i < nworkers; i++)
		worker_call(workers[i], fn, arg);
}

struct worker *
worker_self(void)
{
	unsigned i;

	for (i = 0; i < nworkers; i++) {
		if (pthread_equal(pthread_self(), workers[i]->thread))
			return workers[i];
	}
	return worker_main;
}

static void
worker_stop_job(void *arg)
{
	struct worker *w = arg;

	event_base_loopbreak(w->base);
}

static void
worker_free(struct worker *w)
{
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	event_free(w->ev_jobs);
	if (w->id != 0)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->done);
	free(w);
}

/* After the tunnels are gone: stop and free the workers. */
void
worker_shutdown(void)
{
	unsigned i;

	for (i = 0; i < nworkers; i++) {
		worker_post(workers[i], worker_stop_job, workers[i]);
		pthread_join(workers[i]->thread, NULL);
		workers[i]->running = 0;
		worker_free(workers[i]);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
	if (worker_main != NULL) {
		worker_jobs_cb(-1, 0, worker_main);	/* what was left */
		worker_free(worker_main);
		worker_main = NULL;
	}
}

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
 *                    between two of its callbacks, and wait for it - but
 *                    never for longer than WORKER_WAIT: a worker that has
 *                    not started the job by then is stuck in something
 *                    else (a blocking system call: a file on a hung
 *                    network file system), the job is withdrawn and the
 *                    caller answers without it (status.c from the state
 *                    the worker last posted).
 *                    worker_send(): the same for a job that must run even
 *                    late (its argument belongs to it): the caller waits
 *                    at most WORKER_WAIT, the job runs when the worker can.
 *   worker -> main   worker_post(worker_main, ...): queued, not waited for
 *                    (state changes for the control clients and systemd)
 *   worker -> worker worker_post(): queued (a set-up slot freed for a
 *                    tunnel on another worker, tunnel_setup.c)
 *
 * A worker never waits for another thread, and the main thread waits for
 * a worker only within a bound, so nothing a worker does can hang the
 * control socket, reload or SIGTERM.  Once a worker has missed the bound
 * it is "busy": calls to it do not wait at all until it runs its queue
 * again.  At shutdown a worker that does not stop within the bound is left
 * behind (worker_shutdown() says which) and tunneld exits without it.
 * The main thread's own queue is worker_main, which has no thread of its
 * own: its jobs run in the main loop.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <event2/thread.h>

#include "base.h"

#define WORKER_HOSTS	"/etc/hosts"
#define WORKER_RESOLV	"/etc/resolv.conf"

/* A file as stat() saw it, to tell that it changed (zeroes: missing). */
struct worker_stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
};

/*
 * A job is shared by the queue (until the worker has run it) and by a
 * caller that waits for it; the last one lets go frees it.
 */
struct job {
	TAILQ_ENTRY(job)	 entry;
	void			(*fn)(void *);
	void			*arg;
	int			 refs;
	int			 started;
	int			 done;
};

struct worker {
	unsigned		 id;		/* 0: the main thread */
	pthread_t		 thread;
	int			 running;	/* a thread of its own */
	int			 stopped;	/* ... which has left its loop */
	int			 busy;		/* missed WORKER_WAIT, has not
						   run its queue since */
	struct event_base	*base;
	struct evdns_base	*dns;
	struct event		*ev_jobs;
	pthread_mutex_t		 lock;
	pthread_cond_t		 done;		/* CLOCK_MONOTONIC */
	TAILQ_HEAD(, job)	 jobs;
	unsigned		 ntunnels;	/* placed here (main thread) */
	struct worker_stamp	 hosts_stamp;	/* the files its resolver */
	struct worker_stamp	 resolv_stamp;	/* read, as they were */
};

struct worker		 *worker_main;
static struct worker	**workers;
static unsigned		  nworkers;
static pthread_t	  worker_main_thread;

static void
worker_job_unref(struct job *j)
{
	if (--j->refs == 0)
		free(j);
}

/* Run what is queued, in order; waiting callers are woken. */
static void
worker_jobs_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	if (w->busy)
		log_notice("worker %u answers again", w->id);
	w->busy = 0;
	while ((j = TAILQ_FIRST(&w->jobs)) != NULL) {
		TAILQ_REMOVE(&w->jobs, j, entry);
		j->started = 1;
		pthread_mutex_unlock(&w->lock);
		j->fn(j->arg);
		pthread_mutex_lock(&w->lock);
		j->done = 1;
		pthread_cond_broadcast(&w->done);
		worker_job_unref(j);
	}
	pthread_mutex_unlock(&w->lock);
}

/* With w->lock held. */
static struct job *
worker_enqueue(struct worker *w, void (*fn)(void *), void *arg, int refs)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->fn = fn;
	j->arg = arg;
	j->refs = refs;
	TAILQ_INSERT_TAIL(&w->jobs, j, entry);
	event_active(w->ev_jobs, EV_READ, 0);	/* thread-safe: evthread */
	return j;
}

/*
 * Only the main thread waits, and only for a worker with a thread: a
 * worker that waited could deadlock, and a job for a worker without a
 * thread would never run.  Either is a bug in the caller; it is refused.
 */
static int
worker_may_wait(struct worker *w, const char *what)
{
	if (!pthread_equal(pthread_self(), worker_main_thread)) {
		log_error("BUG: %s to worker %u from a worker thread", what,
		    w->id);
		return 0;
	}
	if (!w->running || w->stopped) {
		log_error("BUG: %s to worker %u, which has no thread", what,
		    w->id);
		return 0;
	}
	return 1;
}

/*
 * With w->lock held: wait until j is done, for at most WORKER_WAIT (not
 * at all if w is busy).  Returns whether it is done.
 */
static int
worker_wait(struct worker *w, struct job *j)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)WORKER_WAIT;
	ts.tv_nsec += (long)((WORKER_WAIT - (time_t)WORKER_WAIT) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!j->done && !w->busy) {
		if (pthread_cond_timedwait(&w->done, &w->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (j->done)
		return 1;
	if (!w->busy)
		log_error("worker %u has not answered for %.1fs: it is stuck "
		    "in a blocking call (a file on a hung file system?); the "
		    "tunnels on it are reported as it last posted them",
		    w->id, WORKER_WAIT);
	w->busy = 1;
	return 0;
}

/*
 * Run fn(arg) on w's thread and wait for it, at most WORKER_WAIT: 0 when
 * it ran.  -1 when w did not get to it in time (or is busy): the job is
 * withdrawn and never runs.  A job that has started is waited for to its
 * end, so arg may live on the caller's stack: jobs run in memory and on
 * non-blocking descriptors only (tunnel.c starts sessions, which read key
 * files, from the worker's own events), and one that runs for longer than
 * the bound is logged as a bug.  Main thread only.
 */
int
worker_call(struct worker *w, void (*fn)(void *), void *arg)
{
	struct job *j;
	int done;

	if (!worker_may_wait(w, "worker_call"))
		return -1;
	pthread_mutex_lock(&w->lock);
	j = worker_enqueue(w, fn, arg, 2);
	if (!(done = worker_wait(w, j)) && !j->started) {
		TAILQ_REMOVE(&w->jobs, j, entry);	/* withdrawn */
		j->refs--;				/* the queue's */
	} else if (!done) {
		/* started late: it ends soon, unless it blocks (a bug) */
		w->busy = 0;
		if (!worker_wait(w, j))
			log_error("BUG: worker %u: a job has run for more than "
			    "%.1fs", w->id, WORKER_WAIT);
		while (!j->done)
			pthread_cond_wait(&w->done, &w->lock);
		w->busy = 0;
		done = 1;
	}
	worker_job_unref(j);
	pthread_mutex_unlock(&w->lock);
	return done ? 0 : -1;
}

/*
 * Queue fn(arg) on w's thread and wait for it, at most WORKER_WAIT: 0
 * when it ran, -1 when it has not yet (it runs when w gets to it, or not
 * at all if tunneld exits first).  arg must stay valid until fn has run;
 * after -1 the caller must not read it.  Main thread only.
 */
int
worker_send(struct worker *w, void (*fn)(void *), void *arg)
{
	struct job *j;
	int done;

	if (!worker_may_wait(w, "worker_send"))
		return -1;
	pthread_mutex_lock(&w->lock);
	j = worker_enqueue(w, fn, arg, 2);
	done = worker_wait(w, j);
	worker_job_unref(j);
	pthread_mutex_unlock(&w->lock);
	return done ? 0 : -1;
}

/* Queue fn(arg) on w's thread; do not wait.  arg belongs to fn. */
void
worker_post(struct worker *w, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&w->lock);
	worker_enqueue(w, fn, arg, 1);
	pthread_mutex_unlock(&w->lock);
}

/* Has w missed the bound and not run its queue since?  (status.c) */
int
worker_busy(struct worker *w)
{
	int busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

struct event_base *
worker_base(struct worker *w)
{
	return w->base;
}

/*
 * The worker's resolver, for a new session: /etc/hosts and
 * /etc/resolv.conf are read again first if they changed (the worker's
 * thread only).
 */
struct evdns_base *
worker_dns(struct worker *w)
{
	worker_dns_check(w);
	return w->dns;
}

/* Has path changed since stamp was taken?  The stamp is renewed. */
static int
worker_file_changed(const char *path, struct worker_stamp *stamp)
{
	struct worker_stamp now;
	struct stat st;

	memset(&now, 0, sizeof now);
	if (stat(path, &st) == 0) {
		now.dev = st.st_dev;
		now.ino = st.st_ino;
		now.size = st.st_size;
		now.mtime = st.st_mtim;
		now.ctime = st.st_ctim;
	}
	if (memcmp(&now, stamp, sizeof now) == 0)
		return 0;
	*stamp = now;
	return 1;
}

/*
 * The worker's thread: re-read /etc/hosts and /etc/resolv.conf into its
 * resolver if either changed since it last looked (a stat() of each: the
 * files may be replaced, edited in place, symbolic links to /run, or bind
 * mounts).  Requests under way are suspended while the name servers are
 * replaced, and go on with the new ones.
 */
void
worker_dns_check(struct worker *w)
{
	int hosts, resolv, rc;

	if (w == NULL || w->dns == NULL)
		return;
	hosts = worker_file_changed(WORKER_HOSTS, &w->hosts_stamp);
	resolv = worker_file_changed(WORKER_RESOLV, &w->resolv_stamp);
	if (!hosts && !resolv)
		return;
	log_info("worker %u: %s%s%s changed: read again", w->id,
	    hosts ? WORKER_HOSTS : "", hosts && resolv ? " and " : "",
	    resolv ? WORKER_RESOLV : "");
	evdns_base_clear_host_addresses(w->dns);
	evdns_base_clear_nameservers_and_suspend(w->dns);
	rc = evdns_base_resolv_conf_parse(w->dns, DNS_OPTIONS_ALL,
	    WORKER_RESOLV);
	if (rc != 0)
		log_info("worker %u: %s: %s", w->id, WORKER_RESOLV,
		    rc == 6 ? "no name servers; 127.0.0.1 is asked" :
		    "cannot be read; 127.0.0.1 is asked");
	evdns_base_load_hosts(w->dns, NULL);	/* localhost, always */
	evdns_base_resume(w->dns);
}

/* The i-th worker thread (0 <= i < worker_count()), main thread. */
struct worker *
worker_at(unsigned i)
{
	return i < nworkers ? workers[i] : NULL;
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
	pthread_condattr_t ca;

	w->id = id;
	w->base = base;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->done, &ca);
	pthread_condattr_destroy(&ca);
	TAILQ_INIT(&w->jobs);
	w->ev_jobs = event_new(base, -1, 0, worker_jobs_cb, w);
	if (id == 0)
		return w;
	w->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)	/* no resolv.conf: names from hosts */
		w->dns = evdns_base_new(base, 0);
	evdns_base_load_hosts(w->dns, NULL);
	/* what was read: a later change is read again (worker_dns_check) */
	worker_file_changed(WORKER_HOSTS, &w->hosts_stamp);
	worker_file_changed(WORKER_RESOLV, &w->resolv_stamp);
	return w;
}

static void *
worker_main_loop(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	pthread_mutex_lock(&w->lock);
	w->stopped = 1;
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->lock);
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

	worker_main_thread = pthread_self();
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

/* The worker with the fewest tunnels takes the next one; a busy one
 * only if all are. */
struct worker *
worker_pick(void)
{
	struct worker *best = workers[0];
	int best_busy = worker_busy(best), busy;
	unsigned i;

	for (i = 1; i < nworkers; i++) {
		busy = worker_busy(workers[i]);
		if ((!busy && best_busy) || (busy == best_busy &&
		    workers[i]->ntunnels < best->ntunnels)) {
			best = workers[i];
			best_busy = busy;
		}
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

/* Does every worker answer?  0 if so (the systemd watchdog is fed only
 * then: a stuck thread stops it). */
int
worker_ping_all(void)
{
	return worker_call_all(worker_nop, NULL) == 0 ? 0 : -1;
}

/* worker_call(fn, arg) on every worker in turn; fn finds out where it
 * runs with worker_self().  Returns how many did not run it. */
unsigned
worker_call_all(void (*fn)(void *), void *arg)
{
	unsigned i, missed = 0;

	for (i = 0; i < nworkers; i++) {
		if (worker_call(workers[i], fn, arg) != 0)
			missed++;
	}
	return missed;
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

/*
 * With w->lock held: wait until w's thread has left its loop, at most
 * until the deadline ts.
 */
static int
worker_wait_stopped(struct worker *w, const struct timespec *ts)
{
	while (!w->stopped) {
		if (pthread_cond_timedwait(&w->done, &w->lock, ts) == ETIMEDOUT)
			break;
	}
	return w->stopped;
}

/*
 * After the tunnels are gone: stop and free the workers, waiting for them
 * all together at most WORKER_WAIT.  Returns how many did not stop (stuck
 * in a blocking call): those are left running and not freed, and the
 * caller must exit without freeing what they may still use.
 */
unsigned
worker_shutdown(void)
{
	struct timespec ts;
	unsigned i, stuck = 0;
	int stopped;

	for (i = 0; i < nworkers; i++)
		worker_post(workers[i], worker_stop_job, workers[i]);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)WORKER_WAIT + 1;
	for (i = 0; i < nworkers; i++) {
		pthread_mutex_lock(&workers[i]->lock);
		stopped = worker_wait_stopped(workers[i], &ts);
		pthread_mutex_unlock(&workers[i]->lock);
		if (!stopped) {
			log_error("worker %u did not stop: it is stuck in a "
			    "blocking call; exiting without it", workers[i]->id);
			stuck++;
			continue;
		}
		pthread_join(workers[i]->thread, NULL);
		workers[i]->running = 0;
		worker_free(workers[i]);
		workers[i] = NULL;
	}
	if (stuck > 0)
		return stuck;
	free(workers);
	workers = NULL;
	nworkers = 0;
	if (worker_main != NULL) {
		worker_jobs_cb(-1, 0, worker_main);	/* what was left */
		worker_free(worker_main);
		worker_main = NULL;
	}
	return 0;
}

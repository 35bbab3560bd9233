/*
 * test_tunnel.c - the tunnel state machine, without a server: the
 * transition table for every (state, event) pair, valid and invalid; the
 * entry actions (retry timer armed and cancelled, set-up slots taken and
 * given back, also to a tunnel on another worker; extra sessions' share
 * of them) on real tunnels whose
 * sessions never start; invalid events logged as bugs and ignored; and
 * the backoff schedule (full jitter within its bounds, the cap, the reset
 * after a stable period, slow retries after authentication failures).
 *
 * The tunnels run on real worker threads; the test drives them through
 * worker_call(), as the main thread does.  A tunnel whose set-up slot
 * comes loads its key from a path that does not exist, so its session
 * fails before any socket is opened: no network is touched.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

#define X	-1	/* invalid: a bug */
enum { D = TS_DOWN, C = TS_CONNECTING, U = TS_UP, G = TS_DEGRADED,
	B = TS_BACKOFF, F = TS_FAILED };

/* What SPEC.md and tunnel.c's header say, written out again by hand. */
static const int expected[6][12] = {
	/*	     UP DOWN RESTART SLOT SUP LOST AUTH FATAL FUP FPEND FFAIL RETRY */
	[TS_DOWN] =	  { C, D, C, X, X, X, X, X, X, X, X, X },
	[TS_CONNECTING] = { C, D, C, C, C, B, B, F, U, C, G, X },
	[TS_UP] =	  { U, D, C, X, X, B, B, F, U, U, G, X },
	[TS_DEGRADED] =	  { G, D, C, X, X, B, B, F, U, U, G, G },
	[TS_BACKOFF] =	  { C, D, C, X, X, X, X, X, X, X, X, C },
	[TS_FAILED] =	  { C, D, C, X, X, X, X, X, X, X, X, X },
};

static void
test_table(void **state)
{
	enum tunnel_state st, next;
	enum tunnel_event ev;
	int rc;

	for (st = TS_DOWN; st <= TS_FAILED; st++) {
		for (ev = TE_UP; ev <= TE_RETRY; ev++) {
			rc = tunnel_fsm_next(st, ev, &next);
			if (expected[st][ev] == X) {
				if (rc != -1)
					fail_msg("%s in %s: should be invalid",
					    tunnel_event_name(ev),
					    tunnel_state_name(st));
				continue;
			}
			if (rc != 0 || (int)next != expected[st][ev])
				fail_msg("%s in %s: got %s (rc %d), want %s",
				    tunnel_event_name(ev),
				    tunnel_state_name(st),
				    tunnel_state_name(next), rc,
				    tunnel_state_name(expected[st][ev]));
		}
	}
	assert_int_equal(tunnel_fsm_next(TS_UP, (enum tunnel_event)99, &next),
	    -1);
}

/* --- real tunnels on worker threads ---------------------------------------- */

static struct event_base *main_base;
static struct tunnel_conf *confs[64];
static size_t nconfs;
static char logpath[] = "/tmp/test_tunnel.XXXXXX";
static int logfd = -1, saved_stderr = -1;

static struct tunnel_conf *
conf_new(const char *name, const char *host)
{
	struct tunnel_conf *tc = xcalloc(1, sizeof *tc);

	tc->name = xstrdup(name);
	tc->host = xstrdup(host);
	tc->port = 22;
	tc->user = xstrdup("nobody");
	tc->identity_file = xstrdup("/nonexistent/tunneld-test/id_ed25519");
	tc->connect_timeout = 5;
	tc->reconnect_min = 1;
	tc->reconnect_max = 300;
	tc->keepalive_count = 3;
	assert_true(nconfs < nitems(confs));
	confs[nconfs++] = tc;
	return tc;
}

static int
setup_workers(void **state)
{
	char *cause = NULL;

	/* the log goes to a file, where the test looks for "BUG:" */
	if ((logfd = mkstemp(logpath)) == -1)
		return -1;
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(logfd, 2);
	log_init(LOG_LVL_DEBUG);
	log_set_rate_limit(0);	/* the test counts the lines it causes */
	if (worker_threads_enable() != 0 ||
	    (main_base = event_base_new()) == NULL)
		return -1;
	if (worker_init(main_base, 2, &cause) != 0) {
		free(cause);
		return -1;
	}
	return 0;
}

static int
teardown_workers(void **state)
{
	struct tunnel *t;
	size_t i;

	while ((t = TAILQ_FIRST(&tunnels)) != NULL)
		tunnel_destroy(t);
	worker_shutdown();
	event_base_free(main_base);
	for (i = 0; i < nconfs; i++) {
		free(confs[i]->name);
		free(confs[i]->host);
		free(confs[i]->user);
		free(confs[i]->identity_file);
		free(confs[i]->jump);
		free(confs[i]);
	}
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(logfd);
	if (getenv("KEEP_LOG") == NULL)
		unlink(logpath);
	else
		printf("log in %s\n", logpath);
	return 0;
}

/* How many lines of the log so far contain s. */
static int
log_count(const char *s)
{
	char line[2048];
	FILE *f;
	int n = 0;

	fflush(stderr);
	if ((f = fopen(logpath, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, s) != NULL)
			n++;
	}
	fclose(f);
	return n;
}

/* One event fed on the tunnel's worker, and what came of it. */
struct feed {
	struct tunnel		*t;
	enum tunnel_event	 ev;
	const char		*reason;
	/* after it */
	enum tunnel_state	 state;
	int			 timer;		/* the retry timer is armed */
	int			 begin;		/* the session is about to start */
	int			 queued;	/* waits for a set-up slot */
	double			 delay;
	unsigned		 attempts, reconnects;
	time_t			 next_retry;
	int			 has_error;
};

/* On the tunnel's worker: what the tunnel is like now. */
static void
feed_job_read(void *arg)
{
	struct feed *f = arg;
	struct tunnel *t = f->t;

	f->state = t->state;
	f->timer = evtimer_pending(t->retry_timer, NULL) != 0;
	f->begin = event_pending(t->ev_begin, EV_TIMEOUT, NULL) != 0 ||
	    t->session != NULL;
	f->queued = tunnel_setup_queued(t);
	f->delay = t->retry_delay;
	f->attempts = t->attempts;
	f->reconnects = t->reconnects;
	f->next_retry = t->next_retry;
	f->has_error = t->last_error != NULL;
}

/*
 * On the tunnel's worker: feed the event and read the result.  A session
 * about to start is held back (ev_begin cancelled), as if it were being
 * set up: it keeps its set-up slot and never touches the network.
 */
static void
feed_job(void *arg)
{
	struct feed *f = arg;

	tunnel_fsm(f->t, f->ev, f->reason);
	feed_job_read(f);
	event_del(f->t->ev_begin);
}

static struct feed
feed(struct tunnel *t, enum tunnel_event ev, const char *reason)
{
	struct feed f;

	memset(&f, 0, sizeof f);
	f.t = t;
	f.ev = ev;
	f.reason = reason;
	assert_int_equal(worker_call(t->worker, feed_job, &f), 0);
	return f;
}

/* Bring a tunnel to state st by valid events (its session never starts:
 * a "lost" comes before the set-up slot is used, or the slot is held). */
static void
bring_to(struct tunnel *t, enum tunnel_state st)
{
	feed(t, TE_DOWN, "test");
	switch (st) {
	case TS_DOWN:
		break;
	case TS_CONNECTING:
		feed(t, TE_UP, "test");
		break;
	case TS_UP:
		feed(t, TE_UP, "test");
		feed(t, TE_FWD_UP, NULL);
		break;
	case TS_DEGRADED:
		feed(t, TE_UP, "test");
		feed(t, TE_FWD_FAILED, "a forward failed");
		break;
	case TS_BACKOFF:
		feed(t, TE_UP, "test");
		feed(t, TE_LOST, "connection refused");
		break;
	case TS_FAILED:
		feed(t, TE_UP, "test");
		feed(t, TE_LOST_FATAL, "host key mismatch");
		break;
	}
}

/* On the worker: as if the session had come up at f->delay (mono_now),
 * after f->attempts failures. */
static void
set_up_at(void *arg)
{
	struct feed *f = arg;

	f->t->up_at = f->delay;
	f->t->attempts = f->attempts;
}

/* Every pair, on a real tunnel: the state after it and its timers. */
static void
test_transitions(void **state)
{
	struct tunnel *t = tunnel_create(conf_new("t", "fsm.invalid"));
	enum tunnel_state st;
	enum tunnel_event ev;
	struct feed f;
	int bugs;

	for (st = TS_DOWN; st <= TS_FAILED; st++) {
		for (ev = TE_UP; ev <= TE_RETRY; ev++) {
			if ((ev == TE_SLOT || ev == TE_SESSION_UP) &&
			    st == TS_CONNECTING)
				continue;	/* a session: test_setup_limit */
			bring_to(t, st);
			bugs = log_count("BUG:");
			f = feed(t, ev, "reason");
			if (expected[st][ev] == X) {
				assert_int_equal(f.state, st);
				assert_int_equal(log_count("BUG:"), bugs + 1);
				continue;
			}
			assert_int_equal(log_count("BUG:"), bugs);
			if ((int)f.state != expected[st][ev])
				fail_msg("%s in %s: %s", tunnel_event_name(ev),
				    tunnel_state_name(st),
				    tunnel_state_name(f.state));
			/* the retry timer: only in backoff, and in degraded
			 * when a listener here failed (none here) */
			assert_int_equal(f.timer, f.state == TS_BACKOFF);
			assert_int_equal(f.next_retry != 0,
			    f.state == TS_BACKOFF);
			/* a session (about to start) only in connecting */
			if (f.state != TS_CONNECTING)
				assert_false(f.begin);
			if (f.state == TS_BACKOFF || f.state == TS_FAILED ||
			    f.state == TS_DEGRADED)
				assert_true(f.has_error);
			if (f.state == TS_UP)
				assert_false(f.has_error);
		}
	}
	/* the log names both states */
	bring_to(t, TS_UP);
	assert_true(log_count("t: connecting -> up") >= 1);
	assert_true(log_count("t: up -> down (test)") >= 1);
	/* restart: down, then connecting, both logged */
	bugs = log_count("t: down -> connecting (restarted)");
	f = feed(t, TE_RESTART, "restarted");
	assert_int_equal(f.state, TS_CONNECTING);
	assert_int_equal(log_count("t: up -> down (restarted)"), 1);
	assert_int_equal(log_count("t: down -> connecting (restarted)"),
	    bugs + 1);
	feed(t, TE_DOWN, "test");
}

/* Counters: a retry or an up cuts a backoff short (reconnects), an up
 * from down or failed starts the schedule again (attempts). */
static void
test_counters(void **state)
{
	struct tunnel *t = tunnel_create(conf_new("c", "fsm.invalid"));
	struct feed f;

	bring_to(t, TS_BACKOFF);
	f = feed(t, TE_RETRY, NULL);
	assert_int_equal(f.state, TS_CONNECTING);
	assert_int_equal(f.reconnects, 1);
	f = feed(t, TE_LOST, "refused");
	assert_int_equal(f.attempts, 2);
	f = feed(t, TE_UP, "tunnelctl up");
	assert_int_equal(f.reconnects, 2);
	assert_int_equal(f.attempts, 2);	/* still counting */
	assert_false(f.timer);
	f = feed(t, TE_LOST_FATAL, "host key");
	assert_int_equal(f.state, TS_FAILED);
	assert_false(f.timer);
	f = feed(t, TE_UP, "tunnelctl up");
	assert_int_equal(f.attempts, 0);
	f = feed(t, TE_UP, "again");		/* wanted already: nothing */
	assert_int_equal(f.state, TS_CONNECTING);
	assert_int_equal(f.reconnects, 2);
	feed(t, TE_DOWN, "test");
}

/* The retry timer fires by itself and leads from backoff to connecting. */
static void
test_retry_timer(void **state)
{
	struct tunnel_conf *tc = conf_new("r", "fsm.invalid");
	struct tunnel *t;
	int i;

	tc->reconnect_min = tc->reconnect_max = 0.05;
	t = tunnel_create(tc);
	bring_to(t, TS_BACKOFF);
	for (i = 0; i < 200; i++) {	/* 2 s for a 0.05 s timer */
		usleep(10000);
		if (log_count("r: backoff -> connecting (retry)") == 1)
			break;
	}
	assert_int_equal(log_count("r: backoff -> connecting (retry)"), 1);
	feed(t, TE_DOWN, "test");
}

/* The schedule: full jitter between reconnect_min and a ceiling that
 * doubles with each failure, capped at reconnect_max. */
static void
test_backoff_schedule(void **state)
{
	struct tunnel_conf tc;
	double d, lo, hi, ceiling, min, max;
	unsigned n;
	int i;

	memset(&tc, 0, sizeof tc);
	tc.reconnect_min = 1;
	tc.reconnect_max = 300;
	for (n = 1; n <= 40; n++) {
		ceiling = n > 20 ? 1e9 : (double)(1u << (n - 1));
		hi = ceiling < tc.reconnect_max ? ceiling : tc.reconnect_max;
		lo = tc.reconnect_min;
		min = 1e9;
		max = 0;
		for (i = 0; i < 2000; i++) {
			d = tunnel_backoff(&tc, n, SE_NETWORK);
			if (d < lo || d > hi)
				fail_msg("attempt %u: %.3f outside [%g, %g]",
				    n, d, lo, hi);
			min = d < min ? d : min;
			max = d > max ? d : max;
		}
		/* full jitter: the whole range is used */
		if (hi > lo) {
			assert_true(min < lo + (hi - lo) * 0.05);
			assert_true(max > hi - (hi - lo) * 0.05);
		} else
			assert_true(min == lo && max == lo);
	}
	/* the cap */
	for (i = 0; i < 1000; i++)
		assert_true(tunnel_backoff(&tc, 1000, SE_NETWORK) <= 300);
	/* authentication failures: never sooner than AUTH_RETRY_MIN */
	for (n = 1; n <= 12; n++) {
		for (i = 0; i < 500; i++) {
			d = tunnel_backoff(&tc, n, SE_AUTH);
			assert_true(d >= AUTH_RETRY_MIN && d <= 300);
		}
	}
	tc.reconnect_max = 5;		/* below the slow floor */
	for (i = 0; i < 100; i++)
		assert_true(tunnel_backoff(&tc, 3, SE_AUTH) == AUTH_RETRY_MIN);
}

/* The schedule as the tunnel keeps it: attempts grow while sessions
 * flap, start again after one stayed up STABLE_PERIOD, and an
 * authentication failure waits at least AUTH_RETRY_MIN. */
static void
test_backoff_tunnel(void **state)
{
	struct tunnel *t = tunnel_create(conf_new("b", "fsm.invalid"));
	struct feed f, u;

	bring_to(t, TS_BACKOFF);
	feed(t, TE_RETRY, NULL);
	f = feed(t, TE_LOST, "refused");
	assert_int_equal(f.attempts, 2);
	assert_true(f.delay >= 1 && f.delay <= 2);
	assert_true(f.next_retry >= time(NULL) && f.next_retry <=
	    time(NULL) + 3);
	/* a session up for less than STABLE_PERIOD: a flap */
	feed(t, TE_RETRY, NULL);
	feed(t, TE_FWD_UP, NULL);
	memset(&u, 0, sizeof u);
	u.t = t;
	u.delay = mono_now() - 1;
	u.attempts = 6;
	assert_int_equal(worker_call(t->worker, set_up_at, &u), 0);
	f = feed(t, TE_LOST, "reset by peer");
	assert_int_equal(f.attempts, 7);
	assert_true(f.delay >= 1 && f.delay <= 64);
	/* up for longer: the schedule starts again */
	feed(t, TE_RETRY, NULL);
	feed(t, TE_FWD_UP, NULL);
	u.delay = mono_now() - STABLE_PERIOD - 1;
	assert_int_equal(worker_call(t->worker, set_up_at, &u), 0);
	f = feed(t, TE_LOST, "reset by peer");
	assert_int_equal(f.attempts, 1);
	assert_true(f.delay == 1);
	/* refused keys: slowly, and the reason says so */
	feed(t, TE_RETRY, NULL);
	f = feed(t, TE_LOST_AUTH, "authentication refused");
	assert_int_equal(f.state, TS_BACKOFF);
	assert_true(f.delay >= AUTH_RETRY_MIN);
	assert_true(log_count("retrying slowly") >= 1);
	feed(t, TE_DOWN, "test");
}

/* Wait until t is in st, at most 5 s (the workers are real threads). */
static int
await_state(struct tunnel *t, enum tunnel_state st)
{
	struct feed f;
	int i;

	for (i = 0; i < 500; i++) {
		memset(&f, 0, sizeof f);
		f.t = t;
		if (worker_call(t->worker, feed_job_read, &f) == 0 &&
		    f.state == st)
			return 1;
		usleep(10000);
	}
	return 0;
}

/*
 * SETUP_PER_SERVER sessions to one server over both workers; the next
 * tunnel waits (phase queued) whichever worker it is on, and gets the
 * slot freed on the other worker.  Its session then starts, and fails on
 * the missing key file (failed) - the proof that it was started.
 */
static void
test_setup_limit(void **state)
{
	struct tunnel *t[SETUP_PER_SERVER + 2], *other;
	struct feed f;
	char name[16];
	size_t i;

	for (i = 0; i < nitems(t); i++) {
		snprintf(name, sizeof name, "s%zu", i);
		t[i] = tunnel_create(conf_new(name, "limit.invalid"));
	}
	assert_ptr_not_equal(t[0]->worker, t[1]->worker);
	other = tunnel_create(conf_new("o", "other.invalid"));
	/* the first SETUP_PER_SERVER take a slot (their sessions held
	 * back: feed_job) */
	for (i = 0; i < SETUP_PER_SERVER; i++) {
		f = feed(t[i], TE_UP, "test");
		assert_int_equal(f.state, TS_CONNECTING);
		assert_false(f.queued);
		assert_true(f.begin);
	}
	for (i = SETUP_PER_SERVER; i < nitems(t); i++) {
		f = feed(t[i], TE_UP, "test");
		assert_int_equal(f.state, TS_CONNECTING);
		assert_true(f.queued);
		assert_false(f.begin);
	}
	/* another server is not limited by this one */
	f = feed(other, TE_UP, "test");
	assert_false(f.queued);
	feed(other, TE_DOWN, "test");
	/* one slot frees on t[1]'s worker: the oldest waiting, t[8], on the
	 * other worker, starts; its session fails at once on the missing
	 * key, which frees the slot again, for t[9] */
	assert_ptr_not_equal(t[1]->worker, t[SETUP_PER_SERVER]->worker);
	f = feed(t[SETUP_PER_SERVER + 1], TE_UP, NULL);
	assert_true(f.queued);
	feed(t[1], TE_DOWN, "test");
	assert_true(await_state(t[SETUP_PER_SERVER], TS_FAILED));
	assert_true(await_state(t[SETUP_PER_SERVER + 1], TS_FAILED));
	assert_int_equal(log_count("s8: connecting -> failed"), 1);
	assert_int_equal(log_count("s9: connecting -> failed"), 1);
	/* seven slots held: t[8] takes the eighth, t[9] waits; a waiting
	 * tunnel that goes down leaves the queue */
	f = feed(t[SETUP_PER_SERVER], TE_UP, "test");
	assert_false(f.queued);
	f = feed(t[SETUP_PER_SERVER + 1], TE_UP, "test");
	assert_true(f.queued);
	f = feed(t[SETUP_PER_SERVER + 1], TE_DOWN, "test");
	assert_false(f.queued);
	feed(t[0], TE_DOWN, "test");	/* nobody waits for this one */
	assert_int_equal(log_count("s9: connecting -> failed"), 1);
	f = feed(t[SETUP_PER_SERVER + 1], TE_UP, "test");
	assert_false(f.queued);
	for (i = 0; i < nitems(t); i++)
		feed(t[i], TE_DOWN, "test");
}

/*
 * A tunnel through a jump host takes a slot of the hop's and one of its
 * target's (named by the path to it): it waits while the hop's are all
 * taken, and while it holds one, a tunnel straight to the hop may wait
 * for it; its target is not the server of that name reached directly.
 */
static void
test_setup_chain(void **state)
{
	struct tunnel *t[SETUP_PER_SERVER], *j, *same, *direct;
	struct tunnel_conf *tc;
	struct feed f;
	char name[16];
	size_t i;

	for (i = 0; i < nitems(t); i++) {
		snprintf(name, sizeof name, "b%zu", i);
		t[i] = tunnel_create(conf_new(name, "bastion.invalid"));
		f = feed(t[i], TE_UP, "test");
		assert_false(f.queued);
	}
	tc = conf_new("j", "db.invalid");
	tc->jump = xstrdup("bastion.invalid");
	j = tunnel_create(tc);
	f = feed(j, TE_UP, "test");
	assert_true(f.queued);		/* the hop's slots are taken */
	same = tunnel_create(conf_new("d", "db.invalid"));
	f = feed(same, TE_UP, "test");
	assert_false(f.queued);		/* not j's target */
	feed(same, TE_DOWN, "test");
	/* a slot of the hop's frees: j gets it and its target's, starts,
	 * and fails on the missing key */
	feed(t[0], TE_DOWN, "test");
	assert_true(await_state(j, TS_FAILED));
	assert_int_equal(log_count("j: connecting -> failed"), 1);
	/* j holds the hop's eighth slot: a tunnel straight to it waits, and
	 * starts when j lets go */
	f = feed(j, TE_UP, "test");
	assert_false(f.queued);
	direct = tunnel_create(conf_new("x", "bastion.invalid"));
	f = feed(direct, TE_UP, "test");
	assert_true(f.queued);
	feed(j, TE_DOWN, "test");
	assert_true(await_state(direct, TS_FAILED));
	for (i = 0; i < nitems(t); i++)
		feed(t[i], TE_DOWN, "test");
	feed(j, TE_DOWN, "test");
	feed(direct, TE_DOWN, "test");
}

/*
 * Extra sessions (tunnel_sessions.c) take at most half a server's set-up
 * slots, never one a tunnel waits for: the rest stay for the tunnels' own
 * sessions.
 */
static void
test_setup_extras(void **state)
{
	struct tunnel *t[SETUP_PER_SERVER / 2 + 1], *own[SETUP_PER_SERVER / 2 + 1];
	struct setup_slots *e[nitems(t)];
	struct feed f;
	char name[16];
	size_t i, half = SETUP_PER_SERVER / 2;

	for (i = 0; i < nitems(t); i++) {
		snprintf(name, sizeof name, "e%zu", i);
		t[i] = tunnel_create(conf_new(name, "extras.invalid"));
		snprintf(name, sizeof name, "w%zu", i);
		own[i] = tunnel_create(conf_new(name, "extras.invalid"));
	}
	for (i = 0; i < half; i++)
		assert_non_null(e[i] = tunnel_setup_extra(t[i]));
	assert_null(tunnel_setup_extra(t[half]));	/* half the slots */
	tunnel_setup_extra_done(e[0]);
	assert_non_null(e[0] = tunnel_setup_extra(t[half]));
	/* the tunnels' own sessions take the other half; one more waits */
	for (i = 0; i < half; i++) {
		f = feed(own[i], TE_UP, "test");
		assert_false(f.queued);
	}
	f = feed(own[half], TE_UP, "test");
	assert_true(f.queued);
	/* an extra's slot that frees goes to the tunnel that waits (whose
	 * session fails on the missing key), not to another extra */
	tunnel_setup_extra_done(e[1]);
	assert_true(await_state(own[half], TS_FAILED));
	for (i = 2; i < half; i++)
		tunnel_setup_extra_done(e[i]);
	tunnel_setup_extra_done(e[0]);
	for (i = 0; i < nitems(t); i++)
		feed(own[i], TE_DOWN, "test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_retry_timer),
		cmocka_unit_test(test_backoff_tunnel),
		cmocka_unit_test(test_setup_limit),
		cmocka_unit_test(test_setup_chain),
		cmocka_unit_test(test_setup_extras),
	};

	return cmocka_run_group_tests(tests, setup_workers, teardown_workers);
}

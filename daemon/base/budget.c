/*
 * budget.c - descriptors.  At start the soft RLIMIT_NOFILE is raised to the
 * hard one.  A part of the table, the reserve, is kept from the connections
 * forwards accept (or, for remote forwards, open here), so that the
 * control socket, the metrics endpoint and the sessions still get
 * descriptors when local users hold as many connections as they can.
 *
 * The kernel gives out the lowest free descriptor: a connection whose
 * descriptor is at or above (limit - reserve) means every one below is in
 * use.  Forwards keep a connection only on a descriptor below that mark,
 * so together they never hold more than (limit - reserve) and the reserve
 * stays for the rest, without counting anything per connection.
 *
 * A listener that meets EMFILE or ENFILE stops reading for a while (its
 * caller disables its event) instead of waking up at once for the same
 * error again: struct listen_pause is the timer, the backoff and the
 * rate-limited message.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base.h"

#define PAUSE_MIN	0.1	/* seconds: a listener's first pause */
#define PAUSE_MAX	1.0	/* ... its longest: root's status within it */
#define PAUSE_LOG_EVERY	10.0	/* seconds between messages per listener */

static int budget_nofile = 1024;	/* the soft limit, once raised */
static int budget_reserve = 128;
static int budget_probe = -1;		/* duplicated to find the lowest free */

/*
 * Raise the soft limit to the hard one (systemd's units set both with
 * LimitNOFILE=); an infinite hard limit is capped by the kernel's nr_open,
 * which setrlimit() refuses to exceed: then 1 << 20, its default.
 */
void
budget_init(void)
{
	struct rlimit rl;
	rlim_t old;

	budget_probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	old = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			rl.rlim_cur = (rlim_t)1 << 20;
			if (rl.rlim_cur > rl.rlim_max ||
			    setrlimit(RLIMIT_NOFILE, &rl) == -1)
				rl.rlim_cur = old;
		}
	}
	budget_nofile = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	budget_reserve = budget_nofile / 8;
	if (budget_reserve < 32)
		budget_reserve = budget_nofile / 2 < 32 ? budget_nofile / 2 :
		    32;
	log_debug("descriptors: %d (the soft limit was %llu, the hard one is "
	    "%llu); %d kept from forwarded connections", budget_nofile,
	    (unsigned long long)old, (unsigned long long)rl.rlim_max,
	    budget_reserve);
}

int
budget_fd_limit(void)
{
	return budget_nofile;
}

int
budget_fd_reserve(void)
{
	return budget_reserve;
}

/* Is fd, just given by the kernel, in the reserve? */
int
budget_fd_over(int fd)
{
	return fd >= budget_nofile - budget_reserve;
}

/* Would a forward get a descriptor below the reserve now?  The lowest
 * free number, from a duplicate of a descriptor kept for it. */
int
budget_fd_room(void)
{
	int fd;

	if ((fd = fcntl(budget_probe, F_DUPFD_CLOEXEC, 0)) == -1)
		return 0;
	close(fd);
	return !budget_fd_over(fd);
}

/* Errors of accept() that say the process or the system is out of
 * descriptors or memory: waking up again at once cannot help. */
int
budget_accept_exhausted(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* --- a listener's pause --------------------------------------------------- */

void
listen_pause_init(struct listen_pause *lp, struct event_base *base,
    void (*cb)(evutil_socket_t, short, void *), void *arg)
{
	memset(lp, 0, sizeof *lp);
	lp->timer = evtimer_new(base, cb, arg);
	lp->delay = PAUSE_MIN;
}

void
listen_pause_clear(struct listen_pause *lp)
{
	if (lp->timer != NULL)
		event_free(lp->timer);
	lp->timer = NULL;
}

/*
 * The caller has disabled the listener: arm the timer that resumes it,
 * each pause twice as long as the one before up to PAUSE_MAX, and say so
 * at most every PAUSE_LOG_EVERY seconds with the count of pauses between.
 */
void
listen_pause_start(struct listen_pause *lp, const char *who, const char *why)
{
	double now = mono_now();

	lp->paused++;
	if (lp->last_log == 0 || now - lp->last_log >= PAUSE_LOG_EVERY) {
		log_warnx("%s: %s; not accepting for up to %gs at a time (%u "
		    "pauses since the last message)", who, why, PAUSE_MAX,
		    lp->paused - 1);
		lp->last_log = now;
		lp->paused = 0;
	}
	if (lp->timer != NULL)
		timer_add_secs(lp->timer, lp->delay);
	lp->delay *= 2;
	if (lp->delay > PAUSE_MAX)
		lp->delay = PAUSE_MAX;
}

/* An accept went through: the next pause is short again. */
void
listen_pause_ok(struct listen_pause *lp)
{
	lp->delay = PAUSE_MIN;
}

int
listen_pause_pending(const struct listen_pause *lp)
{
	return lp->timer != NULL && evtimer_pending(lp->timer, NULL);
}

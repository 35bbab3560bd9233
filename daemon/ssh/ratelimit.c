/*
 * ratelimit.c - a limit on the bytes a set of channels moves per second,
 * each way: up (read here from the local sockets, into the channels) and
 * down (written here to the local sockets).  Its owner (a tunnel, for all
 * its forwards and all its sessions) makes one and hands it down in
 * session_params; channel.c asks it before each read() and write() of a
 * local socket.
 *
 * The token bucket is libevent's rate-limit group (its read bucket for up,
 * its write bucket for down): it refills itself every tick, and its public
 * accounting calls give what is left and take what was moved.  Its own
 * suspension works only on bufferevents, which the pump does not use, so
 * this file keeps the waiting: a channel that finds the bucket empty, or
 * others already waiting, queues, and stops watching its socket that way;
 * at every tick while some wait, the tokens are dealt to the queue in
 * order, at most an equal share each (never less than RL_MIN_SHARE), as a
 * grant that the channel spends without asking again.  Those left without
 * stay at the head of the queue for the next tick, so one busy connection
 * cannot starve the others.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/bufferevent.h>

#include "session.h"

#define RL_TICK_MS	50	/* the bucket's tick */
#define RL_BURST_TICKS	4	/* what the bucket holds: tokens a late
				   wake-up would otherwise lose */
#define RL_MIN_SHARE	4096	/* the least one grant is worth */
#define RL_DRY_TICKS	20	/* ticks in a row with nothing refilled: the
				   wall clock went back (see ratelimit_dry) */

struct ratelimit {
	struct event_base	*base;
	long long		 rate;		/* bytes/s; 0: none */
	struct bufferevent_rate_limit_group *group;	/* NULL: none */
	struct event		*tick;		/* the waiters' wake-up */
	struct channels		 waiting[RL_DIRS];
	unsigned		 dry;		/* ticks that found it empty */
};

struct ratelimit *
ratelimit_new(struct event_base *base)
{
	struct ratelimit *rl = xcalloc(1, sizeof *rl);
	int d;

	rl->base = base;
	for (d = 0; d < RL_DIRS; d++)
		TAILQ_INIT(&rl->waiting[d]);
	return rl;
}

/* What a tick brings, in bytes. */
static ev_uint32_t
ratelimit_per_tick(long long rate)
{
	long long n = rate * RL_TICK_MS / 1000;

	return n > 0 ? (ev_uint32_t)n : 1;
}

static ev_ssize_t
ratelimit_left(struct ratelimit *rl, int dir)
{
	return dir == RL_UP ?
	    bufferevent_rate_limit_group_get_read_limit(rl->group) :
	    bufferevent_rate_limit_group_get_write_limit(rl->group);
}

static void
ratelimit_take(struct ratelimit *rl, int dir, size_t n)
{
	if (dir == RL_UP)
		bufferevent_rate_limit_group_decrement_read(rl->group,
		    (ev_ssize_t)n);
	else
		bufferevent_rate_limit_group_decrement_write(rl->group,
		    (ev_ssize_t)n);
}

static void
ratelimit_dequeue(struct ratelimit *rl, int dir, struct channel *c)
{
	TAILQ_REMOVE(&rl->waiting[dir], c, rl_entry[dir]);
	c->rl_waiting[dir] = 0;
}

static struct ev_token_bucket_cfg *
ratelimit_cfg(long long rate)
{
	struct timeval tick = { 0, RL_TICK_MS * 1000 };
	struct ev_token_bucket_cfg *cfg;
	ev_uint32_t per = ratelimit_per_tick(rate);
	ev_uint64_t burst = (ev_uint64_t)per * RL_BURST_TICKS;

	/* libevent takes at most EV_RATE_LIMIT_MAX (ssize_t): where that is
	 * 32 bits, the burst of the highest rate_limit is one over it */
	if (burst > (ev_uint64_t)EV_RATE_LIMIT_MAX)
		burst = (ev_uint64_t)EV_RATE_LIMIT_MAX;
	cfg = ev_token_bucket_cfg_new(per, (size_t)burst, per, (size_t)burst,
	    &tick);
	if (cfg == NULL)	/* only out of memory: per >= 1 */
		abort();
	return cfg;
}

static void
ratelimit_group_new(struct ratelimit *rl, long long rate)
{
	struct ev_token_bucket_cfg *cfg = ratelimit_cfg(rate);

	rl->group = bufferevent_rate_limit_group_new(rl->base, cfg);
	if (rl->group == NULL)
		abort();
	ev_token_bucket_cfg_free(cfg);	/* the group has its copy */
	rl->dry = 0;
}

/*
 * The group counts its ticks on the wall clock (libevent's cached time of
 * day): set back, it adds nothing until the clock is past where it was.
 * Waiters that find the bucket empty tick after tick, far longer than
 * one refill can take, mean that: a new group starts from now.
 */
static void
ratelimit_dry(struct ratelimit *rl)
{
	if (++rl->dry < RL_DRY_TICKS)
		return;
	bufferevent_rate_limit_group_free(rl->group);
	ratelimit_group_new(rl, rl->rate);
}

/* A tick: the tokens dealt to the waiters, in order, an equal share each. */
static void
ratelimit_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ratelimit *rl = arg;
	struct channel *c;
	ev_ssize_t left;
	size_t n, share, grant;
	int d, again = 0, dry = 0;

	for (d = 0; d < RL_DIRS && rl->group != NULL; d++) {
		n = 0;
		TAILQ_FOREACH(c, &rl->waiting[d], rl_entry[d])
			n++;
		if (n == 0)
			continue;
		left = ratelimit_left(rl, d);
		dry |= left <= 0;
		share = left > 0 ? (size_t)left / n : 0;
		if (share < RL_MIN_SHARE)
			share = RL_MIN_SHARE;
		while (left > 0 && (c = TAILQ_FIRST(&rl->waiting[d])) != NULL) {
			grant = share < (size_t)left ? share : (size_t)left;
			ratelimit_dequeue(rl, d, c);
			c->rl_grant[d] = grant;
			ratelimit_take(rl, d, grant);
			left -= (ev_ssize_t)grant;
			channel_ratelimit_wake(c);
		}
		if (!TAILQ_EMPTY(&rl->waiting[d]))
			again = 1;
	}
	if (dry)
		ratelimit_dry(rl);
	else
		rl->dry = 0;
	if (again)
		timer_add_secs(rl->tick, RL_TICK_MS / 1000.0);
}

/* Everyone waiting goes: the limit is off, or gone. */
static void
ratelimit_release(struct ratelimit *rl)
{
	struct channel *c;
	int d;

	for (d = 0; d < RL_DIRS; d++) {
		while ((c = TAILQ_FIRST(&rl->waiting[d])) != NULL) {
			ratelimit_dequeue(rl, d, c);
			channel_ratelimit_wake(c);
		}
	}
}

/*
 * The limit, bytes per second each way (0: none); at once, for the
 * connections open too.  A new rate keeps what the bucket holds, cut to
 * the new burst.
 */
void
ratelimit_set(struct ratelimit *rl, long long rate)
{
	struct ev_token_bucket_cfg *cfg;

	if (rl == NULL || rate == rl->rate)
		return;
	if (rate > 0 && rl->group != NULL) {
		cfg = ratelimit_cfg(rate);
		bufferevent_rate_limit_group_set_cfg(rl->group, cfg);
		ev_token_bucket_cfg_free(cfg);	/* the group has its copy */
	} else if (rate > 0) {
		ratelimit_group_new(rl, rate);
		if (rl->tick == NULL)
			rl->tick = evtimer_new(rl->base, ratelimit_tick_cb, rl);
	} else {
		ratelimit_release(rl);
		bufferevent_rate_limit_group_free(rl->group);
		rl->group = NULL;
	}
	rl->rate = rate;
}

long long
ratelimit_rate(const struct ratelimit *rl)
{
	return rl != NULL ? rl->rate : 0;
}

/* The owner's channels are gone (their sessions freed first). */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	ratelimit_set(rl, 0);
	if (rl->tick != NULL)
		event_free(rl->tick);
	free(rl);
}

/*
 * How many of want bytes c may move now in direction dir: its grant, or
 * straight from the bucket when nobody waits.  0: c waits for a tick
 * (queued here; channel_ratelimit_wake() tells it when to ask again).
 */
size_t
ratelimit_allow(struct ratelimit *rl, int dir, struct channel *c,
    size_t want)
{
	ev_ssize_t left;

	if (rl == NULL || rl->group == NULL)
		return want;
	if (c->rl_grant[dir] > 0)
		return want < c->rl_grant[dir] ? want : c->rl_grant[dir];
	if (c->rl_waiting[dir])
		return 0;
	left = ratelimit_left(rl, dir);
	if (left > 0 && TAILQ_EMPTY(&rl->waiting[dir]))
		return want < (size_t)left ? want : (size_t)left;
	TAILQ_INSERT_TAIL(&rl->waiting[dir], c, rl_entry[dir]);
	c->rl_waiting[dir] = 1;
	if (!evtimer_pending(rl->tick, NULL))
		timer_add_secs(rl->tick, RL_TICK_MS / 1000.0);
	return 0;
}

/* n bytes moved, of what ratelimit_allow() said. */
void
ratelimit_used(struct ratelimit *rl, int dir, struct channel *c, size_t n)
{
	if (rl == NULL || rl->group == NULL)
		return;
	if (c->rl_grant[dir] > 0)
		c->rl_grant[dir] -= n < c->rl_grant[dir] ? n : c->rl_grant[dir];
	else
		ratelimit_take(rl, dir, n);
}

/* c is going: out of the queues. */
void
ratelimit_forget(struct ratelimit *rl, struct channel *c)
{
	int d;

	for (d = 0; d < RL_DIRS; d++) {
		if (c->rl_waiting[d] && rl != NULL)
			ratelimit_dequeue(rl, d, c);
		c->rl_grant[d] = 0;
	}
}

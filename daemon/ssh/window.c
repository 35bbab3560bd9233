/*
 * window.c - receive windows sized for the path, as HPN-SSH does for
 * OpenSSH: a busy channel whose window is consumed within a round trip
 * gets a bigger one, within a budget per session (the tunnel's
 * window_budget) and one for the whole daemon (window_budget_total).
 *
 * What libssh2 (1.10 and 1.11 alike, src/channel.c) does, and what this
 * relies on: a channel's receive window (remote.window_size, read with
 * libssh2_channel_window_read_ex) is what was granted minus what was
 * *read*, not received, so it bounds what libssh2 may hold for the channel
 * (data queued plus data the server may still send).  Each
 * libssh2_channel_read() tops it up to the window given at open plus the
 * read length once it falls below three quarters of that; it never grows
 * it further.  libssh2_channel_receive_window_adjust2() adds to it (force:
 * at once) and sends WINDOW_ADJUST, a packet like any other: it may latch.
 *
 * So a channel opens with the window session_channel_window() gives it
 * (base), and only here is it raised above that: the target.
 * After each read the bytes consumed are counted, less what still waits in
 * the local socket's send queue; once per measuring
 * period (a round trip, at least WINDOW_PERIOD) a channel that consumed at
 * least half its target per round trip is limited by its window: the
 * target doubles, as far as the budgets allow.  One that consumed less
 * than an eighth for WINDOW_SHRINK periods in a row halves it (never below
 * base).  While the target is above
 * base, the window is topped up to it as the consumer reads, so a slow or
 * stalled consumer holds at most its target, and an idle or slow one never
 * grows: the memory of many idle connections stays what base makes it.
 *
 * The round trip is the session's shortest channel open (request to
 * answer: one round trip plus the server's connect) or its last ping,
 * whichever is shorter.  Bytes above base are reserved from the budgets
 * for as long as the window may hold them (max(target, window) - base), so
 * a channel that shrinks gives back only what it no longer holds.
 *
 * The base itself is inside the budgets too (doc/libssh2.md rule 6): it is
 * charged at open, for the channel's life, and session_channel_window()
 * sizes a new channel's base by what the budgets have left - never below
 * WINDOW_MIN, so a channel always opens, and only bases of WINDOW_MIN can
 * take the budgets past their limit.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <stdatomic.h>

#include "session.h"

#define WINDOW_PERIOD	0.01	/* seconds: the shortest measuring period */
#define WINDOW_SLACK	(128 * 1024)	/* top up once this much is read */
#define WINDOW_SHRINK	8	/* periods of little use before shrinking */

static _Atomic long long window_total_limit = 256LL * 1024 * 1024;
static _Atomic long long window_total_held;

/* The daemon-wide budget for windows above their base (configuration). */
void
window_total_set(long long bytes)
{
	atomic_store(&window_total_limit, bytes);
}

/* Bytes of windows above their base, over the whole daemon. */
long long
window_total_used(void)
{
	return atomic_load(&window_total_held);
}

/* Take up to want bytes from the budgets; what was granted. */
static long long
window_reserve(struct session *s, long long want)
{
	long long used, room;

	room = s->conf->window_budget - (long long)s->window_used;
	if (want > room)
		want = room;
	used = atomic_load(&window_total_held);
	do {
		room = atomic_load(&window_total_limit) - used;
		if (want > room)
			want = room;
		if (want <= 0)
			return 0;
	} while (!atomic_compare_exchange_weak(&window_total_held, &used,
	    used + want));
	s->window_used += (size_t)want;
	return want;
}

/* What the budgets have left for a new channel's base. */
long long
window_room(struct session *s)
{
	long long room, total;

	room = s->conf->window_budget - (long long)s->window_used;
	total = atomic_load(&window_total_limit) -
	    atomic_load(&window_total_held);
	return room < total ? room : total;
}

/* A channel's base, taken whatever the budgets say (it must open). */
static void
window_charge(struct session *s, long long n)
{
	atomic_fetch_add(&window_total_held, n);
	s->window_used += (size_t)n;
}

static void
window_unreserve(struct session *s, long long n)
{
	if (n <= 0)
		return;
	atomic_fetch_sub(&window_total_held, n);
	s->window_used -= (size_t)n;
}

/* The channel's open took rtt seconds; its window at open was base. */
void
window_opened(struct channel *c, unsigned base, double rtt)
{
	struct session *s = c->session;

	c->win.base = c->win.target = base;
	c->win.t0 = mono_now();
	if (c->win.charged == 0) {
		window_charge(s, base);
		c->win.charged = base;
	}
	if (rtt > 0 && (s->open_rtt_min <= 0 || rtt < s->open_rtt_min))
		s->open_rtt_min = rtt;
}

/* The round trip: the shortest channel open of the session or its last
 * ping (an open also waits for the server's connect, and for the CPU). */
static double
window_rtt(struct channel *c)
{
	double ping = c->session->rtt_ms / 1000;
	double open = c->session->open_rtt_min;

	if (ping > 0 && (open <= 0 || ping < open))
		return ping;
	return open;
}

/*
 * What the client has not taken of what was written to it: the kernel's
 * send queue (SIOCOUTQ).  A reader that does not read still accepts a
 * socket buffer's worth (megabytes, autotuned) at once: that is no sign of
 * a fast reader.
 */
static long long
window_outq(struct channel *c)
{
	int n = 0;

	if (c->fd == -1 || ioctl(c->fd, SIOCOUTQ, &n) == -1)
		return 0;
	return n;
}

/* Keep the reservation to what the window may hold above base. */
static void
window_account(struct channel *c, unsigned window)
{
	long long held = (long long)(window > c->win.target ? window :
	    c->win.target) - c->win.base;

	if (held < 0)
		held = 0;
	if (held < c->win.reserved) {
		window_unreserve(c->session, c->win.reserved - held);
		c->win.reserved = held;
	}
}

/* Once a period: grow a window that is the limit, shrink an unused one. */
static void
window_measure(struct channel *c, double now)
{
	double rtt = window_rtt(c), period, per_rtt;
	unsigned old = c->win.target;
	long long want, got, outq, taken;

	period = rtt > WINDOW_PERIOD ? rtt : WINDOW_PERIOD;
	if (rtt <= 0 || now - c->win.t0 < period)
		return;
	outq = window_outq(c);
	taken = (long long)c->win.bytes - (outq - c->win.outq);
	per_rtt = taken > 0 ? (double)taken * rtt / (now - c->win.t0) : 0;
	c->win.t0 = now;
	c->win.bytes = 0;
	c->win.outq = outq;
	if (per_rtt >= c->win.target / 2.0) {
		want = (long long)c->win.target;	/* double it */
		if (want > WINDOW_LIMIT - (long long)c->win.target)
			want = WINDOW_LIMIT - (long long)c->win.target;
		/* what is reserved above target is still held: reuse it */
		want -= c->win.reserved - ((long long)c->win.target -
		    c->win.base);
		got = want > 0 ? window_reserve(c->session, want) : 0;
		c->win.reserved += got;
		c->win.target = (unsigned)(c->win.base + c->win.reserved);
		if (c->win.target > old)
			c->win.grown++;
		c->win.idle = 0;
	} else if (per_rtt < c->win.target / 8.0 &&
	    c->win.target > c->win.base) {
		if (++c->win.idle < WINDOW_SHRINK)
			return;
		c->win.idle = 0;
		c->win.target = c->win.target / 2 > c->win.base ?
		    c->win.target / 2 : c->win.base;
	} else
		c->win.idle = 0;
	if (c->win.target != old)
		session_log(c->session, LOG_LVL_DEBUG, "%s: receive window %u "
		    "KiB -> %u KiB (%.0f KiB per round trip of %.1f ms; %zu "
		    "KiB held in the session, %lld KiB in the daemon)",
		    c->label, old / 1024, c->win.target / 1024, per_rtt / 1024,
		    rtt * 1000, c->session->window_used / 1024,
		    window_total_used() / 1024);
}

/* The consumer took n bytes: measure, and top the window up to target. */
void
window_consumed(struct channel *c, size_t n)
{
	unsigned long init = 0;
	unsigned window;

	window = (unsigned)libssh2_channel_window_read_ex(c->ch, NULL, &init);
	if (c->win.base == 0)	/* forwarded to us: libssh2 chose it */
		window_opened(c, (unsigned)init, 0);
	c->win.bytes += n;
	window_measure(c, mono_now());
	window_account(c, window);
	if (c->win.want == 0 && c->win.target > c->win.base &&
	    window + WINDOW_SLACK <= c->win.target)
		c->win.want = c->win.target - window;
}

/* The adjust the consumer earned was sent. */
void
window_adjusted(struct channel *c)
{
	c->win.want = 0;
}

/* The channel goes: what it held goes back to the budgets. */
void
window_release(struct channel *c)
{
	window_unreserve(c->session, c->win.reserved + c->win.charged);
	c->win.reserved = 0;
	c->win.charged = 0;
}

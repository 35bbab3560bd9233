/*
 * session_keepalive.c - is the server still there?  ServerAliveInterval and
 * ServerAliveCountMax as OpenSSH means them: every keepalive_interval an
 * SSH-level round trip; keepalive_count intervals without a byte from the
 * server (any byte counts as life) and the session is dead - also
 * when the server's kernel still ACKs (a frozen sshd) and when the link is
 * idle.  The kernel's own timers (TCP keepalive, TCP_USER_TIMEOUT) back this
 * up for a link that swallows data in flight.
 *
 * The round trip.  libssh2 1.10 never tracks a keepalive's reply (and
 * want_reply=1 keepalives corrupt later tcpip-forward answers), so the
 * probe is a request whose answer libssh2 does consume: an "env" request on
 * a session channel opened for the purpose (sshd answers it, accepted or
 * not, and starts nothing).  It does not need the session's one channel-open
 * slot, so a slow open (sshd connecting to a blackholed target for two
 * minutes) cannot starve the keepalives into a false verdict.  A server that
 * refuses session channels (sshd's MaxSessions 0) is probed instead by
 * opening a channel of an unknown type, which sshd refuses at
 * once - ahead of the opens queued, when the open slot is free.  When an
 * open holds the slot (rule 3), the probe does not wait behind it: it is
 * an "env" request on one of the session's open data channels (sshd
 * answers it on any channel: a failure for a direct-tcpip one).  With no
 * such channel, a keepalive@libssh2.org without reply goes out, and while
 * the server's kernel acknowledges it the verdict waits for the open, for
 * OPEN_HANG_MAX at most (doc/libssh2.md rule 14).
 *
 * A probe on demand (session_probe(): the network changed, the machine
 * resumed): a round trip now, and the session is dead unless a byte comes
 * back within the deadline the owner gives - instead of the full
 * interval x count.
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "session.h"

#define PROBE_VAR	"TUNNELD_KEEPALIVE"
#define ALIVE_GRACE	1.0	/* seconds for the last probe's answer */

static void
session_probe_done(struct session *s)
{
	s->ping_pending = 0;
	s->ping_nudged = 0;
	s->probe_via = NULL;
	s->rtt_ms = (mono_now() - s->ping_t0) * 1000;
	session_log(s, LOG_LVL_DEBUG, "round trip %.2f ms", s->rtt_ms);
}

/* Is the open slot taken - an open, or a request, in flight? */
static int
session_open_busy(struct session *s)
{
	double age;

	return session_opens(s, &age) > 0;
}

/* A channel of the session's to probe on, while the open slot is taken. */
static struct channel *
session_probe_channel(struct session *s)
{
	struct channel *c;

	TAILQ_FOREACH(c, &s->channels, entry) {
		if (c->state == CH_OPEN && c->ch != NULL && !c->ch_closed)
			return c;
	}
	return NULL;
}

/* The channel goes: a probe on it is forgotten (the next tick asks again). */
void
session_probe_forget(struct session *s, struct channel *c)
{
	if (s->probe_via != c || c == NULL)
		return;
	s->probe_via = NULL;
	s->probe_latched = NULL;
	s->ping_pending = 0;
}

/*
 * The probe while the open slot is taken and no channel is open: a
 * keepalive@libssh2.org without reply (a reply would be taken by the next
 * tcpip-forward request as its own), so that the server's kernel has
 * something to acknowledge.
 */
static int
session_probe_nudge(struct session *s)
{
	int next;

	s->probe_nudge = 0;
	libssh2_keepalive_config(s->ssh, 0, 1);
	if (libssh2_keepalive_send(s->ssh, &next) != 0 &&
	    session_check_error(s, libssh2_session_last_errno(s->ssh),
	    "keepalive"))
		return -1;
	return 0;
}

/*
 * No answer in time, but the probe could not be a round trip (the open
 * slot is taken by a data open, no channel is open): the verdict waits
 * while the server's kernel has acknowledged everything sent (TCP_INFO) -
 * the server is there, busy connecting for that open - and for
 * OPEN_HANG_MAX at most since the server last sent a byte, however many
 * opens take the slot in turn (libssh2 gives one up after 60 s).  A
 * keepalive's own open, or a request, is answered at once by a live
 * server: one that holds the slot is no reason to wait.
 */
static int
session_probe_blocked(struct session *s)
{
	struct open_req *r = TAILQ_FIRST(&s->opens);
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	if (s->probe_ch != NULL || s->probe_via != NULL || r == NULL ||
	    !r->started || (r->kind != OPEN_DIRECT_TCPIP &&
	    r->kind != OPEN_STREAMLOCAL) ||
	    mono_now() - s->last_rx >= OPEN_HANG_MAX)
		return 0;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_unacked == 0 && s->txq_len == 0;
}

/*
 * A round trip now, unless one is on its way; either way a pump, which
 * pulls through libssh2 whatever input is at hand (session_rx_buffer()
 * counts on it).  A pending probe is retried by every pump, so a pump is
 * all it needs; that one is already scheduled whenever input waits behind
 * a pending probe (doc/libssh2.md, "A lost wake-up?"), but that is an
 * argument about the pump's exits, and this costs one pump per tick.
 */
void
session_kick(struct session *s)
{
	if (s->ping_pending && !s->ping_nudged) {
		session_schedule(s);
		return;
	}
	s->ping_nudged = 0;	/* a nudge is no round trip: choose again */
	if (s->probe_ch == NULL && !session_open_busy(s)) {
		session_open(s, OPEN_PING, NULL, 0, NULL, 0, NULL);
		return;
	}
	if (s->probe_ch == NULL && (s->probe_via = session_probe_channel(
	    s)) == NULL)
		s->probe_nudge = s->ping_nudged = 1;	/* the verdict may
							   wait for the open */
	s->ping_pending = 1;
	s->ping_t0 = mono_now();
	session_schedule(s);
}

/*
 * Advance the env probe (in the pump; every libssh2 call may latch).
 * 1: answered; 0: waiting; -1: stop (latched, or the session failed).
 * A latched call is retried on its channel (probe_latched) until it has
 * gone through, even if the data channel it is on is closing meanwhile
 * (its LIBSSH2_CHANNEL is freed only by a later call of the pump's): any
 * other call would be "another packet" to libssh2 (rule 1).
 */
int
session_probe_step(struct session *s)
{
	LIBSSH2_CHANNEL *ch;
	int rc;

	if ((ch = s->probe_latched) != NULL)	/* first, alone */
		s->probe_latched = NULL;
	else {
		if (s->probe_nudge && s->latch_op == LATCH_NONE &&
		    session_probe_nudge(s) < 0)
			return -1;
		if (!s->ping_pending)
			return 0;
		if (s->probe_via != NULL && s->probe_via->state != CH_OPEN) {
			s->probe_via = NULL;	/* closing: the next tick */
			s->ping_pending = 0;
			return 0;
		}
		if ((ch = s->probe_ch) == NULL && s->probe_via != NULL)
			ch = s->probe_via->ch;
		if (ch == NULL)
			return 0;
	}
	rc = libssh2_channel_setenv_ex(ch, PROBE_VAR,
	    sizeof PROBE_VAR - 1, "1", 1);
	if (rc == LIBSSH2_ERROR_EAGAIN) {
		if (!session_note_eagain(s, NULL, LATCH_PROBE))
			return 0;
		s->probe_latched = ch;
		return -1;
	}
	if (!s->ping_pending)	/* its channel went meanwhile */
		return 1;
	if (rc == 0 || rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
		session_probe_done(s);
		return 1;
	}
	if (session_check_error(s, rc, "keepalive"))
		return -1;
	if (ch != s->probe_ch) {	/* the data channel went: next tick */
		s->probe_via = NULL;
		s->ping_pending = 0;
		return 1;
	}
	/* the server closed our probe channel: fall back to open probes */
	session_log(s, LOG_LVL_INFO, "keepalive channel lost (%s); probing "
	    "with channel opens", session_ssh_error(s));
	libssh2_channel_free(s->probe_ch);
	s->probe_ch = NULL;
	s->ping_pending = 0;
	session_kick(s);
	return 1;
}

/* The answer to the open of the probe channel (OPEN_SESSION). */
void
session_probe_opened(struct session *s, LIBSSH2_CHANNEL *ch, const char *err)
{
	if (ch == NULL) {
		session_log(s, LOG_LVL_INFO, "the server refuses session "
		    "channels (%s); keepalives open unknown channels instead",
		    err);
		return;
	}
	s->probe_ch = ch;
}

/* An open probe (OPEN_PING) was answered. */
void
session_ping_answered(struct session *s)
{
	session_probe_done(s);
}

/* Every keepalive_interval: a round trip, unless one is on its way. */
void
session_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->phase == SP_ESTABLISHED)
		session_kick(s);
}

/*
 * The owner's probe (session_probe()), at its deadline: 1 when the verdict
 * is in (the session failed), 0 when the usual schedule goes on.
 */
static int
session_probe_verdict(struct session *s)
{
	double now = mono_now();

	if (s->last_rx >= s->probe_since) {
		session_log(s, LOG_LVL_DEBUG, "answered %.2fs after the probe",
		    s->last_rx - s->probe_since);
		s->probe_by = 0;
		return 0;
	}
	if (now < s->probe_by) {
		timer_add_secs(s->ev_alive, s->probe_by - now + 0.001);
		return 1;
	}
	if (session_probe_blocked(s)) {	/* as session_alive_cb() judges */
		session_log(s, LOG_LVL_DEBUG, "no answer to the probe, but an "
		    "open holds the slot and the server acknowledges");
		s->probe_by = 0;
		return 0;
	}
	session_fail(s, SE_NETWORK, "no answer from %s within %.1fs of a "
	    "probe (the network changed)", s->addr, now - s->probe_since);
	return 1;
}

/*
 * The verdict.  Silence is measured from the last byte received, not from
 * the first probe that went unanswered (which ssh does, and so takes up to
 * one interval more): the session is dead once nothing has come for
 * keepalive_interval x keepalive_count, plus ALIVE_GRACE for the answer to
 * the probe of the last interval, while a probe waits for its answer.
 * The timer fires once per such period, not per byte.
 */
void
session_alive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	double iv = s->conf->keepalive_interval, quiet, limit;

	if (s->phase != SP_ESTABLISHED)
		return;
	if (s->probe_by > 0 && session_probe_verdict(s))
		return;
	if (iv <= 0)		/* off since a reload */
		return;
	limit = iv * s->conf->keepalive_count + ALIVE_GRACE;
	quiet = mono_now() - s->last_rx;
	if (quiet < limit) {
		timer_add_secs(s->ev_alive, limit - quiet + 0.001);
		return;
	}
	/* not asked yet, or only nudged while an open held the slot that
	 * is free now (the open failed): a nudge has no answer to wait
	 * for, so ask for a round trip, then judge */
	if (!s->ping_pending || (s->ping_nudged && !session_open_busy(s))) {
		session_kick(s);
		timer_add_secs(s->ev_alive, iv);
		return;
	}
	if (session_probe_blocked(s)) {
		session_log(s, LOG_LVL_DEBUG, "no answer for %.1fs, but an "
		    "open holds the slot and the server acknowledges: waiting",
		    quiet);
		s->ping_pending = 0;	/* the next tick probes again */
		timer_add_secs(s->ev_alive, iv);
		return;
	}
	session_fail(s, SE_NETWORK, "no answer from %s for %.1fs (%d "
	    "keepalives unanswered)", s->addr, quiet,
	    quiet < iv ? 1 : (int)(quiet / iv));
}

/* The ticks and the verdict on the schedule of the current settings. */
static void
session_keepalive_arm(struct session *s)
{
	double iv = s->conf->keepalive_interval;

	event_del(s->ev_keepalive);
	event_del(s->ev_alive);
	if (iv <= 0)
		return;
	/* The first round trip waits for the first tick: right after
	 * authentication sshd still has unacknowledged data out, and Nagle
	 * against our delayed ACK would add 40 ms to what rtt_ms reports. */
	timer_add_secs(s->ev_keepalive, iv);
	timer_add_secs(s->ev_alive, iv * s->conf->keepalive_count +
	    ALIVE_GRACE);
}

/*
 * The owner asks: is the server still there?  A round trip now; dead if
 * nothing comes back within deadline seconds.  A probe already under way
 * keeps its own deadline.
 */
void
session_probe(struct session *s, double deadline)
{
	if (s == NULL || s->phase != SP_ESTABLISHED || s->probe_by > 0)
		return;
	s->probe_since = mono_now();
	s->probe_by = s->probe_since + deadline;
	session_log(s, LOG_LVL_DEBUG, "probing %s (answer within %.1fs)",
	    s->addr, deadline);
	session_kick(s);
	timer_add_secs(s->ev_alive, deadline);
}

/* Authenticated: open the probe channel, start the ticks. */
void
session_keepalive_start(struct session *s)
{
	session_open(s, OPEN_SESSION, NULL, 0, NULL, 0, NULL);
	session_keepalive_arm(s);
}

/*
 * reload: keepalive_interval or keepalive_count changed (after
 * session_set_conf).  The timers start again on the new schedule, or stop
 * for an interval of 0; silence is still measured from the last byte.
 * The probe channel was opened at authentication whatever the interval.
 * The kernel's backstop on the socket keeps the values of the connect.
 */
void
session_keepalive_rearm(struct session *s)
{
	if (s != NULL)
		session_keepalive_rearm(s->via);	/* its jump hosts */
	if (s == NULL || s->phase != SP_ESTABLISHED)
		return;	/* a session still setting up arms them when it is up */
	session_log(s, LOG_LVL_DEBUG, "keepalives every %gs, %d unanswered is "
	    "dead", s->conf->keepalive_interval, s->conf->keepalive_count);
	session_keepalive_arm(s);
}

/*
 * session_pump.c - driving an established libssh2 1.10 session from the
 * event loop, by the rules of shared/LIBSSH2.md: the latch and the pump.
 * The socket's callbacks and queues are session_io.c's, the open slot and
 * the deferred upward calls session_open.c's, the global requests and
 * listeners session_listen.c's.
 *
 *  - The latch.  libssh2 1.10 has one outgoing packet buffer per session:
 *    after a call returns EAGAIN with OUTBOUND blocked, the next libssh2 call
 *    on the session must be that same call.  session_note_eagain() records
 *    it (latch_ch, latch_op) and session_pump() retries it first and makes
 *    no other call until it completes.  Callers keep their buffers still
 *    while latched (channel.c reads only into an empty buffer and writes
 *    only from a full one).
 *  - Lost wake-ups.  Any call may queue other channels' data inside libssh2,
 *    so the pump goes round every channel until a round makes no progress.
 *  - One open in flight.  Opens (channels, and keepalive pings where the
 *    server refuses a probe channel) and global requests wait in a FIFO
 *    (session_open.c).
 *  - Input is read through our own recv callback (session_io.c), so every
 *    byte received is seen (last_rx) and, when nothing inside libssh2 wants
 *    input, the socket is still drained into a bounded buffer instead of
 *    waking the loop in vain; a ping then pulls that input through libssh2.
 *  - Busy, the pump tries the socket for input every round and yields
 *    through the poll (session_yield()), so neither the session's own
 *    input nor the worker's other sessions wait for a bulk transfer.
 *
 * The pump never calls its owner, so nothing called from inside it frees
 * a session object or calls libssh2 on the session other than through the
 * pump: what it learns for the owner is raised with session_raise() and
 * delivered by session_deliver_cb() after the pump has returned
 * (session_open.c).  Inside the pump, transport code frees only what the
 * pump itself reaps (dead channels, between two of their calls); a
 * session's end is ev_dead's.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "session.h"

/* --- the latch ----------------------------------------------------------- */

/*
 * A libssh2 call returned EAGAIN.  If it left part of a packet unsent, it
 * must be the next call made on this session: latch it and return 1.
 */
int
session_note_eagain(struct session *s, struct channel *c, int op)
{
	if (libssh2_session_block_directions(s->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND) {
		s->latch_ch = c;
		s->latch_op = op;
		return 1;
	}
	return 0;
}

/* Is the session's pending call one of this channel's? */
int
session_latched_on(struct session *s, struct channel *c)
{
	return s->latch_op != LATCH_NONE && s->latch_ch == c;
}

/*
 * A libssh2 call on a channel failed with rc.  Errors of the transport end
 * the session (every channel would meet them); others cost only the channel.
 * Returns 1 if the session failed.
 */
int
session_check_error(struct session *s, int rc, const char *what)
{
	socklen_t len = sizeof(int);
	int e;

	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_BAD_USE:
	case LIBSSH2_ERROR_ALLOC:
	case LIBSSH2_ERROR_INVALID_MAC:
		e = s->sock_errno;
		if (e == 0 && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e,
		    &len) == -1)
			e = 0;
		if (s->rx_eof && rc != LIBSSH2_ERROR_BAD_USE)
			session_fail(s, SE_NETWORK, "connection closed by %s", s->addr);
		else if (e != 0)
			session_fail(s, SE_NETWORK, "connection to %s: %s%s",
			    s->addr, strerror(e), e != ETIMEDOUT ? "" :
			    "; TCP_USER_TIMEOUT: data unacknowledged for "
			    "keepalive_interval x keepalive_count");
		else
			session_fail(s, SE_NETWORK, "%s: %s", what,
			    session_ssh_error(s));
		return 1;
	default:
		return 0;
	}
}

/* --- the pump ------------------------------------------------------------ */

void
session_channel_attach(struct session *s, struct channel *c)
{
	TAILQ_INSERT_TAIL(&s->channels, c, entry);
	s->nchannels++;
}

void
session_channel_detach(struct session *s, struct channel *c)
{
	if (s->latch_ch == c) {	/* only when the session is going away */
		s->latch_ch = NULL;
		s->latch_op = LATCH_NONE;
	}
	TAILQ_REMOVE(&s->channels, c, entry);
	s->nchannels--;
}

/* Channels closed for making no progress (channel_stall_timeout). */
uint64_t
session_channels_stalled(struct session *s)
{
	return s != NULL ? s->channels_stalled : 0;
}
void
session_schedule(struct session *s)
{
	if (s->phase == SP_ESTABLISHED)
		event_active(s->ev_pump, 0, 0);
}

/*
 * A round made no progress, but may libssh2 have stopped with input at hand?
 * (Rule 2 of doc/libssh2.md as it holds on 1.11.)
 *
 * libssh2 1.10 returns EAGAIN for input (all but never) only once our recv
 * callback has said EAGAIN: then the socket is drained and its read event
 * wakes us.
 * 1.11's full-packet ciphers (chacha20-poly1305, its default, and AES-GCM)
 * break that: _libssh2_transport_read(), needing a whole packet before it
 * can decrypt, returns EAGAIN as soon as its buffer holds less than the
 * packet - after one recv that returned only part (rxq's rest, or what the
 * socket had), or with no recv at all (the length was read from what the
 * previous packet left over; only the next call reads).  The rest of the
 * packet then waits in rxq or in the socket.  If the pump stopped there,
 * nothing would call libssh2 again: the socket event fires once, its
 * bytes go to rxq (session_rx_buffer), the server waits for a window
 * adjust that never comes, rxq fills, reading stops and the keepalive
 * verdict ends the session while data was flowing.
 *
 * So the pump goes on while libssh2 takes bytes from us (they are real
 * progress: packets being completed), and once more when libssh2 stopped
 * for input without our recv callback having said EAGAIN since its last
 * bytes (that one more call reads).  Only an EAGAIN from the callback
 * ends the pump for want of input, as on 1.10.
 */
static int
session_input_at_hand(struct session *s, unsigned long fed, int *retried)
{
	if (s->rx_fed != fed)
		return 1;
	if (s->rx_starved || *retried || !(libssh2_session_block_directions(
	    s->ssh) & LIBSSH2_SESSION_BLOCK_INBOUND))
		return 0;
	*retried = 1;
	return 1;
}

/* Retry the latched call; 0 once it went through, -1 while still latched. */
static int
session_unlatch(struct session *s)
{
	struct channel *c = s->latch_ch;
	int op = s->latch_op;

	s->latch_ch = NULL;
	s->latch_op = LATCH_NONE;
	if (op == LATCH_OPEN)
		session_open_step(s);
	else if (op == LATCH_ACCEPT)
		session_accept(s);
	else if (op == LATCH_PROBE)
		session_probe_step(s);
	else
		channel_retry(c, op);
	return s->latch_op != LATCH_NONE || s->phase != SP_ESTABLISHED ? -1 : 0;
}

/*
 * Fairness when the socket is what limits: a channel's call latched (the
 * socket is full), so the next pump retries it first and then goes round
 * the channels from the start.  Put the latched channel, and those before
 * it, last: the next ones get their turn before it writes again, so a
 * channel that fills the socket at every pump does not keep its place at
 * the head.
 */
static void
session_latch_last(struct session *s)
{
	struct channel *c, *latched = s->latch_ch;
	unsigned n;

	if (s->latch_op == LATCH_NONE || s->latch_op >= LATCH_OPEN ||
	    latched == NULL || s->phase != SP_ESTABLISHED)
		return;
	for (n = 0; n < s->nchannels; n++) {	/* it is on the list */
		c = TAILQ_FIRST(&s->channels);
		TAILQ_REMOVE(&s->channels, c, entry);
		TAILQ_INSERT_TAIL(&s->channels, c, entry);
		if (c == latched)
			break;
	}
}

/*
 * The pump went PUMP_ROUNDS rounds and there is more: go on once the loop
 * has polled.  A timer that is already due, not event_active(): libevent
 * runs what is made active from a callback in the same pass, before it
 * polls again, so a pump that kept itself active would run on for as long
 * as the socket accepts its writes, while the session's own input waited
 * in the socket (its read event cannot fire, and the recv callback says
 * EAGAIN until it does) with every other session and tunnel of the
 * worker.  After the poll, the socket events come first (doc/libssh2.md
 * rule 11).
 */
static void
session_yield(struct session *s)
{
	static const struct timeval due = { 0, 0 };

	event_add(s->ev_pump, &due);
}

/*
 * Channels whose close expired, before anything else in a round: their
 * libssh2_channel_free() goes through only once it reads a packet itself
 * (doc/libssh2.md rule 13), and the open or the probe step would read
 * the ping's answer first.  -1: stop the round.
 */
static int
session_pump_expired(struct session *s)
{
	struct channel *c, *next;
	int progress = 0;

	TAILQ_FOREACH_SAFE(c, &s->channels, entry, next) {
		if (c->state != CH_CLOSING || !c->close_expired)
			continue;
		progress |= channel_pump(c);
		if (c->state == CH_DEAD)
			channel_session_gone(c);
		if (s->latch_op != LATCH_NONE || s->phase != SP_ESTABLISHED)
			return -1;
	}
	return progress;
}

void
session_pump(struct session *s)
{
	struct channel *c, *next;
	int progress, rounds, r, retried = 0;
	unsigned long fed;

	if (s->phase != SP_ESTABLISHED)
		return;
	s->pumping = 1;		/* session_free() checks the rule */
	for (rounds = 0; rounds < PUMP_ROUNDS; rounds++) {
		/* a busy round is worth one recv: input (an answer on another
		 * channel, a window adjust) is taken every round, not only
		 * when the loop polls again */
		if (rounds > 0)
			s->rx_drained = 0;
		fed = s->rx_fed;
		if (s->latch_op != LATCH_NONE && session_unlatch(s) != 0)
			goto out;
		if ((progress = session_pump_expired(s)) < 0)
			goto out;
		progress |= session_open_step(s);
		if (s->latch_op != LATCH_NONE || s->phase != SP_ESTABLISHED)
			goto out;
		if ((r = session_probe_step(s)) < 0)
			goto out;
		progress |= r;
		TAILQ_FOREACH_SAFE(c, &s->channels, entry, next) {
			progress |= channel_pump(c);
			if (c->state == CH_DEAD)	/* reaped on the way */
				channel_session_gone(c);
			if (s->latch_op != LATCH_NONE ||
			    s->phase != SP_ESTABLISHED)
				goto out;
		}
		if ((r = session_accept(s)) < 0)
			goto out;
		progress |= r;
		if (!progress && session_input_at_hand(s, fed, &retried))
			progress = 1;
		if (!progress)
			break;
	}
	if (rounds == PUMP_ROUNDS)	/* busy: after the others' turn */
		session_yield(s);
	/* fairness: the next pump starts with another channel */
	if ((c = TAILQ_FIRST(&s->channels)) != NULL) {
		TAILQ_REMOVE(&s->channels, c, entry);
		TAILQ_INSERT_TAIL(&s->channels, c, entry);
	}
out:
	s->pumping = 0;
	session_latch_last(s);
	if (s->rx_eof && s->rxq_len == 0 && s->phase == SP_ESTABLISHED)
		session_fail(s, SE_NETWORK, "connection closed by %s", s->addr);
	session_arm(s);
}

void
session_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	session_pump(arg);
}

/*
 * session_open.c - the session's one open slot: the FIFO of channel opens
 * and global requests (one in flight, doc/libssh2.md rule 3), opens given
 * up by their channel, what the opens take (for status and the choice of
 * a session), and the upward calls raised inside the pump and delivered
 * after it (session_raise, session_deliver_cb).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* --- channel opens: one in flight, FIFO ---------------------------------- */

static const char *session_open_target(struct open_req *);

void
session_open_free(struct open_req *r)
{
	free(r->target);
	free(r->payload);
	free(r->host);
	free(r);
}

static void
put_string(unsigned char **p, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);

	(*p)[0] = (unsigned char)(n >> 24);
	(*p)[1] = (unsigned char)(n >> 16);
	(*p)[2] = (unsigned char)(n >> 8);
	(*p)[3] = (unsigned char)n;
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

static void
put_u32(unsigned char **p, uint32_t v)
{
	(*p)[0] = (unsigned char)(v >> 24);
	(*p)[1] = (unsigned char)(v >> 16);
	(*p)[2] = (unsigned char)(v >> 8);
	(*p)[3] = (unsigned char)v;
	*p += 4;
}

/*
 * Queue a channel open.  direct-tcpip and direct-streamlocal are opened with
 * libssh2_channel_open_ex so the window can be sized (and because 1.10 has
 * no direct_streamlocal call); the payload is RFC 4254 7.2 / OpenSSH's
 * PROTOCOL section 2.4.
 */
void
session_open(struct session *s, enum session_open_kind kind, const char *host,
    int port, const char *orig_host, int orig_port, struct channel *c)
{
	struct open_req *r = xcalloc(1, sizeof *r);
	unsigned char *p;

	r->kind = kind;
	r->c = c;
	r->tag = c != NULL ? channel_owner(c) : NULL;
	switch (kind) {
	case OPEN_DIRECT_TCPIP:
		r->payload = xmalloc(strlen(host) + strlen(orig_host) + 16);
		p = r->payload;
		put_string(&p, host);
		put_u32(&p, (uint32_t)port);
		put_string(&p, orig_host);
		put_u32(&p, (uint32_t)orig_port);
		r->payload_len = (size_t)(p - r->payload);
		xasprintf(&r->target, "%s:%d", host, port);
		break;
	case OPEN_STREAMLOCAL:
		r->payload = xmalloc(strlen(host) + 16);
		p = r->payload;
		put_string(&p, host);	/* socket path */
		put_string(&p, "");	/* reserved */
		put_u32(&p, 0);		/* reserved */
		r->payload_len = (size_t)(p - r->payload);
		r->target = xstrdup(host);
		break;
	case OPEN_PING:
		s->ping_pending = 1;
		break;
	case OPEN_SESSION:
		break;
	default:	/* global requests: session_listen() and friends */
		abort();
	}
	if (c != NULL)
		channel_await_open(c);
	TAILQ_INSERT_TAIL(&s->opens, r, entry);
	session_schedule(s);
}

/* A channel gives up before its open completed (its client went away). */
void
session_open_abandon(struct session *s, struct channel *c)
{
	struct open_req *r;

	TAILQ_FOREACH(r, &s->opens, entry) {
		if (r->c != c)
			continue;
		if (r->started)	/* libssh2 holds it: finish, then close */
			r->c = NULL;
		else {
			TAILQ_REMOVE(&s->opens, r, entry);
			session_open_free(r);
		}
		return;
	}
}
/* Advance the open at the head of the queue; 1 if it completed. */
int
session_open_step(struct session *s)
{
	static const char *types[] = { "direct-tcpip",
	    "direct-streamlocal@openssh.com", "ping@tunneld", "session" };
	struct open_req *r = TAILQ_FIRST(&s->opens);
	LIBSSH2_CHANNEL *ch;
	const char *type, *err = NULL;
	int e;

	if (r == NULL)
		return 0;
	if (!r->started) {
		r->started = 1;
		r->t0 = mono_now();
		r->window = session_channel_window(s);
		r->debug_seq = s->debug_seq;
		if (r->kind == OPEN_PING)
			s->ping_t0 = mono_now();
		if (r->kind == OPEN_SESSION)
			r->window = PACKET_SIZE;	/* it carries no data */
	}
	if (r->kind >= REQ_LISTEN)
		return session_request_step(s, r);
	type = types[r->kind];
	ch = libssh2_channel_open_ex(s->ssh, type, (unsigned)strlen(type),
	    r->window, PACKET_SIZE, (const char *)r->payload,
	    (unsigned)r->payload_len);
	if (ch == NULL) {
		e = libssh2_session_last_errno(s->ssh);
		if (e == LIBSSH2_ERROR_EAGAIN) {
			session_note_eagain(s, NULL, LATCH_OPEN);
			return 0;
		}
		err = session_ssh_error(s);
		if (r->kind == OPEN_PING && e == LIBSSH2_ERROR_CHANNEL_FAILURE)
			err = NULL;	/* the expected answer */
		else if (e == LIBSSH2_ERROR_TIMEOUT) {
			/* libssh2 stopped waiting for the answer (60 s,
			 * LIBSSH2_READ_TIMEOUT): the open failed, the session
			 * did not (doc/libssh2.md rule 15) */
			err = "the server did not answer the open within 60s";
			session_log(s, LOG_LVL_INFO, "open of %s: %s",
			    session_open_target(r), err);
			if (r->kind != OPEN_PING)
				s->open_timed_out = 1;
			if (r->kind == OPEN_PING) {
				TAILQ_REMOVE(&s->opens, r, entry);
				s->ping_pending = 0;
				session_open_free(r);
				return 1;
			}
		} else if (e != LIBSSH2_ERROR_CHANNEL_FAILURE) {
			/* not a refusal by the server: the session broke */
			if (!session_check_error(s, e, "channel open"))
				session_fail(s, SE_NETWORK, "channel open: %s", err);
			return 0;
		}
	}
	TAILQ_REMOVE(&s->opens, r, entry);
	if (r->kind == OPEN_SESSION)
		session_probe_opened(s, ch, err);
	else if (r->kind == OPEN_PING) {
		session_ping_answered(s);
		if (ch != NULL)	/* a server that accepts anything */
			channel_opened(channel_new(s, -1, "ping"), ch,
			    NULL);
	} else if (r->c != NULL) {
		session_open_timed(s, mono_now() - r->t0);
		if (ch != NULL)
			window_opened(r->c, r->window, mono_now() - r->t0);
		channel_opened(r->c, ch, err);
	} else if (ch != NULL)	/* abandoned: close what we got */
		channel_opened(channel_new(s, -1, "abandoned"), ch,
		    NULL);
	session_open_free(r);
	return 1;
}

/* --- upward calls, after the pump ---------------------------------------- */

/* Queue a call to the owner; the caller fills in the rest of it. */
struct session_event *
session_raise(struct session *s, enum session_event_kind kind, void *owner,
    struct channel *c)
{
	struct session_event *ev = xcalloc(1, sizeof *ev);

	ev->kind = kind;
	ev->owner = owner;
	ev->c = c;
	TAILQ_INSERT_TAIL(&s->events, ev, entry);
	event_active(s->ev_deliver, 0, 0);
	return ev;
}

static void
session_event_free(struct session_event *ev)
{
	free(ev->host);
	free(ev->error);
	free(ev->note);
	free(ev);
}

/*
 * Forget the calls for owner (it is going) or about channel c (it is
 * freed); both NULL: all of them.  A forwarded channel nobody will take
 * is closed.
 */
void
session_events_drop(struct session *s, void *owner, struct channel *c)
{
	struct session_event *ev, *next;

	TAILQ_FOREACH_SAFE(ev, &s->events, entry, next) {
		if (owner == NULL && c == NULL)
			;
		else if ((owner != NULL && ev->owner != owner) ||
		    (c != NULL && ev->c != c))
			continue;
		if ((ev->kind == SEV_FORWARDED || ev->kind == SEV_SNIFFED) &&
		    c == NULL && s->phase != SP_DEAD)
			channel_abort(ev->c, "its forward is gone");
		TAILQ_REMOVE(&s->events, ev, entry);
		session_event_free(ev);
	}
}

static void
session_deliver(struct session *s, struct session_event *ev)
{
	const struct session_ops *ops = s->ops;
	void *arg = s->ops_arg;

	switch (ev->kind) {
	case SEV_UP:
		ops->up(arg);
		break;
	case SEV_LISTENED:
		ops->listened(arg, ev->owner, ev->port, ev->error, ev->note);
		break;
	case SEV_GATEWAY_KNOWN:
		ops->gateway_known(arg);
		break;
	case SEV_FORWARDED:
		ops->forwarded(arg, ev->owner, ev->c);
		break;
	case SEV_SOCKS_REQUEST:
		if (ev->c->owner == NULL)	/* its forward was removed */
			channel_abort(ev->c, "the forward is gone");
		else
			ops->socks_request(arg, ev->c->owner, ev->c, ev->host,
			    ev->port);
		break;
	case SEV_CHANNEL_ERROR:
		ops->channel_error(arg, ev->owner, ev->error);
		break;
	case SEV_SNIFFED:
		if (ev->c->owner == NULL || ops->sniffed == NULL)
			channel_abort(ev->c, "the forward is gone");
		else
			ops->sniffed(arg, ev->c->owner, ev->c);
		break;
	}
}

/*
 * Make the queued calls, in order, outside the pump.  A dead session's
 * are dropped: its owner hears only that it was lost (ev_dead).  The owner
 * may free the session in any call: then the struct goes here, after it.
 */
void
session_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct session_event *ev;

	s->delivering = 1;
	while (!s->freed && s->phase != SP_DEAD &&
	    (ev = TAILQ_FIRST(&s->events)) != NULL) {
		/* off the queue first: the owner may drop what is queued */
		TAILQ_REMOVE(&s->events, ev, entry);
		session_deliver(s, ev);
		session_event_free(ev);
	}
	s->delivering = 0;
	if (s->freed)
		session_release(s);
}
/*
 * How busy the session is: its channels, and how many opens a new one
 * would wait behind - its channels not open yet (an open queued or in
 * flight; not a SOCKS client whose request is being read: it has asked
 * nothing yet, and its open goes where it waits least), and whatever else
 * holds or waits
 * for the one open slot (rule 3): an abandoned open still in flight (the
 * server has not answered; its channel gave up), a keepalive open, a
 * request.  So opening is at least 1 whenever the slot is taken.
 */
void
session_load(struct session *s, unsigned *channels, unsigned *opening)
{
	struct channel *c;
	struct open_req *r;

	*channels = 0;
	*opening = 0;
	if (s == NULL)
		return;
	*channels = s->nchannels;
	TAILQ_FOREACH(c, &s->channels, entry) {
		if (c->close_expired)	/* nobody's: only libssh2 holds it */
			(*channels)--;
		else if (c->state == CH_OPENING)
			(*opening)++;
	}
	TAILQ_FOREACH(r, &s->opens, entry) {
		if (r->c == NULL)
			(*opening)++;
	}
}

/* What the open in flight is for, in status and messages. */
static const char *
session_open_target(struct open_req *r)
{
	static const char *what[] = { "direct-tcpip", "direct-streamlocal",
	    "keepalive open", "keepalive channel", "tcpip-forward",
	    "cancel-tcpip-forward", "GatewayPorts probe" };

	if (r->target != NULL)
		return r->target;
	if (r->kind == REQ_LISTEN && r->host != NULL)
		return r->host;
	return what[r->kind];
}

/*
 * The opens and requests queued or in flight on the session, and how long
 * the one in flight has been (*oldest; 0 if none is).
 */
unsigned
session_opens(struct session *s, double *oldest)
{
	struct open_req *r;
	unsigned n = 0;

	*oldest = 0;
	if (s == NULL)
		return 0;
	TAILQ_FOREACH(r, &s->opens, entry) {
		if (r->started && mono_now() - r->t0 > *oldest)
			*oldest = mono_now() - r->t0;
		n++;
	}
	return n;
}

/*
 * Is an open stuck?  1 when the one in flight has waited OPEN_STUCK seconds
 * or more for the server's answer (an open takes a round trip and the
 * server's connect: milliseconds): its age, and its target "host:port"
 * (a path, or what it is for) in target.
 */
int
session_open_stuck(struct session *s, double *age, char *target, size_t len)
{
	struct open_req *r;

	if (s == NULL || (r = TAILQ_FIRST(&s->opens)) == NULL || !r->started ||
	    mono_now() - r->t0 < OPEN_STUCK)
		return 0;
	*age = mono_now() - r->t0;
	if (target != NULL && len > 0)
		snprintf(target, len, "%s", session_open_target(r));
	return 1;
}

/* Has the open in flight waited late seconds or more, and was it tag's (a
 * channel's owner: the forward), its channel there still or abandoned? */
int
session_open_late_for(struct session *s, const void *tag, double late)
{
	struct open_req *r;

	return s != NULL && tag != NULL &&
	    (r = TAILQ_FIRST(&s->opens)) != NULL && r->started &&
	    r->tag == tag && mono_now() - r->t0 >= late;
}

/*
 * Has libssh2 given up an open on the session (rule 15)?  The server may
 * still open that channel: its answer stays unread in libssh2, and the
 * channel, with sshd's connection to its target, stays open on the server
 * until the session ends.
 */
int
session_open_timed_out(struct session *s)
{
	return s != NULL && s->open_timed_out;
}

/* An open of a connection's took secs from its start to the answer. */
void
session_open_timed(struct session *s, double secs)
{
	s->open_last[s->open_at] = secs;
	s->open_at = (s->open_at + 1) % OPEN_SAMPLES;
	if (s->open_n < OPEN_SAMPLES)
		s->open_n++;
}

/*
 * Seconds an open of a connection's takes on the session, 0 before its
 * first: the median of the last OPEN_SAMPLES (the lower of the middle two
 * while there are an even number).  An open that a stall held up (the
 * server, or its machine, busy for a moment) is what the wait for the one
 * in flight already counts: in an average it would also make every open
 * queued behind it look that slow, and start extras for a queue that
 * clears in a few milliseconds.  A server that became slower moves the
 * median within three opens.
 */
double
session_open_time(struct session *s)
{
	double v[OPEN_SAMPLES], x;
	unsigned i, j;

	if (s == NULL || s->open_n == 0)
		return 0;
	for (i = 0; i < s->open_n; i++) {
		x = s->open_last[i];
		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return v[(s->open_n - 1) / 2];
}

/*
 * How long a new open would wait on the session, in seconds: the opens
 * and requests queued ahead of it, and those SOCKS requests being read
 * will queue, at the time an open takes there (dflt before its first),
 * the one in flight at least as long as it has been; *work: the same
 * with the one in flight at that time too.
 * (tunnel_sessions.c weighs them against setting up another session.)
 */
double
session_open_wait(struct session *s, double dflt, double *work)
{
	struct open_req *r;
	double each, wait = 0;

	*work = 0;
	if (s == NULL)
		return 0;
	if ((each = session_open_time(s)) <= 0)
		each = dflt;
	TAILQ_FOREACH(r, &s->opens, entry)
		*work += each;
	wait = *work;
	r = TAILQ_FIRST(&s->opens);
	if (r != NULL && r->started && mono_now() - r->t0 > each)
		wait += mono_now() - r->t0 - each;
	return wait;
}

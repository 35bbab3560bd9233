/*
 * channel.c - one forwarded connection: a local socket bridged to an SSH
 * channel, in both directions, with backpressure and half-close.
 *
 * Each direction has one 32 KiB staging buffer.  A buffer is refilled only
 * once it is empty, so its address and length stay put while libssh2 holds
 * a latched call on it (session_pump.c).  Nothing is read from a side while
 * the other side has not taken the previous chunk: memory per connection is
 * 2 x 32 KiB here plus at most one channel window queued inside libssh2
 * (session_channel_window(): 256 KiB to 2 MiB at open; window.c lets a busy
 * channel's grow within the budgets, through CHOP_ADJUST).
 *
 * Close is tracked per direction, as OpenSSH's nchan.c does: the client's
 * EOF becomes the channel's EOF once the buffer is flushed, the channel's
 * EOF becomes shutdown(SHUT_WR) once the buffer is flushed, and the channel
 * is closed only when both directions are done (or on an error).
 *
 * A channel belongs to an owner (a forward, for the session's owner), set
 * by channel_set_owner(), whose counters it keeps up to date; what the
 * owner must decide (a SOCKS request) or hear (an error) goes up through
 * the session (session_raise()), after the pump.
 *
 * Before the bytes flow, a channel may first speak SOCKS with its client
 * (CH_SOCKS: a dynamic forward's local client, or, for a reverse dynamic
 * forward, the client at the far end of the SSH channel), wait for the
 * server to open it (CH_OPENING) or, forwarded to us, connect here
 * (CH_CONNECTING).  An answer owed to a SOCKS client (c->owed) goes out
 * before any byte of the stream, through the same staging buffers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

#define CLOSE_TIMEOUT	10	/* seconds to wait for the server's CLOSE */

static void	channel_update_events(struct channel *);
static void	channel_stall_arm(struct channel *);

static void
channel_fd_cb(evutil_socket_t fd, short what, void *arg);
static void
channel_closed_cb(evutil_socket_t fd, short what, void *arg);

/*
 * ev_closed watches for the client's reset while neither ev_read nor
 * ev_write is armed (bytes from the client wait for the server's window):
 * edge-triggered, so that the bytes pending in the socket do not make it
 * fire again and again, and EV_READ, not EV_CLOSED, as a reset is EPOLLERR,
 * which libevent reports as EV_READ | EV_WRITE only (doc/libssh2.md).
 * libevent does not let one descriptor have edge- and level-triggered
 * events at once: channel_update_events() never arms it beside the others.
 */
static void
channel_set_fd(struct channel *c, int fd)
{
	struct event_base *base = session_base(c->session);

	c->fd = fd;
	set_nonblock(fd);
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, channel_fd_cb,
	    c);
	c->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, channel_fd_cb,
	    c);
	c->ev_closed = event_new(base, fd, EV_READ | EV_ET | EV_PERSIST,
	    channel_closed_cb, c);
}

/* A connection accepted here (fd), or forwarded to us (-1), on s. */
struct channel *
channel_new(struct session *s, int fd, const char *label)
{
	struct channel *c = xcalloc(1, sizeof *c);

	c->session = s;
	c->fd = -1;
	c->label = xstrdup(label);
	c->state = CH_OPENING;
	if (fd != -1)
		channel_set_fd(c, fd);
	session_channel_attach(s, c);
	return c;
}

/* A SOCKS client's channel, its request read and nothing asked of the
 * server yet, goes to another session of the same worker (the one its
 * open will wait least on); 1 if it went. */
int
channel_move(struct channel *c, struct session *to)
{
	if (c->session == to || c->state != CH_SOCKS ||
	    session_base(to) != session_base(c->session))
		return 0;
	session_channel_detach(c->session, c);
	c->session = to;
	session_channel_attach(to, c);
	return 1;
}

void *
channel_owner(struct channel *c)
{
	return c->owner;
}

/* Whose the channel is, and where its statistics go. */
void
channel_set_owner(struct channel *c, void *owner,
    struct channel_counters *counters)
{
	c->owner = owner;
	c->counters = counters;
	if (counters != NULL) {
		counters->connections++;
		counters->total_connections++;
	}
}

void
channel_set_label(struct channel *c, const char *label)
{
	free(c->label);
	c->label = xstrdup(label);
}

const char *
channel_label(struct channel *c)
{
	return c->label;
}

/* A forwarded channel, libssh2's ch, waits for its owner (after the pump):
 * nothing moves on it until then. */
void
channel_forwarded(struct channel *c, LIBSSH2_CHANNEL *ch)
{
	c->ch = ch;
}

/* Tell the owner what went wrong on its channel (its last error). */
static void
channel_error(struct channel *c, const char *error)
{
	struct session_event *ev;

	if (c->counters != NULL)
		c->counters->failures++;
	if (c->owner == NULL)
		return;
	ev = session_raise(c->session, SEV_CHANNEL_ERROR, c->owner, NULL);
	ev->error = xstrdup(error);
}

/*
 * The channel's close has expired: it is nobody's any more.  Its
 * connection, its owner and its window are released now, whenever
 * libssh2 lets it go; session_load() no longer counts it.
 */
static void
channel_expire(struct channel *c)
{
	if (c->close_expired)
		return;
	session_log(c->session, LOG_LVL_DEBUG, "%s: no CLOSE from the server "
	    "after %ds, freeing", c->label, CLOSE_TIMEOUT);
	c->close_expired = 1;
	if (c->counters != NULL)
		c->counters->connections--;
	c->counters = NULL;
	c->owner = NULL;
	window_release(c);
}

/*
 * No CLOSE from the server in CLOSE_TIMEOUT: the channel is freed without
 * it - by the pump (CHOP_FREE), as any libssh2 call: this timer may fire
 * while another call holds the latch, and libssh2_channel_free() itself
 * may say EAGAIN (1.10 and 1.11: it closes first, and a close waits for
 * one more packet from the server, any packet).  A ping brings that
 * packet, and the pump tries expired channels first in each round, before
 * an open or the keepalive probe can read it; the timer asks again every
 * CLOSE_TIMEOUT until the free went through, or the session went, with
 * every channel (doc/libssh2.md rule 13).
 */
static void
channel_close_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;
	struct timeval tv = { CLOSE_TIMEOUT, 0 };

	if (c->state != CH_CLOSING || c->ch == NULL)
		return;
	channel_expire(c);
	evtimer_add(c->ev_timer, &tv);
	if (session_is_established(c->session))
		session_kick(c->session);
	session_schedule(c->session);
}

static void
channel_close_fd(struct channel *c)
{
	ratelimit_forget(c->session->conf->ratelimit, c);
	if (c->fd == -1)
		return;
	event_del(c->ev_read);
	event_del(c->ev_write);
	event_del(c->ev_closed);
	c->rd_on = c->wr_on = c->cl_on = 0;
	close(c->fd);
	c->fd = -1;
}

/* Both directions done, or an error: close the channel, then free it. */
static void
channel_closing(struct channel *c)
{
	struct timeval tv = { CLOSE_TIMEOUT, 0 };

	channel_close_fd(c);
	if (c->ch == NULL) {
		c->state = CH_DEAD;
		return;
	}
	c->state = CH_CLOSING;
	if (c->ev_timer == NULL)
		c->ev_timer = evtimer_new(session_base(c->session),
		    channel_close_timeout_cb, c);
	evtimer_add(c->ev_timer, &tv);
}

void
channel_abort(struct channel *c, const char *why)
{
	if (why != NULL)
		session_log(c->session, LOG_LVL_INFO, "%s: %s", c->label, why);
	if (c->state == CH_OPENING)
		session_open_abandon(c->session, c);
	connector_cancel(c->conn);
	c->conn = NULL;
	if (c->state != CH_CLOSING && c->state != CH_DEAD)
		channel_closing(c);
	session_schedule(c->session);
}

/* Queue bytes for the SOCKS client, ahead of the stream. */
static void
channel_owe(struct channel *c, const unsigned char *b, size_t n)
{
	if (n > sizeof c->owed - c->owedlen)
		n = sizeof c->owed - c->owedlen;	/* cannot happen */
	memcpy(c->owed + c->owedlen, b, n);
	c->owedlen += n;
}

/* Owed bytes go into the client's staging buffer once it is empty. */
static int
channel_pay_owed(struct channel *c)
{
	char *buf = c->client_remote ? c->up : c->down;
	size_t *off = c->client_remote ? &c->up_off : &c->down_off;
	size_t *len = c->client_remote ? &c->up_len : &c->down_len;

	if (c->owedlen == 0 || *len != 0 ||
	    (c->client_remote && session_latched_on(c->session, c)))
		return 0;
	memcpy(buf, c->owed, c->owedlen);
	*off = 0;
	*len = c->owedlen;
	c->owedlen = 0;
	return 1;
}

static void	channel_sniff_done(struct channel *);
static void	channel_socks_input(struct channel *);

static void
channel_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;
	char why[256];

	if (c->sniffing && c->state == CH_CONNECTING)
		channel_sniff_done(c);
	else if (c->state == CH_SOCKS && c->socks != NULL && c->socks->stage < 2)
		channel_abort(c, "no complete SOCKS request in time, dropped");
	else if (c->state == CH_OPENING) {
		/* libssh2 opens one channel at a time: an earlier open to a
		 * target that does not answer holds up the ones behind it */
		snprintf(why, sizeof why, "the server has not opened the "
		    "channel within %gs, closed",
		    session_connect_timeout(c->session));
		session_open_abandon(c->session, c);
		if (c->socks != NULL) {
			session_log(c->session, LOG_LVL_INFO, "%s: %s",
			    c->label, why);
			channel_socks_done(c, SOCKS5_HOST_UNREACH);
		} else
			channel_abort(c, why);
	}
}

static void
channel_set_deadline(struct channel *c, double secs)
{

	if (c->ev_deadline == NULL)
		c->ev_deadline = evtimer_new(session_base(c->session),
		    channel_deadline_cb, c);
	timer_add_secs(c->ev_deadline, secs);
}

/* The channel's open is queued: it has connect_timeout to happen. */
void
channel_await_open(struct channel *c)
{
	c->state = CH_OPENING;
	channel_set_deadline(c, session_connect_timeout(c->session));
	channel_update_events(c);
}

/* Speak SOCKS with the client first - the one here, or for a channel
 * forwarded to us, the one at the server's end; give up after timeout
 * seconds. */
void
channel_socks_start(struct channel *c, double timeout)
{
	c->client_remote = c->fd == -1;
	c->socks = xcalloc(1, sizeof *c->socks);
	c->state = CH_SOCKS;
	channel_set_deadline(c, timeout);
	if (c->client_remote && c->down_len > 0)	/* held by a sniff */
		channel_socks_input(c);
	channel_update_events(c);
	session_schedule(c->session);
}

/* The SOCKS request was served (SOCKS5_OK) or not (a SOCKS5 code). */
void
channel_socks_done(struct channel *c, int code)
{
	socks_reply(c->socks, code);
	channel_owe(c, c->socks->out, c->socks->outlen);
	if (code != SOCKS5_OK) {
		if (c->counters != NULL)
			c->counters->failures++;
		session_log(c->session, LOG_LVL_INFO, "%s: %s:%d: %s", c->label,
		    c->socks->req.host, c->socks->req.port,
		    socks_code_name(code));
		c->owed_then_close = 1;
		c->state = CH_SOCKS;
	} else
		c->state = CH_OPEN;
	channel_update_events(c);
	session_schedule(c->session);
}

/* Bytes arrived from the SOCKS client: what do they amount to? */
static void
channel_socks_input(struct channel *c)
{
	char *buf = c->client_remote ? c->down : c->up;
	size_t *len = c->client_remote ? &c->down_len : &c->up_len;
	struct session_event *ev;
	const char *why;
	size_t used;
	int rc;

	do {
		rc = socks_input(c->socks, (unsigned char *)buf, *len, &used,
		    &why);
		memmove(buf, buf + used, *len - used);
		*len -= used;
		if (rc == SOCKS_REPLY)
			channel_owe(c, c->socks->out, c->socks->outlen);
	} while (rc == SOCKS_REPLY);
	switch (rc) {
	case SOCKS_MORE:
		return;
	case SOCKS_ERROR:
		session_log(c->session, LOG_LVL_INFO, "%s: %s", c->label, why);
		channel_owe(c, c->socks->out, c->socks->outlen);
		c->owed_then_close = 1;
		c->socks->stage = 2;
		return;
	}
	c->socks->stage = 2;
	evtimer_del(c->ev_deadline);
	session_log(c->session, LOG_LVL_DEBUG, "%s: SOCKS%d CONNECT %s:%d",
	    c->label, c->socks->version, c->socks->req.host,
	    c->socks->req.port);
	if (c->owner == NULL)	/* its forward was removed by a reload */
		channel_abort(c, "the forward is gone");
	else {			/* the owner decides, after the pump */
		ev = session_raise(c->session, SEV_SOCKS_REQUEST, NULL, c);
		ev->host = xstrdup(c->socks->req.host);
		ev->port = c->socks->req.port;
	}
}

/* A forwarded channel's local connection: made, or not. */
static void
channel_connected_cb(int fd, int error, const char *why, void *arg)
{
	struct channel *c = arg;
	char msg[512];

	c->conn = NULL;
	if (fd == -1) {
		if (c->socks != NULL) {
			channel_socks_done(c, socks_code_for_errno(error));
			return;
		}
		snprintf(msg, sizeof msg, "cannot connect here: %s", why);
		channel_error(c, msg);
		channel_abort(c, msg);
		return;
	}
	channel_set_fd(c, fd);
	session_log(c->session, LOG_LVL_DEBUG, "%s: connected", c->label);
	if (c->socks != NULL)
		channel_socks_done(c, SOCKS5_OK);
	else {
		c->state = CH_OPEN;
		channel_update_events(c);
		session_schedule(c->session);
	}
}

/* Connect a forwarded channel to its target here, without blocking. */
void
channel_connect(struct channel *c, const char *host, int port,
    const char *path)
{
	c->state = CH_CONNECTING;
	c->conn = connector_start(session_base(c->session),
	    session_dns(c->session), host, port, path,
	    session_connect_timeout(c->session), 0,
	    channel_connected_cb, c);
}

/*
 * Hold a forwarded channel for its first bytes before its owner decides
 * what it is: until want bytes came, or fewer that stop matching magic
 * (its first len bytes), or its EOF, or secs passed; then the owner's
 * sniffed().  What was read stays in the channel's buffer, and goes to
 * the connection channel_connect() or channel_socks_start() makes.
 */
void
channel_sniff(struct channel *c, const void *magic, size_t len, size_t want,
    double secs)
{
	if (len > sizeof c->sniff_magic)
		len = sizeof c->sniff_magic;
	if (want > sizeof c->down)
		want = sizeof c->down;
	memcpy(c->sniff_magic, magic, len);
	c->sniff_magiclen = len;
	c->sniff_want = want;
	c->sniffing = 1;
	c->state = CH_CONNECTING;
	channel_set_deadline(c, secs);
	session_schedule(c->session);
}

/* What a sniff read. */
const unsigned char *
channel_sniffed(struct channel *c, size_t *len)
{
	*len = c->down_len;
	return (const unsigned char *)c->down;
}

/* Has the sniff read enough to decide? */
static int
channel_sniff_enough(struct channel *c)
{
	size_t n = c->down_len < c->sniff_magiclen ? c->down_len :
	    c->sniff_magiclen;

	return c->down_len >= c->sniff_want || c->ch_eof ||
	    memcmp(c->down, c->sniff_magic, n) != 0;
}

static void
channel_sniff_done(struct channel *c)
{
	c->sniffing = 0;
	if (c->ev_deadline != NULL)
		evtimer_del(c->ev_deadline);
	session_raise(c->session, SEV_SNIFFED, c->owner, c);
}

/* One round of a sniff for the session pump. */
static int
channel_sniff_pump(struct channel *c)
{
	if (!c->ch_eof && c->down_len < c->sniff_want &&
	    channel_retry(c, CHOP_READ) <= 0)
		return 0;
	if (channel_sniff_enough(c))
		channel_sniff_done(c);
	return 1;
}

/* The server answered our open: a channel, or the reason it refused. */
void
channel_opened(struct channel *c, LIBSSH2_CHANNEL *ch, const char *error)
{
	if (c->ev_deadline != NULL)
		evtimer_del(c->ev_deadline);
	if (ch == NULL && c->socks != NULL && c->fd != -1) {
		channel_socks_done(c, socks_code_for_open_error(error));
		return;
	}
	if (ch == NULL) {
		/* nobody's: a probe's, whose owner says what it means */
		session_log(c->session, c->owner != NULL ? LOG_LVL_INFO :
		    LOG_LVL_DEBUG, "%s: the server refused the channel: %s",
		    c->label, error);
		channel_error(c, error);
		channel_close_fd(c);
		c->state = CH_DEAD;
		return;
	}
	c->ch = ch;
	if (c->fd == -1) {	/* nobody wants it any more */
		channel_closing(c);
		return;
	}
	if (c->socks != NULL) {
		channel_socks_done(c, SOCKS5_OK);
		return;
	}
	c->state = CH_OPEN;
	c->moved_at = mono_now();
	session_log(c->session, LOG_LVL_DEBUG, "%s: channel open", c->label);
	channel_update_events(c);
}

/* --- the local socket ---------------------------------------------------- */

/* The owner's rate limit (ratelimit.c), or NULL; the stream's bytes only,
 * not a SOCKS handshake's nor tunneld's own. */
static struct ratelimit *
channel_rl(struct channel *c)
{
	return c->state != CH_SOCKS && !c->rl_exempt ?
	    c->session->conf->ratelimit : NULL;
}

/* c is tunneld's own (a probe's few bytes, which have a deadline): it
 * never waits its turn behind the connections the rate limit holds. */
void
channel_rate_exempt(struct channel *c)
{
	c->rl_exempt = 1;
}

/* The rate limit's tick: c may ask for bytes again (or its limit is off).
 * Its wait for its turn was no stall: channel_stall_timeout counts from
 * here. */
void
channel_ratelimit_wake(struct channel *c)
{
	c->moved_at = mono_now();
	channel_update_events(c);
	session_schedule(c->session);
}

/* Read from the client into the empty up buffer: 1 progress, 0 none, -1 gone */
static int
channel_fd_read(struct channel *c)
{
	struct ratelimit *rl = channel_rl(c);
	size_t want;
	ssize_t n;

	if (c->fd == -1 || c->fd_eof || c->rd_drained ||
	    (c->up_len != 0 && c->state != CH_SOCKS) ||
	    (c->owedlen != 0 && c->client_remote))
		return 0;
	/* appends: only the SOCKS request is read into a non-empty buffer;
	 * one packet's worth, or 32768 bytes left as 32700 and 68 (two
	 * packets, and the read event toggled for the rest) */
	want = sizeof c->up - c->up_len;
	if (want > CHANNEL_CHUNK)
		want = CHANNEL_CHUNK;
	if ((want = ratelimit_allow(rl, RL_UP, c, want)) == 0)
		return 0;	/* its events wait for the tick */
	n = read(c->fd, c->up + c->up_len, want);
	if (n > 0) {
		ratelimit_used(rl, RL_UP, c, (size_t)n);
		c->up_len += (size_t)n;
		c->moved_at = mono_now();
		return 1;
	}
	if (n == 0) {
		c->fd_eof = 1;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd_drained = 1;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	channel_abort(c, strerror(errno));
	return -1;
}

static int
channel_fd_write(struct channel *c)
{
	struct ratelimit *rl = channel_rl(c);
	size_t len;
	ssize_t n;

	if (c->fd == -1 || c->down_len == 0 || c->wr_blocked)
		return 0;
	len = ratelimit_allow(rl, RL_DOWN, c, c->down_len - c->down_off);
	if (len == 0)
		return 0;	/* its events wait for the tick */
	n = write(c->fd, c->down + c->down_off, len);
	if (n > 0) {
		ratelimit_used(rl, RL_DOWN, c, (size_t)n);
		if (c->counters != NULL)
			c->counters->bytes_in += (uint64_t)n;
		c->down_off += (size_t)n;
		if (c->down_off == c->down_len)
			c->down_off = c->down_len = 0;
		c->moved_at = mono_now();
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->wr_blocked = 1;
		return 0;
	}
	if (n == -1 && errno == EINTR)
		return 0;
	channel_abort(c, n == -1 ? strerror(errno) : "short write");
	return -1;
}

/* Ask for fd events only for what we are ready to move; with neither,
 * while the client's bytes wait, for its reset (ev_closed). */
static void
channel_update_events(struct channel *c)
{
	int want_rd, want_wr, want_cl;

	if (c->fd == -1)
		return;
	if (c->state == CH_SOCKS) {
		want_rd = !c->client_remote && c->socks->stage < 2 &&
		    !c->fd_eof && c->up_len < sizeof c->up;
		want_wr = c->down_len > 0;
	} else {
		/* opening too: the client's first bytes, its EOF or its
		 * reset are seen while the server connects */
		want_rd = (c->state == CH_OPEN || c->state == CH_OPENING) &&
		    c->up_len == 0 && !c->fd_eof &&
		    !(c->owedlen != 0 && c->client_remote) &&
		    !c->rl_waiting[RL_UP];
		want_wr = c->state == CH_OPEN && c->down_len > 0 &&
		    !c->rl_waiting[RL_DOWN];
	}
	want_cl = !want_rd && !want_wr && !c->fd_eof && c->up_len > 0 &&
	    (c->state == CH_OPEN || c->state == CH_OPENING);
	if (!want_cl && c->cl_on) {	/* never beside the others */
		event_del(c->ev_closed);
		c->cl_on = 0;
	}
	if (want_rd != c->rd_on) {
		if (want_rd)
			event_add(c->ev_read, NULL);
		else
			event_del(c->ev_read);
		c->rd_on = want_rd;
	}
	if (want_wr != c->wr_on) {
		if (want_wr)
			event_add(c->ev_write, NULL);
		else
			event_del(c->ev_write);
		c->wr_on = want_wr;
	}
	if (want_cl && !c->cl_on) {
		event_add(c->ev_closed, NULL);
		c->cl_on = 1;
	}
}

/* The client's socket changed while its bytes wait: reset?  (Bytes or
 * its EOF are read once the window opens.) */
static void
channel_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;
	socklen_t len = sizeof c->fd_reset;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &c->fd_reset, &len) == -1)
		c->fd_reset = errno;
	if (c->fd_reset == 0)
		return;
	channel_abort(c, strerror(c->fd_reset));
}

/* The client's socket is ready: move bytes there, libssh2 is the pump's. */
static void
channel_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;

	/* The pump tries a socket only until it says EAGAIN; its event
	 * says when to try again.  No futile syscalls on idle connections. */
	if (what & EV_WRITE) {
		c->wr_blocked = 0;
		channel_fd_write(c);
	}
	if ((what & EV_READ) && c->fd != -1) {
		c->rd_drained = 0;
		if (channel_fd_read(c) > 0 && c->state == CH_SOCKS)
			channel_socks_input(c);
	}
	channel_update_events(c);
	session_schedule(c->session);
}

/* --- the SSH side: every call here may latch ------------------------------ */

/*
 * Perform one libssh2 operation on the channel.  1: progress; 0: nothing
 * to do now; -1: stop (the call latched, or the channel or session failed).
 */
int
channel_retry(struct channel *c, int op)
{
	struct session *s = c->session;
	ssize_t n;
	int rc;

	switch (op) {
	case CHOP_READ:
		/* appends: only the SOCKS request is read into a non-empty
		 * buffer (and a latched retry sees the same pointer) */
		n = libssh2_channel_read(c->ch, c->down + c->down_len,
		    sizeof c->down - c->down_len);
		if (n > 0) {
			c->down_len += (size_t)n;
			c->moved_at = mono_now();
			window_consumed(c, (size_t)n);
			return 1;
		}
		if (n == LIBSSH2_ERROR_EAGAIN && session_note_eagain(s, c, op))
			return -1;
		if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
			if (libssh2_channel_eof(c->ch)) {
				c->ch_eof = 1;
				return 1;
			}
			return 0;
		}
		rc = (int)n;
		break;
	case CHOP_WRITE:
		n = libssh2_channel_write(c->ch, c->up + c->up_off,
		    c->up_len - c->up_off);
		if (n > 0) {
			if (c->counters != NULL)
				c->counters->bytes_out += (uint64_t)n;
			c->up_off += (size_t)n;
			if (c->up_off == c->up_len)
				c->up_off = c->up_len = 0;
			c->moved_at = mono_now();
			return 1;
		}
		if (n == LIBSSH2_ERROR_EAGAIN && session_note_eagain(s, c, op))
			return -1;
		if (n == 0 || n == LIBSSH2_ERROR_EAGAIN)
			return 0;	/* no window: wait for an adjust */
		rc = (int)n;
		break;
	case CHOP_EOF:
		rc = libssh2_channel_send_eof(c->ch);
		if (rc == 0) {
			c->eof_sent = 1;
			return 1;
		}
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return session_note_eagain(s, c, op) ? -1 : 0;
		break;
	case CHOP_ADJUST:
		rc = libssh2_channel_receive_window_adjust2(c->ch, c->win.want,
		    1, NULL);
		if (rc == 0) {
			window_adjusted(c);
			return 1;
		}
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return session_note_eagain(s, c, op) ? -1 : 0;
		break;
	case CHOP_CLOSED:
		/* after its EOF: has the server closed the channel too? */
		rc = libssh2_channel_wait_closed(c->ch);
		if (rc == 0) {
			c->ch_closed = 1;
			return 1;
		}
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return session_note_eagain(s, c, op) ? -1 : 0;
		if (rc == LIBSSH2_ERROR_INVAL)	/* not at its EOF after all */
			return 0;
		break;
	case CHOP_FREE:
		rc = libssh2_channel_free(c->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return session_note_eagain(s, c, op) ? -1 : 0;
		session_log(s, LOG_LVL_DEBUG, "%s: freed without the server's "
		    "CLOSE", c->label);
		c->ch = NULL;
		c->state = CH_DEAD;
		if (c->ev_timer != NULL)
			evtimer_del(c->ev_timer);
		return 1;
	case CHOP_CLOSE:
		rc = libssh2_channel_close(c->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return session_note_eagain(s, c, op) ? -1 : 0;
		/* closed, or the session is broken: either way free it */
		libssh2_channel_free(c->ch);
		c->ch = NULL;
		c->state = CH_DEAD;
		if (c->ev_timer != NULL)
			evtimer_del(c->ev_timer);
		return 1;
	default:
		return 0;
	}
	if (session_check_error(s, rc, "channel"))
		return -1;
	if (rc == LIBSSH2_ERROR_CHANNEL_CLOSED)
		channel_abort(c, "closed by the server");
	else {
		char why[256];

		snprintf(why, sizeof why, "channel error %d: %s", rc,
		    session_ssh_error(s));
		channel_abort(c, why);
	}
	return -1;
}

/* The SOCKS handshake: answers out, the request in. */
static int
channel_socks_pump(struct channel *c)
{
	int progress = channel_pay_owed(c), r;
	int done = c->socks->stage == 2;

	if (c->client_remote) {
		if (c->up_len > 0) {
			if ((r = channel_retry(c, CHOP_WRITE)) < 0)
				return 0;
			progress |= r;
		}
		if (c->up_len == 0 && c->owedlen == 0 && c->owed_then_close) {
			channel_abort(c, NULL);
			return 1;
		}
		if (!done && !c->ch_eof && c->down_len < sizeof c->down) {
			if ((r = channel_retry(c, CHOP_READ)) < 0)
				return 0;
			if (r > 0 && c->down_len > 0)
				channel_socks_input(c);
			progress |= r;
		}
		if (!done && c->ch_eof && c->socks->stage < 2) {
			channel_abort(c, "the SOCKS client left during the "
			    "handshake");
			return 1;
		}
	} else {
		if (c->down_len > 0) {
			if ((r = channel_fd_write(c)) < 0)
				return 1;
			progress |= r;
		}
		if (c->down_len == 0 && c->owedlen == 0 && c->owed_then_close) {
			channel_abort(c, NULL);
			return 1;
		}
		if (!done) {
			if ((r = channel_fd_read(c)) < 0)
				return 1;
			if (r > 0 && c->up_len > 0)
				channel_socks_input(c);
			progress |= r;
		}
		if (!done && c->fd_eof && c->socks->stage < 2) {
			channel_abort(c, "the SOCKS client left during the "
			    "handshake");
			return 1;
		}
	}
	channel_update_events(c);
	return progress;
}

/* One round of work on this channel for the session pump. */
int
channel_pump(struct channel *c)
{
	int progress = 0, r;

	switch (c->state) {
	case CH_SOCKS:
		return channel_socks_pump(c);
	case CH_CONNECTING:	/* a SOCKS answer may still be on its way */
		if (c->sniffing)
			return channel_sniff_pump(c);
		if (c->client_remote && c->up_len > 0)
			return channel_retry(c, CHOP_WRITE) > 0;
		return 0;
	case CH_OPENING:	/* the client's reset is channel_fd_cb's */
	case CH_DEAD:
		return 0;
	case CH_CLOSING:
		return channel_retry(c, c->close_expired ? CHOP_FREE :
		    CHOP_CLOSE) > 0;
	case CH_OPEN:
		break;
	}
	progress = channel_pay_owed(c);

	/* server -> client; a window the consumer earned first */
	if (c->win.want != 0 && !c->ch_eof) {
		if ((r = channel_retry(c, CHOP_ADJUST)) < 0)
			return 0;
		progress |= r;
	}
	if (c->down_len == 0 && !c->ch_eof &&
	    !(c->owedlen != 0 && !c->client_remote)) {
		if ((r = channel_retry(c, CHOP_READ)) < 0)
			return 0;
		progress |= r;
	}
	if (c->down_len > 0) {
		if ((r = channel_fd_write(c)) < 0)
			return 1;
		progress |= r;
	}
	if (c->ch_eof && c->down_len == 0 && !c->fd_shut) {
		shutdown(c->fd, SHUT_WR);
		c->fd_shut = 1;
		progress = 1;
	}
	/* the server's CLOSE, in every state of the other direction - a
	 * zero window included: it takes nothing more */
	if (c->ch_eof && !c->ch_closed) {
		if ((r = channel_retry(c, CHOP_CLOSED)) < 0)
			return 0;
		progress |= r;
	}
	if (c->ch_closed && c->down_len == 0) {
		if (c->up_len > 0 || !c->fd_eof)
			session_log(c->session, LOG_LVL_DEBUG, "%s: closed by "
			    "the server, %zu bytes from the client not taken",
			    c->label, c->up_len - c->up_off);
		channel_closing(c);
		return 1;
	}

	/* client -> server */
	if (c->up_len == 0 && !c->fd_eof) {
		if ((r = channel_fd_read(c)) < 0)
			return 1;
		progress |= r;
	}
	if (c->up_len > 0) {
		if ((r = channel_retry(c, CHOP_WRITE)) < 0)
			return 0;
		progress |= r;
	} else if (c->fd_eof && !c->eof_sent) {
		if ((r = channel_retry(c, CHOP_EOF)) < 0)
			return 0;
		progress |= r;
	}

	if (c->eof_sent && c->fd_shut) {
		channel_closing(c);
		return 1;
	}
	channel_update_events(c);
	channel_stall_arm(c);
	return progress;
}

/* --- a channel that makes no progress ------------------------------------ */

/* Bytes wait in one direction: the server's window, or the client, does
 * not take them. */
static int
channel_pending(struct channel *c)
{
	return c->up_len > 0 || c->down_len > 0;
}

/*
 * channel_stall_timeout after the last byte moved either way, with bytes
 * still waiting: nothing has moved for that long, and nothing says it
 * will (a zero window that is never adjusted, a client that never reads).
 * The channel is closed and counted.
 */
static void
channel_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;
	struct session *s = c->session;
	double limit = s->conf->channel_stall_timeout, quiet;
	char why[256];

	if (c->state != CH_OPEN || !channel_pending(c) || limit <= 0)
		return;		/* armed again by the pump when it matters */
	if (c->rl_waiting[RL_UP] || c->rl_waiting[RL_DOWN]) {
		/* throttled, not stalled: its turn comes (ratelimit.c) */
		timer_add_secs(c->ev_stall, limit);
		return;
	}
	quiet = mono_now() - c->moved_at;
	if (quiet < limit) {
		timer_add_secs(c->ev_stall, limit - quiet + 0.001);
		return;
	}
	snprintf(why, sizeof why, "no progress for %.0fs (%zu bytes for the "
	    "server, %zu for the client waiting; channel_stall_timeout), "
	    "closed", quiet, c->up_len - c->up_off, c->down_len - c->down_off);
	s->channels_stalled++;
	if (c->counters != NULL)
		c->counters->stalled++;
	channel_abort(c, why);
}

/* Bytes wait: make sure the stall timer runs (it re-arms itself while
 * bytes move, and stops when none wait). */
static void
channel_stall_arm(struct channel *c)
{
	double limit = c->session->conf->channel_stall_timeout, left;

	if (limit <= 0 || !channel_pending(c))
		return;
	if (c->moved_at == 0)
		c->moved_at = mono_now();
	if (c->ev_stall == NULL)
		c->ev_stall = evtimer_new(session_base(c->session),
		    channel_stall_cb, c);
	else if (evtimer_pending(c->ev_stall, NULL))
		return;
	left = limit - (mono_now() - c->moved_at);
	timer_add_secs(c->ev_stall, left > 0 ? left + 0.001 : 0.001);
}

/* The session is going away: drop the channel without touching libssh2,
 * which frees its channels itself; or a dead channel is reaped. */
void
channel_session_gone(struct channel *c)
{
	channel_close_fd(c);
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_closed != NULL)
		event_free(c->ev_closed);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->ev_stall != NULL)
		event_free(c->ev_stall);
	if (c->state == CH_OPENING)
		session_open_abandon(c->session, c);
	connector_cancel(c->conn);
	if (c->ev_deadline != NULL)
		event_free(c->ev_deadline);
	free(c->socks);
	if (c->counters != NULL)
		c->counters->connections--;
	window_release(c);
	session_probe_forget(c->session, c);
	session_events_drop(c->session, NULL, c);
	session_channel_detach(c->session, c);
	free(c->label);
	free(c);
}

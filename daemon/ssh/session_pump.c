/*
 * session_pump.c - driving an established libssh2 1.10 session from the
 * event loop, by the rules of shared/LIBSSH2.md:
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
 *    server refuses a probe channel) and global requests wait in a FIFO.
 *  - Input is read through our own recv callback, so every byte received is
 *    seen (last_rx) and, when nothing inside libssh2 wants input, the socket
 *    is still drained into a bounded buffer instead of waking the loop in
 *    vain; a ping then pulls that input through libssh2.
 *  - Busy, the pump tries the socket for input every round and yields
 *    through the poll (session_yield()), so neither the session's own
 *    input nor the worker's other sessions wait for a bulk transfer.
 *
 * The pump's rule: nothing called from inside it may free a session
 * object or call libssh2 on the session other than through the pump.
 * It holds by construction, not by what today's owners happen to do: the
 * pump never calls its owner.  What it learns for the owner (a listener
 * granted or refused, GatewayPorts known, a channel forwarded to us, a
 * SOCKS request, a channel's error) is raised with session_raise(), queued,
 * and delivered by session_deliver_cb() from an event of its own, after the
 * pump has returned - as tmux's server_client_unref() defers frees.  The
 * owner may do anything there, free the session included.  Inside the
 * pump, transport code frees only what the pump itself reaps (dead
 * channels, between two of their calls); a session's end is ev_dead's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "session.h"

#define OPEN_AVG_WEIGHT	4	/* an open's share of the average: 1/4 */

static void	session_open_timed(struct session *, double);

/* --- input: our recv callback and the overflow queue --------------------- */

static ssize_t	session_recv(struct session *, libssh2_socket_t, void *,
		    size_t, int);

ssize_t
session_recv_cb(libssh2_socket_t fd, void *buf, size_t len, int flags,
    void **abstract)
{
	struct session *s = session_of(abstract);
	ssize_t n;

	n = session_recv(s, fd, buf, len, flags);
	/* for the pump: has libssh2 been told that the input ran out? */
	s->rx_starved = n <= 0;
	if (n > 0)
		s->rx_fed += (unsigned long)n;
	return n;
}

static ssize_t
session_recv(struct session *s, libssh2_socket_t fd, void *buf, size_t len,
    int flags)
{
	ssize_t n;

	if (s->rxq_len > 0) {
		n = (ssize_t)(len < s->rxq_len ? len : s->rxq_len);
		memcpy(buf, s->rxq + s->rxq_off, (size_t)n);
		s->rxq_off += (size_t)n;
		s->rxq_len -= (size_t)n;
		if (s->rxq_len == 0)
			s->rxq_off = 0;
		if (s->rx_paused && s->phase == SP_ESTABLISHED) {
			s->rx_paused = 0;
			event_add(s->ev_read, NULL);
		}
		return n;
	}
	if (s->rx_eof)
		return 0;
	if (s->rx_drained)	/* until the read event fires again */
		return -EAGAIN;
	n = recv(fd, buf, len, flags);
	if (n > 0) {
		s->last_rx = mono_now();
		return n;
	}
	if (n == 0) {
		s->rx_eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		s->rx_drained = 1;
		return -EAGAIN;
	}
	s->sock_errno = errno;	/* libssh2 keeps only "recv failed" */
	return -errno;
}

/* What send() did: n bytes sent, 0 if the socket is full, -1 failed. */
static ssize_t
session_send(struct session *s, int fd, const void *buf, size_t len,
    int flags)
{
	ssize_t n;

	if ((n = send(fd, buf, len, flags)) >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	s->sock_errno = errno;
	return -1;
}

/* The bytes kept back in txq, to the socket: 0, or -1 if it failed. */
int
session_tx_flush(struct session *s)
{
	ssize_t n;

	while (s->txq_len > 0) {
		if ((n = session_send(s, s->fd, s->txq, s->txq_len,
		    MSG_NOSIGNAL)) <= 0)
			return (int)n;
		memmove(s->txq, s->txq + n, s->txq_len - (size_t)n);
		s->txq_len -= (size_t)n;
	}
	return 0;
}

/*
 * Room in txq for n more bytes: it grows (doubling) up to TXQ_MAX, so a
 * burst of control packets - EOFs, CLOSEs, window adjusts of many channels
 * at once - never meets a full txq.
 */
static int
session_txq_room(struct session *s, size_t n)
{
	size_t cap = s->txq_cap;

	if (n <= cap - s->txq_len)
		return 1;
	while (n > cap - s->txq_len && cap < TXQ_MAX)
		cap *= 2;
	if (n > cap - s->txq_len)
		return 0;
	s->txq = xreallocarray(s->txq, cap, 1);
	s->txq_cap = cap;
	return 1;
}

/*
 * Our send callback: as libssh2's own, but the errno is kept, so that a
 * failed send is reported as itself ("Broken pipe"), not "Unable to send";
 * and when the socket is full, the rest of a small packet (TX_SMALL) is
 * kept in txq and said sent.  libssh2 1.10 keeps a packet it could not
 * send whole by its address, and its EOF is built on the stack: retried
 * from another call depth, it is another packet, refused as BAD_USE
 * ("Unable to send EOF on channel").  So control packets (EOF, CLOSE,
 * window adjusts, opens) never wait inside libssh2; only data does, in
 * buffers that stay put, under the latch.  txq goes out first, when the
 * socket is writable (ev_write); it grows for small packets up to TXQ_MAX
 * (doc/libssh2.md rule 12), which only a socket that stays full while
 * thousands of channels end could reach.
 */
ssize_t
session_send_cb(libssh2_socket_t fd, const void *buf, size_t len, int flags,
    void **abstract)
{
	struct session *s = session_of(abstract);
	ssize_t n = 0;

	if (session_tx_flush(s) < 0)
		return -s->sock_errno;
	if (s->txq_len == 0 &&
	    ((n = session_send(s, fd, buf, len, flags)) < 0 ||
	    (size_t)n == len))
		return n < 0 ? -s->sock_errno : n;
	if (len - (size_t)n <= TX_SMALL &&
	    session_txq_room(s, len - (size_t)n)) {
		memcpy(s->txq + s->txq_len, (const char *)buf + n,
		    len - (size_t)n);
		s->txq_len += len - (size_t)n;
		event_add(s->ev_write, NULL);
		return (ssize_t)len;
	}
	return n > 0 ? n : -EAGAIN;
}

/*
 * The pump left input in the socket (nothing inside libssh2 wanted it):
 * take it into rxq so the socket stops waking us, then pull it through.
 */
static void
session_rx_buffer(struct session *s)
{
	ssize_t n;
	size_t got = 0;

	if (s->rxq_off > 0 && s->rxq_len > 0)
		memmove(s->rxq, s->rxq + s->rxq_off, s->rxq_len);
	s->rxq_off = 0;
	while (s->rxq_len < RXQ_SIZE) {
		n = recv(s->fd, s->rxq + s->rxq_len, RXQ_SIZE - s->rxq_len, 0);
		if (n > 0) {
			s->rxq_len += (size_t)n;
			got += (size_t)n;
			s->last_rx = mono_now();
			continue;
		}
		if (n == 0)
			s->rx_eof = 1;
		else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			session_fail(s, SE_NETWORK, "connection to %s: %s", s->addr,
			    strerror(errno));
			return;
		}
		break;
	}
	if (s->rxq_len == RXQ_SIZE && !s->rx_paused) {
		s->rx_paused = 1;
		event_del(s->ev_read);
	}
	if (got > 0 || s->rx_eof)
		session_kick(s);
}

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

/* --- global requests: tcpip-forward and its cancel ----------------------- */

/* The server's SSH_MSG_DEBUG messages: kept (made printable) because sshd
 * gives the reasons for refused or altered forwards only there. */
void
session_debug_cb(LIBSSH2_SESSION *ssh, int always, const char *msg, int len,
    const char *lang, int lang_len, void **abstract)
{
	struct session *s = session_of(abstract);
	char *p;
	int i;

	free(s->debug_msg);
	if (len < 0)
		len = 0;
	if (len > 512)
		len = 512;
	s->debug_msg = p = xmalloc((size_t)len + 1);
	for (i = 0; i < len; i++)
		p[i] = msg[i] >= ' ' && msg[i] < 0x7f ? msg[i] : '?';
	p[len] = '\0';
	s->debug_seq++;
	log_debug("%s: the server says: %s", s->conf->name, s->debug_msg);
}

/* Teardown: bytes libssh2 still sends go nowhere, at once (LIBSSH2.md 8). */
ssize_t
session_discard_cb(libssh2_socket_t fd, const void *buf, size_t len,
    int flags, void **abstract)
{
	return (ssize_t)len;
}

/* ... and what it reads then is an end of file. */
ssize_t
session_eof_cb(libssh2_socket_t fd, void *buf, size_t len, int flags,
    void **abstract)
{
	return 0;
}

/* Ask the server to listen for a remote forward (tcpip-forward); the
 * answer goes to ops->listened, for owner. */
void
session_listen(struct session *s, void *owner, const char *host, int port)
{
	struct open_req *r = xcalloc(1, sizeof *r);

	r->kind = REQ_LISTEN;
	r->owner = owner;
	r->host = xstrdup(host);
	r->port = port;
	TAILQ_INSERT_TAIL(&s->opens, r, entry);
	session_schedule(s);
}

/* A forward goes away: forget its request, release its listener. */
void
session_listen_cancel(struct session *s, void *owner)
{
	struct session_listener *sl;
	struct open_req *r;

	TAILQ_FOREACH(r, &s->opens, entry) {
		if (r->kind == REQ_LISTEN && r->owner == owner)
			r->owner = NULL;  /* its answer is cancelled on arrival */
	}
	TAILQ_FOREACH(sl, &s->listeners, entry) {
		if (sl->owner == owner)
			break;
	}
	if (sl != NULL) {
		TAILQ_REMOVE(&s->listeners, sl, entry);
		if (s->phase == SP_ESTABLISHED) {
			r = xcalloc(1, sizeof *r);
			r->kind = REQ_CANCEL;
			r->l = sl->l;
			TAILQ_INSERT_TAIL(&s->opens, r, entry);
			session_schedule(s);
		}
		free(sl);
	}
	session_events_drop(s, owner, NULL);
}

/* The session goes: libssh2 frees the listeners themselves. */
void
session_listeners_free(struct session *s)
{
	struct session_listener *sl;

	while ((sl = TAILQ_FIRST(&s->listeners)) != NULL) {
		TAILQ_REMOVE(&s->listeners, sl, entry);
		free(sl);
	}
}

/*
 * What the server's GatewayPorts makes of a requested bind address cannot
 * be seen in its answer, so it is asked once per session, only when it
 * matters: a request for an address no server has, on port 0, succeeds
 * under "no" (bound to loopback instead, silently), succeeds with a debug
 * message under "yes" (bound to all addresses instead) and fails under
 * "clientspecified" (the address cannot be bound).  A success is cancelled
 * at once.
 */
enum gateway_ports
session_gateway_ports(struct session *s, int probe)
{
	struct open_req *r;

	if (probe && s->gateway_ports == GP_UNKNOWN) {
		s->gateway_ports = GP_PROBING;
		r = xcalloc(1, sizeof *r);
		r->kind = REQ_PROBE;
		r->host = xstrdup(PROBE_ADDRESS);
		TAILQ_INSERT_TAIL(&s->opens, r, entry);
		session_schedule(s);
	}
	return s->gateway_ports;
}

static void
session_cancel_listener(struct session *s, LIBSSH2_LISTENER *l)
{
	struct open_req *r = xcalloc(1, sizeof *r);

	r->kind = REQ_CANCEL;
	r->l = l;
	TAILQ_INSERT_HEAD(&s->opens, r, entry);
}

/* The server answered owner's tcpip-forward: l, or err. */
static void
session_listened(struct session *s, void *owner, LIBSSH2_LISTENER *l,
    int bound, const char *err, const char *note)
{
	struct session_listener *sl;
	struct session_event *ev;

	if (l != NULL) {
		sl = xcalloc(1, sizeof *sl);
		sl->l = l;
		sl->owner = owner;
		TAILQ_INSERT_TAIL(&s->listeners, sl, entry);
	}
	ev = session_raise(s, SEV_LISTENED, owner, NULL);
	ev->port = bound;
	ev->error = err != NULL ? xstrdup(err) : NULL;
	ev->note = note != NULL ? xstrdup(note) : NULL;
}

/* Advance a global request at the head of the queue; 1 if it completed. */
static int
session_request_step(struct session *s, struct open_req *r)
{
	LIBSSH2_LISTENER *l = NULL;
	const char *note, *err = NULL;
	int bound = 0, e;

	if (r->kind == REQ_CANCEL) {
		e = libssh2_channel_forward_cancel(r->l);
		if (e == LIBSSH2_ERROR_EAGAIN) {
			session_note_eagain(s, NULL, LATCH_OPEN);
			return 0;
		}
		TAILQ_REMOVE(&s->opens, r, entry);
		session_open_free(r);
		if (e != 0)
			session_check_error(s, e, "cancel-tcpip-forward");
		return 1;
	}
	l = libssh2_channel_forward_listen_ex(s->ssh, r->host, r->port, &bound,
	    LISTEN_QUEUE);
	if (l == NULL) {
		e = libssh2_session_last_errno(s->ssh);
		if (e == LIBSSH2_ERROR_EAGAIN) {
			session_note_eagain(s, NULL, LATCH_OPEN);
			return 0;
		}
		if (e != LIBSSH2_ERROR_REQUEST_DENIED) {
			if (!session_check_error(s, e, "tcpip-forward"))
				session_fail(s, SE_NETWORK, "tcpip-forward: %s",
				    session_ssh_error(s));
			return 0;
		}
		err = "the server refused to listen";
	}
	note = s->debug_seq != r->debug_seq ? s->debug_msg : NULL;
	TAILQ_REMOVE(&s->opens, r, entry);
	if (r->kind == REQ_PROBE) {
		s->gateway_ports = l == NULL ? GP_CLIENTSPECIFIED :
		    note != NULL && strstr(note, "GatewayPorts") != NULL ?
		    GP_YES : GP_NO;
		log_debug("%s: the server's GatewayPorts is %s", s->conf->name,
		    s->gateway_ports == GP_YES ? "yes" : s->gateway_ports ==
		    GP_NO ? "no" : "clientspecified (or the probe was refused)");
		if (l != NULL)
			session_cancel_listener(s, l);
		session_raise(s, SEV_GATEWAY_KNOWN, NULL, NULL);
	} else if (r->owner != NULL)
		session_listened(s, r->owner, l, bound, err, note);
	else if (l != NULL)	/* nobody wants it any more */
		session_cancel_listener(s, l);
	session_open_free(r);
	return 1;
}

/* Advance the open at the head of the queue; 1 if it completed. */
static int
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
			log_info("%s: open of %s: %s", s->conf->name,
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

/* Take the forwarded channels libssh2 has queued on our listeners: each
 * becomes a channel, handed to the listener's owner after the pump. */
static int
session_accept(struct session *s)
{
	struct session_listener *sl;
	LIBSSH2_CHANNEL *ch;
	struct channel *c;
	int progress = 0, e;

	TAILQ_FOREACH(sl, &s->listeners, entry) {
		while ((ch = libssh2_channel_forward_accept(sl->l)) != NULL) {
			c = channel_new(s, -1, "forwarded");
			channel_forwarded(c, ch);
			session_raise(s, SEV_FORWARDED, sl->owner, c);
			progress = 1;
		}
		e = libssh2_session_last_errno(s->ssh);
		if (e == LIBSSH2_ERROR_EAGAIN) {
			/* any accept resumes what libssh2 left half sent
			 * (it is inside its input path), so the latch is
			 * retried by walking the listeners again */
			if (session_note_eagain(s, NULL, LATCH_ACCEPT))
				return -1;
		} else if (e != LIBSSH2_ERROR_CHANNEL_UNKNOWN &&
		    session_check_error(s, e, "accept"))
			return -1;
	}
	return progress;
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
		if (ev->kind == SEV_FORWARDED && c == NULL &&
		    s->phase != SP_DEAD)
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

/* Channels closed for making no progress (channel_stall_timeout). */
uint64_t
session_channels_stalled(struct session *s)
{
	return s != NULL ? s->channels_stalled : 0;
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
static void
session_open_timed(struct session *s, double secs)
{
	s->open_avg = s->open_avg <= 0 ? secs :
	    s->open_avg + (secs - s->open_avg) / OPEN_AVG_WEIGHT;
}

/* Seconds an open of a connection's takes on the session (an average of
 * the last ones), 0 before its first. */
double
session_open_time(struct session *s)
{
	return s != NULL ? s->open_avg : 0;
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
	each = s->open_avg > 0 ? s->open_avg : dflt;
	TAILQ_FOREACH(r, &s->opens, entry)
		*work += each;
	wait = *work;
	r = TAILQ_FIRST(&s->opens);
	if (r != NULL && r->started && mono_now() - r->t0 > each)
		wait += mono_now() - r->t0 - each;
	return wait;
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
 * the head.  (Not measured on its own: the round trips beside a bulk
 * upload were decided by session_yield(), doc/libssh2.md rule 11.)
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
 * polls again, so a pump that kept itself active ran on and on while the
 * socket accepted its writes - the session's own input waited in the
 * socket (its read event could not fire, and the recv callback says EAGAIN
 * until it does), and so did every other session and tunnel of the
 * worker.  A 64-byte request beside a bulk upload on one session waited
 * 18 ms for its answer that way (ssh: 1 ms), until the upload ran out of
 * window.  After the poll, the socket events come first.
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

static void
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

/* --- socket events ------------------------------------------------------- */

void
session_arm(struct session *s)
{
	int dirs;

	if (s->phase == SP_DEAD)
		return;
	if (s->phase == SP_ESTABLISHED) {
		if (!s->rx_paused)
			event_add(s->ev_read, NULL);
		if (s->latch_op != LATCH_NONE || s->txq_len > 0)
			event_add(s->ev_write, NULL);
		return;
	}
	if (s->phase != SP_HANDSHAKE && s->phase != SP_AUTH)
		return;
	dirs = libssh2_session_block_directions(s->ssh);
	if (dirs == 0 || (dirs & LIBSSH2_SESSION_BLOCK_INBOUND))
		event_add(s->ev_read, NULL);
	if (dirs == 0 || (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) ||
	    s->txq_len > 0)
		event_add(s->ev_write, NULL);
}

void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->rx_drained = 0;
	if (s->phase != SP_ESTABLISHED) {
		session_step(s);
		return;
	}
	session_pump(s);
	if (s->phase == SP_ESTABLISHED && !s->rx_drained && !s->rx_eof &&
	    !s->rx_paused)
		session_rx_buffer(s);
}

void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->rx_drained = 0;
	if (session_tx_flush(s) < 0) {
		session_fail(s, SE_NETWORK, "connection to %s: %s", s->addr,
		    strerror(s->sock_errno));
		return;
	}
	if (s->phase == SP_ESTABLISHED)
		session_pump(s);
	else
		session_step(s);
}

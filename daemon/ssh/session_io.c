/*
 * session_io.c - the session's socket: our recv and send callbacks (every
 * byte received is seen; a failed send is reported as itself), the input
 * queue (rxq) the socket is drained into when nothing inside libssh2 wants
 * input, the output queue (txq) that keeps the rest of small packets, the
 * teardown callbacks, and the socket's read and write events.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "session.h"

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

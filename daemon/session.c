/*
 * session.c - one SSH connection (one libssh2 session) on one event base.
 *
 * Everything a session owns - its socket, its libssh2 session, its channels
 * and their events - lives on the event base it was created on, so sessions
 * can later be spread over worker threads, one base each.
 *
 * Phases: resolving (evdns) -> connecting (non-blocking TCP) -> handshake
 * (+ host key check) -> auth -> established; connect_timeout covers all of
 * them.  On an established session the rules of shared/LIBSSH2.md apply:
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
 *  - One open in flight.  Opens (channels and keepalive pings) wait in a FIFO.
 *  - Input is read through our own recv callback, so every byte received is
 *    seen (last_rx) and, when nothing inside libssh2 wants input, the socket
 *    is still drained into a bounded buffer instead of waking the loop in
 *    vain; a ping then pulls that input through libssh2.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "tunneld.h"

#define PUMP_ROUNDS	64		/* then yield to the other events */
#define RXQ_SIZE	(256 * 1024)	/* input drained while nobody reads */
#define PACKET_SIZE	32768		/* never advertise more (LIBSSH2.md) */
#define WINDOW_MIN	(256 * 1024)
#define WINDOW_MAX	(2 * 1024 * 1024)
#define WINDOW_BUDGET	(16 * 1024 * 1024)	/* per session, shared */

enum session_phase { SP_RESOLVING, SP_CONNECTING, SP_HANDSHAKE, SP_AUTH,
	SP_ESTABLISHED, SP_DEAD };
static const char *phase_names[] = { "resolving", "connecting",
	"handshake", "authenticating", "established", "dead" };

#define LATCH_NONE	0
#define LATCH_OPEN	100	/* beside the CHOP_* channel operations */

struct open_req {
	TAILQ_ENTRY(open_req)	 entry;
	enum session_open_kind	 kind;
	struct channel		*c;		/* NULL: ping or abandoned */
	int			 abandoned;
	int			 started;
	unsigned char		*payload;
	size_t			 payload_len;
	unsigned		 window;
	double			 t0;
};

struct session {
	struct tunnel		*tunnel;
	const struct tunnel_conf *conf;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo	*ai, *ai_cur;
	int			 fd;
	LIBSSH2_SESSION		*ssh;
	enum session_phase	 phase;
	struct identity		 id;
	struct event		*ev_read, *ev_write, *ev_timeout, *ev_pump;
	struct event		*ev_dead, *ev_keepalive;

	struct channel		*latch_ch;
	int			 latch_op;
	struct channels		 channels;
	unsigned		 nchannels;
	TAILQ_HEAD(, open_req)	 opens;

	char			*rxq;
	size_t			 rxq_off, rxq_len;
	int			 rx_drained, rx_eof, rx_paused;
	double			 last_rx;

	int			 ping_pending;
	double			 ping_t0;
	double			 rtt_ms;
	int			 missed;
	double			 last_tick_rx;

	int			 fatal;
	char			*error;
	char			 addr[INET6_ADDRSTRLEN + 8];
};

static void	session_fail(struct session *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	session_step(struct session *);
static void	session_arm(struct session *);
static void	session_connect_next(struct session *);

const char *
session_name(struct session *s)
{
	return s->conf->name;
}

LIBSSH2_SESSION *
session_ssh(struct session *s)
{
	return s->ssh;
}

struct event_base *
session_base(struct session *s)
{
	return s->base;
}

int
session_is_established(struct session *s)
{
	return s != NULL && s->phase == SP_ESTABLISHED;
}

double
session_rtt_ms(struct session *s)
{
	return s != NULL ? s->rtt_ms : -1;
}

/*
 * Channel windows cost memory (libssh2 queues up to a window of data per
 * channel): a few channels get 2 MiB each for throughput, many share a
 * budget of 16 MiB with at least 256 KiB each.
 */
unsigned
session_channel_window(struct session *s)
{
	unsigned w = WINDOW_BUDGET / (s->nchannels + 1);

	if (w > WINDOW_MAX)
		w = WINDOW_MAX;
	if (w < WINDOW_MIN)
		w = WINDOW_MIN;
	return w;
}

/* A session that died tells its tunnel from a deferred event, never from
 * under a callback that still uses it. */
static void
session_fail(struct session *s, int fatal, const char *fmt, ...)
{
	va_list ap;

	if (s->phase == SP_DEAD)
		return;
	log_debug("%s: session failed while %s", s->conf->name,
	    phase_names[s->phase]);
	s->phase = SP_DEAD;
	s->fatal = fatal;
	va_start(ap, fmt);
	if (vasprintf(&s->error, fmt, ap) == -1)
		s->error = NULL;
	va_end(ap);
	if (s->ev_read != NULL)
		event_del(s->ev_read);
	if (s->ev_write != NULL)
		event_del(s->ev_write);
	event_del(s->ev_keepalive);
	event_active(s->ev_dead, 0, 0);
}

static void
session_dead_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	/* The tunnel frees the session: touch nothing after this call. */
	tunnel_session_lost(s->tunnel, s->fatal,
	    s->error != NULL ? s->error : "session failed");
}

static const char *
session_ssh_error(struct session *s)
{
	char *msg = NULL;

	if (s->ssh == NULL)
		return "no session";
	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg != NULL ? msg : "unknown libssh2 error";
}

/* --- input: our recv callback and the overflow queue --------------------- */

static ssize_t
session_recv_cb(libssh2_socket_t fd, void *buf, size_t len, int flags,
    void **abstract)
{
	struct session *s = *abstract;
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
	return -errno;
}

static void
session_kick(struct session *s)
{
	if (!s->ping_pending)
		session_open(s, OPEN_PING, NULL, 0, NULL, 0, NULL);
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
			session_fail(s, 0, "connection to %s: %s", s->addr,
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

/*
 * A libssh2 call on a channel failed with rc.  Errors of the transport end
 * the session (every channel would meet them); others cost only the channel.
 * Returns 1 if the session failed.
 */
int
session_check_error(struct session *s, int rc, const char *what)
{
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
		if (s->rx_eof && rc != LIBSSH2_ERROR_BAD_USE)
			session_fail(s, 0, "connection closed by %s", s->addr);
		else
			session_fail(s, 0, "%s: %s", what,
			    session_ssh_error(s));
		return 1;
	default:
		return 0;
	}
}

/* --- channel opens: one in flight, FIFO ---------------------------------- */

static void
session_open_free(struct open_req *r)
{
	free(r->payload);
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
	r->t0 = mono_now();
	switch (kind) {
	case OPEN_DIRECT_TCPIP:
		r->payload = xmalloc(strlen(host) + strlen(orig_host) + 16);
		p = r->payload;
		put_string(&p, host);
		put_u32(&p, (uint32_t)port);
		put_string(&p, orig_host);
		put_u32(&p, (uint32_t)orig_port);
		r->payload_len = (size_t)(p - r->payload);
		break;
	case OPEN_STREAMLOCAL:
		r->payload = xmalloc(strlen(host) + 16);
		p = r->payload;
		put_string(&p, host);	/* socket path */
		put_string(&p, "");	/* reserved */
		put_u32(&p, 0);		/* reserved */
		r->payload_len = (size_t)(p - r->payload);
		break;
	case OPEN_PING:
		s->ping_pending = 1;
		break;
	}
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
		if (r->started) {	/* libssh2 holds it: finish, then close */
			r->c = NULL;
			r->abandoned = 1;
		} else {
			TAILQ_REMOVE(&s->opens, r, entry);
			session_open_free(r);
		}
		return;
	}
}

/* Advance the open at the head of the queue; 1 if it completed. */
static int
session_open_step(struct session *s)
{
	static const char *types[] = { "direct-tcpip",
	    "direct-streamlocal@openssh.com", "ping@tunneld" };
	struct open_req *r = TAILQ_FIRST(&s->opens);
	LIBSSH2_CHANNEL *ch;
	const char *type, *err = NULL;
	int e;

	if (r == NULL)
		return 0;
	if (!r->started) {
		r->started = 1;
		r->window = session_channel_window(s);
		if (r->kind == OPEN_PING)
			s->ping_t0 = mono_now();
	}
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
		else if (e != LIBSSH2_ERROR_CHANNEL_FAILURE) {
			/* not a refusal by the server: the session broke */
			if (!session_check_error(s, e, "channel open"))
				session_fail(s, 0, "channel open: %s", err);
			return 0;
		}
	}
	TAILQ_REMOVE(&s->opens, r, entry);
	if (r->kind == OPEN_PING) {
		s->ping_pending = 0;
		s->rtt_ms = (mono_now() - s->ping_t0) * 1000;
		log_debug("%s: ping %.2f ms", s->conf->name, s->rtt_ms);
		if (ch != NULL)	/* a server that accepts anything */
			channel_opened(channel_new(s, NULL, -1, "ping"), ch,
			    NULL);
	} else if (r->c != NULL)
		channel_opened(r->c, ch, err);
	else if (ch != NULL)	/* abandoned: close what we got */
		channel_opened(channel_new(s, NULL, -1, "abandoned"), ch,
		    NULL);
	session_open_free(r);
	return 1;
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

void
session_schedule(struct session *s)
{
	if (s->phase == SP_ESTABLISHED)
		event_active(s->ev_pump, 0, 0);
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
	else
		channel_retry(c, op);
	return s->latch_op != LATCH_NONE || s->phase != SP_ESTABLISHED ? -1 : 0;
}

static void
session_pump(struct session *s)
{
	struct channel *c, *next;
	int progress, rounds;

	if (s->phase != SP_ESTABLISHED)
		return;
	for (rounds = 0; rounds < PUMP_ROUNDS; rounds++) {
		if (s->latch_op != LATCH_NONE && session_unlatch(s) != 0)
			goto out;
		progress = session_open_step(s);
		if (s->latch_op != LATCH_NONE || s->phase != SP_ESTABLISHED)
			goto out;
		TAILQ_FOREACH_SAFE(c, &s->channels, entry, next) {
			progress |= channel_pump(c);
			if (s->latch_op != LATCH_NONE ||
			    s->phase != SP_ESTABLISHED)
				goto out;
		}
		if (!progress)
			break;
	}
	if (rounds == PUMP_ROUNDS)	/* busy: let other tunnels run */
		event_active(s->ev_pump, 0, 0);
	/* fairness: the next pump starts with another channel */
	if ((c = TAILQ_FIRST(&s->channels)) != NULL) {
		TAILQ_REMOVE(&s->channels, c, entry);
		TAILQ_INSERT_TAIL(&s->channels, c, entry);
	}
out:
	TAILQ_FOREACH_SAFE(c, &s->channels, entry, next) {
		if (c->state == CH_DEAD)
			channel_session_gone(c);
	}
	if (s->rx_eof && s->rxq_len == 0 && s->phase == SP_ESTABLISHED)
		session_fail(s, 0, "connection closed by %s", s->addr);
	session_arm(s);
}

static void
session_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	session_pump(arg);
}

/* --- socket events ------------------------------------------------------- */

static void
session_arm(struct session *s)
{
	int dirs;

	if (s->phase == SP_DEAD)
		return;
	if (s->phase == SP_ESTABLISHED) {
		if (!s->rx_paused)
			event_add(s->ev_read, NULL);
		if (s->latch_op != LATCH_NONE)
			event_add(s->ev_write, NULL);
		return;
	}
	if (s->phase != SP_HANDSHAKE && s->phase != SP_AUTH)
		return;
	dirs = libssh2_session_block_directions(s->ssh);
	if (dirs == 0 || (dirs & LIBSSH2_SESSION_BLOCK_INBOUND))
		event_add(s->ev_read, NULL);
	if (dirs == 0 || (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND))
		event_add(s->ev_write, NULL);
}

static void
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

static void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->rx_drained = 0;
	if (s->phase == SP_CONNECTING)
		session_connect_next(s);
	else if (s->phase == SP_ESTABLISHED)
		session_pump(s);
	else
		session_step(s);
}

/* --- connecting ---------------------------------------------------------- */

static void
session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->phase == SP_ESTABLISHED)
		return;
	session_fail(s, 0, "timed out after %gs while %s%s%s",
	    s->conf->connect_timeout, phase_names[s->phase],
	    s->addr[0] ? " with " : "", s->addr);
}

static void
session_socket_options(int fd)
{
	int one = 1;

	/* libssh2 never sets it: handshake 52-95 ms -> 12-15 ms */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

static void
session_addr_string(struct session *s, const struct sockaddr *sa)
{
	char h[INET6_ADDRSTRLEN];
	int port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof h);
		port = ntohs(sin6->sin6_port);
		snprintf(s->addr, sizeof s->addr, "[%s]:%d", h, port);
	} else {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, h, sizeof h);
		port = ntohs(sin->sin_port);
		snprintf(s->addr, sizeof s->addr, "%s:%d", h, port);
	}
}

/* Called to start on the next address, or when a connect() finished. */
static void
session_connect_next(struct session *s)
{
	struct evutil_addrinfo *ai;
	socklen_t len = sizeof(int);
	int err = 0;

	if (s->fd != -1) {	/* a connect() in progress has finished */
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err == 0) {
			log_debug("%s: connected to %s", s->conf->name,
			    s->addr);
			s->phase = SP_HANDSHAKE;
			event_del(s->ev_write);
			session_step(s);
			return;
		}
		log_info("%s: connect to %s: %s", s->conf->name, s->addr,
		    strerror(err));
		event_del(s->ev_read);
		event_del(s->ev_write);
		event_free(s->ev_read);
		event_free(s->ev_write);
		s->ev_read = s->ev_write = NULL;
		close(s->fd);
		s->fd = -1;
		s->ai_cur = s->ai_cur->ai_next;
	}
	for (ai = s->ai_cur; ai != NULL; ai = ai->ai_next) {
		s->ai_cur = ai;
		session_addr_string(s, ai->ai_addr);
		s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (s->fd == -1) {
			err = errno;
			continue;
		}
		session_socket_options(s->fd);
		s->ev_read = event_new(s->base, s->fd, EV_READ | EV_PERSIST,
		    session_read_cb, s);
		s->ev_write = event_new(s->base, s->fd, EV_WRITE,
		    session_write_cb, s);
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			event_add(s->ev_write, NULL);
			return;
		}
		err = errno;
		log_info("%s: connect to %s: %s", s->conf->name, s->addr,
		    strerror(err));
		event_free(s->ev_read);
		event_free(s->ev_write);
		s->ev_read = s->ev_write = NULL;
		close(s->fd);
		s->fd = -1;
	}
	session_fail(s, 0, "cannot connect to %s port %d: %s", s->conf->host,
	    s->conf->port, strerror(err ? err : ECONNREFUSED));
}

static void
session_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct session *s = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* the session is being freed */
	s->dns_req = NULL;
	if (result != 0) {
		session_fail(s, 0, "cannot resolve %s: %s", s->conf->host,
		    evutil_gai_strerror(result));
		return;
	}
	s->ai = s->ai_cur = res;
	s->phase = SP_CONNECTING;
	session_connect_next(s);
}

/* --- handshake and authentication ---------------------------------------- */

static void *
session_alloc(size_t n, void **abstract)
{
	return malloc(n);
}

static void *
session_realloc(void *p, size_t n, void **abstract)
{
	return realloc(p, n);
}

static void
session_dealloc(void *p, void **abstract)
{
	free(p);
}

static int
session_handshake(struct session *s)
{
	struct hostkey_plan plan;
	char *cause = NULL;
	int rc;

	if (s->ssh == NULL) {
		s->ssh = libssh2_session_init_ex(session_alloc,
		    session_dealloc, session_realloc, s);
		if (s->ssh == NULL) {
			session_fail(s, 0, "cannot create an SSH session");
			return -1;
		}
		libssh2_session_set_blocking(s->ssh, 0);
		libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_RECV,
		    (void *)session_recv_cb);
		hostkey_plan(s->ssh, s->conf, &plan, &cause);
		if (plan.method_pref != NULL) {
			log_debug("%s: host key algorithms %s", s->conf->name,
			    plan.method_pref);
			libssh2_session_method_pref(s->ssh,
			    LIBSSH2_METHOD_HOSTKEY, plan.method_pref);
			free(plan.method_pref);
		}
		free(cause);
	}
	rc = libssh2_session_handshake(s->ssh, s->fd);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 1;
	if (rc != 0) {
		session_fail(s, 0, "SSH handshake with %s: %s", s->addr,
		    session_ssh_error(s));
		return -1;
	}
	if (hostkey_verify(s->ssh, s->conf, &cause) != 0) {
		session_fail(s, 1, "%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static int
session_auth(struct session *s)
{
	const struct tunnel_conf *tc = s->conf;
	int rc;

	rc = libssh2_userauth_publickey_frommemory(s->ssh, tc->user,
	    strlen(tc->user), NULL, 0, s->id.data, s->id.len, NULL);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 1;
	identity_clear(&s->id);		/* the secret is no longer needed */
	if (rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED) {
		session_fail(s, 0, "authentication failed: %s refused the key "
		    "%s for user \"%s\"", s->addr, tc->identity_file != NULL ?
		    tc->identity_file : "(default)", tc->user);
		return -1;
	}
	if (rc != 0) {
		session_fail(s, 0, "authentication with %s: %s", s->addr,
		    session_ssh_error(s));
		return -1;
	}
	return 0;
}

static void
session_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	double interval = s->conf->keepalive_interval;

	if (s->phase != SP_ESTABLISHED)
		return;
	/* Any byte received counts as life (ServerAliveCountMax). */
	if (s->last_rx > s->last_tick_rx)
		s->missed = 0;
	else if (s->ping_pending && ++s->missed >= s->conf->keepalive_count) {
		session_fail(s, 0, "no answer from %s for %gs (%d keepalives "
		    "unanswered)", s->addr, interval * s->missed, s->missed);
		return;
	}
	s->last_tick_rx = s->last_rx;
	session_kick(s);
}

/* Drive the handshake and authentication; on success the session is up. */
static void
session_step(struct session *s)
{
	struct timeval tv;
	int rc;

	if (s->phase == SP_HANDSHAKE) {
		if ((rc = session_handshake(s)) != 0) {
			if (rc > 0)
				session_arm(s);
			return;
		}
		log_debug("%s: host key verified", s->conf->name);
		s->phase = SP_AUTH;
	}
	if (s->phase == SP_AUTH) {
		if ((rc = session_auth(s)) != 0) {
			if (rc > 0)
				session_arm(s);
			return;
		}
		event_del(s->ev_read);
		event_del(s->ev_write);
		event_del(s->ev_timeout);
		s->phase = SP_ESTABLISHED;
		s->last_rx = s->last_tick_rx = mono_now();
		if (s->conf->keepalive_interval > 0) {
			tv.tv_sec = (time_t)s->conf->keepalive_interval;
			tv.tv_usec = (suseconds_t)((s->conf->keepalive_interval
			    - (double)tv.tv_sec) * 1e6);
			event_add(s->ev_keepalive, &tv);
		}
		/* The first round trip waits for the first keepalive tick:
		 * right after authentication sshd still has unacknowledged
		 * data out, and Nagle against our delayed ACK would add 40 ms
		 * to what rtt_ms reports. */
		session_arm(s);
		log_info("%s: authenticated to %s as %s", s->conf->name,
		    s->addr, s->conf->user);
		tunnel_session_up(s->tunnel);
	}
}

struct session *
session_new(struct event_base *base, struct evdns_base *dns,
    const struct tunnel_conf *tc, struct tunnel *t)
{
	struct session *s = xcalloc(1, sizeof *s);
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	struct timeval tv;
	char port[16], *cause = NULL;

	s->tunnel = t;
	s->conf = tc;
	s->base = base;
	s->dns = dns;
	s->fd = -1;
	s->rtt_ms = -1;
	TAILQ_INIT(&s->channels);
	TAILQ_INIT(&s->opens);
	s->rxq = xmalloc(RXQ_SIZE);
	s->ev_timeout = evtimer_new(base, session_timeout_cb, s);
	s->ev_pump = event_new(base, -1, 0, session_pump_cb, s);
	s->ev_dead = event_new(base, -1, 0, session_dead_cb, s);
	s->ev_keepalive = event_new(base, -1, EV_PERSIST, session_keepalive_cb,
	    s);
	s->phase = SP_RESOLVING;

	tv.tv_sec = (time_t)tc->connect_timeout;
	tv.tv_usec = (suseconds_t)((tc->connect_timeout - (double)tv.tv_sec) *
	    1e6);
	event_add(s->ev_timeout, &tv);

	/* Key problems are found before the network is touched. */
	if (identity_load(tc, &s->id, &cause) != 0) {
		session_fail(s, 1, "%s", cause);
		free(cause);
		return s;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(port, sizeof port, "%d", tc->port);
	req = evdns_getaddrinfo(dns, tc->host, port, &hints, session_dns_cb, s);
	if (s->phase == SP_RESOLVING)
		s->dns_req = req;
	return s;
}

/* Tear down without blocking: shutdown before free (LIBSSH2.md rule 8). */
void
session_free(struct session *s)
{
	struct channel *c, *next;
	struct open_req *r;

	if (s == NULL)
		return;
	if (s->dns_req != NULL)
		evdns_getaddrinfo_cancel(s->dns_req);
	s->phase = SP_DEAD;
	TAILQ_FOREACH_SAFE(c, &s->channels, entry, next)
		channel_session_gone(c);
	while ((r = TAILQ_FIRST(&s->opens)) != NULL) {
		TAILQ_REMOVE(&s->opens, r, entry);
		session_open_free(r);
	}
	if (s->fd != -1)
		shutdown(s->fd, SHUT_RDWR);
	if (s->ssh != NULL) {
		int tries = 0;

		s->rx_eof = 1;
		s->rxq_len = 0;
		/* with the socket shut, nothing inside can wait for long */
		while (libssh2_session_free(s->ssh) == LIBSSH2_ERROR_EAGAIN &&
		    ++tries < 8)
			;
	}
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	if (s->ev_write != NULL)
		event_free(s->ev_write);
	event_free(s->ev_timeout);
	event_free(s->ev_pump);
	event_free(s->ev_dead);
	event_free(s->ev_keepalive);
	if (s->fd != -1)
		close(s->fd);
	if (s->ai != NULL)
		evutil_freeaddrinfo(s->ai);
	identity_clear(&s->id);
	free(s->rxq);
	free(s->error);
	free(s);
}

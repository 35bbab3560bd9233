/*
 * session.c - one SSH connection (one libssh2 session) on one event base.
 *
 * Everything a session owns - its socket, its libssh2 session, its channels
 * and their events - lives on the event base it was created on, so sessions
 * can later be spread over worker threads, one base each.
 *
 * Phases: resolving (evdns) -> connecting (non-blocking TCP) -> handshake
 * (+ host key check) -> auth -> established; connect_timeout covers all of
 * them.  Keepalives are in session_keepalive.c, what happens on an
 * established session in session_pump.c.
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

#include "session.h"

/* libssh2 1.11.1 deprecates callback_set for callback_set2, which takes a
 * function pointer (configure: HAVE_LIBSSH2_SESSION_CALLBACK_SET2). */
#ifdef HAVE_LIBSSH2_SESSION_CALLBACK_SET2
#define SESSION_CALLBACK(ssh, type, fn) \
	libssh2_session_callback_set2((ssh), (type), (libssh2_cb_generic *)(fn))
#else
#define SESSION_CALLBACK(ssh, type, fn) \
	libssh2_session_callback_set((ssh), (type), (void *)(fn))
#endif

static const char *phase_names[] = { "resolving", "connecting",
	"handshake", "authenticating", "established", "dead" };

/* What a tunnel in "connecting" is doing, for tunnelctl's progress. */
const char *
session_phase_name(struct session *s)
{
	if (s == NULL)
		return NULL;
	if (s->phase == SP_ESTABLISHED)
		return "forwarding";	/* asking the server for its forwards */
	return phase_names[s->phase];
}

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

/* reload: the same connection settings, a new configuration object */
void
session_set_conf(struct session *s, const struct tunnel_conf *tc)
{
	s->conf = tc;
}

/* reload: a forward goes; its connections go on without it */
void
session_forget_forward(struct session *s, struct forward *f)
{
	struct channel *c;

	TAILQ_FOREACH(c, &s->channels, entry) {
		if (c->fwd == f) {
			f->connections--;
			c->fwd = NULL;
		}
	}
}

double
session_connect_timeout(struct session *s)
{
	return s->conf->connect_timeout;
}

struct evdns_base *
session_dns(struct session *s)
{
	return s->dns;
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
void
session_fail(struct session *s, enum session_error class, const char *fmt,
    ...)
{
	va_list ap;

	if (s->phase == SP_DEAD)
		return;
	log_debug("%s: session failed while %s", s->conf->name,
	    phase_names[s->phase]);
	s->phase = SP_DEAD;
	s->class = class;
	va_start(ap, fmt);
	if (vasprintf(&s->error, fmt, ap) == -1)
		s->error = NULL;
	va_end(ap);
	if (s->ev_read != NULL)
		event_del(s->ev_read);
	if (s->ev_write != NULL)
		event_del(s->ev_write);
	event_del(s->ev_keepalive);
	event_del(s->ev_alive);
	event_active(s->ev_dead, 0, 0);
}

void
session_dead_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	/* The tunnel frees the session: touch nothing after this call. */
	tunnel_session_lost(s->tunnel, s->class,
	    s->error != NULL ? s->error : "session failed");
}

const char *
session_ssh_error(struct session *s)
{
	char *msg = NULL;

	if (s->ssh == NULL)
		return "no session";
	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg != NULL ? msg : "unknown libssh2 error";
}

/* --- connecting ---------------------------------------------------------- */

static void
session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->phase == SP_ESTABLISHED)
		return;
	session_fail(s, SE_NETWORK, "timed out after %gs while %s%s%s",
	    s->conf->connect_timeout, phase_names[s->phase],
	    s->addr[0] ? " with " : "", s->addr);
}

/*
 * TCP_NODELAY, which libssh2 never sets (handshake 52-95 ms -> 12-15 ms);
 * and the kernel's backstop behind the SSH keepalives: TCP keepalives on
 * an idle link, TCP_USER_TIMEOUT for data the peer stops acknowledging,
 * both on the keepalive_interval x keepalive_count schedule.
 */
static void
session_socket_options(const struct tunnel_conf *tc, int fd)
{
	int one = 1, idle, cnt;
	unsigned int ms;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (tc->keepalive_interval <= 0)
		return;
	idle = tc->keepalive_interval < 1 ? 1 : (int)tc->keepalive_interval;
	cnt = tc->keepalive_count;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	ms = (unsigned int)(tc->keepalive_interval * tc->keepalive_count *
	    1000);
	if (ms < 1000)
		ms = 1000;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
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
void
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
		session_socket_options(s->conf, s->fd);
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
	session_fail(s, SE_NETWORK, "cannot connect to %s port %d: %s", s->conf->host,
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
		session_fail(s, SE_NETWORK, "cannot resolve %s: %s", s->conf->host,
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
			session_fail(s, SE_NETWORK, "cannot create an SSH session");
			return -1;
		}
		libssh2_session_set_blocking(s->ssh, 0);
		SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_RECV,
		    session_recv_cb);
		SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_SEND,
		    session_send_cb);
		SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_DEBUG,
		    session_debug_cb);
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
		session_fail(s, SE_NETWORK, "SSH handshake with %s: %s", s->addr,
		    session_ssh_error(s));
		return -1;
	}
	if (hostkey_verify(s->ssh, s->conf, &cause) != 0) {
		session_fail(s, SE_FATAL, "%s", cause);
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
		session_fail(s, SE_AUTH, "authentication failed: %s refused "
		    "the key %s for user \"%s\"", s->addr,
		    tc->identity_file != NULL ? tc->identity_file :
		    "(default)", tc->user);
		return -1;
	}
	if (rc != 0) {
		session_fail(s, SE_NETWORK, "authentication with %s: %s", s->addr,
		    session_ssh_error(s));
		return -1;
	}
	return 0;
}

/* Drive the handshake and authentication; on success the session is up. */
void
session_step(struct session *s)
{
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
		s->last_rx = mono_now();
		session_keepalive_start(s);
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
	s->ev_alive = evtimer_new(base, session_alive_cb, s);
	s->phase = SP_RESOLVING;

	timer_add_secs(s->ev_timeout, tc->connect_timeout);

	/* Key problems are found before the network is touched. */
	if (identity_load(tc, &s->id, &cause) != 0) {
		session_fail(s, SE_FATAL, "%s", cause);
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

		/* Whatever libssh2 sends while freeing (CLOSE, and the cancel
		 * of each remote listener, which it retries for ever if the
		 * send fails) is dropped, and it reads an end of file. */
		SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_SEND,
		    session_discard_cb);
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
	event_free(s->ev_alive);
	if (s->fd != -1)
		close(s->fd);
	if (s->ai != NULL)
		evutil_freeaddrinfo(s->ai);
	identity_clear(&s->id);
	free(s->rxq);
	free(s->debug_msg);
	free(s->error);
	free(s);
}

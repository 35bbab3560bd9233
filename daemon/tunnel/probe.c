/*
 * probe.c - the end-to-end probe of a remote forward (probe_interval):
 * does the server's listener reach this tunnel, on every address it
 * should cover, and does the target here accept a connection?
 *
 * Each probe opens a direct-tcpip channel on the forward's own session to
 * each address the listener should cover (its "legs") and sends a token
 * of PROBE_TOKEN random bytes on it.  The server connects there; a
 * listener of ours forwards that connection back as a channel, which
 * forward_remote_accept() holds for its first bytes while a probe is out
 * (channel_sniff): the token makes it the probe's (closed at once, the
 * target never sees it), anything else, or nothing within PROBE_SNIFF,
 * a real connection, connected with what was read.  The target is
 * checked apart: a connection to it opened and closed (probe_target).
 * doc/internals.md has the design, tunneld.conf(5) what it does.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/random.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tunnel.h"

#define PROBE_TOKEN	16	/* bytes: a shared prefix, then the leg */
#define PROBE_LEGS	2
#define PROBE_SNIFF	2.0	/* seconds a connection arriving during a
				   probe is held for its first bytes */
#define PROBE_FIRST	1.0	/* seconds after the forward is up */
#define PROBE_DEADLINE	10.0	/* seconds at most a probe waits */

enum leg_result { LEG_WAIT, LEG_BACK, LEG_CLOSED };
/* ::1 for localhost: a server may have no IPv6 loopback; 127.0.0.1 for an
 * explicit address: not covered, only asked to tell the loopback-only
 * bind (GatewayPorts no) from a listener that does not reach us */
enum { LEG_REQUIRED, LEG_OPEN, LEG_DIAGNOSTIC };

/* One address the listener should cover, and the channel sent to it. */
struct probe_leg {
	char			 host[INET6_ADDRSTRLEN];
	int			 role;		/* LEG_REQUIRED, LEG_OPEN (a
						   refused open is no failure),
						   LEG_DIAGNOSTIC (never one) */
	int			 fd;		/* our end of the channel's */
	struct event		*ev;
	enum leg_result		 result;
};

enum probe_verdict { PV_NONE, PV_OK, PV_LOOPBACK_ONLY, PV_NOT_REACHED,
	PV_TARGET };

struct forward_probe {
	struct forward		*f;
	struct event		*timer;		/* the next probe */
	struct event		*deadline;	/* the probe out */
	int			 running;
	unsigned char		 token[PROBE_TOKEN];
	struct probe_leg	 legs[PROBE_LEGS];
	size_t			 nlegs;
	struct connector	*conn;		/* the target's check */
	int			 target_wait;
	char			*target_error;
	enum probe_verdict	 verdict;	/* the last probe's */
	char			*error;		/* ... what is wrong */
	time_t			 last;		/* it finished */
	time_t			 last_ok;
	double			 verdict_at;	/* the last verdict, and the */
	double			 working_at;	/* last that found the listener
						   working: OK or TARGET
						   (monotonic) */
	uint64_t		 failures;
	unsigned		 misses;	/* "does not reach", in a row */
	double			 unanswered;	/* seconds the server has not
						   answered a leg's open, or 0 */
};

static void	forward_probe_finish(struct forward_probe *);
static void	probe_abort(struct forward_probe *);

static int
probe_enabled(const struct forward *f)
{
	return forward_is_remote(f) && f->tunnel->conf->probe_interval > 0;
}

static struct forward_probe *
probe_get(struct forward *f)
{
	struct forward_probe *p = f->probe;

	if (p == NULL) {
		p = f->probe = xcalloc(1, sizeof *p);
		p->f = f;
	}
	return p;
}

/* --- the legs ------------------------------------------------------------ */

static void
probe_leg_close(struct probe_leg *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	l->ev = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
}

/* Are all the legs answered, and the target checked? */
static void
probe_check_done(struct forward_probe *p)
{
	size_t i;

	if (!p->running || p->target_wait)
		return;
	for (i = 0; i < p->nlegs; i++) {
		if (p->legs[i].result == LEG_WAIT)
			return;
	}
	forward_probe_finish(p);
}

/* Our end of a leg's channel: its EOF before the token came back means
 * the server refused the open (nothing listens there) or what it reached
 * closed at once. */
static void
probe_leg_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_probe *p = arg;
	struct probe_leg *l = NULL;
	char buf[256];
	ssize_t n;
	size_t i;

	for (i = 0; i < p->nlegs; i++) {
		if (p->legs[i].fd == fd)
			l = &p->legs[i];
	}
	if (l == NULL)
		return;
	n = read(fd, buf, sizeof buf);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return;		/* whatever answers there is not ours */
	event_del(l->ev);
	if (l->result == LEG_WAIT)
		l->result = LEG_CLOSED;
	probe_check_done(p);
}

/* Send leg i's token through the server to host:port. */
static int
probe_leg_start(struct forward_probe *p, size_t i, const char *host, int port,
    int role)
{
	struct forward *f = p->f;
	struct probe_leg *l = &p->legs[i];
	struct channel *c;
	char label[512];
	int sv[2];

	memset(l, 0, sizeof *l);
	l->fd = -1;
	snprintf(l->host, sizeof l->host, "%s", host);
	l->role = role;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	p->token[PROBE_TOKEN - 1] = (unsigned char)i;
	if (write(sv[1], p->token, PROBE_TOKEN) != PROBE_TOKEN) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	set_nonblock(sv[1]);
	l->fd = sv[1];
	l->ev = event_new(tunnel_base(f->tunnel), l->fd, EV_READ | EV_PERSIST,
	    probe_leg_read_cb, p);
	event_add(l->ev, NULL);
	snprintf(label, sizeof label, "%s: probe of %s:%d", f->spec->spec,
	    host, port);
	c = channel_new(f->tunnel->session, sv[0], label);
	channel_rate_exempt(c);		/* its deadline is no turn's */
	session_open(f->tunnel->session, OPEN_DIRECT_TCPIP, host, port,
	    "127.0.0.1", 0, c);
	return 0;
}

/* The server's address this session is connected to, numeric. */
static int
probe_server_address(struct forward *f, char *buf, size_t len)
{
	const struct tunnel_conf *tc = f->tunnel->conf;
	struct sockaddr_storage ss;
	const void *a;

	if (tc->jump != NULL || tc->proxy != NULL)
		return -1;	/* the socket's peer is not the server */
	if (session_address(f->tunnel->session, 1, &ss) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	else
		return -1;
	return inet_ntop(ss.ss_family, a, buf, (socklen_t)len) == NULL ? -1 : 0;
}

/* Leg i to host:port, if it can be started. */
static void
probe_leg_add(struct forward_probe *p, const char *host, int role)
{
	if (probe_leg_start(p, p->nlegs, host, p->f->bound_port, role) == 0)
		p->nlegs++;
}

/*
 * The addresses the listener should cover: the loopback bind's (::1 too
 * for localhost); for "*", 127.0.0.1 and the server's address the session
 * is connected to; for an explicit address, that address (a name: the
 * server's address again), and 127.0.0.1 to tell a loopback-only bind.
 */
static void
probe_legs(struct forward_probe *p)
{
	const char *h = forward_remote_bind(p->f);
	char addr[INET6_ADDRSTRLEN] = "";
	struct in6_addr a6;
	struct in_addr a4;

	p->nlegs = 0;
	if (strcmp(h, "::1") == 0 || strcmp(h, "127.0.0.1") == 0) {
		probe_leg_add(p, h, LEG_REQUIRED);
		return;
	}
	if (strcmp(h, "localhost") == 0) {
		probe_leg_add(p, "127.0.0.1", LEG_REQUIRED);
		probe_leg_add(p, "::1", LEG_OPEN);
		return;
	}
	probe_leg_add(p, "127.0.0.1", *h == '\0' ? LEG_REQUIRED :
	    LEG_DIAGNOSTIC);
	if (inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1)
		snprintf(addr, sizeof addr, "%s", h);
	else if (probe_server_address(p->f, addr, sizeof addr) == -1)
		return;
	probe_leg_add(p, addr, LEG_REQUIRED);
}

/* --- the target ---------------------------------------------------------- */

static void
probe_target_cb(int fd, int error, const char *why, void *arg)
{
	struct forward_probe *p = arg;
	const struct fwdspec *sp = p->f->spec;

	p->conn = NULL;
	p->target_wait = 0;
	free(p->target_error);
	p->target_error = NULL;
	if (fd != -1)
		close(fd);	/* opened and closed: all a probe does there */
	else if (sp->connect.path != NULL)
		xasprintf(&p->target_error, "the target %s refuses "
		    "connections (%s)", sp->connect.path, why);
	else
		xasprintf(&p->target_error, "the target %s:%d refuses "
		    "connections (%s)", sp->connect.host, sp->connect.port, why);
	probe_check_done(p);
}

static void
probe_target_start(struct forward_probe *p)
{
	struct forward *f = p->f;
	const struct fwdspec *sp = f->spec;

	if (sp->kind != FWD_REMOTE || !f->tunnel->conf->probe_target)
		return;
	p->target_wait = 1;
	p->conn = connector_start(tunnel_base(f->tunnel),
	    worker_dns(f->tunnel->worker), sp->connect.host, sp->connect.port,
	    sp->connect.path, f->tunnel->conf->connect_timeout, 0,
	    probe_target_cb, p);
}

/* --- a probe ------------------------------------------------------------- */

/*
 * The probe's time is up.  A leg still waiting behind an open that the
 * server has not answered (the session's one open slot, held by another
 * channel's blackholed target) proves nothing: no verdict this time.
 */
static void
probe_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_probe *p = arg;
	struct forward *f = p->f;
	char stuck[300], mine[300];
	double age = 0;
	size_t i;

	if (!session_open_stuck(f->tunnel->session, &age, stuck, sizeof stuck))
		stuck[0] = '\0';
	for (i = 0; i < p->nlegs && stuck[0] != '\0'; i++) {
		snprintf(mine, sizeof mine, "%s:%d", p->legs[i].host,
		    f->bound_port);
		if (p->legs[i].result == LEG_WAIT && strcmp(stuck, mine) != 0)
			break;
	}
	if (stuck[0] == '\0' || i == p->nlegs) {
		p->unanswered = stuck[0] != '\0' ? age : 0;
		forward_probe_finish(p);
		return;
	}
	log_forward(f, LOG_LVL_DEBUG, "the probe of %s waited behind an open "
	    "the server has not answered for %.0fs: no verdict",
	    f->spec->spec, age);
	probe_abort(p);
}

static void
probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_probe *p = arg;
	struct forward *f = p->f;
	double d;

	if (!probe_enabled(f) || !f->listening)
		return;		/* forward_probe_start() when it listens */
	timer_add_secs(p->timer, f->tunnel->conf->probe_interval);
	if (p->running)
		return;		/* the last one is still out */
	if (getrandom(p->token, sizeof p->token, 0) != sizeof p->token)
		return;
	p->running = 1;
	p->target_wait = 0;
	probe_legs(p);
	probe_target_start(p);
	d = f->tunnel->conf->connect_timeout;
	if (d > PROBE_DEADLINE)
		d = PROBE_DEADLINE;
	if (p->deadline == NULL)
		p->deadline = evtimer_new(tunnel_base(f->tunnel),
		    probe_deadline_cb, p);
	timer_add_secs(p->deadline, d);
	log_forward(f, LOG_LVL_DEBUG, "probing %s on %zu address%s%s",
	    f->spec->spec, p->nlegs, p->nlegs == 1 ? "" : "es",
	    p->target_wait ? " and its target" : "");
}

/* The probe out is dropped, its verdict not drawn. */
static void
probe_abort(struct forward_probe *p)
{
	size_t i;

	for (i = 0; i < p->nlegs; i++)
		probe_leg_close(&p->legs[i]);
	p->nlegs = 0;
	p->unanswered = 0;
	connector_cancel(p->conn);
	p->conn = NULL;
	p->target_wait = 0;
	if (p->deadline != NULL)
		evtimer_del(p->deadline);
	p->running = 0;
}

/* What a probe's legs say of the listener; *msg what is wrong. */
static enum probe_verdict
probe_listener(struct forward_probe *p, char **msg)
{
	struct forward *f = p->f;
	const char *h = forward_remote_bind(f);
	struct probe_leg *l, *bad = NULL;
	int loopback_ok, port = f->bound_port;
	const char *unanswered;
	size_t i;

	*msg = NULL;
	for (i = 0; i < p->nlegs; i++) {
		l = &p->legs[i];
		if (l->result == LEG_BACK || l->role == LEG_DIAGNOSTIC ||
		    (l->role == LEG_OPEN && l->result == LEG_CLOSED))
			continue;
		bad = l;
		break;
	}
	if (bad == NULL)
		return PV_OK;
	loopback_ok = p->legs[0].result == LEG_BACK;
	/* the server took the open and never answered it: stalled, or its
	 * connect there goes nowhere */
	unanswered = bad->result == LEG_WAIT && p->unanswered > 0 ?
	    " (the server has not answered the probe's channel open)" : "";
	if (loopback_ok && bad != &p->legs[0] && bad->result == LEG_CLOSED &&
	    strcmp(h, "localhost") != 0) {
		xasprintf(msg, "the server bound %s:%d on its loopback only: "
		    "set GatewayPorts clientspecified (or yes) in its "
		    "sshd_config", *h == '\0' ? "*" : h, port);
		return PV_LOOPBACK_ONLY;
	}
	if (strchr(bad->host, ':') != NULL)
		xasprintf(msg, "the server's [%s]:%d does not reach this "
		    "tunnel%s", bad->host, port, unanswered);
	else
		xasprintf(msg, "the server's %s:%d does not reach this tunnel%s",
		    bad->host, port, unanswered);
	return PV_NOT_REACHED;
}

/* A verdict's consequences: the forward's state, the log, a re-request
 * or a reconnect for a listener that does not reach us. */
static void
probe_act(struct forward_probe *p, enum probe_verdict v, char *msg)
{
	struct forward *f = p->f;
	int changed = p->verdict != v || (msg != NULL && (p->error == NULL ||
	    strcmp(p->error, msg) != 0));

	p->last = time(NULL);
	p->verdict = v;
	free(p->error);
	p->error = msg;
	p->verdict_at = mono_now();
	if (v == PV_OK || v == PV_TARGET)
		p->working_at = p->verdict_at;
	if (v == PV_OK) {
		p->last_ok = p->last;
		p->misses = 0;
		if (changed)
			log_forward(f, LOG_LVL_INFO, "remote forward \"%s\": "
			    "the probe came back: the server's listener "
			    "reaches this tunnel%s", f->spec->spec,
			    f->spec->kind == FWD_REMOTE &&
			    f->tunnel->conf->probe_target ?
			    " and the target accepts connections" : "");
		if (f->state == FS_FAILED && f->listening) {
			forward_set_error(f, NULL);
			forward_set_state(f, FS_UP, "the probe came back");
		}
		return;
	}
	p->failures++;
	if (v == PV_TARGET) {	/* the listener is fine: the forward too */
		p->misses = 0;
		if (changed)
			log_forward(f, LOG_LVL_WARNING, "remote forward "
			    "\"%s\": %s: start it, or correct the forward",
			    f->spec->spec, msg);
		return;
	}
	if (v == PV_LOOPBACK_ONLY) {
		p->misses = 0;
		forward_fail(f, msg);
		return;
	}
	/* asked for again; if that did not help, a new session; beyond,
	 * asked for again each time */
	p->misses++;
	forward_fail(f, msg);
	if (!f->listening)	/* require_forwards dropped the session */
		return;
	if (p->misses == 2) {
		tunnel_session_replace(f->tunnel, msg);
		return;
	}
	log_forward(f, p->misses == 1 ? LOG_LVL_NOTICE : LOG_LVL_DEBUG,
	    "remote forward \"%s\": asking the server to listen again",
	    f->spec->spec);
	session_listen_cancel(f->tunnel->session, f);
	f->listening = 0;
	f->requested = 0;
	forward_remote_request(f);
}

static void
forward_probe_finish(struct forward_probe *p)
{
	enum probe_verdict v;
	char *msg, *terr;

	if (!p->running)
		return;
	v = probe_listener(p, &msg);
	terr = p->target_wait ? NULL : p->target_error;
	p->target_error = NULL;
	if (p->target_wait)
		xasprintf(&terr, "the target of %s did not answer within %gs",
		    p->f->spec->spec, p->f->tunnel->conf->connect_timeout);
	probe_abort(p);
	if (v == PV_OK && terr != NULL) {
		v = PV_TARGET;
		msg = terr;
	} else
		free(terr);
	probe_act(p, v, msg);	/* may replace the session: last */
}

/* --- what the rest of the forward calls ---------------------------------- */

/* The forward's listener is up: probe it from now on. */
void
forward_probe_start(struct forward *f)
{
	struct forward_probe *p;

	if (!probe_enabled(f))
		return;
	p = probe_get(f);
	if (p->timer == NULL)
		p->timer = evtimer_new(tunnel_base(f->tunnel), probe_timer_cb,
		    p);
	if (!evtimer_pending(p->timer, NULL))
		timer_add_secs(p->timer, p->running ?
		    f->tunnel->conf->probe_interval : PROBE_FIRST);
}

/* The listener is gone (the session, a re-request): the probe out too. */
void
forward_probe_stop(struct forward *f)
{
	struct forward_probe *p = f->probe;

	if (p == NULL)
		return;
	probe_abort(p);
	if (p->timer != NULL)
		evtimer_del(p->timer);
}

/*
 * A new session's listener, under require_forwards: the last session's
 * verdict is not this one's, and status shows none until its own probe.
 */
void
forward_probe_forget(struct forward *f)
{
	struct forward_probe *p = f->probe;

	if (p == NULL || p->running)
		return;
	p->verdict = PV_NONE;
	free(p->error);
	p->error = NULL;
	p->misses = 0;
}

/* Did the last probe, if it was at `since` (monotonic) or later, find
 * the listener not working (the forward is failed until one comes back)? */
int
forward_probe_failed(struct forward *f, double since)
{
	struct forward_probe *p = f->probe;

	return probe_enabled(f) && p != NULL && p->verdict_at >= since &&
	    (p->verdict == PV_LOOPBACK_ONLY || p->verdict == PV_NOT_REACHED);
}

/*
 * Did the probes since `since` (monotonic: when the session came up)
 * find the listener working at least once (the target may refuse), or
 * was there none?  0 only if every one found it not working.  tunnel.c:
 * a session whose probes never came back was no stable period, however
 * long it lasted.
 */
int
forward_probe_proven(struct forward *f, double since)
{
	struct forward_probe *p = f->probe;

	return !probe_enabled(f) || p == NULL || p->verdict_at < since ||
	    p->working_at >= since;
}

/* reload: probe_interval changed; off, a forward failed by a probe is up
 * again if the server listens. */
void
forward_probe_rearm(struct forward *f)
{
	struct forward_probe *p = f->probe;

	if (p != NULL && p->timer != NULL)
		evtimer_del(p->timer);
	if (!probe_enabled(f)) {
		if (p == NULL)
			return;
		probe_abort(p);
		if (p->verdict != PV_OK && p->verdict != PV_TARGET &&
		    p->verdict != PV_NONE && f->listening &&
		    f->state == FS_FAILED) {
			forward_set_error(f, NULL);
			forward_set_state(f, FS_UP, "probe_interval is 0");
		}
		p->verdict = PV_NONE;
		p->verdict_at = p->working_at = 0;
		p->misses = 0;
		return;
	}
	if (f->listening)
		forward_probe_start(f);
}

void
forward_probe_free(struct forward *f)
{
	struct forward_probe *p = f->probe;

	if (p == NULL)
		return;
	probe_abort(p);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->deadline != NULL)
		event_free(p->deadline);
	free(p->target_error);
	free(p->error);
	free(p);
	f->probe = NULL;
}

/* Is a probe out, so that a connection arriving must show its bytes? */
int
forward_probe_sniff(struct forward *f, struct channel *c)
{
	struct forward_probe *p = f->probe;

	if (p == NULL || !p->running || p->nlegs == 0)
		return 0;
	channel_sniff(c, p->token, PROBE_TOKEN - 1, PROBE_TOKEN, PROBE_SNIFF);
	return 1;
}

/* A held connection's first bytes: 1 if it was the probe's (closed). */
int
forward_probe_sniffed(struct forward *f, struct channel *c)
{
	struct forward_probe *p = f->probe;
	const unsigned char *b;
	size_t len, i;

	b = channel_sniffed(c, &len);
	if (p == NULL || !p->running || len != PROBE_TOKEN ||
	    memcmp(b, p->token, PROBE_TOKEN - 1) != 0 ||
	    (i = b[PROBE_TOKEN - 1]) >= p->nlegs)
		return 0;
	p->legs[i].result = LEG_BACK;
	channel_abort(c, NULL);
	probe_check_done(p);
	return 1;
}

/* The forward's status: "probe" and the fields the metrics read; none
 * while probing is off or before a probe has finished. */
void
forward_probe_status(struct forward *f, json_object *o)
{
	struct forward_probe *p = f->probe;
	json_object *po;

	if (!probe_enabled(f) || p == NULL)
		return;
	json_object_object_add(o, "probe_failures",
	    json_object_new_int64((int64_t)p->failures));
	if (p->last_ok != 0)
		json_object_object_add(o, "probe_last_ok",
		    json_object_new_int64((int64_t)p->last_ok));
	if (p->verdict == PV_NONE)
		return;
	json_object_object_add(o, "probe_ok",
	    json_object_new_boolean(p->verdict == PV_OK));
	po = json_object_new_object();
	json_object_object_add(po, "state", json_object_new_string(
	    p->running ? "pending" : p->verdict == PV_OK ? "ok" : "failed"));
	json_object_object_add(po, "error", p->error != NULL ?
	    json_object_new_string(p->error) : NULL);
	json_object_object_add(po, "last", json_object_new_int64(
	    (int64_t)p->last));
	json_object_object_add(o, "probe", po);
}

/*
 * session_listen.c - global requests: tcpip-forward and its cancel, the
 * remote listeners the server granted and the channels forwarded on them,
 * the GatewayPorts probe, and the server's debug messages that explain a
 * refused or altered forward.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "session.h"

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
	session_log(s, LOG_LVL_DEBUG, "the server says: %s", s->debug_msg);
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
int
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
		session_log(s, LOG_LVL_DEBUG, "the server's GatewayPorts is %s",
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
/* Take the forwarded channels libssh2 has queued on our listeners: each
 * becomes a channel, handed to the listener's owner after the pump. */
int
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

/*
 * hop.c - jump hosts (OpenSSH's ProxyJump): a session whose bytes run in a
 * direct-tcpip channel of another session, the one to the jump host before
 * it.  jump = "a,b,c" to host: the session to host runs through a session
 * to c, which runs through one to b, which connects to a by TCP.  Each
 * session owns the one it runs through (s->via) and frees it with itself.
 *
 * The inner session's socket is one end of a socketpair(); the other end
 * is an ordinary channel of the outer session (channel.c), which carries
 * the bytes both ways with the outer session's flow control.  So the inner
 * session is driven exactly like one on a TCP socket - same latch, same
 * pump, same wake-ups (LIBSSH2.md) - and a wake-up on either side is an
 * event on the socketpair.  (doc/libssh2.md, "Jump hosts": why a
 * socketpair and not SEND/RECV callbacks over the channel.)
 *
 * Every hop is a full session of its own: its host key checked like the
 * target's (same known_hosts and strictness; a pinned host_key is the
 * target's alone), authenticated with the same identity, with the same
 * keepalives, so a hop that dies or freezes ends the chain.  Whatever
 * ends a hop ends the session that runs through it, with the hop named.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

#define HOP_ORIG_HOST	"127.0.0.1"	/* what ssh -J says it comes from */

struct hop {
	char	*user;		/* NULL: not given */
	char	*host;
	int	 port;
};

static void
hop_clear(struct hop *h)
{
	free(h->user);
	free(h->host);
	memset(h, 0, sizeof *h);
}

static int
hop_port(const char *p, int *port)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* The host and port of "host", "host:port", "[v6]" or "[v6]:port". */
static int
hop_host_port(char *hp, struct hop *h, char **why)
{
	char *colon, *p = NULL;

	if (*hp == '[') {
		if ((colon = strchr(hp, ']')) == NULL)
			return -1;
		*colon = '\0';
		if (colon[1] == ':')
			p = colon + 2;
		else if (colon[1] != '\0')
			return -1;
		hp++;
	} else if ((colon = strchr(hp, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		*colon = '\0';
		p = colon + 1;
	}
	if (*hp == '\0' || strpbrk(hp, " \t\r\n/@[]") != NULL)
		return -1;
	if (host_name_check(hp, why) != 0)
		return -1;
	h->port = 22;
	if (p != NULL && hop_port(p, &h->port) != 0)
		return -1;
	h->host = xstrdup(hp);
	return 0;
}

/* One hop, "[ssh://][user@]host[:port]", the len bytes at spec. */
static int
hop_parse(const char *spec, size_t len, struct hop *h, char **cause)
{
	char *copy, *hp, *at, *why = NULL;
	int rc = 0;

	memset(h, 0, sizeof *h);
	copy = xmalloc(len + 1);
	memcpy(copy, spec, len);
	copy[len] = '\0';
	hp = copy;
	if (strncmp(hp, "ssh://", 6) == 0)
		hp += 6;
	if ((at = strrchr(hp, '@')) != NULL) {
		*at = '\0';
		if (*hp == '\0' || strpbrk(hp, " \t\r\n") != NULL)
			rc = -1;
		else
			h->user = xstrdup(hp);
		hp = at + 1;
	}
	if (rc == 0)
		rc = hop_host_port(hp, h, &why);
	if (rc != 0 && why != NULL) {
		*cause = why;
		hop_clear(h);
	} else if (rc != 0) {
		xasprintf(cause, "\"%.*s\" is not [user@]host[:port]",
		    (int)len, spec);
		hop_clear(h);
	}
	free(copy);
	return rc;
}

/* A jump list as written in tunneld.conf: every hop well formed? */
int
hop_check(const char *jump, char **cause)
{
	const char *p = jump, *comma;
	struct hop h;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (hop_parse(p, len, &h, cause) != 0)
			return -1;
		hop_clear(&h);
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* The first hop of a jump list, the server tunneld connects to. */
int
hop_first(const char *jump, char **host, int *port)
{
	const char *comma = strchr(jump, ',');
	struct hop h;
	char *cause = NULL;

	if (hop_parse(jump, comma != NULL ? (size_t)(comma - jump) :
	    strlen(jump), &h, &cause) != 0) {
		free(cause);
		return -1;
	}
	free(h.user);
	*host = h.host;
	*port = h.port;
	return 0;
}

/* "host:port" or "[v6]:port", for messages: h->host was checked, and
 * fits a buffer of HOST_NAME_LEN + 16. */
static void
hop_name(const struct hop *h, char *buf, size_t len)
{
	if (bsnprintf(buf, len, strchr(h->host, ':') != NULL ? "[%s]:%d" :
	    "%s:%d", h->host, h->port) == -1)
		log_debug("jump host %.20s...: its name cut", h->host);
}

/*
 * The parameters of the session s runs through: its last hop, reached
 * through the hops before it; the target's identity, known_hosts,
 * strictness, algorithms, timeouts and keepalives, but not its pinned key.
 * A hop without a user logs in as the user tunneld runs as (ProxyJump).
 */
static int
hop_params(struct session *s, struct session_params *p, struct hop *h,
    char **rest, char **cause)
{
	const char *jump = s->conf->jump, *comma = strrchr(jump, ',');
	const char *last = comma != NULL ? comma + 1 : jump;
	struct passwd pwd, *pw = NULL;
	char name[HOST_NAME_LEN + 16], pwbuf[4096];

	if (hop_parse(last, strlen(last), h, cause) != 0)
		return -1;
	if (h->user == NULL) {
		/* a worker's thread: getpwuid()'s static result is shared */
		if (getpwuid_r(geteuid(), &pwd, pwbuf, sizeof pwbuf, &pw) !=
		    0 || pw == NULL) {
			xasprintf(cause, "jump host %s: no user, and tunneld's "
			    "own user has no name", h->host);
			hop_clear(h);
			return -1;
		}
		h->user = xstrdup(pw->pw_name);
	}
	*rest = NULL;
	if (comma != NULL) {
		*rest = xmalloc((size_t)(comma - jump) + 1);
		memcpy(*rest, jump, (size_t)(comma - jump));
		(*rest)[comma - jump] = '\0';
	}
	*p = *s->conf;
	hop_name(h, name, sizeof name);
	p->name = NULL;		/* set by the caller, from name */
	p->host = h->host;
	p->port = h->port;
	p->user = h->user;
	p->host_key = NULL;	/* the target's */
	p->ratelimit = NULL;	/* the target's channels are limited */
	p->jump = *rest;
	free(s->via_name);
	s->via_name = xstrdup(name);
	return 0;
}

/* "tunnel: jump host h:p", whichever hop s is: tunnel names have no ':' */
static char *
hop_session_name(struct session *s)
{
	const char *n = s->conf->name, *end = strstr(n, ": jump host ");
	char *name;

	xasprintf(&name, "%.*s: jump host %s", end != NULL ? (int)(end - n) :
	    (int)strlen(n), n, s->via_name);
	return name;
}

static void
hop_up_cb(void *arg)
{
	struct session *s = arg;
	struct channel *c;
	char label[HOST_NAME_LEN + 32];	/* "to NAME port N" */
	int sp[2];

	if (s->phase != SP_CONNECTING)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		session_fail(s, SE_NETWORK, "jump host %s: socketpair: %s",
		    s->via_name, strerror(errno));
		return;
	}
	snprintf(label, sizeof label, "to %s port %d", s->conf->host,
	    s->conf->port);
	c = channel_new(s->via, sp[0], label);
	channel_set_owner(c, s, NULL);
	session_open(s->via, OPEN_DIRECT_TCPIP, s->conf->host, s->conf->port,
	    HOP_ORIG_HOST, 0, c);
	session_log(s, LOG_LVL_DEBUG, "through jump host %s", s->via_name);
	snprintf(s->addr, sizeof s->addr, "%s:%d", s->conf->host,
	    s->conf->port);
	session_attach(s, sp[1]);
}

/* The hop is gone: so is every session through it. */
static void
hop_lost_cb(void *arg, enum session_error class, const char *why)
{
	struct session *s = arg;

	session_fail(s, class, "jump host %s: %s", s->via_name, why);
}

/* The hop would not open the channel to the next one. */
static void
hop_channel_error_cb(void *arg, void *owner, const char *error)
{
	struct session *s = arg;

	session_fail(s, SE_NETWORK, "jump host %s: cannot reach %s port %d: %s",
	    s->via_name, s->conf->host, s->conf->port, error);
}

/*
 * s is dead: if a jump host it ran through is dead too, the first of them
 * (the one nearest tunneld) is the cause - when it ends, each session
 * through it sees its channel close, perhaps before the hop's own end is
 * read.  Its error and class, or NULL.
 */
char *
hop_blame(struct session *s, enum session_error *class)
{
	struct session *v, *dead = NULL, *inner = NULL, *prev = s;
	char *why;

	for (v = s->via; v != NULL; prev = v, v = v->via) {
		if (v->phase == SP_DEAD && v->error != NULL) {
			dead = v;
			inner = prev;
		}
	}
	if (dead == NULL)
		return NULL;
	*class = dead->class;
	xasprintf(&why, "jump host %s: %s", inner->via_name, dead->error);
	return why;
}

/* A hop has no forwards: the other calls are never made. */
static const struct session_ops hop_ops = {
	.up = hop_up_cb,
	.lost = hop_lost_cb,
	.channel_error = hop_channel_error_cb,
};

/* s runs through its jump hosts: the session to the last one, started. */
void
hop_start(struct session *s)
{
	struct session_params p;
	struct hop h;
	char *rest, *name, *cause = NULL;

	if (hop_params(s, &p, &h, &rest, &cause) != 0) {
		session_fail(s, SE_FATAL, "%s", cause);
		free(cause);
		return;
	}
	name = hop_session_name(s);
	p.name = name;
	s->via = session_new(s->base, s->dns, &p, &hop_ops, s);
	free(name);
	free(rest);
	hop_clear(&h);
}

/* reload: the hops take the target's new timers too. */
void
hop_set_params(struct session *s)
{
	struct session_params p;
	struct hop h;
	char *rest, *name, *cause = NULL;

	if (s->via == NULL)
		return;
	if (hop_params(s, &p, &h, &rest, &cause) != 0) {
		free(cause);	/* the same jump list, parsed before */
		return;
	}
	name = hop_session_name(s);
	p.name = name;
	session_set_params(s->via, &p);
	free(name);
	free(rest);
	hop_clear(&h);
}

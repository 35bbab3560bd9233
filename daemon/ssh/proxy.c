/*
 * proxy.c - a session's TCP connection through an upstream proxy: an HTTP
 * proxy's CONNECT method (RFC 9110 9.3.6) or SOCKS5's (RFC 1928, without
 * authentication).  connect.c connects to the proxy; here, on that socket,
 * the proxy is asked for host:port, and its answer read without a byte of
 * the SSH server's past it (that is libssh2's): the HTTP header a byte at a
 * time, the SOCKS5 reply by its announced length.  Non-blocking on the
 * event loop; the caller's timer (connect_timeout) bounds it.
 *
 * A proxy's refusal, silence, early close or garbage is an error that
 * names the proxy and says what it said: the HTTP status line as sent
 * (escaped), the SOCKS5 reply code and its meaning.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/base.h"
#include "ssh.h"

#define PROXY_HEADER_MAX	8192	/* an HTTP answer's header, at most */
#define PROXY_QUOTE_MAX		80	/* what is quoted of an answer */

struct proxy_talk {
	int		 fd;		/* the caller's */
	struct event	*ev;
	enum proxy_kind	 kind;
	int		 step;		/* SOCKS5: 0 methods, 1 connect */
	char		*host;		/* what the proxy is asked for */
	int		 port;
	char		*desc;		/* "HTTP proxy 127.0.0.1:3128" */
	unsigned char	 out[2 * HOST_NAME_LEN + 128];	/* a request */
	size_t		 outlen, outoff;
	unsigned char	 in[PROXY_HEADER_MAX + 1];
	size_t		 inlen, need;
	int		 garbage;	/* read on to quote a line of it */
	char		*refused;	/* why it cannot be asked: said first */
	proxy_cb	 cb;
	void		*arg;
};

static const char *proxy_scheme[] = { "http", "socks5" };

const char *
proxy_kind_name(enum proxy_kind kind)
{
	return kind == PROXY_HTTP ? "HTTP proxy" : "SOCKS5 proxy";
}

/* --- the URL -------------------------------------------------------------- */

static int
proxy_parse_fail(char **cause, const char *url, const char *what)
{
	xasprintf(cause, "\"%s\": %s (expected \"http://HOST:PORT\" or "
	    "\"socks5://HOST:PORT\")", url, what);
	return -1;
}

/* A port in [1, 65535]: digits alone; -1 if not. */
static int
proxy_port(const char *p)
{
	long n = 0;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || (n = n * 10 + *p - '0') >
		    65535)
			return -1;
	}
	return n >= 1 ? (int)n : -1;
}

/*
 * "http://host:port" or "socks5://host:port" (an IPv6 address in
 * brackets, a "/" after the port allowed) into u; -1 with a cause if it is
 * not one of them.  No credentials, path or other scheme.
 */
int
proxy_parse(const char *url, struct proxy_url *u, char **cause)
{
	const char *p, *colon, *end;
	char *rest, *slash, *why;
	size_t i;
	int port;

	memset(u, 0, sizeof *u);
	for (i = 0; i < nitems(proxy_scheme); i++) {
		if (strncasecmp(url, proxy_scheme[i], strlen(proxy_scheme[i]))
		    == 0 && strncmp(url + strlen(proxy_scheme[i]), "://", 3)
		    == 0)
			break;
	}
	if (i == nitems(proxy_scheme))
		return proxy_parse_fail(cause, url, "unsupported scheme");
	u->kind = i == 0 ? PROXY_HTTP : PROXY_SOCKS5;
	rest = xstrdup(url + strlen(proxy_scheme[i]) + 3);
	if ((slash = strchr(rest, '/')) != NULL) {
		if (slash[1] != '\0') {
			free(rest);
			return proxy_parse_fail(cause, url, "a proxy URL has "
			    "no path");
		}
		*slash = '\0';
	}
	if (strchr(rest, '@') != NULL) {
		free(rest);
		return proxy_parse_fail(cause, url, "credentials in the URL "
		    "are not supported");
	}
	p = rest;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL || end[1] != ':') {
			free(rest);
			return proxy_parse_fail(cause, url, "an IPv6 address "
			    "goes as [ADDRESS]:PORT");
		}
		u->host = xstrdup(p + 1);
		u->host[end - p - 1] = '\0';
		colon = end + 1;
	} else {
		if ((colon = strrchr(p, ':')) == NULL ||
		    strchr(p, ':') != colon) {
			free(rest);
			return proxy_parse_fail(cause, url, colon == NULL ?
			    "the port is missing" : "an IPv6 address goes in "
			    "brackets");
		}
		u->host = xstrdup(p);
		u->host[colon - p] = '\0';
	}
	port = proxy_port(colon + 1);
	free(rest);
	if (u->host[0] == '\0' || strpbrk(u->host, " \t\r\n") != NULL ||
	    port == -1) {
		proxy_url_clear(u);
		return proxy_parse_fail(cause, url, port == -1 ?
		    "the port is not a number from 1 to 65535" :
		    "no host name or address");
	}
	if (host_name_check(u->host, &why) != 0) {
		proxy_url_clear(u);
		proxy_parse_fail(cause, url, why);
		free(why);
		return -1;
	}
	u->port = port;
	return 0;
}

void
proxy_url_clear(struct proxy_url *u)
{
	free(u->host);
	u->host = NULL;
}

/* --- talking to the proxy ------------------------------------------------- */

/* What a proxy sent, for a message: printable ASCII, the rest escaped. */
static void
proxy_quote(char *buf, size_t len, const unsigned char *b, size_t n)
{
	size_t i, o = 0;

	if (n > PROXY_QUOTE_MAX)
		n = PROXY_QUOTE_MAX;
	for (i = 0; i < n && o + 5 < len; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '"')
			buf[o++] = (char)b[i];
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", b[i]);
	}
	buf[o] = '\0';
}

static void
proxy_done(struct proxy_talk *t, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report once: error 0 (the tunnel through the proxy is open) or why not. */
static void
proxy_done(struct proxy_talk *t, int error, const char *fmt, ...)
{
	char *why = NULL, *msg = NULL;
	va_list ap;

	event_del(t->ev);
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&why, fmt, ap) == -1)
			why = NULL;
		va_end(ap);
		xasprintf(&msg, "%s %s", t->desc, why != NULL ? why : "failed");
	}
	/* the caller may free the talk in its callback: nothing after it */
	t->cb(error, msg, t->arg);
	free(why);
	free(msg);
}

/* CONNECT host:port; -1 if it does not fit (the name was checked). */
static int
proxy_http_request(struct proxy_talk *t)
{
	const char *fmt = strchr(t->host, ':') != NULL ? "[%s]:%d" : "%s:%d";
	char hp[HOST_NAME_LEN + 16];
	struct bbuf b;

	if (bsnprintf(hp, sizeof hp, fmt, t->host, t->port) == -1)
		return -1;
	bbuf_init(&b, t->out, sizeof t->out);
	bbuf_printf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: tunneld/%s\r\n\r\n", hp, hp, PACKAGE_VERSION);
	if (b.over)
		return -1;
	t->outlen = b.len;
	t->need = 1;	/* the header, a byte at a time */
	return 0;
}

/*
 * The status code of "HTTP/1.x DDD" and a space or the line's end, as
 * RFC 9112 4 has it: exactly three digits; -1 if the line is not that.
 */
static int
proxy_http_status(const char *line)
{
	const char *d = line + 9;

	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)
	    line[7]) || line[8] != ' ')
		return -1;
	if (!isdigit((unsigned char)d[0]) || !isdigit((unsigned char)d[1]) ||
	    !isdigit((unsigned char)d[2]) || (d[3] != ' ' && d[3] != '\r'))
		return -1;
	return (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
}

static void
proxy_http_garbage(struct proxy_talk *t)
{
	char q[PROXY_QUOTE_MAX * 4 + 8];

	proxy_quote(q, sizeof q, t->in, t->inlen);
	proxy_done(t, EPROTO, "answered something that is not HTTP: \"%s\"",
	    q);
}

/* The HTTP answer so far: 1 for more, 0 when done (t's callback made). */
static int
proxy_http_answer(struct proxy_talk *t)
{
	char q[PROXY_QUOTE_MAX * 4 + 8];
	int code;
	size_t n;

	if (t->garbage || (t->inlen <= 5 &&
	    strncmp((char *)t->in, "HTTP/", t->inlen) != 0)) {
		t->garbage = 1;
		if (t->in[t->inlen - 1] != '\n' && t->inlen < PROXY_QUOTE_MAX) {
			t->need = t->inlen + 1;
			return 1;
		}
		proxy_http_garbage(t);
		return 0;
	}
	if (t->inlen < 4 || memcmp(t->in + t->inlen - 4, "\r\n\r\n", 4) != 0) {
		if (t->inlen == PROXY_HEADER_MAX) {
			proxy_done(t, EPROTO, "answered a header longer than "
			    "%d bytes", PROXY_HEADER_MAX);
			return 0;
		}
		t->need = t->inlen + 1;
		return 1;
	}
	t->in[t->inlen] = '\0';
	n = strcspn((char *)t->in, "\r\n");
	proxy_quote(q, sizeof q, t->in, n);
	if ((code = proxy_http_status((char *)t->in)) < 100) {
		proxy_done(t, EPROTO, "answered an HTTP status line that "
		    "makes no sense: \"%s\"", q);
		return 0;
	}
	if (code < 200 || code > 299) {
		proxy_done(t, ECONNREFUSED, "refused CONNECT %s%s%s:%d: \"%s\"",
		    strchr(t->host, ':') != NULL ? "[" : "", t->host,
		    strchr(t->host, ':') != NULL ? "]" : "", t->port, q);
		return 0;
	}
	log_debug("%s: CONNECT %s:%d: \"%s\"", t->desc, t->host, t->port, q);
	proxy_done(t, 0, NULL);
	return 0;
}

/* RFC 1928 section 6. */
static const char *
proxy_socks5_reply_name(int rep)
{
	static const char *names[] = { "succeeded",
	    "general SOCKS server failure",
	    "connection not allowed by ruleset", "network unreachable",
	    "host unreachable", "connection refused", "TTL expired",
	    "command not supported", "address type not supported" };

	return rep >= 0 && (size_t)rep < nitems(names) ? names[rep] :
	    "unassigned reply code";
}

static void
proxy_socks5_greeting(struct proxy_talk *t)
{
	memcpy(t->out, "\x05\x01\x00", 3);	/* one method: none */
	t->outlen = 3;
	t->need = 2;
}

/* The CONNECT request (RFC 1928 4); -1 if it cannot be made: a name
 * over 255 bytes has no length byte. */
static int
proxy_socks5_request(struct proxy_talk *t)
{
	struct in6_addr a6;
	struct in_addr a4;
	struct bbuf b;
	size_t len;

	bbuf_init(&b, t->out, sizeof t->out);
	bbuf_add(&b, "\x05\x01\x00", 3);	/* version, CONNECT, reserved */
	if (inet_pton(AF_INET, t->host, &a4) == 1) {
		bbuf_byte(&b, 1);
		bbuf_add(&b, &a4, sizeof a4);
	} else if (inet_pton(AF_INET6, t->host, &a6) == 1) {
		bbuf_byte(&b, 4);
		bbuf_add(&b, &a6, sizeof a6);
	} else {	/* the proxy resolves the name */
		if ((len = strlen(t->host)) > 255)
			return -1;
		bbuf_byte(&b, 3);
		bbuf_byte(&b, (unsigned)len);
		bbuf_add(&b, t->host, len);
	}
	bbuf_byte(&b, (unsigned)t->port >> 8);
	bbuf_byte(&b, (unsigned)t->port & 0xff);
	if (b.over)
		return -1;
	t->outlen = b.len;
	t->outoff = 0;
	t->inlen = 0;
	t->need = 2;	/* the reply code: some close right after it */
	t->step = 1;
	return 0;
}

/* The SOCKS5 answer so far: 1 for more, 0 when done. */
static int
proxy_socks5_answer(struct proxy_talk *t)
{
	char q[PROXY_QUOTE_MAX * 4 + 8];
	const unsigned char *b = t->in;

	if (b[0] != 5) {
		proxy_quote(q, sizeof q, b, t->inlen);
		proxy_done(t, EPROTO, "answered something that is not SOCKS5: "
		    "\"%s\"", q);
		return 0;
	}
	if (t->step == 0) {
		if (b[1] == 0xff) {
			proxy_done(t, ECONNREFUSED, "accepts none of the "
			    "authentication methods offered (tunneld offers "
			    "none: no authentication)");
			return 0;
		}
		if (b[1] != 0) {
			proxy_done(t, EPROTO, "chose authentication method %d, "
			    "which was not offered", b[1]);
			return 0;
		}
		if (proxy_socks5_request(t) != 0) {
			proxy_done(t, EINVAL, "cannot be asked for \"%.20s...\":"
			    " the name does not fit a SOCKS5 request", t->host);
			return 0;
		}
		return 1;
	}
	if (b[1] != 0) {
		proxy_done(t, ECONNREFUSED, "refused the connection to %s "
		    "port %d: SOCKS5 reply %d (%s)", t->host, t->port, b[1],
		    proxy_socks5_reply_name(b[1]));
		return 0;
	}
	if (t->inlen == 2) {
		t->need = 5;	/* up to the address's first byte */
		return 1;
	}
	if (t->inlen == 5) {	/* the whole reply's length */
		switch (b[3]) {
		case 1:
			t->need = 4 + 4 + 2;
			return 1;
		case 3:
			t->need = 4 + 1 + b[4] + 2;
			return 1;
		case 4:
			t->need = 4 + 16 + 2;
			return 1;
		}
		proxy_done(t, EPROTO, "answered an unknown address type %d",
		    b[3]);
		return 0;
	}
	log_debug("%s: CONNECT %s:%d: succeeded", t->desc, t->host, t->port);
	proxy_done(t, 0, NULL);
	return 0;
}

/* Send what is queued; 1 if it must wait for the socket, -1 if done. */
static int
proxy_send(struct proxy_talk *t)
{
	ssize_t n;

	while (t->outoff < t->outlen) {
		n = send(t->fd, t->out + t->outoff, t->outlen - t->outoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_assign(t->ev, event_get_base(t->ev), t->fd,
			    EV_WRITE, event_get_callback(t->ev), t);
			event_add(t->ev, NULL);
			return 1;
		}
		if (n == -1) {
			proxy_done(t, errno, "%s", strerror(errno));
			return -1;
		}
		t->outoff += (size_t)n;
	}
	return 0;
}

/* Read up to t->need bytes, never past them; 1 to wait, -1 done, 0 got. */
static int
proxy_recv(struct proxy_talk *t)
{
	ssize_t n;

	while (t->inlen < t->need) {
		n = recv(t->fd, t->in + t->inlen, t->need - t->inlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_assign(t->ev, event_get_base(t->ev), t->fd,
			    EV_READ, event_get_callback(t->ev), t);
			event_add(t->ev, NULL);
			return 1;
		}
		if (n == -1) {
			proxy_done(t, errno, "%s", strerror(errno));
			return -1;
		}
		if (n == 0 && t->garbage) {
			proxy_http_garbage(t);
			return -1;
		}
		if (n == 0) {
			proxy_done(t, ECONNRESET, "closed the connection %s",
			    t->inlen == 0 && t->outoff == t->outlen ?
			    "without answering" : "in the middle of its answer");
			return -1;
		}
		t->inlen += (size_t)n;
	}
	return 0;
}

static void
proxy_talk_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_talk *t = arg;
	int more;

	if (t->refused != NULL) {
		proxy_done(t, EINVAL, "%s", t->refused);
		return;
	}
	do {
		if (proxy_send(t) != 0 || proxy_recv(t) != 0)
			return;
		if (t->kind == PROXY_HTTP)
			more = proxy_http_answer(t);
		else
			more = proxy_socks5_answer(t);
	} while (more);
}

/*
 * On fd, connected to the proxy: ask it for host:port; cb(0, NULL, arg)
 * once the connection through it is open, cb(errno, why, arg) if not.
 * cb runs from an event, never from here; it may free the talk.  addr:
 * the proxy's address, for messages.
 */
struct proxy_talk *
proxy_talk_start(struct event_base *base, int fd, enum proxy_kind kind,
    const char *addr, const char *host, int port, proxy_cb cb, void *arg)
{
	struct proxy_talk *t = xcalloc(1, sizeof *t);
	char *cause;

	t->fd = fd;
	t->kind = kind;
	t->host = xstrdup(host);
	t->port = port;
	t->cb = cb;
	t->arg = arg;
	xasprintf(&t->desc, "%s %s", proxy_kind_name(kind), addr);
	if (host_name_check(host, &cause) != 0) {
		xasprintf(&t->refused, "cannot be asked for it: %s", cause);
		free(cause);
	} else if (kind == PROXY_HTTP && proxy_http_request(t) != 0)
		xasprintf(&t->refused, "cannot be asked for \"%.20s...\": the "
		    "request does not fit", host);
	else if (kind == PROXY_SOCKS5)
		proxy_socks5_greeting(t);
	t->ev = event_new(base, fd, EV_WRITE, proxy_talk_cb, t);
	event_add(t->ev, NULL);		/* writable: at once */
	return t;
}

void
proxy_talk_free(struct proxy_talk *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t->host);
	free(t->desc);
	free(t->refused);
	free(t);
}

/*
 * certscan.c - the server's host certificate, fetched by a connection of
 * its own that goes no further than the key exchange reply, as
 * ssh-keyscan -c does: our identification, the server's, its KEXINIT,
 * ours (curve25519-sha256 only, the certificate types asked for), an
 * ECDH_INIT with a random public value, and the server's ECDH_REPLY,
 * whose first string is its host key: the certificate.  Nothing is
 * derived from the exchange and no packet is encrypted; the certificate
 * is public, and hostkey.c accepts it only for the key the real session
 * verified (tunneld(8), SECURITY).  Non-blocking, on the session's event
 * base, bounded by a deadline and by sizes; every byte from the peer is
 * hostile.  The parse (certscan_rx_step) takes no I/O, for the unit test
 * and the fuzz target.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "sshcert.h"

#define SCAN_LINE_MAX	255	/* RFC 4253 4.2, with CR LF */
#define SCAN_LINES_MAX	20	/* lines before the identification */
#define SCAN_PACKET_MAX	35000	/* RFC 4253 6.1 */
#define SCAN_BUF_MAX	(SCAN_LINES_MAX * SCAN_LINE_MAX + \
			 2 * (SCAN_PACKET_MAX + 4))

#define MSG_DISCONNECT	1
#define MSG_IGNORE	2
#define MSG_UNIMPL	3
#define MSG_DEBUG	4
#define MSG_KEXINIT	20
#define MSG_ECDH_INIT	30
#define MSG_ECDH_REPLY	31

#define SCAN_KEX	"curve25519-sha256,curve25519-sha256@libssh.org"

struct certscan {
	struct event_base	*base;
	int			 fd;
	struct event		*ev_read, *ev_write, *ev_timeout;
	struct certscan_rx	 rx;
	unsigned char		*tx;
	size_t			 txlen, txoff;
	int			 sent_kex;
	char			*algs;	/* the certificate types we ask for */
	const char		*error;	/* a send's, for scan_timeout_cb */
	certscan_cb		 cb;
	void			*arg;
};

/* --- the parse ---------------------------------------------------------- */

static uint32_t
scan_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A string at *p of what is left before end: 0, or -1. */
static int
scan_string(const unsigned char **p, const unsigned char *end,
    const unsigned char **s, size_t *len)
{
	uint32_t n;

	if (end - *p < 4)
		return -1;
	n = scan_u32(*p);
	if ((size_t)(end - *p - 4) < n)
		return -1;
	*s = *p + 4;
	*len = n;
	*p += 4 + n;
	return 0;
}

/* Is name in the comma-separated list (len bytes)? */
static int
scan_in_list(const unsigned char *list, size_t len, const char *name)
{
	const unsigned char *p = list, *end = list + len, *comma;
	size_t n = strlen(name);

	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if ((size_t)(comma - p) == n && memcmp(p, name, n) == 0)
			return 1;
		p = comma + 1;
	}
	return 0;
}

/* The identification: lines before "SSH-" are allowed (RFC 4253 4.2). */
static int
scan_ident(struct certscan_rx *rx, const char **why)
{
	unsigned char *nl;
	size_t n;

	for (;;) {
		n = rx->len < SCAN_LINE_MAX ? rx->len : SCAN_LINE_MAX;
		if ((nl = memchr(rx->buf, '\n', n)) == NULL) {
			if (rx->len >= SCAN_LINE_MAX) {
				*why = "the server's identification line is "
				    "longer than 255 bytes";
				return -1;
			}
			return 0;
		}
		n = (size_t)(nl - rx->buf) + 1;
		if (n >= 4 && memcmp(rx->buf, "SSH-", 4) == 0) {
			if ((n < 8 || memcmp(rx->buf, "SSH-2.0-", 8) != 0) &&
			    (n < 9 || memcmp(rx->buf, "SSH-1.99-", 9) != 0)) {
				*why = "the server does not speak SSH 2";
				return -1;
			}
			rx->used = n;
			rx->state = CSR_KEXINIT;
			return 1;
		}
		if (++rx->lines > SCAN_LINES_MAX) {
			*why = "the server sends more than 20 lines before "
			    "its identification";
			return -1;
		}
		memmove(rx->buf, rx->buf + n, rx->len - n);
		rx->len -= n;
	}
}

/* One binary packet (unencrypted, block size 8): 0 (more bytes wanted),
 * 1 with its payload, or -1. */
static int
scan_packet(struct certscan_rx *rx, const unsigned char **payload,
    size_t *plen, const char **why)
{
	const unsigned char *p = rx->buf + rx->used;
	size_t left = rx->len - rx->used;
	uint32_t len, pad;

	if (left < 5)
		return 0;
	len = scan_u32(p);
	pad = p[4];
	if (len < 5 || len > SCAN_PACKET_MAX || (len + 4) % 8 != 0 ||
	    pad < 4 || pad >= len) {
		*why = "the server sends a damaged packet";
		return -1;
	}
	if (left < (size_t)len + 4)
		return 0;
	*payload = p + 5;
	*plen = len - pad - 1;
	if (*plen == 0) {
		*why = "the server sends an empty packet";
		return -1;
	}
	rx->used += (size_t)len + 4;
	return 1;
}

/* The server's KEXINIT: the key exchange and host key algorithms it
 * offers, against ours. */
static int
scan_kexinit(struct certscan_rx *rx, const unsigned char *p, size_t plen,
    const char **why)
{
	const unsigned char *end = p + plen, *kex, *hk;
	size_t kexlen, hklen;
	char *want, *alg, *save;

	*why = "the server's KEXINIT is damaged";
	if (plen < 17 || p[0] != MSG_KEXINIT)
		return -1;
	p += 17;
	if (scan_string(&p, end, &kex, &kexlen) != 0 ||
	    scan_string(&p, end, &hk, &hklen) != 0)
		return -1;
	if (!scan_in_list(kex, kexlen, "curve25519-sha256") &&
	    !scan_in_list(kex, kexlen, "curve25519-sha256@libssh.org")) {
		*why = "the server offers no curve25519 key exchange, which "
		    "the certificate fetch uses";
		return -1;
	}
	want = xstrdup(rx->want);
	for (alg = strtok_r(want, ",", &save); alg != NULL;
	    alg = strtok_r(NULL, ",", &save)) {
		if (scan_in_list(hk, hklen, alg))
			break;
	}
	free(want);
	if (alg == NULL) {
		*why = "the server offers no host certificate (its "
		    "HostCertificate lines)";
		return -1;
	}
	rx->state = CSR_REPLY;
	return 1;
}

/* The reply: string K_S (the certificate), string Q_S, string signature. */
static int
scan_reply(struct certscan_rx *rx, const unsigned char *p, size_t plen,
    const char **why)
{
	const unsigned char *end = p + plen, *ks, *qs, *sig;
	size_t kslen, qslen, siglen;

	p++;
	if (scan_string(&p, end, &ks, &kslen) != 0 ||
	    scan_string(&p, end, &qs, &qslen) != 0 ||
	    scan_string(&p, end, &sig, &siglen) != 0 || kslen == 0 ||
	    qslen != 32) {
		*why = "the server's key exchange reply is damaged";
		return -1;
	}
	rx->cert = ks;
	rx->certlen = kslen;
	rx->state = CSR_DONE;
	return 1;
}

/* DISCONNECT: the server's reason, quoted. */
static int
scan_disconnect(struct certscan_rx *rx, const unsigned char *p, size_t plen,
    const char **why)
{
	const unsigned char *end = p + plen, *msg;
	size_t len, i;

	p += 5;
	if (plen < 5 || scan_string(&p, end, &msg, &len) != 0)
		len = 0;
	if (len > sizeof rx->reason - 1)
		len = sizeof rx->reason - 1;
	for (i = 0; i < len; i++)
		rx->reason[i] = msg[i] >= 0x20 && msg[i] < 0x7f ?
		    (char)msg[i] : '?';
	rx->reason[len] = '\0';
	*why = rx->reason;
	return -1;
}

/*
 * Parse what rx->buf holds: 1 (a step is done: see rx->state), 0 (more
 * bytes wanted) or -1 with *why.  At CSR_DONE, rx->cert points into
 * rx->buf.
 */
int
certscan_rx_step(struct certscan_rx *rx, const char **why)
{
	const unsigned char *p;
	size_t plen;
	int rc;

	*why = NULL;
	if (rx->state == CSR_IDENT)
		return scan_ident(rx, why);
	if (rx->state == CSR_DONE)
		return 1;
	for (;;) {
		if ((rc = scan_packet(rx, &p, &plen, why)) != 1)
			return rc;
		switch (p[0]) {
		case MSG_IGNORE:
		case MSG_DEBUG:
		case MSG_UNIMPL:
			continue;
		case MSG_DISCONNECT:
			return scan_disconnect(rx, p, plen, why);
		case MSG_KEXINIT:
			if (rx->state == CSR_KEXINIT)
				return scan_kexinit(rx, p, plen, why);
			break;
		case MSG_ECDH_REPLY:
			if (rx->state == CSR_REPLY)
				return scan_reply(rx, p, plen, why);
			break;
		}
		*why = "the server sends an unexpected message";
		return -1;
	}
}

/* --- the connection ----------------------------------------------------- */

/* string NAME */
static void
scan_put_string(unsigned char *buf, size_t *off, const void *s, size_t len)
{
	buf[*off] = (unsigned char)(len >> 24);
	buf[*off + 1] = (unsigned char)(len >> 16);
	buf[*off + 2] = (unsigned char)(len >> 8);
	buf[*off + 3] = (unsigned char)len;
	memcpy(buf + *off + 4, s, len);
	*off += 4 + len;
}

/* A packet of payload to the send buffer: length, padding length, payload,
 * random padding to a multiple of 8 (at least 4 bytes). */
static void
scan_queue(struct certscan *cs, const unsigned char *payload, size_t plen)
{
	size_t pad = 8 - (plen + 5) % 8, len;
	unsigned char *p;

	if (pad < 4)
		pad += 8;
	len = 1 + plen + pad;
	cs->tx = xreallocarray(cs->tx, 1, cs->txlen + 4 + len);
	p = cs->tx + cs->txlen;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	p[4] = (unsigned char)pad;
	memcpy(p + 5, payload, plen);
	if (getrandom(p + 5 + plen, pad, 0) != (ssize_t)pad)
		memset(p + 5 + plen, 0, pad);
	cs->txlen += 4 + len;
}

/* Our KEXINIT, and the ECDH_INIT with a random Curve25519 public value. */
static int
scan_queue_kex(struct certscan *cs)
{
	const char *lists[10] = { SCAN_KEX, cs->algs, "aes128-ctr",
	    "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none",
	    "", "" };
	unsigned char *buf, q[32];
	size_t off = 0, size = 17 + 5, i;

	for (i = 0; i < 10; i++)
		size += 4 + strlen(lists[i]);
	buf = xmalloc(size);
	buf[off++] = MSG_KEXINIT;
	if (getrandom(buf + off, 16, 0) != 16 || getrandom(q, 32, 0) != 32) {
		free(buf);
		return -1;
	}
	off += 16;
	for (i = 0; i < 10; i++)
		scan_put_string(buf, &off, lists[i], strlen(lists[i]));
	memset(buf + off, 0, 5);	/* first_kex_packet_follows, reserved */
	off += 5;
	scan_queue(cs, buf, off);
	off = 0;
	buf[off++] = MSG_ECDH_INIT;
	scan_put_string(buf, &off, q, sizeof q);
	scan_queue(cs, buf, off);
	free(buf);
	return 0;
}

/* The verdict; refused: the server's answer says no (certscan_cb). */
static void
scan_done(struct certscan *cs, const unsigned char *cert, size_t len,
    const char *error, int refused)
{
	certscan_cb cb = cs->cb;
	void *arg = cs->arg;

	event_del(cs->ev_read);
	event_del(cs->ev_write);
	event_del(cs->ev_timeout);
	cs->cb = NULL;
	cb(cert, len, error, refused, arg);	/* may free cs */
}

static void
scan_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct certscan *cs = arg;
	ssize_t n;

	while (cs->txoff < cs->txlen) {
		n = send(fd, cs->tx + cs->txoff, cs->txlen - cs->txoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(cs->ev_write, NULL);
			return;
		}
		if (n <= 0) {	/* said from the timer: cs may be in use */
			cs->error = strerror(n == 0 ? EPIPE : errno);
			event_active(cs->ev_timeout, EV_TIMEOUT, 0);
			return;
		}
		cs->txoff += (size_t)n;
	}
}

static void
scan_send(struct certscan *cs)
{
	scan_write_cb(cs->fd, EV_WRITE, cs);
}

/* Parse what has come: the server's KEXINIT makes us send ours. */
static void
scan_parse(struct certscan *cs)
{
	const char *why;
	int rc;

	while ((rc = certscan_rx_step(&cs->rx, &why)) == 1) {
		if (cs->rx.state == CSR_DONE) {
			scan_done(cs, cs->rx.cert, cs->rx.certlen, NULL, 0);
			return;
		}
		if (cs->rx.state == CSR_REPLY && !cs->sent_kex) {
			cs->sent_kex = 1;
			if (scan_queue_kex(cs) != 0) {
				scan_done(cs, NULL, 0, "no random bytes", 0);
				return;
			}
			scan_send(cs);
		}
	}
	if (rc == -1)	/* a DISCONNECT is the server's, not its answer */
		scan_done(cs, NULL, 0, why, why != cs->rx.reason);
}

static void
scan_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct certscan *cs = arg;
	struct certscan_rx *rx = &cs->rx;
	ssize_t n;

	if (rx->len == SCAN_BUF_MAX) {
		scan_done(cs, NULL, 0, "the server sends too much", 1);
		return;
	}
	n = recv(fd, rx->buf + rx->len, SCAN_BUF_MAX - rx->len, 0);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		scan_done(cs, NULL, 0, n == 0 ? "the server closed the "
		    "connection" : strerror(errno), 0);
		return;
	}
	rx->len += (size_t)n;
	scan_parse(cs);
}

static void
scan_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct certscan *cs = arg;

	scan_done(cs, NULL, 0, cs->error != NULL ? cs->error : "timed out",
	    0);
}

void
certscan_rx_init(struct certscan_rx *rx, const char *want)
{
	memset(rx, 0, sizeof *rx);
	rx->buf = xmalloc(SCAN_BUF_MAX);
	rx->want = want;
}

void
certscan_rx_free(struct certscan_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
}

/*
 * Fetch the host certificate of one of the types algs lists (comma-
 * separated) from the server at sa, within timeout seconds; cb is called
 * once, from the event loop, with the certificate's blob (valid during the
 * call) or an error.  NULL if no socket could be made (*error says why).
 */
struct certscan *
certscan_start(struct event_base *base, const struct sockaddr *sa,
    socklen_t salen, const char *algs, double timeout, certscan_cb cb,
    void *arg, const char **error)
{
	struct certscan *cs;
	char ident[64];
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 || (connect(fd, sa, salen) == -1 &&
	    errno != EINPROGRESS)) {
		*error = strerror(errno);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	cs = xcalloc(1, sizeof *cs);
	cs->base = base;
	cs->fd = fd;
	cs->cb = cb;
	cs->arg = arg;
	cs->algs = xstrdup(algs);
	certscan_rx_init(&cs->rx, cs->algs);
	cs->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, scan_read_cb,
	    cs);
	cs->ev_write = event_new(base, fd, EV_WRITE, scan_write_cb, cs);
	cs->ev_timeout = evtimer_new(base, scan_timeout_cb, cs);
	snprintf(ident, sizeof ident, "SSH-2.0-tunneld_%s\r\n",
	    PACKAGE_VERSION);
	cs->tx = (unsigned char *)xstrdup(ident);
	cs->txlen = strlen(ident);
	event_add(cs->ev_read, NULL);
	event_add(cs->ev_write, NULL);	/* when connected */
	timer_add_secs(cs->ev_timeout, timeout);
	return cs;
}

void
certscan_free(struct certscan *cs)
{
	if (cs == NULL)
		return;
	event_free(cs->ev_read);
	event_free(cs->ev_write);
	event_free(cs->ev_timeout);
	close(cs->fd);
	certscan_rx_free(&cs->rx);
	free(cs->tx);
	free(cs->algs);
	free(cs);
}

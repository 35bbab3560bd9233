/*
 * socks.c - the SOCKS protocol as a proxy speaks it: SOCKS4, SOCKS4a and
 * SOCKS5 (RFC 1928) without authentication, CONNECT only.  Used by dynamic
 * forwards (the client is a local socket) and reverse dynamic forwards (the
 * client is at the far end of a forwarded SSH channel).
 *
 * The parser is pure: it is fed the bytes received so far and says what
 * they amount to, writing what must be answered into s->out.  Where the
 * bytes come from and go to is channel.c's business; what to connect to,
 * forward_dynamic.c's and forward_remote.c's.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "ssh.h"

#define SOCKS4_GRANTED	0x5a
#define SOCKS4_REJECTED	0x5b

static int
socks_fail(struct socks *s, int code, const char **why, const char *msg)
{
	*why = msg;
	if (code >= 0)
		socks_reply(s, code);
	return SOCKS_ERROR;
}

/* A NUL-terminated field of at most max bytes from b[off]; its length. */
static ssize_t
socks_cstring(const unsigned char *b, size_t len, size_t off, size_t max)
{
	size_t i;

	for (i = off; i < len && i - off <= max; i++) {
		if (b[i] == '\0')
			return (ssize_t)(i - off);
	}
	return i - off > max ? -2 : -1;	/* too long, or incomplete */
}

static int
socks_name_ok(const char *n)
{
	if (*n == '\0')
		return 0;
	for (; *n != '\0'; n++) {
		if (*n <= ' ' || *n >= 0x7f)
			return 0;
	}
	return 1;
}

static int
socks4_input(struct socks *s, const unsigned char *b, size_t len,
    size_t *used, const char **why)
{
	ssize_t ulen, hlen;
	size_t off;

	s->version = 4;
	if (len < 8)
		return SOCKS_MORE;
	if ((ulen = socks_cstring(b, len, 8, 255)) == -2)
		return socks_fail(s, SOCKS4_REJECTED, why, "SOCKS4 user id "
		    "too long");
	if (ulen < 0)
		return SOCKS_MORE;
	off = 8 + (size_t)ulen + 1;
	s->req.port = b[2] << 8 | b[3];
	if (b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0) {	/* 4a */
		if ((hlen = socks_cstring(b, len, off, 255)) == -2)
			return socks_fail(s, SOCKS4_REJECTED, why,
			    "SOCKS4a host name too long");
		if (hlen < 0)
			return SOCKS_MORE;
		memcpy(s->req.host, b + off, (size_t)hlen);
		s->req.host[hlen] = '\0';
		off += (size_t)hlen + 1;
		s->version = 4;
		if (!socks_name_ok(s->req.host))
			return socks_fail(s, SOCKS4_REJECTED, why,
			    "SOCKS4a host name is not printable");
	} else
		inet_ntop(AF_INET, b + 4, s->req.host, sizeof s->req.host);
	*used = off;
	if (b[1] != 1)
		return socks_fail(s, SOCKS4_REJECTED, why, b[1] == 2 ?
		    "SOCKS4 BIND is not supported" : "unknown SOCKS4 command");
	return SOCKS_REQUEST;
}

static int
socks5_greeting(struct socks *s, const unsigned char *b, size_t len,
    size_t *used, const char **why)
{
	size_t i, n;

	if (len < 2)
		return SOCKS_MORE;
	n = b[1];
	if (len < 2 + n)
		return SOCKS_MORE;
	*used = 2 + n;
	s->out[0] = 5;
	s->outlen = 2;
	for (i = 0; i < n; i++) {
		if (b[2 + i] == 0) {	/* no authentication required */
			s->out[1] = 0;
			s->stage = 1;
			return SOCKS_REPLY;
		}
	}
	s->out[1] = 0xff;
	*why = "the SOCKS5 client offers no method without authentication";
	return SOCKS_ERROR;
}

static int
socks5_request(struct socks *s, const unsigned char *b, size_t len,
    size_t *used, const char **why)
{
	size_t alen, off;

	if (len < 5)
		return SOCKS_MORE;
	if (b[0] != 5)
		return socks_fail(s, SOCKS5_GENERAL, why, "not a SOCKS5 request");
	switch (b[3]) {
	case 1:
		alen = 4;
		off = 4;
		break;
	case 3:
		alen = b[4];
		off = 5;
		break;
	case 4:
		alen = 16;
		off = 4;
		break;
	default:
		return socks_fail(s, SOCKS5_BAD_ATYP, why,
		    "unknown SOCKS5 address type");
	}
	if (len < off + alen + 2)
		return SOCKS_MORE;
	if (b[3] == 1)
		inet_ntop(AF_INET, b + off, s->req.host, sizeof s->req.host);
	else if (b[3] == 4)
		inet_ntop(AF_INET6, b + off, s->req.host, sizeof s->req.host);
	else {
		memcpy(s->req.host, b + off, alen);
		s->req.host[alen] = '\0';
		if (strlen(s->req.host) != alen || !socks_name_ok(s->req.host))
			return socks_fail(s, SOCKS5_GENERAL, why,
			    "SOCKS5 host name is not printable");
	}
	s->req.port = b[off + alen] << 8 | b[off + alen + 1];
	*used = off + alen + 2;
	switch (b[1]) {
	case 1:
		return SOCKS_REQUEST;
	case 2:
		return socks_fail(s, SOCKS5_BAD_COMMAND, why,
		    "SOCKS5 BIND is not supported");
	case 3:
		return socks_fail(s, SOCKS5_BAD_COMMAND, why,
		    "SOCKS5 UDP ASSOCIATE is not supported");
	default:
		return socks_fail(s, SOCKS5_BAD_COMMAND, why,
		    "unknown SOCKS5 command");
	}
}

/*
 * Feed the bytes received so far (b, len).  Returns SOCKS_MORE (nothing
 * taken yet), SOCKS_REPLY (a SOCKS5 greeting was taken: send s->out, then
 * feed what follows), SOCKS_REQUEST (s->req holds a CONNECT request) or
 * SOCKS_ERROR (*why says what was wrong; send s->out, if any, and close).
 * *used is how many bytes were taken.
 */
int
socks_input(struct socks *s, const unsigned char *b, size_t len, size_t *used,
    const char **why)
{
	*used = 0;
	*why = NULL;
	s->outlen = 0;
	if (len == 0)
		return SOCKS_MORE;
	if (s->stage == 1)
		return socks5_request(s, b, len, used, why);
	switch (b[0]) {
	case 4:
		return socks4_input(s, b, len, used, why);
	case 5:
		s->version = 5;
		return socks5_greeting(s, b, len, used, why);
	default:
		*why = "not a SOCKS4 or SOCKS5 request";
		return SOCKS_ERROR;
	}
}

/* The answer to a request: SOCKS5_OK or a SOCKS5 error code, into s->out. */
void
socks_reply(struct socks *s, int code)
{
	if (s->version == 4) {
		memset(s->out, 0, 8);
		s->out[1] = code == SOCKS5_OK ? SOCKS4_GRANTED : SOCKS4_REJECTED;
		s->outlen = 8;
		return;
	}
	/* VER REP RSV ATYP=IPv4 0.0.0.0:0, as OpenSSH answers */
	memset(s->out, 0, 10);
	s->out[0] = 5;
	s->out[1] = (unsigned char)code;
	s->out[3] = 1;
	s->outlen = 10;
}

/* The SOCKS5 code for a channel open the server refused (libssh2's text). */
int
socks_code_for_open_error(const char *error)
{
	if (error == NULL)
		return SOCKS5_GENERAL;
	if (strstr(error, "administratively prohibited") != NULL)
		return SOCKS5_NOT_ALLOWED;
	if (strstr(error, "connect failed") != NULL)
		return SOCKS5_REFUSED;
	return SOCKS5_GENERAL;
}

/* The SOCKS5 code for a local connect() error (errno), or a DNS failure. */
int
socks_code_for_errno(int e)
{
	switch (e) {
	case 0:
		return SOCKS5_OK;
	case ECONNREFUSED:
		return SOCKS5_REFUSED;
	case ENETUNREACH:
		return SOCKS5_NET_UNREACH;
	case EHOSTUNREACH:
	case ETIMEDOUT:
	case ENOENT:		/* a UNIX socket that is not there */
	case -1:		/* the name did not resolve */
		return SOCKS5_HOST_UNREACH;
	default:
		return SOCKS5_GENERAL;
	}
}

const char *
socks_code_name(int code)
{
	switch (code) {
	case SOCKS5_OK:
		return "succeeded";
	case SOCKS5_NOT_ALLOWED:
		return "connection not allowed by ruleset";
	case SOCKS5_NET_UNREACH:
		return "network unreachable";
	case SOCKS5_HOST_UNREACH:
		return "host unreachable";
	case SOCKS5_REFUSED:
		return "connection refused";
	case SOCKS5_BAD_COMMAND:
		return "command not supported";
	case SOCKS5_BAD_ATYP:
		return "address type not supported";
	default:
		return "general failure";
	}
}

/*
 * agent.c - talking to an ssh-agent (OpenSSH's, gpg-agent's, a token's) on
 * its UNIX socket, without ever waiting for it: the socket is non-blocking,
 * agent_io() moves what it can and says whether the answer is complete, and
 * the caller waits for agent_events() on the descriptor - in the event loop
 * (ssh/auth.c), or in a poll() bounded in time (agent_wait(), for the check).
 * A hung agent then costs the connect_timeout of one attempt, never a
 * worker.
 *
 * Two requests are used: REQUEST_IDENTITIES (the keys it holds) and
 * SIGN_REQUEST.  Nothing secret passes here: the agent keeps the keys.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "ssh.h"
#include "agent.h"

#define AGENT_FAILURE		5
#define AGENTC_REQUEST_IDENTITIES 11
#define AGENT_IDENTITIES_ANSWER	12
#define AGENTC_SIGN_REQUEST	13
#define AGENT_SIGN_RESPONSE	14
#define AGENT_MAX		(256 * 1024)	/* an answer's size, at most */
#define AGENT_MAX_KEYS		1024

static uint32_t
agent_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
agent_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* An SSH string at *p (before end): its bytes and length, or NULL. */
static const unsigned char *
agent_string(const unsigned char **p, const unsigned char *end, size_t *len)
{
	const unsigned char *s;
	uint32_t n;

	if (end - *p < 4)
		return NULL;
	n = agent_get32(*p);
	if ((size_t)(end - *p - 4) < n)
		return NULL;
	s = *p + 4;
	*p = s + n;
	*len = n;
	return s;
}

struct agent *
agent_open(const char *path, char **cause)
{
	struct sockaddr_un sun;
	struct agent *a;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "identity_agent %s: the path is too long for "
		    "a socket", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		xasprintf(cause, "identity_agent %s: socket: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* a UNIX socket connects at once, or not (EAGAIN: backlog full) */
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		xasprintf(cause, "cannot reach the ssh-agent at %s: %s%s", path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (no agent is running there)" : "");
		close(fd);
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->path = xstrdup(path);
	a->fd = fd;
	return a;
}

static void
agent_keys_free(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nkeys; i++) {
		free(a->keys[i].blob);
		free(a->keys[i].type);
		free(a->keys[i].comment);
	}
	free(a->keys);
	a->keys = NULL;
	a->nkeys = 0;
}

void
agent_close(struct agent *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	agent_keys_free(a);
	free(a->out);
	free(a->in);
	free(a->path);
	free(a);
}

/* Send a request (type, then body): agent_io() until it says 0. */
static void
agent_request(struct agent *a, unsigned char type, const unsigned char *body,
    size_t len)
{
	free(a->out);
	free(a->in);
	a->in = NULL;
	a->inlen = a->inoff = 0;
	a->outlen = 4 + 1 + len;
	a->out = xmalloc(a->outlen);
	agent_put32(a->out, (uint32_t)(1 + len));
	a->out[4] = type;
	if (len > 0)
		memcpy(a->out + 5, body, len);
	a->outoff = 0;
	a->busy = 1;
}

/* What the descriptor must become ready for: POLLOUT while writing. */
short
agent_events(struct agent *a)
{
	return a->outoff < a->outlen ? POLLOUT : POLLIN;
}

/*
 * Move what can be moved: 0 when the whole answer is in (a->in, a->inlen
 * bytes), 1 to be called again when agent_events() is ready, -1 with
 * *cause if the agent went away or spoke nonsense.
 */
int
agent_io(struct agent *a, char **cause)
{
	ssize_t n;

	while (a->outoff < a->outlen) {
		n = send(a->fd, a->out + a->outoff, a->outlen - a->outoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n == -1)
			goto fail;
		a->outoff += (size_t)n;
	}
	for (;;) {
		if (a->in == NULL) {	/* the length first */
			n = recv(a->fd, a->hdr + a->inoff, 4 - a->inoff, 0);
		} else
			n = recv(a->fd, a->in + a->inoff, a->inlen - a->inoff,
			    0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n == -1)
			goto fail;
		if (n == 0) {
			xasprintf(cause, "the ssh-agent at %s closed the "
			    "connection without answering", a->path);
			return -1;
		}
		a->inoff += (size_t)n;
		if (a->in == NULL && a->inoff == 4) {
			a->inlen = agent_get32(a->hdr);
			if (a->inlen == 0 || a->inlen > AGENT_MAX) {
				xasprintf(cause, "the ssh-agent at %s sent an "
				    "answer of %zu bytes: not an agent?",
				    a->path, a->inlen);
				return -1;
			}
			a->in = xmalloc(a->inlen);
			a->inoff = 0;
		} else if (a->in != NULL && a->inoff == a->inlen) {
			a->busy = 0;
			return 0;
		}
	}
fail:
	xasprintf(cause, "the ssh-agent at %s: %s", a->path, strerror(errno));
	return -1;
}

/* agent_io() until done, waiting at most timeout seconds in all. */
int
agent_wait(struct agent *a, double timeout, char **cause)
{
	struct pollfd pfd;
	double end = mono_now() + timeout, left;
	int rc;

	while ((rc = agent_io(a, cause)) == 1) {
		if ((left = end - mono_now()) <= 0) {
			xasprintf(cause, "the ssh-agent at %s did not answer "
			    "within %gs", a->path, timeout);
			return -1;
		}
		pfd.fd = a->fd;
		pfd.events = agent_events(a);
		if (poll(&pfd, 1, (int)(left * 1000) + 1) == -1 &&
		    errno != EINTR) {
			xasprintf(cause, "poll: %s", strerror(errno));
			return -1;
		}
	}
	return rc;
}

void
agent_list_request(struct agent *a)
{
	agent_request(a, AGENTC_REQUEST_IDENTITIES, NULL, 0);
}

/* The answer to agent_list_request(): a->keys, a->nkeys. */
int
agent_list_parse(struct agent *a, char **cause)
{
	const unsigned char *p = a->in + 1, *end = a->in + a->inlen, *s, *b;
	struct agent_key *k;
	size_t len, clen, tlen;
	uint32_t n, i;

	agent_keys_free(a);
	if (a->in[0] != AGENT_IDENTITIES_ANSWER || end - p < 4)
		goto bad;
	n = agent_get32(p);
	p += 4;
	if (n > AGENT_MAX_KEYS)
		goto bad;
	a->keys = xcalloc(n + 1, sizeof *a->keys);
	for (i = 0; i < n; i++) {
		if ((b = agent_string(&p, end, &len)) == NULL ||
		    (s = agent_string(&p, end, &clen)) == NULL)
			goto bad;
		k = &a->keys[a->nkeys++];
		k->blob = xmalloc(len + 1);
		memcpy(k->blob, b, len);
		k->len = len;
		k->comment = xmalloc(clen + 1);
		memcpy(k->comment, s, clen);
		k->comment[clen] = '\0';
		if ((s = agent_string(&b, b + len, &tlen)) == NULL)
			goto bad;
		k->type = xmalloc(tlen + 1);
		memcpy(k->type, s, tlen);
		k->type[tlen] = '\0';
	}
	return 0;
bad:
	agent_keys_free(a);
	xasprintf(cause, "the ssh-agent at %s sent a list of keys that is not "
	    "one", a->path);
	return -1;
}

void
agent_sign_request(struct agent *a, const struct agent_key *k,
    const unsigned char *data, size_t len, unsigned flags)
{
	unsigned char *body, *p;
	size_t blen = 4 + k->len + 4 + len + 4;

	p = body = xmalloc(blen);
	agent_put32(p, (uint32_t)k->len);
	memcpy(p + 4, k->blob, k->len);
	p += 4 + k->len;
	agent_put32(p, (uint32_t)len);
	memcpy(p + 4, data, len);
	p += 4 + len;
	agent_put32(p, flags);
	agent_request(a, AGENTC_SIGN_REQUEST, body, blen);
	free(body);
}

/* The answer to agent_sign_request(): the signature's bytes (without
 * its algorithm name), malloc()ed; or -1 (refused, or nonsense). */
int
agent_sign_parse(struct agent *a, unsigned char **sig, size_t *siglen,
    char **cause)
{
	const unsigned char *p = a->in + 1, *end = a->in + a->inlen, *blob, *s;
	size_t len, slen;

	if (a->in[0] == AGENT_FAILURE) {
		xasprintf(cause, "the ssh-agent at %s refused to sign (a key "
		    "that needs confirmation, a locked agent or token?)",
		    a->path);
		return -1;
	}
	if (a->in[0] != AGENT_SIGN_RESPONSE ||
	    (blob = agent_string(&p, end, &len)) == NULL ||
	    agent_string(&blob, blob + len, &slen) == NULL ||	/* its name */
	    (s = agent_string(&blob, p, &slen)) == NULL) {
		xasprintf(cause, "the ssh-agent at %s sent a signature that is "
		    "not one", a->path);
		return -1;
	}
	*sig = xmalloc(slen ? slen : 1);
	memcpy(*sig, s, slen);
	*siglen = slen;
	return 0;
}

/*
 * auth.c - user authentication, as ssh(1) goes about it: the methods the
 * server offers first ("none", libssh2_userauth_list()), then every key of
 * the ssh-agent (identity_agent), then the key file (identity_file, with
 * its passphrase_file), then the password (password_file) by "password" or
 * "keyboard-interactive".  The first the server accepts wins; when none is
 * accepted, the message says what was tried and why each failed.
 *
 * Nothing here blocks: libssh2 is non-blocking, and the agent is talked to
 * on a non-blocking socket (agent.c) whose descriptor the event loop
 * watches while a list or a signature is awaited - libssh2 calls the sign
 * callback again after it said EAGAIN.  connect_timeout (session.c's
 * timer) bounds it all, a hung agent included.
 *
 * Secrets: the key file and its passphrase (identity.c) and the password
 * (here) live in secret_alloc()ed memory, left out of core dumps, wiped when
 * authentication is over.  What libssh2 makes of them is not ours to wipe:
 * the decrypted key in OpenSSL's objects and the buffers libssh2 parses it
 * in, the password in the packet it builds, the keyboard-interactive answer
 * it frees (session_lib.c's allocator frees them as they are).
 */
#include "config.h"

#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "agent.h"

#define AUTH_METHODS_MAX	512	/* bytes of the server's list kept */

enum auth_state { AUTH_LIST, AUTH_AGENT, AUTH_AGENT_KEY, AUTH_FILE,
	AUTH_PASSWORD, AUTH_KBDINT, AUTH_NONE_LEFT };

struct auth {
	struct auth		*self;		/* libssh2's abstract: &self */
	struct session		*s;
	enum auth_state		 state;
	char			*methods;	/* what the server offers */
	struct agent		*agent;
	char			*agent_path;
	size_t			 key;		/* the agent key being tried */
	int			 listing;	/* the list of keys asked for */
	int			 signing;	/* a sign request in flight */
	int			 file_sent;	/* the key file's first call made */
	int			 cert_refused;	/* ... with certificate_file */
	int			 agent_wait;	/* ... waiting for the agent */
	int			 sign_failed;	/* ... which did not sign */
	struct event		*ev_agent;
	char			*agent_error;	/* why the agent did not help */
	char			*password;	/* password_file's (secret) */
	size_t			 pwlen;
	char			*tried;		/* what the server refused */
	char			*skipped;	/* what could not be tried */
};

static void
auth_note(char **list, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append to a ", "-separated list. */
static void
auth_note(char **list, const char *fmt, ...)
{
	va_list ap;
	char *item, *old = *list;

	va_start(ap, fmt);
	if (vasprintf(&item, fmt, ap) == -1)
		item = NULL;
	va_end(ap);
	if (item == NULL)
		return;
	if (old == NULL)
		*list = item;
	else {
		xasprintf(list, "%s, %s", old, item);
		free(old);
		free(item);
	}
}

static void
auth_agent_error(struct auth *a, char *cause)
{
	if (a->agent_error == NULL)
		a->agent_error = cause;
	else
		free(cause);
}

/*
 * The server's list of the methods that can continue, as it is logged and
 * named in errors: its bytes, which a hostile server chooses, with every
 * one that is not printable ASCII (a newline forging a log line, an escape
 * sequence) written '?', and cut at AUTH_METHODS_MAX with "...".  The
 * names of real methods are printable and match as sent.
 */
static char *
auth_methods_copy(const char *list)
{
	size_t n = strnlen(list, AUTH_METHODS_MAX + 1), i;
	char *s = xmalloc(n + 4);

	for (i = 0; i < n && i < AUTH_METHODS_MAX; i++)
		s[i] = (unsigned char)list[i] > ' ' &&
		    (unsigned char)list[i] < 0x7f ? list[i] : '?';
	bstrcpy(s + i, n > AUTH_METHODS_MAX ? "..." : "", 4);
	return s;
}

/* Does the server offer this method? */
static int
auth_offered(struct auth *a, const char *method)
{
	size_t n = strlen(method);
	const char *p;

	for (p = a->methods; p != NULL && *p != '\0'; p += strcspn(p, ",")) {
		if (*p == ',')
			p++;
		if (strncmp(p, method, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

/*
 * Before the network: the password, and the agent (its socket named, and
 * connected to: a UNIX socket connects at once, or not).  When the agent is
 * the only way and cannot be reached, the server is not bothered: -2 with
 * *cause, retried on the schedule (an agent may come later, at login).
 * Otherwise what went wrong with the agent is said if all else fails too.
 * 0, or -1 with *cause (retrying cannot help).
 */
int
auth_start(struct session *s, char **cause)
{
	struct auth *a = xcalloc(1, sizeof *a);
	char *why = NULL;

	a->self = a;
	a->s = s;
	s->auth = a;
	if (s->conf->password_file != NULL && file_read_password(
	    s->conf->password_file, "password_file", &a->password, &a->pwlen,
	    cause) != 0)
		return -1;
	if (s->conf->identity_agent == NULL)
		return 0;
	if (identity_agent_path(s->conf, &a->agent_path, &why) == 0 &&
	    (a->agent = agent_open(a->agent_path, &why)) != NULL)
		return 0;
	if (s->id.path == NULL && a->password == NULL) {
		*cause = why;
		return -2;
	}
	auth_agent_error(a, why);
	return 0;
}

void
auth_free(struct session *s)
{
	struct auth *a = s->auth;

	if (a == NULL)
		return;
	if (a->ev_agent != NULL)
		event_free(a->ev_agent);
	agent_close(a->agent);
	secret_free(a->password);
	free(a->agent_path);
	free(a->agent_error);
	free(a->methods);
	free(a->tried);
	free(a->skipped);
	free(a);
	s->auth = NULL;
}

static void
auth_agent_cb(evutil_socket_t fd, short what, void *arg)
{
	session_step(arg);
}

/* Wait for the agent, not for the server: 2, for session_step(). */
static int
auth_agent_arm(struct auth *a)
{
	struct session *s = a->s;
	short ev = agent_events(a->agent) == POLLOUT ? EV_WRITE : EV_READ;

	if (a->ev_agent != NULL)
		event_free(a->ev_agent);
	a->ev_agent = event_new(s->base, a->agent->fd, ev, auth_agent_cb, s);
	event_add(a->ev_agent, NULL);
	event_del(s->ev_read);
	event_del(s->ev_write);
	return 2;
}

/* The algorithm libssh2 signs for, from the data (RFC 4252 section 7):
 * session id, 50, user, service, "publickey", TRUE, algorithm, key. */
static unsigned
auth_sign_flags(const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;
	uint32_t n;
	int i;

	for (i = 0; i < 6; i++) {
		if (i == 1 || i == 5) {		/* the byte and the boolean */
			if (end - p < 1)
				return 0;
			p++;
			continue;
		}
		if (end - p < 4)
			return 0;
		n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		if ((size_t)(end - p - 4) < n)
			return 0;
		p += 4 + n;
	}
	if (end - p < 4 + 12)
		return 0;
	if (memcmp(p + 4, "rsa-sha2-512", 12) == 0)
		return AGENT_RSA_SHA2_512;
	if (memcmp(p + 4, "rsa-sha2-256", 12) == 0)
		return AGENT_RSA_SHA2_256;
	return 0;
}

/*
 * libssh2's sign callback, for an agent key: send the request, and say
 * EAGAIN until the agent has answered (libssh2 calls again with the same
 * data).  The signature is malloc()ed: libssh2 frees it with
 * session_lib.c's allocator, which free()s what it does not hold.
 */
static int
auth_sign_cb(LIBSSH2_SESSION *ssh, unsigned char **sig, size_t *siglen,
    const unsigned char *data, size_t len, void **abstract)
{
	struct auth *a = *abstract;
	char *cause = NULL;
	int rc;

	if (!a->signing) {
		agent_sign_request(a->agent, &a->agent->keys[a->key], data, len,
		    auth_sign_flags(data, len));
		a->signing = 1;
	}
	if ((rc = agent_io(a->agent, &cause)) == 1) {
		a->agent_wait = 1;
		return LIBSSH2_ERROR_EAGAIN;
	}
	a->signing = 0;
	if (rc == 0 && agent_sign_parse(a->agent, sig, siglen, &cause) == 0)
		return 0;
	auth_agent_error(a, cause);
	a->sign_failed = 1;
	return -1;
}

/* The agent's list of keys; 1 to wait for it, 2 when armed. */
static int
auth_agent_list(struct auth *a)
{
	char *cause = NULL;
	int rc;

	if (!a->listing) {
		a->listing = 1;
		agent_list_request(a->agent);
	}
	if ((rc = agent_io(a->agent, &cause)) == 1)
		return auth_agent_arm(a);
	if (rc == -1 || agent_list_parse(a->agent, &cause) != 0)
		goto fail;
	session_log(a->s, LOG_LVL_DEBUG, "the ssh-agent at %s holds %zu key(s)",
	    a->agent_path, a->agent->nkeys);
	if (a->agent->nkeys == 0)
		xasprintf(&cause, "the ssh-agent at %s holds no keys",
		    a->agent_path);
	else {
		a->key = 0;
		a->state = AUTH_AGENT_KEY;
		return 0;
	}
fail:
	auth_agent_error(a, cause);
	agent_close(a->agent);
	a->agent = NULL;
	a->state = AUTH_FILE;
	return 0;
}

/*
 * libssh2's publickey and keyboard-interactive calls return
 * PUBLICKEY_UNVERIFIED or AUTHENTICATION_FAILED also when the transport
 * failed while they waited for the server's answer (the connection closed
 * or reset mid-authentication); only the message, "Waiting for ... USERAUTH
 * response" (1.10, 1.11, master), tells it from a refusal.  Taken for a
 * refusal, a dropped connection would be retried as slowly as a refused key.
 */
static int
auth_transport_lost(struct session *s)
{
	char *msg = NULL;

	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg != NULL && strncmp(msg, "Waiting for", 11) == 0;
}

/* The server's answer to an attempt: 0 accepted, 1 (EAGAIN), or -1 failed
 * for a reason other than the server's refusal (the session has failed);
 * 3: refused, on to the next. */
static int
auth_result(struct auth *a, int rc)
{
	struct session *s = a->s;

	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 1;
	if ((rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED) &&
	    !auth_transport_lost(s))
		return 3;
	session_fail(s, SE_NETWORK, "authentication with %s: %s", s->addr,
	    session_ssh_error(s));
	return -1;
}

static int
auth_agent_key(struct auth *a)
{
	const struct session_params *p = a->s->conf;
	struct agent_key *k;
	int rc;

	if (a->key >= a->agent->nkeys) {
		a->state = AUTH_FILE;
		return 0;
	}
	k = &a->agent->keys[a->key];
#ifndef HAVE_LIBSSH2_RSA_SHA2
	if (strcmp(k->type, "ssh-rsa") == 0) {
		auth_note(&a->skipped, "agent key %s (ssh-rsa) was not "
		    "tried: libssh2 1.10 signs with SHA-1 only", k->comment);
		a->key++;
		return 0;
	}
#endif
	a->agent_wait = a->sign_failed = 0;
	rc = libssh2_userauth_publickey(a->s->ssh, p->user, k->blob, k->len,
	    auth_sign_cb, (void **)&a->self);
	if (rc == LIBSSH2_ERROR_EAGAIN && a->agent_wait)
		return auth_agent_arm(a);
	if ((rc = auth_result(a, rc)) == 3) {
		auth_note(&a->tried, "agent key %s (%s%s)", k->comment, k->type,
		    a->sign_failed ? ", not signed" : "");
		a->key++;
		return 0;
	}
	return rc;
}

/*
 * What libssh2 says when it cannot decrypt a key, before anything is sent:
 * FILE (PEM), PROTO ("Private key unpack failed (correct password?)", the
 * OpenSSH format), KEYFILE_AUTH_FAILED (1.11).
 */
static int
auth_key_error(int rc)
{
#ifdef LIBSSH2_ERROR_KEYFILE_AUTH_FAILED
	if (rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
		return 1;
#endif
	return rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_PROTO;
}

static int
auth_file(struct auth *a)
{
	struct session *s = a->s;
	struct identity *id = &s->id;
	const char *cert = a->cert_refused ? NULL : id->cert;
	int rc;

	if (id->path == NULL || !auth_offered(a, "publickey")) {
		a->state = AUTH_PASSWORD;
		return 0;
	}
	/* with certificate_file, the certificate is the public key sent
	 * first, then the plain key, as ssh does */
	rc = libssh2_userauth_publickey_frommemory(s->ssh, s->conf->user,
	    strlen(s->conf->user), cert, cert != NULL ? id->certlen : 0,
	    id->data, id->len, id->passphrase);
	if (!a->file_sent++ && id->encrypted && auth_key_error(rc)) {
		session_fail(s, SE_FATAL, "identity_file %s: the passphrase "
		    "in passphrase_file %s does not decrypt it (wrong "
		    "passphrase?)", id->path, s->conf->passphrase_file);
		identity_clear(id);
		return -1;
	}
	if ((rc = auth_result(a, rc)) == 3 && cert != NULL) {
		auth_note(&a->tried, "the key %s with certificate_file "
		    "%s%s%s%s", id->path, s->conf->certificate_file,
		    id->certnote != NULL ? " (" : "",
		    id->certnote != NULL ? id->certnote : "",
		    id->certnote != NULL ? ")" : "");
		a->cert_refused = 1;
		return 0;
	}
	if (rc == 3) {
		auth_note(&a->tried, "the key %s", id->path);
		a->state = AUTH_PASSWORD;
	}
	if (rc != 1)
		identity_clear(id);	/* the secret is no longer needed */
	return rc == 3 ? 0 : rc;
}

static int
auth_password(struct auth *a)
{
	struct session *s = a->s;
	int rc;

	if (a->password == NULL || !auth_offered(a, "password")) {
		a->state = AUTH_KBDINT;
		return 0;
	}
	rc = libssh2_userauth_password_ex(s->ssh, s->conf->user,
	    (unsigned)strlen(s->conf->user), a->password, (unsigned)a->pwlen,
	    NULL);
	if (rc == LIBSSH2_ERROR_PASSWORD_EXPIRED) {
		session_fail(s, SE_FATAL, "%s says the password of user \"%s\" "
		    "has expired: change it (ssh %s@%s) and password_file %s",
		    s->addr, s->conf->user, s->conf->user, s->conf->host,
		    s->conf->password_file);
		return -1;
	}
	if ((rc = auth_result(a, rc)) == 3) {
		auth_note(&a->tried, "the password");
		a->state = AUTH_KBDINT;
		return 0;
	}
	return rc;
}

/* Every prompt is answered with the password: an account that accepts
 * nothing else asks for nothing else (a second factor cannot be met). */
static void
auth_kbdint_cb(const char *name, int name_len, const char *instruction,
    int instruction_len, int nprompts,
    const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
    LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	struct session *s = session_of(abstract);
	struct auth *a = s->auth;
	int i;

	for (i = 0; i < nprompts; i++) {
		responses[i].text = malloc(a->pwlen + 1);
		if (responses[i].text == NULL) {
			responses[i].length = 0;
			continue;
		}
		memcpy(responses[i].text, a->password, a->pwlen + 1);
		responses[i].length = (unsigned)a->pwlen;
	}
}

static int
auth_kbdint(struct auth *a)
{
	struct session *s = a->s;
	int rc;

	if (a->password == NULL || !auth_offered(a, "keyboard-interactive")) {
		a->state = AUTH_NONE_LEFT;
		return 0;
	}
	rc = libssh2_userauth_keyboard_interactive_ex(s->ssh, s->conf->user,
	    (unsigned)strlen(s->conf->user), auth_kbdint_cb);
	if ((rc = auth_result(a, rc)) == 3) {
		auth_note(&a->tried, "the password (keyboard-interactive)");
		a->state = AUTH_NONE_LEFT;
		return 0;
	}
	return rc;
}

/*
 * Nothing was accepted: say what was tried, and what did not work here.  A
 * refusal is retried slowly (SE_AUTH); when nothing was offered at all (an
 * agent with no keys yet, no key file) the server refused nothing, and the
 * ordinary schedule applies.
 */
static int
auth_none_left(struct auth *a)
{
	struct session *s = a->s;
	char *notes = NULL;

	if (a->skipped != NULL)
		auth_note(&notes, "%s", a->skipped);
	if (a->agent_error != NULL)
		auth_note(&notes, "%s", a->agent_error);
	if (a->tried != NULL)
		session_fail(s, SE_AUTH, "authentication failed: %s refused %s "
		    "for user \"%s\"%s%s", s->addr, a->tried, s->conf->user,
		    notes != NULL ? "; " : "", notes != NULL ? notes : "");
	else	/* nothing was refused: the server holds nothing against us,
		 * and an agent may get its keys later (the schedule) */
		session_fail(s, SE_NETWORK, "authentication failed: %s offers %s "
		    "for user \"%s\", and tunneld has nothing to try for them%s"
		    "%s", s->addr, a->methods, s->conf->user,
		    notes != NULL ? ": " : "", notes != NULL ? notes : "");
	free(notes);
	return -1;
}

static int
auth_list(struct auth *a)
{
	struct session *s = a->s;
	const char *list;

	list = libssh2_userauth_list(s->ssh, s->conf->user,
	    (unsigned)strlen(s->conf->user));
	if (list == NULL) {
		if (libssh2_userauth_authenticated(s->ssh))
			return 0;	/* "none" was enough */
		if (libssh2_session_last_errno(s->ssh) == LIBSSH2_ERROR_EAGAIN)
			return 1;
		session_fail(s, SE_NETWORK, "authentication with %s: %s",
		    s->addr, session_ssh_error(s));
		return -1;
	}
	a->methods = auth_methods_copy(list);
	session_log(s, LOG_LVL_DEBUG, "%s offers %s", s->addr, a->methods);
	a->state = a->agent != NULL && auth_offered(a, "publickey") ?
	    AUTH_AGENT : AUTH_FILE;
	return 3;	/* on to the first method */
}

/* What authentication waits for, if it is the agent: for the timeout's
 * message.  NULL otherwise. */
const char *
auth_waiting(struct session *s)
{
	struct auth *a = s->auth;

	if (a == NULL || a->agent == NULL || !a->agent->busy)
		return NULL;
	return a->agent_path;
}

/*
 * One step further: 0 authenticated, 1 waiting for the server (the caller
 * arms the session), 2 waiting for the agent (armed here), -1 failed
 * (session_fail() was called).
 */
int
auth_step(struct session *s)
{
	struct auth *a = s->auth;
	int rc;

	for (;;) {
		switch (a->state) {
		case AUTH_LIST:
			if ((rc = auth_list(a)) != 3)
				return rc;
			continue;
		case AUTH_AGENT:
			rc = auth_agent_list(a);
			break;
		case AUTH_AGENT_KEY:
			rc = auth_agent_key(a);
			break;
		case AUTH_FILE:
			rc = auth_file(a);
			break;
		case AUTH_PASSWORD:
			rc = auth_password(a);
			break;
		case AUTH_KBDINT:
			rc = auth_kbdint(a);
			break;
		case AUTH_NONE_LEFT:
		default:
			return auth_none_left(a);
		}
		if (rc != 0 || libssh2_userauth_authenticated(s->ssh))
			return rc;
	}
}

/*
 * identity.c - the private key a tunnel authenticates with.
 *
 * The file is read here, not by libssh2, so that tunneld can refuse what
 * ssh refuses (a key or passphrase file readable by group or others) and
 * explain what the linked libssh2 cannot do (rsa-sha2 signatures on 1.10)
 * before talking to the server.  The key and its passphrase live in memory
 * left out of core dumps and are wiped when the attempt is over (file.c's
 * secret_alloc()).  The ssh-agent's socket is named here too
 * (identity_agent), and probed for the check.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "ssh.h"
#include "agent.h"
#include "session.h"
#include "sshcert.h"

#define IDENTITY_MAX	(64 * 1024)
#define CERT_MAX	(64 * 1024)

static const char *default_identities[] = { "id_ed25519", "id_ecdsa" };

/* An SSH "string" (uint32 length, bytes) at *p; NULL if it overruns. */
static const unsigned char *
identity_sshbuf_string(const unsigned char **p, const unsigned char *end,
    uint32_t *len)
{
	const unsigned char *s;

	if (end - *p < 4)
		return NULL;
	*len = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	if ((size_t)(end - *p - 4) < *len)
		return NULL;
	s = *p + 4;
	*p = s + *len;
	return s;
}

/*
 * The key type and whether it is encrypted, from the file's text: the public
 * half of an OpenSSH-format key is stored in the clear.
 */
static int
identity_inspect(struct identity *id, int *encrypted, char **cause)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	static const char endm[] = "-----END OPENSSH PRIVATE KEY-----";
	static const char magic[] = "openssh-key-v1";
	const unsigned char *p, *end, *s, *pub;
	unsigned char *raw = NULL;
	const char *b, *e;
	uint32_t len, publen, nkeys;
	ssize_t n;
	int i;

	*encrypted = 0;
	if (strstr(id->data, "-----BEGIN RSA PRIVATE KEY-----") != NULL) {
		id->type = xstrdup("ssh-rsa");
		*encrypted = strstr(id->data, "ENCRYPTED") != NULL;
		return 0;
	}
	if (strstr(id->data, "-----BEGIN DSA PRIVATE KEY-----") != NULL) {
		id->type = xstrdup("ssh-dss");
		return 0;
	}
	if (strstr(id->data, "-----BEGIN EC PRIVATE KEY-----") != NULL) {
		id->type = xstrdup("ecdsa");
		*encrypted = strstr(id->data, "ENCRYPTED") != NULL;
		return 0;
	}
	if (strstr(id->data, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL) {
		*encrypted = 1;
		id->type = xstrdup("unknown");
		return 0;
	}
	if ((b = strstr(id->data, begin)) == NULL ||
	    (e = strstr(b, endm)) == NULL) {
		if (strstr(id->data, "-----BEGIN PRIVATE KEY-----") != NULL) {
			id->type = xstrdup("unknown");
			return 0;
		}
		xasprintf(cause, "%s is not a private key file", id->path);
		return -1;
	}
	b += sizeof begin - 1;
	raw = xmalloc((size_t)(e - b));
	if ((n = base64_decode(b, (size_t)(e - b), raw, (size_t)(e - b))) < 0)
		goto bad;
	p = raw;
	end = raw + n;
	if ((size_t)n < sizeof magic || memcmp(p, magic, sizeof magic) != 0)
		goto bad;
	p += sizeof magic;
	if ((s = identity_sshbuf_string(&p, end, &len)) == NULL)	/* cipher */
		goto bad;
	*encrypted = !(len == 4 && memcmp(s, "none", 4) == 0);
	for (i = 0; i < 2; i++) {	/* kdfname, kdfoptions */
		if (identity_sshbuf_string(&p, end, &len) == NULL)
			goto bad;
	}
	if (end - p < 4)
		goto bad;
	nkeys = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	p += 4;
	if (nkeys != 1 || (pub = identity_sshbuf_string(&p, end, &publen)) ==
	    NULL)
		goto bad;
	if ((s = identity_sshbuf_string(&pub, pub + publen, &len)) == NULL)
		goto bad;
	id->type = xmalloc(len + 1);
	memcpy(id->type, s, len);
	id->type[len] = '\0';
	id->pub = xmalloc(publen);
	id->publen = publen;
	memcpy(id->pub, s - 4, publen);	/* its type, then the key */
	explicit_bzero(raw, (size_t)(e - b));
	free(raw);
	return 0;
bad:
	explicit_bzero(raw, (size_t)(e - b));	/* may hold half a key */
	free(raw);
	xasprintf(cause, "%s: damaged OpenSSH private key", id->path);
	return -1;
}

/*
 * The key file, as ssh(1) would accept it: a regular file (never a FIFO or a
 * device, which could block the worker: file.c), ours or root's, readable by
 * no one else, of a plausible size; read into memory left out of core dumps
 * and wiped on every path (file_read_secret()).
 */
static int
identity_read(struct identity *id, char **cause)
{
	return file_read_secret(id->path, "identity_file", IDENTITY_MAX,
	    &id->data, &id->len, cause);
}

/* The file to load: identity_file, or the first default that exists; 1 if
 * there is none and another way (an agent, a password) may do. */
static int
identity_path(const struct session_params *tc, struct identity *id,
    char **cause)
{
	char *home;
	size_t i;

	if (tc->identity_file != NULL) {
		id->path = xstrdup(tc->identity_file);
		return 0;
	}
	home = home_dir();
	for (i = 0; i < nitems(default_identities); i++) {
		free(id->path);
		xasprintf(&id->path, "%s/.ssh/%s", home, default_identities[i]);
		if (access(id->path, F_OK) == 0) {
			free(home);
			return 0;
		}
	}
	free(id->path);
	id->path = NULL;
	if (tc->identity_agent != NULL || tc->password_file != NULL) {
		free(home);
		return 1;
	}
	xasprintf(cause, "no identity_file set and neither %s/.ssh/id_ed25519 "
	    "nor id_ecdsa exists", home);
	free(home);
	return -1;
}

/*
 * The private key file a tunnel with this identity_file (NULL: the
 * defaults) authenticates with, as identity_path() picks it; NULL if no
 * default exists.  For tunnelctl authorized-key, which prints its .pub.
 */
char *
identity_file_path(const char *identity_file)
{
	struct session_params p;
	struct identity id;
	char *cause = NULL;

	memset(&p, 0, sizeof p);
	memset(&id, 0, sizeof id);
	p.identity_file = identity_file;
	p.identity_agent = "";	/* no default: not an error here */
	identity_path(&p, &id, &cause);
	free(cause);
	return id.path;
}

/* A key type the linked libssh2 can sign with, or *cause saying why not. */
static int
identity_type_ok(struct identity *id, char **cause)
{
#ifndef HAVE_LIBSSH2_RSA_SHA2
	if (strcmp(id->type, "ssh-rsa") == 0) {
		xasprintf(cause, "identity_file %s is an RSA key: libssh2 1.10 "
		    "can only make ssh-rsa (SHA-1) signatures, which OpenSSH "
		    "8.8 and later refuse; use an ed25519 key instead "
		    "(ssh-keygen -t ed25519) or ECDSA, or a tunneld built "
		    "with libssh2 1.11 or later", id->path);
		return -1;
	}
#endif
	if (strcmp(id->type, "ssh-dss") == 0) {
		xasprintf(cause, "identity_file %s is a DSA key, which "
		    "OpenSSH no longer accepts; use an ed25519 key "
		    "(ssh-keygen -t ed25519)", id->path);
		return -1;
	}
	return 0;
}

/* The passphrase of an encrypted key, from passphrase_file. */
static int
identity_passphrase(const struct session_params *tc, struct identity *id,
    char **cause)
{
	if (!id->encrypted) {
		if (tc->passphrase_file != NULL)
			session_params_log(tc, LOG_LVL_DEBUG, "identity_file "
			    "%s has no passphrase; passphrase_file %s is not "
			    "read", id->path, tc->passphrase_file);
		return 0;
	}
	if (tc->passphrase_file == NULL) {
		xasprintf(cause, "identity_file %s is protected by a "
		    "passphrase and no passphrase_file is set: tunneld runs "
		    "unattended and asks for none; set passphrase_file (a "
		    "file only the tunneld user can read, e.g. a systemd "
		    "credential) or use a key without a passphrase",
		    id->path);
		return -1;
	}
	return file_read_password(tc->passphrase_file, "passphrase_file",
	    &id->passphrase, &id->passlen, cause);
}

/*
 * Can the linked libssh2 present a certificate of this type?  Asked of the
 * library, not of its version: the releases that sign a user
 * authentication with a certificate's key are the ones whose host key
 * methods name the certificate type (1.10: the ECDSA ones; 1.11: ed25519
 * too, and RSA with rsa-sha2-256/512), since userauth.c takes the
 * signature's name from the same table.  An ssh-rsa certificate needs
 * rsa-sha2: OpenSSH 8.8 and later refuse its SHA-1 signature.
 */
static int
identity_cert_type_ok(const char *type)
{
	char *why = NULL;
	int rc;

	if (strcmp(type, "ssh-rsa-cert-v01@openssh.com") == 0)
		type = "rsa-sha2-256-cert-v01@openssh.com";
	rc = session_algs_check(SA_HOSTKEY, type, &why);
	free(why);
	return rc == 0;
}

/* The UTC time of a certificate's bound, as ssh-keygen -L prints it. */
static void
identity_cert_time(uint64_t t, char *buf, size_t len)
{
	time_t tt;
	struct tm tm;

	if (t > (uint64_t)INT32_MAX * 4) {
		snprintf(buf, len, "forever");
		return;
	}
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Is the certificate valid now?  If not, id->certnote says why. */
static void
identity_cert_window(struct identity *id, const struct sshcert *c)
{
	uint64_t now = (uint64_t)time(NULL);
	char t[32];

	if (now < c->valid_after) {
		identity_cert_time(c->valid_after, t, sizeof t);
		xasprintf(&id->certnote, "not valid before %s", t);
	} else if (now >= c->valid_before) {
		identity_cert_time(c->valid_before, t, sizeof t);
		xasprintf(&id->certnote, "expired at %s", t);
	}
}

/*
 * certificate_file, checked against identity_file's key: "type base64
 * [comment]" as ssh-keygen -s writes it, a user certificate of that key,
 * of a type the linked libssh2 can present.  One outside its validity
 * window is still presented (it may be renewed before the next attempt),
 * with id->certnote saying why the server will refuse it.
 */
static int
identity_cert(const struct session_params *tc, struct identity *id,
    char **cause)
{
	const char *path = tc->certificate_file, *p, *why = NULL;
	struct sshcert *c = NULL;
	struct stat st;
	unsigned char *blob = NULL;
	size_t tlen, blen;
	ssize_t n;
	int rc = -1;

	if (path == NULL)
		return 0;
	if (id->path == NULL) {
		xasprintf(cause, "certificate_file %s is presented with the "
		    "key of identity_file, and there is none", path);
		return -1;
	}
	if (file_read(path, "certificate_file", CERT_MAX, FILE_TRUST,
	    &id->cert, &id->certlen, &st, cause) != 0)
		return -1;
	p = id->cert + strspn(id->cert, " \t");
	tlen = strcspn(p, " \t\r\n");
	id->certtype = xmalloc(tlen + 1);
	memcpy(id->certtype, p, tlen);
	id->certtype[tlen] = '\0';
	p += tlen;
	p += strspn(p, " \t");
	blen = strcspn(p, " \t\r\n");
	blob = xmalloc(blen + 1);
	c = xcalloc(1, sizeof *c);
	if ((n = base64_decode(p, blen, blob, blen + 1)) < 0)
		why = "not a certificate (ssh-keygen -s writes one)";
	else if (sshcert_parse(blob, (size_t)n, c, &why) == 0 &&
	    !sshcert_str_is(&c->type, id->certtype))
		why = "damaged: its type differs from its first word";
	if (why != NULL) {
		xasprintf(cause, "certificate_file %s: %s", path, why);
		goto out;
	}
	if (c->kind != SSHCERT_USER) {
		xasprintf(cause, "certificate_file %s is a host certificate, "
		    "not a user one (ssh-keygen -s without -h)", path);
		goto out;
	}
	if (id->pub != NULL && !sshcert_key_is(c, id->pub, id->publen)) {
		xasprintf(cause, "certificate_file %s certifies another key "
		    "than identity_file %s's", path, id->path);
		goto out;
	}
	if (!identity_cert_type_ok(id->certtype)) {
		xasprintf(cause, "certificate_file %s: libssh2 %s cannot "
		    "present %s certificates (tunneld.conf(5) says which "
		    "types each release can)", path, libssh2_version(0),
		    id->certtype);
		goto out;
	}
	identity_cert_window(id, c);
	if (id->certnote != NULL)
		session_params_log(tc, LOG_LVL_WARNING, "certificate_file %s "
		    "%s; the server will refuse it", path, id->certnote);
	rc = 0;
out:
	free(c);
	free(blob);
	return rc;
}

/*
 * Everything a file identity needs, loaded and checked before the network
 * is touched: the key file (or the first default that exists), its type,
 * and its passphrase.  With no key file and an agent or password to use
 * instead, id->path is NULL.  0, or -1 with *cause (nothing held).
 */
int
identity_load(const struct session_params *tc, struct identity *id,
    char **cause)
{
	int rc;

	memset(id, 0, sizeof *id);
	if ((rc = identity_path(tc, id, cause)) != 0)
		return rc == 1 ? identity_cert(tc, id, cause) : -1;
	if (identity_read(id, cause) != 0 ||
	    identity_inspect(id, &id->encrypted, cause) != 0 ||
	    identity_type_ok(id, cause) != 0 ||
	    identity_passphrase(tc, id, cause) != 0 ||
	    identity_cert(tc, id, cause) != 0) {
		identity_clear(id);
		return -1;
	}
	return 0;
}

void
identity_clear(struct identity *id)
{
	secret_free(id->data);
	secret_free(id->passphrase);
	free(id->path);
	free(id->type);
	free(id->pub);
	free(id->cert);
	free(id->certtype);
	free(id->certnote);
	memset(id, 0, sizeof *id);
}

/*
 * The agent's socket: identity_agent as written, "SSH_AUTH_SOCK" (or
 * "$SSH_AUTH_SOCK") for the environment's, "~/" for the home directory.
 * 0 with *path, or -1 with *cause.
 */
int
identity_agent_path(const struct session_params *tc, char **path, char **cause)
{
	const char *v = tc->identity_agent, *env;
	char *home;

	*path = NULL;
	if (strcmp(v, "SSH_AUTH_SOCK") == 0 ||
	    strcmp(v, "$SSH_AUTH_SOCK") == 0) {
		if ((env = getenv("SSH_AUTH_SOCK")) == NULL || *env == '\0') {
			xasprintf(cause, "identity_agent \"%s\": SSH_AUTH_SOCK "
			    "is not set in tunneld's environment (for the "
			    "user unit: systemctl --user "
			    "import-environment SSH_AUTH_SOCK)", v);
			return -1;
		}
		*path = xstrdup(env);
		return 0;
	}
	if (v[0] == '~' && v[1] == '/') {
		home = home_dir();
		xasprintf(path, "%s%s", home, v + 1);
		free(home);
		return 0;
	}
	if (v[0] != '/') {
		xasprintf(cause, "identity_agent \"%s\" is neither an absolute "
		    "path nor \"SSH_AUTH_SOCK\"", v);
		return -1;
	}
	*path = xstrdup(v);
	return 0;
}

/*
 * For the check: connect to the agent and list its keys, without touching
 * the network, waiting for it at most connect_timeout.  0 (the agent
 * answers and holds a key; no identity_agent set: nothing to do), or -1
 * with *cause.
 */
int
identity_agent_probe(const struct session_params *tc, char **cause)
{
	struct agent *a;
	char *path;
	double timeout = tc->connect_timeout > 0 ? tc->connect_timeout : 10;

	*cause = NULL;
	if (tc->identity_agent == NULL)
		return 0;
	if (identity_agent_path(tc, &path, cause) != 0)
		return -1;
	a = agent_open(path, cause);
	free(path);
	if (a == NULL)
		return -1;
	agent_list_request(a);
	if (agent_wait(a, timeout, cause) != 0 ||
	    agent_list_parse(a, cause) != 0) {
		agent_close(a);
		return -1;
	}
	if (a->nkeys == 0) {
		xasprintf(cause, "the ssh-agent at %s holds no keys (ssh-add)",
		    a->path);
		agent_close(a);
		return -1;
	}
	session_params_log(tc, LOG_LVL_DEBUG, "the ssh-agent at %s holds %zu "
	    "key(s)", a->path, a->nkeys);
	agent_close(a);
	return 0;
}

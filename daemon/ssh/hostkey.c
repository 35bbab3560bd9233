/*
 * hostkey.c - the server's host key is always verified, before any channel:
 * against known_hosts (known_hosts.c) and/or a pinned SHA256 fingerprint,
 * with ssh(1)'s rules: the key must be one recorded for "[host]:port" (or
 * "host" on port 22) or for the plain host name; any other key recorded
 * for "[host]:port", of whatever type, makes it a changed key, never a new
 * one; @revoked keys are refused; accept-new records a key for a host none
 * is known for.  Before the handshake, the host key algorithms are ordered
 * to match the types the files hold for this host; libssh2 otherwise
 * prefers ECDSA while OpenSSH records ed25519.  Host certificates
 * (@cert-authority) are never negotiated: no libssh2 release verifies the
 * key exchange with a certificate's key (its *-cert-v01 host key methods
 * have no signature check, or refuse the certificate blob), so only plain
 * keys are offered.  For a host known by its CA alone, the session fetches
 * the server's certificate by a connection of its own (certscan.c), and
 * hostkey_cert_verify accepts the plain key the session verified only if
 * that certificate certifies it and passes ssh's checks (tunneld(8),
 * SECURITY).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "known_hosts.h"
#include "session.h"
#include "sshcert.h"

/* "SHA256:" + unpadded base64, as ssh-keygen -l prints it. */
char *
hostkey_fingerprint(LIBSSH2_SESSION *ssh)
{
	const char *h;
	char b64[64], *s;

	h = libssh2_hostkey_hash(ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (h == NULL)
		return xstrdup("SHA256:(unavailable)");
	base64_encode((const unsigned char *)h, 32, b64, sizeof b64, 0);
	xasprintf(&s, "SHA256:%s", b64);
	return s;
}
/*
 * Order LIBSSH2_METHOD_HOSTKEY as ssh(1) does (sshconnect2.c,
 * order_hostkeyalgs): the types known for this host first, so that a server
 * holding several keys shows the one on record; then, for a port other than
 * 22, the types known for the plain host name, whose keys ssh also accepts;
 * then the rest in OpenSSH's order, ed25519 first.  The rest stay offered, so
 * that a server that offers only another type is told apart from a network
 * failure (hostkey_verify calls that a changed key, as ssh does).
 */
int
hostkey_plan(LIBSSH2_SESSION *ssh, const struct session_params *tc,
    struct hostkey_plan *plan, char **cause)
{
	struct known_hosts k;
	struct kh_file *f;
	char pref[256], *why = NULL;
	size_t i, used = 0;
	int rank[nitems(kh_key_types)], r, line;

	memset(plan, 0, sizeof *plan);
	for (i = 0; i < nitems(kh_key_types); i++)
		rank[i] = 2;
	if (tc->known_hosts != NULL || tc->host_key == NULL) {
		known_hosts_init(&k, tc);
		if (known_hosts_load(&k, ssh, &why) != 0) {
			/* verify says */
			session_params_log(tc, LOG_LVL_DEBUG, "%s", why);
			free(why);
		} else {
			for (i = 0; i < nitems(kh_key_types); i++) {
				if (known_hosts_has_type(&k, k.name, i, &f,
				    &line))
					rank[i] = 0;
				else if (tc->port != 22 && known_hosts_has_type(
				    &k, k.plain, i, &f, &line))
					rank[i] = 1;
			}
		}
		known_hosts_free(&k);
	}
	pref[0] = '\0';
	for (r = 0; r <= 2; r++) {
		for (i = 0; i < nitems(kh_key_types); i++) {
			if (rank[i] == r)
				used += (size_t)snprintf(pref + used,
				    sizeof pref - used, "%s%s", used ? "," : "",
				    kh_key_types[i].method);
		}
	}
	plan->method_pref = xstrdup(pref);
	(void)cause;
	return 0;
}

static int
hostkey_known_type(int hostkey_type, const char **method)
{
	size_t i;

	for (i = 0; i < nitems(kh_key_types); i++) {
		if (kh_key_types[i].hostkey_type == hostkey_type) {
			*method = kh_key_types[i].method;
			return kh_key_types[i].known_type;
		}
	}
	*method = "unknown";
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}
/* accept-new: record a key for a host none is known for, as ssh does. */
static int
hostkey_learn(struct known_hosts *k, const char *key, size_t len,
    int known_type, char **cause)
{
	struct kh_file *f = &k->files[0];
	struct libssh2_knownhost *entry;
	char line[KNOWN_HOSTS_LINE];
	size_t outlen;
	int rc;

	if (f->kh == NULL) {
		xasprintf(cause, "cannot record the new host key: %s was not "
		    "read", f->path);
		return -1;
	}
	rc = libssh2_knownhost_addc(f->kh, k->name, NULL, key, len, NULL, 0,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    known_type, &entry);
	if (rc == 0)
		rc = libssh2_knownhost_writeline(f->kh, entry, line,
		    sizeof line, &outlen, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	if (rc != 0) {
		xasprintf(cause, "cannot record the new host key (libssh2 "
		    "error %d)", rc);
		return -1;
	}
	return known_hosts_append(k->tc, f->path,
	    f->path == k->home_file, line, outlen, cause);
}

/* Another key, of the same type or of another, is known for this host. */
static void
hostkey_changed(struct known_hosts *k, const char *method, int known_type,
    const char *fp, char **cause)
{
	struct kh_file *f;
	char *types;
	size_t i;
	int line;

	for (i = 0; i < nitems(kh_key_types); i++) {
		if (kh_key_types[i].known_type == known_type &&
		    known_hosts_has_type(k, k->name, i, &f, &line)) {
			xasprintf(cause, "HOST KEY FOR %s HAS CHANGED: the "
			    "server offers %s %s, which does not match the "
			    "key in %s:%d; if the change is expected, remove "
			    "the old key (ssh-keygen -R '%s' -f %s)", k->name,
			    method, fp, f->path, line, k->name, f->path);
			return;
		}
	}
	known_hosts_lookup(k, k->name, "x", 1, 0, &f, &line);
	types = known_hosts_types(k, k->name);
	xasprintf(cause, "HOST KEY FOR %s HAS CHANGED: the server offers %s "
	    "%s, but the keys known for it are of other types: %s; as ssh "
	    "does, this is not taken for a new host: if the server really "
	    "dropped those keys, remove them (ssh-keygen -R '%s' -f %s)",
	    k->name, method, fp, types, k->name, f->path);
	free(types);
}

/* No key is known for this host (under the name ssh would record). */
static int
hostkey_new(struct known_hosts *k, const char *key, size_t len,
    int known_type, const char *method, const char *fp, int pinned,
    char **cause)
{
	const struct session_params *tc = k->tc;
	struct kh_file *f;
	int line;

	/* As ssh: a key recorded for the plain host name is good for any
	 * port; another key there does not make it a changed key. */
	if (tc->port != 22 && known_hosts_lookup(k, k->plain, key, len, 0,
	    &f, &line) == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		session_params_log(tc, LOG_LVL_DEBUG, "host key found for %s "
		    "(without port) in %s:%d", k->plain, f->path, line);
		return 0;
	}
	if (pinned)
		return 0;
	if (known_hosts_ca(k, &f, &line)) {
		session_params_log(tc, LOG_LVL_DEBUG, "%s trusts host "
		    "certificates for %s (@cert-authority): the server's is "
		    "fetched", f->path, k->name);
		return HOSTKEY_CERT;
	}
	if (tc->accept_new) {
		if (hostkey_learn(k, key, len, known_type, cause) != 0)
			return -1;
		session_params_log(tc, LOG_LVL_NOTICE, "added %s %s for %s to "
		    "%s (accept-new)", method, fp, k->name, k->files[0].path);
		return 0;
	}
	xasprintf(cause, "host key for %s is unknown: the server offers %s "
	    "%s; after checking that fingerprint, add it to %s (ssh-keyscan "
	    "-p %d %s >> %s) or set strict_host_key_checking = "
	    "\"accept-new\"", k->name, method, fp, k->files[0].path,
	    tc->port, tc->host, k->files[0].path);
	return -1;
}

static int
hostkey_revoked(struct known_hosts *k, const char *b64, const char *method,
    const char *fp, char **cause)
{
	struct kh_file *f;
	size_t i, j;

	for (i = 0; i < k->nfiles; i++) {
		f = &k->files[i];
		for (j = 0; j < f->nrevoked; j++) {
			if (strcmp(f->revoked[j].key, b64) != 0)
				continue;
			xasprintf(cause, "host key for %s (%s %s) is marked "
			    "@revoked in known_hosts %s:%d", k->name, method,
			    fp, f->path, f->revoked[j].line);
			return 1;
		}
	}
	return 0;
}

/* The pinned fingerprint, if any: 0 (none, or it matches) or -1. */
static int
hostkey_pin(const struct session_params *tc, const char *method, const char *fp,
    char **cause)
{
	size_t a, b;
	char *hp;

	if (tc->host_key == NULL)
		return 0;
	a = strcspn(tc->host_key, "=");
	b = strcspn(fp, "=");
	if (a == b && strncmp(tc->host_key, fp, a) == 0)
		return 0;
	if (tc->port == 22)
		hp = xstrdup(tc->host);
	else
		xasprintf(&hp, "[%s]:%d", tc->host, tc->port);
	xasprintf(cause, "host key for %s does not match the pinned host_key "
	    "%s: the server offers %s %s", hp, tc->host_key, method, fp);
	free(hp);
	return -1;
}

int
hostkey_verify(LIBSSH2_SESSION *ssh, const struct session_params *tc,
    char **cause)
{
	struct known_hosts k;
	struct kh_file *f;
	const char *key, *method;
	char *fp, *b64 = NULL;
	size_t len;
	int type, known_type, line, rc = -1;

	if ((key = libssh2_session_hostkey(ssh, &len, &type)) == NULL) {
		xasprintf(cause, "the server sent no host key");
		return -1;
	}
	known_type = hostkey_known_type(type, &method);
	fp = hostkey_fingerprint(ssh);
	if (hostkey_pin(tc, method, fp, cause) != 0) {
		free(fp);
		return -1;
	}
	if (tc->host_key != NULL && tc->known_hosts == NULL) {
		free(fp);
		return 0;
	}

	known_hosts_init(&k, tc);
	if (known_hosts_load(&k, ssh, cause) != 0)
		goto out;
	b64 = xmalloc(len * 2 + 8);
	base64_encode((const unsigned char *)key, len, b64, len * 2 + 8, 1);
	if (hostkey_revoked(&k, b64, method, fp, cause))
		goto out;
	switch (known_hosts_lookup(&k, k.name, key, len, 0, &f, &line)) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		session_params_log(tc, LOG_LVL_DEBUG, "host key %s %s found in "
		    "%s:%d", method, fp, f->path, line);
		rc = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		hostkey_changed(&k, method, known_type, fp, cause);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		rc = hostkey_new(&k, key, len, known_type, method, fp,
		    tc->host_key != NULL, cause);
		break;
	default:
		xasprintf(cause, "host key for %s could not be checked "
		    "against known_hosts", k.name);
		break;
	}
out:
	known_hosts_free(&k);
	free(b64);
	free(fp);
	return rc;
}

/* --- host certificates -------------------------------------------------- */

/* The certificate types that certify a key of the session's host key
 * type, for certscan.c to ask for; NULL if there is none. */
const char *
hostkey_cert_types(LIBSSH2_SESSION *ssh)
{
	size_t len;
	int type;

	if (libssh2_session_hostkey(ssh, &len, &type) == NULL)
		return NULL;
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ssh-ed25519-cert-v01@openssh.com";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return "ecdsa-sha2-nistp256-cert-v01@openssh.com";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return "ecdsa-sha2-nistp384-cert-v01@openssh.com";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ecdsa-sha2-nistp521-cert-v01@openssh.com";
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "rsa-sha2-512-cert-v01@openssh.com,"
		    "rsa-sha2-256-cert-v01@openssh.com";
	}
	return NULL;
}

/* "SHA256:..." of a key blob, as ssh-keygen -l prints it. */
static char *
hostkey_blob_fp(const unsigned char *blob, size_t len)
{
	unsigned char h[32];
	char b64[64], *s;

	if (sshcert_sha256(blob, len, h) != 0)
		return xstrdup("SHA256:(unavailable)");
	base64_encode(h, sizeof h, b64, sizeof b64, 0);
	xasprintf(&s, "SHA256:%s", b64);
	return s;
}

static char *
hostkey_b64(const unsigned char *blob, size_t len)
{
	char *b64 = xmalloc(len * 2 + 8);

	base64_encode(blob, len, b64, len * 2 + 8, 1);
	return b64;
}

/* A @revoked line for the CA key or the certificate: 1 with *cause. */
static int
hostkey_cert_revoked(struct known_hosts *k, const struct sshcert *c,
    const unsigned char *blob, size_t len, const char *cafp, char **cause)
{
	char *b64[2];
	const char *what[2] = { "its CA key", "the certificate" };
	size_t i, j, n;
	int rc = 0;

	b64[0] = hostkey_b64(c->signature_key.p, c->signature_key.len);
	b64[1] = hostkey_b64(blob, len);
	for (n = 0; n < 2 && rc == 0; n++) {
		for (i = 0; i < k->nfiles && rc == 0; i++) {
			for (j = 0; j < k->files[i].nrevoked; j++) {
				if (strcmp(k->files[i].revoked[j].key,
				    b64[n]) != 0)
					continue;
				xasprintf(cause, "host certificate of %s "
				    "refused: %s (CA %s) is marked @revoked "
				    "in known_hosts %s:%d", k->name, what[n],
				    cafp, k->files[i].path,
				    k->files[i].revoked[j].line);
				rc = 1;
				break;
			}
		}
	}
	free(b64[0]);
	free(b64[1]);
	return rc;
}

/* Is the certificate's CA one a @cert-authority line trusts for this
 * host?  0, or -1 with *cause naming the line. */
static int
hostkey_cert_ca(struct known_hosts *k, const struct sshcert *c,
    const char *cafp, char **where, char **cause)
{
	const struct kh_ca *ca;
	struct kh_file *f;
	char *b64;
	int rc;

	b64 = hostkey_b64(c->signature_key.p, c->signature_key.len);
	rc = known_hosts_ca_key(k, b64, &f, &ca);
	free(b64);
	if (rc == 1) {
		xasprintf(where, "%s:%d", f->path, ca->line);
		session_params_log(k->tc, LOG_LVL_DEBUG, "CA %s trusted for "
		    "%s by %s", cafp, k->name, *where);
		return 0;
	}
	if (rc == 0) {
		xasprintf(cause, "host certificate of %s refused: its CA %s "
		    "is trusted in %s:%d for other hosts only (%s)", k->name,
		    cafp, f->path, ca->line, ca->hosts);
		return -1;
	}
	if (known_hosts_ca(k, &f, &rc))
		xasprintf(cause, "host certificate of %s refused: it is "
		    "signed by CA %s, which no @cert-authority line trusts "
		    "(the one for this host, %s:%d, holds another CA key)",
		    k->name, cafp, f->path, rc);
	else
		xasprintf(cause, "host certificate of %s refused: it is "
		    "signed by CA %s, which no @cert-authority line trusts",
		    k->name, cafp);
	return -1;
}

/* The certificate's key ID for a message: printable ASCII, '?' for the
 * rest, at most len - 1 bytes.  Whoever answers the fetch chooses it, and
 * a refused certificate's is nobody's word (a newline would forge a log
 * line). */
static void
hostkey_cert_id(const struct sshcert *c, char *buf, size_t len)
{
	size_t i, n = c->key_id.len < len - 1 ? c->key_id.len : len - 1;

	for (i = 0; i < n; i++)
		buf[i] = c->key_id.p[i] >= 0x20 && c->key_id.p[i] < 0x7f ?
		    (char)c->key_id.p[i] : '?';
	buf[n] = '\0';
}

/* "until 2026-12-08 13:00:00 UTC", or "forever" */
static void
hostkey_cert_until(const struct sshcert *c, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	if (c->valid_before >= (uint64_t)INT64_MAX ||
	    (t = (time_t)c->valid_before, gmtime_r(&t, &tm) == NULL)) {
		snprintf(buf, len, "forever");
		return;
	}
	strftime(buf, len, "until %Y-%m-%d %H:%M:%S UTC", &tm);
}

/*
 * The certificate certscan.c fetched from the server, checked as ssh
 * checks a host certificate (sshconnect.c, check_host_key): for the very
 * key the session verified the key exchange with, signed by a CA that a
 * @cert-authority line trusts for this host, neither revoked, its
 * signature good, a host certificate naming this host, valid now, with
 * no critical option.  0, or -1 with *cause.
 */
int
hostkey_cert_verify(LIBSSH2_SESSION *ssh, const struct session_params *tc,
    const char *addr, const unsigned char *blob, size_t len, char **cause)
{
	struct known_hosts k;
	struct sshcert c;
	const char *key, *why;
	char *cafp = NULL, *where = NULL, until[64], id[128];
	size_t klen;
	int type, rc = -1;

	known_hosts_init(&k, tc);
	if (sshcert_parse(blob, len, &c, &why) != 0) {
		xasprintf(cause, "host certificate of %s from %s: %s", k.name,
		    addr, why);
		goto out;
	}
	key = libssh2_session_hostkey(ssh, &klen, &type);
	if (key == NULL || !sshcert_key_is(&c, (const unsigned char *)key,
	    klen)) {
		xasprintf(cause, "host certificate of %s from %s refused: it "
		    "certifies another key than the one the server proved in "
		    "the session", k.name, addr);
		goto out;
	}
	cafp = hostkey_blob_fp(c.signature_key.p, c.signature_key.len);
	if (known_hosts_load(&k, ssh, cause) != 0 ||
	    hostkey_cert_ca(&k, &c, cafp, &where, cause) != 0 ||
	    hostkey_cert_revoked(&k, &c, blob, len, cafp, cause))
		goto out;
	if (sshcert_verify(&c, &why) != 0 ||
	    sshcert_check_host(&c, k.plain, (uint64_t)time(NULL), &why) != 0) {
		hostkey_cert_id(&c, id, sizeof id);
		xasprintf(cause, "host certificate of %s (ID \"%s\", serial "
		    "%llu, CA %s of %s) refused: %s", k.name, id,
		    (unsigned long long)c.serial, cafp, where, why);
		goto out;
	}
	hostkey_cert_until(&c, until, sizeof until);
	hostkey_cert_id(&c, id, sizeof id);
	session_params_log(tc, LOG_LVL_NOTICE, "host certificate of %s (ID "
	    "\"%s\", serial %llu) signed by CA %s, valid %s", addr, id,
	    (unsigned long long)c.serial, cafp, until);
	rc = 0;
out:
	known_hosts_free(&k);
	free(where);
	free(cafp);
	return rc;
}

/*
 * hostkey.c - the server's host key is always verified, before any channel.
 *
 * Against known_hosts (OpenSSH format: hashed entries, [host]:port entries,
 * @revoked) and/or a pinned SHA256 fingerprint.  libssh2's readfile() stops
 * at the first line it cannot parse, so files are read line by line here and
 * what is skipped is reported.  Before the handshake, the host key algorithms
 * are ordered to match the types the files hold for this host; libssh2
 * otherwise prefers ECDSA while OpenSSH records ed25519.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunneld.h"

#define SYSTEM_KNOWN_HOSTS	"/etc/ssh/ssh_known_hosts"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen,
    int pad)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		if (o + 4 >= outlen)
			break;
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64chars[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < len)
			out[o++] = b64chars[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Decode, skipping white space; -1 on a bad character. */
ssize_t
base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	unsigned v = 0;
	size_t i, o = 0;
	int bits = 0;
	const char *p;

	for (i = 0; i < len; i++) {
		if (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' ||
		    in[i] == '\t')
			continue;
		if (in[i] == '=')
			break;
		if ((p = strchr(b64chars, in[i])) == NULL || in[i] == '\0')
			return -1;
		v = (v << 6) | (unsigned)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (ssize_t)o;
}

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

static const struct {
	int		 hostkey_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int		 known_type;	/* LIBSSH2_KNOWNHOST_KEY_* */
	const char	*method;
} key_types[] = {	/* in OpenSSH's order of preference */
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	    "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	    "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	    "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	    "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss" },
};

struct known_hosts {
	LIBSSH2_KNOWNHOSTS	 *kh;
	char			**revoked;	/* base64 keys of @revoked lines */
	size_t			  nrevoked;
	const char		 *files[2];
	size_t			  nfiles;
	char			 *home_file;
};

static void
known_hosts_files(const struct tunnel_conf *tc, struct known_hosts *k)
{
	char *home;

	if (tc->known_hosts != NULL) {
		k->files[k->nfiles++] = tc->known_hosts;
		return;
	}
	home = home_dir();
	xasprintf(&k->home_file, "%s/.ssh/known_hosts", home);
	free(home);
	k->files[k->nfiles++] = k->home_file;
	k->files[k->nfiles++] = SYSTEM_KNOWN_HOSTS;
}

/* Read the files line by line; say which lines were skipped, and why. */
static void
known_hosts_read(LIBSSH2_SESSION *ssh, const struct tunnel_conf *tc,
    struct known_hosts *k)
{
	char line[16384], *p, *key, *save;
	size_t i, n;
	FILE *f;
	int lineno;

	k->kh = libssh2_knownhost_init(ssh);
	for (i = 0; i < k->nfiles; i++) {
		if ((f = fopen(k->files[i], "re")) == NULL) {
			if (errno != ENOENT || tc->known_hosts != NULL)
				log_warnx("%s: known_hosts %s: %s", tc->name,
				    k->files[i], strerror(errno));
			continue;
		}
		lineno = 0;
		while (fgets(line, sizeof line, f) != NULL) {
			lineno++;
			n = strlen(line);
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			if (*p == '#' || *p == '\n' || *p == '\0')
				continue;
			if (strncmp(p, "@revoked", 8) == 0) {
				/* @revoked host keytype base64 */
				strtok_r(p, " \t\n", &save);
				strtok_r(NULL, " \t\n", &save);
				strtok_r(NULL, " \t\n", &save);
				if ((key = strtok_r(NULL, " \t\n", &save)) !=
				    NULL) {
					k->revoked = xreallocarray(k->revoked,
					    k->nrevoked + 1,
					    sizeof *k->revoked);
					k->revoked[k->nrevoked++] =
					    xstrdup(key);
				}
				continue;
			}
			if (*p == '@') {
				log_debug("%s: %s:%d: %.*s lines are not "
				    "supported, skipped", tc->name,
				    k->files[i], lineno,
				    (int)strcspn(p, " \t\n"), p);
				continue;
			}
			if (libssh2_knownhost_readline(k->kh, p, n - (size_t)
			    (p - line), LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
				log_debug("%s: %s:%d: line not understood "
				    "by libssh2, skipped", tc->name,
				    k->files[i], lineno);
		}
		fclose(f);
	}
}

static void
known_hosts_free(struct known_hosts *k)
{
	size_t i;

	if (k->kh != NULL)
		libssh2_knownhost_free(k->kh);
	for (i = 0; i < k->nrevoked; i++)
		free(k->revoked[i]);
	free(k->revoked);
	free(k->home_file);
}

static int
known_hosts_check(struct known_hosts *k, const struct tunnel_conf *tc,
    const char *key, size_t len, int known_type)
{
	struct libssh2_knownhost *entry;

	return libssh2_knownhost_checkp(k->kh, tc->host, tc->port, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    known_type, &entry);
}

/*
 * Order LIBSSH2_METHOD_HOSTKEY so that the server is asked for a key type
 * the files hold for this host.  A check with a dummy key of each type tells
 * MISMATCH (an entry of that type exists) from NOTFOUND.
 */
int
hostkey_plan(LIBSSH2_SESSION *ssh, const struct tunnel_conf *tc,
    struct hostkey_plan *plan, char **cause)
{
	struct known_hosts k;
	char pref[256];
	size_t i, used = 0;
	int present[nitems(key_types)];

	memset(plan, 0, sizeof *plan);
	memset(present, 0, sizeof present);
	if (tc->known_hosts != NULL || tc->host_key == NULL) {
		memset(&k, 0, sizeof k);
		known_hosts_files(tc, &k);
		known_hosts_read(ssh, tc, &k);
		for (i = 0; i < nitems(key_types); i++) {
			present[i] = known_hosts_check(&k, tc, "x", 1,
			    key_types[i].known_type) !=
			    LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
		}
		known_hosts_free(&k);
	}
	/* Nothing known (or only a pin): OpenSSH's order, ed25519 first, so
	 * that the key offered is the one ssh-keygen -lf shows first. */
	pref[0] = '\0';
	for (i = 0; i < nitems(key_types); i++) {
		if (present[i])
			used += (size_t)snprintf(pref + used, sizeof pref - used,
			    "%s%s", used ? "," : "", key_types[i].method);
	}
	for (i = 0; i < nitems(key_types); i++) {
		if (!present[i])
			used += (size_t)snprintf(pref + used, sizeof pref - used,
			    "%s%s", used ? "," : "", key_types[i].method);
	}
	plan->method_pref = xstrdup(pref);
	(void)cause;
	return 0;
}

static int
hostkey_known_type(int hostkey_type, const char **method)
{
	size_t i;

	for (i = 0; i < nitems(key_types); i++) {
		if (key_types[i].hostkey_type == hostkey_type) {
			*method = key_types[i].method;
			return key_types[i].known_type;
		}
	}
	*method = "unknown";
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

static char *
hostkey_hostport(const struct tunnel_conf *tc)
{
	char *s;

	if (tc->port == 22)
		return xstrdup(tc->host);
	xasprintf(&s, "[%s]:%d", tc->host, tc->port);
	return s;
}

/* accept-new: record a key never seen for this host, as ssh does. */
static int
hostkey_learn(struct known_hosts *k, const struct tunnel_conf *tc,
    const char *key, size_t len, int known_type, const char *file,
    char **cause)
{
	struct libssh2_knownhost *entry;
	char *name = hostkey_hostport(tc), line[16384];
	size_t outlen;
	int fd, rc;

	rc = libssh2_knownhost_addc(k->kh, name, NULL, key, len, NULL, 0,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    known_type, &entry);
	if (rc == 0)
		rc = libssh2_knownhost_writeline(k->kh, entry, line,
		    sizeof line, &outlen, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	free(name);
	if (rc != 0) {
		xasprintf(cause, "cannot record the new host key (libssh2 "
		    "error %d)", rc);
		return -1;
	}
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, line, outlen) != (ssize_t)outlen) {
		xasprintf(cause, "cannot add the new host key to %s: %s",
		    file, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
hostkey_verify(LIBSSH2_SESSION *ssh, const struct tunnel_conf *tc,
    char **cause)
{
	struct known_hosts k;
	const char *key, *method;
	char *fp, *hp, *b64 = NULL;
	size_t len, i;
	int type, known_type, rc = -1, pinned = 0;

	if ((key = libssh2_session_hostkey(ssh, &len, &type)) == NULL) {
		xasprintf(cause, "the server sent no host key");
		return -1;
	}
	known_type = hostkey_known_type(type, &method);
	fp = hostkey_fingerprint(ssh);
	hp = hostkey_hostport(tc);

	if (tc->host_key != NULL) {
		size_t a = strcspn(tc->host_key, "="), b = strcspn(fp, "=");

		if (a != b || strncmp(tc->host_key, fp, a) != 0) {
			xasprintf(cause, "host key for %s does not match the "
			    "pinned host_key %s: the server offers %s %s",
			    hp, tc->host_key, method, fp);
			goto out;
		}
		pinned = 1;
		if (tc->known_hosts == NULL) {
			rc = 0;
			goto out;
		}
	}

	memset(&k, 0, sizeof k);
	known_hosts_files(tc, &k);
	known_hosts_read(ssh, tc, &k);
	b64 = xmalloc(len * 2 + 8);
	base64_encode((const unsigned char *)key, len, b64, len * 2 + 8, 1);
	for (i = 0; i < k.nrevoked; i++) {
		if (strcmp(k.revoked[i], b64) == 0) {
			xasprintf(cause, "host key for %s (%s %s) is marked "
			    "@revoked in known_hosts", hp, method, fp);
			goto done;
		}
	}
	switch (known_hosts_check(&k, tc, key, len, known_type)) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		rc = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		xasprintf(cause, "HOST KEY FOR %s HAS CHANGED: the server "
		    "offers %s %s, which does not match %s; if the change is "
		    "expected, remove the old key (ssh-keygen -R '%s' -f %s)",
		    hp, method, fp, k.files[0], hp, k.files[0]);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (pinned)
			rc = 0;
		else if (tc->strict == HKC_ACCEPT_NEW) {
			rc = hostkey_learn(&k, tc, key, len, known_type,
			    k.files[0], cause);
			if (rc == 0)
				log_notice("%s: added %s %s for %s to %s "
				    "(accept-new)", tc->name, method, fp, hp,
				    k.files[0]);
		} else
			xasprintf(cause, "host key for %s is unknown: the "
			    "server offers %s %s; after checking that "
			    "fingerprint, add it to %s (ssh-keyscan -p %d %s "
			    ">> %s) or set strict_host_key_checking = "
			    "\"accept-new\"", hp, method, fp, k.files[0],
			    tc->port, tc->host, k.files[0]);
		break;
	default:
		xasprintf(cause, "host key for %s could not be checked "
		    "against known_hosts", hp);
		break;
	}
done:
	known_hosts_free(&k);
out:
	free(b64);
	free(fp);
	free(hp);
	return rc;
}

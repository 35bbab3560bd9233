/*
 * identity.c - the private key a tunnel authenticates with.
 *
 * The file is read here, not by libssh2, so that tunneld can refuse what
 * ssh refuses (a key readable by group or others) and explain what libssh2
 * 1.10 cannot do (rsa-sha2 signatures, passphrases) before talking to the
 * server.  The key bytes are wiped when the attempt is over.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tunneld.h"

#define IDENTITY_MAX	(64 * 1024)

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
 * no one else, of a plausible size.  The bytes are wiped on every path.
 */
static int
identity_read(struct identity *id, char **cause)
{
	struct stat st;
	int fd;

	if ((fd = file_open(id->path, "identity_file", IDENTITY_MAX, 0, &st,
	    cause)) == -1)
		return -1;
	/* As ssh(1) does: refuse a key others may read, or not ours. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		xasprintf(cause, "identity_file %s is owned by uid %lu, not "
		    "by this user (uid %lu) or root: refused, as ssh does",
		    id->path, (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		xasprintf(cause, "identity_file %s has permissions %04o, "
		    "which are too open: a private key must not be readable "
		    "by group or others (chmod 600 %s); refused, as ssh does",
		    id->path, (unsigned)(st.st_mode & 07777), id->path);
		goto fail;
	}
	if (st.st_size == 0) {
		xasprintf(cause, "identity_file %s is empty", id->path);
		goto fail;
	}
	/* id->len first: identity_clear() wipes that much if the read fails */
	id->len = (size_t)st.st_size;
	id->data = xmalloc(id->len + 1);
	if (file_read_fd(fd, id->path, "identity_file", id->data, id->len,
	    cause) != 0)
		goto fail;
	id->data[id->len] = '\0';
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
identity_load(const struct tunnel_conf *tc, struct identity *id,
    char **cause)
{
	char *home;
	int encrypted;
	size_t i;

	memset(id, 0, sizeof *id);
	if (tc->identity_file != NULL)
		id->path = xstrdup(tc->identity_file);
	else {
		home = home_dir();
		for (i = 0; i < nitems(default_identities); i++) {
			free(id->path);
			xasprintf(&id->path, "%s/.ssh/%s", home,
			    default_identities[i]);
			if (access(id->path, F_OK) == 0)
				break;
		}
		if (i == nitems(default_identities))
			xasprintf(cause, "no identity_file set and neither "
			    "%s/.ssh/id_ed25519 nor id_ecdsa exists", home);
		free(home);
		if (i == nitems(default_identities))
			goto fail;
	}
	if (identity_read(id, cause) != 0 ||
	    identity_inspect(id, &encrypted, cause) != 0)
		goto fail;
	if (strcmp(id->type, "ssh-rsa") == 0) {
		xasprintf(cause, "identity_file %s is an RSA key: libssh2 1.10 "
		    "can only make ssh-rsa (SHA-1) signatures, which OpenSSH "
		    "8.8 and later refuse; use an ed25519 key instead "
		    "(ssh-keygen -t ed25519) or ECDSA", id->path);
		goto fail;
	}
	if (strcmp(id->type, "ssh-dss") == 0) {
		xasprintf(cause, "identity_file %s is a DSA key, which "
		    "OpenSSH no longer accepts; use an ed25519 key "
		    "(ssh-keygen -t ed25519)", id->path);
		goto fail;
	}
	if (encrypted) {
		xasprintf(cause, "identity_file %s is protected by a "
		    "passphrase; tunneld runs unattended and asks for none: "
		    "use a key without a passphrase that only the tunneld "
		    "user can read", id->path);
		goto fail;
	}
	return 0;
fail:
	identity_clear(id);
	return -1;
}

void
identity_clear(struct identity *id)
{
	if (id->data != NULL) {
		explicit_bzero(id->data, id->len + 1);
		free(id->data);
	}
	free(id->path);
	free(id->type);
	memset(id, 0, sizeof *id);
}

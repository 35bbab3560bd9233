/*
 * sshcert.c - OpenSSH certificates (PROTOCOL.certkeys) read, not verified.
 *
 * A certificate is a public key with, after it, who signed it for what:
 * serial, type (user or host), key id, valid principals, a validity window,
 * critical options, extensions, reserved, the signature key and the
 * signature.  Every length is checked against what is left; the strings
 * held in struct sshcert point into the caller's blob.  tunneld reads the
 * certificate_file it presents, to refuse what the linked libssh2 cannot
 * send and to say what is wrong with it (another key's, expired) before
 * the server only says "denied".  Host certificates are never offered:
 * no libssh2 release verifies a host key that is a certificate (tunneld(8),
 * SECURITY), so the CA's signature is not checked here.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshcert.h"

#define CERT_SUFFIX	"-cert-v01@openssh.com"

/* The types, and how many strings the public key is made of after the
 * nonce (PROTOCOL.certkeys; mpints are strings here). */
static const struct {
	const char	*plain;
	int		 nfields;
} sshcert_types[] = {
	{ "ssh-ed25519", 1 },
	{ "ecdsa-sha2-nistp256", 2 },
	{ "ecdsa-sha2-nistp384", 2 },
	{ "ecdsa-sha2-nistp521", 2 },
	{ "ssh-rsa", 2 },
	{ "ssh-dss", 4 },
	{ "sk-ssh-ed25519@openssh.com", 2 },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", 3 },
};

struct sshcert_buf {
	const unsigned char	*p, *end;
};

static int
sshcert_u32(struct sshcert_buf *b, uint32_t *v)
{
	if (b->end - b->p < 4)
		return -1;
	*v = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 |
	    (uint32_t)b->p[2] << 8 | b->p[3];
	b->p += 4;
	return 0;
}

static int
sshcert_u64(struct sshcert_buf *b, uint64_t *v)
{
	uint32_t hi, lo;

	if (sshcert_u32(b, &hi) != 0 || sshcert_u32(b, &lo) != 0)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
sshcert_string(struct sshcert_buf *b, struct sshcert_str *s)
{
	uint32_t len;

	if (sshcert_u32(b, &len) != 0 || (size_t)(b->end - b->p) < len)
		return -1;
	s->p = b->p;
	s->len = len;
	b->p += len;
	return 0;
}

/* Does s hold exactly the C string want? */
int
sshcert_str_is(const struct sshcert_str *s, const char *want)
{
	return s->len == strlen(want) && memcmp(s->p, want, s->len) == 0;
}

/* The valid principals: a list of strings inside one string. */
static int
sshcert_principals(struct sshcert *c, const struct sshcert_str *list)
{
	struct sshcert_buf b = { list->p, list->p + list->len };
	struct sshcert_str s;

	while (b.p < b.end) {
		if (sshcert_string(&b, &s) != 0 ||
		    c->nprincipals == SSHCERT_MAX_PRINCIPALS)
			return -1;
		c->principals[c->nprincipals++] = s;
	}
	return 0;
}

/* Options (critical or extensions): name, data pairs inside one string;
 * the names of the critical ones are kept, which a verifier must know. */
static int
sshcert_options(struct sshcert *c, const struct sshcert_str *list, int critical)
{
	struct sshcert_buf b = { list->p, list->p + list->len };
	struct sshcert_str name, data;

	while (b.p < b.end) {
		if (sshcert_string(&b, &name) != 0 ||
		    sshcert_string(&b, &data) != 0)
			return -1;
		if (critical) {
			if (c->ncritical == SSHCERT_MAX_CRITICAL)
				return -1;
			c->critical[c->ncritical++] = name;
		}
	}
	return 0;
}

/*
 * Parse the certificate blob (the base64-decoded second field of a .pub
 * line).  0, or -1 with *why (static text) saying what is wrong.
 */
int
sshcert_parse(const unsigned char *blob, size_t len, struct sshcert *c,
    const char **why)
{
	struct sshcert_buf b = { blob, blob + len };
	struct sshcert_str s, principals, critical, extensions, reserved;
	const unsigned char *key;
	size_t i, plen;
	int f;

	memset(c, 0, sizeof *c);
	*why = "truncated or damaged";
	if (sshcert_string(&b, &c->type) != 0)
		return -1;
	plen = strlen(CERT_SUFFIX);
	if (c->type.len <= plen || memcmp(c->type.p + c->type.len - plen,
	    CERT_SUFFIX, plen) != 0) {
		*why = "not a certificate (its type is not *" CERT_SUFFIX ")";
		return -1;
	}
	c->plain.p = c->type.p;
	c->plain.len = c->type.len - plen;
	for (i = 0; i < sizeof sshcert_types / sizeof sshcert_types[0]; i++) {
		if (sshcert_str_is(&c->plain, sshcert_types[i].plain))
			break;
	}
	if (i == sizeof sshcert_types / sizeof sshcert_types[0]) {
		*why = "a certificate of an unknown key type";
		return -1;
	}
	if (sshcert_string(&b, &c->nonce) != 0)
		return -1;
	key = b.p;
	for (f = 0; f < sshcert_types[i].nfields; f++) {
		if (sshcert_string(&b, &s) != 0)
			return -1;
	}
	c->key.p = key;
	c->key.len = (size_t)(b.p - key);
	if (sshcert_u64(&b, &c->serial) != 0 ||
	    sshcert_u32(&b, &c->kind) != 0 ||
	    sshcert_string(&b, &c->key_id) != 0 ||
	    sshcert_string(&b, &principals) != 0 ||
	    sshcert_u64(&b, &c->valid_after) != 0 ||
	    sshcert_u64(&b, &c->valid_before) != 0 ||
	    sshcert_string(&b, &critical) != 0 ||
	    sshcert_string(&b, &extensions) != 0 ||
	    sshcert_string(&b, &reserved) != 0 ||
	    sshcert_string(&b, &c->signature_key) != 0 ||
	    sshcert_string(&b, &c->signature) != 0)
		return -1;
	if (b.p != b.end) {
		*why = "trailing bytes after the signature";
		return -1;
	}
	if (c->kind != SSHCERT_USER && c->kind != SSHCERT_HOST) {
		*why = "neither a user nor a host certificate";
		return -1;
	}
	if (sshcert_principals(c, &principals) != 0) {
		*why = "damaged or too many principals";
		return -1;
	}
	if (sshcert_options(c, &critical, 1) != 0 ||
	    sshcert_options(c, &extensions, 0) != 0) {
		*why = "damaged options or extensions";
		return -1;
	}
	*why = NULL;
	return 0;
}

/*
 * Does the public key blob pub (as an OpenSSH private key file holds it:
 * type, then the key's fields) hold the key c certifies?
 */
int
sshcert_key_is(const struct sshcert *c, const unsigned char *pub, size_t len)
{
	struct sshcert_buf b = { pub, pub + len };
	struct sshcert_str type;

	if (sshcert_string(&b, &type) != 0 || type.len != c->plain.len ||
	    memcmp(type.p, c->plain.p, type.len) != 0)
		return 0;
	return (size_t)(b.end - b.p) == c->key.len &&
	    memcmp(b.p, c->key.p, c->key.len) == 0;
}

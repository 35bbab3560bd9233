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
 * the server only says "denied".  A host certificate (fetched by
 * certscan.c) is checked as ssh(1) checks one: the CA's signature
 * (sshcert_verify, with libcrypto: ed25519, ECDSA, RSA with SHA-2), then
 * kind, principals, validity and critical options (sshcert_check_host).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "sshcert.h"

#define CERT_SUFFIX	"-cert-v01@openssh.com"
#define RSA_MIN_BITS	1024	/* OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_MAX_BITS	16384	/* ... and SSHBUF_MAX_BIGNUM * 8 */

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

/* --- the CA's signature ------------------------------------------------- */

/* The CA key types, their signature algorithms and digests. */
static const struct {
	const char	*key;		/* the signature key's type */
	const char	*sig;		/* a signature algorithm for it */
	const char	*digest;	/* NULL: none (ed25519) */
	const char	*group;		/* ECDSA: OpenSSL's curve name */
} sshcert_sigs[] = {
	{ "ssh-ed25519", "ssh-ed25519", NULL, NULL },
	{ "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "SHA256", "P-256" },
	{ "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", "SHA384", "P-384" },
	{ "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", "SHA512", "P-521" },
	{ "ssh-rsa", "rsa-sha2-512", "SHA512", NULL },
	{ "ssh-rsa", "rsa-sha2-256", "SHA256", NULL },
};
#define SSHCERT_NSIGS	(sizeof sshcert_sigs / sizeof sshcert_sigs[0])

/* An mpint as a positive BIGNUM (a negative one is refused). */
static BIGNUM *
sshcert_bn(const struct sshcert_str *s)
{
	if (s->len == 0 || (s->p[0] & 0x80) != 0)
		return NULL;
	return BN_bin2bn(s->p, (int)s->len, NULL);
}

static EVP_PKEY *
sshcert_ed25519(struct sshcert_buf *b)
{
	struct sshcert_str pk;

	if (sshcert_string(b, &pk) != 0 || pk.len != 32)
		return NULL;
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk.p, 32);
}

/* An OpenSSL key from parameters (ECDSA, RSA). */
static EVP_PKEY *
sshcert_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY_CTX *ctx;
	OSSL_PARAM *params;
	EVP_PKEY *pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) != NULL &&
	    (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1))
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* string curve, string Q: the curve must be the key type's. */
static EVP_PKEY *
sshcert_ecdsa(struct sshcert_buf *b, const char *type, const char *group)
{
	struct sshcert_str curve, q;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	if (sshcert_string(b, &curve) != 0 || sshcert_string(b, &q) != 0 ||
	    !sshcert_str_is(&curve, type + strlen("ecdsa-sha2-")) ||
	    q.len == 0 || q.p[0] != 0x04)
		return NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0) == 1 && OSSL_PARAM_BLD_push_octet_string(bld,
	    OSSL_PKEY_PARAM_PUB_KEY, q.p, q.len) == 1)
		pkey = sshcert_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* mpint e, mpint n; a modulus of 1024 to 16384 bits, as OpenSSH takes. */
static EVP_PKEY *
sshcert_rsa(struct sshcert_buf *b)
{
	struct sshcert_str es, ns;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *e = NULL, *n = NULL;
	EVP_PKEY *pkey = NULL;

	if (sshcert_string(b, &es) != 0 || sshcert_string(b, &ns) != 0 ||
	    (e = sshcert_bn(&es)) == NULL || (n = sshcert_bn(&ns)) == NULL ||
	    BN_num_bits(n) < RSA_MIN_BITS || BN_num_bits(n) > RSA_MAX_BITS)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
		pkey = sshcert_fromdata("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return pkey;
}

/* mpint r, mpint s -> the DER ECDSA-Sig-Value OpenSSL verifies. */
static unsigned char *
sshcert_ecdsa_der(const struct sshcert_str *sig, size_t *len)
{
	struct sshcert_buf b = { sig->p, sig->p + sig->len };
	struct sshcert_str rs, ss;
	ECDSA_SIG *es;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int n;

	if (sshcert_string(&b, &rs) != 0 || sshcert_string(&b, &ss) != 0 ||
	    b.p != b.end || (r = sshcert_bn(&rs)) == NULL ||
	    (s = sshcert_bn(&ss)) == NULL || (es = ECDSA_SIG_new()) == NULL) {
		BN_free(r);
		BN_free(s);
		return NULL;
	}
	ECDSA_SIG_set0(es, r, s);
	if ((n = i2d_ECDSA_SIG(es, &der)) <= 0)
		der = NULL;
	*len = n > 0 ? (size_t)n : 0;
	ECDSA_SIG_free(es);
	return der;
}

/* EVP_DigestVerify of data by sig under pkey: 1 good, 0 not. */
static int
sshcert_digest_verify(EVP_PKEY *pkey, const char *digest,
    const unsigned char *sig, size_t siglen, const unsigned char *data,
    size_t len)
{
	EVP_MD_CTX *md;
	int ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit_ex(md, NULL, digest, NULL, NULL, pkey,
	    NULL) == 1 && EVP_DigestVerify(md, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* The signature blob for its key: ECDSA's made DER, RSA's left-padded to
 * the modulus' size as OpenSSH accepts it (ssh-rsa.c). */
static int
sshcert_sig_check(EVP_PKEY *pkey, size_t i, const struct sshcert_str *sig,
    const unsigned char *data, size_t len)
{
	unsigned char *buf;
	size_t n, size;
	int ok;

	if (sshcert_sigs[i].group != NULL) {
		if ((buf = sshcert_ecdsa_der(sig, &n)) == NULL)
			return 0;
		ok = sshcert_digest_verify(pkey, sshcert_sigs[i].digest, buf,
		    n, data, len);
		OPENSSL_free(buf);
		return ok;
	}
	if (sshcert_sigs[i].digest == NULL)
		return sig->len == 64 && sshcert_digest_verify(pkey, NULL,
		    sig->p, sig->len, data, len);
	size = (size_t)EVP_PKEY_get_size(pkey);
	if (sig->len == 0 || sig->len > size)
		return 0;
	buf = calloc(1, size);
	if (buf == NULL)
		return 0;
	memcpy(buf + size - sig->len, sig->p, sig->len);
	ok = sshcert_digest_verify(pkey, sshcert_sigs[i].digest, buf, size,
	    data, len);
	free(buf);
	return ok;
}

/*
 * Is c signed by its signature_key?  The signed data is the blob from its
 * start to the end of the signature_key string; the signature is string
 * algorithm, string blob.  The algorithm must be one for the CA key's type
 * (sshkey.c): ssh-rsa (SHA-1) is refused, as OpenSSH's default
 * CASignatureAlgorithms refuses it.  0, or -1 with *why.
 */
int
sshcert_verify(const struct sshcert *c, const char **why)
{
	struct sshcert_buf kb = { c->signature_key.p,
	    c->signature_key.p + c->signature_key.len };
	struct sshcert_buf sb = { c->signature.p,
	    c->signature.p + c->signature.len };
	struct sshcert_str ktype, alg, sig;
	const unsigned char *start = c->type.p - 4;
	EVP_PKEY *pkey = NULL;
	size_t i;
	int ok;

	*why = "the CA key is damaged";
	if (sshcert_string(&kb, &ktype) != 0)
		return -1;
	*why = "the CA signature is damaged";
	if (sshcert_string(&sb, &alg) != 0 || sshcert_string(&sb, &sig) != 0 ||
	    sb.p != sb.end)
		return -1;
	for (i = 0; i < SSHCERT_NSIGS; i++) {
		if (sshcert_str_is(&ktype, sshcert_sigs[i].key) &&
		    sshcert_str_is(&alg, sshcert_sigs[i].sig))
			break;
	}
	if (i == SSHCERT_NSIGS) {
		*why = sshcert_str_is(&alg, "ssh-rsa") ? "signed by the CA "
		    "with ssh-rsa (SHA-1), which OpenSSH refuses too" :
		    "signed by a CA key type or algorithm tunneld cannot "
		    "check (ed25519, ECDSA and RSA with SHA-2 only)";
		return -1;
	}
	if (sshcert_sigs[i].group != NULL)
		pkey = sshcert_ecdsa(&kb, sshcert_sigs[i].key,
		    sshcert_sigs[i].group);
	else if (sshcert_sigs[i].digest != NULL)
		pkey = sshcert_rsa(&kb);
	else
		pkey = sshcert_ed25519(&kb);
	*why = "the CA key is damaged";
	if (pkey == NULL || kb.p != kb.end) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	ok = sshcert_sig_check(pkey, i, &sig, start,
	    (size_t)(c->signature.p - 4 - start));
	EVP_PKEY_free(pkey);
	if (!ok) {
		*why = "the CA signature does not verify";
		return -1;
	}
	*why = NULL;
	return 0;
}

/* ssh's match_pattern(): "*" and "?" are the only wildcards. */
static int
sshcert_wild(const char *s, const unsigned char *pat, size_t plen)
{
	for (; plen > 0; pat++, plen--, s++) {
		if (*pat == '*') {
			for (; *s != '\0'; s++) {
				if (sshcert_wild(s, pat + 1, plen - 1))
					return 1;
			}
			return sshcert_wild(s, pat + 1, plen - 1);
		}
		if (*s == '\0' || (*pat != '?' && *pat != (unsigned char)*s))
			return 0;
	}
	return *s == '\0';
}

/*
 * The checks ssh(1) makes of a host certificate whose CA it trusts
 * (sshkey.c, sshkey_cert_check_host): a host certificate, valid at now,
 * with a principal list that names the host (each principal a pattern
 * with * and ?, as OpenSSH 9.x and 10 match host principals), and no
 * critical option (none is defined for hosts).  0, or -1 with *why.
 */
int
sshcert_check_host(const struct sshcert *c, const char *name, uint64_t now,
    const char **why)
{
	size_t i;

	if (c->kind != SSHCERT_HOST) {
		*why = "not a host certificate";
		return -1;
	}
	if (now < c->valid_after) {
		*why = "not yet valid";
		return -1;
	}
	if (now >= c->valid_before) {
		*why = "expired";
		return -1;
	}
	if (c->nprincipals == 0) {
		*why = "it lists no principals (OpenSSH refuses that too)";
		return -1;
	}
	for (i = 0; i < c->nprincipals; i++) {
		if (memchr(c->principals[i].p, '\0', c->principals[i].len) ==
		    NULL && sshcert_wild(name, c->principals[i].p,
		    c->principals[i].len))
			break;
	}
	if (i == c->nprincipals) {
		*why = "the host name is not among its principals";
		return -1;
	}
	if (c->ncritical > 0) {
		*why = "it has critical options, which no host certificate "
		    "may have";
		return -1;
	}
	*why = NULL;
	return 0;
}

/* SHA-256 of a key blob, for its fingerprint: 0, or -1. */
int
sshcert_sha256(const unsigned char *blob, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(blob, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != 32)
		return -1;
	return 0;
}

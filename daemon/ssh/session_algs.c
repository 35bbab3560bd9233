/*
 * session_algs.c - the algorithms a session offers and the ones it got.
 *
 * What the linked libssh2 supports is asked once, at run time
 * (libssh2_session_supported_algs), never guessed from its version: the
 * lists of tunneld.conf's ciphers, macs, kex_algorithms and
 * host_key_algorithms are checked against it, and the defaults are
 * tunneld's order of preference - fastest secure first, measured in
 * doc/libssh2.md - filtered by it.  So a libssh2 that offers
 * chacha20-poly1305 (1.11) uses it first, and one that does not (1.10)
 * starts with aes128-ctr.  Insecure algorithms (CBC, arcfour, SHA-1 key
 * exchanges, MD5) stay available to a list written in tunneld.conf but are
 * never a default.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

static const struct {
	const char	*what;		/* one algorithm of the kind, for errors */
	int		 method;	/* LIBSSH2_METHOD_* */
	const char	*prefer;	/* tunneld's order; NULL: no default */
} session_algs_kinds[SA_COUNT] = {
	[SA_CIPHERS] = { "cipher", LIBSSH2_METHOD_CRYPT_CS,
	    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com" },
	[SA_MACS] = { "MAC", LIBSSH2_METHOD_MAC_CS,
	    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
	    "hmac-sha2-256,hmac-sha2-512,hmac-sha1-etm@openssh.com,hmac-sha1" },
	[SA_KEX] = { "key exchange", LIBSSH2_METHOD_KEX,
	    "curve25519-sha256,curve25519-sha256@libssh.org,"
	    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	    "diffie-hellman-group-exchange-sha256,"
	    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
	    "diffie-hellman-group14-sha256" },
	/* the default orders host keys by known_hosts (hostkey.c) */
	[SA_HOSTKEY] = { "host key algorithm", LIBSSH2_METHOD_HOSTKEY, NULL },
};

/* Names libssh2 lists among its key exchanges that are not algorithms: it
 * adds them itself to any list (1.11). */
static const char *session_algs_pseudo[] = {
	"ext-info-c", "kex-strict-c-v00@openssh.com"
};

/* What the linked libssh2 offers, asked once for the process. */
static struct {
	char	**names;
	size_t	  n;
	char	 *offered;	/* "a, b, c", for messages */
	char	 *def;		/* the default list, or NULL */
} session_algs_lib[SA_COUNT];
static pthread_once_t session_algs_once = PTHREAD_ONCE_INIT;

static int
session_algs_is_pseudo(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(session_algs_pseudo); i++) {
		if (strcmp(name, session_algs_pseudo[i]) == 0)
			return 1;
	}
	return 0;
}

static int
session_algs_offered(enum session_alg kind, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < session_algs_lib[kind].n; i++) {
		if (strlen(session_algs_lib[kind].names[i]) == len &&
		    strncmp(session_algs_lib[kind].names[i], name, len) == 0)
			return 1;
	}
	return 0;
}

/* tunneld's order of preference, less what this libssh2 lacks. */
static char *
session_algs_make_default(enum session_alg kind)
{
	const char *p = session_algs_kinds[kind].prefer, *comma;
	char *def;
	size_t len, used = 0;

	if (p == NULL)
		return NULL;
	def = xcalloc(1, strlen(p) + 1);
	for (; *p != '\0'; p = *comma != '\0' ? comma + 1 : comma) {
		comma = p + strcspn(p, ",");
		len = (size_t)(comma - p);
		if (!session_algs_offered(kind, p, len))
			continue;
		if (used > 0)
			def[used++] = ',';
		memcpy(def + used, p, len);
		used += len;
	}
	if (used == 0) {	/* none of ours: libssh2's own order */
		free(def);
		return NULL;
	}
	return def;
}

static void
session_algs_load_kind(LIBSSH2_SESSION *ssh, enum session_alg kind)
{
	const char **algs = NULL;
	size_t i, len = 0;
	int n;

	n = ssh != NULL ? libssh2_session_supported_algs(ssh,
	    session_algs_kinds[kind].method, &algs) : -1;
	session_algs_lib[kind].names = xcalloc(n > 0 ? (size_t)n : 1,
	    sizeof (char *));
	for (i = 0; n > 0 && i < (size_t)n; i++) {
		if (session_algs_is_pseudo(algs[i]))
			continue;
		session_algs_lib[kind].names[session_algs_lib[kind].n++] =
		    xstrdup(algs[i]);
		len += strlen(algs[i]) + 2;
	}
	if (n > 0)
		libssh2_free(ssh, algs);
	session_algs_lib[kind].offered = xcalloc(1, len + 1);
	for (i = 0; i < session_algs_lib[kind].n; i++) {
		if (i > 0)
			strcat(session_algs_lib[kind].offered, ", ");
		strcat(session_algs_lib[kind].offered,
		    session_algs_lib[kind].names[i]);
	}
	session_algs_lib[kind].def = session_algs_make_default(kind);
}

/*
 * Once, at the first configuration read: before main() initialises
 * libssh2 and before any thread starts.  libssh2 is initialised for the
 * question and released after it, so that its reference count is main()'s
 * alone (1.11 frees OpenSSL's cipher methods only when it drops to 0).
 */
static void
session_algs_load(void)
{
	LIBSSH2_SESSION *ssh;
	int kind;

	libssh2_init(0);
	ssh = libssh2_session_init();
	for (kind = 0; kind < SA_COUNT; kind++)
		session_algs_load_kind(ssh, kind);
	if (ssh != NULL)
		libssh2_session_free(ssh);
	libssh2_exit();
}

/*
 * Is list (comma-separated, as tunneld.conf writes it) made of algorithms
 * of kind that the linked libssh2 offers?  0, or -1 and *why says which is
 * not, and what is offered.
 */
int
session_algs_check(enum session_alg kind, const char *list, char **why)
{
	const char *p = list, *comma;
	size_t len;

	pthread_once(&session_algs_once, session_algs_load);
	*why = NULL;
	for (;;) {
		comma = p + strcspn(p, ",");
		len = (size_t)(comma - p);
		if (len == 0) {
			xasprintf(why, "an empty name in \"%s\" (names are "
			    "separated by one comma, without blanks)", list);
			return -1;
		}
		if (!session_algs_offered(kind, p, len)) {
			xasprintf(why, "unknown %s \"%.*s\": libssh2 %s offers "
			    "%s", session_algs_kinds[kind].what, (int)len, p,
			    libssh2_version(0), session_algs_lib[kind].offered);
			return -1;
		}
		if (*comma == '\0')
			return 0;
		p = comma + 1;
	}
}

/* The default list of kind for the linked libssh2; NULL: none of ours
 * (host keys: the order of known_hosts). */
const char *
session_algs_default(enum session_alg kind)
{
	pthread_once(&session_algs_once, session_algs_load);
	return session_algs_lib[kind].def;
}

/* Is cipher one whose MAC is part of it (an AEAD: no MAC is negotiated)? */
static int
session_algs_aead(const char *cipher)
{
	return cipher != NULL && (strcmp(cipher,
	    "chacha20-poly1305@openssh.com") == 0 ||
	    strcmp(cipher, "aes128-gcm@openssh.com") == 0 ||
	    strcmp(cipher, "aes256-gcm@openssh.com") == 0);
}

/*
 * What an established session negotiated for kind (client to server;
 * tunneld offers the same lists both ways), as libssh2 names it; a MAC
 * that is part of the cipher is "<implicit>", as OpenSSH says.  NULL
 * unless the session is established.
 */
const char *
session_algs_negotiated(struct session *s, enum session_alg kind)
{
	const char *cipher, *name;

	if (!session_is_established(s) || s->ssh == NULL)
		return NULL;
	if (kind == SA_MACS) {
		cipher = libssh2_session_methods(s->ssh,
		    LIBSSH2_METHOD_CRYPT_CS);
		if (session_algs_aead(cipher))
			return "<implicit>";
	}
	name = libssh2_session_methods(s->ssh, session_algs_kinds[kind].method);
	return name != NULL ? name : "unknown";
}

/*
 * test_algs.c - ciphers, macs, kex_algorithms and host_key_algorithms:
 * names checked against what the linked libssh2 offers (ssh/session_algs.c),
 * errors that say which name and what is offered, with FILE:LINE from a
 * tunneld.conf; defaults that are offered, secure and fastest first.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

static char dir[] = "/tmp/tunneld-unit.XXXXXX";

/* session_algs_check(kind, list) fails, saying want. */
static void
refused(enum session_alg kind, const char *list, const char *want)
{
	char *why = NULL;

	if (session_algs_check(kind, list, &why) == 0)
		fail_msg("\"%s\" accepted", list);
	assert_non_null(why);
	if (strstr(why, want) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", list, why, want);
	free(why);
}

static void
accepted(enum session_alg kind, const char *list)
{
	char *why = NULL;

	if (session_algs_check(kind, list, &why) != 0)
		fail_msg("\"%s\" refused: %s", list, why);
	assert_null(why);
}

static void
test_known_names(void **state)
{
	(void)state;
	/* offered by 1.10 and 1.11 alike */
	accepted(SA_CIPHERS, "aes128-ctr");
	accepted(SA_CIPHERS, "aes256-ctr,aes128-ctr,aes128-cbc");
	accepted(SA_MACS, "hmac-sha2-256,hmac-sha1");
	accepted(SA_KEX, "curve25519-sha256,diffie-hellman-group14-sha1");
	accepted(SA_HOSTKEY, "ssh-ed25519,ecdsa-sha2-nistp256,ssh-rsa");
}

static void
test_unknown_names(void **state)
{
	(void)state;
	refused(SA_CIPHERS, "aes128-ctr,rot13", "unknown cipher \"rot13\"");
	/* the error lists what is offered, so the fix is on screen */
	refused(SA_CIPHERS, "rot13", "offers ");
	refused(SA_CIPHERS, "rot13", " aes128-ctr,");
	refused(SA_CIPHERS, "rot13", "libssh2 ");
	refused(SA_MACS, "umac-64@openssh.com", "unknown MAC \"umac-64");
	refused(SA_KEX, "sntrup761x25519-sha512",
	    "unknown key exchange \"sntrup761x25519-sha512\"");
	refused(SA_HOSTKEY, "ssh-ed448",
	    "unknown host key algorithm \"ssh-ed448\"");
	/* kinds do not mix, and case matters as in OpenSSH */
	refused(SA_HOSTKEY, "aes128-ctr", "unknown host key algorithm");
	refused(SA_MACS, "aes128-ctr", "unknown MAC");
	refused(SA_CIPHERS, "AES128-CTR", "unknown cipher \"AES128-CTR\"");
	/* a prefix of a name is not the name */
	refused(SA_CIPHERS, "aes128", "unknown cipher \"aes128\"");
	refused(SA_CIPHERS, "aes128-ctr ", "unknown cipher \"aes128-ctr \"");
	/* what libssh2 adds to every list itself is not an algorithm */
	refused(SA_KEX, "curve25519-sha256,ext-info-c",
	    "unknown key exchange \"ext-info-c\"");
}

static void
test_empty_names(void **state)
{
	(void)state;
	refused(SA_CIPHERS, ",aes128-ctr", "an empty name");
	refused(SA_CIPHERS, "aes128-ctr,", "an empty name");
	refused(SA_MACS, "hmac-sha2-256,,hmac-sha1", "an empty name");
	refused(SA_KEX, "", "an empty name");
}

/* Is name one of list's? */
static int
listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)) != NULL; p += n) {
		if ((p == list || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static void
test_defaults(void **state)
{
	static const char *weak[] = { "cbc", "arcfour", "3des", "blowfish",
	    "md5", "ripemd", "hmac-sha1-96", "group1-sha1",
	    "group14-sha1", "exchange-sha1" };
	const char *def;
	char *why;
	size_t i;
	int kind;

	(void)state;
	for (kind = SA_CIPHERS; kind <= SA_KEX; kind++) {
		def = session_algs_default(kind);
		assert_non_null(def);
		/* offered by this libssh2, every name */
		accepted(kind, def);
		for (i = 0; i < sizeof weak / sizeof weak[0]; i++) {
			if (strstr(def, weak[i]) != NULL)
				fail_msg("default \"%s\" has %s", def, weak[i]);
		}
	}
	/* host keys: known_hosts' order, not a list of ours */
	assert_null(session_algs_default(SA_HOSTKEY));
	/* the fastest first: chacha20-poly1305 where it is offered (1.11),
	 * else aes128-ctr (1.10, measured in doc/libssh2.md) */
	def = session_algs_default(SA_CIPHERS);
	if (session_algs_check(SA_CIPHERS, "chacha20-poly1305@openssh.com",
	    &why) == 0)
		assert_true(strncmp(def, "chacha20-poly1305@openssh.com,",
		    30) == 0);
	else {
		free(why);
		assert_true(strncmp(def, "aes128-ctr,", 11) == 0);
	}
	assert_true(listed(def, "aes128-ctr"));
	assert_true(strncmp(session_algs_default(SA_KEX),
	    "curve25519-sha256,", 18) == 0);
}

static char *
write_conf(const char *text)
{
	char *path;
	FILE *f;

	xasprintf(&path, "%s/t.conf", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

/* In tunneld.conf: FILE:LINE, the setting, the name; every one reported. */
static void
test_config_errors(void **state)
{
	struct errlist e;
	struct config *c;
	char *path, want[512];

	(void)state;
	path = write_conf("tunnels = {\n a = { host = \"x\";\n"
	    "  ciphers = \"aes128-ctr,rot13\";\n"
	    "  macs = \"hmac-sha2-256\";\n"
	    "  kex_algorithms = \"curve25519-sha256,,ecdh-sha2-nistp256\";\n"
	    "  host_key_algorithms = \"ssh-ed448\";\n };\n};\n");
	memset(&e, 0, sizeof e);
	c = config_load(path, &e);
	assert_null(c);
	assert_int_equal(e.n, 3);
	snprintf(want, sizeof want, "%s:3: ciphers: unknown cipher \"rot13\": "
	    "libssh2 ", path);
	assert_true(strncmp(e.v[0], want, strlen(want)) == 0);
	snprintf(want, sizeof want, "%s:5: kex_algorithms: an empty name",
	    path);
	assert_true(strncmp(e.v[1], want, strlen(want)) == 0);
	snprintf(want, sizeof want, "%s:6: host_key_algorithms: unknown host "
	    "key algorithm \"ssh-ed448\"", path);
	assert_true(strncmp(e.v[2], want, strlen(want)) == 0);
	errlist_clear(&e);
	free(path);

	/* what is written is kept as written; the rest defaults */
	path = write_conf("tunnels = {\n a = { host = \"x\";\n"
	    "  ciphers = \"aes256-ctr,aes128-ctr\";\n };\n};\n");
	c = config_load(path, &e);
	assert_non_null(c);
	assert_string_equal(config_find(c, "a")->ciphers,
	    "aes256-ctr,aes128-ctr");
	assert_string_equal(config_find(c, "a")->macs,
	    session_algs_default(SA_MACS));
	assert_null(config_find(c, "a")->host_key_algorithms);
	config_free(c);
	unlink(path);
	free(path);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_names),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_empty_names),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_config_errors),
	};

	log_init(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("algorithms", tests, setup,
	    teardown);
}

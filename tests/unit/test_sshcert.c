/*
 * test_sshcert.c - OpenSSH certificates read (ssh/sshcert.c): the fields
 * of certificates made by ssh-keygen -s (user and host, ECDSA, ed25519 and
 * RSA, with principals, a validity window, a critical option, a serial);
 * the certified key told from another; and hostile blobs: every
 * truncation, every length field made huge, trailing bytes, a plain key.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"
#include "sshcert.h"

/* made by ssh-keygen: ca (ed25519); u (ecdsa), certified for alice,bob
 * from 2020-01-01 to 2030-01-01 UTC; h (ed25519), a host certificate for
 * host.example; r (rsa), for alice, serial 42, force-command=/bin/true */
static const char user_ecdsa_cert[] =
	"AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg"
	"UPJLrmTI/qc2/Y12xflo9fBnpbiLV17TVeAlKoju7sIAAAAIbmlzdHAyNTYAAABB"
	"BGQD9W/jUlOcr2Fwq52h5Il+i5UlOIhLyv8m59oM4w2H5+CwodbsA6PfGJQHgZuO"
	"HLAwR+4RiniBR/ClPDtPLIwAAAAAAAAAAAAAAAEAAAAIYWxpY2UtaWQAAAAQAAAA"
	"BWFsaWNlAAAAA2JvYgAAAABeC+EAAAAAAHDb2IAAAAAAAAAAggAAABVwZXJtaXQt"
	"WDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAA"
	"AAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAA"
	"AAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAA"
	"ACB6IVmAdaDGnVg/cSdiO7GWTc62FaUUniG6WFHxpVmmngAAAFMAAAALc3NoLWVk"
	"MjU1MTkAAABARq9bwqWwec1RoW9cS29sYXksELIZDUDszuRygAL7swdKuXsaB09M"
	"R3JixQcMlQ2uuqTa/xEe+Jbsp0oRHD0BBA==";
static const char user_ecdsa_key[] =
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGQD9W/jUlOc"
	"r2Fwq52h5Il+i5UlOIhLyv8m59oM4w2H5+CwodbsA6PfGJQHgZuOHLAwR+4RiniB"
	"R/ClPDtPLIw=";
static const char host_ed25519_cert[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIEJvQEExgSnB"
	"B3Izsdm/636SqMIuki3MVRnYta0Id5DbAAAAIMTsStINM2pWnZVFuTU14Jwk4kH4"
	"Z9vrP3W7yz9+eyXIAAAAAAAAAAAAAAACAAAAB2hvc3QtaWQAAAAQAAAADGhvc3Qu"
	"ZXhhbXBsZQAAAAAAAAAA//////////8AAAAAAAAAAAAAAAAAAAAzAAAAC3NzaC1l"
	"ZDI1NTE5AAAAIHohWYB1oMadWD9xJ2I7sZZNzrYVpRSeIbpYUfGlWaaeAAAAUwAA"
	"AAtzc2gtZWQyNTUxOQAAAECbpD+0HTMdu0smKCdLwtAvo42rHYNw1/HJgs3GV+Ng"
	"zYNIIMLNAyiKrGxHI64+KmT8zcQoZ8N1XPRuYyX8qrAA";
static const char host_ed25519_key[] =
	"AAAAC3NzaC1lZDI1NTE5AAAAIMTsStINM2pWnZVFuTU14Jwk4kH4Z9vrP3W7yz9+"
	"eyXI";
static const char user_rsa_cert[] =
	"AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgaldEtJr5JDhrzzuW"
	"3og4Rb+33vspM3lHf24M3IrWY24AAAADAQABAAAAgQCrG8srteY0+A26KIaYy+DI"
	"ZWUioxVd4QiiLC83pURuT+Sh73wjdTfGd9ybyUmm/wj4p/ZMsY6VY7wkrnWabKpc"
	"PQTS2jhca1F3eufOBJWQ9vsk+0EjhlDJrNdnAMoNSHJY8v36erzape/SGWacc2Sj"
	"+Cxvhhczz03Lwvop4oFF0QAAAAAAAAAqAAAAAQAAAARyLWlkAAAACQAAAAVhbGlj"
	"ZQAAAAAAAAAA//////////8AAAAiAAAADWZvcmNlLWNvbW1hbmQAAAANAAAACS9i"
	"aW4vdHJ1ZQAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJt"
	"aXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGlu"
	"ZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAA"
	"AAAAADMAAAALc3NoLWVkMjU1MTkAAAAgeiFZgHWgxp1YP3EnYjuxlk3OthWlFJ4h"
	"ulhR8aVZpp4AAABTAAAAC3NzaC1lZDI1NTE5AAAAQDCkWXy9IlomDHRS/6lv2ST+"
	"cFtrgNPzwLCmX1QNWlDld7asOZ+bT4ZZU2GOM/xJ89o7dJiOOnic3fW0/eWdugY=";
static const char ca_key[] =
	"AAAAC3NzaC1lZDI1NTE5AAAAIHohWYB1oMadWD9xJ2I7sZZNzrYVpRSeIbpYUfGl"
	"Waae";

static unsigned char *
decode(const char *b64, size_t *len)
{
	unsigned char *blob = malloc(strlen(b64));
	ssize_t n;

	assert_non_null(blob);
	n = base64_decode(b64, strlen(b64), blob, strlen(b64));
	assert_true(n > 0);
	*len = (size_t)n;
	return blob;
}

static int
str_is(const struct sshcert_str *s, const char *want)
{
	return sshcert_str_is(s, want);
}

static void
test_user_ecdsa(void **state)
{
	struct sshcert c;
	unsigned char *blob, *key, *other, *ca;
	size_t len, klen, olen, calen;
	const char *why = "unset";

	(void)state;
	blob = decode(user_ecdsa_cert, &len);
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_null(why);
	assert_true(str_is(&c.type,
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com"));
	assert_true(str_is(&c.plain, "ecdsa-sha2-nistp256"));
	assert_int_equal(c.kind, SSHCERT_USER);
	assert_true(str_is(&c.key_id, "alice-id"));
	assert_int_equal(c.nprincipals, 2);
	assert_true(str_is(&c.principals[0], "alice"));
	assert_true(str_is(&c.principals[1], "bob"));
	assert_int_equal(c.valid_after, 1577836800);	/* 2020-01-01 */
	assert_int_equal(c.valid_before, 1893456000);	/* 2030-01-01 */
	assert_int_equal(c.ncritical, 0);
	assert_int_equal(c.serial, 0);
	key = decode(user_ecdsa_key, &klen);
	other = decode(host_ed25519_key, &olen);
	assert_true(sshcert_key_is(&c, key, klen));
	assert_false(sshcert_key_is(&c, other, olen));
	assert_false(sshcert_key_is(&c, key, klen - 1));
	ca = decode(ca_key, &calen);
	assert_int_equal(c.signature_key.len, calen);
	assert_memory_equal(c.signature_key.p, ca, calen);
	free(ca);
	free(other);
	free(key);
	free(blob);
}

static void
test_host_ed25519(void **state)
{
	struct sshcert c;
	unsigned char *blob, *key;
	size_t len, klen;
	const char *why;

	(void)state;
	blob = decode(host_ed25519_cert, &len);
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_true(str_is(&c.plain, "ssh-ed25519"));
	assert_int_equal(c.kind, SSHCERT_HOST);
	assert_int_equal(c.nprincipals, 1);
	assert_true(str_is(&c.principals[0], "host.example"));
	assert_int_equal(c.valid_after, 0);
	assert_int_equal(c.valid_before, UINT64_MAX);	/* forever */
	key = decode(host_ed25519_key, &klen);
	assert_true(sshcert_key_is(&c, key, klen));
	free(key);
	free(blob);
}

static void
test_user_rsa_options(void **state)
{
	struct sshcert c;
	unsigned char *blob;
	size_t len;
	const char *why;

	(void)state;
	blob = decode(user_rsa_cert, &len);
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_true(str_is(&c.plain, "ssh-rsa"));
	assert_int_equal(c.serial, 42);
	assert_int_equal(c.ncritical, 1);
	assert_true(str_is(&c.critical[0], "force-command"));
	free(blob);
}

/* Every prefix of a certificate is refused, and nothing is read beyond
 * it (ASan: each prefix is a buffer of its own size). */
static void
test_truncated(void **state)
{
	const char *certs[] = { user_ecdsa_cert, host_ed25519_cert,
	    user_rsa_cert };
	struct sshcert c;
	unsigned char *blob, *cut;
	size_t i, n, len;
	const char *why;

	(void)state;
	for (i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		blob = decode(certs[i], &len);
		for (n = 0; n < len; n++) {
			cut = malloc(n + 1);
			assert_non_null(cut);
			memcpy(cut, blob, n);
			if (sshcert_parse(cut, n, &c, &why) == 0)
				fail_msg("cert %zu cut to %zu bytes accepted",
				    i, n);
			assert_non_null(why);
			free(cut);
		}
		free(blob);
	}
}

/* Any 4 bytes made 0xffffffff or 0x7fffffff (a huge length wherever a
 * length is) never reads out of bounds; a length field changed so is
 * refused. */
static void
test_oversized(void **state)
{
	const char *certs[] = { user_ecdsa_cert, user_rsa_cert };
	static const unsigned char huge[2][4] = { { 0xff, 0xff, 0xff, 0xff },
	    { 0x7f, 0xff, 0xff, 0xff } };
	struct sshcert c;
	unsigned char *blob, *bad;
	size_t i, j, k, len;
	const char *why;

	(void)state;
	for (i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		blob = decode(certs[i], &len);
		bad = malloc(len);
		assert_non_null(bad);
		for (k = 0; k < 2; k++) {
			for (j = 0; j + 4 <= len; j++) {
				memcpy(bad, blob, len);
				memcpy(bad + j, huge[k], 4);
				(void)sshcert_parse(bad, len, &c, &why);
			}
			/* the type's own length: refused */
			memcpy(bad, blob, len);
			memcpy(bad, huge[k], 4);
			assert_int_equal(sshcert_parse(bad, len, &c, &why), -1);
		}
		free(bad);
		free(blob);
	}
}

static void
test_refused(void **state)
{
	struct sshcert c;
	unsigned char *blob, *longer;
	size_t len;
	const char *why;

	(void)state;
	blob = decode(user_ecdsa_key, &len);	/* a plain key */
	assert_int_equal(sshcert_parse(blob, len, &c, &why), -1);
	assert_non_null(strstr(why, "not a certificate"));
	free(blob);

	blob = decode(user_ecdsa_cert, &len);
	longer = calloc(1, len + 1);
	assert_non_null(longer);
	memcpy(longer, blob, len);
	assert_int_equal(sshcert_parse(longer, len + 1, &c, &why), -1);
	assert_non_null(strstr(why, "trailing"));
	free(blob);
	free(longer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_ecdsa),
		cmocka_unit_test(test_host_ed25519),
		cmocka_unit_test(test_user_rsa_options),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_sshcert.c - OpenSSH certificates read (ssh/sshcert.c): the fields
 * of certificates made by ssh-keygen -s (user and host, ECDSA, ed25519 and
 * RSA, with principals, a validity window, a critical option, a serial);
 * the certified key told from another; and hostile blobs: every
 * truncation, every length field made huge, trailing bytes, a plain key;
 * the CA's signature checked (ed25519, ECDSA P-384, RSA with SHA-512 and
 * SHA-256; SHA-1 and a changed byte refused) and the host checks (kind,
 * validity, principals with wildcards, critical options); and the
 * server's side of a certificate fetch (ssh/certscan.c) parsed: a good
 * exchange, every prefix of it, every byte changed, a server without a
 * certificate type, a DISCONNECT, oversized lines and packets.
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
/* made by ssh-keygen -s CA -h, all for one ed25519 host key (not h's):
 * ec by an ECDSA P-384 CA, for host.example,*.wild.example, serial 7;
 * the others by one RSA 2048 CA, for host.example, signed with
 * rsa-sha2-512, rsa-sha2-256 and ssh-rsa; all valid 2020-2040 */
static const char host_ec_cert[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIHPQRmRJLZOh"
	"lMGdwK7kg+iw7H78ktRJ3rbZcI6hwwFHAAAAIBlQK/lKzkP772tYDcQeQ/Cw2QMM"
	"kCdoFx1+kcwGN1R6AAAAAAAAAAcAAAACAAAAB2VjLWhvc3QAAAAiAAAADGhvc3Qu"
	"ZXhhbXBsZQAAAA4qLndpbGQuZXhhbXBsZQAAAABeC+EAAAAAAIOqfoAAAAAAAAAA"
	"AAAAAAAAAACIAAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABh"
	"BC4JkcDN2K0fw7KXL3NYqr77po/0/zvtnXPn6f8TzZDdnTLQjiyGuUTGKtT1EBbn"
	"VqKCv08hHt7EaA33NIgTvjswWH2E8WDSdR7Q7h+vsvZX+FbSX6+0RKjf+lCc5sMk"
	"OQAAAIUAAAATZWNkc2Etc2hhMi1uaXN0cDM4NAAAAGoAAAAxAKnF7Ok1XTWN58AN"
	"jQp8AZrFX4PIU89dpn82M3gdkdLLbQn/w0fbT8hjCrR6bnVGOQAAADEAzjEUqcw7"
	"qIiqQ6x9xx3XD5upziPgViRXVeY2dD9DX58pEz+EoQoQ21HL1tV4nV2a";
static const char host_rsa512_cert[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIGKHUrVDBY8x"
	"r1bfAVQ2TUJU1n5ENWr0l2r5youBshlVAAAAIBlQK/lKzkP772tYDcQeQ/Cw2QMM"
	"kCdoFx1+kcwGN1R6AAAAAAAAAAAAAAACAAAABnJzYTUxMgAAABAAAAAMaG9zdC5l"
	"eGFtcGxlAAAAAF4L4QAAAAAAg6p+gAAAAAAAAAAAAAAAAAAAARcAAAAHc3NoLXJz"
	"YQAAAAMBAAEAAAEBAIxgJtigHKtpzLhByI2HPV3oWla5gd+tMHJvBV2KssnbNVcN"
	"wOuWECFsNqsJEQdyGHOcuIoKoJWQNzHWtzjosdJ4FQDASitBuPioTmSoE83mEy66"
	"PrYbD1ahfBjpa3lklVmqSGNAuKWTUX4XrJROvlM6YBj0sii8VjG9FUqbZdajw7Zx"
	"9ZTve1xpbZ97sxEel2q11Yxucjk1URZogaa2Ierbk3EG8FDIWtqGMRN5n2PRuuji"
	"NEw4mv4oRcbvu7pb+zgK9SaqDnlxmXsa18QyHXa+nhVVoAE4tmwYb4EaWw9+Tfiu"
	"WkwWm2mwInLWP9i9rnpt/DMLhPI+eMtd+hXMtBEAAAEUAAAADHJzYS1zaGEyLTUx"
	"MgAAAQBSYgFTn/sB2lyJN8jrYVFYMU9QH5WmLz03UDIttfMB4bZyE5wRdTRRh80G"
	"/xilr2UOJKxNFCpRUTvuE7Vwv6iyLyqLC+A6iXTo7RnlfqJaZdmdMdYPC64n6C2z"
	"yqVO1+OcPQqblyKqSEyTGlRwC+xWuPemNC1YFKBXMS0EPCoIu6eNJs4Ce6/Gr9JW"
	"o3RzqUxaM7HE+mvT8dRIuAiGmWTRGrRvdXjDZbHaWnaiFgw5aBhBvZ2vTGnVbUWn"
	"gALoEawdXpAF7a3kzop9+aLsDk9JUvp72Lh4UvuD6pMNdnXCB2KGG6LGR6F5u4cZ"
	"O2+tZzK6NZkqhQx7yBD99/YjE3X8";
static const char host_rsa256_cert[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIAVda0rMmuRE"
	"hZz6qCtf/rWqmGlhSgMw8PCJSE0w6hckAAAAIBlQK/lKzkP772tYDcQeQ/Cw2QMM"
	"kCdoFx1+kcwGN1R6AAAAAAAAAAAAAAACAAAABnJzYTI1NgAAABAAAAAMaG9zdC5l"
	"eGFtcGxlAAAAAF4L4QAAAAAAg6p+gAAAAAAAAAAAAAAAAAAAARcAAAAHc3NoLXJz"
	"YQAAAAMBAAEAAAEBAIxgJtigHKtpzLhByI2HPV3oWla5gd+tMHJvBV2KssnbNVcN"
	"wOuWECFsNqsJEQdyGHOcuIoKoJWQNzHWtzjosdJ4FQDASitBuPioTmSoE83mEy66"
	"PrYbD1ahfBjpa3lklVmqSGNAuKWTUX4XrJROvlM6YBj0sii8VjG9FUqbZdajw7Zx"
	"9ZTve1xpbZ97sxEel2q11Yxucjk1URZogaa2Ierbk3EG8FDIWtqGMRN5n2PRuuji"
	"NEw4mv4oRcbvu7pb+zgK9SaqDnlxmXsa18QyHXa+nhVVoAE4tmwYb4EaWw9+Tfiu"
	"WkwWm2mwInLWP9i9rnpt/DMLhPI+eMtd+hXMtBEAAAEUAAAADHJzYS1zaGEyLTI1"
	"NgAAAQBGsbKfL6O0tR9iLO2wQ6IhVEHhRljzUEVduAeqNYBj+bQ8QiWiiMePRFcv"
	"NAYKqKDnDdShyaGl4KY4iQElK6qszyyU7QZkGB2qRvYop+nbXx6rDXEkYIdhuUTs"
	"ZtOhS+RF8TBCpYLSxzfEqXqXltVUEIty05s3i1wEsHAMrur/YknbOg1mxnPOB992"
	"eVBsmMgIxa8brqaRdwTyKE3l10333e3sRHfqVxYRVfaRdwxr7su/6YtNUkCLWOZ/"
	"d7OvZ5fo0yQ9+pDhiqi8G7bfazLnJXym0JImjPpUAmvoT94oWkdmJjtHXSHC//6B"
	"0tsdYoATfVB4Kmk4q3mIjXyk7zfR";
static const char host_sha1_cert[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIAQL5oIY9N8c"
	"jCnrj94m0Mawwq0bYjgBTw/vwJcuoo6/AAAAIBlQK/lKzkP772tYDcQeQ/Cw2QMM"
	"kCdoFx1+kcwGN1R6AAAAAAAAAAAAAAACAAAABHNoYTEAAAAQAAAADGhvc3QuZXhh"
	"bXBsZQAAAABeC+EAAAAAAIOqfoAAAAAAAAAAAAAAAAAAAAEXAAAAB3NzaC1yc2EA"
	"AAADAQABAAABAQCMYCbYoByracy4QciNhz1d6FpWuYHfrTBybwVdirLJ2zVXDcDr"
	"lhAhbDarCREHchhznLiKCqCVkDcx1rc46LHSeBUAwEorQbj4qE5kqBPN5hMuuj62"
	"Gw9WoXwY6Wt5ZJVZqkhjQLilk1F+F6yUTr5TOmAY9LIovFYxvRVKm2XWo8O2cfWU"
	"73tcaW2fe7MRHpdqtdWMbnI5NVEWaIGmtiHq25NxBvBQyFrahjETeZ9j0bro4jRM"
	"OJr+KEXG77u6W/s4CvUmqg55cZl7GtfEMh12vp4VVaABOLZsGG+BGlsPfk34rlpM"
	"FptpsCJy1j/Yva56bfwzC4TyPnjLXfoVzLQRAAABDwAAAAdzc2gtcnNhAAABAGmU"
	"SCE8bAXkFdSGIyfdXrOZ4/egm9AaHaNY1Rj7r7v+iNFfmP2P7dp19L0qDzqvsD8y"
	"JOnTtZQtHJBkQE2DMO/ammv4kjTur81feu2iQ3WAODSp0ppeBLIGDiE4Ka/SScqt"
	"KZxmEIARzJcdfG2mzLa1EbVMDfOcTARH9OynNn3AGJyIvPivv+rynURhn2h0ntnZ"
	"fAFv0+CpbrDGrqGjq2xxeTUlmj/UaRgL++mvPdGV7uJ1wN1eE+sPjy6pfUOegy6f"
	"EsyIcmG8YT2CsyD79+/W7NsUnhd36UiszpRTMn0vw5Ug6yLx1u2ejpQ7z1PGmkm/"
	"RkHYucoAvyXHpgElOP8=";
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

/* A certificate, parsed and its CA signature checked. */
static int
verify(const char *b64, const char **why)
{
	struct sshcert c;
	unsigned char *blob;
	size_t len;
	int rc;

	blob = decode(b64, &len);
	assert_int_equal(sshcert_parse(blob, len, &c, why), 0);
	rc = sshcert_verify(&c, why);
	free(blob);
	return rc;
}

static void
test_verify(void **state)
{
	const char *good[] = { host_ed25519_cert, user_ecdsa_cert,
	    user_rsa_cert, host_ec_cert, host_rsa512_cert, host_rsa256_cert };
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (verify(good[i], &why) != 0)
			fail_msg("cert %zu: %s", i, why);
		assert_null(why);
	}
	assert_int_equal(verify(host_sha1_cert, &why), -1);
	assert_non_null(strstr(why, "ssh-rsa (SHA-1)"));
}

/* Any byte changed in what is signed, or in the signature, fails. */
static void
test_verify_tampered(void **state)
{
	const char *certs[] = { host_ed25519_cert, host_ec_cert,
	    host_rsa512_cert };
	struct sshcert c;
	unsigned char *blob;
	size_t i, j, len;
	const char *why;

	(void)state;
	for (i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		blob = decode(certs[i], &len);
		for (j = 0; j < len; j += 7) {
			blob[j] ^= 0x01;
			if (sshcert_parse(blob, len, &c, &why) == 0 &&
			    sshcert_verify(&c, &why) == 0)
				fail_msg("cert %zu byte %zu changed: verified",
				    i, j);
			blob[j] ^= 0x01;
		}
		free(blob);
	}
}

/* Another CA key put in the place of the signer's: refused. */
static void
test_verify_other_ca(void **state)
{
	struct sshcert c, o;
	unsigned char *blob, *other, *swapped;
	size_t len, olen, head, tail;
	const char *why;

	(void)state;
	blob = decode(host_rsa512_cert, &len);
	other = decode(host_rsa256_cert, &olen);
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_int_equal(sshcert_parse(other, olen, &o, &why), 0);
	/* rsa512's signed part with rsa256's signature: same CA, wrong data */
	head = (size_t)(c.signature.p - blob);
	tail = o.signature.len;
	swapped = malloc(head + tail);
	assert_non_null(swapped);
	memcpy(swapped, blob, head);
	memcpy(swapped + head, o.signature.p, tail);
	swapped[head - 4] = (unsigned char)(tail >> 24);
	swapped[head - 3] = (unsigned char)(tail >> 16);
	swapped[head - 2] = (unsigned char)(tail >> 8);
	swapped[head - 1] = (unsigned char)tail;
	assert_int_equal(sshcert_parse(swapped, head + tail, &c, &why), 0);
	assert_int_equal(sshcert_verify(&c, &why), -1);
	assert_non_null(strstr(why, "does not verify"));
	free(swapped);
	free(other);
	free(blob);
}

static void
test_check_host(void **state)
{
	struct sshcert c;
	unsigned char *blob;
	size_t len;
	const char *why;
	uint64_t now = 1800000000;	/* 2027 */

	(void)state;
	blob = decode(host_ec_cert, &len);
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_int_equal(c.serial, 7);
	assert_int_equal(sshcert_check_host(&c, "host.example", now, &why), 0);
	assert_int_equal(sshcert_check_host(&c, "a.wild.example", now, &why),
	    0);
	assert_int_equal(sshcert_check_host(&c, "wild.example", now, &why),
	    -1);
	assert_non_null(strstr(why, "principals"));
	assert_int_equal(sshcert_check_host(&c, "host.example.org", now,
	    &why), -1);
	assert_int_equal(sshcert_check_host(&c, "host.example", 1500000000,
	    &why), -1);
	assert_string_equal(why, "not yet valid");
	assert_int_equal(sshcert_check_host(&c, "host.example", 2500000000,
	    &why), -1);
	assert_string_equal(why, "expired");
	assert_int_equal(sshcert_check_host(&c, "host.example", c.valid_before,
	    &why), -1);
	c.nprincipals = 0;
	assert_int_equal(sshcert_check_host(&c, "host.example", now, &why),
	    -1);
	assert_non_null(strstr(why, "no principals"));
	free(blob);

	blob = decode(user_rsa_cert, &len);	/* force-command */
	assert_int_equal(sshcert_parse(blob, len, &c, &why), 0);
	assert_int_equal(sshcert_check_host(&c, "alice", now, &why), -1);
	assert_string_equal(why, "not a host certificate");
	c.kind = SSHCERT_HOST;
	assert_int_equal(sshcert_check_host(&c, "alice", now, &why), -1);
	assert_non_null(strstr(why, "critical options"));
	free(blob);
}

/* --- certscan.c's parse --------------------------------------------- */

struct stream {
	unsigned char	buf[8192];
	size_t		len;
};

static void
put(struct stream *st, const void *p, size_t len)
{
	assert_true(st->len + len <= sizeof st->buf);
	memcpy(st->buf + st->len, p, len);
	st->len += len;
}

static void
put_u32(struct stream *st, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	put(st, b, 4);
}

static void
put_str(struct stream *st, const void *p, size_t len)
{
	put_u32(st, (uint32_t)len);
	put(st, p, len);
}

/* A packet as a server sends it unencrypted: padding to 8, at least 4. */
static void
put_packet(struct stream *st, const struct stream *payload)
{
	size_t pad = 8 - (payload->len + 5) % 8;
	unsigned char zero[16] = { 0 };

	if (pad < 4)
		pad += 8;
	put_u32(st, (uint32_t)(1 + payload->len + pad));
	put(st, (unsigned char[]){ (unsigned char)pad }, 1);
	put(st, payload->buf, payload->len);
	put(st, zero, pad);
}

static void
server_kexinit(struct stream *st, const char *hostkeys)
{
	struct stream p = { .len = 0 };
	unsigned char cookie[16] = { 1 };
	int i;

	put(&p, (unsigned char[]){ 20 }, 1);
	put(&p, cookie, sizeof cookie);
	put_str(&p, "sntrup761x25519-sha512,curve25519-sha256", 40);
	put_str(&p, hostkeys, strlen(hostkeys));
	for (i = 0; i < 8; i++)
		put_str(&p, "aes128-ctr", i < 6 ? 10 : 0);
	put(&p, (unsigned char[]){ 0, 0, 0, 0, 0 }, 5);
	put_packet(st, &p);
}

/* What an OpenSSH server sends: a banner line, its identification, its
 * KEXINIT, an IGNORE, the ECDH reply with the certificate. */
static void
server_stream(struct stream *st, const char *hostkeys)
{
	struct stream p = { .len = 0 };
	unsigned char q[32] = { 9 }, sig[83] = { 0 }, *cert;
	size_t len;
	const char *banner = "welcome\r\nSSH-2.0-OpenSSH_9.2 Debian\r\n";

	st->len = 0;
	put(st, banner, strlen(banner));
	server_kexinit(st, hostkeys);
	put(&p, (unsigned char[]){ 2 }, 1);
	put_str(&p, "x", 1);
	put_packet(st, &p);
	p.len = 0;
	cert = decode(host_ed25519_cert, &len);
	put(&p, (unsigned char[]){ 31 }, 1);
	put_str(&p, cert, len);
	put_str(&p, q, sizeof q);
	put_str(&p, sig, sizeof sig);
	put_packet(st, &p);
	free(cert);
}

#define WANT	"ssh-ed25519-cert-v01@openssh.com"

/* Parse len bytes of st as they would come: 1 done, 0 more wanted, -1. */
static int
scan(const unsigned char *bytes, size_t len, struct certscan_rx *rx,
    const char **why)
{
	int rc;

	certscan_rx_init(rx, WANT);
	memcpy(rx->buf, bytes, len);
	rx->len = len;
	while ((rc = certscan_rx_step(rx, why)) == 1) {
		if (rx->state == CSR_DONE)
			return 1;
	}
	return rc;
}

static void
test_scan(void **state)
{
	struct stream st;
	struct certscan_rx rx;
	unsigned char *cert;
	size_t len, n;
	const char *why;

	(void)state;
	server_stream(&st, "ssh-ed25519," WANT);
	assert_int_equal(scan(st.buf, st.len, &rx, &why), 1);
	cert = decode(host_ed25519_cert, &len);
	assert_int_equal(rx.certlen, len);
	assert_memory_equal(rx.cert, cert, len);
	free(cert);
	certscan_rx_free(&rx);
	/* every prefix wants more, and reads nothing beyond it */
	for (n = 0; n < st.len; n++) {
		assert_int_equal(scan(st.buf, n, &rx, &why), 0);
		certscan_rx_free(&rx);
	}
}

static void
test_scan_hostile(void **state)
{
	struct stream st, bad;
	struct certscan_rx rx;
	const char *why;
	size_t i;
	int b;

	(void)state;
	server_stream(&st, WANT);
	for (i = 0; i < st.len; i++) {
		for (b = 0; b < 3; b++) {
			bad = st;
			bad.buf[i] = b == 0 ? 0xff : b == 1 ? 0x00 :
			    (unsigned char)(bad.buf[i] ^ 0x40);
			if (scan(bad.buf, bad.len, &rx, &why) == -1)
				assert_non_null(why);
			certscan_rx_free(&rx);
		}
	}
	server_stream(&st, "ssh-ed25519,rsa-sha2-512");
	assert_int_equal(scan(st.buf, st.len, &rx, &why), -1);
	assert_string_equal(why, "the server offers no host certificate "
	    "(its HostCertificate lines)");
	certscan_rx_free(&rx);

	/* a line of 300 bytes; 21 lines before the identification */
	memset(bad.buf, 'a', 300);
	assert_int_equal(scan(bad.buf, 300, &rx, &why), -1);
	assert_non_null(strstr(why, "255"));
	certscan_rx_free(&rx);
	for (i = 0; i < 21; i++)
		memcpy(bad.buf + i * 3, "x\r\n", 3);
	assert_int_equal(scan(bad.buf, 63, &rx, &why), -1);
	assert_non_null(strstr(why, "20 lines"));
	certscan_rx_free(&rx);

	/* a packet said to be 1 MB; a DISCONNECT */
	bad.len = 0;
	put(&bad, "SSH-2.0-x\n", 10);
	put_u32(&bad, 1 << 20);
	put(&bad, (unsigned char[]){ 4, 0, 0, 0 }, 4);
	assert_int_equal(scan(bad.buf, bad.len, &rx, &why), -1);
	assert_non_null(strstr(why, "damaged packet"));
	certscan_rx_free(&rx);
	bad.len = 10;
	st.len = 0;
	put(&st, (unsigned char[]){ 1, 0, 0, 0, 2 }, 5);
	put_str(&st, "too many\nconnections", 20);
	put_str(&st, "", 0);
	put_packet(&bad, &st);
	assert_int_equal(scan(bad.buf, bad.len, &rx, &why), -1);
	assert_string_equal(why, "too many?connections");
	certscan_rx_free(&rx);
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
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_tampered),
		cmocka_unit_test(test_verify_other_ca),
		cmocka_unit_test(test_check_host),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_scan_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

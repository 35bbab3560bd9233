/*
 * test_socks.c - the SOCKS parser on whole, split and hostile input, the
 * answers it writes, and permit_remote_open's syntax and matching.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

/* Feed b one byte at a time, as a slow client would: the result must be
 * the same as for the whole message at once. */
static int
feed(struct socks *s, const unsigned char *b, size_t len, size_t *used,
    int bytewise)
{
	const char *why;
	size_t n;
	int rc = SOCKS_MORE;

	if (!bytewise)
		return socks_input(s, b, len, used, &why);
	for (n = 1; n <= len; n++) {
		rc = socks_input(s, b, n, used, &why);
		if (rc != SOCKS_MORE)
			break;
		assert_int_equal(*used, 0);
	}
	return rc;
}

static void
test_socks4(void **state)
{
	static const unsigned char m[] = { 4, 1, 0x1f, 0x90, 10, 1, 2, 3,
	    'b', 'o', 'b', 0, 'X' };
	struct socks s;
	size_t used;
	int bytewise;

	for (bytewise = 0; bytewise < 2; bytewise++) {
		memset(&s, 0, sizeof s);
		assert_int_equal(feed(&s, m, sizeof m, &used, bytewise),
		    SOCKS_REQUEST);
		assert_int_equal(used, 12);	/* the 'X' is payload */
		assert_string_equal(s.req.host, "10.1.2.3");
		assert_int_equal(s.req.port, 8080);
		assert_int_equal(s.version, 4);
	}
	socks_reply(&s, SOCKS5_OK);
	assert_int_equal(s.outlen, 8);
	assert_int_equal(s.out[1], 0x5a);
	socks_reply(&s, SOCKS5_REFUSED);
	assert_int_equal(s.out[1], 0x5b);
}

static void
test_socks4a(void **state)
{
	static const unsigned char m[] = { 4, 1, 0, 80, 0, 0, 0, 9, 0,
	    'e', 'x', '.', 'o', 'r', 'g', 0 };
	struct socks s;
	size_t used;
	int bytewise;

	for (bytewise = 0; bytewise < 2; bytewise++) {
		memset(&s, 0, sizeof s);
		assert_int_equal(feed(&s, m, sizeof m, &used, bytewise),
		    SOCKS_REQUEST);
		assert_int_equal(used, sizeof m);
		assert_string_equal(s.req.host, "ex.org");
		assert_int_equal(s.req.port, 80);
	}
}

static void
test_socks5(void **state)
{
	static const unsigned char greet[] = { 5, 2, 2, 0 };
	static const unsigned char dom[] = { 5, 1, 0, 3, 7, 'e', 'x', '.',
	    'o', 'r', 'g', '1', 1, 187 };
	static const unsigned char v6[] = { 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22 };
	struct socks s;
	const char *why;
	size_t used;

	memset(&s, 0, sizeof s);
	assert_int_equal(socks_input(&s, greet, 3, &used, &why), SOCKS_MORE);
	assert_int_equal(socks_input(&s, greet, sizeof greet, &used, &why),
	    SOCKS_REPLY);
	assert_int_equal(used, 4);
	assert_int_equal(s.outlen, 2);
	assert_int_equal(s.out[1], 0);	/* no authentication */
	assert_int_equal(feed(&s, dom, sizeof dom, &used, 1), SOCKS_REQUEST);
	assert_string_equal(s.req.host, "ex.org1");
	assert_int_equal(s.req.port, 443);
	socks_reply(&s, SOCKS5_NOT_ALLOWED);
	assert_int_equal(s.outlen, 10);
	assert_int_equal(s.out[0], 5);
	assert_int_equal(s.out[1], 2);

	memset(&s, 0, sizeof s);
	s.stage = 1;
	s.version = 5;
	assert_int_equal(socks_input(&s, v6, sizeof v6, &used, &why),
	    SOCKS_REQUEST);
	assert_string_equal(s.req.host, "::1");
	assert_int_equal(s.req.port, 22);
}

static void
test_socks_refusals(void **state)
{
	static const unsigned char noauth[] = { 5, 1, 2 };
	static const unsigned char bind5[] = { 5, 2, 0, 1, 1, 2, 3, 4, 0, 80 };
	static const unsigned char udp5[] = { 5, 3, 0, 1, 1, 2, 3, 4, 0, 80 };
	static const unsigned char atyp[] = { 5, 1, 0, 9, 1, 2, 3, 4, 0, 80 };
	static const unsigned char nul[] = { 5, 1, 0, 3, 3, 'a', 0, 'b', 0,
	    80 };
	static const unsigned char bind4[] = { 4, 2, 0, 80, 1, 2, 3, 4, 0 };
	static const unsigned char http[] = "GET / HTTP/1.0\r\n\r\n";
	unsigned char longuser[300];
	struct socks s;
	const char *why;
	size_t used;

	memset(&s, 0, sizeof s);
	assert_int_equal(socks_input(&s, noauth, sizeof noauth, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.out[1], 0xff);
	assert_non_null(why);

	memset(&s, 0, sizeof s);
	s.stage = 1;
	s.version = 5;
	assert_int_equal(socks_input(&s, bind5, sizeof bind5, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.out[1], SOCKS5_BAD_COMMAND);
	assert_int_equal(socks_input(&s, udp5, sizeof udp5, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.out[1], SOCKS5_BAD_COMMAND);
	assert_int_equal(socks_input(&s, atyp, sizeof atyp, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.out[1], SOCKS5_BAD_ATYP);
	assert_int_equal(socks_input(&s, nul, sizeof nul, &used, &why),
	    SOCKS_ERROR);

	memset(&s, 0, sizeof s);
	assert_int_equal(socks_input(&s, bind4, sizeof bind4, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.out[1], 0x5b);

	memset(&s, 0, sizeof s);
	assert_int_equal(socks_input(&s, http, sizeof http - 1, &used, &why),
	    SOCKS_ERROR);
	assert_int_equal(s.outlen, 0);	/* not SOCKS: no answer at all */

	memset(&s, 0, sizeof s);
	memset(longuser, 'u', sizeof longuser);
	memcpy(longuser, "\x04\x01\x00\x50\x01\x02\x03\x04", 8);
	assert_int_equal(socks_input(&s, longuser, sizeof longuser, &used,
	    &why), SOCKS_ERROR);
}

static void
test_socks_codes(void **state)
{
	assert_int_equal(socks_code_for_open_error(
	    "Channel open failure (administratively prohibited)"),
	    SOCKS5_NOT_ALLOWED);
	assert_int_equal(socks_code_for_open_error(
	    "Channel open failure (connect failed)"), SOCKS5_REFUSED);
	assert_int_equal(socks_code_for_open_error("Channel open failure"),
	    SOCKS5_GENERAL);
	assert_int_equal(socks_code_for_errno(ECONNREFUSED), SOCKS5_REFUSED);
	assert_int_equal(socks_code_for_errno(-1), SOCKS5_HOST_UNREACH);
	assert_int_equal(socks_code_for_errno(ENETUNREACH),
	    SOCKS5_NET_UNREACH);
}

static void
test_permit(void **state)
{
	struct permit p[3];
	char *cause = NULL;

	assert_int_equal(permit_parse("localhost:80", &p[0], &cause), 0);
	assert_int_equal(permit_parse("*:443", &p[1], &cause), 0);
	assert_int_equal(permit_parse("[2001:db8::1]:*", &p[2], &cause), 0);
	assert_int_equal(p[2].port, -1);
	assert_string_equal(p[2].host, "2001:db8::1");
	assert_true(permit_match(p, 3, "localhost", 80));
	assert_true(permit_match(p, 3, "LocalHost", 80));
	assert_false(permit_match(p, 3, "localhost", 81));
	assert_true(permit_match(p, 3, "example.org", 443));
	assert_true(permit_match(p, 3, "2001:db8::1", 22));
	assert_false(permit_match(p, 3, "127.0.0.1", 80));	/* no lookups */
	assert_false(permit_match(p, 0, "localhost", 80));

	free(p[0].host);
	assert_int_equal(permit_parse("localhost", &p[0], &cause), -1);
	assert_non_null(strstr(cause, "host:port"));
	free(cause);
	assert_int_equal(permit_parse("a:b:c", &p[0], &cause), -1);
	free(cause);
	assert_int_equal(permit_parse("host:99999", &p[0], &cause), -1);
	free(cause);
	free(p[1].host);
	free(p[2].host);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks4),
		cmocka_unit_test(test_socks4a),
		cmocka_unit_test(test_socks5),
		cmocka_unit_test(test_socks_refusals),
		cmocka_unit_test(test_socks_codes),
		cmocka_unit_test(test_permit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_fwdspec.c - OpenSSH forward syntax, valid and malformed. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

struct good {
	const char	*list, *spec;
	enum fwd_kind	 kind;
	const char	*lhost;
	int		 lport;
	const char	*lpath, *chost;
	int		 cport;
	const char	*cpath;
};

static const struct good goods[] = {
	/* ssh -L */
	{ "local", "9143:localhost:143", FWD_LOCAL, NULL, 9143, NULL,
	    "localhost", 143, NULL },
	{ "local", "127.0.0.1:9143:localhost:143", FWD_LOCAL, "127.0.0.1",
	    9143, NULL, "localhost", 143, NULL },
	{ "local", "localhost:9143:mail:143", FWD_LOCAL, "localhost", 9143,
	    NULL, "mail", 143, NULL },
	{ "local", "*:8080:web:80", FWD_LOCAL, "*", 8080, NULL, "web", 80,
	    NULL },
	{ "local", ":8080:web:80", FWD_LOCAL, "", 8080, NULL, "web", 80,
	    NULL },
	{ "local", "[::1]:8080:[2001:db8::1]:80", FWD_LOCAL, "::1", 8080, NULL,
	    "2001:db8::1", 80, NULL },
	{ "local", "8080:[2001:db8::2]:443", FWD_LOCAL, NULL, 8080, NULL,
	    "2001:db8::2", 443, NULL },
	{ "local", "  9143:localhost:143", FWD_LOCAL, NULL, 9143, NULL,
	    "localhost", 143, NULL },
	{ "local", "5432:/var/run/postgresql/.s.PGSQL.5432", FWD_LOCAL, NULL,
	    5432, NULL, NULL, -1, "/var/run/postgresql/.s.PGSQL.5432" },
	{ "local", "127.0.0.1:5432:/run/pg.sock", FWD_LOCAL, "127.0.0.1",
	    5432, NULL, NULL, -1, "/run/pg.sock" },
	{ "local", "/tmp/local.sock:db:5432", FWD_LOCAL, NULL, -1,
	    "/tmp/local.sock", "db", 5432, NULL },
	{ "local", "/tmp/a.sock:/tmp/b.sock", FWD_LOCAL, NULL, -1,
	    "/tmp/a.sock", NULL, -1, "/tmp/b.sock" },
	{ "local", "[/tmp/x:y.sock]:db:5432", FWD_LOCAL, NULL, -1,
	    "/tmp/x:y.sock", "db", 5432, NULL },
	{ "local", "65535:h:65535", FWD_LOCAL, NULL, 65535, NULL, "h", 65535,
	    NULL },
	/* ssh -R */
	{ "remote", "*:9923:10.13.21.88:23", FWD_REMOTE, "*", 9923, NULL,
	    "10.13.21.88", 23, NULL },
	{ "remote", "9923:10.13.21.88:23", FWD_REMOTE, NULL, 9923, NULL,
	    "10.13.21.88", 23, NULL },
	{ "remote", "0:localhost:22", FWD_REMOTE, NULL, 0, NULL, "localhost",
	    22, NULL },
	{ "remote", "gw.example:2222:localhost:22", FWD_REMOTE, "gw.example",
	    2222, NULL, "localhost", 22, NULL },
	{ "remote", "8022:/run/local.sock", FWD_REMOTE, NULL, 8022, NULL,
	    NULL, -1, "/run/local.sock" },
	/* ssh -R [bind:]port: reverse dynamic */
	{ "remote", "1080", FWD_REMOTE_DYNAMIC, NULL, 1080, NULL, NULL, -1,
	    NULL },
	{ "remote", "0", FWD_REMOTE_DYNAMIC, NULL, 0, NULL, NULL, -1, NULL },
	{ "remote", "127.0.0.1:1080", FWD_REMOTE_DYNAMIC, "127.0.0.1", 1080,
	    NULL, NULL, -1, NULL },
	{ "remote", "*:1080", FWD_REMOTE_DYNAMIC, "*", 1080, NULL, NULL, -1,
	    NULL },
	/* ssh -D */
	{ "dynamic", "1080", FWD_DYNAMIC, NULL, 1080, NULL, NULL, -1, NULL },
	{ "dynamic", "127.0.0.1:1080", FWD_DYNAMIC, "127.0.0.1", 1080, NULL,
	    NULL, -1, NULL },
	{ "dynamic", "[::1]:1080", FWD_DYNAMIC, "::1", 1080, NULL, NULL, -1,
	    NULL },
	{ "dynamic", "*:1080", FWD_DYNAMIC, "*", 1080, NULL, NULL, -1, NULL },
	{ "dynamic", ":1080", FWD_DYNAMIC, "", 1080, NULL, NULL, -1, NULL },
};

struct bad {
	const char	*list, *spec, *expect;	/* a part of the message */
};

static const struct bad bads[] = {
	{ "local", "", "malformed" },
	{ "local", "9143", "malformed local forward" },
	{ "local", "9143:localhost", "malformed local forward" },
	{ "local", "0:localhost:22", "listen port 0" },
	{ "local", "70000:localhost:22", "bad listen port \"70000\"" },
	{ "local", "9143:localhost:0", "target port 0" },
	{ "local", "9143:localhost:-1", "bad target port" },
	{ "local", "9143:localhost:99999", "bad target port" },
	{ "local", "nosuchservice:localhost:22", "bad listen port" },
	{ "local", "1:2:3:4:5", "malformed" },
	{ "local", "1:2:3:4:5:6", "malformed" },
	{ "local", "[::1:8080:x:80", "malformed" },
	{ "local", "[::1]x:8080:x:80", "malformed" },
	{ "local", "9143::143", "empty target host" },
	{ "local", "9143:mail host:143", "space" },
	{ "local", "host.example:9143:localhost:143", "must be an IP address" },
	{ "local", "9143:localhost:143\\", "malformed" },
	{ "local", "/tmp/a.sock:/tmp/b.sock:x", "bad target port" },
	{ "dynamic", "1080:localhost:80", "malformed dynamic forward" },
	{ "dynamic", "0", "listen port 0" },
	{ "dynamic", "/tmp/socks.sock", "not allowed" },
	{ "dynamic", "a:b:c", "malformed dynamic" },
	{ "dynamic", "proxy.example:1080", "must be an IP address" },
	{ "remote", "/remote.sock:localhost:22", "libssh2 1.10" },
	{ "remote", "/remote.sock:/local.sock", "libssh2 1.10" },
	{ "remote", "a:b:c:d:e", "malformed" },
	{ "remote", "9923:10.0.0.1:0", "target port 0" },
	{ "remote", "-5", "bad listen port" },
};

/* Both NULL, or equal strings. */
static void
str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void
test_good(void **state)
{
	const struct good *g;
	struct fwdspec f;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < nitems(goods); i++) {
		g = &goods[i];
		if (fwdspec_parse(g->list, g->spec, &f, &cause) != 0)
			fail_msg("%s \"%s\": %s", g->list, g->spec, cause);
		assert_int_equal(f.kind, g->kind);
		assert_string_equal(f.spec, g->spec);
		str_or_null(f.listen.host, g->lhost);
		assert_int_equal(f.listen.port, g->lport);
		str_or_null(f.listen.path, g->lpath);
		str_or_null(f.connect.host, g->chost);
		assert_int_equal(f.connect.port, g->cport);
		str_or_null(f.connect.path, g->cpath);
		fwdspec_clear(&f);
	}
}

static void
test_bad(void **state)
{
	struct fwdspec f;
	char *cause;
	size_t i;

	for (i = 0; i < nitems(bads); i++) {
		cause = NULL;
		if (fwdspec_parse(bads[i].list, bads[i].spec, &f, &cause) == 0)
			fail_msg("%s \"%s\" was accepted", bads[i].list,
			    bads[i].spec);
		assert_non_null(cause);
		if (strstr(cause, bads[i].expect) == NULL)
			fail_msg("%s \"%s\": \"%s\" does not say \"%s\"",
			    bads[i].list, bads[i].spec, cause,
			    bads[i].expect);
		free(cause);
	}
}

static void
test_service_name(void **state)
{
	struct fwdspec f;
	char *cause = NULL;

	/* as ssh's a2port(): a name from /etc/services works too */
	if (fwdspec_parse("local", "9143:localhost:imap", &f, &cause) != 0)
		skip();		/* no /etc/services here */
	assert_int_equal(f.connect.port, 143);
	fwdspec_clear(&f);
}

static int
conflict(const char *la, const char *a, const char *lb, const char *b)
{
	struct fwdspec fa, fb;
	char *cause = NULL;
	int r;

	assert_int_equal(fwdspec_parse(la, a, &fa, &cause), 0);
	assert_int_equal(fwdspec_parse(lb, b, &fb, &cause), 0);
	r = fwdspec_listen_conflict(&fa, &fb);
	fwdspec_clear(&fa);
	fwdspec_clear(&fb);
	return r;
}

static void
test_conflicts(void **state)
{
	assert_true(conflict("local", "8080:a:80", "local", "8080:b:80"));
	assert_true(conflict("local", "8080:a:80", "dynamic", "8080"));
	assert_true(conflict("local", "*:8080:a:80", "local",
	    "127.0.0.1:8080:b:80"));
	assert_true(conflict("local", "localhost:8080:a:80", "dynamic",
	    "8080"));
	assert_true(conflict("local", "/tmp/s:a:80", "local", "/tmp/s:b:81"));
	assert_false(conflict("local", "8080:a:80", "local", "8081:a:80"));
	assert_false(conflict("local", "127.0.0.2:8080:a:80", "local",
	    "127.0.0.3:8080:a:80"));
	assert_false(conflict("local", "8080:a:80", "remote", "8080:a:80"));
	assert_false(conflict("remote", "0:a:80", "remote", "0:b:80"));
	assert_true(conflict("remote", "8080:a:80", "remote", "8080"));
}

static void
test_listen_string(void **state)
{
	struct fwd_addr a = { NULL, 9143, NULL };
	char *s;

	s = fwdspec_listen_string(&a);
	assert_string_equal(s, "localhost:9143");
	free(s);
	a.host = (char *)"::1";
	s = fwdspec_listen_string(&a);
	assert_string_equal(s, "[::1]:9143");
	free(s);
	a.host = (char *)"";
	s = fwdspec_listen_string(&a);
	assert_string_equal(s, "*:9143");
	free(s);
}

static void
test_permit_good(void **state)
{
	static const struct {
		const char	*spec, *host;
		int		 port;
	} v[] = {
		{ "db.example.org:5432", "db.example.org", 5432 },
		{ "127.0.0.1:80", "127.0.0.1", 80 },
		{ "[::1]:443", "::1", 443 },
		{ "*:22", "*", 22 },
		{ "localhost:*", "localhost", -1 },
		{ "[fe80::1]:*", "fe80::1", -1 },
	};
	struct permit p;
	char *cause;
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		cause = NULL;
		if (permit_parse(v[i].spec, &p, &cause) != 0)
			fail_msg("\"%s\" refused: %s", v[i].spec, cause);
		assert_string_equal(p.host, v[i].host);
		assert_int_equal(p.port, v[i].port);
		free(p.host);
	}
}

/* Nothing may follow the port: every entry is host:port, all of it. */
static void
test_permit_bad(void **state)
{
	static const struct {
		const char	*spec, *expect;
	} v[] = {
		{ "host:80:[junk", "junk after the port" },
		{ "[::1]:80:[x", "junk after the port" },
		{ "host:80:", "junk after the port" },
		{ "host:80:90", "expected host:port" },
		{ "host", "expected host:port" },
		{ "", "expected host:port" },
		{ ":80", "expected host:port" },
		{ "host:", "expected host:port" },
		{ "[::1]x:80", "expected host:port" },
		{ "host:80x", "bad permit_remote_open port" },
		{ "ho st:80", "space or control character" },
	};
	struct permit p;
	char *cause;
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		cause = NULL;
		if (permit_parse(v[i].spec, &p, &cause) == 0)
			fail_msg("\"%s\" was accepted as %s port %d",
			    v[i].spec, p.host, p.port);
		assert_non_null(cause);
		if (strstr(cause, v[i].expect) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"",
			    v[i].spec, cause, v[i].expect);
		free(cause);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_service_name),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_listen_string),
		cmocka_unit_test(test_permit_good),
		cmocka_unit_test(test_permit_bad),
	};

	return cmocka_run_group_tests_name("fwdspec", tests, NULL, NULL);
}

/* test_config.c - tunneld.conf validation: every error with its line. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld.h"

static char dir[] = "/tmp/tunneld-unit.XXXXXX";

static char *
write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	xasprintf(&path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text as a configuration; the errors (and the config, if wanted). */
static struct config *
load(const char *text, struct errlist *e)
{
	char *path = write_file("t.conf", text);
	struct config *c;

	memset(e, 0, sizeof *e);
	c = config_load(path, e);
	free(path);
	return c;
}

/* Expect exactly one error, on that line, saying that. */
static void
expect_error(const char *text, int line, const char *what)
{
	struct errlist e;
	struct config *c = load(text, &e);
	char prefix[512];
	size_t i;

	if (c != NULL)
		fail_msg("accepted; expected line %d: %s", line, what);
	snprintf(prefix, sizeof prefix, "%s/t.conf:%d: ", dir, line);
	for (i = 0; i < e.n; i++) {
		if (strncmp(e.v[i], prefix, strlen(prefix)) == 0 &&
		    strstr(e.v[i], what) != NULL)
			break;
	}
	if (i == e.n)
		fail_msg("no error \"%s%s\" among %zu: %s", prefix, what, e.n,
		    e.n ? e.v[0] : "(none)");
	errlist_clear(&e);
}

static const char full[] =
    "control_socket = \"/run/tunneld/tunneld.sock\";\n"
    "log_level = \"debug\"; workers = 3;\n"
    "defaults = {\n"
    "  port = 2222;\n"
    "  user = \"tunnel\";\n"
    "  identity_file = \"keys/id_ed25519\";\n"
    "  known_hosts = \"/etc/tunneld/known_hosts\";\n"
    "  keepalive_interval = 0.5;\n"
    "  keepalive_count = 4;\n"
    "  connect_timeout = 7;\n"
    "  reconnect_min = 2;\n"
    "  reconnect_max = 60;\n"
    "};\n"
    "tunnels = {\n"
    "  campus-bbs = {\n"
    "    host = \"t.example.org\";\n"
    "    user = \"kid\";\n"
    "    autostart = false;\n"
    "    local   = [ \"9143:localhost:143\" ];\n"
    "    remote  = [ \"*:9923:10.13.21.88:23\", \"0\" ];\n"
    "    dynamic = [ \"1080\" ];\n"
    "  };\n"
    "  db_2 = {\n"
    "    host = \"db.example.org\"; port = 22;\n"
    "    host_key = \"SHA256:mOFj6SXYltTk55tL1051B1UxSTcWz0dXdnnT9sZekHY\";\n"
    "    strict_host_key_checking = \"accept-new\";\n"
    "    local = \"5432:/run/postgresql/.s.PGSQL.5432\";\n"
    "  };\n"
    "};\n";

static void
test_full(void **state)
{
	struct tunnel_conf *a, *b;
	struct errlist e;
	struct config *c = load(full, &e);
	char *key;

	if (c == NULL)
		fail_msg("%s", e.v[0]);
	assert_int_equal(c->ntunnels, 2);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_int_equal(c->workers, 3);
	a = config_find(c, "campus-bbs");
	b = config_find(c, "db_2");
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->host, "t.example.org");
	assert_string_equal(a->user, "kid");		/* overrides */
	assert_string_equal(b->user, "tunnel");		/* inherited */
	assert_int_equal(a->port, 2222);
	assert_int_equal(b->port, 22);
	assert_false(a->autostart);
	assert_true(b->autostart);
	assert_true(a->keepalive_interval > 0.49 && a->keepalive_interval < 0.51);
	assert_int_equal(a->keepalive_count, 4);
	assert_int_equal(a->nfwds, 4);
	assert_int_equal(a->fwds[0].kind, FWD_LOCAL);
	assert_int_equal(a->fwds[1].kind, FWD_REMOTE);
	assert_int_equal(a->fwds[2].kind, FWD_REMOTE_DYNAMIC);
	assert_int_equal(a->fwds[3].kind, FWD_DYNAMIC);
	assert_int_equal(a->fwds[0].line, 19);
	/* relative paths are relative to the configuration file */
	xasprintf(&key, "%s/keys/id_ed25519", dir);
	assert_string_equal(a->identity_file, key);
	free(key);
	assert_int_equal(b->strict, HKC_ACCEPT_NEW);
	assert_non_null(b->host_key);
	assert_int_equal(b->nfwds, 1);
	config_free(c);
}

static void
test_syntax(void **state)
{
	expect_error("tunnels = {\n  a = {\n    host = ;\n  };\n};\n", 3,
	    "syntax error");
}

static void
test_unknown(void **state)
{
	expect_error("tunnels = {\n a = {\n  host = \"x\";\n  hots = 1;\n };\n};\n",
	    4, "unknown setting \"hots\"");
	expect_error("frobnicate = 1;\n", 1, "unknown setting \"frobnicate\"");
	expect_error("defaults = {\n  Port = 22;\n};\n", 2,
	    "unknown setting \"Port\"");
}

static void
test_types(void **state)
{
	expect_error("tunnels = { a = {\n host = \"x\";\n port = \"22\";\n};};\n",
	    3, "port: expected an integer");
	expect_error("tunnels = { a = {\n host = \"x\";\n port = 70000;\n};};\n",
	    3, "out of range");
	expect_error("tunnels = { a = {\n host = \"x\";\n port = 0;\n};};\n",
	    3, "out of range");
	expect_error("tunnels = { a = {\n host = 5;\n};};\n", 2,
	    "host: expected a string");
	expect_error("tunnels = { a = {\n host = \"x\";\n autostart = 1;\n};};\n",
	    3, "autostart: expected true or false");
	expect_error("tunnels = { a = {\n host = \"x\";\n connect_timeout = "
	    "\"10\";\n};};\n", 3, "expected a number");
	expect_error("tunnels = { a = {\n host = \"x\";\n keepalive_interval "
	    "= -1;\n};};\n", 3, "out of range");
	expect_error("tunnels = { a = {\n host = \"x\";\n local = 9143;\n};};\n",
	    3, "expected a list of strings");
	expect_error("tunnels = { a = {\n host = \"x\";\n local = ( \"9143:h:1\","
	    "\n 5 );\n};};\n", 4, "entry 2 is not a string");
	expect_error("log_level = \"loud\";\n", 1, "log_level");
	expect_error("\nworkers = 65;\n", 2,
	    "workers: 65 is out of range (0-64)");
	expect_error("workers = \"4\";\n", 1, "workers: expected an integer");
	expect_error("tunnels = { a = {\n host = \"x\";\n strict_host_key_checking"
	    " = \"no\";\n};};\n", 3, "expected \"yes\" or \"accept-new\"");
	expect_error("tunnels = { a = {\n host = \"x\";\n host_key = \"MD5:aa\";"
	    "\n};};\n", 3, "SHA256 fingerprint");
	expect_error("control_socket = \"relative.sock\";\n", 1,
	    "absolute path");
	expect_error("tunnels = 5;\n", 1, "expected a group");
	expect_error("control_group = \"no-such-group-here\";\n", 1,
	    "no group named");
}

static void
test_required(void **state)
{
	expect_error("tunnels = {\n  a = {\n    port = 22;\n  };\n};\n", 2,
	    "host is required");
	expect_error("tunnels = {\n  a = {\n    host = \"x\";\n    reconnect_min = "
	    "10;\n    reconnect_max = 5;\n  };\n};\n", 2,
	    "reconnect_max (5) is below reconnect_min (10)");
}

static void
test_specs(void **state)
{
	expect_error("tunnels = {\n a = {\n  host = \"x\";\n  local = [\n"
	    "   \"9143:localhost:143\",\n   \"9144:localhost\"\n  ];\n };\n};\n",
	    6, "malformed local forward \"9144:localhost\"");
	expect_error("tunnels = { a = {\n host = \"x\";\n dynamic = [ \"0\" ];\n"
	    "};};\n", 3, "listen port 0");
	expect_error("tunnels = { a = {\n host = \"x\";\n remote = [ \"a:b:c:d:e\" "
	    "];\n};};\n", 3, "malformed");
}

static void
test_permit_remote_open(void **state)
{
	struct errlist e;
	struct config *c;
	struct tunnel_conf *a, *b, *d;

	c = load("defaults = { permit_remote_open = [ \"localhost:80\" ]; };\n"
	    "tunnels = {\n a = { host = \"x\"; };\n"
	    " b = { host = \"x\"; permit_remote_open = \"any\"; };\n"
	    " d = { host = \"x\"; permit_remote_open = [ \"*:443\", "
	    "\"[::1]:*\" ]; };\n};\n", &e);
	if (c == NULL)
		fail_msg("%s", e.v[0]);
	a = config_find(c, "a");
	b = config_find(c, "b");
	d = config_find(c, "d");
	assert_false(a->permit_any);
	assert_int_equal(a->npermits, 1);
	assert_true(b->permit_any);
	assert_int_equal(b->npermits, 0);
	assert_int_equal(d->npermits, 2);
	assert_true(permit_match(d->permits, d->npermits, "::1", 22));
	config_free(c);

	c = load("tunnels = { a = { host = \"x\"; }; };\n", &e);
	assert_true(config_find(c, "a")->permit_any);	/* OpenSSH's default */
	config_free(c);

	expect_error("tunnels = { a = {\n host = \"x\";\n permit_remote_open = "
	    "[ \"localhost\" ];\n};};\n", 3, "expected host:port");
	expect_error("tunnels = { a = {\n host = \"x\";\n permit_remote_open = "
	    "[ \"any\", \"h:1\" ];\n};};\n", 3, "\"any\" stands alone");
	expect_error("tunnels = { a = {\n host = \"x\";\n permit_remote_open = "
	    "5;\n};};\n", 3, "permit_remote_open: expected");
}

static void
test_duplicates(void **state)
{
	expect_error("tunnels = {\n a = {\n  host = \"x\";\n  local = [ "
	    "\"9143:h:143\" ];\n };\n b = {\n  host = \"y\";\n  dynamic = [ "
	    "\"*:9143\" ];\n };\n};\n", 8, "duplicates \"9143:h:143\" of tunnel "
	    "\"a\"");
	expect_error("tunnels = {\n a = {\n  host = \"x\";\n  local = [ "
	    "\"8080:h:80\",\n \"8080:i:80\" ];\n };\n};\n", 5,
	    "listener localhost:8080 duplicates");
	/* a remote listener is on the server: only the same tunnel collides */
	{
		struct errlist e;
		struct config *c = load("tunnels = {\n a = { host = \"x\"; "
		    "remote = [ \"8080:h:80\" ]; };\n b = { host = \"y\"; remote "
		    "= [ \"8080:h:80\" ]; };\n};\n", &e);

		if (c == NULL)
			fail_msg("%s", e.v[0]);
		config_free(c);
	}
}

static void
test_every_error(void **state)
{
	struct errlist e;
	struct config *c;

	/* all errors are reported, not only the first */
	c = load("bogus = 1;\ntunnels = {\n a = {\n  port = \"x\";\n  local = "
	    "[ \"1\" ];\n };\n b = { host = \"h\"; frob = 2; };\n};\n", &e);
	assert_null(c);
	assert_int_equal(e.n, 5);	/* bogus, port, local, host, frob */
	errlist_clear(&e);
}

static void
test_dropins(void **state)
{
	struct errlist e;
	struct config *c;
	char *text, *p;

	xasprintf(&p, "%s/d", dir);
	mkdir(p, 0700);
	free(write_file("d/10-a.conf", "tunnels = { extra = { host = \"e\"; "
	    "local = [ \"7000:h:1\" ]; }; };\n"));
	free(write_file("d/README", "not a conf file\n"));
	xasprintf(&text, "include_dir = \"d\";\ndefaults = { user = \"dd\"; };\n"
	    "tunnels = { main = { host = \"m\"; }; };\n");
	c = load(text, &e);
	if (c == NULL)
		fail_msg("%s", e.v[0]);
	assert_int_equal(c->ntunnels, 2);
	assert_non_null(config_find(c, "extra"));
	assert_string_equal(config_find(c, "extra")->user, "dd");
	config_free(c);
	free(text);

	/* a drop-in that redefines a tunnel: both places named */
	free(write_file("d/20-b.conf", "tunnels = {\n main = { host = \"z\"; };\n"
	    "};\n"));
	c = load("include_dir = \"d\";\ntunnels = { main = { host = \"m\"; }; };\n",
	    &e);
	assert_null(c);
	assert_int_equal(e.n, 1);
	xasprintf(&text, "%s/d/20-b.conf:2: tunnel \"main\" is already defined "
	    "at %s/t.conf:2", dir, dir);
	assert_string_equal(e.v[0], text);
	free(text);
	errlist_clear(&e);
	free(p);
}

static void
test_missing_file(void **state)
{
	struct errlist e = { NULL, 0 };

	assert_null(config_load("/nonexistent/tunneld.conf", &e));
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0], "/nonexistent/tunneld.conf: cannot "
	    "read"));
	errlist_clear(&e);
}

static int
setup(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char *cmd;

	xasprintf(&cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_permit_remote_open),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_dropins),
		cmocka_unit_test(test_missing_file),
	};

	log_init(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}

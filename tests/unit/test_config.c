/* test_config.c - tunneld.conf validation: every error with its line. */
#include "config.h"

#include <malloc.h>
#include <math.h>
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

#include "config_keywords.h"

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

/* Expect exactly n errors, one of them on that line, saying that. */
static void
expect_errors(const char *text, size_t n, int line, const char *what)
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
	if (e.n != n) {
		for (i = 0; i < e.n; i++)
			print_message("error %zu: %s\n", i + 1, e.v[i]);
		fail_msg("%zu errors, expected %zu (\"%s\")", e.n, n, what);
	}
	errlist_clear(&e);
}

/* Expect exactly one error, on that line, saying that. */
static void
expect_error(const char *text, int line, const char *what)
{
	expect_errors(text, 1, line, what);
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
	/* ... and then the tunnel has no host: two errors */
	expect_errors("tunnels = { a = {\n host = 5;\n};};\n", 2, 2,
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
	expect_error("tunnels = {\n  a = {\n    host = \"x\";\n"
	    "    probe_interval = 0.01;\n  };\n};\n", 4,
	    "probe_interval (0.01) is below 1 s");
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


/*
 * The keyword table: every keyword parses a value of its type, rejects one
 * out of range or of another type with file:line, has its documented
 * default, prints back to itself and is in the reload class it says.
 */

/* A valid value for kw, not its default, as written in a file. */
static const char *
sample(const struct keyword *kw)
{
	static char buf[128];
	double d;

	switch (kw->type) {
	case KW_STRING:
		return "\"sample\"";
	case KW_HOST:
		return "\"h.example.org\"";
	case KW_HOSTS:
		return "[ \"h.example.org\", \"r2.example.org:2222\" ]";
	case KW_PATH:
		return "\"sub/file\"";
	case KW_ABSPATH:
		return "\"/run/sample.sock\"";
	case KW_GROUP:
		return "\"root\"";
	case KW_LISTEN:
		return "\"127.0.0.1:9190\"";
	case KW_FINGERPRINT:
		return "\"SHA256:mOFj6SXYltTk55tL1051B1UxSTcWz0dXdnnT9sZekHY\"";
	case KW_ALGORITHMS:	/* offered by 1.10 and 1.11, not a default */
		switch ((int)kw->min) {
		case SA_CIPHERS:
			return "\"aes256-ctr\"";
		case SA_MACS:
			return "\"hmac-sha2-512\"";
		case SA_KEX:
			return "\"ecdh-sha2-nistp256\"";
		default:
			return "\"ssh-ed25519\"";
		}
	case KW_PROXY:
		return "\"socks5://127.0.0.1:1080\"";
	case KW_BOOL:
		return kw->def != 0 ? "false" : "true";
	case KW_INT:
	case KW_DURATION:	/* halfway to the minimum: keeps pairs ordered */
		d = kw->def > kw->min ? kw->def - (kw->def - kw->min) / 2 :
		    kw->min + 1;
		snprintf(buf, sizeof buf, "%g", kw->type == KW_INT ? floor(d) : d);
		return buf;
	case KW_RATE:
		return "\"1.5M\"";
	case KW_ENUM:
		snprintf(buf, sizeof buf, "\"%s\"", kw->values[0].value !=
		    (int)kw->def ? kw->values[0].name : kw->values[1].name);
		return buf;
	case KW_FORWARDS:
		if (strcmp(kw->name, "dynamic") == 0)
			return "[ \"9102\" ]";
		return strcmp(kw->name, "local") == 0 ? "[ \"9100:h:1\" ]" :
		    "[ \"9101:h:1\" ]";
	case KW_PERMITS:
		return "\"none\"";
	case KW_ARGV:		/* config.c checks the program is there */
		return "[ \"/bin/true\", \"a; b\" ]";
	case KW_SECTION:
		break;
	}
	return NULL;
}

/* A file with kw = value (line 3 for a tunnel keyword, 2 for a global). */
static char *
file_with(const struct keyword *kw, const char *value)
{
	char *text;

	if (kw->where == KW_GLOBAL)
		xasprintf(&text, "\n%s = %s;\ntunnels = { a = { host = \"x\"; "
		    "}; };\n", kw->name, value);
	else
		xasprintf(&text, "tunnels = {\n a = { host = \"x\";\n  %s = %s;"
		    "\n };\n};\n", strcmp(kw->name, "host") == 0 ? "port" :
		    kw->name, value);
	if (strcmp(kw->name, "host") == 0) {	/* host is written once */
		free(text);
		xasprintf(&text, "tunnels = {\n a = {\n  host = %s;\n };\n};\n",
		    value);
	}
	return text;
}

static struct config *
load_ok(const char *text)
{
	struct errlist e;
	struct config *c = load(text, &e);

	if (c == NULL)
		fail_msg("refused: %s\n%s", e.v[0], text);
	return c;
}

/* kw's object in c: the configuration or tunnel a. */
static void *
object(struct config *c, const struct keyword *kw)
{
	return kw->where == KW_GLOBAL ? (void *)c :
	    (void *)config_find(c, "a");
}

static const char base[] = "tunnels = {\n a = { host = \"x\";\n };\n};\n";

static void
test_keywords_parse(void **state)
{
	const struct keyword *kw;
	struct config *b, *c;
	char *text;
	size_t i;

	b = load_ok(base);
	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		if (kw->type == KW_SECTION)
			continue;
		if (sample(kw) == NULL)
			fail_msg("%s: no sample for its type", kw->name);
		text = file_with(kw, sample(kw));
		c = load_ok(text);
		if (keyword_equal(kw, object(b, kw), object(c, kw)))
			fail_msg("%s = %s: the value did not change", kw->name,
			    sample(kw));
		config_free(c);
		free(text);
	}
	config_free(b);
}

static void
test_keywords_range(void **state)
{
	/* not rates: a unit in bits, a sign, and what strtod alone would
	 * take (hex, an exponent, a leading blank, "1.") - decimal only, as
	 * the man page says */
	static const char *const not_rates[] = { "\"10Mbit\"", "\"-1K\"",
	    "\"0x400\"", "\"1e6\"", "\" 1M\"", "\"1.M\"" };
	const struct keyword *kw;
	char *text, what[128], v[64];
	int line;
	size_t i, j;

	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		line = kw->where == KW_GLOBAL ? 2 : 3;
		if (kw->type == KW_INT || kw->type == KW_DURATION) {
			snprintf(v, sizeof v, "%.17g", kw->max + 1);
			text = file_with(kw, v);
			snprintf(what, sizeof what, "%s: %s is out of range",
			    kw->name, kw->type == KW_INT ? v : v);
			expect_error(text, line, what);
			free(text);
			snprintf(v, sizeof v, "%.17g", kw->min - 1);
			text = file_with(kw, v);
			expect_error(text, line, "is out of range");
			free(text);
			text = file_with(kw, "\"1\"");
			snprintf(what, sizeof what, "%s: expected", kw->name);
			expect_error(text, line, what);
			free(text);
		} else if (kw->type == KW_RATE) {
			text = file_with(kw, "\"11G\"");
			expect_error(text, line, "is out of range");
			free(text);
			text = file_with(kw, "\"1023\"");
			expect_error(text, line, "is out of range");
			free(text);
			snprintf(what, sizeof what, "%s: expected a rate", kw->name);
			for (j = 0; j < sizeof not_rates / sizeof *not_rates;
			    j++) {
				text = file_with(kw, not_rates[j]);
				expect_error(text, line, what);
				free(text);
			}
		} else if (kw->type == KW_BOOL || kw->type == KW_ENUM) {
			text = file_with(kw, "\"maybe\"");
			snprintf(what, sizeof what, "%s: ", kw->name);
			expect_error(text, line, what);
			free(text);
		} else if (kw->type != KW_SECTION && kw->type != KW_FORWARDS &&
		    kw->type != KW_PERMITS) {
			text = file_with(kw, "5");
			snprintf(what, sizeof what, "%s: expected a string",
			    kw->name);
			/* a host that is not one leaves the tunnel without */
			expect_errors(text, strcmp(kw->name, "host") == 0 ?
			    2 : 1, line, what);
			free(text);
			text = file_with(kw, "\"\"");
			snprintf(what, sizeof what, "%s: empty", kw->name);
			expect_errors(text, strcmp(kw->name, "host") == 0 ?
			    2 : 1, line, what);
			free(text);
		}
	}
	/* a decimal where an integer is wanted */
	expect_error("tunnels = {\n a = { host = \"x\";\n  port = 22.5;\n };\n"
	    "};\n", 3, "port: expected an integer");
}

static void
test_keywords_defaults(void **state)
{
	struct config *c = load_ok(base);
	struct tunnel_conf *a = config_find(c, "a");

	/* as tunneld.conf(5) documents them */
	assert_int_equal(a->port, 22);
	assert_true(a->autostart);
	assert_int_equal(a->strict, HKC_YES);
	assert_true(a->keepalive_interval == 15);
	assert_int_equal(a->keepalive_count, 3);
	assert_true(a->connect_timeout == 10);
	assert_true(a->reconnect_min == 1);
	assert_true(a->reconnect_max == 300);
	assert_true(a->permit_any);
	assert_null(a->identity_file);
	assert_null(a->known_hosts);
	assert_null(a->host_key);
	assert_int_equal(a->nfwds, 0);
	assert_non_null(a->user);	/* the user tunneld runs as */
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->workers, 0);
	assert_null(c->control_socket);
	assert_null(c->control_group);
	assert_null(c->include_dir);
	config_free(c);
}

/* Every keyword of a and b the same, globals and each tunnel. */
static void
assert_same_config(struct config *a, struct config *b)
{
	struct tunnel_conf *ta, *tb;
	size_t i, j;

	assert_int_equal(a->ntunnels, b->ntunnels);
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_GLOBAL &&
		    !keyword_equal(&keywords[i], a, b))
			fail_msg("%s differs", keywords[i].name);
	}
	for (j = 0; j < a->ntunnels; j++) {
		ta = a->tunnels[j];
		if ((tb = config_find(b, ta->name)) == NULL)
			fail_msg("tunnel %s is missing", ta->name);
		for (i = 0; i < nkeywords; i++) {
			if (keywords[i].where == KW_TUNNEL &&
			    !keyword_equal(&keywords[i], ta, tb))
				fail_msg("%s: %s differs", ta->name,
				    keywords[i].name);
		}
	}
}

static char *
print_to_file(struct config *c, const char *name)
{
	char *path;
	FILE *f;

	xasprintf(&path, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	config_print(f, c);
	fclose(f);
	return path;
}

static void
test_print_round_trip(void **state)
{
	static const char more[] =
	    "control_group = \"root\";\n"
	    "tunnels = {\n"
	    "  p = { host = \"x\"; permit_remote_open = [ \"*:443\", "
	    "\"[::1]:*\", \"h:80\" ];\n"
	    "    keepalive_interval = 0.1; reconnect_min = 0.3; };\n"
	    "  q = { host = \"x\"; permit_remote_open = \"none\"; "
	    "user = \"a\\\"b\"; };\n"
	    "};\n";
	const char *texts[] = { full, more };
	struct errlist e = { NULL, 0 };
	struct config *c, *d;
	char *p1, *p2, *cmd;
	size_t i;

	for (i = 0; i < nitems(texts); i++) {
		c = load_ok(texts[i]);
		p1 = print_to_file(c, "printed.conf");
		if ((d = config_load(p1, &e)) == NULL)
			fail_msg("the printed configuration: %s", e.v[0]);
		assert_same_config(c, d);
		p2 = print_to_file(d, "printed2.conf");
		/* the same text again, but for the comments (file:line) */
		xasprintf(&cmd, "[ \"$(sed 's/#.*//' '%s')\" = \"$(sed "
		    "'s/#.*//' '%s')\" ]", p1, p2);
		assert_int_equal(system(cmd), 0);
		free(cmd);
		config_free(c);
		config_free(d);
		free(p1);
		free(p2);
	}
}

static void
test_reload_classes(void **state)
{
	const struct keyword *kw, *which;
	struct config *b, *c;
	unsigned needs;
	char *text;
	size_t i;

	b = load_ok(base);
	assert_int_equal(tunnel_conf_reload_needs(config_find(b, "a"),
	    config_find(b, "a"), &which), 0);
	assert_null(which);
	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		if (kw->where != KW_TUNNEL)
			continue;
		text = file_with(kw, sample(kw));
		c = load_ok(text);
		needs = tunnel_conf_reload_needs(config_find(b, "a"),
		    config_find(c, "a"), &which);
		if (needs != 1U << kw->reload || which != kw)
			fail_msg("%s: needs %#x, which %s", kw->name, needs,
			    which ? which->name : "none");
		config_free(c);
		free(text);
	}
	config_free(b);
	/* the classes the reload path relies on (reload.c) */
	assert_int_equal(keyword_find("keepalive_interval", KW_TUNNEL)->reload,
	    KR_REARM);
	assert_int_equal(keyword_find("keepalive_count", KW_TUNNEL)->reload,
	    KR_REARM);
	assert_int_equal(keyword_find("host", KW_TUNNEL)->reload, KR_SESSION);
	assert_int_equal(keyword_find("local", KW_TUNNEL)->reload,
	    KR_FORWARDS);
	assert_int_equal(keyword_find("workers", KW_GLOBAL)->reload,
	    KR_DAEMON);
	assert_int_equal(keyword_find("log_level", KW_GLOBAL)->reload,
	    KR_APPLY);
}

static void
test_keywords_table(void **state)
{
	const struct kw_type_ops *ops;
	const struct keyword *kw;
	size_t i;

	/* every type has its five operations */
	for (i = 0; i < KW_NTYPES; i++) {
		ops = keyword_type_ops((enum kw_type)i);
		if (ops->parse == NULL || ops->def == NULL ||
		    ops->clear == NULL || ops->equal == NULL ||
		    ops->print == NULL)
			fail_msg("type %zu: an operation is missing", i);
	}
	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		if (keyword_find(kw->name, kw->where) != kw)
			fail_msg("%s is in the table twice", kw->name);
		if ((kw->type == KW_INT || kw->type == KW_DURATION) &&
		    (kw->def < kw->min || kw->def > kw->max))
			fail_msg("%s: default %g outside %g-%g", kw->name,
			    kw->def, kw->min, kw->max);
		if ((kw->type == KW_ENUM) != (kw->values != NULL))
			fail_msg("%s: words only for an enum", kw->name);
		if (kw->where == KW_TUNNEL && (kw->reload == KR_APPLY ||
		    kw->reload == KR_DAEMON))
			fail_msg("%s: a global class for a tunnel", kw->name);
	}
}

/*
 * The KR_APPLY keywords are exactly those a reload observer applies:
 * proc/main.c's main_reloaded (log_level, log_rate_limit,
 * window_budget_total), control/metrics.c's metrics_reloaded
 * (metrics_listen).  A new one fails here until its observer is written.
 */
static void
test_apply_observed(void **state)
{
	static const char *observed[] = { "log_level", "metrics_listen",
	    "window_budget_total", "log_rate_limit" };
	const struct keyword *kw;
	size_t i, j, n = 0;

	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		if (kw->reload != KR_APPLY)
			continue;
		for (j = 0; j < nitems(observed); j++) {
			if (strcmp(kw->name, observed[j]) == 0)
				break;
		}
		if (j == nitems(observed))
			fail_msg("%s is KR_APPLY: which reload observer "
			    "applies it?", kw->name);
		n++;
	}
	assert_int_equal(n, nitems(observed));
}

/* The keywords on a .B or .BR line of the man page, in seen[]. */
static void
man_words(char *line, int where, int class, char *seen, size_t lineno)
{
	const struct keyword *kw;
	char *w, *save;

	for (w = strtok_r(line, " \",;.()", &save); w != NULL;
	    w = strtok_r(NULL, " \",;.()", &save)) {
		if (where == KW_GLOBAL || where == KW_TUNNEL) {
			if ((kw = keyword_find(w, (enum kw_where)where)) ==
			    NULL)
				fail_msg("tunneld.conf.5:%zu documents \"%s\" "
				    "(%s), which is not in the table", lineno,
				    w, where == KW_GLOBAL ? "global" :
				    "tunnel");
			seen[kw - keywords] |= 1;
			continue;
		}
		/* RELOAD: each keyword under the class of the table */
		if ((kw = keyword_find(w, KW_GLOBAL)) == NULL &&
		    (kw = keyword_find(w, KW_TUNNEL)) == NULL)
			continue;
		if (kw->reload != (enum kw_reload)class)
			fail_msg("tunneld.conf.5:%zu: %s under RELOAD %s, the "
			    "table says %s", lineno, w, keyword_reload_name(
			    (enum kw_reload)class), keyword_reload_name(
			    kw->reload));
		seen[kw - keywords] |= 2;
	}
}

/*
 * tunneld.conf(5) documents exactly the keywords of the table, each in
 * its section (the .TP tags under GLOBAL SETTINGS and TUNNEL SETTINGS),
 * and lists each under the class of RELOAD the table gives it.
 */
static void
test_man_page(void **state)
{
	char line[512], *p;
	int where = -1, class = -1, in_rs = 0, tag = 0;
	char seen[64] = { 0 };
	size_t i, lineno = 0;
	FILE *f;

	assert_true(nkeywords <= sizeof seen);
	f = fopen(TEST_DATA "/../../../doc/tunneld.conf.5", "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SH ", 4) == 0) {
			where = strcmp(line + 4, "GLOBAL SETTINGS") == 0 ?
			    KW_GLOBAL : strcmp(line + 4, "TUNNEL SETTINGS") ==
			    0 ? KW_TUNNEL : strcmp(line + 4, "RELOAD") == 0 ?
			    2 : -1;
			class = -1;
			continue;
		}
		if (strcmp(line, ".RS") == 0 || strcmp(line, ".RE") == 0) {
			in_rs = line[2] == 'S';
			continue;
		}
		if (strcmp(line, ".TP") == 0 || strcmp(line, ".PP") == 0) {
			tag = line[1] == 'T' && !in_rs && where != -1;
			class = -1;
			continue;
		}
		if ((p = strchr(line, ' ')) == NULL ||
		    (strncmp(line, ".B ", 3) != 0 &&
		    strncmp(line, ".BR ", 4) != 0))
			continue;
		if (where == 2 && tag) {	/* a RELOAD class */
			for (class = 0; class <= KR_DAEMON; class++) {
				if (strcmp(p + 1, keyword_reload_name(
				    (enum kw_reload)class)) == 0)
					break;
			}
			if (class > KR_DAEMON)
				fail_msg("tunneld.conf.5:%zu: no reload class "
				    "\"%s\"", lineno, p + 1);
		} else if (tag || (where == 2 && class != -1))
			man_words(p, where, class, seen, lineno);
		tag = 0;
	}
	fclose(f);
	for (i = 0; i < nkeywords; i++) {
		if (!(seen[i] & 1))
			fail_msg("tunneld.conf.5 does not document \"%s\"",
			    keywords[i].name);
		if (!(seen[i] & 2) && keywords[i].type != KW_SECTION)
			fail_msg("tunneld.conf.5 does not say under RELOAD "
			    "what \"%s\" needs", keywords[i].name);
	}
}

/*
 * libconfig 1.5 leaks 64 bytes of its lexer on a string where a setting's
 * name is expected; loading such a file 1000 times must not grow the heap
 * (config.c reads it in a child first).  Under ASan mallinfo2 says nothing
 * and LeakSanitizer's report at exit counts instead.
 */
static void
test_syntax_error_leak(void **state)
{
	struct errlist e = { NULL, 0 };
	struct mallinfo2 before, after;
	char *path;
	int i;

	path = xstrdup(TEST_DATA "/libconfig-leak.conf");
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0], "libconfig-leak.conf:4: syntax error"));
	errlist_clear(&e);
	before = mallinfo2();
	for (i = 0; i < 1000; i++) {
		assert_null(config_load(path, &e));
		errlist_clear(&e);
	}
	after = mallinfo2();
	if (after.uordblks > before.uordblks + 16384)
		fail_msg("the heap grew by %zu bytes over 1000 loads",
		    after.uordblks - before.uordblks);
	free(path);
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
		cmocka_unit_test(test_keywords_table),
		cmocka_unit_test(test_keywords_parse),
		cmocka_unit_test(test_keywords_range),
		cmocka_unit_test(test_keywords_defaults),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_reload_classes),
		cmocka_unit_test(test_apply_observed),
		cmocka_unit_test(test_man_page),
		cmocka_unit_test(test_syntax_error_leak),
	};

	log_init(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}

/*
 * test_util.c - the bounded writes of common/util.c (each says whether
 * all of it fitted, and never writes past its buffer), the host name
 * limits, TCP_USER_TIMEOUT's arithmetic, metrics_listen's parser, and
 * the log's rate limit.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "config_keywords.h"
#include "control.h"
#include "proc.h"

/* A buffer with a guard after it: nothing may be written there. */
struct guarded {
	char	buf[8];
	char	guard[8];
};

static void
guard_set(struct guarded *g)
{
	memset(g, 'G', sizeof *g);
}

static void
guard_intact(const struct guarded *g)
{
	size_t i;

	for (i = 0; i < sizeof g->guard; i++)
		assert_int_equal(g->guard[i], 'G');
}

static void
test_bstrcpy(void **state)
{
	struct guarded g;

	guard_set(&g);
	assert_int_equal(bstrcpy(g.buf, "1234567", sizeof g.buf), 0);
	assert_string_equal(g.buf, "1234567");
	guard_intact(&g);
	guard_set(&g);
	assert_int_equal(bstrcpy(g.buf, "12345678", sizeof g.buf), -1);
	assert_string_equal(g.buf, "1234567");	/* cut, terminated */
	guard_intact(&g);
	assert_int_equal(bstrcpy(g.buf, "x", 0), -1);
}

static void
test_bsnprintf(void **state)
{
	struct guarded g;

	guard_set(&g);
	assert_int_equal(bsnprintf(g.buf, sizeof g.buf, "%s:%d", "ab", 1234),
	    7);
	assert_string_equal(g.buf, "ab:1234");
	assert_int_equal(bsnprintf(g.buf, sizeof g.buf, "%s:%d", "ab", 12345),
	    -1);
	assert_int_equal(strlen(g.buf), 7);
	guard_intact(&g);
}

static void
test_bbuf(void **state)
{
	struct guarded g;
	struct bbuf b;

	guard_set(&g);
	bbuf_init(&b, g.buf, sizeof g.buf);
	bbuf_add(&b, "\x05\x01\x00", 3);
	bbuf_byte(&b, 3);
	bbuf_printf(&b, "%s", "abc");	/* and room for its NUL */
	bbuf_byte(&b, 'd');
	assert_false(b.over);
	assert_int_equal(b.len, 8);
	assert_memory_equal(g.buf, "\x05\x01\x00\x03" "abcd", 8);
	bbuf_byte(&b, 0);		/* one too many */
	assert_true(b.over);
	assert_int_equal(b.len, 0);	/* nothing of it to be sent */
	bbuf_add(&b, "x", 1);		/* and nothing more goes in */
	assert_true(b.over);
	guard_intact(&g);

	guard_set(&g);
	bbuf_init(&b, g.buf, sizeof g.buf);
	bbuf_printf(&b, "%s", "123456789");	/* a cut printf is over */
	assert_true(b.over);
	guard_intact(&g);
	bbuf_init(&b, g.buf, sizeof g.buf);
	bbuf_add(&b, "12345", 5);
	bbuf_add(&b, "123456789", (size_t)-1);	/* a huge length: no wrap */
	assert_true(b.over);
	guard_intact(&g);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_host_name(void **state)
{
	char *cause = NULL, *s, name[300];
	int i;

	assert_int_equal(host_name_check("relay1.example.org", &cause), 0);
	assert_int_equal(host_name_check("2001:db8::7", &cause), 0);
	assert_int_equal(host_name_check("-oProxyCommand=x", &cause), -1);
	assert_non_null(strstr(cause, "begins with '-'"));
	free(cause);
	cause = NULL;
	assert_int_equal(host_name_check("a..b", &cause), -1);
	assert_non_null(strstr(cause, "empty label"));
	free(cause);
	cause = NULL;
	assert_int_equal(host_name_check(".a", &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(host_name_check("a-b.c-", &cause), 0);
	assert_int_equal(host_name_check("fe80::1%eth0", &cause), 0);
	assert_int_equal(host_name_check("relay\"1", &cause), -1);
	assert_non_null(strstr(cause, "'\"' at 6"));
	free(cause);
	cause = NULL;
	assert_int_equal(host_name_check("a\033[2Jb", &cause), -1);
	assert_null(strchr(cause, '\033'));	/* not quoted */
	free(cause);
	cause = NULL;
	assert_int_equal(host_name_check("a b", &cause), -1);
	free(cause);
	cause = NULL;
	/* 253 characters: 3 labels of 63 and a dot each, and one of 61 */
	name[0] = '\0';
	for (i = 0; i < 4; i++) {
		s = repeat('a' + i, i < 3 ? 63 : 61);
		strcat(name, s);
		strcat(name, i < 3 ? "." : "");
		free(s);
	}
	assert_int_equal(strlen(name), 253);
	assert_int_equal(host_name_check(name, &cause), 0);
	strcat(name, ".");	/* a final dot is not counted */
	assert_int_equal(host_name_check(name, &cause), 0);
	name[253] = 'd';	/* 254 */
	assert_int_equal(host_name_check(name, &cause), -1);
	assert_non_null(strstr(cause, "254 characters long: at most 253"));
	free(cause);
	s = repeat('l', 64);
	assert_int_equal(host_name_check(s, &cause), -1);
	assert_non_null(strstr(cause, "a label of 64 characters"));
	free(cause);
	free(s);
	s = repeat('l', 63);
	assert_int_equal(host_name_check(s, &cause), 0);
	free(s);
	s = repeat('x', 20000);
	assert_int_equal(host_name_check(s, &cause), -1);
	free(cause);
	free(s);
}

/* keepalive_interval x keepalive_count in milliseconds: never wrapped */
static void
test_user_timeout(void **state)
{
	assert_int_equal(tcp_user_timeout_ms(15, 3), 45000);
	assert_int_equal(tcp_user_timeout_ms(0.2, 1), 1000);
	/* 32767 s x 1000: 3.3e10 ms, over 32 bits: the most the kernel
	 * takes, not what is left after a wrap */
	assert_int_equal(tcp_user_timeout_ms(32767, 1000), INT_MAX);
	assert_int_equal(tcp_user_timeout_ms(86400, 1000), INT_MAX);
	assert_int_equal(tcp_user_timeout_ms(4294968, 1), INT_MAX);
}

static void
test_metrics_listen(void **state)
{
	struct sockaddr_storage ss;
	int len;

	assert_int_equal(config_parse_listen("127.0.0.1:23190", &ss, &len),
	    0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 23190);
	assert_int_equal(config_parse_listen("[::1]:9", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(config_parse_listen("127.0.0.1:23190junk", NULL,
	    NULL), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:23190 ", NULL, NULL),
	    -1);
	assert_int_equal(config_parse_listen("127.0.0.1junk:23190", NULL,
	    NULL), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:0", NULL, NULL), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:65536", NULL, NULL),
	    -1);
	assert_int_equal(config_parse_listen("127.0.0.1:+80", NULL, NULL),
	    -1);
	assert_int_equal(config_parse_listen("127.0.0.1", NULL, NULL), -1);
	assert_int_equal(config_parse_listen("::1:80", NULL, NULL), -1);
	assert_int_equal(config_parse_listen("[::1]x:80", NULL, NULL), -1);
	assert_int_equal(config_parse_listen("localhost:80", NULL, NULL), -1);
	assert_true(config_listen_wildcard("0.0.0.0:9100"));
	assert_true(config_listen_wildcard("[::]:9100"));
	assert_false(config_listen_wildcard("127.0.0.1:9100"));
	assert_false(config_listen_wildcard("[::1]:9100"));
}

/* Lines written to standard error by fn, counted. */
static int
log_lines(void (*fn)(void))
{
	char tmpl[] = "/tmp/test_util.XXXXXX";
	int fd = mkstemp(tmpl), saved, c, n = 0;
	FILE *f;

	assert_true(fd >= 0);
	unlink(tmpl);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_non_null(f = fdopen(fd, "r"));
	rewind(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
log_one_key(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		log_info("noisy: line %d", i);
}

static void
log_extra_sessions(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		log_info("noisy#%d: line", 2 + i % 16);
}

static void
log_about(const char *subject, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_LVL_INFO, NULL, subject, fmt, ap);
	va_end(ap);
}

/* The same, as the transport's session_log() writes them: NAME#2, and a
 * jump host's session "NAME: jump host h:p", given as the subject. */
static void
log_extra_subjects(void)
{
	char name[64];
	int i;

	for (i = 0; i < 1000; i++) {
		if (i % 2)
			snprintf(name, sizeof name, "noisy#%d", 2 + i % 16);
		else
			snprintf(name, sizeof name, "noisy: jump host j%d:22",
			    i % 16);
		log_about(name, "line");
	}
}

static void
log_many_keys(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		log_info("t%d: line", i);
}

/* One key is held to its burst; keys past the table's slots share one
 * budget (RATE_PROBE bursts), never written without a limit. */
static void
test_log_rate(void **state)
{
	(void)state;
	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LVL_INFO);
	log_set_rate_limit(5);
	assert_int_equal(log_lines(log_one_key), 5);
	assert_int_equal(log_lines(log_extra_sessions), 5);	/* the tunnel's */
	assert_int_equal(log_lines(log_extra_subjects), 5);
	assert_in_range(log_lines(log_many_keys), 256, 256 + 5 * 8);
	log_set_rate_limit(0);
	assert_int_equal(log_lines(log_one_key), 1000);
}

static void
log_forged(void)
{
	log_info("server said: %s", "ok\n<3>error: forged\033[2J\r\tend");
}

/* A message with control characters in it is one line, and none of them
 * reaches the log. */
static void
test_log_clean(void **state)
{
	assert_int_equal(log_lines(log_forged), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bstrcpy),
		cmocka_unit_test(test_bsnprintf),
		cmocka_unit_test(test_bbuf),
		cmocka_unit_test(test_host_name),
		cmocka_unit_test(test_user_timeout),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_log_rate),
		cmocka_unit_test(test_log_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

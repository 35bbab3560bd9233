/*
 * test_session.c - what an open takes on a session (session_open.c), as
 * the pool weighs it: nothing before the first; then the median of the
 * last OPEN_SAMPLES, so that one open a stall held up does not make every
 * queued open look that slow, while a server that became slower moves it
 * within three opens.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "session.h"

#define FAST	0.0005
#define SLOW	2.0

static void
test_open_time_first(void **state)
{
	struct session *s = calloc(1, sizeof *s);

	(void)state;
	assert_true(session_open_time(NULL) == 0);
	assert_true(session_open_time(s) == 0);
	session_open_timed(s, 0.003);
	assert_true(session_open_time(s) == 0.003);
	/* two: the lower of them */
	session_open_timed(s, 0.009);
	assert_true(session_open_time(s) == 0.003);
	session_open_timed(s, 0.006);
	assert_true(session_open_time(s) == 0.006);
	free(s);
}

/* A session whose opens have been fast. */
static struct session *
session_fast(void)
{
	struct session *s = calloc(1, sizeof *s);
	int i;

	assert_non_null(s);
	for (i = 0; i < 20; i++)
		session_open_timed(s, FAST);
	return s;
}

/* One stalled open, or two, among fast ones: still fast. */
static void
test_open_time_stall(void **state)
{
	struct session *s = session_fast();
	int i;

	(void)state;
	session_open_timed(s, SLOW);
	assert_true(session_open_time(s) == FAST);
	session_open_timed(s, SLOW * 2);
	assert_true(session_open_time(s) == FAST);
	/* the stall over: the slow ones leave the window */
	for (i = 0; i < OPEN_SAMPLES; i++)
		session_open_timed(s, FAST);
	assert_true(session_open_time(s) == FAST);
	free(s);
}

/* A server that became slower: the third slow open moves it, and it
 * stays while they are slow. */
static void
test_open_time_slower(void **state)
{
	struct session *s = session_fast();
	int i;

	(void)state;
	session_open_timed(s, SLOW);
	session_open_timed(s, SLOW);
	assert_true(session_open_time(s) == FAST);
	session_open_timed(s, SLOW);
	assert_true(session_open_time(s) == SLOW);
	for (i = 0; i < 50; i++)
		session_open_timed(s, SLOW);
	assert_true(session_open_time(s) == SLOW);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_time_first),
		cmocka_unit_test(test_open_time_stall),
		cmocka_unit_test(test_open_time_slower),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_netwatch.c - the resume detector of netwatch.c with the clocks
 * injected: a real suspend cannot be caused by a test, so its logic is
 * checked here, and the daemon's timer only feeds it the two clocks
 * (CLOCK_BOOTTIME counts the time asleep, CLOCK_MONOTONIC does not).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunneld.h"

/* The first look learns the offset; it is not a resume. */
static void
test_first_look(void **state)
{
	struct netwatch_clock c = { 0 };

	assert_true(netwatch_clock_jumped(&c, 5000, 100) == 0);
	assert_true(c.known);
}

/* Awake, both clocks advance together: never a resume, however long. */
static void
test_awake(void **state)
{
	struct netwatch_clock c = { 0 };
	double t;

	netwatch_clock_jumped(&c, 1000, 10);
	for (t = 0; t < 86400; t += 5)
		assert_true(netwatch_clock_jumped(&c, 1000 + t, 10 + t) == 0);
	/* reading the two clocks a little apart is not a resume */
	assert_true(netwatch_clock_jumped(&c, 1000 + t + 0.01, 10 + t) == 0);
	assert_true(netwatch_clock_jumped(&c, 1000 + t + 5, 10 + t + 5.01)
	    == 0);
}

/* Asleep for an hour: BOOTTIME jumped by 3600 s, MONOTONIC by a tick. */
static void
test_resume(void **state)
{
	struct netwatch_clock c = { 0 };
	double slept;

	netwatch_clock_jumped(&c, 1000, 10);
	netwatch_clock_jumped(&c, 1005, 15);
	slept = netwatch_clock_jumped(&c, 1005 + 3600 + 5, 20);
	assert_true(slept > 3599.9 && slept < 3600.1);
	/* once: the next look, awake again, sees nothing */
	assert_true(netwatch_clock_jumped(&c, 4615, 25) == 0);
}

/* A short nap at the bound: below NETWATCH_RESUME_MIN is not counted,
 * above it is. */
static void
test_bound(void **state)
{
	struct netwatch_clock c = { 0 };
	double slept;

	netwatch_clock_jumped(&c, 100, 0);
	/* offset 100 -> 100 + RESUME_MIN - 0.1: not counted */
	assert_true(netwatch_clock_jumped(&c, 105 + NETWATCH_RESUME_MIN - 0.1,
	    5) == 0);
	/* then 0.2 s more than RESUME_MIN: counted, as that much */
	slept = netwatch_clock_jumped(&c, 110 + 2 * NETWATCH_RESUME_MIN + 0.1,
	    10);
	assert_true(slept > NETWATCH_RESUME_MIN + 0.19 &&
	    slept < NETWATCH_RESUME_MIN + 0.21);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_look),
		cmocka_unit_test(test_awake),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

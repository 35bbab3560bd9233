/*
 * test_netwatch.c - the resume detector of netwatch.c with the clocks
 * injected: a real suspend cannot be caused by a test, so its logic is
 * checked here, and the daemon's timer only feeds it the two clocks
 * (CLOCK_BOOTTIME counts the time asleep, CLOCK_MONOTONIC does not).
 * And which route changes concern a session: a route's destination
 * against the session's server, as rtnetlink gives them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

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

/* A route's destination from text: "10.1.0.0/16", "::/0". */
static struct netwatch_prefix
prefix(const char *text)
{
	struct netwatch_prefix p;
	char buf[64];
	char *slash;

	memset(&p, 0, sizeof p);
	snprintf(buf, sizeof buf, "%s", text);
	slash = strchr(buf, '/');
	*slash = '\0';
	p.len = atoi(slash + 1);
	p.dst.family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p.dst.family, buf, p.dst.a), 1);
	return p;
}

/* A socket's address as getpeername() gives it. */
static struct netwatch_addr
server(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct netwatch_addr a;

	memset(&ss, 0, sizeof ss);
	if (strchr(text, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	assert_int_equal(netwatch_addr_from(&ss, &a), 0);
	return a;
}

static int
contains(const char *route, const char *addr)
{
	struct netwatch_prefix p = prefix(route);
	struct netwatch_addr a = server(addr);

	return netwatch_prefix_contains(&p, &a);
}

static void
test_prefixes(void **state)
{
	struct netwatch_addr none = { 0 };
	struct netwatch_prefix p = prefix("0.0.0.0/0");

	/* a default route leads everywhere, in its family only */
	assert_true(contains("0.0.0.0/0", "192.0.2.7"));
	assert_false(contains("0.0.0.0/0", "2001:db8::7"));
	assert_true(contains("::/0", "2001:db8::7"));
	/* whole bytes, and bits within a byte */
	assert_true(contains("10.199.0.0/16", "10.199.42.2"));
	assert_false(contains("10.199.0.0/16", "10.198.42.2"));
	assert_true(contains("10.199.42.0/30", "10.199.42.3"));
	assert_false(contains("10.199.42.0/30", "10.199.42.4"));
	assert_true(contains("10.199.42.2/32", "10.199.42.2"));
	assert_false(contains("10.199.42.2/32", "10.199.42.1"));
	assert_true(contains("10.128.0.0/9", "10.200.0.1"));
	assert_false(contains("10.128.0.0/9", "10.127.0.1"));
	assert_true(contains("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(contains("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(contains("2001:db8::7/128", "2001:db8::7"));
	assert_false(contains("2001:db8::7/128", "2001:db8::8"));
	/* an IPv4-mapped server is IPv4 */
	assert_true(contains("192.0.2.0/24", "::ffff:192.0.2.7"));
	/* no server known (a tunnel that never connected): nothing */
	assert_false(netwatch_prefix_contains(&p, &none));
	/* a length out of range is no match, not a read past the end */
	p = prefix("10.0.0.0/8");
	p.len = 33;
	none = server("10.0.0.1");
	assert_false(netwatch_prefix_contains(&p, &none));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_look),
		cmocka_unit_test(test_awake),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

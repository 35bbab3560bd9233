/*
 * test_file.c - file.c refuses, without blocking, everything but a regular
 * file of bounded size: a FIFO nobody writes to (open() would wait for a
 * writer), a directory, a device, a file over the limit, a symbolic link
 * when asked; and reads a regular file whole.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

static char dir[] = "/tmp/test_file.XXXXXX";

static char *
path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

static int
setup(void **state)
{
	FILE *f;

	if (mkdtemp(dir) == NULL || mkfifo(path("fifo"), 0600) != 0 ||
	    mkdir(path("dir"), 0700) != 0 ||
	    (f = fopen(path("file"), "w")) == NULL)
		return -1;
	fputs("line one\nline two", f);
	fclose(f);
	if ((f = fopen(path("big"), "w")) == NULL)
		return -1;
	fclose(f);
	if (truncate(path("big"), 100001) != 0 ||
	    symlink("file", path("link")) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	const char *names[] = { "fifo", "dir", "file", "big", "link" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		remove(path(names[i]));
	rmdir(dir);
	return 0;
}

/* Refused with errno E and a message holding WHAT and the path. */
static void
refused(const char *p, int flags, int e, const char *what)
{
	struct stat st;
	char *cause = NULL, *data;
	size_t len;

	assert_int_equal(file_read(p, "known_hosts", 100000, flags, &data,
	    &len, &st, &cause), -1);
	assert_int_equal(errno, e);
	assert_non_null(cause);
	assert_non_null(strstr(cause, what));
	assert_non_null(strstr(cause, p));
	assert_null(data);
	free(cause);
}

static void
test_fifo(void **state)
{
	/* open() would wait for a writer forever: SIGALRM ends the test */
	alarm(10);
	refused(path("fifo"), 0, EINVAL, "is a FIFO (named pipe)");
	alarm(0);
}

static void
test_directory(void **state)
{
	refused(path("dir"), 0, EINVAL, "is a directory");
}

static void
test_device(void **state)
{
	refused("/dev/zero", 0, EINVAL, "is a character device");
	refused("/dev/null", 0, EINVAL, "is a character device");
}

static void
test_too_large(void **state)
{
	refused(path("big"), 0, EFBIG, "is too large (100001 bytes");
}

static void
test_missing(void **state)
{
	refused(path("nothing"), 0, ENOENT, "No such file");
}

static void
test_symlink(void **state)
{
	struct stat st;
	char *cause = NULL, *data;
	size_t len;

	refused(path("link"), FILE_NOFOLLOW, EINVAL, "is a symbolic link");
	assert_int_equal(file_read(path("link"), "known_hosts", 100000, 0,
	    &data, &len, &st, &cause), 0);
	assert_int_equal(len, 17);
	free(data);
}

static void
test_regular(void **state)
{
	struct stat st;
	char *cause = NULL, *data;
	size_t len;

	assert_int_equal(file_read(path("file"), "known_hosts", 17, 0, &data,
	    &len, &st, &cause), 0);
	assert_null(cause);
	assert_int_equal(len, 17);
	assert_string_equal(data, "line one\nline two");
	assert_true(S_ISREG(st.st_mode));
	free(data);
	assert_int_equal(file_read(path("file"), "known_hosts", 16, 0, &data,
	    &len, &st, &cause), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(cause, "is too large (17 bytes; at most 16"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_device),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_regular),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

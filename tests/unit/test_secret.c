/*
 * test_secret.c - file.c's secrets: pages left out of core dumps (the
 * kernel says "dd" for them in /proc/self/smaps), wiped on free; a
 * passphrase or password file's first line without its newline; the rules
 * of a key file (not readable by group or others, not empty), and group
 * bits that are only the mask of an ACL granting this user alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "proc.h"

static char dir[] = "/tmp/test_secret.XXXXXX";

static char *
path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

static void
put(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path(name), mode), 0);
}

static int
setup(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	const char *names[] = { "pw", "crlf", "empty", "blank", "open",
	    "acl", "aclother" };
	size_t i;

	for (i = 0; i < nitems(names); i++)
		unlink(path(names[i]));
	return rmdir(dir);
}

/* The VmFlags line of the mapping that holds p, from /proc/self/smaps. */
static int
dontdump(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long lo, hi, a = (unsigned long)p;
	int in = 0, dd = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)	/* a mapping */
			in = lo <= a && a < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	return dd;
}

static void
test_dontdump(void **state)
{
	char *s = secret_alloc(100), *h = malloc(100);
	int dd;

	strcpy(s, "secret");
	if ((dd = dontdump(s)) == -1)
		skip();
	assert_int_equal(dd, 1);
	assert_int_equal(dontdump(h), 0);	/* the test can fail */
	free(h);
	secret_free(s);
	secret_free(NULL);
}

static void
test_first_line(void **state)
{
	char *pw = NULL, *cause = NULL;
	size_t len;

	put("pw", "correct horse\nsecond line\n", 0600);
	assert_int_equal(file_read_password(path("pw"), "password_file", &pw,
	    &len, &cause), 0);
	assert_int_equal(len, 13);
	assert_string_equal(pw, "correct horse");
	secret_free(pw);
	put("crlf", "dos\r\n", 0600);
	assert_int_equal(file_read_password(path("crlf"), "password_file", &pw,
	    &len, &cause), 0);
	assert_string_equal(pw, "dos");
	secret_free(pw);
	put("blank", "\nsecond\n", 0600);
	assert_int_equal(file_read_password(path("blank"), "password_file",
	    &pw, &len, &cause), -1);
	assert_null(pw);
	assert_non_null(strstr(cause, "first line is empty"));
	free(cause);
	cause = NULL;
	put("empty", "", 0600);
	assert_int_equal(file_read_password(path("empty"), "passphrase_file",
	    &pw, &len, &cause), -1);
	assert_non_null(strstr(cause, "is empty"));
	free(cause);
}

static void
test_too_open(void **state)
{
	char *pw = NULL, *cause = NULL;
	size_t len;

	put("open", "x\n", 0640);
	assert_int_equal(file_read_password(path("open"), "passphrase_file",
	    &pw, &len, &cause), -1);
	assert_null(pw);
	assert_non_null(strstr(cause, "passphrase_file"));
	assert_non_null(strstr(cause, "too open"));
	assert_non_null(strstr(cause, "chmod 600"));
	free(cause);
}

struct acl_entry {
	uint16_t	tag, perm;
	uint32_t	id;
};

/* An access ACL: owner r, "user:UID:r" for each uid, group none, mask r,
 * other none, as linux/posix_acl_xattr.h has it. */
static int
set_acl(const char *name, const uint32_t *uids, size_t n)
{
	unsigned char buf[4 + 8 * 8], *p = buf;
	struct acl_entry e[8];
	size_t i, k = 0;

	e[k++] = (struct acl_entry){ 0x01, 4, 0xffffffff };
	for (i = 0; i < n; i++)
		e[k++] = (struct acl_entry){ 0x02, 4, uids[i] };
	e[k++] = (struct acl_entry){ 0x04, 0, 0xffffffff };
	e[k++] = (struct acl_entry){ 0x10, 4, 0xffffffff };
	e[k++] = (struct acl_entry){ 0x20, 0, 0xffffffff };
	p[0] = 2; p[1] = p[2] = p[3] = 0;	/* little-endian version 2 */
	p += 4;
	for (i = 0; i < k; i++, p += 8) {
		p[0] = e[i].tag; p[1] = e[i].tag >> 8;
		p[2] = e[i].perm; p[3] = e[i].perm >> 8;
		p[4] = e[i].id; p[5] = e[i].id >> 8;
		p[6] = e[i].id >> 16; p[7] = e[i].id >> 24;
	}
	return setxattr(path(name), "system.posix_acl_access", buf,
	    (size_t)(p - buf), 0);
}

static void
test_acl(void **state)
{
	uint32_t us[] = { (uint32_t)geteuid() }, two[] = { us[0], 65534 };
	struct stat st;
	char *pw = NULL, *cause = NULL;
	size_t len;

	put("acl", "credential\n", 0400);
	put("aclother", "credential\n", 0400);
	if (set_acl("acl", us, 1) != 0 || set_acl("aclother", two, 2) != 0 ||
	    stat(path("acl"), &st) != 0 || (st.st_mode & 0777) != 0440)
		skip();		/* no ACLs on this file system */
	assert_int_equal(file_read_password(path("acl"), "passphrase_file",
	    &pw, &len, &cause), 0);
	assert_string_equal(pw, "credential");
	secret_free(pw);
	pw = NULL;
	assert_int_equal(file_read_password(path("aclother"),
	    "passphrase_file", &pw, &len, &cause), -1);
	assert_null(pw);
	assert_non_null(strstr(cause, "an ACL"));
	assert_non_null(strstr(cause, "setfacl -b"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dontdump),
		cmocka_unit_test(test_first_line),
		cmocka_unit_test(test_too_open),
		cmocka_unit_test(test_acl),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

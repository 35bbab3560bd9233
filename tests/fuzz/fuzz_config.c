/*
 * fuzz_config.c - the configuration file (config_load: libconfig's parser
 * and every check of config.c), from a file rewritten for each input.  The
 * file is root's own, but a reload must refuse anything with a message and
 * keep the daemon up.  Inputs that would read other files (@include,
 * include_dir) are skipped: they test the file system, not the parser.
 * When the file loads, --print-config runs on it too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[] = "/tmp/fuzz_config.XXXXXX";
static int fd = -1;

static int
has(const uint8_t *data, size_t size, const char *word)
{
	return memmem(data, size, word, strlen(word)) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs = { NULL, 0 };
	struct config *c;
	FILE *null;

	if (has(data, size, "include"))
		return 0;
	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			abort();
		unlink(path);		/* reached as /proc/self/fd/N */
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	c = config_load(path, &errs);
	if (c == NULL && errs.n == 0)
		abort();		/* refused without saying why */
	if (c != NULL) {
		if ((null = fopen("/dev/null", "w")) != NULL) {
			config_print(null, c);
			fclose(null);
		}
		config_free(c);
	}
	errlist_clear(&errs);
	return 0;
}

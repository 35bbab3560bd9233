/*
 * fuzz_fwdspec.c - forward specifications (local, remote, dynamic) and
 * permit_remote_open entries (fwdspec.c), as a configuration file or a
 * reload gives them.  The first byte chooses the list; the rest is the
 * entry.  A parsed forward is printed and compared, as the daemon does.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const lists[] = { "local", "remote", "dynamic" };
	struct fwdspec f;
	struct permit p;
	char *spec, *cause = NULL, *s;
	int which;

	if (size == 0)
		return 0;
	which = data[0] % 4;
	spec = xcalloc(1, size);		/* NUL-terminated copy */
	memcpy(spec, data + 1, size - 1);
	if (which == 3) {
		if (permit_parse(spec, &p, &cause) == 0) {
			if (cause != NULL || p.host == NULL)
				abort();
			(void)permit_match(&p, 1, "localhost", 22);
			free(p.host);
		} else if (cause == NULL)
			abort();
	} else if (fwdspec_parse(lists[which], spec, &f, &cause) == 0) {
		if (cause != NULL)
			abort();
		(void)fwdspec_listen_conflict(&f, &f);
		s = fwdspec_listen_string(&f.listen);
		free(s);
		fwdspec_clear(&f);
	} else if (cause == NULL)
		abort();
	free(cause);
	free(spec);
	return 0;
}

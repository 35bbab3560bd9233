/*
 * fuzz_known_hosts.c - known_hosts lines as known_hosts.c reads them (its
 * line reader, @revoked and @cert-authority markers, then libssh2's parser),
 * through hostkey_plan(), which reads the file named by known_hosts and
 * asks it which key types it holds for the host.  No connection is made:
 * the session is only initialised.  A pinned host_key's base64 goes
 * through base64_decode() too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[] = "/tmp/fuzz_known_hosts.XXXXXX";
static int fd = -1;
static LIBSSH2_SESSION *ssh;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_params tc;
	struct hostkey_plan plan;
	unsigned char raw[1024];
	char *cause = NULL;

	if (fd == -1) {
		if (libssh2_init(0) != 0 || (ssh = libssh2_session_init()) ==
		    NULL || (fd = mkstemp(path)) == -1)
			abort();
		unlink(path);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&tc, 0, sizeof tc);
	tc.name = "fuzz";
	tc.host = "server.example.org";
	tc.port = 2222;
	tc.known_hosts = path;
	if (hostkey_plan(ssh, &tc, &plan, &cause) == 0) {
		if (plan.method_pref == NULL)
			abort();
		free(plan.method_pref);
	}
	free(cause);
	(void)base64_decode((const char *)data, size, raw, sizeof raw);
	return 0;
}

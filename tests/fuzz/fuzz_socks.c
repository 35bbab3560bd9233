/*
 * fuzz_socks.c - the SOCKS4/4a/5 parser (socks.c) on what a client of a
 * dynamic forward may send: the bytes are fed as the channel feeds them, a
 * prefix growing as "more" is asked for, a greeting taken and what follows
 * fed again.  Whatever the parser says must hold: it takes no more than it
 * was given, a request names a host it can print and a port, an answer fits.
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
	struct socks s;
	const char *why;
	size_t off = 0, n, used;
	int rc, step;

	if (size == 0)
		return 0;
	/* the first byte: how many bytes arrive at a time (0: all at once) */
	step = data[0] % 8;
	data++;
	size--;
	memset(&s, 0, sizeof s);
	n = step == 0 ? size : 0;
	for (;;) {
		if (step != 0)
			n = n + (size_t)step > size - off ? size - off :
			    n + (size_t)step;
		rc = socks_input(&s, data + off, n, &used, &why);
		if (used > n || s.outlen > sizeof s.out)
			abort();
		if (rc == SOCKS_ERROR) {
			if (why == NULL)
				abort();
			break;
		}
		if (rc == SOCKS_REQUEST) {
			if (memchr(s.req.host, '\0', sizeof s.req.host) ==
			    NULL || s.req.port < 0 || s.req.port > 65535)
				abort();
			socks_reply(&s, SOCKS5_OK);
			break;
		}
		if (rc == SOCKS_REPLY) {
			off += used;
			n = step == 0 ? size - off : 0;
			continue;
		}
		/* SOCKS_MORE */
		if (used != 0)
			abort();
		if (off + n >= size)
			break;
		if (step == 0)
			break;
	}
	return 0;
}

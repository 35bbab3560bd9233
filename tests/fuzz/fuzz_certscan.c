/*
 * fuzz_certscan.c - the server's side of a host certificate fetch
 * (ssh/certscan.c): identification lines and unencrypted packets, as a
 * hostile server sends them.  The parse must stop, never read beyond what
 * came, and a certificate it returns must lie inside the input.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certscan_rx rx;
	const char *why;
	int rc, steps = 0;

	certscan_rx_init(&rx, "ssh-ed25519-cert-v01@openssh.com,"
	    "rsa-sha2-512-cert-v01@openssh.com");
	if (size > 40000)
		size = 40000;
	memcpy(rx.buf, data, size);
	rx.len = size;
	while ((rc = certscan_rx_step(&rx, &why)) == 1 &&
	    rx.state != CSR_DONE) {
		if (++steps > 8)
			abort();
	}
	if ((rc == -1) != (why != NULL))
		abort();
	if (rc == 1 && (rx.cert < rx.buf || rx.cert + rx.certlen >
	    rx.buf + rx.len))
		abort();
	certscan_rx_free(&rx);
	return 0;
}

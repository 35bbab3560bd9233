/*
 * fuzz_sshcert.c - OpenSSH certificates (ssh/sshcert.c), the bytes of a
 * certificate_file's blob or, one day, of a server's host key.  A blob
 * that parses must have every field inside it, a type that ends in the
 * certificate suffix, a kind that is user or host and no more principals
 * or critical options than the limits; the parse of its key against the
 * input itself must not read beyond it; nor must the check of its CA
 * signature (a hostile CA key or signature) or of its host fields.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_inside(const struct sshcert_str *s, const uint8_t *data, size_t size)
{
	if (s->p < data || s->len > size || s->p + s->len > data + size)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshcert c;
	const char *why;
	size_t i;

	if (sshcert_parse(data, size, &c, &why) != 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (why != NULL || (c.kind != SSHCERT_USER && c.kind !=
	    SSHCERT_HOST) || c.nprincipals > SSHCERT_MAX_PRINCIPALS ||
	    c.ncritical > SSHCERT_MAX_CRITICAL ||
	    c.plain.len + 21 != c.type.len)
		abort();
	fuzz_inside(&c.type, data, size);
	fuzz_inside(&c.key, data, size);
	fuzz_inside(&c.key_id, data, size);
	fuzz_inside(&c.signature_key, data, size);
	fuzz_inside(&c.signature, data, size);
	for (i = 0; i < c.nprincipals; i++)
		fuzz_inside(&c.principals[i], data, size);
	for (i = 0; i < c.ncritical; i++)
		fuzz_inside(&c.critical[i], data, size);
	(void)sshcert_key_is(&c, data, size);
	if (sshcert_verify(&c, &why) == 0 ? why != NULL : why == NULL)
		abort();
	if (sshcert_check_host(&c, "host.example", 1800000000, &why) == 0 ?
	    why != NULL : why == NULL)
		abort();
	return 0;
}

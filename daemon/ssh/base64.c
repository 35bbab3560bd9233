/*
 * base64.c - base64 (RFC 4648) as OpenSSH writes it: host key fingerprints
 * (unpadded), known_hosts keys and pinned host_key values.
 */
#include "config.h"

#include <sys/types.h>

#include <string.h>

#include "ssh.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen,
    int pad)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		if (o + 4 >= outlen)
			break;
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64chars[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < len)
			out[o++] = b64chars[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Decode, skipping white space; -1 on a bad character. */
ssize_t
base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	unsigned v = 0;
	size_t i, o = 0;
	int bits = 0;
	const char *p;

	for (i = 0; i < len; i++) {
		if (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' ||
		    in[i] == '\t')
			continue;
		if (in[i] == '=')
			break;
		if ((p = strchr(b64chars, in[i])) == NULL || in[i] == '\0')
			return -1;
		v = (v << 6) | (unsigned)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (ssize_t)o;
}

/*
 * fuzz_proxy.c - what an upstream proxy answers (ssh/proxy.c): the bytes
 * come from the far end of a socket pair, as a proxy would send them, to a
 * real proxy_talk on a real event loop.  The first byte chooses: bit 0 the
 * kind (HTTP CONNECT or SOCKS5), bit 1 a target name or an IPv6 address,
 * bit 7 the proxy URL parser (proxy_parse()) on the rest instead.  The talk
 * must end (the socket is closed after the input), exactly once, with a
 * reason whenever it failed; an answer it accepts must be accepted again
 * with bytes behind it, and those bytes left unread.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct outcome {
	int	calls;
	int	error;
};

static void
fuzz_proxy_cb(int error, const char *why, void *arg)
{
	struct outcome *o = arg;

	if ((error != 0) != (why != NULL) || (why != NULL &&
	    strlen(why) > 1024))
		abort();
	o->calls++;
	o->error = error;
}

static void
fuzz_proxy_url(const uint8_t *data, size_t size)
{
	struct proxy_url u;
	char *s = malloc(size + 1), *cause = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (proxy_parse(s, &u, &cause) == 0) {
		if (u.host == NULL || *u.host == '\0' || u.port < 1 ||
		    u.port > 65535 || cause != NULL)
			abort();
		proxy_url_clear(&u);
	} else if (cause == NULL)
		abort();
	free(cause);
	free(s);
}

/* One talk on answer (then marker, if any, then EOF): its error, and in
 * *left how many bytes it did not read. */
static int
fuzz_proxy_talk(int kind, const uint8_t *answer, size_t len, int marker,
    size_t *left)
{
	static struct event_base *base;
	static char rest[65536 + 8];
	struct outcome o = { 0, 0 };
	struct proxy_talk *t;
	ssize_t n;
	int sv[2], sz = 1 << 20;

	*left = 0;
	if (base == NULL)
		base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (write(sv[1], answer, len) != (ssize_t)len ||
	    (marker && write(sv[1], "\x01MARK", 5) != 5))
		abort();
	shutdown(sv[1], SHUT_WR);
	t = proxy_talk_start(base, sv[0], kind & 1 ? PROXY_SOCKS5 :
	    PROXY_HTTP, "127.0.0.1:3128", kind & 2 ? "2001:db8::1" :
	    "db.internal", 22, fuzz_proxy_cb, &o);
	while (o.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	proxy_talk_free(t);
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (o.calls != 1)
		abort();
	while ((n = read(sv[0], rest, sizeof rest)) > 0)
		*left += (size_t)n;
	close(sv[0]);
	close(sv[1]);
	return o.error;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end;
	size_t left, left2;
	int err;

	if (size == 0 || size > 65536)
		return 0;
	if (data[0] & 0x80) {
		fuzz_proxy_url(data + 1, size - 1);
		return 0;
	}
	/* accepted: then the same with 5 more bytes behind it is accepted
	 * too, and those 5 are left for libssh2 */
	err = fuzz_proxy_talk(data[0], data + 1, size - 1, 0, &left);
	if (err == 0 && (fuzz_proxy_talk(data[0], data + 1, size - 1, 1,
	    &left2) != 0 || left2 != left + 5))
		abort();
	/* an HTTP 200 whose header ends: accepted, the rest left */
	if ((data[0] & 1) == 0 && size - 1 > 13 &&
	    memcmp(data + 1, "HTTP/1.1 200 ", 13) == 0 &&
	    (end = memmem(data + 1, size - 1, "\r\n\r\n", 4)) != NULL &&
	    end + 4 - data - 1 <= 8192 &&
	    (err != 0 || left != size - 1 - (size_t)(end + 4 - data - 1)))
		abort();
	return 0;
}

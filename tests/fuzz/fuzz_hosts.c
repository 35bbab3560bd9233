/*
 * fuzz_hosts.c - host names from configuration bytes to the wire: the
 * input is up to three lines, a host, a jump list and a proxy URL, checked
 * raw (host_name_check(), hop_check(), proxy_parse()) and as tunneld.conf
 * (config_load() on `host = [ "HOST" ]; jump = "JUMP"; proxy = "PROXY";`);
 * then the host goes to the proxy request builders of ssh/proxy.c on a
 * socket pair.  The first byte chooses the proxy's kind (bit 0).
 *
 * What must hold: a configuration that loads has only names the check
 * passes; a proxy is asked exactly for the name, in a request of the
 * announced length (SOCKS5: its length byte is the name's), and a name the
 * check refuses is never sent at all; every talk ends once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[] = "/tmp/fuzz_hosts.XXXXXX";
static int fd = -1;

struct outcome {
	int	calls;
	int	error;
};

static void
fuzz_hosts_cb(int error, const char *why, void *arg)
{
	struct outcome *o = arg;

	if ((error != 0) != (why != NULL))
		abort();
	o->calls++;
	o->error = error;
}

/* Safe inside a libconfig string without escapes? */
static int
plain(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return 0;
	}
	return 1;
}

static void
fuzz_hosts_config(const char *host, const char *jump, const char *proxy)
{
	struct errlist errs = { NULL, 0 };
	struct tunnel_conf *tc;
	struct config *c;
	char *text, *cause = NULL;
	size_t i;
	int n;

	if (!plain(host) || !plain(jump) || !plain(proxy))
		return;
	n = xasprintf(&text, "tunnels = { f = { host = [ \"%s\" ];%s%s%s%s%s%s"
	    " }; };\n", host, *jump != '\0' ? " jump = \"" : "", jump,
	    *jump != '\0' ? "\";" : "", *proxy != '\0' ? " proxy = \"" : "",
	    proxy, *proxy != '\0' ? "\";" : "");
	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			abort();
		unlink(path);		/* reached as /proc/self/fd/N */
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, text, (size_t)n, 0) != n)
		abort();
	free(text);
	c = config_load(path, &errs);
	if (c == NULL && errs.n == 0)
		abort();		/* refused without saying why */
	if (c != NULL) {
		tc = c->tunnels[0];
		for (i = 0; i < tc->nservers; i++) {
			if (host_name_check(tc->servers[i].host, &cause) != 0)
				abort();	/* a name the check refuses */
		}
		if (tc->jump != NULL && hop_check(tc->jump, &cause) != 0)
			abort();
		config_free(c);
	}
	errlist_clear(&errs);
}

/* What the builders sent for host: checked against what they were asked. */
static void
fuzz_hosts_sent(int socks, const char *host, int ok, const uint8_t *b,
    size_t n)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t len = strlen(host), want;
	char *hp;

	if (!ok) {		/* nothing sent, not even a greeting */
		if (n != 0)
			abort();
		return;
	}
	if (!socks) {
		xasprintf(&hp, strchr(host, ':') != NULL ? "CONNECT [%s]:22 " :
		    "CONNECT %s:22 ", host);
		if (n < strlen(hp) || memcmp(b, hp, strlen(hp)) != 0 ||
		    n < 4 || memcmp(b + n - 4, "\r\n\r\n", 4) != 0)
			abort();
		free(hp);
		return;
	}
	if (n < 3 || memcmp(b, "\x05\x01\x00", 3) != 0)
		abort();
	b += 3;
	n -= 3;
	if (inet_pton(AF_INET, host, &a4) == 1)
		want = 4 + 4 + 2;
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		want = 4 + 16 + 2;
	else {
		want = 4 + 1 + len + 2;
		if (n < 5 || b[3] != 3 || b[4] != len ||
		    memcmp(b + 5, host, len) != 0)
			abort();
	}
	if (n != want || b[n - 2] != 0 || b[n - 1] != 22)
		abort();
}

static void
fuzz_hosts_talk(int socks, const char *host)
{
	static struct event_base *base;
	static uint8_t sent[4096];
	struct outcome o = { 0, 0 };
	struct proxy_talk *t;
	char *cause = NULL;
	size_t n = 0;
	ssize_t r;
	int sv[2], ok;

	ok = host_name_check(host, &cause) == 0;
	free(cause);
	if (base == NULL)
		base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	/* the proxy's answers, ahead: SOCKS5 "no authentication" then a
	 * refusal; HTTP a refusal */
	if (socks ? write(sv[1], "\x05\x00\x05\x02", 4) != 4 :
	    write(sv[1], "HTTP/1.1 403 No\r\n\r\n", 19) != 19)
		abort();
	t = proxy_talk_start(base, sv[0], socks ? PROXY_SOCKS5 : PROXY_HTTP,
	    "127.0.0.1:3128", host, 22, fuzz_hosts_cb, &o);
	while (o.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	proxy_talk_free(t);
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (o.calls != 1 || o.error == 0)
		abort();
	close(sv[0]);
	while (n < sizeof sent && (r = read(sv[1], sent + n, sizeof sent -
	    n)) > 0)
		n += (size_t)r;
	close(sv[1]);
	fuzz_hosts_sent(socks, host, ok, sent, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *f[3] = { NULL, NULL, NULL }, *p, *cause = NULL;
	struct proxy_url u;
	int i;

	if (size == 0 || size > 4096 || memchr(data + 1, '\0', size - 1) !=
	    NULL)
		return 0;
	s = xmalloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	for (i = 0, p = s; i < 3; i++) {
		f[i] = p;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		*p++ = '\0';
	}
	for (i = 0; i < 3; i++)
		if (f[i] == NULL)
			f[i] = "";
	if (host_name_check(f[0], &cause) != 0 && cause == NULL)
		abort();
	free(cause);
	cause = NULL;
	if (*f[1] != '\0' && hop_check(f[1], &cause) != 0 && cause == NULL)
		abort();
	free(cause);
	cause = NULL;
	if (proxy_parse(f[2], &u, &cause) == 0) {
		if (host_name_check(u.host, &cause) != 0)
			abort();
		proxy_url_clear(&u);
	}
	free(cause);
	fuzz_hosts_config(f[0], f[1], f[2]);
	fuzz_hosts_talk(data[0] & 1, f[0]);
	free(s);
	return 0;
}

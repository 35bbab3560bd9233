/* util.c - allocation that cannot fail silently, clocks, fds. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pwd.h>
#include <unistd.h>

#include "util.h"

static void
oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	p = realloc(p, (n * size) != 0 ? n * size : 1);
	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return n;
}

double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/*
 * The delay before retry n (1, 2, ...): a ceiling doubling from lo up to
 * hi, and the delay drawn uniformly between lo and that ceiling (full
 * jitter), so that things that failed together do not retry in step.
 */
double
backoff_delay(double lo, double hi, unsigned n)
{
	double ceiling = lo * (double)(1u << (n > 1 ? (n < 31 ? n - 1 : 30) : 0));

	return random_between(lo, ceiling < hi ? ceiling : hi);
}

/* A number uniformly in [lo, hi], for jitter (not for secrets). */
double
random_between(double lo, double hi)
{
	double u;

#ifdef HAVE_ARC4RANDOM_UNIFORM
	u = arc4random_uniform(1000001) / 1e6;
#else
	u = random() / (double)RAND_MAX;
#endif
	return hi > lo ? lo + u * (hi - lo) : lo;
}

/* $HOME, else the password database's (thread-safe); to be freed. */
char *
home_dir(void)
{
	struct passwd pw, *res = NULL;
	const char *home;
	char buf[4096];

	if ((home = getenv("HOME")) != NULL && *home != '\0')
		return xstrdup(home);
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 &&
	    res != NULL)
		return xstrdup(pw.pw_dir);
	return xstrdup("/");
}

/* Copy src into dst of size len, always terminated: 0, or -1 if cut. */
int
bstrcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len == 0)
		return -1;
	if (n >= len) {
		memcpy(dst, src, len - 1);
		dst[len - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* snprintf into buf of size len: the length written, or -1 if it was cut
 * (or could not be formatted). */
int
bsnprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

void
bbuf_init(struct bbuf *b, void *p, size_t size)
{
	b->p = p;
	b->size = size;
	b->len = 0;
	b->over = 0;
}

/* Append n bytes; if they do not fit, nothing more is and b->over says so
 * (what was built is not to be sent). */
void
bbuf_add(struct bbuf *b, const void *data, size_t n)
{
	if (b->over || n > b->size - b->len) {
		b->over = 1;
		b->len = 0;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void
bbuf_byte(struct bbuf *b, unsigned c)
{
	unsigned char u = (unsigned char)c;

	bbuf_add(b, &u, 1);
}

void
bbuf_printf(struct bbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->over = 1;
		b->len = 0;
		return;
	}
	b->len += (size_t)n;
}

/*
 * A host name or address no longer than DNS allows: HOST_NAME_LEN
 * characters (a final dot aside), no label (between dots) over
 * HOST_LABEL_LEN, none empty; not beginning with '-', which ssh -G or a
 * resolver could take for an option; no space, control character or
 * shell or quoting character, as OpenSSH's valid_hostname() (the name
 * goes into messages, the journal, ssh -G's configuration and the
 * authorized_keys lines tunnelctl prints).  0, or -1 and a cause, which
 * never quotes such a name.
 */
int
host_name_check(const char *host, char **cause)
{
	size_t len = strlen(host), label;
	const char *p, *dot;

	for (p = host; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			xasprintf(cause, "host name has a space or control "
			    "character (0x%02x) at %zu", (unsigned char)*p,
			    (size_t)(p - host) + 1);
			return -1;
		}
		if (strchr("'`\"$\\;&<>|(){}", *p) != NULL) {
			xasprintf(cause, "host name has '%c' at %zu, which no "
			    "host name has", *p, (size_t)(p - host) + 1);
			return -1;
		}
	}
	if (host[0] == '-') {	/* ssh -G, a resolver: never an option */
		xasprintf(cause, "host name \"%.20s%s\" begins with '-'",
		    host, len > 20 ? "..." : "");
		return -1;
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len > HOST_NAME_LEN) {
		xasprintf(cause, "host name \"%.20s...\" is %zu characters "
		    "long: at most %d", host, len, HOST_NAME_LEN);
		return -1;
	}
	for (p = host; p < host + len; p = dot + 1) {
		if ((dot = memchr(p, '.', (size_t)(host + len - p))) == NULL)
			dot = host + len;
		if ((label = (size_t)(dot - p)) == 0) {
			xasprintf(cause, "host name \"%.20s%s\" has an empty "
			    "label (two dots together, or a dot first)", host,
			    len > 20 ? "..." : "");
			return -1;
		}
		if (label > HOST_LABEL_LEN) {
			xasprintf(cause, "host name \"%.20s...\" has a label "
			    "of %zu characters: at most %d", host, label,
			    HOST_LABEL_LEN);
			return -1;
		}
	}
	return 0;
}

/* TCP_USER_TIMEOUT's milliseconds for count intervals: at least one
 * second, at most INT_MAX (the kernel takes an int), never wrapped. */
unsigned int
tcp_user_timeout_ms(double interval, int count)
{
	double ms = interval * count * 1000.0;

	if (!(ms >= 1000))	/* NaN too */
		return 1000;
	return ms > INT_MAX ? INT_MAX : (unsigned int)ms;
}

/*
 * fwdspec.c - forward specifications in exactly OpenSSH's syntax, so that the
 * argument of `ssh -L/-R/-D` can be pasted: the field splitting follows
 * parse_fwd_field() and parse_forward() in OpenSSH's readconf.c (brackets
 * quote a field, a field containing '/' is a UNIX socket path, a backslash
 * escapes the next character).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "conf.h"

#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path))

struct fwdarg {
	char	*arg;
	int	 ispath;
};

/* Split off one field; -1 at the end of the string or on a bad bracket. */
static int
fwdspec_field(char **p, struct fwdarg *fa)
{
	char *ep, *cp = *p;
	int ispath = 0;

	if (cp == NULL || *cp == '\0')
		return -1;
	if (*cp == '[') {
		for (ep = cp + 1; *ep != ']' && *ep != '\0'; ep++) {
			if (*ep == '/')
				ispath = 1;
		}
		if (ep[0] != ']' || (ep[1] != ':' && ep[1] != '\0'))
			return -1;
		*ep++ = '\0';
		if (*ep != '\0')
			*ep++ = '\0';
		fa->arg = cp + 1;
		fa->ispath = ispath;
		*p = ep;
		return 0;
	}
	for (; *cp != '\0'; cp++) {
		switch (*cp) {
		case '\\':
			memmove(cp, cp + 1, strlen(cp + 1) + 1);
			if (*cp == '\0')
				return -1;
			break;
		case '/':
			ispath = 1;
			break;
		case ':':
			*cp++ = '\0';
			goto done;
		}
	}
done:
	fa->arg = *p;
	fa->ispath = ispath;
	*p = cp;
	return 0;
}

/* A port number or a service name, as OpenSSH's a2port(); -1 if neither. */
static int
fwdspec_port(const char *s)
{
	struct servent *se;
	char *ep;
	long v;

	if (*s == '\0')
		return -1;
	if (isdigit((unsigned char)*s)) {
		v = strtol(s, &ep, 10);
		if (*ep != '\0' || v < 0 || v > 65535)
			return -1;
		return (int)v;
	}
	if ((se = getservbyname(s, "tcp")) != NULL)
		return ntohs(se->s_port);
	return -1;
}

static int
fwdspec_set_port(int *dst, const char *s, const char *what, char **cause)
{
	if ((*dst = fwdspec_port(s)) == -1) {
		xasprintf(cause, "bad %s port \"%s\": expected 0-65535 or a "
		    "service name", what, s);
		return -1;
	}
	return 0;
}

static int
fwdspec_check_host(const char *h, const char *what, char **cause)
{
	char *why;

	if (host_name_check(h, &why) != 0) {	/* what DNS allows */
		xasprintf(cause, "%s address: %s", what, why);
		free(why);
		return -1;
	}
	for (; *h != '\0'; h++) {
		if (isspace((unsigned char)*h) || !isprint((unsigned char)*h)) {
			xasprintf(cause, "%s address contains a space or "
			    "control character", what);
			return -1;
		}
	}
	return 0;
}

/*
 * Parse one entry of the list `list` ("local", "remote" or "dynamic").
 * A remote entry of one or two fields is reverse dynamic (ssh -R [bind:]port).
 */
int
fwdspec_parse(const char *list, const char *spec, struct fwdspec *f,
    char **cause)
{
	struct fwdarg a[5];
	struct in6_addr a6;
	char *copy, *cp;
	int i, n, dynamic, remote;

	memset(f, 0, sizeof *f);
	memset(a, 0, sizeof a);
	f->listen.port = f->connect.port = -1;
	remote = strcmp(list, "remote") == 0;
	dynamic = strcmp(list, "dynamic") == 0;
	f->kind = remote ? FWD_REMOTE : dynamic ? FWD_DYNAMIC : FWD_LOCAL;

	cp = copy = xstrdup(spec);
	while (isspace((unsigned char)*cp))
		cp++;
	for (n = 0; n < 5; n++) {
		if (fwdspec_field(&cp, &a[n]) != 0)
			break;
	}
	if (n == 0 || (cp != NULL && *cp != '\0')) {
		xasprintf(cause, "malformed forward \"%s\"", spec);
		goto fail;
	}

	switch (n) {
	case 1:		/* port | /path */
		if (!dynamic && !remote)
			goto fields;
		if (a[0].ispath)
			goto nopath;
		if (fwdspec_set_port(&f->listen.port, a[0].arg, "listen", cause))
			goto fail;
		break;
	case 2:		/* bind:port | port:/path | /path:/path */
		if (a[1].ispath && !dynamic) {
			if (a[0].ispath) {
				if (remote)
					goto noremotepath;
				f->listen.path = xstrdup(a[0].arg);
			} else if (fwdspec_set_port(&f->listen.port,
			    a[0].arg, "listen", cause))
				goto fail;
			f->connect.path = xstrdup(a[1].arg);
			break;
		}
		if (!dynamic && !remote)
			goto fields;
		if (a[0].ispath || a[1].ispath)
			goto nopath;
		f->listen.host = xstrdup(a[0].arg);
		if (fwdspec_set_port(&f->listen.port, a[1].arg, "listen", cause))
			goto fail;
		break;
	case 3:		/* port:host:hostport | /path:host:hostport |
			   bind:port:/path */
		if (dynamic)
			goto fields;
		if (a[0].ispath) {
			if (remote)
				goto noremotepath;
			f->listen.path = xstrdup(a[0].arg);
			f->connect.host = xstrdup(a[1].arg);
			if (fwdspec_set_port(&f->connect.port, a[2].arg,
			    "target", cause))
				goto fail;
		} else if (a[2].ispath) {
			f->listen.host = xstrdup(a[0].arg);
			if (fwdspec_set_port(&f->listen.port, a[1].arg,
			    "listen", cause))
				goto fail;
			f->connect.path = xstrdup(a[2].arg);
		} else {
			if (fwdspec_set_port(&f->listen.port, a[0].arg,
			    "listen", cause))
				goto fail;
			f->connect.host = xstrdup(a[1].arg);
			if (fwdspec_set_port(&f->connect.port, a[2].arg,
			    "target", cause))
				goto fail;
		}
		break;
	case 4:		/* bind:port:host:hostport */
		if (dynamic)
			goto fields;
		if (a[0].ispath || a[2].ispath)
			goto nopath;
		f->listen.host = xstrdup(a[0].arg);
		if (fwdspec_set_port(&f->listen.port, a[1].arg, "listen", cause))
			goto fail;
		f->connect.host = xstrdup(a[2].arg);
		if (fwdspec_set_port(&f->connect.port, a[3].arg, "target",
		    cause))
			goto fail;
		break;
	default:
		goto fields;
	}

	if (remote && f->connect.host == NULL && f->connect.path == NULL)
		f->kind = FWD_REMOTE_DYNAMIC;
	if (f->connect.host != NULL) {
		if (*f->connect.host == '\0') {
			xasprintf(cause, "\"%s\": empty target host", spec);
			goto fail;
		}
		if (fwdspec_check_host(f->connect.host, "target", cause))
			goto fail;
		if (f->connect.port == 0) {
			xasprintf(cause, "\"%s\": target port 0", spec);
			goto fail;
		}
	}
	if (f->listen.host != NULL &&
	    fwdspec_check_host(f->listen.host, "bind", cause))
		goto fail;
	/* Local listeners are bound without DNS: addresses, localhost or *. */
	if ((f->kind == FWD_LOCAL || f->kind == FWD_DYNAMIC) &&
	    f->listen.host != NULL && !fwdspec_bind_is_wildcard(f->listen.host)
	    && strcmp(f->listen.host, "localhost") != 0 &&
	    inet_pton(AF_INET, f->listen.host, &a6) != 1 &&
	    inet_pton(AF_INET6, f->listen.host, &a6) != 1) {
		xasprintf(cause, "\"%s\": bind address \"%s\" must be an IP "
		    "address, localhost or *", spec, f->listen.host);
		goto fail;
	}
	if (f->listen.path == NULL && f->listen.port == 0 && !remote) {
		xasprintf(cause, "\"%s\": listen port 0 is only allowed for "
		    "remote forwards", spec);
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		const char *p = i ? f->connect.path : f->listen.path;

		if (p != NULL && (*p == '\0' || strlen(p) >= SUN_PATH_MAX)) {
			xasprintf(cause, "\"%s\": UNIX socket path empty or "
			    "longer than %zu bytes", spec, SUN_PATH_MAX - 1);
			goto fail;
		}
	}
	f->spec = xstrdup(spec);
	free(copy);
	return 0;

fields:
	if (dynamic)
		xasprintf(cause, "malformed dynamic forward \"%s\": expected "
		    "[bind:]port", spec);
	else if (remote)
		xasprintf(cause, "malformed remote forward \"%s\": expected "
		    "[bind:]port:host:hostport, [bind:]port:/local/socket or "
		    "[bind:]port", spec);
	else
		xasprintf(cause, "malformed local forward \"%s\": expected "
		    "[bind:]port:host:hostport, [bind:]port:/remote/socket or "
		    "/local/socket:host:hostport", spec);
	goto fail;
nopath:
	xasprintf(cause, "\"%s\": a UNIX socket path is not allowed there",
	    spec);
	goto fail;
noremotepath:
	xasprintf(cause, "\"%s\": remote UNIX socket listeners need a "
	    "streamlocal-forward request that libssh2 1.10 cannot send", spec);
fail:
	free(copy);
	fwdspec_clear(f);
	return -1;
}

void
fwdspec_clear(struct fwdspec *f)
{
	free(f->spec);
	free(f->listen.host);
	free(f->listen.path);
	free(f->connect.host);
	free(f->connect.path);
	free(f->file);
	memset(f, 0, sizeof *f);
}

const char *
fwdspec_kind_name(enum fwd_kind k)
{
	switch (k) {
	case FWD_LOCAL:
		return "local";
	case FWD_REMOTE:
		return "remote";
	case FWD_DYNAMIC:
		return "dynamic";
	case FWD_REMOTE_DYNAMIC:
		return "remote-dynamic";
	}
	return "unknown";
}

int
fwdspec_bind_is_wildcard(const char *h)
{
	return h != NULL && (*h == '\0' || strcmp(h, "*") == 0);
}

/* Canonical form of a bind host for comparisons: loopback, wildcard or itself. */
static const char *
fwdspec_bind_class(const char *h)
{
	if (h == NULL || strcmp(h, "localhost") == 0)
		return "localhost";
	if (fwdspec_bind_is_wildcard(h))
		return "*";
	return h;
}

/* Would two listeners on this machine collide? */
int
fwdspec_listen_conflict(const struct fwdspec *a, const struct fwdspec *b)
{
	const char *ha, *hb;
	int la, lb;

	la = a->kind == FWD_LOCAL || a->kind == FWD_DYNAMIC;
	lb = b->kind == FWD_LOCAL || b->kind == FWD_DYNAMIC;
	if (la != lb)
		return 0;
	if (a->listen.path != NULL || b->listen.path != NULL) {
		return a->listen.path != NULL && b->listen.path != NULL &&
		    strcmp(a->listen.path, b->listen.path) == 0;
	}
	if (a->listen.port != b->listen.port || a->listen.port == 0)
		return 0;
	ha = fwdspec_bind_class(a->listen.host);
	hb = fwdspec_bind_class(b->listen.host);
	return strcmp(ha, "*") == 0 || strcmp(hb, "*") == 0 ||
	    strcmp(ha, hb) == 0;
}

/* "127.0.0.1:9143", "[::1]:9143", "*:80", "/path" - for messages. */
char *
fwdspec_listen_string(const struct fwd_addr *a)
{
	char *s;

	if (a->path != NULL)
		return xstrdup(a->path);
	if (a->host == NULL)
		xasprintf(&s, "localhost:%d", a->port);
	else if (fwdspec_bind_is_wildcard(a->host))
		xasprintf(&s, "*:%d", a->port);
	else if (strchr(a->host, ':') != NULL)
		xasprintf(&s, "[%s]:%d", a->host, a->port);
	else
		xasprintf(&s, "%s:%d", a->host, a->port);
	return s;
}

/*
 * One entry of permit_remote_open, in OpenSSH's PermitRemoteOpen syntax:
 * host:port, IPv4:port or [IPv6]:port, where "*" as host or port allows any.
 * No pattern matching and no lookups, as OpenSSH: names match as written
 * (ignoring case, as DNS does).
 */
int
permit_parse(const char *spec, struct permit *p, char **cause)
{
	struct fwdarg a[3];
	char *copy, *cp;
	int n;

	memset(p, 0, sizeof *p);
	cp = copy = xstrdup(spec);
	for (n = 0; n < 3 && fwdspec_field(&cp, &a[n]) == 0; n++)
		;
	/* every byte is in one of the two fields: nothing follows the port */
	if (n == 2 && ((cp != NULL && *cp != '\0') ||
	    spec[strlen(spec) - 1] == ':')) {
		xasprintf(cause, "\"%s\": junk after the port (expected "
		    "host:port or [IPv6]:port)", spec);
		goto fail;
	}
	if (n != 2 || *a[0].arg == '\0' || *a[1].arg == '\0') {
		xasprintf(cause, "\"%s\": expected host:port, [IPv6]:port, "
		    "\"any\" or \"none\" (\"*\" allows any host or port)",
		    spec);
		goto fail;
	}
	if (fwdspec_check_host(a[0].arg, "permit_remote_open", cause) != 0)
		goto fail;
	if (strcmp(a[1].arg, "*") == 0)
		p->port = -1;
	else if (fwdspec_set_port(&p->port, a[1].arg, "permit_remote_open",
	    cause) != 0)
		goto fail;
	p->host = xstrdup(a[0].arg);
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

/* Is host:port among the permitted destinations? */
int
permit_match(const struct permit *v, size_t n, const char *host, int port)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].port != -1 && v[i].port != port)
			continue;
		if (strcmp(v[i].host, "*") == 0 ||
		    strcasecmp(v[i].host, host) == 0)
			return 1;
	}
	return 0;
}

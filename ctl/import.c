/*
 * import.c - `tunnelctl import -- ssh ARGS...`: the tunneld profile for an
 * ssh (or autossh) command line, printed as a libconfig fragment that is
 * valid as tunneld.conf or as a drop-in of include_dir.  What has no
 * equivalent is said on stderr.  Client-side only: no daemon is asked.
 *
 * The command line is read as ssh(1) reads it: its getopt string, options
 * before and after the destination, `--`, [user@]host or
 * ssh://[user@]host[:port], and whatever follows the destination is the
 * remote command.  As in ssh, the first value given for a setting wins.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tunnelctl.h"
#include "util.h"

/* OpenSSH 9's getopt string (ssh.c) */
#define SSH_OPTSTRING \
	"1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy"
#define NAME_MAX_LEN	64

extern char **environ;

struct fwdlist {
	char	**v;
	size_t	  n;
};

struct imp {
	int		 autossh;
	const char	*name;		/* --name */
	char		*dest;		/* the destination's host */
	char		*hostname;	/* -o HostName */
	char		*user;
	int		 port;
	char		*identity;
	char		*known_hosts;
	char		*strict;
	char		*jump;
	char		*agent;
	char		*algs[4];	/* ciphers, macs, kex, host key */
	long		 ka_interval, ka_count, connect_timeout;
	int		 require_forwards;
	struct fwdlist	 fwd[3];	/* local, remote, dynamic */
};

enum { FWD_LOCAL, FWD_REMOTE, FWD_DYNAMIC };
static const char *fwd_keys[] = { "local", "remote", "dynamic" };
static const char *alg_keys[] = { "ciphers", "macs", "kex_algorithms",
    "host_key_algorithms" };

static void
vnote(const char *fmt, va_list ap)
{
	fputs("tunnelctl import: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

/* A usage error: said, and the exit status to return. */
static int
bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* Keep the first value given, as ssh does. */
static void
set_once(char **field, const char *v)
{
	if (*field == NULL)
		*field = xstrdup(v);
}

static void
fwd_add(struct fwdlist *l, const char *spec)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(spec);
}

/* A path as ssh would open it: relative to the current directory. */
static char *
abs_path(const char *p)
{
	char cwd[PATH_MAX], *r;

	if (p[0] == '/' || p[0] == '~' || getcwd(cwd, sizeof cwd) == NULL)
		return xstrdup(p);
	xasprintf(&r, "%s/%s", cwd, p);
	return r;
}

/* ssh's convtime: 90, 1m30s, 2h; -1 if malformed. */
static long
parse_time(const char *s)
{
	long total = 0, n, mult;
	char *ep;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		n = strtol(s, &ep, 10);
		switch (tolower((unsigned char)*ep)) {
		case '\0': mult = 1; ep--; break;
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 604800; break;
		default: return -1;
		}
		if (n > (LONG_MAX - total) / mult)
			return -1;
		total += n * mult;
		s = ep + 1;
	}
	return total;
}

static int
parse_port(const char *s, const char *what)
{
	char *ep;
	long p = strtol(s, &ep, 10);

	if (*s == '\0' || *ep != '\0' || p < 1 || p > 65535)
		return -bad("%s: bad port \"%s\"", what, s);
	return (int)p;
}

/* yes/true 1, no/false 0, else -1 */
static int
parse_yesno(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
		return 0;
	return -1;
}

/* ProxyJump: its hops as tunneld's jump wants them (no ssh:// prefix). */
static char *
jump_value(const char *v)
{
	char *out = xmalloc(strlen(v) + 1), *o = out;
	const char *p = v;

	while (*p != '\0') {
		if (strncasecmp(p, "ssh://", 6) == 0)
			p += 6;
		while (*p != '\0' && *p != ',') {
			if (*p == '/' && (p[1] == ',' || p[1] == '\0')) {
				p++;
				continue;
			}
			*o++ = *p++;
		}
		if (*p == ',')
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static int
set_jump(struct imp *im, const char *v)
{
	if (im->jump != NULL)
		return 0;
	if (strcasecmp(v, "none") == 0) {
		im->jump = xstrdup("");
		return 0;
	}
	im->jump = jump_value(v);
	return 0;
}

/* StrictHostKeyChecking: tunneld always verifies a key it knows. */
static int
set_strict(struct imp *im, const char *v)
{
	if (im->strict != NULL)
		return 0;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		im->strict = xstrdup("yes");
	else if (strcasecmp(v, "ask") == 0) {
		im->strict = xstrdup("yes");
		note("StrictHostKeyChecking=ask: tunneld cannot ask; an unknown "
		    "host key is an error (strict_host_key_checking = \"yes\")");
	} else if (strcasecmp(v, "accept-new") == 0)
		im->strict = xstrdup("accept-new");
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ||
	    strcasecmp(v, "false") == 0) {
		im->strict = xstrdup("accept-new");
		note("StrictHostKeyChecking=%s: not carried over: tunneld always "
		    "verifies host keys; the nearest is accept-new (an unknown "
		    "key is recorded, a changed key is still refused)", v);
	} else
		return bad("StrictHostKeyChecking: bad value \"%s\"", v);
	return 0;
}

/* UserKnownHostsFile: tunneld reads one file. */
static int
set_known_hosts(struct imp *im, const char *v)
{
	char *first, *sp;

	if (im->known_hosts != NULL)
		return 0;
	first = xstrdup(v);
	if ((sp = strpbrk(first, " \t")) != NULL) {
		*sp = '\0';
		note("UserKnownHostsFile: only the first file, %s, is carried "
		    "over (known_hosts is one file)", first);
	}
	if (strcasecmp(first, "none") == 0)
		note("UserKnownHostsFile=none: not carried over (pin the key "
		    "with host_key instead)");
	else
		im->known_hosts = abs_path(first);
	free(first);
	return 0;
}

static int
set_identity(struct imp *im, const char *v)
{
	if (im->identity != NULL) {
		note("IdentityFile %s: not carried over (identity_file is one "
		    "key; the first, %s, is)", v, im->identity);
		return 0;
	}
	if (strchr(v, '%') != NULL)
		note("IdentityFile %s: ssh's %% tokens are not expanded by "
		    "tunneld", v);
	im->identity = abs_path(v);
	return 0;
}

static int
set_time(long *field, const char *key, const char *v, long max)
{
	long t;

	if (*field != -1)
		return 0;
	if (strcasecmp(v, "none") == 0)
		return 0;
	if ((t = parse_time(v)) < 0)
		return bad("%s: bad time \"%s\"", key, v);
	if (t > max) {
		note("%s=%s: not carried over (at most %ld here)", key, v, max);
		return 0;
	}
	*field = t;
	return 0;
}

static int
set_count(struct imp *im, const char *v)
{
	char *ep;
	long n = strtol(v, &ep, 10);

	if (im->ka_count != -1)
		return 0;
	if (*v == '\0' || *ep != '\0' || n < 0)
		return bad("ServerAliveCountMax: bad number \"%s\"", v);
	if (n < 1 || n > 1000) {
		note("ServerAliveCountMax=%s: not carried over "
		    "(keepalive_count is 1 to 1000)", v);
		return 0;
	}
	im->ka_count = n;
	return 0;
}

/* LocalForward "[bind:]port host:hostport": -L's "[bind:]port:host:hostport" */
static int
set_fwd_option(struct imp *im, int kind, const char *key, const char *v)
{
	char *spec, *sp;

	spec = xstrdup(v);
	if ((sp = strpbrk(spec, " \t")) != NULL) {
		*sp = ':';
		while (sp[1] == ' ' || sp[1] == '\t')
			memmove(sp + 1, sp + 2, strlen(sp + 2) + 1);
	}
	if (kind == FWD_DYNAMIC && sp != NULL) {
		free(spec);
		return bad("%s: bad forward \"%s\"", key, v);
	}
	fwd_add(&im->fwd[kind], spec);
	free(spec);
	return 0;
}

/* Ciphers etc.: a plain list carries over; +, - and ^ edit ssh's defaults. */
static int
set_algs(struct imp *im, int i, const char *key, const char *v)
{
	if (im->algs[i] != NULL)
		return 0;
	if (strchr("+-^", v[0]) != NULL) {
		note("%s %s: not carried over: tunneld's defaults are not "
		    "ssh's; write the whole list in %s", key, v, alg_keys[i]);
		return 0;
	}
	im->algs[i] = xstrdup(v);
	return 0;
}

static int
set_agent(struct imp *im, const char *v)
{
	if (im->agent != NULL)
		return 0;
	if (strcasecmp(v, "none") == 0)
		im->agent = xstrdup("");
	else if (strcmp(v, "SSH_AUTH_SOCK") == 0 || strcmp(v, "$SSH_AUTH_SOCK") == 0)
		im->agent = xstrdup("SSH_AUTH_SOCK");
	else
		im->agent = abs_path(v);
	return 0;
}

/* -o keywords that mean nothing to a daemon, or that it already does */
static const char *silent_keys[] = {
	"BatchMode", "LogLevel", "EscapeChar", "RequestTTY", "Compression",
	"VisualHostKey", "IdentitiesOnly", "ConnectionAttempts",
	"TCPKeepAlive", "AddKeysToAgent", "HashKnownHosts",
};

static int
option_mapped(struct imp *im, const char *k, const char *v)
{
	int yn;

	if (strcasecmp(k, "Port") == 0) {
		if ((yn = parse_port(v, "Port")) < 0)
			return EXIT_USAGE;
		if (im->port == 0)
			im->port = yn;
	} else if (strcasecmp(k, "User") == 0)
		set_once(&im->user, v);
	else if (strcasecmp(k, "HostName") == 0)
		set_once(&im->hostname, v);
	else if (strcasecmp(k, "IdentityFile") == 0)
		return set_identity(im, v);
	else if (strcasecmp(k, "IdentityAgent") == 0)
		return set_agent(im, v);
	else if (strcasecmp(k, "ProxyJump") == 0)
		return set_jump(im, v);
	else if (strcasecmp(k, "UserKnownHostsFile") == 0)
		return set_known_hosts(im, v);
	else if (strcasecmp(k, "StrictHostKeyChecking") == 0)
		return set_strict(im, v);
	else if (strcasecmp(k, "ServerAliveInterval") == 0)
		return set_time(&im->ka_interval, "ServerAliveInterval", v, 32767);
	else if (strcasecmp(k, "ServerAliveCountMax") == 0)
		return set_count(im, v);
	else if (strcasecmp(k, "ConnectTimeout") == 0)
		return set_time(&im->connect_timeout, "ConnectTimeout", v, 3600);
	else if (strcasecmp(k, "ExitOnForwardFailure") == 0) {
		if ((yn = parse_yesno(v)) < 0)
			return bad("ExitOnForwardFailure: bad value \"%s\"", v);
		if (im->require_forwards == -1)
			im->require_forwards = yn;
	} else
		return -1;
	return 0;
}

static int
option_forwards(struct imp *im, const char *k, const char *v)
{
	if (strcasecmp(k, "LocalForward") == 0)
		return set_fwd_option(im, FWD_LOCAL, k, v);
	if (strcasecmp(k, "RemoteForward") == 0)
		return set_fwd_option(im, FWD_REMOTE, k, v);
	if (strcasecmp(k, "DynamicForward") == 0)
		return set_fwd_option(im, FWD_DYNAMIC, k, v);
	if (strcasecmp(k, "Ciphers") == 0)
		return set_algs(im, 0, k, v);
	if (strcasecmp(k, "MACs") == 0)
		return set_algs(im, 1, k, v);
	if (strcasecmp(k, "KexAlgorithms") == 0)
		return set_algs(im, 2, k, v);
	if (strcasecmp(k, "HostKeyAlgorithms") == 0)
		return set_algs(im, 3, k, v);
	return -1;
}

/* -o "Key Value" or -o Key=Value, as ssh's readconf splits them. */
static int
option(struct imp *im, const char *arg)
{
	char *buf = xstrdup(arg), *k, *v, *e;
	size_t i;
	int rc, eq;

	for (k = buf; *k == ' ' || *k == '\t'; k++)
		;
	v = k + strcspn(k, " \t=");
	if (*v != '\0') {
		eq = *v == '=';
		*v++ = '\0';
		v += strspn(v, " \t");
		if (*v == '=' && !eq)
			v++;
		v += strspn(v, " \t");
	}
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	if (*v == '"' && e - v >= 2 && e[-1] == '"') {
		e[-1] = '\0';
		v++;
	}
	if (*k == '\0' || *v == '\0') {
		free(buf);
		return bad("-o \"%s\": missing value", arg);
	}
	if ((rc = option_mapped(im, k, v)) == -1 &&
	    (rc = option_forwards(im, k, v)) == -1) {
		rc = 0;
		for (i = 0; i < nitems(silent_keys) &&
		    strcasecmp(k, silent_keys[i]) != 0; i++)
			;
		if (i == nitems(silent_keys))
			note("-o %s=%s: not carried over", k, v);
	}
	free(buf);
	return rc;
}

/* An ssh option with an argument. */
static int
opt_arg(struct imp *im, int ch, const char *a)
{
	int p;

	switch (ch) {
	case 'L': fwd_add(&im->fwd[FWD_LOCAL], a); return 0;
	case 'R': fwd_add(&im->fwd[FWD_REMOTE], a); return 0;
	case 'D': fwd_add(&im->fwd[FWD_DYNAMIC], a); return 0;
	case 'l': set_once(&im->user, a); return 0;
	case 'i': return set_identity(im, a);
	case 'J': return set_jump(im, a);
	case 'o': return option(im, a);
	case 'c': return set_algs(im, 0, "-c", a);
	case 'm': return set_algs(im, 1, "-m", a);
	case 'p':
		if ((p = parse_port(a, "-p")) < 0)
			return EXIT_USAGE;
		if (im->port == 0)
			im->port = p;
		return 0;
	case 'e': case 'E':
		return 0;
	case 'M':	/* autossh's monitor */
		if (strcmp(a, "0") != 0)
			note("-M %s: autossh's monitor port is not carried over: "
			    "tunneld's keepalives (keepalive_interval, "
			    "keepalive_count) find a dead link, and "
			    "probe_interval checks remote forwards end to end", a);
		return 0;
	case 'F':
		note("-F %s: not carried over (ssh_config = true with "
		    "ssh_config_file = \"%s\" resolves the host in it)", a, a);
		return 0;
	default:
		note("-%c %s: not carried over", ch, a);
		return 0;
	}
}

/* An ssh flag. */
static void
opt_flag(struct imp *im, int ch)
{
	(void)im;
	switch (ch) {
	case '2': case 'a': case 'C': case 'f': case 'k': case 'n':
	case 'N': case 'q': case 't': case 'T': case 'v': case 'x': case 'y':
		return;		/* nothing for a daemon */
	case '4': case '6':
		note("-%c: not carried over (tunneld tries every address of "
		    "the host)", ch);
		return;
	case 'g':
		note("-g: not carried over (give the bind address, *:PORT, in "
		    "local and dynamic forwards)");
		return;
	case 'A':
		note("-A: agent forwarding is not carried over");
		return;
	case 'X': case 'Y':
		note("-%c: X11 forwarding is not carried over", ch);
		return;
	case 'V':
		if (im->autossh)
			return;
		/* FALLTHROUGH */
	default:
		note("-%c: not carried over", ch);
	}
}

/* ssh://[user[;params]@]host[:port][/] */
static int
parse_uri(struct imp *im, const char *uri)
{
	char *s = xstrdup(uri + 6), *h, *at, *end, *semi;
	int port = 0;

	h = s;
	if ((at = strrchr(s, '@')) != NULL) {
		*at = '\0';
		if ((semi = strchr(s, ';')) != NULL)
			*semi = '\0';
		set_once(&im->user, s);
		h = at + 1;
	}
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL)
			goto fail;
		*end++ = '\0';
		h++;
	} else
		end = h + strcspn(h, ":/");
	if (*end == ':') {
		*end++ = '\0';
		port = parse_port(strsep(&end, "/"), "URI");
		if (port < 0 || (end != NULL && *end != '\0'))
			goto fail;
	} else if (*end == '/') {
		*end++ = '\0';
		if (*end != '\0')
			goto fail;
	} else if (*end != '\0')
		goto fail;
	if (*h == '\0')
		goto fail;
	im->dest = xstrdup(h);
	if (im->port == 0 && port > 0)
		im->port = port;
	free(s);
	return 0;
fail:
	free(s);
	return bad("bad destination \"%s\"", uri);
}

/* [user@]host, the user up to the last @, as ssh splits it */
static int
parse_destination(struct imp *im, const char *d)
{
	const char *at;
	char *u;

	if (strncmp(d, "ssh://", 6) == 0)
		return parse_uri(im, d);
	at = strrchr(d, '@');
	if (at == d || (at != NULL && at[1] == '\0') || *d == '\0')
		return bad("bad destination \"%s\"", d);
	if (at != NULL) {
		u = xstrdup(d);
		u[at - d] = '\0';
		set_once(&im->user, u);
		free(u);
		d = at + 1;
	}
	im->dest = xstrdup(d);
	return 0;
}

/* One argument that starts with -: its flags, and an option's argument. */
static int
parse_cluster(struct imp *im, const char *optstr, int argc, char **argv,
    int *i)
{
	const char *a = argv[*i], *p, *spec;

	for (p = a + 1; *p != '\0'; p++) {
		if (*p == ':' || (spec = strchr(optstr, *p)) == NULL)
			return bad("unknown option -%c (in \"%s\")", *p, a);
		if (spec[1] != ':') {
			opt_flag(im, *p);
			continue;
		}
		if (p[1] != '\0')
			return opt_arg(im, *p, p + 1);
		if (*i + 1 >= argc)
			return bad("option -%c needs an argument", *p);
		return opt_arg(im, *p, argv[++*i]);
	}
	return 0;
}

/* The command line after the program: options, destination, command. */
static int
parse_ssh(struct imp *im, int argc, char **argv)
{
	char optstr[sizeof SSH_OPTSTRING + 2], *m;
	int i = 0, rc, terminated = 0;

	bstrcpy(optstr, SSH_OPTSTRING, sizeof optstr);
	if (im->autossh && (m = strchr(optstr, 'M')) != NULL) {
		memmove(m + 2, m + 1, strlen(m + 1) + 1);	/* autossh's -M N */
		m[1] = ':';
	}
again:
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			terminated = 1;
			i++;
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if ((rc = parse_cluster(im, optstr, argc, argv, &i)) != 0)
			return rc;
	}
	if (im->dest == NULL) {
		if (i >= argc)
			return bad("no destination ([user@]host) in the "
			    "command line");
		if ((rc = parse_destination(im, argv[i++])) != 0)
			return rc;
		if (i < argc && !terminated)	/* after --, none (as ssh) */
			goto again;
	}
	if (i < argc)
		note("the remote command (%s%s) is not carried over: tunneld "
		    "runs none, as ssh -N", argv[i], i + 1 < argc ? " ..." : "");
	return 0;
}

/* autossh's environment: AUTOSSH_* mean nothing to tunneld. */
static void
autossh_env(void)
{
	char **e;
	size_t n;

	for (e = environ; *e != NULL; e++) {
		if (strncmp(*e, "AUTOSSH_", 8) != 0)
			continue;
		n = strcspn(*e, "=");
		if (strncmp(*e, "AUTOSSH_PORT=", 13) == 0)
			note("%.*s: not carried over (as -M: tunneld's "
			    "keepalives and probe_interval replace the "
			    "monitor)", (int)n, *e);
		else if (strncmp(*e, "AUTOSSH_GATETIME=", 17) == 0 ||
		    strncmp(*e, "AUTOSSH_POLL=", 13) == 0 ||
		    strncmp(*e, "AUTOSSH_FIRST_POLL=", 19) == 0 ||
		    strncmp(*e, "AUTOSSH_MAXSTART=", 17) == 0)
			note("%.*s: not carried over (tunneld retries for "
			    "ever with backoff: reconnect_min, reconnect_max)",
			    (int)n, *e);
		else
			note("%.*s: not carried over", (int)n, *e);
	}
}

/* A tunnel name from the host: a letter, then letters, digits, - or _ */
static char *
name_from(const char *host)
{
	char *n = xmalloc(NAME_MAX_LEN + 1), *o = n;
	const char *p;

	if (!isalpha((unsigned char)*host))
		o += snprintf(n, NAME_MAX_LEN, "host-");
	for (p = host; *p != '\0' && o < n + NAME_MAX_LEN; p++) {
		if (*p == '[' || *p == ']')
			continue;
		*o++ = isalnum((unsigned char)*p) || *p == '_' || *p == '-' ?
		    *p : '-';
	}
	*o = '\0';
	return n;
}

static int
name_valid(const char *n)
{
	if (!isalpha((unsigned char)*n))
		return 0;
	for (; *n != '\0'; n++) {
		if (!isalnum((unsigned char)*n) && *n != '-' && *n != '_')
			return 0;
	}
	return 1;
}

/* A libconfig string: " and \ escaped, control characters as \xNN. */
static void
put_str(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
put_setting(const char *key, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	printf("    %s = ", key);
	put_str(v);
	printf(";\n");
}

/* The command line as a comment: on one line, nothing it can end early. */
static void
put_comment(int argc, char **argv)
{
	const unsigned char *p;
	int i;

	printf("# tunnelctl import --");
	for (i = 0; i < argc; i++) {
		printf(" ");
		if (argv[i][0] != '\0' && strspn(argv[i], "abcdefghijklmnopqrstu"
		    "vwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") ==
		    strlen(argv[i])) {
			printf("%s", argv[i]);
			continue;
		}
		putchar('\'');
		for (p = (const unsigned char *)argv[i]; *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f)
				putchar('?');
			else if (*p == '\'')
				printf("'\\''");
			else
				putchar(*p);
		}
		putchar('\'');
	}
	printf("\n");
}

static void
put_forwards(const struct fwdlist *l, const char *key)
{
	size_t i;

	if (l->n == 0)
		return;
	printf("    %s = [ ", key);
	for (i = 0; i < l->n; i++) {
		put_str(l->v[i]);
		printf("%s", i + 1 < l->n ? ", " : " ");
	}
	printf("];\n");
}

static void
put_profile(const struct imp *im, const char *name)
{
	size_t i;

	printf("tunnels = {\n  %s = {\n", name);
	put_setting("host", im->hostname != NULL ? im->hostname : im->dest);
	if (im->port != 0)
		printf("    port = %d;\n", im->port);
	put_setting("user", im->user);
	put_setting("identity_file", im->identity);
	put_setting("identity_agent", im->agent);
	put_setting("known_hosts", im->known_hosts);
	put_setting("strict_host_key_checking", im->strict);
	put_setting("jump", im->jump);
	if (im->ka_interval != -1)
		printf("    keepalive_interval = %ld;\n", im->ka_interval);
	if (im->ka_count != -1)
		printf("    keepalive_count = %ld;\n", im->ka_count);
	if (im->connect_timeout != -1)
		printf("    connect_timeout = %ld;\n", im->connect_timeout);
	if (im->require_forwards == 1)
		printf("    require_forwards = true;\n");
	for (i = 0; i < nitems(im->algs); i++)
		put_setting(alg_keys[i], im->algs[i]);
	for (i = 0; i < nitems(im->fwd); i++)
		put_forwards(&im->fwd[i], fwd_keys[i]);
	printf("  };\n};\n");
}

/* What ssh does by default that the profile spells out or cannot. */
static void
defaults(struct imp *im)
{
	struct passwd *pw;

	if (im->user == NULL && (pw = getpwuid(getuid())) != NULL) {
		im->user = xstrdup(pw->pw_name);
		note("user %s: the user ssh logs in as when none is given "
		    "(tunneld's default is the user it runs as)", im->user);
	}
	note("ssh also applies ~/.ssh/config and /etc/ssh/ssh_config to "
	    "\"%s\"; the profile does not (ssh_config = true would)", im->dest);
	if (im->fwd[0].n + im->fwd[1].n + im->fwd[2].n == 0)
		note("the command line has no forwards (-L, -R, -D): the "
		    "tunnel carries nothing");
}

static void
imp_free(struct imp *im)
{
	size_t i, j;

	free(im->dest);
	free(im->hostname);
	free(im->user);
	free(im->identity);
	free(im->known_hosts);
	free(im->strict);
	free(im->jump);
	free(im->agent);
	for (i = 0; i < nitems(im->algs); i++)
		free(im->algs[i]);
	for (i = 0; i < nitems(im->fwd); i++) {
		for (j = 0; j < im->fwd[i].n; j++)
			free(im->fwd[i].v[j]);
		free(im->fwd[i].v);
	}
}

static void
import_usage(FILE *f)
{
	fprintf(f, "usage: tunnelctl import [--name NAME] [--] "
	    "ssh|autossh ARGS...\n");
}

/*
 * import's own options, then the program: 0 and the index of its first
 * argument, the exit status of a usage error, or -1 after --help.
 */
static int
import_args(struct imp *im, int argc, char **argv, int *first)
{
	const char *prog;
	int i;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			im->name = argv[++i];
		else if (strncmp(argv[i], "--name=", 7) == 0)
			im->name = argv[i] + 7;
		else if (strcmp(argv[i], "--name") == 0)
			return bad("--name needs an argument");
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			import_usage(stdout);
			return -1;
		}
		else {
			import_usage(stderr);
			return bad("unknown option \"%s\"", argv[i]);
		}
	}
	if (im->name != NULL && (!name_valid(im->name) ||
	    strlen(im->name) > NAME_MAX_LEN))
		return bad("--name \"%s\": a letter, then letters, digits, - "
		    "or _ (at most %d)", im->name, NAME_MAX_LEN);
	if (i >= argc) {
		import_usage(stderr);
		return EXIT_USAGE;
	}
	prog = strrchr(argv[i], '/') != NULL ? strrchr(argv[i], '/') + 1 :
	    argv[i];
	if (strcmp(prog, "autossh") == 0)
		im->autossh = 1;
	else if (strcmp(prog, "ssh") != 0)
		return bad("\"%s\": not ssh or autossh", argv[i]);
	*first = i + 1;
	return 0;
}

static int
import_main(int argc, char **argv)
{
	struct imp im;
	char *name;
	int rc, first = 0;

	memset(&im, 0, sizeof im);
	im.ka_interval = im.ka_count = im.connect_timeout = -1;
	im.require_forwards = -1;
	if ((rc = import_args(&im, argc, argv, &first)) != 0 ||
	    (rc = parse_ssh(&im, argc - first, argv + first)) != 0) {
		imp_free(&im);
		return rc == -1 ? EXIT_OK : rc;	/* -1: --help */
	}
	if (im.dest == NULL) {	/* parse_ssh says so; for the analyzers */
		imp_free(&im);
		return bad("no destination ([user@]host) in the command line");
	}
	if (im.autossh)
		autossh_env();
	defaults(&im);
	name = im.name != NULL ? xstrdup(im.name) : name_from(im.dest);
	put_comment(argc - first + 1, argv + first - 1);
	put_profile(&im, name);
	free(name);
	imp_free(&im);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}

/*
 * Called first by main: if the command is import (after any global
 * options), run it on the rest of the line, which tunnelctl's own option
 * parsing must not see; -1 otherwise.
 */
int
import_dispatch(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0 ||
		    strcmp(argv[i], "--timeout") == 0)
			i++;
		else if (strcmp(argv[i], "--") == 0 || argv[i][0] != '-')
			break;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc || strcmp(argv[i], "import") != 0)
		return -1;
	return import_main(argc - i - 1, argv + i + 1);
}

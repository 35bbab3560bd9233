/*
 * authkey.c - tunnelctl authorized-key: the server's authorized_keys line
 * for a tunnel's key, allowing what its forwards need and nothing more,
 * from what tunneld says of the tunnel (doc/PROTOCOL.md, "authorized-key").
 *
 * What sshd(8) does with the options (OpenSSH 9.2 to 10.0, auth-options.c
 * and channels.c):
 * - restrict turns off every forwarding, the agent, X11, the pty and
 *   ~/.ssh/rc; port-forwarding turns TCP and UNIX socket forwarding back on.
 * - permitlisten="HOST:PORT" is matched against the tcpip-forward request
 *   as sent: the host as a pattern (tunneld sends "localhost" for no bind
 *   and "" for "*", as ssh does), the port exactly, or "*" for any.  No
 *   permitlisten at all allows every listen.
 * - permitopen="HOST:PORT" is matched exactly against a direct-tcpip
 *   request, "*" matching any host or port; a direct-streamlocal request
 *   is matched with its path as the host and any port ("[PATH]:*").  No
 *   permitopen at all allows every destination.
 * A direction the tunnel does not use gets an entry that nothing can use:
 * port 1 of a name under .invalid, which never resolves (RFC 6761).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnelctl.h"
#include "util.h"

#define AUTHKEY_NOTHING	"none.invalid:1"	/* matches nothing usable */

/* The line being written: its options, comments and sshd_config needs. */
struct authkey {
	char	**opts;
	size_t	  nopts;
	char	**notes;	/* "# ..." lines */
	size_t	  nnotes;
	char	**sshd;		/* sshd_config lines it relies on */
	size_t	  nsshd;
	int	  listens;	/* a permitlisten was added */
	int	  opens;	/* a permitopen was added */
};

static void
authkey_push(char ***v, size_t *n, char *s)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return;
		}
	}
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = s;
}

static void
authkey_free(struct authkey *k)
{
	size_t i;

	for (i = 0; i < k->nopts; i++)
		free(k->opts[i]);
	for (i = 0; i < k->nnotes; i++)
		free(k->notes[i]);
	for (i = 0; i < k->nsshd; i++)
		free(k->sshd[i]);
	free(k->opts);
	free(k->notes);
	free(k->sshd);
}

/* "host:port", "[v6]:port", "[/path]:*"; port < 0 is "*". */
static char *
authkey_hostport(const char *host, int port)
{
	char *s, p[16];

	if (port <= 0)
		snprintf(p, sizeof p, "*");
	else
		snprintf(p, sizeof p, "%d", port);
	if (strchr(host, ':') != NULL || strchr(host, '/') != NULL)
		xasprintf(&s, "[%s]:%s", host, p);
	else
		xasprintf(&s, "%s:%s", host, p);
	return s;
}

/*
 * Can s be written inside an option's quotes, never misread by sshd: no
 * quote or backslash, and no control character (a newline would end the
 * line, and what follows it would be a key of its own, unrestricted)?
 */
static int
authkey_quotable(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\' || *p < ' ' || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* An option NAME="VALUE"; -1 (said) if VALUE is not authkey_quotable(). */
static int
authkey_opt(struct authkey *k, const char *name, char *value)
{
	const unsigned char *p;
	char *s;

	if (!authkey_quotable(value)) {
		fprintf(stderr, "tunnelctl: %s=\"", name);
		for (p = (const unsigned char *)value; *p != '\0'; p++)
			fputc(*p < ' ' || *p == 0x7f ? '?' : *p, stderr);
		fprintf(stderr, "\" cannot be written in authorized_keys (a "
		    "quote, backslash or control character)\n");
		free(value);
		return -1;
	}
	xasprintf(&s, "%s=\"%s\"", name, value);
	free(value);
	authkey_push(&k->opts, &k->nopts, s);
	return 0;
}

static void
authkey_note(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		authkey_push(v, n, s);
}

static int
authkey_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 ||
	    strcmp(h, "::1") == 0;
}

/*
 * -R and remote-dynamic: a TCP listen on the server, whatever is on this
 * side.  The host as tunneld sends it, lower case as sshd compares it.
 */
static int
authkey_remote(struct authkey *k, json_object *f)
{
	json_object *l = json_object_object_get(f, "listen");
	const char *spec = output_strz(f, "spec"), *h = output_str(l, "host");
	int port = (int)output_int(l, "port");
	char *bind, *p;

	if (h == NULL)
		bind = xstrdup("localhost");
	else if (*h == '\0' || strcmp(h, "*") == 0)
		bind = xstrdup("*");
	else {
		bind = xstrdup(h);
		for (p = bind; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	if (strcmp(bind, "*") == 0)
		authkey_note(&k->sshd, &k->nsshd, "GatewayPorts "
		    "clientspecified (or yes): -R %s listens on all addresses",
		    spec);
	else if (!authkey_loopback(bind))
		authkey_note(&k->sshd, &k->nsshd, "GatewayPorts "
		    "clientspecified: -R %s listens on %s", spec, bind);
	if (port == 0)
		authkey_note(&k->notes, &k->nnotes, "-R %s: port 0, the "
		    "server picks it: any port on %s is allowed", spec, bind);
	p = authkey_hostport(bind, port);
	free(bind);
	k->listens = 1;
	return authkey_opt(k, "permitlisten", p);
}

/* -L: the destination exactly as tunneld asks for it. */
static int
authkey_local(struct authkey *k, json_object *f)
{
	json_object *c = json_object_object_get(f, "connect");
	const char *path = output_str(c, "path");

	k->opens = 1;
	if (path != NULL) {
		authkey_note(&k->sshd, &k->nsshd, "AllowStreamLocalForwarding "
		    "yes (or local): -L %s opens a UNIX socket",
		    output_strz(f, "spec"));
		return authkey_opt(k, "permitopen",
		    authkey_hostport(path, -1));
	}
	return authkey_opt(k, "permitopen",
	    authkey_hostport(output_strz(c, "host"),
	    (int)output_int(c, "port")));
}

/* The options for the forwards of tunnel t; -1 if one cannot be written. */
static int
authkey_forwards(struct authkey *k, json_object *t)
{
	json_object *fw = json_object_object_get(t, "forwards"), *f;
	const char *kind;
	size_t i;
	int dynamic = 0;

	for (i = 0; i < json_object_array_length(fw); i++) {
		f = json_object_array_get_idx(fw, i);
		kind = output_strz(f, "kind");
		if (strcmp(kind, "remote") == 0 ||
		    strcmp(kind, "remote-dynamic") == 0) {
			if (authkey_remote(k, f) != 0)
				return -1;
		} else if (strcmp(kind, "local") == 0) {
			if (authkey_local(k, f) != 0)
				return -1;
		} else if (strcmp(kind, "dynamic") == 0 && !dynamic) {
			dynamic = 1;
			authkey_note(&k->notes, &k->nnotes, "-D %s: a SOCKS "
			    "client picks each destination, which sshd cannot "
			    "list: any destination is allowed",
			    output_strz(f, "spec"));
		}
	}
	if (dynamic) {
		k->opens = 1;
		authkey_opt(k, "permitopen", xstrdup("*:*"));
	}
	if (!k->listens)
		authkey_opt(k, "permitlisten", xstrdup(AUTHKEY_NOTHING));
	if (!k->opens)
		authkey_opt(k, "permitopen", xstrdup(AUTHKEY_NOTHING));
	return 0;
}

/* "restrict,port-forwarding,OPT,..." */
static char *
authkey_options(char **opts, size_t n)
{
	char *s = xstrdup("restrict,port-forwarding"), *next;
	size_t i;

	for (i = 0; i < n; i++) {
		xasprintf(&next, "%s,%s", s, opts[i]);
		free(s);
		s = next;
	}
	return s;
}

/*
 * A jump host's next hop, from "[ssh://][user@]host[:port]" (hop.c), as
 * "host:port" for its permitopen; NULL if it is not one, or if its name
 * is not authkey_quotable() (hop.c lets a quote through).
 */
static char *
authkey_hop(const char *spec, size_t len)
{
	char *s = xmalloc(len + 1), *h, *p, *e, *r = NULL;
	long port = 22;

	memcpy(s, spec, len);
	s[len] = '\0';

	h = strncmp(s, "ssh://", 6) == 0 ? s + 6 : s;
	if ((p = strrchr(h, '@')) != NULL)
		h = p + 1;
	if (*h == '[') {
		if ((e = strchr(++h, ']')) == NULL)
			goto out;
		*e++ = '\0';
		p = *e == ':' ? e + 1 : NULL;
	} else if ((p = strchr(h, ':')) != NULL && strchr(p + 1, ':') == NULL)
		*p++ = '\0';
	else
		p = NULL;
	if (p != NULL && (port = strtol(p, &e, 10)) <= 0)
		goto out;
	if (*h != '\0' && authkey_quotable(h))
		r = authkey_hostport(h, (int)port);
out:
	free(s);
	return r;
}

/* "permitopen=..." for the servers of tunnel t, each; a name that cannot
 * be written there allows nothing (none at all would allow everything). */
static char *
authkey_servers(json_object *t)
{
	json_object *sv = json_object_object_get(t, "servers"), *o;
	char *s = xstrdup(""), *hp, *next;
	size_t i;

	for (i = 0; i < json_object_array_length(sv); i++) {
		o = json_object_array_get_idx(sv, i);
		if (!authkey_quotable(output_strz(o, "host")))
			hp = xstrdup(AUTHKEY_NOTHING);
		else
			hp = authkey_hostport(output_strz(o, "host"),
			    (int)output_int(o, "port"));
		xasprintf(&next, "%s,permitopen=\"%s\"", s, hp);
		free(hp);
		free(s);
		s = next;
	}
	return s;
}

/*
 * The line of the jump host whose spec ends before rest (NULL: the last),
 * allowing only the next hop: the next jump host, or the servers.
 */
static char *
authkey_jump_line(json_object *t, const char *rest, const char *key)
{
	char *next, *opens, *line;

	if (rest != NULL) {
		next = authkey_hop(rest, strcspn(rest, ","));
		xasprintf(&opens, ",permitopen=\"%s\"",
		    next != NULL ? next : AUTHKEY_NOTHING);
		free(next);
	} else
		opens = authkey_servers(t);
	xasprintf(&line, "restrict,port-forwarding,permitlisten=\""
	    AUTHKEY_NOTHING "\"%s %s", opens, key);
	free(opens);
	return line;
}

/* The jump hosts' lines, in the order of jump. */
static json_object *
authkey_jumps(json_object *t, const char *key)
{
	const char *p, *q;
	json_object *a = json_object_new_array(), *o;
	char *hop, *line;

	for (p = output_str(t, "jump"); p != NULL && *p != '\0'; p = q) {
		q = strchr(p, ',');
		hop = authkey_hop(p, q != NULL ? (size_t)(q - p) :
		    strlen(p));
		if (q != NULL && *++q == '\0')
			q = NULL;
		if (hop == NULL)
			continue;
		line = authkey_jump_line(t, q, key);
		o = json_object_new_object();
		json_object_object_add(o, "jump", json_object_new_string(hop));
		json_object_object_add(o, "line", json_object_new_string(line));
		json_object_array_add(a, o);
		free(line);
		free(hop);
	}
	return a;
}

static json_object *
authkey_strings(char **v, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void
authkey_text(json_object *t, struct authkey *k, const char *line,
    json_object *jumps)
{
	json_object *sv = json_object_object_get(t, "servers"), *o;
	size_t i;

	printf("# tunneld %s: authorized_keys of %s on", output_strz(t, "name"),
	    output_str(t, "user") != NULL ? output_str(t, "user") :
	    "its user");
	for (i = 0; i < json_object_array_length(sv); i++) {
		o = json_object_array_get_idx(sv, i);
		printf("%s %s:%lld", i > 0 ? "," : "", output_strz(o, "host"),
		    output_int(o, "port"));
	}
	printf("\n");
	for (i = 0; i < k->nnotes; i++)
		printf("# %s\n", k->notes[i]);
	for (i = 0; i < k->nsshd; i++)
		printf("# needs in sshd_config: %s\n", k->sshd[i]);
	for (i = 0; i < json_object_array_length(jumps); i++) {
		o = json_object_array_get_idx(jumps, i);
		printf("# on jump host %s, its own line: %s\n",
		    output_strz(o, "jump"), output_strz(o, "line"));
	}
	printf("%s\n", line);
}

/*
 * Print tunnel t's line (--json: an object); the exit status.  The key
 * comes from tunneld (KEY.pub); without one, why not.
 */
int
authkey_print(json_object *t, int json)
{
	struct authkey k;
	json_object *o, *jumps;
	const char *err = output_str(t, "key_error");
	char *opts, *key, *line;

	if (err != NULL || output_str(t, "key") == NULL) {
		if (json) {
			o = json_object_new_object();
			json_object_object_add(o, "ok",
			    json_object_new_boolean(0));
			json_object_object_add(o, "error", json_object_new_string(
			    err != NULL ? err : "no public key"));
			printf("%s\n", json_object_to_json_string_ext(o,
			    JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		} else
			fprintf(stderr, "tunnelctl: %s: no public key: %s\n",
			    output_strz(t, "name"),
			    err != NULL ? err : "none given");
		return EXIT_FAILED;
	}
	memset(&k, 0, sizeof k);
	if (authkey_forwards(&k, t) != 0) {
		authkey_free(&k);
		return EXIT_FAILED;
	}
	opts = authkey_options(k.opts, k.nopts);
	xasprintf(&key, "%s %s tunneld:%s", output_strz(t, "key_type"),
	    output_strz(t, "key"), output_strz(t, "name"));
	xasprintf(&line, "%s %s", opts, key);
	jumps = authkey_jumps(t, key);
	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_object_object_add(o, "name",
		    json_object_new_string(output_strz(t, "name")));
		json_object_object_add(o, "line", json_object_new_string(line));
		json_object_object_add(o, "options",
		    authkey_strings(k.opts, k.nopts));
		json_object_object_add(o, "key", json_object_new_string(key));
		json_object_object_add(o, "notes",
		    authkey_strings(k.notes, k.nnotes));
		json_object_object_add(o, "sshd_config",
		    authkey_strings(k.sshd, k.nsshd));
		json_object_object_add(o, "jumps", json_object_get(jumps));
		printf("%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else
		authkey_text(t, &k, line, jumps);
	json_object_put(jumps);
	free(opts);
	free(key);
	free(line);
	authkey_free(&k);
	return EXIT_OK;
}

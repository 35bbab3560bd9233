/*
 * config_hosts.c - the host keyword: one server, or a list of servers that
 * a tunnel tries in order (failover, tunnel.c).
 *
 *   host = "relay1";
 *   host = [ "relay1", "relay2:2222", "[2001:db8::7]:2222", "2001:db8::8" ];
 *
 * An entry is a name or address, with ":port" when it is not the tunnel's
 * port; an IPv6 address takes brackets to carry a port, and without a port
 * it may stand bare.  tc->host is the first server's name (what the rest
 * of the configuration calls the tunnel's host); tc->servers is the list.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keywords.h"

#define KERR(s, ...) errlist_add(ctx->errs, cfg_file((s), ctx->path), \
	config_setting_source_line(s), __VA_ARGS__)

/* "2222" as a port; 0 if it is not one (the cause says why). */
static int
config_hosts_port(const char *v, char **cause)
{
	char *end;
	long n;

	*cause = NULL;
	if (*v == '\0') {
		*cause = xstrdup("no port after the colon");
		return 0;
	}
	if (strspn(v, "0123456789") != strlen(v)) {
		xasprintf(cause, "\"%s\" is not a port number", v);
		return 0;
	}
	n = strtol(v, &end, 10);
	if (strlen(v) > 5 || n < 1 || n > 65535) {
		xasprintf(cause, "port %s is out of range (1-65535)", v);
		return 0;
	}
	return (int)n;
}

/* One entry into sv; -1 with the cause when it is not one. */
static int
config_hosts_entry(const char *v, struct server *sv, char **cause)
{
	const char *colon, *end, *port = NULL;
	char *why = NULL;
	size_t len;

	memset(sv, 0, sizeof *sv);
	if (*v == '\0') {
		*cause = xstrdup("empty");
		return -1;
	}
	if (strpbrk(v, " \t\r\n\"\\") != NULL) {
		xasprintf(cause, "\"%s\" is not a host name or address", v);
		return -1;
	}
	if (*v == '[') {
		if ((end = strchr(v, ']')) == NULL || end == v + 1 ||
		    (end[1] != '\0' && end[1] != ':')) {
			xasprintf(cause, "\"%s\": expected [address] or "
			    "[address]:port", v);
			return -1;
		}
		len = (size_t)(end - v - 1);
		v++;
		if (end[1] == ':')
			port = end + 2;
	} else if ((colon = strchr(v, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		len = (size_t)(colon - v);	/* host:port */
		port = colon + 1;
		if (len == 0) {
			xasprintf(cause, "\"%s\": no host before the port",
			    v);
			return -1;
		}
	} else
		len = strlen(v);		/* a name, or a bare IPv6 */
	if (port != NULL && (sv->port = config_hosts_port(port, &why)) == 0) {
		xasprintf(cause, "\"%s\": %s", v, why);
		free(why);
		return -1;
	}
	xasprintf(&sv->host, "%.*s", (int)len, v);
	if (host_name_check(sv->host, cause) != 0) {
		free(sv->host);
		sv->host = NULL;
		return -1;
	}
	return 0;
}

static void
config_hosts_add(struct tunnel_conf *tc, const struct server *sv)
{
	tc->servers = xreallocarray(tc->servers, tc->nservers + 1,
	    sizeof *tc->servers);
	tc->servers[tc->nservers++] = *sv;
}

/* Setting s (a string, or a list of them) into a list; -1 if reported. */
static int
config_hosts_list(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, struct tunnel_conf *tc)
{
	config_setting_t *e;
	struct server sv;
	char *cause;
	int i, n, rc = 0;
	size_t j;

	n = config_setting_type(s) == CONFIG_TYPE_STRING ? 1 :
	    config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_type(s) == CONFIG_TYPE_STRING ? s :
		    config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			KERR(e, "%s: entry %d: expected a string", kw->name,
			    i + 1);
			rc = -1;
			continue;
		}
		if (config_hosts_entry(config_setting_get_string(e), &sv,
		    &cause) != 0) {
			KERR(e, "%s: %s", kw->name, cause);
			free(cause);
			rc = -1;
			continue;
		}
		for (j = 0; j < tc->nservers; j++) {
			if (tc->servers[j].port == sv.port &&
			    strcmp(tc->servers[j].host, sv.host) == 0)
				break;
		}
		if (j < tc->nservers) {
			KERR(e, "%s: \"%s\" is listed twice", kw->name,
			    config_setting_get_string(e));
			free(sv.host);
			rc = -1;
			continue;
		}
		config_hosts_add(tc, &sv);
	}
	return rc;
}

void
config_hosts_clear(struct tunnel_conf *tc)
{
	size_t i;

	for (i = 0; i < tc->nservers; i++)
		free(tc->servers[i].host);
	free(tc->servers);
	tc->servers = NULL;
	tc->nservers = 0;
	free(tc->host);
	tc->host = NULL;
}

/* host = "..." or [ "...", ... ]: replaces what defaults set. */
int
config_hosts_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, struct tunnel_conf *tc)
{
	struct tunnel_conf tmp;

	if (config_setting_type(s) != CONFIG_TYPE_STRING &&
	    config_setting_type(s) != CONFIG_TYPE_LIST &&
	    config_setting_type(s) != CONFIG_TYPE_ARRAY) {
		KERR(s, "%s: expected a string or a list of strings: \"relay1\""
		    " or [ \"relay1\", \"relay2:2222\" ]", kw->name);
		return -1;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING &&
	    config_setting_length(s) == 0) {
		KERR(s, "%s: an empty list; name at least one server",
		    kw->name);
		return -1;
	}
	memset(&tmp, 0, sizeof tmp);
	if (config_hosts_list(kw, s, ctx, &tmp) != 0 || tmp.nservers == 0) {
		config_hosts_clear(&tmp);
		return -1;
	}
	config_hosts_clear(tc);
	tc->servers = tmp.servers;
	tc->nservers = tmp.nservers;
	tc->host = xstrdup(tc->servers[0].host);
	return 0;
}

int
config_hosts_equal(const struct tunnel_conf *a, const struct tunnel_conf *b)
{
	size_t i;

	if (a->nservers != b->nservers)
		return 0;
	for (i = 0; i < a->nservers; i++) {
		if (a->servers[i].port != b->servers[i].port ||
		    strcmp(a->servers[i].host, b->servers[i].host) != 0)
			return 0;
	}
	return 1;
}

/* An entry as it reads back: port 0 is the tunnel's, left out. */
static char *
config_hosts_entry_string(const struct server *sv)
{
	if (sv->port == 0)
		return xstrdup(sv->host);
	return config_server_string(sv->host, sv->port);
}

void
config_hosts_print(FILE *f, const struct tunnel_conf *tc, const char *indent)
{
	size_t i;
	char *s;

	if (tc->nservers == 0)
		return;
	if (tc->nservers == 1 && tc->servers[0].port == 0) {
		fprintf(f, "%shost = \"%s\";\n", indent, tc->servers[0].host);
		return;
	}
	fprintf(f, "%shost = [ ", indent);
	for (i = 0; i < tc->nservers; i++) {
		s = config_hosts_entry_string(&tc->servers[i]);
		fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", s);
		free(s);
	}
	fputs(" ];\n", f);
}

/* Server i's port: its own, or the tunnel's. */
int
config_server_port(const struct tunnel_conf *tc, size_t i)
{
	if (tc->nservers == 0)
		return tc->port;
	i %= tc->nservers;
	return tc->servers[i].port != 0 ? tc->servers[i].port : tc->port;
}

/* Server i's name (the first when the list is shorter). */
const char *
config_server_host(const struct tunnel_conf *tc, size_t i)
{
	if (tc->nservers == 0)
		return tc->host;
	return tc->servers[i % tc->nservers].host;
}

/* "host:port", "[v6]:port": a server as status and the log show it. */
char *
config_server_string(const char *host, int port)
{
	char *s;

	if (strchr(host, ':') != NULL)
		xasprintf(&s, "[%s]:%d", host, port);
	else
		xasprintf(&s, "%s:%d", host, port);
	return s;
}

/* The address and port of "ADDRESS:PORT" or "[ADDRESS]:PORT" into host
 * (of size len) and *port; -1 if it is not exactly that. */
static int
config_split_listen(const char *s, char *host, size_t len, int *port,
    int *family)
{
	const char *h = s, *end, *p;
	size_t n;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		h = s + 1;
		p = end + 2;
		*family = AF_INET6;
	} else {
		if ((end = strchr(s, ':')) == NULL || strchr(end + 1, ':') !=
		    NULL)
			return -1;
		p = end + 1;
		*family = AF_INET;
	}
	if ((n = (size_t)(end - h)) == 0 || n >= len)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	/* the port: digits and nothing after them ("23190junk" is not one) */
	if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") !=
	    strlen(p) || (*port = atoi(p)) < 1 || *port > 65535)
		return -1;
	return 0;
}

/* "ADDRESS:PORT" (an IPv6 address in brackets), numeric, as a socket
 * address; metrics.c listens on it. */
int
config_parse_listen(const char *s, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_storage tmp;
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;
	char host[INET6_ADDRSTRLEN];
	int port, family;

	if (config_split_listen(s, host, sizeof host, &port, &family) != 0)
		return -1;
	memset(&tmp, 0, sizeof tmp);
	if (family == AF_INET) {
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	if (ss != NULL) {
		*ss = tmp;
		*len = family == AF_INET ? (int)sizeof *sin :
		    (int)sizeof *sin6;
	}
	return 0;
}

/* Does a metrics_listen that parses take every address of the machine
 * (0.0.0.0, [::]): the metrics then readable from the network? */
int
config_listen_wildcard(const char *s)
{
	struct sockaddr_storage ss;
	int len;

	if (config_parse_listen(s, &ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->
	    sin6_addr);
}

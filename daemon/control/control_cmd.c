/*
 * control_cmd.c - the control protocol: one request line in, one reply
 * object out (control_handle()), with no socket.  The request is checked
 * (UTF-8, one JSON object, "id", "protocol", "cmd", "tunnels"), then the
 * peer's privilege for the command, from its credentials, and the
 * command's handler answers.
 * Every command is a row of control_cmds[]: its name (common/protocol.h),
 * who may send it, whether it takes tunnel names, and its handler.
 */
#include "config.h"

#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "control.h"
#include "control_cmd.h"

#define CONTROL_QUOTE_MAX	64	/* request bytes quoted in a reply */

struct control_req;

/* Who may send a command. */
enum control_who {
	CONTROL_ANYONE,
	CONTROL_PRIVILEGED	/* root, the daemon's user, control_group */
};

/* What a command does with "tunnels". */
enum control_takes {
	CONTROL_NO_NAMES,	/* none: refused if present */
	CONTROL_NAMES,		/* names, or all tunnels if absent */
	CONTROL_NEEDS_NAMES	/* names, and refused if absent */
};

/* A command: its name, who may send it, its "tunnels", its handler. */
struct control_cmd {
	const char	*name;
	enum control_who who;
	enum control_takes takes;
	json_object	*(*fn)(const struct control_req *);
};

/* A request past its checks, as a command's handler gets it. */
struct control_req {
	const struct control_peer *peer;
	const struct control_cmd *cmd;
	json_object	*id;
	json_object	*names;	/* "tunnels", each once; NULL if absent */
	int		*flags;	/* CONTROL_SUBSCRIBE: the client gets events */
};

static struct config *const control_noconf;	/* before control_cmd_init() */
static struct config *const *control_conf = &control_noconf;	/* main's */

/*
 * Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF); len if none.
 */
size_t
control_utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned c, lo, hi;

	while (i < len) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80)
			n = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return i;
		if (n > len - i - 1)
			return i;
		for (k = 1; k <= n; k++) {
			if (s[i + k] < lo || s[i + k] > hi)
				return i;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n + 1;
	}
	return len;
}

/*
 * Up to CONTROL_QUOTE_MAX bytes of what a client sent, for a message: printable
 * ASCII as it is, anything else as \xNN, so that a reply or a log line never
 * carries the client's raw bytes.
 */
static char *
control_quote(const char *s, size_t len)
{
	char *q, *p;
	size_t i, n = len < CONTROL_QUOTE_MAX ? len : CONTROL_QUOTE_MAX;

	p = q = xcalloc(1, n * 4 + 4);
	for (i = 0; i < n; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			*p++ = s[i];
		else
			p += sprintf(p, "\\x%02x", (unsigned char)s[i]);
	}
	if (n < len)
		strcpy(p, "...");
	return q;
}

/* An error reply: "ok": false, its code and message, the request's id. */
json_object *
control_fail(json_object *id, const char *code, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "error", json_object_new_string(
	    msg != NULL ? msg : "error"));
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	free(msg);
	return o;
}

/* Is gid among uid's groups?  However many groups uid is in. */
static int
control_in_group(uid_t uid, gid_t gid)
{
	struct passwd *pw;
	gid_t *groups = NULL;
	int n = 64, size, i, found = 0;

	if ((pw = getpwuid(uid)) == NULL)
		return 0;
	for (;;) {
		size = n;
		groups = xreallocarray(groups, size, sizeof *groups);
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) != -1)
			break;
		if (n <= size)	/* glibc says how many; others may not */
			n = size * 2;
		if (n > 65536) {	/* NGROUPS_MAX is 65536 on Linux */
			free(groups);
			return 0;
		}
	}
	for (i = 0; i < n && !found; i++)
		found = groups[i] == gid;
	free(groups);
	return found;
}

/* Root, the daemon's own user, or a member of control_group. */
int
control_privileged(const struct control_peer *p)
{
	struct group *gr;

	if (p->uid == 0 || p->uid == geteuid())
		return 1;
	if ((*control_conf) == NULL || (*control_conf)->control_group == NULL ||
	    (gr = getgrnam((*control_conf)->control_group)) == NULL)
		return 0;
	return p->gid == gr->gr_gid || control_in_group(p->uid, gr->gr_gid);
}

static json_object *control_names_check(json_object *, json_object *);

/*
 * The names of a, each once, in the order first given: the request's
 * "tunnels" from now on.  A name repeated costs the reply nothing: it
 * would otherwise carry a status object per repetition, thousands from
 * one request line.
 */
static json_object *
control_names_unique(json_object *req, json_object *a)
{
	json_object *u = json_object_new_array();
	struct tunnel **seen = NULL, *t;
	size_t i, j, n = json_object_array_length(a), nseen = 0;

	for (i = 0; i < n; i++) {
		t = tunnel_find(json_object_get_string(
		    json_object_array_get_idx(a, i)));
		for (j = 0; j < nseen && seen[j] != t; j++)
			;
		if (j < nseen)
			continue;
		seen = xreallocarray(seen, nseen + 1, sizeof *seen);
		seen[nseen++] = t;
		json_object_array_add(u, json_object_get(
		    json_object_array_get_idx(a, i)));
	}
	free(seen);
	json_object_object_add(req, "tunnels", u);	/* a is put */
	return u;
}

/*
 * The "tunnels" array: names, each of which must be a tunnel's name exactly
 * (json-c strings carry a length: an embedded NUL is not a shorter name).
 * *names is NULL when the array is absent (all tunnels, for status).
 */
static json_object *
control_names(json_object *req, json_object *id, json_object **names)
{
	json_object *a, *r;

	*names = NULL;
	if (!json_object_object_get_ex(req, "tunnels", &a))
		return NULL;
	if (!json_object_is_type(a, json_type_array))
		return control_fail(id, PROTOCOL_E_USAGE,
		    "\"tunnels\" must be an array of names, not %s",
		    json_type_to_name(json_object_get_type(a)));
	if ((r = control_names_check(a, id)) != NULL)
		return r;
	*names = control_names_unique(req, a);
	return NULL;
}

/* Each element of the array a tunnel's name, exactly. */
static json_object *
control_names_check(json_object *a, json_object *id)
{
	json_object *e, *r;
	const char *s;
	size_t i, n, len;
	char *q;

	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string))
			return control_fail(id, PROTOCOL_E_USAGE,
			    "\"tunnels\"[%zu] must be a name (a string), not "
			    "%s", i,
			    json_type_to_name(json_object_get_type(e)));
		s = json_object_get_string(e);
		len = (size_t)json_object_get_string_len(e);
		if (strlen(s) != len) {
			q = control_quote(s, len);
			r = control_fail(id, PROTOCOL_E_USAGE,
			    "\"tunnels\"[%zu] \"%s\" contains a NUL character",
			    i, q);
			free(q);
			return r;
		}
		if (tunnel_find(s) == NULL) {
			q = control_quote(s, len);
			r = control_fail(id, PROTOCOL_E_FAILED,
			    "no tunnel named \"%s\"", q);
			free(q);
			return r;
		}
	}
	return NULL;
}

static json_object *
control_reply_tunnels(json_object *id, json_object *names)
{
	json_object *o = json_object_new_object(), *a;
	size_t i;

	if (names == NULL)
		a = status_all();
	else {
		a = json_object_new_array();
		for (i = 0; i < json_object_array_length(names); i++)
			json_object_array_add(a, status_tunnel(tunnel_find(
			    json_object_get_string(
			    json_object_array_get_idx(names, i)))));
	}
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "tunnels", a);
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

static json_object *
control_ok(json_object *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "protocol",
	    json_object_new_int(PROTOCOL_VERSION));
	json_object_object_add(o, "version", json_object_new_string(VERSION));
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

/*
 * The line (well-formed UTF-8) with every character above U+007F inside a
 * string written as a \uXXXX escape (two for a surrogate pair), so that
 * json-c sees ASCII: its strict mode refuses any byte above 0x7f from
 * 0.17 on (Debian 13), where 0.16 (Debian 12) takes UTF-8.  The strings
 * decode to the same characters; a byte outside a string, or just after
 * a backslash, is left as it is for json-c to refuse.
 */
static char *
control_ascii(const char *line, size_t len, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)line;
	char *out = xmalloc(len * 6 + 1), *o = out;
	size_t i, k, n;
	unsigned c;
	int in_string = 0, escaped = 0;

	for (i = 0; i < len; i += n) {
		/* checked UTF-8: s[i] starts a whole sequence of n bytes */
		n = s[i] < 0x80 ? 1 : s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;
		if (n == 1 || !in_string || escaped) {
			if (in_string && !escaped && s[i] == '\\')
				escaped = 1;
			else {
				if (s[i] == '"' && !escaped)
					in_string = !in_string;
				escaped = 0;
			}
			memcpy(o, s + i, n);
			o += n;
			continue;
		}
		c = s[i] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
		for (k = 1; k < n; k++)
			c = (c << 6) | (s[i + k] & 0x3f);
		if (c > 0xffff) {
			c -= 0x10000;
			o += sprintf(o, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
			    0xdc00 + (c & 0x3ff));
		} else
			o += sprintf(o, "\\u%04x", c);
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* One JSON object, all of the line, in UTF-8; NULL with *reply if not. */
static json_object *
control_parse(const char *line, size_t len, json_object **reply)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	json_object *req;
	char *ascii;
	size_t bad, alen;

	*reply = NULL;
	if ((bad = control_utf8_check((const unsigned char *)line, len)) !=
	    len) {
		*reply = control_fail(NULL, PROTOCOL_E_USAGE, "malformed "
		    "request: invalid UTF-8 at byte %zu", bad + 1);
		return NULL;
	}
	ascii = control_ascii(line, len, &alen);
	tok = json_tokener_new();
	/* JSON, not json-c's extensions: comments, trailing commas, 07 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	req = json_tokener_parse_ex(tok, ascii, (int)alen);
	e = json_tokener_get_error(tok);
	free(ascii);
	if (req == NULL || e != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != alen) {
		*reply = control_fail(NULL, PROTOCOL_E_USAGE, "malformed "
		    "request: not one JSON object on a line (%s at byte %zu)",
		    e != json_tokener_success ? json_tokener_error_desc(e) :
		    req == NULL ? "unexpected end" : "more after the object",
		    json_tokener_get_parse_end(tok) + 1);
		json_tokener_free(tok);
		json_object_put(req);
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object)) {
		*reply = control_fail(NULL, PROTOCOL_E_USAGE, "malformed "
		    "request: expected a JSON object, not %s",
		    json_type_to_name(json_object_get_type(req)));
		json_object_put(req);
		return NULL;
	}
	return req;
}

/* "protocol", if present, is the integer PROTOCOL_VERSION. */
static json_object *
control_check_protocol(json_object *req, json_object *id)
{
	json_object *pv;

	if (!json_object_object_get_ex(req, "protocol", &pv))
		return NULL;
	if (!json_object_is_type(pv, json_type_int))
		return control_fail(id, PROTOCOL_E_USAGE, "\"protocol\" must "
		    "be an integer, not %s (this tunneld speaks %d)",
		    json_type_to_name(json_object_get_type(pv)),
		    PROTOCOL_VERSION);
	if (json_object_get_int64(pv) != PROTOCOL_VERSION)
		return control_fail(id, PROTOCOL_E_USAGE, "protocol version "
		    "%lld is not spoken here; this tunneld speaks %d",
		    (long long)json_object_get_int64(pv), PROTOCOL_VERSION);
	return NULL;
}

static json_object *
control_cmd_hello(const struct control_req *r)
{
	return control_ok(r->id);
}

static json_object *
control_cmd_events(const struct control_req *r)
{
	*r->flags |= CONTROL_SUBSCRIBE;
	return control_ok(r->id);
}

static json_object *
control_cmd_status(const struct control_req *r)
{
	return control_reply_tunnels(r->id, r->names);
}

/* A reload's answer, for the client that asked if it is still there. */
struct control_wait {
	unsigned long	 serial;
	json_object	*id;
};

static void
control_reload_reply(json_object *r, json_object *id)
{
	if (id != NULL)
		json_object_object_add(r, "id", json_object_get(id));
	if (!json_object_get_boolean(json_object_object_get(r, "ok")))
		json_object_object_add(r, "code",
		    json_object_new_string(PROTOCOL_E_FAILED));
}

static void
control_reload_done(json_object *r, void *arg)
{
	struct control_wait *w = arg;

	control_reload_reply(r, w->id);
	control_answer(w->serial, r);
	json_object_put(r);
	json_object_put(w->id);
	free(w);
}

/* reload.c answers later (ssh -G runs off the main thread): NULL, and
 * the client reads nothing more until then.  A peer that is no client
 * (tests/unit) gets its answer at once. */
static json_object *
control_cmd_reload(const struct control_req *r)
{
	const struct control_peer *p = r->peer;
	struct control_wait *w;
	unsigned long serial;
	json_object *reply;
	char why[128];

	snprintf(why, sizeof why, "by uid %lu pid %ld", (unsigned long)p->uid,
	    (long)p->pid);
	if ((serial = control_wait(p)) == 0) {
		reply = reload_config(why);
		control_reload_reply(reply, r->id);
		return reply;
	}
	w = xcalloc(1, sizeof *w);
	w->serial = serial;
	w->id = r->id != NULL ? json_object_get(r->id) : NULL;
	reload_request(why, control_reload_done, w);
	return NULL;
}

/* up, down, restart: what is asked of each tunnel named. */
static json_object *
control_change(const struct control_req *r, enum tunnel_command tc)
{
	const struct control_peer *p = r->peer;
	struct tunnel *t;
	char why[128];
	size_t i, n;

	snprintf(why, sizeof why, "%s by uid %lu pid %ld", r->cmd->name,
	    (unsigned long)p->uid, (long)p->pid);
	n = json_object_array_length(r->names);
	for (i = 0; i < n; i++) {
		t = tunnel_find(json_object_get_string(
		    json_object_array_get_idx(r->names, i)));
		log_tunnel(t, LOG_LVL_INFO, "%s", why);
		tunnel_command(t, tc, why);
	}
	return control_reply_tunnels(r->id, r->names);
}

static json_object *
control_cmd_up(const struct control_req *r)
{
	return control_change(r, TC_UP);
}

static json_object *
control_cmd_down(const struct control_req *r)
{
	return control_change(r, TC_DOWN);
}

static json_object *
control_cmd_restart(const struct control_req *r)
{
	return control_change(r, TC_RESTART);
}

/* The text GET /metrics answers (metrics.c), as one string. */
static json_object *
control_cmd_metrics(const struct control_req *r)
{
	json_object *o = json_object_new_object();
	char *text = metrics_text();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "metrics", json_object_new_string(text));
	if (r->id != NULL)
		json_object_object_add(o, "id", json_object_get(r->id));
	free(text);
	return o;
}

/*
 * authorized-key: the named tunnels' forwards as parsed, servers, jump
 * hosts and public key (control_authkey.c); tunnelctl writes the
 * authorized_keys line.  Privileged: the answer names key files and jump
 * hosts, which status does not show.
 */
static json_object *
control_cmd_authkey(const struct control_req *r)
{
	json_object *o = json_object_new_object(), *a;
	size_t i;

	a = json_object_new_array();
	for (i = 0; i < json_object_array_length(r->names); i++)
		json_object_array_add(a, control_authkey(tunnel_find(
		    json_object_get_string(
		    json_object_array_get_idx(r->names, i)))));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "tunnels", a);
	if (r->id != NULL)
		json_object_object_add(o, "id", json_object_get(r->id));
	return o;
}

/* The commands: the protocol's only list of them. */
static const struct control_cmd control_cmds[] = {
	{ PROTOCOL_CMD_HELLO, CONTROL_ANYONE, CONTROL_NO_NAMES,
	  control_cmd_hello },
	{ PROTOCOL_CMD_STATUS, CONTROL_ANYONE, CONTROL_NAMES,
	  control_cmd_status },
	{ PROTOCOL_CMD_EVENTS, CONTROL_ANYONE, CONTROL_NO_NAMES,
	  control_cmd_events },
	{ PROTOCOL_CMD_UP, CONTROL_PRIVILEGED, CONTROL_NEEDS_NAMES,
	  control_cmd_up },
	{ PROTOCOL_CMD_DOWN, CONTROL_PRIVILEGED, CONTROL_NEEDS_NAMES,
	  control_cmd_down },
	{ PROTOCOL_CMD_RESTART, CONTROL_PRIVILEGED, CONTROL_NEEDS_NAMES,
	  control_cmd_restart },
	{ PROTOCOL_CMD_RELOAD, CONTROL_PRIVILEGED, CONTROL_NO_NAMES,
	  control_cmd_reload },
	{ PROTOCOL_CMD_METRICS, CONTROL_ANYONE, CONTROL_NO_NAMES,
	  control_cmd_metrics },
	{ PROTOCOL_CMD_AUTHKEY, CONTROL_PRIVILEGED, CONTROL_NEEDS_NAMES,
	  control_cmd_authkey },
};

/* The commands' names, for an error: "hello, status, ...". */
static char *
control_cmd_names(void)
{
	char *list = NULL, *next;
	size_t i;

	for (i = 0; i < nitems(control_cmds); i++) {
		xasprintf(&next, "%s%s%s", list != NULL ? list : "",
		    list != NULL ? ", " : "", control_cmds[i].name);
		free(list);
		list = next;
	}
	return list;
}

/* The command, one of control_cmds exactly; NULL with *reply if not. */
static const struct control_cmd *
control_command(json_object *req, json_object *id, json_object **reply)
{
	json_object *o;
	const char *s;
	size_t i, len;
	char *q, *list;

	*reply = NULL;
	if (!json_object_object_get_ex(req, "cmd", &o)) {
		*reply = control_fail(id, PROTOCOL_E_USAGE,
		    "request without a \"cmd\"");
		return NULL;
	}
	if (!json_object_is_type(o, json_type_string)) {
		*reply = control_fail(id, PROTOCOL_E_USAGE, "\"cmd\" must be "
		    "a string, not %s", json_type_to_name(
		    json_object_get_type(o)));
		return NULL;
	}
	s = json_object_get_string(o);
	len = (size_t)json_object_get_string_len(o);
	for (i = 0; i < nitems(control_cmds); i++) {
		if (strlen(control_cmds[i].name) == len &&
		    memcmp(control_cmds[i].name, s, len) == 0)
			return &control_cmds[i];
	}
	q = control_quote(s, len);
	list = control_cmd_names();
	*reply = control_fail(id, PROTOCOL_E_USAGE, "unknown command \"%s\" "
	    "(commands: %s)", q, list);
	free(list);
	free(q);
	return NULL;
}

/* The refusal of a command to a peer not privileged enough for it. */
static json_object *
control_denied(const struct control_req *r)
{
	const char *group = *control_conf != NULL ?
	    (*control_conf)->control_group : NULL;

	log_notice("control: %s refused to uid %lu pid %ld", r->cmd->name,
	    (unsigned long)r->peer->uid, (long)r->peer->pid);
	return control_fail(r->id, PROTOCOL_E_PERM, "permission denied: "
	    "\"%s\" needs root, the tunneld user or membership of "
	    "control_group%s%s", r->cmd->name, group != NULL ? " " : "",
	    group != NULL ? group : "");
}

/*
 * The checks every command goes through, in this order: the protocol
 * version, the command, its "tunnels", the peer's privilege; then its
 * handler.
 */
static json_object *
control_dispatch(const struct control_peer *p, json_object *req,
    json_object *id, int *flags)
{
	struct control_req r = { p, NULL, id, NULL, flags };
	json_object *reply, *o;

	if ((reply = control_check_protocol(req, id)) != NULL)
		return reply;
	if ((r.cmd = control_command(req, id, &reply)) == NULL)
		return reply;
	if (r.cmd->takes != CONTROL_NO_NAMES) {
		if ((reply = control_names(req, id, &r.names)) != NULL)
			return reply;
	} else if (json_object_object_get_ex(req, "tunnels", &o))
		return control_fail(id, PROTOCOL_E_USAGE,
		    "\"%s\" takes no \"tunnels\"", r.cmd->name);
	if (r.cmd->who == CONTROL_PRIVILEGED && !control_privileged(p))
		return control_denied(&r);
	if (r.cmd->takes == CONTROL_NEEDS_NAMES && r.names == NULL)
		return control_fail(id, PROTOCOL_E_USAGE,
		    "\"%s\" needs \"tunnels\": [names]", r.cmd->name);
	return r.cmd->fn(&r);
}

/*
 * The "id" is echoed: it must be JSON that can be written back.  json-c
 * takes NaN, Infinity and 1e999 (infinite) and would write back a number as
 * it was written ("1."): each number is written anew, if finite.
 */
static int
control_check_id(json_object *o)
{
	struct json_object_iterator it, end;
	size_t i;

	switch (json_object_get_type(o)) {
	case json_type_double:
		if (!isfinite(json_object_get_double(o)))
			return -1;
		json_object_set_serializer(o, NULL, NULL, NULL);
		return 0;
	case json_type_array:
		for (i = 0; i < json_object_array_length(o); i++) {
			if (control_check_id(json_object_array_get_idx(o, i)))
				return -1;
		}
		return 0;
	case json_type_object:
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			if (control_check_id(json_object_iter_peek_value(&it)))
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * One request line (without its newline) from peer p: the reply, always one
 * JSON object.  *flags says whether the client is to be dropped after it
 * (CONTROL_CLOSE: the line was not a JSON object) or now receives events.
 */
json_object *
control_handle(const struct control_peer *p, const char *line, size_t len,
    int *flags)
{
	json_object *req, *id = NULL, *r;

	*flags = 0;
	if ((req = control_parse(line, len, &r)) == NULL) {
		*flags |= CONTROL_CLOSE;
		return r;
	}
	if (json_object_object_get_ex(req, "id", &id) &&
	    control_check_id(id) != 0)
		r = control_fail(NULL, PROTOCOL_E_USAGE, "\"id\" holds a "
		    "number that is not finite (NaN, Infinity or too large)");
	else
		r = control_dispatch(p, req, id, flags);
	json_object_put(req);
	return r;
}


/* The configuration in force, for control_group (main.c's). */
void
control_cmd_init(struct config *const *conf)
{
	control_conf = conf;
}

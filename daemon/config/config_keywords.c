/*
 * config_keywords.c - every tunneld.conf keyword, defined once, as sshd's
 * keywords[] in servconf.c: its name, type, range, default, where it
 * lives, the field it fills and what a new value needs on reload.  The
 * table drives parsing and validation (config.c), --print-config
 * (config_print.c), the reload classes (reload.c) and the unit test that
 * checks tunneld.conf(5) documents exactly these keywords.  What each
 * type does with its field (parse, default, clear, compare, print) is a
 * row of kw_types[], the type's functions kept together above it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_keywords.h"

static const struct kw_enum strict_values[] = {
	{ "yes", HKC_YES }, { "accept-new", HKC_ACCEPT_NEW }, { NULL, 0 }
};
static const struct kw_enum level_values[] = {
	{ "error", LOG_LVL_ERROR }, { "warning", LOG_LVL_WARNING },
	{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG }, { "warn", LOG_LVL_WARNING }, { NULL, 0 }
};


#define G(f)		KW_GLOBAL, offsetof(struct config, f)
#define T(f)		KW_TUNNEL, offsetof(struct tunnel_conf, f)
#define NA		0, 0, 0, NULL	/* no range, no default */
#define N(lo, hi, def)	lo, hi, def, NULL	/* range and default */
#define R(r)		r, NULL	/* on reload; no words */
#define ALG(kind)	kind, kind, 0, NULL	/* KW_ALGORITHMS: which */

const struct keyword keywords[] = {
	/* name, type, where and field, range and default, on reload */
	{ "control_socket", KW_ABSPATH, G(control_socket), NA, R(KR_DAEMON) },
	{ "control_group", KW_GROUP, G(control_group), NA, R(KR_NONE) },
	{ "log_level", KW_ENUM, G(log_level), N(0, 0, LOG_LVL_INFO), KR_APPLY,
	    level_values },
	{ "workers", KW_INT, G(workers), N(0, WORKERS_MAX, 0), R(KR_DAEMON) },
	{ "include_dir", KW_PATH, G(include_dir), NA, R(KR_NONE) },
	{ "metrics_listen", KW_LISTEN, G(metrics_listen), NA, KR_APPLY, NULL },
	{ "defaults", KW_SECTION, KW_GLOBAL, 0, NA, R(KR_NONE) },
	{ "tunnels", KW_SECTION, KW_GLOBAL, 0, NA, R(KR_NONE) },

	{ "host", KW_HOSTS, T(host), NA, R(KR_SESSION) },
	{ "port", KW_INT, T(port), N(1, 65535, 22), R(KR_SESSION) },
	{ "user", KW_STRING, T(user), NA, R(KR_SESSION) },
	{ "identity_file", KW_PATH, T(identity_file), NA, R(KR_SESSION) },
	{ "certificate_file", KW_PATH, T(certificate_file), NA,
	    R(KR_SESSION) },
	{ "known_hosts", KW_PATH, T(known_hosts), NA, R(KR_SESSION) },
	/* keys: "SSH_AUTH_SOCK" is no path, identity.c resolves it */
	{ "identity_agent", KW_STRING, T(identity_agent), NA, R(KR_SESSION) },
	{ "passphrase_file", KW_PATH, T(passphrase_file), NA, R(KR_SESSION) },
	{ "password_file", KW_PATH, T(password_file), NA, R(KR_SESSION) },
	{ "host_key", KW_FINGERPRINT, T(host_key), NA, R(KR_SESSION) },
	/* ProxyJump's list; config.c checks each hop */
	{ "jump", KW_HOST, T(jump), NA, R(KR_SESSION) },
	{ "strict_host_key_checking", KW_ENUM, T(strict), N(0, 0, HKC_YES),
	    KR_SESSION, strict_values },
	/* checked against the linked libssh2; defaults from it (ssh/) */
	{ "ciphers", KW_ALGORITHMS, T(ciphers), ALG(SA_CIPHERS),
	    R(KR_SESSION) },
	{ "macs", KW_ALGORITHMS, T(macs), ALG(SA_MACS), R(KR_SESSION) },
	{ "kex_algorithms", KW_ALGORITHMS, T(kex_algorithms), ALG(SA_KEX),
	    R(KR_SESSION) },
	{ "host_key_algorithms", KW_ALGORITHMS, T(host_key_algorithms),
	    ALG(SA_HOSTKEY), R(KR_SESSION) },
	{ "autostart", KW_BOOL, T(autostart), N(0, 1, 1), R(KR_NONE) },
	/* at most Linux's TCP_KEEPIDLE, 32767 s (ssh/session.c) */
	{ "keepalive_interval", KW_DURATION, T(keepalive_interval),
	    N(0, 32767, 15), R(KR_REARM) },
	{ "keepalive_count", KW_INT, T(keepalive_count), N(1, 1000, 3),
	    R(KR_REARM) },
	{ "connect_timeout", KW_DURATION, T(connect_timeout),
	    N(0.1, 3600, 10), R(KR_NONE) },
	/* a channel with bytes waiting and none moving (ssh/channel.c) */
	{ "channel_stall_timeout", KW_DURATION, T(channel_stall_timeout),
	    N(0, 86400, 300), R(KR_NONE) },
	/* the next delay drawn; a retry already scheduled keeps its time */
	{ "reconnect_min", KW_DURATION, T(reconnect_min), N(0.1, 86400, 1),
	    R(KR_NONE) },
	{ "reconnect_max", KW_DURATION, T(reconnect_max), N(0.1, 86400, 300),
	    R(KR_NONE) },
	/* parallel sessions: read where used */
	{ "sessions", KW_INT, T(sessions), N(1, SESSIONS_MAX, 16),
	    R(KR_NONE) },
	{ "sessions_idle", KW_DURATION, T(sessions_idle), N(0.1, 86400, 60),
	    R(KR_NONE) },
	{ "local", KW_FORWARDS, T(fwds), NA, R(KR_FORWARDS) },
	{ "remote", KW_FORWARDS, T(fwds), NA, R(KR_FORWARDS) },
	{ "dynamic", KW_FORWARDS, T(fwds), NA, R(KR_FORWARDS) },
	/* its field is permit_any; the list is beside it */
	{ "permit_remote_open", KW_PERMITS, T(permit_any), N(0, 0, 1),
	    R(KR_NONE) },

	/* receive windows above their base, in MiB (ssh/window.c) */
	{ "window_budget_total", KW_INT, G(window_budget_total),
	    N(0, 65536, 256), KR_APPLY, NULL },
	{ "window_budget", KW_INT, T(window_budget), N(0, 4096, 64),
	    R(KR_NONE) },
	/* upstream proxies and ~/.ssh/config aliases (ssh/proxy.c,
	 * ssh_config.c) */
	{ "proxy", KW_PROXY, T(proxy), NA, R(KR_SESSION) },
	{ "ssh_config", KW_BOOL, T(ssh_config), N(0, 1, 0), R(KR_SESSION) },
	{ "ssh_config_file", KW_PATH, T(ssh_config_file), NA,
	    R(KR_SESSION) },
	/* budgets: connections open at once, over which a new
	 * one is refused; lines of one message per LOG_RATE_INTERVAL */
	{ "max_connections", KW_INT, T(max_connections), N(1, 1000000, 4096),
	    R(KR_NONE) },
	{ "max_forward_connections", KW_INT, T(max_forward_connections),
	    N(1, 1000000, 1024), R(KR_NONE) },
	/* a forward not established drops the session (tunnel.c) */
	{ "require_forwards", KW_BOOL, T(require_forwards), N(0, 1, 0),
	    R(KR_NONE) },
	/* all its forwards' bytes each way; applied to the connections
	 * open by the reload itself (tunnel_reconf.c, ssh/ratelimit.c) */
	{ "rate_limit", KW_RATE, T(rate_limit), N(1024, RATE_LIMIT_MAX, 0),
	    R(KR_NONE) },
	{ "log_rate_limit", KW_INT, G(log_rate_limit), N(0, 1000000, 20),
	    KR_APPLY, NULL },
	/* a program run on state changes (proc/hook.c): read where used */
	{ "on_state", KW_ARGV, T(on_state), NA, R(KR_NONE) },
	{ "on_state_timeout", KW_DURATION, T(on_state_timeout),
	    N(1, 3600, 30), R(KR_NONE) },
	/* the end-to-end probe of remote forwards (tunnel/probe.c) */
	{ "probe_interval", KW_DURATION, T(probe_interval), N(0, 86400, 0),
	    R(KR_REARM) },
	{ "probe_target", KW_BOOL, T(probe_target), N(0, 1, 1), R(KR_NONE) },
};
const size_t nkeywords = nitems(keywords);

#undef G
#undef T
#undef NA
#undef N
#undef R
#undef ALG

/* The field a keyword fills in obj (a struct config or tunnel_conf). */
#define FIELD(kw, obj, type)	((type *)(void *)((char *)(obj) + (kw)->off))
#define CFIELD(kw, obj, type)	\
	((const type *)(const void *)((const char *)(obj) + (kw)->off))

#define KERR(s, ...) errlist_add(ctx->errs, cfg_file((s), ctx->path), \
	config_setting_source_line(s), __VA_ARGS__)

const struct keyword *
keyword_find(const char *name, enum kw_where where)
{
	size_t i;

	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == where &&
		    strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	}
	return NULL;
}

const char *
keyword_reload_name(enum kw_reload r)
{
	static const char *names[] = { "none", "apply", "re-arm", "forwards",
	    "session", "daemon" };

	return names[r];
}

/* A path as written, made absolute relative to the file it appears in. */
static char *
kw_path(const char *value, const char *file)
{
	const char *home, *slash;
	char *p;

	if (value[0] == '~' && value[1] == '/') {
		if ((home = getenv("HOME")) == NULL) {
			struct passwd *pw = getpwuid(geteuid());

			home = pw != NULL ? pw->pw_dir : "/";
		}
		xasprintf(&p, "%s%s", home, value + 1);
		return p;
	}
	if (value[0] == '/' || (slash = strrchr(file, '/')) == NULL)
		return xstrdup(value);
	xasprintf(&p, "%.*s/%s", (int)(slash - file), file, value);
	return p;
}

static int
kw_fingerprint_ok(const char *v)
{
	size_t i, n;

	if (strncmp(v, "SHA256:", 7) != 0)
		return -1;
	v += 7;
	n = strlen(v);
	while (n > 0 && v[n - 1] == '=')
		n--;
	if (n != 43)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)v[i]) && v[i] != '+' && v[i] != '/')
			return -1;
	}
	return 0;
}

/*
 * Strings.  Each type has its own parse, for what the value must be; they
 * share the default (def_str), clear, equal and print.
 */

/* The string of setting s, not yet checked for its type; NULL if reported. */
static const char *
kw_str_value(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		KERR(s, "%s: expected a string", kw->name);
		return NULL;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		KERR(s, "%s: empty", kw->name);
		return NULL;
	}
	return v;
}

static int
kw_str_set(const struct keyword *kw, void *obj, char *v)
{
	free(*FIELD(kw, obj, char *));
	*FIELD(kw, obj, char *) = v;
	return 0;
}

static int
kw_string_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	return kw_str_set(kw, obj, xstrdup(v));
}

static int
kw_host_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (strpbrk(v, " \t\r\n") != NULL) {
		KERR(s, "%s: \"%s\" is not a host name or address", kw->name,
		    v);
		return -1;
	}
	return kw_str_set(kw, obj, xstrdup(v));
}

static int
kw_path_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	return kw_str_set(kw, obj, kw_path(v, cfg_file(s, ctx->path)));
}

static int
kw_abspath_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (*v != '/') {
		KERR(s, "%s: \"%s\" is not an absolute path", kw->name, v);
		return -1;
	}
	return kw_str_set(kw, obj, xstrdup(v));
}

static int
kw_group_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (getgrnam(v) == NULL) {
		KERR(s, "%s: no group named \"%s\"", kw->name, v);
		return -1;
	}
	return kw_str_set(kw, obj, xstrdup(v));
}

static int
kw_fingerprint_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (kw_fingerprint_ok(v) != 0) {
		KERR(s, "%s: \"%s\" is not a SHA256 fingerprint as printed by "
		    "ssh-keygen -lf (SHA256:...)", kw->name, v);
		return -1;
	}
	return kw_str_set(kw, obj, xstrdup(v));
}

/* A wildcard address is allowed, with a warning: it is often a mistake. */
static int
kw_listen_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (config_parse_listen(v, NULL, NULL) != 0) {
		KERR(s, "%s: \"%s\" is not ADDRESS:PORT (an IPv6 address in "
		    "brackets)", kw->name, v);
		return -1;
	}
	if (config_listen_wildcard(v))
		log_warnx("%s:%d: %s: \"%s\" is every address of this "
		    "machine: the metrics are readable from the network",
		    cfg_file(s, ctx->path), config_setting_source_line(s),
		    kw->name, v);
	return kw_str_set(kw, obj, xstrdup(v));
}

/* Checked against the linked libssh2; kw->min is the enum session_alg. */
static int
kw_algorithms_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *v;
	char *why;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (session_algs_check((enum session_alg)kw->min, v, &why) != 0) {
		KERR(s, "%s: %s", kw->name, why);
		free(why);
		return -1;
	}
	return kw_str_set(kw, obj, xstrdup(v));
}

static int
kw_proxy_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	struct proxy_url url;
	const char *v;
	char *why;

	if ((v = kw_str_value(kw, s, ctx)) == NULL)
		return -1;
	if (proxy_parse(v, &url, &why) != 0) {
		KERR(s, "%s: %s", kw->name, why);
		free(why);
		return -1;
	}
	proxy_url_clear(&url);
	return kw_str_set(kw, obj, xstrdup(v));
}

static void
kw_str_default(const struct keyword *kw, void *obj)
{
	if (kw->def_str != NULL)
		*FIELD(kw, obj, char *) = xstrdup(kw->def_str);
}

/* user: the one tunneld runs as. */
static void
kw_string_default(const struct keyword *kw, void *obj)
{
	struct passwd *pw;

	if (kw->where == KW_TUNNEL && strcmp(kw->name, "user") == 0 &&
	    (pw = getpwuid(geteuid())) != NULL)
		*FIELD(kw, obj, char *) = xstrdup(pw->pw_name);
	kw_str_default(kw, obj);
}

/* The linked libssh2's list, as ssh/session_algs.c orders it. */
static void
kw_algorithms_default(const struct keyword *kw, void *obj)
{
	const char *def;

	if ((def = session_algs_default((enum session_alg)kw->min)) != NULL)
		*FIELD(kw, obj, char *) = xstrdup(def);
}

static void
kw_str_clear(const struct keyword *kw, void *obj)
{
	free(*FIELD(kw, obj, char *));
	*FIELD(kw, obj, char *) = NULL;
}

static int
kw_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
kw_str_equal(const struct keyword *kw, const void *a, const void *b)
{
	return kw_str_eq(*CFIELD(kw, a, char *), *CFIELD(kw, b, char *));
}

/* A libconfig string literal: quotes and backslashes escaped. */
static void
kw_print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
kw_str_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	const char *s;

	if ((s = *CFIELD(kw, obj, char *)) == NULL)
		return;
	fprintf(f, "%s%s = ", indent, kw->name);
	kw_print_str(f, s);
	fputs(";\n", f);
}

/* Booleans, integers and durations (seconds, a double). */

/* An integer or decimal number of libconfig; -1 if it is neither. */
static int
kw_number(config_setting_t *s, double *out, int integer)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*out = config_setting_get_int(s);
		return 0;
	case CONFIG_TYPE_INT64:
		*out = (double)config_setting_get_int64(s);
		return 0;
	case CONFIG_TYPE_FLOAT:
		*out = config_setting_get_float(s);
		return integer || !isfinite(*out) ? -1 : 0;
	default:
		return -1;
	}
}

/* A number in [kw->min, kw->max]; -1 if reported. */
static int
kw_range(const struct keyword *kw, config_setting_t *s, struct kw_ctx *ctx,
    int integer, double *out)
{
	if (kw_number(s, out, integer) != 0) {
		KERR(s, "%s: expected %s", kw->name, integer ? "an integer" :
		    "a number");
		return -1;
	}
	if (*out >= kw->min && *out <= kw->max)
		return 0;
	if (integer)
		KERR(s, "%s: %.0f is out of range (%g-%g)", kw->name, *out,
		    kw->min, kw->max);
	else
		KERR(s, "%s: %g is out of range (%g-%g seconds)", kw->name,
		    *out, kw->min, kw->max);
	return -1;
}

/*
 * A rate: bytes per second, with K, M or G after the number for 1024,
 * 1024^2 or 1024^3 (as rsync's --bwlimit and curl's --limit-rate; ssh's
 * -l counts Kbit/s); "1.5M" too.  -1 if v is none.
 */
static int
kw_rate_value(const char *v, double *out)
{
	static const char units[] = "KMG";
	const char *u;
	char *end;
	size_t n;
	double d;

	/* decimal digits, and a '.' with digits after it: strtod alone
	 * would take "0x400", "1e3", "inf" and leading blanks too */
	n = strspn(v, "0123456789");
	if (n == 0)
		return -1;
	if (v[n] == '.') {
		if (!isdigit((unsigned char)v[n + 1]))
			return -1;
		n += 1 + strspn(v + n + 1, "0123456789");
	}
	errno = 0;
	d = strtod(v, &end);
	if ((size_t)(end - v) != n || errno != 0 || !isfinite(d) || d < 0)
		return -1;
	if (*end != '\0' && (u = strchr(units, toupper((unsigned char)*end)))
	    != NULL) {
		d = ldexp(d, 10 * (int)(u - units + 1));
		end++;
	}
	if (*end != '\0')
		return -1;
	*out = floor(d);
	return 0;
}

static int
kw_rate_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	double d;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		d = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_STRING:
		if (kw_rate_value(config_setting_get_string(s), &d) == 0)
			break;
		/* FALLTHROUGH */
	default:
		KERR(s, "%s: expected a rate: bytes per second, with K, M or "
		    "G after the number for 1024, 1024^2 or 1024^3 (\"10M\")",
		    kw->name);
		return -1;
	}
	if (d != 0 && (d < kw->min || d > kw->max)) {
		KERR(s, "%s: %.0f bytes per second is out of range (0 for none, "
		    "or 1K-%.0fG)", kw->name, d, kw->max / (1 << 30));
		return -1;
	}
	*FIELD(kw, obj, long long) = (long long)d;
	return 0;
}

static int
kw_bool_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		KERR(s, "%s: expected true or false", kw->name);
		return -1;
	}
	*FIELD(kw, obj, int) = config_setting_get_bool(s);
	return 0;
}

static int
kw_int_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	double d;

	if (kw_range(kw, s, ctx, 1, &d) != 0)
		return -1;
	*FIELD(kw, obj, int) = (int)d;
	return 0;
}

static int
kw_duration_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	double d;

	if (kw_range(kw, s, ctx, 0, &d) != 0)
		return -1;
	*FIELD(kw, obj, double) = d;
	return 0;
}

/* Of every type kept in an int: bool, int, enum, permits (permit_any). */
static void
kw_int_default(const struct keyword *kw, void *obj)
{
	*FIELD(kw, obj, int) = (int)kw->def;
}

static void
kw_duration_default(const struct keyword *kw, void *obj)
{
	*FIELD(kw, obj, double) = kw->def;
}

static void
kw_rate_default(const struct keyword *kw, void *obj)
{
	*FIELD(kw, obj, long long) = (long long)kw->def;
}

static int
kw_rate_equal(const struct keyword *kw, const void *a, const void *b)
{
	return *CFIELD(kw, a, long long) == *CFIELD(kw, b, long long);
}

/* In the largest unit that says it exactly: "10M", "1536K", "1000". */
static void
kw_rate_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	static const char units[] = "GMK";
	long long v = *CFIELD(kw, obj, long long), unit;
	int i;

	for (i = 0; i < 3; i++) {
		unit = 1LL << (10 * (3 - i));
		if (v != 0 && v % unit == 0) {
			fprintf(f, "%s%s = \"%lld%c\";\n", indent, kw->name,
			    v / unit, units[i]);
			return;
		}
	}
	fprintf(f, "%s%s = \"%lld\";\n", indent, kw->name, v);
}

static int
kw_int_equal(const struct keyword *kw, const void *a, const void *b)
{
	return *CFIELD(kw, a, int) == *CFIELD(kw, b, int);
}

static int
kw_duration_equal(const struct keyword *kw, const void *a, const void *b)
{
	return *CFIELD(kw, a, double) == *CFIELD(kw, b, double);
}

static void
kw_bool_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	fprintf(f, "%s%s = %s;\n", indent, kw->name,
	    *CFIELD(kw, obj, int) ? "true" : "false");
}

static void
kw_int_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	fprintf(f, "%s%s = %d;\n", indent, kw->name, *CFIELD(kw, obj, int));
}

/* The shortest decimal that reads back as the same double. */
static void
kw_duration_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	double v = *CFIELD(kw, obj, double);
	char buf[64];
	int prec;

	for (prec = 6; prec < 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, sizeof buf, "%.*g", prec, v);
	fprintf(f, "%s%s = %s;\n", indent, kw->name, buf);
}

/* Enums: one of kw->values' words, kept as its value in an int. */

/* The words of an enum keyword for a message: "a", "b" or "c". */
static char *
kw_enum_words(const struct keyword *kw)
{
	const struct kw_enum *e, *a;
	const char *w[16];
	char *list = xstrdup(""), *n;
	size_t i, nw = 0;

	for (e = kw->values; e->name != NULL && nw < nitems(w); e++) {
		for (a = kw->values; a < e && a->value != e->value; a++)
			;
		if (a == e)	/* not an alias */
			w[nw++] = e->name;
	}
	for (i = 0; i < nw; i++) {
		xasprintf(&n, "%s%s\"%s\"", list, i == 0 ? "" :
		    i + 1 == nw ? " or " : ", ", w[i]);
		free(list);
		list = n;
	}
	return list;
}

static int
kw_enum_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const struct kw_enum *e;
	const char *v = NULL;
	char *words;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(s);
		for (e = kw->values; e->name != NULL; e++) {
			if (strcasecmp(v, e->name) == 0) {
				*FIELD(kw, obj, int) = e->value;
				return 0;
			}
		}
	}
	words = kw_enum_words(kw);
	if (v != NULL)
		KERR(s, "%s: \"%s\": expected %s", kw->name, v, words);
	else
		KERR(s, "%s: expected %s", kw->name, words);
	free(words);
	return -1;
}

/* The first word of the value: an alias is printed as what it stands for. */
static void
kw_enum_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	const struct kw_enum *e;

	for (e = kw->values; e->name != NULL; e++) {
		if (e->value == *CFIELD(kw, obj, int)) {
			fprintf(f, "%s%s = \"%s\";\n", indent, kw->name,
			    e->name);
			return;
		}
	}
}

/* Lists of strings: forwards and permits. */

/*
 * The line of a list entry.  libconfig numbers a scalar inside an array by
 * its look-ahead token, one line late when the array spans lines, so the
 * entry's text is looked for from the line of the list onward.
 */
static int
kw_elem_line(config_setting_t *list, config_setting_t *e, const char *path)
{
	const char *file = cfg_file(list, path), *v;
	int line = 0, from = (int)config_setting_source_line(list);
	int late = (int)config_setting_source_line(e);
	char buf[4096], *want;
	FILE *f;

	if (config_setting_type(e) != CONFIG_TYPE_STRING ||
	    (f = fopen(file, "re")) == NULL)
		return late;
	v = config_setting_get_string(e);
	xasprintf(&want, "\"%s\"", v);
	while (fgets(buf, sizeof buf, f) != NULL) {
		if (++line >= from && strstr(buf, want) != NULL)
			break;
		if (line > late) {
			line = late;
			break;
		}
	}
	fclose(f);
	free(want);
	return line;
}

/* A setting that is one string or a list of them: how many (-1: neither,
 * reported with what was expected). */
static int
kw_strings(config_setting_t *s, struct kw_ctx *ctx, const char *expected)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return 1;
	if (config_setting_is_aggregate(s) &&
	    config_setting_type(s) != CONFIG_TYPE_GROUP)
		return config_setting_length(s);
	KERR(s, "%s: expected %s", config_setting_name(s), expected);
	return -1;
}

/* Entry i of such a setting and its line; NULL (reported) if no string. */
static const char *
kw_strings_elem(config_setting_t *s, int i, struct kw_ctx *ctx, int *line)
{
	config_setting_t *e;

	e = config_setting_type(s) == CONFIG_TYPE_STRING ? s :
	    config_setting_get_elem(s, i);
	*line = kw_elem_line(s, e, ctx->path);
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		errlist_add(ctx->errs, cfg_file(s, ctx->path), *line,
		    "%s: entry %d is not a string", config_setting_name(s),
		    i + 1);
		return NULL;
	}
	return config_setting_get_string(e);
}

/*
 * Forwards: local, remote and dynamic share the tunnel's list fwds; each
 * keyword parses, compares and prints the forwards of its kind.
 */

/* Is forward f one of the list named by kw ("remote" has two kinds)? */
static int
kw_fwd_mine(const struct keyword *kw, const struct fwdspec *f)
{
	return strcmp(fwdspec_kind_name(f->kind), kw->name) == 0 ||
	    (strcmp(kw->name, "remote") == 0 && f->kind == FWD_REMOTE_DYNAMIC);
}

/* The forwards of kw's kind go, or all of them if kw is NULL. */
static void
kw_forwards_drop(const struct keyword *kw, struct tunnel_conf *tc)
{
	size_t j, w;

	for (j = w = 0; j < tc->nfwds; j++) {
		if (kw == NULL || kw_fwd_mine(kw, &tc->fwds[j]))
			fwdspec_clear(&tc->fwds[j]);
		else
			tc->fwds[w++] = tc->fwds[j];
	}
	tc->nfwds = w;
	if (w == 0) {
		free(tc->fwds);
		tc->fwds = NULL;
	}
}

/* A list given replaces the inherited forwards of its kind. */
static int
kw_forwards_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	struct tunnel_conf *tc = obj;
	const char *v;
	struct fwdspec f;
	char *cause;
	int i, n, line, rc = 0;

	kw_forwards_drop(kw, tc);
	n = kw_strings(s, ctx, strcmp(kw->name, "dynamic") == 0 ?
	    "a list of strings such as [ \"1080\" ]" :
	    "a list of strings such as [ \"9143:localhost:143\" ]");
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = kw_strings_elem(s, i, ctx, &line)) == NULL) {
			rc = -1;
			continue;
		}
		if (fwdspec_parse(kw->name, v, &f, &cause) != 0) {
			errlist_add(ctx->errs, cfg_file(s, ctx->path), line,
			    "%s: %s", kw->name, cause);
			free(cause);
			rc = -1;
			continue;
		}
		f.file = xstrdup(cfg_file(s, ctx->path));
		f.line = line;
		tc->fwds = xreallocarray(tc->fwds, tc->nfwds + 1,
		    sizeof *tc->fwds);
		tc->fwds[tc->nfwds++] = f;
	}
	return rc;
}

/* All kinds at once: a second call (the next forwards keyword) finds none. */
static void
kw_forwards_clear(const struct keyword *kw, void *obj)
{
	(void)kw;
	kw_forwards_drop(NULL, obj);
}

/* The same forwards of kw's kind, as written, in the same order? */
static int
kw_forwards_equal(const struct keyword *kw, const void *va, const void *vb)
{
	const struct tunnel_conf *a = va, *b = vb;
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a->nfwds && !kw_fwd_mine(kw, &a->fwds[i]))
			i++;
		while (j < b->nfwds && !kw_fwd_mine(kw, &b->fwds[j]))
			j++;
		if (i == a->nfwds || j == b->nfwds)
			return i == a->nfwds && j == b->nfwds;
		if (!fwdspec_same(&a->fwds[i++], &b->fwds[j++]))
			return 0;
	}
}

static void
kw_forwards_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	const struct tunnel_conf *tc = obj;
	const char *sep = "";
	size_t i;
	int n = 0;

	for (i = 0; i < tc->nfwds; i++) {
		if (!kw_fwd_mine(kw, &tc->fwds[i]))
			continue;
		if (n++ == 0)
			fprintf(f, "%s%s = [ ", indent, kw->name);
		fputs(sep, f);
		kw_print_str(f, tc->fwds[i].spec);
		sep = ", ";
	}
	if (n > 0)
		fputs(" ];\n", f);
}

/*
 * permit_remote_open: "any", "none", or a list of host:port entries.  Its
 * field is permit_any (an int, defaulted as one); the list is beside it.
 */

static void
kw_permits_clear(const struct keyword *kw, void *obj)
{
	struct tunnel_conf *tc = obj;
	size_t i;

	(void)kw;
	for (i = 0; i < tc->npermits; i++)
		free(tc->permits[i].host);
	free(tc->permits);
	tc->permits = NULL;
	tc->npermits = 0;
}

static int
kw_permits_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	struct tunnel_conf *tc = obj;
	struct permit p;
	const char *v;
	char *cause;
	int i, n, line, rc = 0;

	kw_permits_clear(kw, tc);
	tc->permit_any = 0;
	n = kw_strings(s, ctx, "\"any\", \"none\" or a list such as "
	    "[ \"localhost:80\", \"*:443\" ]");
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = kw_strings_elem(s, i, ctx, &line)) == NULL) {
			rc = -1;
			continue;
		}
		if (strcmp(v, "any") == 0 || strcmp(v, "none") == 0) {
			if (n != 1) {
				errlist_add(ctx->errs, cfg_file(s, ctx->path),
				    line, "permit_remote_open: \"%s\" stands "
				    "alone", v);
				rc = -1;
			} else
				tc->permit_any = v[0] == 'a';
			continue;
		}
		if (permit_parse(v, &p, &cause) != 0) {
			errlist_add(ctx->errs, cfg_file(s, ctx->path), line,
			    "permit_remote_open: %s", cause);
			free(cause);
			rc = -1;
			continue;
		}
		tc->permits = xreallocarray(tc->permits, tc->npermits + 1,
		    sizeof *tc->permits);
		tc->permits[tc->npermits++] = p;
	}
	return rc;
}

static int
kw_permits_equal(const struct keyword *kw, const void *va, const void *vb)
{
	const struct tunnel_conf *a = va, *b = vb;
	size_t i;

	(void)kw;
	if (a->permit_any != b->permit_any || a->npermits != b->npermits)
		return 0;
	for (i = 0; i < a->npermits; i++) {
		if (!kw_str_eq(a->permits[i].host, b->permits[i].host) ||
		    a->permits[i].port != b->permits[i].port)
			return 0;
	}
	return 1;
}

static void
kw_permits_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	const struct tunnel_conf *tc = obj;
	char *buf;
	size_t i;

	fprintf(f, "%s%s = ", indent, kw->name);
	if (tc->permit_any || tc->npermits == 0) {
		fputs(tc->permit_any ? "\"any\";\n" : "\"none\";\n", f);
		return;
	}
	fputs("[ ", f);
	for (i = 0; i < tc->npermits; i++) {
		if (tc->permits[i].port == -1)
			xasprintf(&buf, strchr(tc->permits[i].host, ':') !=
			    NULL ? "[%s]:*" : "%s:*", tc->permits[i].host);
		else
			buf = config_server_string(tc->permits[i].host,
			    tc->permits[i].port);
		if (i > 0)
			fputs(", ", f);
		kw_print_str(f, buf);
		free(buf);
	}
	fputs(" ];\n", f);
}

/* host: one server or a list, config_hosts.c's. */

static int
kw_hosts_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	return config_hosts_parse(kw, s, ctx, obj);
}

static void
kw_hosts_clear(const struct keyword *kw, void *obj)
{
	(void)kw;
	config_hosts_clear(obj);
}

static int
kw_hosts_equal(const struct keyword *kw, const void *a, const void *b)
{
	(void)kw;
	return config_hosts_equal(a, b);
}

static void
kw_hosts_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	(void)kw;
	config_hosts_print(f, obj, indent);
}

/*
 * A program and its arguments, run without a shell: a list of strings (or
 * one, the program alone), the first an absolute path (config.c checks the
 * file itself).  The field is a NULL-terminated array.
 */
typedef char	**kw_argv;

static void
kw_argv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
kw_argv_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	const char *e;
	char **v;
	int i, n, line;

	if ((n = kw_strings(s, ctx, "a string or a list such as "
	    "[ \"/usr/local/bin/program\", \"argument\" ]")) == -1)
		return -1;
	if (n == 0) {
		KERR(s, "%s: empty: the list starts with the program",
		    kw->name);
		return -1;
	}
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		if ((e = kw_strings_elem(s, i, ctx, &line)) == NULL) {
			kw_argv_free(v);
			return -1;
		}
		v[i] = xstrdup(e);
	}
	if (v[0][0] == '\0') {
		KERR(s, "%s: empty program name", kw->name);
		kw_argv_free(v);
		return -1;
	}
	if (v[0][0] != '/') {
		KERR(s, "%s: \"%s\" is not an absolute path: the program is "
		    "run without a shell or a search of PATH", kw->name, v[0]);
		kw_argv_free(v);
		return -1;
	}
	kw_argv_free(*FIELD(kw, obj, char **));
	*FIELD(kw, obj, char **) = v;
	return 0;
}

static void
kw_argv_clear(const struct keyword *kw, void *obj)
{
	kw_argv_free(*FIELD(kw, obj, char **));
	*FIELD(kw, obj, char **) = NULL;
}

static int
kw_argv_equal(const struct keyword *kw, const void *a, const void *b)
{
	char **x = *CFIELD(kw, a, kw_argv), **y = *CFIELD(kw, b, kw_argv);
	size_t i;

	if (x == NULL || y == NULL)
		return x == y;
	for (i = 0; x[i] != NULL && y[i] != NULL; i++) {
		if (strcmp(x[i], y[i]) != 0)
			return 0;
	}
	return x[i] == NULL && y[i] == NULL;
}

static void
kw_argv_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	char **v = *CFIELD(kw, obj, kw_argv);
	size_t i;

	if (v == NULL)
		return;
	fprintf(f, "%s%s = [ ", indent, kw->name);
	for (i = 0; v[i] != NULL; i++) {
		fputs(i == 0 ? "" : ", ", f);
		kw_print_str(f, v[i]);
	}
	fputs(" ];\n", f);
}

/*
 * Nothing to do: a section's settings are config.c's to read, and the
 * types with no default, nothing to free or no value are left as they are.
 */

static int
kw_none_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	(void)kw, (void)s, (void)ctx, (void)obj;
	return 0;
}

static void
kw_none(const struct keyword *kw, void *obj)
{
	(void)kw, (void)obj;
}

static int
kw_none_equal(const struct keyword *kw, const void *a, const void *b)
{
	(void)kw, (void)a, (void)b;
	return 1;
}

static void
kw_none_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	(void)f, (void)kw, (void)obj, (void)indent;
}

/* A string type: its own parse and default, the strings' clear, equal, print */
#define STR(parse, def)	\
	{ parse, def, kw_str_clear, kw_str_equal, kw_str_print }

/* What each type does, indexed by enum kw_type. */
static const struct kw_type_ops kw_types[KW_NTYPES] = {
	[KW_STRING] =	  STR(kw_string_parse, kw_string_default),
	[KW_HOST] =	  STR(kw_host_parse, kw_str_default),
	[KW_PATH] =	  STR(kw_path_parse, kw_str_default),
	[KW_ABSPATH] =	  STR(kw_abspath_parse, kw_str_default),
	[KW_GROUP] =	  STR(kw_group_parse, kw_str_default),
	[KW_FINGERPRINT] = STR(kw_fingerprint_parse, kw_str_default),
	[KW_LISTEN] =	  STR(kw_listen_parse, kw_str_default),
	[KW_ALGORITHMS] = STR(kw_algorithms_parse, kw_algorithms_default),
	[KW_PROXY] =	  STR(kw_proxy_parse, kw_str_default),
	[KW_BOOL] =	{ kw_bool_parse, kw_int_default, kw_none,
			  kw_int_equal, kw_bool_print },
	[KW_INT] =	{ kw_int_parse, kw_int_default, kw_none,
			  kw_int_equal, kw_int_print },
	[KW_DURATION] =	{ kw_duration_parse, kw_duration_default, kw_none,
			  kw_duration_equal, kw_duration_print },
	[KW_RATE] =	{ kw_rate_parse, kw_rate_default, kw_none,
			  kw_rate_equal, kw_rate_print },
	[KW_ENUM] =	{ kw_enum_parse, kw_int_default, kw_none,
			  kw_int_equal, kw_enum_print },
	[KW_FORWARDS] =	{ kw_forwards_parse, kw_none, kw_forwards_clear,
			  kw_forwards_equal, kw_forwards_print },
	[KW_PERMITS] =	{ kw_permits_parse, kw_int_default, kw_permits_clear,
			  kw_permits_equal, kw_permits_print },
	[KW_HOSTS] =	{ kw_hosts_parse, kw_none, kw_hosts_clear,
			  kw_hosts_equal, kw_hosts_print },
	[KW_ARGV] =	{ kw_argv_parse, kw_none, kw_argv_clear,
			  kw_argv_equal, kw_argv_print },
	[KW_SECTION] =	{ kw_none_parse, kw_none, kw_none, kw_none_equal,
			  kw_none_print },
};

#undef STR

const struct kw_type_ops *
keyword_type_ops(enum kw_type type)
{
	return &kw_types[type];
}

/* Parse setting s as kw into obj; -1 (reported) if it is not valid. */
int
keyword_parse(const struct keyword *kw, config_setting_t *s,
    struct kw_ctx *ctx, void *obj)
{
	return kw_types[kw->type].parse(kw, s, ctx, obj);
}

/* The built-in default of kw in a new obj (zeroed). */
void
keyword_default(const struct keyword *kw, void *obj)
{
	kw_types[kw->type].def(kw, obj);
}

/* Free what kw holds in obj. */
void
keyword_clear(const struct keyword *kw, void *obj)
{
	kw_types[kw->type].clear(kw, obj);
}

/* Does kw have the same value in a and b? */
int
keyword_equal(const struct keyword *kw, const void *a, const void *b)
{
	return kw_types[kw->type].equal(kw, a, b);
}

/* kw's value in obj as a line of the configuration file (none if unset). */
void
keyword_print(FILE *f, const struct keyword *kw, const void *obj,
    const char *indent)
{
	kw_types[kw->type].print(f, kw, obj, indent);
}

/*
 * What reloading from a to b needs: a bit (1 << KR_*) for the class of
 * every keyword that changed, 0 if none did.  which: the first keyword of
 * the highest class, for messages.
 */
unsigned
tunnel_conf_reload_needs(const struct tunnel_conf *a,
    const struct tunnel_conf *b, const struct keyword **which)
{
	unsigned needs = 0;
	size_t i;

	*which = NULL;
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where != KW_TUNNEL ||
		    keyword_equal(&keywords[i], a, b))
			continue;
		if (*which == NULL || keywords[i].reload > (*which)->reload)
			*which = &keywords[i];
		needs |= 1U << keywords[i].reload;
	}
	return needs;
}

const char *
keyword_name(const struct keyword *kw)
{
	return kw->name;
}

enum kw_reload
keyword_reload(const struct keyword *kw)
{
	return kw->reload;
}

/* The global settings of old that differ in nc and need a restart. */
void
config_restart_needs(const struct config *old, const struct config *nc,
    void (*fn)(const char *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_GLOBAL &&
		    keywords[i].reload == KR_DAEMON &&
		    !keyword_equal(&keywords[i], old, nc))
			fn(keywords[i].name, arg);
	}
}

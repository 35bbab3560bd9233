/*
 * config.c - tunneld.conf (libconfig syntax): parse, validate, apply defaults.
 *
 * Every error is reported as FILE:LINE: message and parsing goes on to find
 * the rest, as OpenBSD's parse.y and sshd's servconf.c do.  libconfig itself
 * stops at the first syntax error of a file; that one is reported alone.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunneld.h"

#define DEFAULT_PORT			22
#define DEFAULT_KEEPALIVE_INTERVAL	15
#define DEFAULT_KEEPALIVE_COUNT		3
#define DEFAULT_CONNECT_TIMEOUT		10
#define DEFAULT_RECONNECT_MIN		1
#define DEFAULT_RECONNECT_MAX		300

void
errlist_add(struct errlist *e, const char *file, int line, const char *fmt, ...)
{
	char *msg, *full;
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (line > 0)
		xasprintf(&full, "%s:%d: %s", file, line, msg);
	else
		xasprintf(&full, "%s: %s", file, msg);
	free(msg);
	e->v = xreallocarray(e->v, e->n + 1, sizeof *e->v);
	e->v[e->n++] = full;
}

void
errlist_clear(struct errlist *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* Where a setting was written; libconfig knows the file of @include'd ones. */
static const char *
cfg_file(const config_setting_t *s, const char *fallback)
{
	const char *f = config_setting_source_file(s);

	return f != NULL ? f : fallback;
}

#define CERR(s, ...) errlist_add(errs, cfg_file((s), path), \
	config_setting_source_line(s), __VA_ARGS__)

/* A path as written, made absolute relative to the file it appears in. */
static char *
cfg_path(const char *value, const char *file)
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
cfg_string(config_setting_t *s, const char *path, struct errlist *errs,
    const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		CERR(s, "%s: expected a string", config_setting_name(s));
		return -1;
	}
	*out = config_setting_get_string(s);
	return 0;
}

static int
cfg_number(config_setting_t *s, const char *path, struct errlist *errs,
    double *out)
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
		if (isfinite(*out))
			return 0;
		/* FALLTHROUGH */
	default:
		CERR(s, "%s: expected a number", config_setting_name(s));
		return -1;
	}
}

static int
cfg_int(config_setting_t *s, const char *path, struct errlist *errs,
    long min, long max, int *out)
{
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		CERR(s, "%s: expected an integer", config_setting_name(s));
		return -1;
	}
	if (v < min || v > max) {
		CERR(s, "%s: %lld is out of range (%ld-%ld)",
		    config_setting_name(s), v, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
cfg_duration(config_setting_t *s, const char *path, struct errlist *errs,
    double min, double max, double *out)
{
	double v;

	if (cfg_number(s, path, errs, &v) != 0)
		return -1;
	if (v < min || v > max) {
		CERR(s, "%s: %g is out of range (%g-%g seconds)",
		    config_setting_name(s), v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
cfg_host_key(const char *v)
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
 * The line of a list entry.  libconfig numbers a scalar inside an array by
 * its look-ahead token, one line late when the array spans lines, so the
 * entry's text is looked for from the line of the list onward.
 */
static int
cfg_elem_line(config_setting_t *list, config_setting_t *e, const char *path)
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
cfg_strings(config_setting_t *s, const char *path, struct errlist *errs,
    const char *expected)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return 1;
	if (config_setting_is_aggregate(s) &&
	    config_setting_type(s) != CONFIG_TYPE_GROUP)
		return config_setting_length(s);
	CERR(s, "%s: expected %s", config_setting_name(s), expected);
	return -1;
}

/* Entry i of such a setting and its line; NULL (reported) if no string. */
static const char *
cfg_strings_elem(config_setting_t *s, int i, const char *path,
    struct errlist *errs, int *line)
{
	config_setting_t *e;

	e = config_setting_type(s) == CONFIG_TYPE_STRING ? s :
	    config_setting_get_elem(s, i);
	*line = cfg_elem_line(s, e, path);
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		errlist_add(errs, cfg_file(s, path), *line,
		    "%s: entry %d is not a string", config_setting_name(s),
		    i + 1);
		return NULL;
	}
	return config_setting_get_string(e);
}

static void
cfg_forwards(config_setting_t *s, const char *path, struct errlist *errs,
    struct tunnel_conf *tc)
{
	const char *list = config_setting_name(s), *v;
	struct fwdspec f;
	char *cause;
	int i, n, keep, line;
	size_t j, w;

	/* A list given here replaces the same list inherited from defaults. */
	for (j = w = 0; j < tc->nfwds; j++) {
		keep = strcmp(fwdspec_kind_name(tc->fwds[j].kind), list) == 0 ||
		    (strcmp(list, "remote") == 0 &&
		    tc->fwds[j].kind == FWD_REMOTE_DYNAMIC);
		if (keep)
			fwdspec_clear(&tc->fwds[j]);
		else
			tc->fwds[w++] = tc->fwds[j];
	}
	tc->nfwds = w;

	n = cfg_strings(s, path, errs, strcmp(list, "dynamic") == 0 ?
	    "a list of strings such as [ \"1080\" ]" :
	    "a list of strings such as [ \"9143:localhost:143\" ]");
	for (i = 0; i < n; i++) {
		if ((v = cfg_strings_elem(s, i, path, errs, &line)) == NULL)
			continue;
		if (fwdspec_parse(list, v, &f, &cause) != 0) {
			errlist_add(errs, cfg_file(s, path), line, "%s: %s",
			    list, cause);
			free(cause);
			continue;
		}
		f.file = xstrdup(cfg_file(s, path));
		f.line = line;
		tc->fwds = xreallocarray(tc->fwds, tc->nfwds + 1,
		    sizeof *tc->fwds);
		tc->fwds[tc->nfwds++] = f;
	}
}

static void
cfg_permits_clear(struct tunnel_conf *tc)
{
	size_t i;

	for (i = 0; i < tc->npermits; i++)
		free(tc->permits[i].host);
	free(tc->permits);
	tc->permits = NULL;
	tc->npermits = 0;
}

/* permit_remote_open: "any", "none", or a list of host:port entries. */
static void
cfg_permits(config_setting_t *s, const char *path, struct errlist *errs,
    struct tunnel_conf *tc)
{
	struct permit p;
	const char *v;
	char *cause;
	int i, n, line;

	cfg_permits_clear(tc);
	tc->permit_any = 0;
	n = cfg_strings(s, path, errs, "\"any\", \"none\" or a list such "
	    "as [ \"localhost:80\", \"*:443\" ]");
	for (i = 0; i < n; i++) {
		if ((v = cfg_strings_elem(s, i, path, errs, &line)) == NULL)
			continue;
		if (strcmp(v, "any") == 0 || strcmp(v, "none") == 0) {
			if (n != 1)
				errlist_add(errs, cfg_file(s, path), line,
				    "permit_remote_open: \"%s\" stands "
				    "alone", v);
			else
				tc->permit_any = v[0] == 'a';
			continue;
		}
		if (permit_parse(v, &p, &cause) != 0) {
			errlist_add(errs, cfg_file(s, path), line,
			    "permit_remote_open: %s", cause);
			free(cause);
			continue;
		}
		tc->permits = xreallocarray(tc->permits, tc->npermits + 1,
		    sizeof *tc->permits);
		tc->permits[tc->npermits++] = p;
	}
}

static void
cfg_replace(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* Apply the settings of one group (defaults or a tunnel) to tc. */
static void
cfg_tunnel_settings(config_setting_t *g, const char *path,
    struct errlist *errs, struct tunnel_conf *tc)
{
	config_setting_t *s;
	const char *name, *v;
	int i, n, b;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		name = config_setting_name(s);
		if (strcmp(name, "host") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (*v == '\0' || strpbrk(v, " \t\r\n") != NULL)
					CERR(s, "host: \"%s\" is not a host "
					    "name or address", v);
				else
					cfg_replace(&tc->host, xstrdup(v));
			}
		} else if (strcmp(name, "port") == 0)
			cfg_int(s, path, errs, 1, 65535, &tc->port);
		else if (strcmp(name, "user") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (*v == '\0')
					CERR(s, "user: empty");
				else
					cfg_replace(&tc->user, xstrdup(v));
			}
		} else if (strcmp(name, "identity_file") == 0 ||
		    strcmp(name, "known_hosts") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (*v == '\0')
					CERR(s, "%s: empty path", name);
				else
					cfg_replace(name[0] == 'i' ?
					    &tc->identity_file :
					    &tc->known_hosts,
					    cfg_path(v, cfg_file(s, path)));
			}
		} else if (strcmp(name, "host_key") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (cfg_host_key(v) != 0)
					CERR(s, "host_key: \"%s\" is not a "
					    "SHA256 fingerprint as printed by "
					    "ssh-keygen -lf (SHA256:...)", v);
				else
					cfg_replace(&tc->host_key, xstrdup(v));
			}
		} else if (strcmp(name, "strict_host_key_checking") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (strcmp(v, "yes") == 0)
					tc->strict = HKC_YES;
				else if (strcmp(v, "accept-new") == 0)
					tc->strict = HKC_ACCEPT_NEW;
				else
					CERR(s, "strict_host_key_checking: "
					    "\"%s\": expected \"yes\" or "
					    "\"accept-new\"", v);
			}
		} else if (strcmp(name, "autostart") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				CERR(s, "autostart: expected true or false");
			else {
				b = config_setting_get_bool(s);
				tc->autostart = b;
			}
		} else if (strcmp(name, "keepalive_interval") == 0)
			cfg_duration(s, path, errs, 0, 86400,
			    &tc->keepalive_interval);
		else if (strcmp(name, "keepalive_count") == 0)
			cfg_int(s, path, errs, 1, 1000, &tc->keepalive_count);
		else if (strcmp(name, "connect_timeout") == 0)
			cfg_duration(s, path, errs, 0.1, 3600,
			    &tc->connect_timeout);
		else if (strcmp(name, "reconnect_min") == 0)
			cfg_duration(s, path, errs, 0.1, 86400,
			    &tc->reconnect_min);
		else if (strcmp(name, "reconnect_max") == 0)
			cfg_duration(s, path, errs, 0.1, 86400,
			    &tc->reconnect_max);
		else if (strcmp(name, "local") == 0 ||
		    strcmp(name, "remote") == 0 ||
		    strcmp(name, "dynamic") == 0)
			cfg_forwards(s, path, errs, tc);
		else if (strcmp(name, "permit_remote_open") == 0)
			cfg_permits(s, path, errs, tc);
		else
			CERR(s, "unknown setting \"%s\"", name);
	}
}

static void
tunnel_conf_free(struct tunnel_conf *tc)
{
	size_t i;

	if (tc == NULL)
		return;
	for (i = 0; i < tc->nfwds; i++)
		fwdspec_clear(&tc->fwds[i]);
	free(tc->fwds);
	cfg_permits_clear(tc);
	free(tc->name);
	free(tc->file);
	free(tc->host);
	free(tc->user);
	free(tc->identity_file);
	free(tc->known_hosts);
	free(tc->host_key);
	free(tc);
}

static struct tunnel_conf *
tunnel_conf_builtin(void)
{
	struct tunnel_conf *tc = xcalloc(1, sizeof *tc);
	struct passwd *pw;

	tc->port = DEFAULT_PORT;
	if ((pw = getpwuid(geteuid())) != NULL)
		tc->user = xstrdup(pw->pw_name);
	tc->strict = HKC_YES;
	tc->autostart = 1;
	tc->permit_any = 1;
	tc->keepalive_interval = DEFAULT_KEEPALIVE_INTERVAL;
	tc->keepalive_count = DEFAULT_KEEPALIVE_COUNT;
	tc->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	tc->reconnect_min = DEFAULT_RECONNECT_MIN;
	tc->reconnect_max = DEFAULT_RECONNECT_MAX;
	return tc;
}

static int
cfg_tunnel_name_ok(const char *n)
{
	if (!isalpha((unsigned char)*n))
		return 0;
	for (n++; *n != '\0'; n++) {
		if (!isalnum((unsigned char)*n) && *n != '-' && *n != '_')
			return 0;
	}
	return 1;
}

/* The tunnels group of one file (the main one or a drop-in). */
static void
cfg_tunnels(struct config *conf, config_setting_t *tg, config_setting_t *dg,
    const char *path, struct errlist *errs)
{
	struct tunnel_conf *tc;
	config_setting_t *t;
	const char *name;
	int i, n;

	if (!config_setting_is_group(tg)) {
		CERR(tg, "tunnels: expected a group: tunnels = { name = "
		    "{ ... }; };");
		return;
	}
	n = config_setting_length(tg);
	for (i = 0; i < n; i++) {
		t = config_setting_get_elem(tg, i);
		name = config_setting_name(t);
		if (!config_setting_is_group(t)) {
			CERR(t, "tunnel \"%s\": expected a group { ... }",
			    name);
			continue;
		}
		if (!cfg_tunnel_name_ok(name)) {
			CERR(t, "tunnel \"%s\": a name is a letter, then "
			    "letters, digits, '-' or '_'", name);
			continue;
		}
		if ((tc = config_find(conf, name)) != NULL) {
			CERR(t, "tunnel \"%s\" is already defined at %s:%d",
			    name, tc->file, tc->line);
			continue;
		}
		tc = tunnel_conf_builtin();
		tc->name = xstrdup(name);
		tc->file = xstrdup(cfg_file(t, path));
		tc->line = config_setting_source_line(t);
		if (dg != NULL)	/* errors in defaults were reported once */
			cfg_tunnel_settings(dg, path, NULL, tc);
		cfg_tunnel_settings(t, path, errs, tc);
		if (tc->host == NULL)
			CERR(t, "tunnel \"%s\": host is required", name);
		if (tc->reconnect_max < tc->reconnect_min)
			CERR(t, "tunnel \"%s\": reconnect_max (%g) is below "
			    "reconnect_min (%g)", name, tc->reconnect_max,
			    tc->reconnect_min);
		if (tc->user == NULL)
			CERR(t, "tunnel \"%s\": no user, and the daemon's own "
			    "user has no name", name);
		conf->tunnels = xreallocarray(conf->tunnels,
		    conf->ntunnels + 1, sizeof *conf->tunnels);
		conf->tunnels[conf->ntunnels++] = tc;
	}
}

/* Two listeners on the same address and port (or path) cannot both work. */
static void
cfg_check_listeners(struct config *conf, struct errlist *errs)
{
	struct tunnel_conf *a, *b;
	struct fwdspec *fa, *fb;
	size_t i, j, k, l;
	char *where;

	for (i = 0; i < conf->ntunnels; i++) {
		a = conf->tunnels[i];
		for (k = 0; k < a->nfwds; k++) {
			fa = &a->fwds[k];
			for (j = i; j < conf->ntunnels; j++) {
				b = conf->tunnels[j];
				for (l = (i == j ? k + 1 : 0); l < b->nfwds;
				    l++) {
					fb = &b->fwds[l];
					/* remote listeners collide only on
					 * the same server: same tunnel */
					if ((fa->kind == FWD_REMOTE ||
					    fa->kind == FWD_REMOTE_DYNAMIC) &&
					    i != j)
						continue;
					if (!fwdspec_listen_conflict(fa, fb))
						continue;
					where = fwdspec_listen_string(
					    &fb->listen);
					errlist_add(errs, fb->file, fb->line,
					    "tunnel \"%s\": %s listener %s "
					    "duplicates \"%s\" of tunnel "
					    "\"%s\" at %s:%d", b->name,
					    fwdspec_kind_name(fb->kind), where,
					    fa->spec, a->name, fa->file,
					    fa->line);
					free(where);
				}
			}
		}
	}
}

static int
cfg_read(config_t *cfg, const char *path, struct errlist *errs)
{
	config_init(cfg);
	if (config_read_file(cfg, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		errlist_add(errs, path, 0, "cannot read: %s", strerror(errno));
	else
		errlist_add(errs, config_error_file(cfg) != NULL ?
		    config_error_file(cfg) : path, config_error_line(cfg),
		    "%s", config_error_text(cfg));
	config_destroy(cfg);
	return -1;
}

static int
cfg_dropin_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Every *.conf of include_dir, in name order, may add tunnels. */
static void
cfg_dropins(struct config *conf, config_setting_t *dg, struct errlist *errs)
{
	struct dirent **ents;
	config_setting_t *root, *s;
	config_t cfg;
	char *path;
	int i, j, n;

	n = scandir(conf->include_dir, &ents, cfg_dropin_filter, alphasort);
	if (n == -1) {
		if (errno != ENOENT)
			errlist_add(errs, conf->include_dir, 0,
			    "cannot read directory: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", conf->include_dir, ents[i]->d_name);
		if (cfg_read(&cfg, path, errs) == 0) {
			root = config_root_setting(&cfg);
			for (j = 0; j < config_setting_length(root); j++) {
				s = config_setting_get_elem(root, j);
				if (strcmp(config_setting_name(s),
				    "tunnels") == 0)
					cfg_tunnels(conf, s, dg, path, errs);
				else
					CERR(s, "only \"tunnels\" may be set "
					    "in a drop-in file");
			}
			config_destroy(&cfg);
		}
		free(path);
		free(ents[i]);
	}
	free(ents);
}

struct config *
config_load(const char *path, struct errlist *errs)
{
	struct config *conf;
	config_setting_t *root, *s, *dg = NULL, *tg = NULL;
	struct tunnel_conf *scratch;
	struct group *gr;
	const char *name, *v;
	config_t cfg;
	size_t before = errs->n;
	int i, n, w;

	if (cfg_read(&cfg, path, errs) != 0)
		return NULL;
	conf = xcalloc(1, sizeof *conf);
	conf->file = xstrdup(path);
	conf->log_level = -1;

	root = config_root_setting(&cfg);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, i);
		name = config_setting_name(s);
		if (strcmp(name, "control_socket") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if (*v != '/')
					CERR(s, "control_socket: \"%s\" is not "
					    "an absolute path", v);
				else
					cfg_replace(&conf->control_socket,
					    xstrdup(v));
			}
		} else if (strcmp(name, "control_group") == 0) {
			if (cfg_string(s, path, errs, &v) == 0) {
				if ((gr = getgrnam(v)) == NULL)
					CERR(s, "control_group: no group "
					    "named \"%s\"", v);
				else
					cfg_replace(&conf->control_group,
					    xstrdup(v));
			}
		} else if (strcmp(name, "log_level") == 0) {
			if (cfg_string(s, path, errs, &v) == 0 &&
			    (conf->log_level = log_level_parse(v)) == -1)
				CERR(s, "log_level: \"%s\": expected error, "
				    "warning, notice, info or debug", v);
		} else if (strcmp(name, "workers") == 0) {
			if (cfg_int(s, path, errs, 0, WORKERS_MAX, &w) == 0)
				conf->workers = (unsigned)w;
		} else if (strcmp(name, "include_dir") == 0) {
			if (cfg_string(s, path, errs, &v) == 0)
				cfg_replace(&conf->include_dir,
				    cfg_path(v, cfg_file(s, path)));
		} else if (strcmp(name, "defaults") == 0) {
			if (!config_setting_is_group(s))
				CERR(s, "defaults: expected a group { ... }");
			else
				dg = s;
		} else if (strcmp(name, "tunnels") == 0)
			tg = s;
		else
			CERR(s, "unknown setting \"%s\"", name);
	}
	if (dg != NULL) {
		scratch = tunnel_conf_builtin();
		cfg_tunnel_settings(dg, path, errs, scratch);
		tunnel_conf_free(scratch);
	}
	if (tg != NULL)
		cfg_tunnels(conf, tg, dg, path, errs);
	if (conf->include_dir != NULL)
		cfg_dropins(conf, dg, errs);
	cfg_check_listeners(conf, errs);
	config_destroy(&cfg);

	if (errs->n != before) {
		config_free(conf);
		return NULL;
	}
	return conf;
}

void
config_free(struct config *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->ntunnels; i++)
		tunnel_conf_free(conf->tunnels[i]);
	free(conf->tunnels);
	free(conf->file);
	free(conf->control_socket);
	free(conf->control_group);
	free(conf->include_dir);
	free(conf);
}

struct tunnel_conf *
config_find(struct config *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->ntunnels; i++) {
		if (strcmp(conf->tunnels[i]->name, name) == 0)
			return conf->tunnels[i];
	}
	return NULL;
}

static int
cfg_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Would a session made with b be the same as one made with a?  (reload) */
int
tunnel_conf_same_session(const struct tunnel_conf *a,
    const struct tunnel_conf *b)
{
	return cfg_str_eq(a->host, b->host) && a->port == b->port &&
	    cfg_str_eq(a->user, b->user) &&
	    cfg_str_eq(a->identity_file, b->identity_file) &&
	    cfg_str_eq(a->known_hosts, b->known_hosts) &&
	    cfg_str_eq(a->host_key, b->host_key) && a->strict == b->strict;
}

/* The same forward, as written? */
int
fwdspec_same(const struct fwdspec *a, const struct fwdspec *b)
{
	return a->kind == b->kind && strcmp(a->spec, b->spec) == 0;
}

/* Everything else a tunnel's configuration says, compared (reload). */
int
tunnel_conf_same_rest(const struct tunnel_conf *a,
    const struct tunnel_conf *b)
{
	size_t i;

	if (a->autostart != b->autostart ||
	    a->keepalive_interval != b->keepalive_interval ||
	    a->keepalive_count != b->keepalive_count ||
	    a->connect_timeout != b->connect_timeout ||
	    a->reconnect_min != b->reconnect_min ||
	    a->reconnect_max != b->reconnect_max ||
	    a->permit_any != b->permit_any || a->npermits != b->npermits ||
	    a->nfwds != b->nfwds)
		return 0;
	for (i = 0; i < a->npermits; i++) {
		if (!cfg_str_eq(a->permits[i].host, b->permits[i].host) ||
		    a->permits[i].port != b->permits[i].port)
			return 0;
	}
	for (i = 0; i < a->nfwds; i++) {
		if (!fwdspec_same(&a->fwds[i], &b->fwds[i]))
			return 0;
	}
	return 1;
}

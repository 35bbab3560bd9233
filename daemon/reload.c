/*
 * reload.c - reload by difference, as bgpd's reconfigure does (SIGHUP and
 * `tunnelctl reload`).  The file is parsed into a new configuration; if it
 * has errors the running one stays in force and every error is returned.
 * Otherwise only the difference is applied:
 *
 *   a new tunnel             is created, and started if autostart
 *   a removed tunnel         is stopped and destroyed
 *   host, port, user, keys   changed: the tunnel restarts (if it was wanted)
 *   only forwards changed    forwards are added and removed on the live
 *                            session; the others keep their listeners and
 *                            connections
 *   anything else changed    (timers, permit_remote_open, autostart) the
 *                            new values apply from now on, nothing restarts
 *   nothing changed          untouched
 *
 * Global settings: log_level and control_group apply at once (unless
 * the command line set the level); a new control_socket path or number of
 * workers cannot be applied to a running daemon, and the answer says so.
 *
 * Runs on the main thread; what it does to a tunnel runs on the tunnel's
 * worker (reload_job), and the old configuration is freed only after
 * every tunnel has been moved to the new one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tunneld.h"

struct config		*tunneld_conf;			/* in force */
int			 tunneld_log_level_fixed;	/* by the command line */
const char		*tunneld_socket_path;		/* listening on */

/* Same forwards, same order: the run-time objects now point at tc. */
static void
reload_repoint(struct tunnel *t, struct tunnel_conf *tc)
{
	size_t i;

	t->conf = tc;
	for (i = 0; i < t->nfwds; i++)
		t->fwds[i]->spec = &tc->fwds[i];
	if (t->session != NULL)
		session_set_conf(t->session, tc);
}

/* A forward leaves a live tunnel: its listeners close, the server's is
 * cancelled; connections already made go on, unattached. */
static void
reload_forward_remove(struct tunnel *t, struct forward *f)
{
	log_notice("%s: %s forward \"%s\" removed", t->conf->name,
	    fwdspec_kind_name(f->spec->kind), f->spec->spec);
	if (t->session != NULL) {
		if (forward_is_remote(f))
			session_listen_cancel(t->session, f);
		session_forget_forward(t->session, f);
	}
	forward_free(f);
}

/* Only the forwards changed: add and remove them on the live session. */
static void
reload_forwards(struct tunnel *t, struct tunnel_conf *tc)
{
	struct forward **nf, *f;
	char *taken;
	size_t i, j;
	int wanted = t->state != TS_DOWN && t->state != TS_FAILED;

	nf = xcalloc(tc->nfwds, sizeof *nf);
	taken = xcalloc(t->nfwds + 1, 1);
	for (j = 0; j < tc->nfwds; j++) {
		for (i = 0; i < t->nfwds; i++) {
			if (!taken[i] && fwdspec_same(t->fwds[i]->spec,
			    &tc->fwds[j])) {
				taken[i] = 1;
				nf[j] = t->fwds[i];
				nf[j]->spec = &tc->fwds[j];
				break;
			}
		}
	}
	for (i = 0; i < t->nfwds; i++) {
		if (!taken[i])
			reload_forward_remove(t, t->fwds[i]);
	}
	free(taken);
	free(t->fwds);
	t->fwds = nf;
	t->nfwds = tc->nfwds;
	t->conf = tc;
	if (t->session != NULL)
		session_set_conf(t->session, tc);
	for (j = 0; j < tc->nfwds; j++) {
		if (nf[j] != NULL)
			continue;
		f = nf[j] = forward_new(t, &tc->fwds[j]);
		log_notice("%s: %s forward \"%s\" added", tc->name,
		    fwdspec_kind_name(f->spec->kind), f->spec->spec);
		if (!wanted)
			continue;
		if (forward_start(f) == 0 && !forward_is_remote(f) &&
		    session_is_established(t->session))
			f->state = FS_UP;
	}
	tunnel_forward_changed(t);
}

/* The session's settings changed: a new tunnel object state, restarted. */
static void
reload_restart(struct tunnel *t, struct tunnel_conf *tc, const char *why)
{
	int wanted = t->state != TS_DOWN;
	size_t i;

	tunnel_stop(t, why);
	for (i = 0; i < t->nfwds; i++)
		forward_free(t->fwds[i]);
	free(t->fwds);
	t->conf = tc;
	t->nfwds = tc->nfwds;
	t->fwds = xcalloc(tc->nfwds, sizeof *t->fwds);
	for (i = 0; i < tc->nfwds; i++)
		t->fwds[i] = forward_new(t, &tc->fwds[i]);
	if (wanted)
		tunnel_start(t, why);
}

enum reload_kind { RK_REPOINT, RK_FORWARDS, RK_RESTART };
struct reload_job {
	enum reload_kind	 kind;
	struct tunnel		*t;
	struct tunnel_conf	*tc;
	const char		*why;
};

static void
reload_job(void *arg)
{
	struct reload_job *j = arg;

	switch (j->kind) {
	case RK_REPOINT:
		reload_repoint(j->t, j->tc);
		break;
	case RK_FORWARDS:
		reload_forwards(j->t, j->tc);
		break;
	case RK_RESTART:
		reload_restart(j->t, j->tc, j->why);
		break;
	}
}

/* -1 when the tunnel's worker is busy: the tunnel keeps its old settings */
static int
reload_tunnel(struct tunnel *t, enum reload_kind kind, struct tunnel_conf *tc,
    const char *why)
{
	struct reload_job j = { kind, t, tc, why };

	return worker_call(t->worker, reload_job, &j);
}

static void
reload_add(json_object *o, const char *key, const char *name)
{
	json_object *a;

	if (!json_object_object_get_ex(o, key, &a)) {
		a = json_object_new_array();
		json_object_object_add(o, key, a);
	}
	json_object_array_add(a, json_object_new_string(name));
}

/*
 * Reload; by says who asked, for the log.  Returns the answer for the
 * control protocol: {"ok":true, "added":[...], "removed":[...],
 * "restarted":[...], "changed":[...], "unchanged":[...], "notes":[...]}
 * or {"ok":false, "error":..., "errors":["file:line: ...", ...]}.
 */
json_object *
reload_config(const char *by)
{
	struct errlist errs = { NULL, 0 };
	struct config *nc, *old = tunneld_conf;
	struct tunnel_conf *tc;
	struct tunnel *t, *next;
	json_object *o = json_object_new_object(), *a;
	char why[256];
	size_t i;
	int busy = 0;		/* tunnels that may still use the old one */

	log_notice("reload of %s (%s)", old->file, by);
	notify_reloading();
	nc = config_load(old->file, &errs);
	if (nc == NULL) {
		a = json_object_new_array();
		for (i = 0; i < errs.n; i++) {
			log_warnx("reload: %s", errs.v[i]);
			json_object_array_add(a, json_object_new_string(
			    errs.v[i]));
		}
		log_warnx("reload: %zu error%s; the running configuration "
		    "stays in force", errs.n, errs.n == 1 ? "" : "s");
		errlist_clear(&errs);
		json_object_object_add(o, "ok", json_object_new_boolean(0));
		json_object_object_add(o, "error", json_object_new_string(
		    "the configuration has errors; the running one stays in "
		    "force"));
		json_object_object_add(o, "errors", a);
		notify_ready();
		return o;
	}
	snprintf(why, sizeof why, "reload (%s)", by);
	/* removed tunnels first: their listeners may be reused below */
	TAILQ_FOREACH_SAFE(t, &tunnels, entry, next) {
		if (config_find(nc, t->name) == NULL) {
			reload_add(o, "removed", t->name);
			log_notice("%s: removed by %s", t->name, why);
			busy |= tunnel_destroy(t) != 0;
		}
	}
	for (i = 0; i < nc->ntunnels; i++) {
		tc = nc->tunnels[i];
		if ((t = tunnel_find(tc->name)) == NULL) {
			t = tunnel_create(tc);
			reload_add(o, "added", tc->name);
			if (tc->autostart)
				tunnel_command(t, TC_UP, why);
		} else if (!tunnel_conf_same_session(t->conf, tc)) {
			reload_add(o, "restarted", tc->name);
			busy |= reload_tunnel(t, RK_RESTART, tc, why) != 0;
		} else if (tunnel_conf_same_rest(t->conf, tc)) {
			reload_add(o, "unchanged", tc->name);
			busy |= reload_tunnel(t, RK_REPOINT, tc, why) != 0;
		} else {
			reload_add(o, "changed", tc->name);
			busy |= reload_tunnel(t, RK_FORWARDS, tc, why) != 0;
		}
	}
	if (!tunneld_log_level_fixed && nc->log_level != -1)
		log_set_level(nc->log_level);
	if (tunneld_socket_path != NULL && nc->control_socket != NULL &&
	    strcmp(nc->control_socket, tunneld_socket_path) != 0) {
		snprintf(why, sizeof why, "control_socket %s: a new socket "
		    "path takes effect when tunneld restarts; it listens on "
		    "%s until then", nc->control_socket, tunneld_socket_path);
		log_warnx("reload: %s", why);
		reload_add(o, "notes", why);
	}
	if (nc->workers != old->workers) {
		snprintf(why, sizeof why, "workers %u: a new number of worker "
		    "threads takes effect when tunneld restarts", nc->workers);
		log_warnx("reload: %s", why);
		reload_add(o, "notes", why);
	}
	tunneld_conf = nc;
	if (busy) {	/* worker.c: the old one stays, as they may use it */
		snprintf(why, sizeof why, "a worker thread is busy (stuck in "
		    "a blocking call?): its tunnels keep their previous "
		    "settings until the next reload");
		log_warnx("reload: %s", why);
		reload_add(o, "notes", why);
	} else
		config_free(old);
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	log_notice("reload done: %s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	notify_ready();
	return o;
}

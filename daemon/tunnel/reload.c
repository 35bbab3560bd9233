/*
 * reload.c - reload by difference, as bgpd's reconfigure does (SIGHUP and
 * `tunnelctl reload`).  The file is parsed into a new configuration; if it
 * has errors the running one stays in force and every error is returned.
 * Otherwise only the difference is applied, as the keyword table
 * (config_keywords.c) classes each setting; what changes in a tunnel is
 * the tunnel's to do (tunnel_reconf_release(), tunnel_reconf_acquire()):
 *
 *   a new tunnel             is created, and started if autostart
 *   a removed tunnel         is stopped and destroyed
 *   KR_SESSION changed       (host, port, user, keys) the tunnel restarts
 *                            (if it was wanted)
 *   KR_FORWARDS changed      forwards are added and removed on the live
 *                            session; the others keep their listeners and
 *                            connections
 *   KR_REARM changed         (keepalives) the live session's timers are
 *                            armed again on the new schedule
 *   KR_NONE changed          read where used: applies from now on
 *   nothing changed          untouched
 *
 * Release before acquire: removed tunnels go first, then every changed
 * tunnel lets go of what it no longer has (a restarted one stops, forwards
 * that go are closed), and only then do changed tunnels take what is new
 * and new tunnels start - so a listener may move from one tunnel to
 * another, in any order in the file.
 *
 * Global settings: KR_APPLY ones (log_level) are applied at once; a new
 * KR_DAEMON one (control_socket, workers) cannot be applied to a running
 * daemon, and the answer says so.
 *
 * Runs on the main thread; each tunnel's steps run on its worker
 * (reload_job), and the old configuration is freed only after every
 * tunnel has been moved to the new one.
 *
 * A reload of tunnels with ssh_config = true needs ssh -G, which may take
 * seconds (a Match exec): reload_request() first loads the file to learn
 * which runs it needs, has them made off the main thread
 * (ssh_config.c's batch), and loads it again with their answers when they
 * are in; the answer goes to whoever asked then.  Requests that come
 * meanwhile wait for one more reload after it, which reads the file as it
 * is by then.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel.h"

static struct config	**reload_in_force;	/* main.c's */
static struct {
	reload_observer	*fn;
	void		*arg;
}			 reload_observers[OBSERVERS_MAX];
static size_t		 reload_nobservers;

/* What a changed tunnel needs, and where its reload has got to. */
struct reload_job {
	struct tunnel		*t;
	struct tunnel_conf	*tc;
	struct tunnel_reconf	 rc;
	int			 acquire;	/* the second step */
	int			 busy;		/* its worker could not run it */
};

/* On the tunnel's worker: one step of its reload. */
static void
reload_job(void *arg)
{
	struct reload_job *j = arg;

	if (!j->acquire)
		tunnel_reconf_release(j->t, j->tc, &j->rc);
	else
		tunnel_reconf_acquire(j->t, j->tc, &j->rc);
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

static void
reload_note(json_object *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_warnx("reload: %s", buf);
	reload_add(o, "notes", buf);
}

/* Main thread, at start-up: in_force is the configuration reload replaces. */
void
reload_init(struct config **in_force)
{
	reload_in_force = in_force;
}

/* Main thread, at start-up: fn hears of every reload from now on. */
void
reload_observe(reload_observer *fn, void *arg)
{
	if (reload_nobservers == nitems(reload_observers))
		abort();	/* main.c registers a fixed few */
	reload_observers[reload_nobservers].fn = fn;
	reload_observers[reload_nobservers++].arg = arg;
}

static void
reload_tell(enum reload_event ev, const struct config *old,
    const struct config *nc)
{
	size_t i;

	for (i = 0; i < reload_nobservers; i++)
		reload_observers[i].fn(ev, old, nc, reload_observers[i].arg);
}

/* A global setting that needs a restart: a note.  Those applied at once
 * (KR_APPLY) are their owners' to apply (RELOAD_APPLIED). */
static void
reload_restart_note(const char *name, void *o)
{
	reload_note(o, "%s: a new value takes effect when tunneld restarts",
	    name);
}

/* The refusal of a file with errors: every one of them, and a log line. */
static json_object *
reload_refused(json_object *o, struct errlist *errs)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < errs->n; i++) {
		log_warnx("reload: %s", errs->v[i]);
		json_object_array_add(a, json_object_new_string(errs->v[i]));
	}
	log_warnx("reload: %zu error%s; the running configuration stays in "
	    "force", errs->n, errs->n == 1 ? "" : "s");
	errlist_clear(errs);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string("the "
	    "configuration has errors; the running one stays in force"));
	json_object_object_add(o, "errors", a);
	reload_tell(RELOAD_REFUSED, *reload_in_force, NULL);
	return o;
}

/*
 * The tunnels of nc that exist already: what each needs, answered in o,
 * and the release step done for all.  Returns the jobs for the acquire
 * step (*n of them); a tunnel whose worker is busy (worker.c) is marked
 * and keeps its old settings.
 */
static struct reload_job *
reload_release(struct config *nc, json_object *o, const char *why, size_t *n)
{
	const struct keyword *which;
	struct reload_job *jobs, *j;
	struct tunnel *t;
	size_t i;

	jobs = xcalloc(nc->ntunnels + 1, sizeof *jobs);
	*n = 0;
	for (i = 0; i < nc->ntunnels; i++) {
		if ((t = tunnel_find(nc->tunnels[i]->name)) == NULL)
			continue;
		j = &jobs[(*n)++];
		j->t = t;
		j->tc = nc->tunnels[i];
		j->rc.why = why;
		j->rc.needs = tunnel_conf_reload_needs(t->conf, j->tc, &which);
		if (which == NULL)
			reload_add(o, "unchanged", t->name);
		else {
			reload_add(o, KR_NEEDS(j->rc.needs, KR_SESSION) ?
			    "restarted" : "changed", t->name);
			log_tunnel(t, LOG_LVL_INFO, "%s changed (%s)",
			    keyword_name(which),
			    keyword_reload_name(keyword_reload(which)));
		}
		if ((KR_NEEDS(j->rc.needs, KR_SESSION) ||
		    KR_NEEDS(j->rc.needs, KR_FORWARDS)) &&
		    worker_call(t->worker, reload_job, j) != 0)
			j->busy = 1;
	}
	return jobs;
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
	struct config *nc, *old = *reload_in_force;
	struct reload_job *jobs;
	struct tunnel_conf *tc;
	struct tunnel *t, *next;
	json_object *o = json_object_new_object();
	char why[256];
	size_t i, n;
	int busy = 0;		/* tunnels that may still use the old one */

	log_notice("reload of %s (%s)", old->file, by);
	reload_tell(RELOAD_BEGIN, old, NULL);
	if ((nc = config_load(old->file, &errs)) == NULL)
		return reload_refused(o, &errs);
	snprintf(why, sizeof why, "reload (%s)", by);
	TAILQ_FOREACH_SAFE(t, &tunnels, entry, next) {
		if (config_find(nc, t->name) == NULL) {
			reload_add(o, "removed", t->name);
			log_tunnel(t, LOG_LVL_NOTICE, "removed by %s", why);
			busy |= tunnel_destroy(t) != 0;
		}
	}
	jobs = reload_release(nc, o, why, &n);
	for (i = 0; i < n; i++) {
		jobs[i].acquire = 1;
		if (jobs[i].busy || worker_call(jobs[i].t->worker, reload_job,
		    &jobs[i]) != 0)
			busy = 1;
		tunnel_reconf_clear(&jobs[i].rc);	/* if it did not run */
	}
	free(jobs);
	for (i = 0; i < nc->ntunnels; i++) {
		tc = nc->tunnels[i];
		if (tunnel_find(tc->name) != NULL)
			continue;
		t = tunnel_create(tc);
		reload_add(o, "added", tc->name);
		if (tc->autostart)
			tunnel_command(t, TC_UP, why);
	}
	config_restart_needs(old, nc, reload_restart_note, o);
	*reload_in_force = nc;
	if (busy) {	/* worker.c: the old one stays, as they may use it */
		snprintf(why, sizeof why, "a worker thread is busy (stuck in "
		    "a blocking call?): its tunnels keep their previous "
		    "settings until the next reload");
		log_warnx("reload: %s", why);
		reload_add(o, "notes", why);
	}
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	log_notice("reload done: %s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	reload_tell(RELOAD_APPLIED, old, nc);
	if (!busy)
		config_free(old);
	return o;
}

/* Those waiting for a reload's answer. */
struct reload_waiter {
	reload_done_cb	*cb;
	void		*arg;
};
static struct {
	struct ssh_g_batch	*batch;		/* the ssh -G runs under way */
	char			*by;
	struct reload_waiter	*w;
	size_t			 nw;
	char			*next_by;	/* asked for meanwhile */
	struct reload_waiter	*next;
	size_t			 nnext;
} reload_state;

static void	reload_begin(void);

static void
reload_wait_add(struct reload_waiter **v, size_t *n, reload_done_cb *cb,
    void *arg)
{
	if (cb == NULL)
		return;
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].cb = cb;
	(*v)[(*n)++].arg = arg;
}

/* The ssh -G runs are in (or none were needed): the reload proper. */
static void
reload_resume(void *arg)
{
	json_object *r, *copy;
	struct reload_waiter *w;
	size_t i, n;

	ssh_config_batch_use(reload_state.batch);
	r = reload_config(reload_state.by);
	ssh_config_batch_use(NULL);
	ssh_config_batch_free(reload_state.batch);
	reload_state.batch = NULL;
	free(reload_state.by);
	reload_state.by = NULL;
	w = reload_state.w;
	n = reload_state.nw;
	reload_state.w = NULL;
	reload_state.nw = 0;
	for (i = 0; i < n; i++) {
		copy = json_tokener_parse(json_object_to_json_string(r));
		w[i].cb(copy, w[i].arg);
	}
	free(w);
	json_object_put(r);
	if (reload_state.next_by != NULL) {
		reload_state.by = reload_state.next_by;
		reload_state.w = reload_state.next;
		reload_state.nw = reload_state.nnext;
		reload_state.next_by = NULL;
		reload_state.next = NULL;
		reload_state.nnext = 0;
		reload_begin();
	}
}

/* Which ssh -G runs the file needs; made in threads, or none: at once. */
static void
reload_begin(void)
{
	struct errlist errs = { NULL, 0 };

	reload_state.batch = ssh_config_batch_new();
	ssh_config_batch_use(reload_state.batch);
	config_free(config_load((*reload_in_force)->file, &errs));
	ssh_config_batch_use(NULL);
	errlist_clear(&errs);
	if (ssh_config_batch_size(reload_state.batch) > 0) {
		log_info("reload: %zu ssh -G run%s, off the main thread",
		    ssh_config_batch_size(reload_state.batch),
		    ssh_config_batch_size(reload_state.batch) == 1 ? "" :
		    "s");
		if (ssh_config_batch_start(reload_state.batch, reload_resume,
		    NULL) == 0)
			return;
	}
	reload_resume(NULL);
}

/*
 * Reload, by says who asked; cb(answer, arg) when it is done (it owns the
 * answer; cb may be NULL), possibly before this returns.
 */
void
reload_request(const char *by, reload_done_cb *cb, void *arg)
{
	if (reload_state.batch != NULL) {
		if (reload_state.next_by == NULL)
			reload_state.next_by = xstrdup(by);
		reload_wait_add(&reload_state.next, &reload_state.nnext, cb,
		    arg);
		log_info("reload (%s): after the one under way", by);
		return;
	}
	reload_state.by = xstrdup(by);
	reload_wait_add(&reload_state.w, &reload_state.nw, cb, arg);
	reload_begin();
}

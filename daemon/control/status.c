/*
 * status.c - tunnels and forwards as the JSON objects of SPEC.md.
 *
 * A tunnel is read on its worker, between two of its callbacks.  When the
 * worker does not answer within WORKER_WAIT (it is stuck in a blocking
 * call), the main thread answers from its own copy instead: the last
 * status read, with the state, since, reconnects, last_error and
 * next_retry the worker posted after it, and "worker_busy": true.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "control.h"

static json_object *
status_string(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *
status_forward(struct forward *f)
{
	json_object *o = json_object_new_object();
	const char *listen = f->listen_str;
	char *first = NULL, *comma;

	/* "listen" is the first address; all of them in "listen_all" */
	if (listen != NULL && (comma = strchr(listen, ',')) != NULL) {
		first = xstrdup(listen);
		first[comma - listen] = '\0';
	}
	json_object_object_add(o, "kind", json_object_new_string(
	    fwdspec_kind_name(f->spec->kind)));
	json_object_object_add(o, "spec", json_object_new_string(f->spec->spec));
	json_object_object_add(o, "state", json_object_new_string(
	    forward_state_name(f->state)));
	json_object_object_add(o, "listen", status_string(first != NULL ?
	    first : listen));
	json_object_object_add(o, "listen_all", status_string(listen));
	json_object_object_add(o, "connections",
	    json_object_new_int64(f->counters.connections +
	    tunnel_sessions_held(f->tunnel, f)));
	json_object_object_add(o, "total_connections",
	    json_object_new_int64((int64_t)f->counters.total_connections));
	json_object_object_add(o, "bytes_in",
	    json_object_new_int64((int64_t)f->counters.bytes_in));
	json_object_object_add(o, "bytes_out",
	    json_object_new_int64((int64_t)f->counters.bytes_out));
	json_object_object_add(o, "failures",
	    json_object_new_int64((int64_t)f->counters.failures));
	json_object_object_add(o, "stalled",
	    json_object_new_int64((int64_t)f->counters.stalled));
	json_object_object_add(o, "refused",
	    json_object_new_int64((int64_t)f->refused));
	json_object_object_add(o, "last_error", status_string(f->last_error));
	forward_probe_status(f, o);
	free(first);
	return o;
}

/* Settings worth seeing beside the state: what makes it up, what bounds
 * its throughput.  Any thread (t->conf changes in jobs the main thread
 * waits for). */
static void
status_settings(json_object *o, const struct tunnel_conf *tc)
{
	json_object_object_add(o, "require_forwards",
	    json_object_new_boolean(tc->require_forwards));
	if (tc->rate_limit > 0)
		json_object_object_add(o, "rate_limit",
		    json_object_new_int64(tc->rate_limit));
}

/* On the tunnel's worker: "host:port" of the server in use. */
static json_object *
status_server(struct tunnel *t)
{
	char *s = tunnel_server_string(t);
	json_object *o = json_object_new_string(s);

	free(s);
	return o;
}

/* On the tunnel's worker: what its session negotiated, null until up. */
static json_object *
status_algorithms(struct tunnel *t)
{
	static const struct {
		const char		*key;
		enum session_alg	 kind;
	} algs[] = {
		{ "cipher", SA_CIPHERS }, { "mac", SA_MACS },
		{ "kex", SA_KEX }, { "host_key", SA_HOSTKEY },
	};
	json_object *o;
	size_t i;

	if (!session_is_established(t->session))
		return NULL;
	o = json_object_new_object();
	for (i = 0; i < nitems(algs); i++)
		json_object_object_add(o, algs[i].key, status_string(
		    session_algs_negotiated(t->session, algs[i].kind)));
	return o;
}

/* On the tunnel's worker. */
static json_object *
status_tunnel_build(struct tunnel *t)
{
	json_object *o = json_object_new_object(), *fw;
	double rtt;
	size_t i;

	json_object_object_add(o, "name", json_object_new_string(t->conf->name));
	json_object_object_add(o, "state", json_object_new_string(
	    tunnel_state_name(t->state)));
	json_object_object_add(o, "since", json_object_new_int64(t->since));
	json_object_object_add(o, "phase", t->state != TS_CONNECTING ? NULL :
	    status_string(tunnel_setup_queued(t) ? "queued" :
	    t->session == NULL ? "resolving" :
	    session_phase_name(t->session)));
	json_object_object_add(o, "worker",
	    json_object_new_int((int)worker_id(t->worker)));
	json_object_object_add(o, "reconnects",
	    json_object_new_int64(t->reconnects));
	json_object_object_add(o, "refused",
	    json_object_new_int64((int64_t)t->refused));
	json_object_object_add(o, "max_connections",
	    json_object_new_int(t->conf->max_connections));
	json_object_object_add(o, "last_error", status_string(t->last_error));
	json_object_object_add(o, "next_retry", t->state == TS_BACKOFF &&
	    t->next_retry ? json_object_new_int64(t->next_retry) : NULL);
	/* the server in use (or tried next) of its list */
	json_object_object_add(o, "host",
	    json_object_new_string(tunnel_server_host(t)));
	json_object_object_add(o, "port",
	    json_object_new_int(tunnel_server_port(t)));
	json_object_object_add(o, "server", status_server(t));
	json_object_object_add(o, "user", json_object_new_string(t->conf->user));
	json_object_object_add(o, "autostart",
	    json_object_new_boolean(t->conf->autostart));
	status_settings(o, t->conf);
	rtt = session_is_established(t->session) ?
	    session_rtt_ms(t->session) : -1;
	json_object_object_add(o, "rtt_ms", rtt >= 0 ?
	    json_object_new_double(rtt) : NULL);
	json_object_object_add(o, "algorithms", status_algorithms(t));
	fw = json_object_new_array();
	for (i = 0; i < t->nfwds; i++)
		json_object_array_add(fw, status_forward(t->fwds[i]));
	json_object_object_add(o, "forwards", fw);
	json_object_object_add(o, "sessions", tunnel_sessions_status(t));
	json_object_object_add(o, "pool", tunnel_sessions_pool_status(t));
	json_object_object_add(o, "worker_busy", json_object_new_boolean(0));
	return o;
}

/* Main thread: a forward as configured, before its worker ever answered. */
static json_object *
status_forward_conf(const struct fwdspec *sp)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(
	    fwdspec_kind_name(sp->kind)));
	json_object_object_add(o, "spec", json_object_new_string(sp->spec));
	json_object_object_add(o, "state", json_object_new_string(
	    forward_state_name(FS_PENDING)));
	json_object_object_add(o, "listen", NULL);
	json_object_object_add(o, "listen_all", NULL);
	json_object_object_add(o, "connections", json_object_new_int64(0));
	json_object_object_add(o, "total_connections",
	    json_object_new_int64(0));
	json_object_object_add(o, "bytes_in", json_object_new_int64(0));
	json_object_object_add(o, "bytes_out", json_object_new_int64(0));
	json_object_object_add(o, "failures", json_object_new_int64(0));
	json_object_object_add(o, "stalled", json_object_new_int64(0));
	json_object_object_add(o, "refused", json_object_new_int64(0));
	json_object_object_add(o, "last_error", NULL);
	return o;
}

/*
 * Main thread: the tunnel as its busy worker last told: the last status
 * read (or its configuration), with what was posted since.
 */
static json_object *
status_tunnel_posted(struct tunnel *t)
{
	const struct tunnel_conf *tc = t->conf;
	json_object *o, *fw;
	size_t i;

	o = NULL;	/* json_object_deep_copy() refuses a non-NULL *dst */
	if (t->pub_status == NULL ||
	    json_object_deep_copy(t->pub_status, &o, NULL) != 0) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
		    json_object_new_string(t->name));
		json_object_object_add(o, "worker",
		    json_object_new_int((int)worker_id(t->worker)));
		json_object_object_add(o, "host",
		    json_object_new_string(tc->host));
		json_object_object_add(o, "port", json_object_new_int(
		    config_server_port(tc, 0)));
		json_object_object_add(o, "user",
		    json_object_new_string(tc->user));
		json_object_object_add(o, "autostart",
		    json_object_new_boolean(tc->autostart));
		json_object_object_add(o, "max_connections",
		    json_object_new_int(tc->max_connections));
		status_settings(o, tc);
		fw = json_object_new_array();
		for (i = 0; i < tc->nfwds; i++)
			json_object_array_add(fw,
			    status_forward_conf(&tc->fwds[i]));
		json_object_object_add(o, "forwards", fw);
	}
	json_object_object_add(o, "state", json_object_new_string(
	    tunnel_state_name(t->pub_state)));
	json_object_object_add(o, "since", json_object_new_int64(t->pub_since));
	if (t->pub_server != NULL || t->pub_status == NULL)
		json_object_object_add(o, "server",
		    status_string(t->pub_server));
	json_object_object_add(o, "phase", NULL);
	json_object_object_add(o, "reconnects",
	    json_object_new_int64(t->pub_reconnects));
	json_object_object_add(o, "last_error",
	    status_string(t->pub_last_error));
	json_object_object_add(o, "next_retry", t->pub_state == TS_BACKOFF &&
	    t->pub_next_retry ? json_object_new_int64(t->pub_next_retry) :
	    NULL);
	json_object_object_add(o, "rtt_ms", NULL);
	if (!json_object_object_get_ex(o, "algorithms", NULL))
		json_object_object_add(o, "algorithms", NULL);
	json_object_object_add(o, "worker_busy", json_object_new_boolean(1));
	return o;
}

/* Main thread: the counts of its on_state program (proc/hook.c's). */
static void
status_hooks(struct tunnel *t, json_object *o)
{
	if (t->conf->on_state == NULL && t->hook_runs == 0)
		return;
	json_object_object_add(o, "hook_runs",
	    json_object_new_int64((int64_t)t->hook_runs));
	json_object_object_add(o, "hook_failures",
	    json_object_new_int64((int64_t)t->hook_failures));
}

/* Main thread: o was read on t's worker; keep it for when it is busy. */
static json_object *
status_keep(struct tunnel *t, json_object *o)
{
	if (o == NULL)
		o = status_tunnel_posted(t);
	else {
		json_object_put(t->pub_status);
		t->pub_status = json_object_get(o);
	}
	status_hooks(t, o);
	return o;
}

struct status_job {
	struct tunnel	**t;
	json_object	**o;
	size_t		  n;
};

/* On one worker: the tunnels that live there. */
static void
status_job(void *arg)
{
	struct status_job *j = arg;
	struct worker *w = worker_self();
	size_t i;

	for (i = 0; i < j->n; i++) {
		if (j->t[i]->worker == w)
			j->o[i] = status_tunnel_build(j->t[i]);
	}
}

/* Main thread: one tunnel, read on its worker. */
json_object *
status_tunnel(struct tunnel *t)
{
	struct status_job j = { &t, NULL, 1 };
	json_object *o = NULL;

	j.o = &o;
	worker_call(t->worker, status_job, &j);
	return status_keep(t, o);
}

/* Main thread: every tunnel, in configuration order; one call per worker
 * (each tunnel is read between two callbacks of its own thread). */
json_object *
status_all(void)
{
	json_object *a = json_object_new_array();
	struct status_job j = { NULL, NULL, 0 };
	struct tunnel *t;
	size_t i = 0;

	TAILQ_FOREACH(t, &tunnels, entry)
		j.n++;
	j.t = xcalloc(j.n + 1, sizeof *j.t);
	j.o = xcalloc(j.n + 1, sizeof *j.o);
	TAILQ_FOREACH(t, &tunnels, entry)
		j.t[i++] = t;
	worker_call_all(status_job, &j);
	for (i = 0; i < j.n; i++)
		json_object_array_add(a, status_keep(j.t[i], j.o[i]));
	free(j.t);
	free(j.o);
	return a;
}

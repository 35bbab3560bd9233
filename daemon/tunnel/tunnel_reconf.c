/*
 * tunnel_reconf.c - a tunnel on a new configuration (reload.c, in two
 * steps: every tunnel lets go before any takes, so that a listener may
 * move from one tunnel to another): its forwards created and freed, which
 * forwards go, stay and come, worked out once.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel.h"
#include "tunnel_priv.h"

/* The forwards of t's configuration, new (pending). */
void
tunnel_forwards_new(struct tunnel *t)
{
	size_t i;

	t->nfwds = t->conf->nfwds;
	t->fwds = xcalloc(t->nfwds, sizeof *t->fwds);
	for (i = 0; i < t->nfwds; i++)
		t->fwds[i] = forward_new(t, &t->conf->fwds[i]);
}

void
tunnel_forwards_free(struct tunnel *t)
{
	size_t i;

	for (i = 0; i < t->nfwds; i++)
		forward_free(t->fwds[i]);
	free(t->fwds);
	t->fwds = NULL;
	t->nfwds = 0;
}

/* The listeners are open (or being opened) in every state but down and
 * failed, where tunnel_change_state() stops them. */
static int
tunnel_forwards_started(const struct tunnel *t)
{
	return t->state != TS_DOWN && t->state != TS_FAILED;
}

/*
 * The difference, computed once: for each forward of tc, the running one
 * with the same spec (each taken once), or NULL for one to add.  A running
 * forward in none of them is to go.
 */
static struct forward **
tunnel_forwards_match(struct tunnel *t, const struct tunnel_conf *tc)
{
	struct forward **kept;
	char *taken;
	size_t i, j;

	kept = xcalloc(tc->nfwds + 1, sizeof *kept);
	taken = xcalloc(t->nfwds + 1, 1);
	for (j = 0; j < tc->nfwds; j++) {
		for (i = 0; i < t->nfwds; i++) {
			if (!taken[i] && fwdspec_same(t->fwds[i]->spec,
			    &tc->fwds[j])) {
				taken[i] = 1;
				kept[j] = t->fwds[i];
				break;
			}
		}
	}
	free(taken);
	return kept;
}

/* A forward leaves a live tunnel: its listeners close, the server's is
 * cancelled; connections already made go on, unattached. */
static void
tunnel_forward_remove(struct tunnel *t, struct forward *f)
{
	log_forward(f, LOG_LVL_NOTICE, "%s forward \"%s\" removed",
	    fwdspec_kind_name(f->spec->kind), f->spec->spec);
	if (t->session != NULL) {
		if (forward_is_remote(f))
			session_listen_cancel(t->session, f);
		session_forget_owner(t->session, f);
	}
	forward_free(f);
}

/* Forwards change, first step: those that go are closed; the others stay,
 * on the old configuration until the second step. */
static void
tunnel_forwards_release(struct tunnel *t, struct tunnel_reconf *rc)
{
	size_t i, j, w;

	t->fwd_batch++;		/* the tunnel hears after the second step */
	for (i = w = 0; i < t->nfwds; i++) {
		for (j = 0; j < rc->nkept; j++) {
			if (rc->kept[j] == t->fwds[i])
				break;
		}
		if (j == rc->nkept)
			tunnel_forward_remove(t, t->fwds[i]);
		else
			t->fwds[w++] = t->fwds[i];
	}
	t->nfwds = w;
	t->fwd_batch--;
}

/* Second step: the forwards in the new order, on the new configuration
 * (and the session's parameters); then the new ones start, if the
 * tunnel's are started. */
static void
tunnel_forwards_acquire(struct tunnel *t, struct tunnel_reconf *rc)
{
	struct forward **kept = rc->kept, *f;
	size_t j;

	tunnel_forwards_batch_begin(t);
	free(t->fwds);
	t->fwds = xcalloc(rc->nkept, sizeof *t->fwds);
	t->nfwds = rc->nkept;
	for (j = 0; j < t->nfwds; j++) {
		if ((t->fwds[j] = kept[j]) != NULL)
			t->fwds[j]->spec = &t->conf->fwds[j];
	}
	tunnel_ssh_reconf(t);
	for (j = 0; j < t->nfwds; j++) {
		if (kept[j] != NULL)
			continue;
		f = t->fwds[j] = forward_new(t, &t->conf->fwds[j]);
		log_forward(f, LOG_LVL_NOTICE, "%s forward \"%s\" added",
		    fwdspec_kind_name(f->spec->kind), f->spec->spec);
		if (tunnel_forwards_started(t))
			forward_start(f);	/* up if the session is */
	}
	tunnel_reconf_clear(rc);
	tunnel_forwards_batch_end(t);
}

/*
 * A reload, first step (all tunnels let go before any takes, so that a
 * listener may move from one to another): a new session stops the tunnel
 * and its forwards go; new forwards close those that go.
 */
void
tunnel_reconf_release(struct tunnel *t, const struct tunnel_conf *tc,
    struct tunnel_reconf *rc)
{
	if (KR_NEEDS(rc->needs, KR_SESSION)) {
		/* wanted: not down (failed is; the change may be its cure) */
		rc->start = t->state != TS_DOWN;
		tunnel_stop(t, rc->why);
		tunnel_forwards_free(t);
	} else if (KR_NEEDS(rc->needs, KR_FORWARDS)) {
		tunnel_reconf_clear(rc);
		rc->kept = tunnel_forwards_match(t, tc);
		rc->nkept = tc->nfwds;
		tunnel_forwards_release(t, rc);
	}
}

/* Second step: the tunnel is on tc; what is new starts. */
void
tunnel_reconf_acquire(struct tunnel *t, struct tunnel_conf *tc,
    struct tunnel_reconf *rc)
{
	int required = t->conf->require_forwards;
	size_t i;

	t->conf = tc;
	ratelimit_set(t->ratelimit, tc->rate_limit);	/* open ones too */
	if (KR_NEEDS(rc->needs, KR_SESSION)) {
		tunnel_forwards_new(t);
		if (rc->start)
			tunnel_start(t, rc->why);
		return;
	}
	if (KR_NEEDS(rc->needs, KR_FORWARDS))
		tunnel_forwards_acquire(t, rc);
	else {			/* same forwards, same order */
		for (i = 0; i < t->nfwds; i++)
			t->fwds[i]->spec = &tc->fwds[i];
		tunnel_ssh_reconf(t);
	}
	if (KR_NEEDS(rc->needs, KR_REARM)) {
		session_keepalive_rearm(t->session);
		tunnel_sessions_rearm(t);
		for (i = 0; i < t->nfwds; i++)
			forward_probe_rearm(t->fwds[i]);
	}
	if (tc->require_forwards && !required)	/* degraded: no longer */
		tunnel_forward_changed(t);
}

/* What a release left for an acquire that did not run (a busy worker). */
void
tunnel_reconf_clear(struct tunnel_reconf *rc)
{
	free(rc->kept);
	rc->kept = NULL;
	rc->nkept = 0;
}


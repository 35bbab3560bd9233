/*
 * tunnel.c - the per-tunnel state machine of SPEC.md.
 *
 *   down -> connecting -> up | degraded
 *   connecting | up | degraded -> backoff -> connecting   (session lost)
 *   any -> failed        (retrying cannot help: host key, key file)
 *   any -> down          (tunnelctl down, shutdown)
 *
 * tunnel_set_state() is the one place that changes state: it logs the
 * transition by name with its reason and tells the control clients.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunneld.h"

#define FORWARD_RETRY_MAX	30	/* seconds between retries of a forward */

struct tunnels tunnels = TAILQ_HEAD_INITIALIZER(tunnels);

static void	tunnel_connect(struct tunnel *, const char *);

const char *
tunnel_state_name(enum tunnel_state st)
{
	switch (st) {
	case TS_DOWN:
		return "down";
	case TS_CONNECTING:
		return "connecting";
	case TS_UP:
		return "up";
	case TS_DEGRADED:
		return "degraded";
	case TS_BACKOFF:
		return "backoff";
	case TS_FAILED:
		return "failed";
	}
	return "unknown";
}

static void
tunnel_set_error(struct tunnel *t, const char *error)
{
	free(t->last_error);
	t->last_error = error != NULL ? xstrdup(error) : NULL;
}

static void
tunnel_set_state(struct tunnel *t, enum tunnel_state st, const char *reason)
{
	enum tunnel_state old = t->state;

	if (old == st)
		return;
	t->state = st;
	t->since = time(NULL);
	if (st == TS_FAILED || st == TS_BACKOFF || st == TS_DEGRADED)
		log_warnx("%s: %s -> %s%s%s%s", t->conf->name,
		    tunnel_state_name(old), tunnel_state_name(st),
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	else
		log_notice("%s: %s -> %s%s%s%s", t->conf->name,
		    tunnel_state_name(old), tunnel_state_name(st),
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	control_notify_state(t, old, reason);
}

static void
tunnel_arm_retry(struct tunnel *t, double delay)
{
	struct timeval tv;

	tv.tv_sec = (time_t)delay;
	tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
	evtimer_add(t->retry_timer, &tv);
	t->next_retry = time(NULL) + (time_t)ceil(delay);
}

static void
tunnel_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	size_t i;

	t->next_retry = 0;
	switch (t->state) {
	case TS_BACKOFF:
		t->reconnects++;
		tunnel_connect(t, "retry");
		break;
	case TS_DEGRADED:	/* try the failed forwards again */
		for (i = 0; i < t->nfwds; i++) {
			if (t->fwds[i]->state == FS_FAILED)
				forward_start(t->fwds[i]);
		}
		tunnel_forward_changed(t);
		break;
	default:
		break;
	}
}

struct tunnel *
tunnel_create(struct tunnel_conf *tc)
{
	struct tunnel *t = xcalloc(1, sizeof *t);
	size_t i;

	t->conf = tc;
	t->state = TS_DOWN;
	t->since = time(NULL);
	t->retry_timer = evtimer_new(tunneld_base, tunnel_retry_cb, t);
	t->nfwds = tc->nfwds;
	t->fwds = xcalloc(tc->nfwds, sizeof *t->fwds);
	for (i = 0; i < tc->nfwds; i++)
		t->fwds[i] = forward_new(t, &tc->fwds[i]);
	TAILQ_INSERT_TAIL(&tunnels, t, entry);
	return t;
}

void
tunnel_destroy(struct tunnel *t)
{
	size_t i;

	tunnel_stop(t, "shutdown");
	TAILQ_REMOVE(&tunnels, t, entry);
	for (i = 0; i < t->nfwds; i++)
		forward_free(t->fwds[i]);
	free(t->fwds);
	event_free(t->retry_timer);
	free(t->last_error);
	free(t);
}

struct tunnel *
tunnel_find(const char *name)
{
	struct tunnel *t;

	TAILQ_FOREACH(t, &tunnels, entry) {
		if (strcmp(t->conf->name, name) == 0)
			return t;
	}
	return NULL;
}

static void
tunnel_connect(struct tunnel *t, const char *why)
{
	size_t i;

	evtimer_del(t->retry_timer);
	t->next_retry = 0;
	for (i = 0; i < t->nfwds; i++) {	/* listeners first */
		if (t->fwds[i]->nlfds == 0)
			forward_start(t->fwds[i]);
	}
	tunnel_set_state(t, TS_CONNECTING, why);
	t->session = session_new(tunneld_base, tunneld_dns, t->conf, t);
}

/* Wanted: connect now (also cuts a backoff short). */
void
tunnel_start(struct tunnel *t, const char *why)
{
	switch (t->state) {
	case TS_CONNECTING:
	case TS_UP:
	case TS_DEGRADED:
		return;
	case TS_BACKOFF:
		t->reconnects++;
		break;
	case TS_DOWN:
	case TS_FAILED:
		t->attempts = 0;
		break;
	}
	tunnel_connect(t, why);
}

/* Not wanted: close everything and stay down until started again. */
void
tunnel_stop(struct tunnel *t, const char *why)
{
	size_t i;

	evtimer_del(t->retry_timer);
	t->next_retry = 0;
	if (t->session != NULL) {
		session_free(t->session);
		t->session = NULL;
	}
	for (i = 0; i < t->nfwds; i++) {
		forward_stop(t->fwds[i]);
		t->fwds[i]->state = FS_PENDING;
	}
	tunnel_set_state(t, TS_DOWN, why);
}

/*
 * up or degraded, from the forwards' states; while the first answers to
 * remote forward requests are awaited, still connecting (forward set-up).
 */
void
tunnel_forward_changed(struct tunnel *t)
{
	const char *error = NULL;
	int pending = 0;
	size_t i;

	if (!session_is_established(t->session))
		return;
	for (i = 0; i < t->nfwds; i++) {
		if (t->fwds[i]->state == FS_FAILED && error == NULL)
			error = t->fwds[i]->last_error;
		if (t->fwds[i]->state == FS_PENDING)
			pending = 1;
	}
	if (pending && t->state == TS_CONNECTING)
		return;
	if (error == NULL) {
		tunnel_set_error(t, NULL);
		tunnel_set_state(t, TS_UP, NULL);
		return;
	}
	tunnel_set_error(t, error);
	tunnel_set_state(t, TS_DEGRADED, error);
	if (!evtimer_pending(t->retry_timer, NULL))
		tunnel_arm_retry(t, t->conf->reconnect_max < FORWARD_RETRY_MAX ?
		    t->conf->reconnect_max : FORWARD_RETRY_MAX);
}

void
tunnel_session_up(struct tunnel *t)
{
	size_t i;

	t->attempts = 0;
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_request(t->fwds[i]);
		else if (t->fwds[i]->nlfds > 0)
			t->fwds[i]->state = FS_UP;
	}
	tunnel_forward_changed(t);
}

/*
 * The session ended.  Retrying cannot fix a fatal error (host key, key
 * file): failed.  Anything else: backoff, doubling from reconnect_min up to
 * reconnect_max.
 */
void
tunnel_session_lost(struct tunnel *t, int fatal, const char *reason)
{
	char *why = xstrdup(reason);
	double delay;
	size_t i;

	session_free(t->session);
	t->session = NULL;
	tunnel_set_error(t, why);
	for (i = 0; i < t->nfwds; i++) {
		if (forward_is_remote(t->fwds[i]))
			forward_remote_session_lost(t->fwds[i]);
		if (t->fwds[i]->state == FS_UP)
			t->fwds[i]->state = FS_PENDING;
	}
	if (fatal) {
		for (i = 0; i < t->nfwds; i++)
			forward_stop(t->fwds[i]);
		log_error("%s: %s", t->conf->name, why);
		tunnel_set_state(t, TS_FAILED, why);
		free(why);
		return;
	}
	t->attempts++;
	delay = t->conf->reconnect_min * pow(2, t->attempts - 1);
	if (delay > t->conf->reconnect_max)
		delay = t->conf->reconnect_max;
	tunnel_arm_retry(t, delay);
	tunnel_set_state(t, TS_BACKOFF, why);
	free(why);
}

/*
 * metrics.c - the Prometheus text exposition format (version 0.0.4) of
 * what status.c reads: GET /metrics on metrics_listen, served by libevent's
 * evhttp on the main thread, and the control command "metrics" (tunnelctl
 * metrics), which return the same text.
 *
 * A scrape is one status_all(): one bounded call per worker (worker.c),
 * a busy worker's tunnels answered from the main thread's copy.  It never
 * waits for a tunnel's traffic, nor a tunnel for it.
 *
 * The HTTP side serves /metrics and nothing else, to GET and HEAD, with
 * bounded headers and body; a client has METRICS_DEADLINE seconds from its
 * connection to the end of its answer, and at most METRICS_CONNS are
 * connected at once (a newcomer pushes the oldest out): a client that
 * sends slowly or never costs only itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <libconfig.h>

#include "control.h"

#define METRICS_CONNS		16	/* connected at once */
#define METRICS_DEADLINE	10	/* seconds from connect to answered */
#define METRICS_LOG_EVERY	10.0	/* seconds between logs of cuts */
#define METRICS_IO_TIMEOUT	5	/* seconds evhttp waits for a read */
#define METRICS_MAX_HEADERS	8192	/* bytes of request line and headers */
#define METRICS_MAX_BODY	1024	/* bytes of a request's body */
#define STRINGIFY(x)		STRINGIFY_(x)
#define STRINGIFY_(x)		#x
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* One number of a tunnel's or a forward's status object. */
struct metric {
	const char	*name;
	const char	*type;		/* "gauge", "counter" */
	const char	*field;		/* in the status object */
	double		 scale;		/* to base units */
	const char	*help;
};

/* Each tunnel, labelled tunnel="NAME"; a field that is absent or null
 * gives no sample.  A metric read from a status field is a row here or in
 * forward_metrics[]; the others (state sets, info metrics, the daemon's
 * own) are a function each below. */
static const struct metric tunnel_metrics[] = {
	{ "tunneld_tunnel_reconnects_total", "counter", "reconnects", 1,
	    "Sessions lost and attempted again since the tunnel was created." },
	{ "tunneld_tunnel_last_change_timestamp_seconds", "gauge", "since", 1,
	    "When the tunnel entered its current state (Unix time)." },
	{ "tunneld_tunnel_keepalive_rtt_seconds", "gauge", "rtt_ms", 0.001,
	    "Round-trip time of the last keepalive answered." },
	{ "tunneld_tunnel_sessions", "gauge", "sessions", 1,
	    "SSH sessions the tunnel holds." },
	{ "tunneld_tunnel_connections_refused_total", "counter", "refused", 1,
	    "Connections to the tunnel's forwards refused at once for a "
	    "budget: max_connections, max_forward_connections, descriptors." },
	{ "tunneld_tunnel_max_connections", "gauge", "max_connections", 1,
	    "The most connections the tunnel's forwards hold at once "
	    "(max_connections)." },
	{ "tunneld_tunnel_worker_busy", "gauge", "worker_busy", 1,
	    "1 if the tunnel's worker did not answer this scrape in time: its "
	    "values are the last it posted." },
	{ "tunneld_tunnel_hook_runs_total", "counter", "hook_runs", 1,
	    "Runs of the tunnel's on_state program started or attempted." },
	{ "tunneld_tunnel_hook_failures_total", "counter", "hook_failures", 1,
	    "Runs of the on_state program that failed: exit status not 0, a "
	    "signal, its timeout, or it could not be started." },
	{ "tunneld_tunnel_rate_limit_bytes", "gauge", "rate_limit", 1,
	    "The tunnel's rate_limit: bytes per second each way, for all its "
	    "forwards together (absent without one)." },
};

/* Each forward, labelled tunnel, forward (its spec) and kind. */
static const struct metric forward_metrics[] = {
	{ "tunneld_forward_connections", "gauge", "connections", 1,
	    "Forwarded connections open now." },
	{ "tunneld_forward_connections_total", "counter", "total_connections",
	    1, "Forwarded connections opened." },
	{ "tunneld_forward_received_bytes_total", "counter", "bytes_in", 1,
	    "Bytes from the tunnel to this machine's end of the "
	    "connections (bytes_in)." },
	{ "tunneld_forward_sent_bytes_total", "counter", "bytes_out", 1,
	    "Bytes from this machine's end of the connections into the "
	    "tunnel (bytes_out)." },
	{ "tunneld_forward_failures_total", "counter", "failures", 1,
	    "Connections that could not be forwarded (refused by the server, "
	    "or the target here could not be reached)." },
	{ "tunneld_forward_stalled_total", "counter", "stalled", 1,
	    "Connections closed for making no progress for "
	    "channel_stall_timeout." },
	{ "tunneld_forward_connections_refused_total", "counter", "refused", 1,
	    "Connections refused at once for a budget: max_connections, "
	    "max_forward_connections, descriptors." },
	{ "tunneld_forward_probe_ok", "gauge", "probe_ok", 1,
	    "1 if the last probe of the remote forward came back through the "
	    "server's listener and its target accepted a connection "
	    "(probe_interval)." },
	{ "tunneld_forward_probe_failures_total", "counter", "probe_failures",
	    1, "Probes of the remote forward that found its listener or its "
	    "target not working." },
	{ "tunneld_forward_probe_last_success_timestamp_seconds", "gauge",
	    "probe_last_ok", 1, "When a probe of the remote forward last "
	    "succeeded (Unix time)." },
};

/* Each SSH session of a tunnel (status "sessions"), labelled tunnel,
 * session (its id) and role. */
static const struct metric session_metrics[] = {
	{ "tunneld_session_opens", "gauge", "opens", 1,
	    "Channel opens and requests queued or in flight on the session "
	    "(one is in flight at a time)." },
	{ "tunneld_session_oldest_open_seconds", "gauge", "oldest_open_s", 1,
	    "How long the open in flight has waited for the server's "
	    "answer." },
	{ "tunneld_session_channels_stalled_total", "counter",
	    "channels_stalled", 1, "Channels of the session closed for making "
	    "no progress for channel_stall_timeout." },
};

static const char *const metrics_states[] = { "down", "connecting", "up",
	"degraded", "backoff", "failed" };
static const char *const metrics_forward_states[] = { "pending", "up",
	"failed" };

/* --- the text ------------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static void
metrics_label(struct evbuffer *b, const char *name, const char *value)
{
	const char *p;

	evbuffer_add_printf(b, "%s=\"", name);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*p == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*p == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
metrics_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static const char *
metrics_str(json_object *o, const char *field)
{
	json_object *v;

	if (!json_object_object_get_ex(o, field, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* The labels of a tunnel's or a forward's sample, without braces. */
static void
metrics_labels(struct evbuffer *b, json_object *t, json_object *f)
{
	metrics_label(b, "tunnel", metrics_str(t, "name"));
	if (f == NULL)
		return;
	evbuffer_add(b, ",", 1);
	metrics_label(b, "forward", metrics_str(f, "spec"));
	evbuffer_add(b, ",", 1);
	metrics_label(b, "kind", metrics_str(f, "kind"));
}

/* One sample of m from o, if o has the field. */
static void
metrics_sample(struct evbuffer *b, const struct metric *m, json_object *o,
    json_object *t, json_object *f)
{
	json_object *v;

	if (!json_object_object_get_ex(o, m->field, &v) || v == NULL)
		return;
	evbuffer_add_printf(b, "%s{", m->name);
	metrics_labels(b, t, f);
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_boolean:
		if (m->scale == 1) {
			evbuffer_add_printf(b, "} %lld\n",
			    (long long)json_object_get_int64(v));
			break;
		}
		/* FALLTHROUGH */
	case json_type_double:
		evbuffer_add_printf(b, "} %.9g\n",
		    json_object_get_double(v) * m->scale);
		break;
	default:
		evbuffer_add_printf(b, "} NaN\n");
		break;
	}
}

static void
metrics_tunnel_table(struct evbuffer *b, json_object *ts)
{
	const struct metric *m;
	json_object *t, *fs, *f;
	size_t i, j, k;

	for (i = 0; i < nitems(tunnel_metrics); i++) {
		m = &tunnel_metrics[i];
		metrics_family(b, m->name, m->type, m->help);
		for (j = 0; j < json_object_array_length(ts); j++) {
			t = json_object_array_get_idx(ts, j);
			metrics_sample(b, m, t, t, NULL);
		}
	}
	for (i = 0; i < nitems(forward_metrics); i++) {
		m = &forward_metrics[i];
		metrics_family(b, m->name, m->type, m->help);
		for (j = 0; j < json_object_array_length(ts); j++) {
			t = json_object_array_get_idx(ts, j);
			if (!json_object_object_get_ex(t, "forwards", &fs))
				continue;
			for (k = 0; k < json_object_array_length(fs); k++) {
				f = json_object_array_get_idx(fs, k);
				metrics_sample(b, m, f, t, f);
			}
		}
	}
}

/* The per-session families: one sample per session row. */
static void
metrics_sessions(struct evbuffer *b, json_object *ts)
{
	const struct metric *m;
	json_object *t, *ss, *o, *id, *v;
	size_t i, j, k;

	for (i = 0; i < nitems(session_metrics); i++) {
		m = &session_metrics[i];
		metrics_family(b, m->name, m->type, m->help);
		for (j = 0; j < json_object_array_length(ts); j++) {
			t = json_object_array_get_idx(ts, j);
			if (!json_object_object_get_ex(t, "sessions", &ss) ||
			    !json_object_is_type(ss, json_type_array))
				continue;
			for (k = 0; k < json_object_array_length(ss); k++) {
				o = json_object_array_get_idx(ss, k);
				json_object_object_get_ex(o, "id", &id);
				if (!json_object_object_get_ex(o, m->field,
				    &v) || v == NULL)
					continue;
				evbuffer_add_printf(b, "%s{", m->name);
				metrics_labels(b, t, NULL);
				evbuffer_add_printf(b, ",session=\"%d\",",
				    json_object_get_int(id));
				metrics_label(b, "role", metrics_str(o,
				    "role"));
				evbuffer_add_printf(b, "} %.9g\n",
				    json_object_get_double(v));
			}
		}
	}
}

/* tunneld_tunnel_state: a state set, 1 for the state the tunnel is in. */
static void
metrics_tunnel_state(struct evbuffer *b, json_object *ts)
{
	json_object *t;
	const char *s;
	size_t i, j;

	metrics_family(b, "tunneld_tunnel_state", "gauge", "1 for the state "
	    "the tunnel is in (tunneld(8), STATES), 0 for the others.");
	for (i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		s = metrics_str(t, "state");
		for (j = 0; j < nitems(metrics_states); j++) {
			evbuffer_add(b, "tunneld_tunnel_state{", 21);
			metrics_labels(b, t, NULL);
			evbuffer_add(b, ",", 1);
			metrics_label(b, "state", metrics_states[j]);
			evbuffer_add_printf(b, "} %d\n",
			    strcmp(s, metrics_states[j]) == 0);
		}
	}
	metrics_family(b, "tunneld_tunnel_up", "gauge", "1 if the tunnel's "
	    "session is established (state up or degraded).");
	for (i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		s = metrics_str(t, "state");
		evbuffer_add(b, "tunneld_tunnel_up{", 18);
		metrics_labels(b, t, NULL);
		evbuffer_add_printf(b, "} %d\n", strcmp(s, "up") == 0 ||
		    strcmp(s, "degraded") == 0);
	}
}

/* tunneld_forward_state: a state set, 1 for the state the forward is in. */
static void
metrics_forward_state(struct evbuffer *b, json_object *ts)
{
	json_object *t, *fs, *f;
	const char *s;
	size_t i, j, k;

	metrics_family(b, "tunneld_forward_state", "gauge", "1 for the state "
	    "the forward is in (pending, up, failed), 0 for the others.");
	for (i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		if (!json_object_object_get_ex(t, "forwards", &fs))
			continue;
		for (j = 0; j < json_object_array_length(fs); j++) {
			f = json_object_array_get_idx(fs, j);
			s = metrics_str(f, "state");
			for (k = 0; k < nitems(metrics_forward_states); k++) {
				evbuffer_add(b, "tunneld_forward_state{", 22);
				metrics_labels(b, t, f);
				evbuffer_add(b, ",", 1);
				metrics_label(b, "state",
				    metrics_forward_states[k]);
				evbuffer_add_printf(b, "} %d\n", strcmp(s,
				    metrics_forward_states[k]) == 0);
			}
		}
	}
}

/* tunneld_tunnel_server_info: the server the tunnel is on (or tries). */
static void
metrics_tunnel_server(struct evbuffer *b, json_object *ts)
{
	json_object *t, *port;
	const char *server;
	char buf[1100];
	size_t i;

	metrics_family(b, "tunneld_tunnel_server_info", "gauge", "The server "
	    "the tunnel is on or tries next, in the label server; always 1.");
	for (i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		server = metrics_str(t, "server");
		if (*server == '\0') {
			json_object_object_get_ex(t, "port", &port);
			snprintf(buf, sizeof buf, "%s:%d", metrics_str(t,
			    "host"), json_object_get_int(port));
			server = buf;
		}
		evbuffer_add(b, "tunneld_tunnel_server_info{", 27);
		metrics_labels(b, t, NULL);
		evbuffer_add(b, ",", 1);
		metrics_label(b, "server", server);
		evbuffer_add(b, "} 1\n", 4);
	}
}

/* One counter family from the tunnels' "pool" objects: each key of the
 * object field (started, closed) is a sample labelled reason. */
static void
metrics_pool_family(struct evbuffer *b, json_object *ts, const char *name,
    const char *field, const char *help)
{
	json_object *t, *pool, *by;
	size_t i;

	metrics_family(b, name, "counter", help);
	for (i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		if (!json_object_object_get_ex(t, "pool", &pool) ||
		    !json_object_object_get_ex(pool, field, &by) ||
		    !json_object_is_type(by, json_type_object))
			continue;
		json_object_object_foreach(by, reason, v) {
			evbuffer_add_printf(b, "%s{", name);
			metrics_labels(b, t, NULL);
			evbuffer_add(b, ",", 1);
			metrics_label(b, "reason", reason);
			evbuffer_add_printf(b, "} %lld\n",
			    (long long)json_object_get_int64(v));
		}
	}
}

/* The pool of extra sessions (tunnel_sessions.c): started and closed, by
 * why. */
static void
metrics_tunnel_pool(struct evbuffer *b, json_object *ts)
{
	metrics_pool_family(b, ts, "tunneld_tunnel_extra_sessions_started_total",
	    "started", "Extra sessions started, by why (queue: a new "
	    "connection would have waited longer than a set-up takes).");
	metrics_pool_family(b, ts, "tunneld_tunnel_extra_sessions_closed_total",
	    "closed", "Extra sessions closed, by why (idle, lost, "
	    "setup-failed, sessions: the setting was lowered, tunnel: the "
	    "tunnel's own session went, open-timeout: libssh2 gave up an "
	    "open on it).");
}

/* The daemon's own: tunnels by state, control clients, build. */
static void
metrics_daemon(struct evbuffer *b, json_object *ts)
{
	const char *linked, *built;
	char buf[64];
	size_t i, j, n;

	metrics_family(b, "tunneld_tunnels", "gauge",
	    "Tunnels configured, by state.");
	for (j = 0; j < nitems(metrics_states); j++) {
		for (i = n = 0; i < json_object_array_length(ts); i++)
			n += strcmp(metrics_str(json_object_array_get_idx(ts,
			    i), "state"), metrics_states[j]) == 0;
		evbuffer_add(b, "tunneld_tunnels{", 16);
		metrics_label(b, "state", metrics_states[j]);
		evbuffer_add_printf(b, "} %zu\n", n);
	}
	metrics_family(b, "tunneld_control_clients", "gauge",
	    "Clients connected to the control socket.");
	evbuffer_add_printf(b, "tunneld_control_clients %u\n",
	    control_clients());
	metrics_family(b, "tunneld_workers", "gauge", "Worker threads.");
	evbuffer_add_printf(b, "tunneld_workers %u\n", worker_count());

	session_library_version(&linked, &built);
	metrics_family(b, "tunneld_build_info", "gauge", "The version of "
	    "tunneld and of the libraries it runs with; always 1.");
	evbuffer_add(b, "tunneld_build_info{", 19);
	metrics_label(b, "version", VERSION);
	evbuffer_add(b, ",", 1);
	metrics_label(b, "libssh2", linked);
	evbuffer_add(b, ",", 1);
	metrics_label(b, "libssh2_built", built);
	evbuffer_add(b, ",", 1);
	metrics_label(b, "libevent", event_get_version());
	evbuffer_add(b, ",", 1);
	snprintf(buf, sizeof buf, "%d.%d.%d", LIBCONFIG_VER_MAJOR,
	    LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
	metrics_label(b, "libconfig", buf);
	evbuffer_add(b, ",", 1);
	metrics_label(b, "json_c", json_c_version());
	evbuffer_add(b, "} 1\n", 4);
}

/* Main thread: the whole exposition, appended to b. */
void
metrics_write(struct evbuffer *b)
{
	json_object *ts = status_all();

	metrics_tunnel_state(b, ts);
	metrics_tunnel_server(b, ts);
	metrics_tunnel_table(b, ts);
	metrics_forward_state(b, ts);
	metrics_tunnel_pool(b, ts);
	metrics_sessions(b, ts);
	metrics_daemon(b, ts);
	json_object_put(ts);
}

/* Main thread: the exposition as a string (the control command). */
char *
metrics_text(void)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	metrics_write(b);
	len = evbuffer_get_length(b);
	s = xmalloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

/* --- HTTP ---------------------------------------------------------------- */

/*
 * The connections evhttp holds, as far as we know: evhttp (libevent 2.1)
 * says neither when it accepts nor when it closes.  It asks us for each
 * new connection's bufferevent (metrics_bev_cb), and gives it its socket
 * just after: each is then known by its descriptor and the socket's inode,
 * and looked at again when another one comes and every second.  One past
 * its deadline, or pushed out by a newcomer, is shut down: evhttp sees the
 * end of it and frees it.
 */
#define METRICS_PENDING	256	/* accepted in one go, before adoption */
struct metrics_conn {
	int	 fd;
	ino_t	 ino;
	double	 since;
};
static struct event_base	*metrics_base;	/* the main thread's */
static struct metrics_conn	 metrics_conns[METRICS_CONNS];
static size_t			 metrics_nconns;
static struct bufferevent	*metrics_pending[METRICS_PENDING];
static size_t			 metrics_npending;
static struct evhttp		*metrics_http;
static struct event		*metrics_sweep_ev;
static struct event		*metrics_adopt_ev;
static char			*metrics_addr;	/* listening on */
static struct evconnlistener	*metrics_listener;
static struct listen_pause	 metrics_pause;	/* out of descriptors */

/* Is c still the connection it was when accepted? */
static int
metrics_conn_alive(const struct metrics_conn *c)
{
	struct stat sb;

	return fstat(c->fd, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    sb.st_ino == c->ino;
}

/* Log that a connection was cut, at most every METRICS_LOG_EVERY seconds. */
static void
metrics_log_cut(const char *why)
{
	static double last;
	static unsigned suppressed;

	if (mono_now() - last < METRICS_LOG_EVERY) {
		suppressed++;
		return;
	}
	log_info("metrics: a connection %s, closed (%u more since the last "
	    "message)", why, suppressed);
	last = mono_now();
	suppressed = 0;
}

static void
metrics_conn_cut(size_t i, const char *why)
{
	metrics_log_cut(why);
	shutdown(metrics_conns[i].fd, SHUT_RDWR);
	metrics_conns[i] = metrics_conns[--metrics_nconns];
}

/* Forget the connections evhttp closed; cut those past their deadline. */
static void
metrics_sweep(void)
{
	struct timeval tv = { 1, 0 };
	double now = mono_now();
	size_t i = 0;

	while (i < metrics_nconns) {
		if (!metrics_conn_alive(&metrics_conns[i]))
			metrics_conns[i] = metrics_conns[--metrics_nconns];
		else if (now - metrics_conns[i].since > METRICS_DEADLINE)
			metrics_conn_cut(i, "not answered within "
			    STRINGIFY(METRICS_DEADLINE) "s");
		else
			i++;
	}
	if (metrics_nconns > 0)
		evtimer_add(metrics_sweep_ev, &tv);
	else
		evtimer_del(metrics_sweep_ev);
}

static void
metrics_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	metrics_sweep();
}

/* A new connection's socket: known from now on, the oldest pushed out if
 * there are too many. */
static void
metrics_adopt(int fd)
{
	struct stat sb;
	size_t i, oldest = 0;

	if (fd == -1 || fstat(fd, &sb) == -1)
		return;
	metrics_sweep();
	if (metrics_nconns == METRICS_CONNS) {
		for (i = 1; i < metrics_nconns; i++) {
			if (metrics_conns[i].since <
			    metrics_conns[oldest].since)
				oldest = i;
		}
		metrics_conn_cut(oldest, "pushed out by a newer one ("
		    STRINGIFY(METRICS_CONNS) " at most)");
	}
	metrics_conns[metrics_nconns].fd = fd;
	metrics_conns[metrics_nconns].ino = sb.st_ino;
	metrics_conns[metrics_nconns].since = mono_now();
	metrics_nconns++;
	metrics_sweep();	/* and every second from now on */
}

/* After the accept: evhttp has given each new bufferevent its socket. */
static void
metrics_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t i;

	for (i = 0; i < metrics_npending; i++)
		metrics_adopt(bufferevent_getfd(metrics_pending[i]));
	metrics_npending = 0;
}

/*
 * evhttp wants a bufferevent for a connection it has just accepted.  It
 * gives it its socket before returning to the loop, and its first read
 * comes from the next poll, after metrics_adopt_cb (it would free it
 * before only if it ran out of memory on the way).
 */
static struct bufferevent *
metrics_bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent *bev;

	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		return NULL;
	if (metrics_npending < METRICS_PENDING)
		metrics_pending[metrics_npending++] = bev;
	event_active(metrics_adopt_ev, EV_TIMEOUT, 0);
	return bev;
}

static void
metrics_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	if (metrics_listener != NULL)
		evconnlistener_enable(metrics_listener);
}

/* accept() failed (out of descriptors, most likely): pause instead of
 * waking up at once for the same error (budget.c). */
static void
metrics_accept_error_cb(struct evconnlistener *l, void *arg)
{
	int e = errno;

	evconnlistener_disable(l);
	listen_pause_start(&metrics_pause, "metrics: accept", strerror(e));
}

static void metrics_notfound_cb(struct evhttp_request *, void *);

/* The request's target as sent is "/metrics", a query after it or not:
 * evhttp matches the decoded path, and "/metrics%00" decodes to it. */
static int
metrics_target_ok(struct evhttp_request *req)
{
	const char *uri = evhttp_request_get_uri(req);
	size_t n = strlen("/metrics");

	return uri != NULL && strncmp(uri, "/metrics", n) == 0 &&
	    (uri[n] == '\0' || uri[n] == '?');
}

static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b;
	char len[32];

	if (!metrics_target_ok(req)) {
		metrics_notfound_cb(req, arg);
		return;
	}
	b = evbuffer_new();
	metrics_write(b);
	evhttp_add_header(h, "Content-Type", METRICS_CONTENT_TYPE);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* GET's headers, its length included, and no body */
		snprintf(len, sizeof len, "%zu", evbuffer_get_length(b));
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_drain(b, evbuffer_get_length(b));
	}
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void
metrics_notfound_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "tunneld serves /metrics only\n");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", b);
	evbuffer_free(b);
}

static void
metrics_close(void)
{
	metrics_nconns = 0;
	metrics_npending = 0;
	metrics_listener = NULL;
	listen_pause_clear(&metrics_pause);
	if (metrics_http != NULL)	/* its listener and connections */
		evhttp_free(metrics_http);
	metrics_http = NULL;
	if (metrics_sweep_ev != NULL)
		event_free(metrics_sweep_ev);
	metrics_sweep_ev = NULL;
	if (metrics_adopt_ev != NULL)
		event_free(metrics_adopt_ev);
	metrics_adopt_ev = NULL;
	free(metrics_addr);
	metrics_addr = NULL;
}

static struct evhttp *
metrics_http_new(void)
{
	struct evhttp *http;

	if ((http = evhttp_new(metrics_base)) == NULL)
		return NULL;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(http, METRICS_MAX_BODY);
	evhttp_set_timeout(http, METRICS_IO_TIMEOUT);
	evhttp_set_cb(http, "/metrics", metrics_request_cb, NULL);
	evhttp_set_gencb(http, metrics_notfound_cb, NULL);
	evhttp_set_bevcb(http, metrics_bev_cb, NULL);
	return http;
}

/* Serve on addr ("ADDRESS:PORT"); NULL: not at all.  0, or -1 and *cause
 * (and nothing served). */
static int
metrics_open(const char *addr, char **cause)
{
	struct evconnlistener *l;
	struct sockaddr_storage ss;
	int len;

	if (addr == NULL)
		return 0;
	if (config_parse_listen(addr, &ss, &len) != 0) {
		xasprintf(cause, "metrics_listen \"%s\" is not ADDRESS:PORT",
		    addr);
		return -1;
	}
	metrics_http = metrics_http_new();
	metrics_sweep_ev = evtimer_new(metrics_base, metrics_sweep_cb, NULL);
	metrics_adopt_ev = event_new(metrics_base, -1, 0, metrics_adopt_cb,
	    NULL);
	l = evconnlistener_new_bind(metrics_base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	    16, (struct sockaddr *)&ss, len);
	if (l == NULL) {
		xasprintf(cause, "metrics: cannot listen on %s: %s", addr,
		    strerror(errno));
		metrics_close();
		return -1;
	}
	if (metrics_http == NULL || metrics_sweep_ev == NULL ||
	    metrics_adopt_ev == NULL ||
	    evhttp_bind_listener(metrics_http, l) == NULL) {
		xasprintf(cause, "metrics: cannot serve on %s", addr);
		evconnlistener_free(l);
		metrics_close();
		return -1;
	}
	evconnlistener_set_error_cb(l, metrics_accept_error_cb);
	metrics_listener = l;
	listen_pause_init(&metrics_pause, metrics_base, metrics_resume_cb,
	    NULL);
	metrics_addr = xstrdup(addr);
	log_info("metrics: serving http://%s/metrics", addr);
	return 0;
}

/* Start-up: a metrics_listen that cannot be served is logged, and the
 * tunnels start all the same (the next reload, or a restart, tries
 * again). */
void
metrics_init(struct event_base *base, const struct config *conf)
{
	char *cause = NULL;

	metrics_base = base;
	if (metrics_open(conf->metrics_listen, &cause) != 0) {
		log_error("%s; no metrics until a reload or a restart",
		    cause);
		free(cause);
	}
}

/* Reload: metrics_listen changed. */
static void
metrics_apply(const struct config *conf)
{
	char *cause = NULL, *old;

	old = metrics_addr != NULL ? xstrdup(metrics_addr) : NULL;
	metrics_close();
	if (metrics_open(conf->metrics_listen, &cause) != 0) {
		log_warnx("reload: %s%s%s", cause, old != NULL ?
		    "; still serving on " : "", old != NULL ? old : "");
		free(cause);
		cause = NULL;
		if (old != NULL && metrics_open(old, &cause) != 0) {
			log_warnx("reload: %s", cause);
			free(cause);
		}
	} else if (conf->metrics_listen == NULL && old != NULL)
		log_info("metrics: no longer served on %s", old);
	free(old);
}

/* A reload_observer: metrics_listen is served where the new file says.
 * Compared with where it is served, not with the old file: an address
 * that could not be bound is tried again on the next reload. */
void
metrics_reloaded(enum reload_event ev, const struct config *old,
    const struct config *nc, void *arg)
{
	const char *a = metrics_addr, *b;

	if (ev != RELOAD_APPLIED)
		return;
	b = nc->metrics_listen;
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		metrics_apply(nc);
}

void
metrics_shutdown(void)
{
	metrics_close();
}

/*
 * control.c - the control socket: newline-delimited JSON requests, one reply
 * object per request, and state events for subscribers (doc/PROTOCOL.md).
 *
 * Who may change state is decided from the peer's credentials (SO_PEERCRED),
 * never from the message.  A client that sends an oversized line or bad JSON,
 * or that never reads its replies, loses its own connection and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "protocol.h"
#include "tunneld.h"

#define CONTROL_MAX_CLIENTS	256

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct bufferevent	*bev;
	pid_t			 pid;
	uid_t			 uid;
	gid_t			 gid;
	int			 events;	/* subscribed to state events */
	int			 closing;	/* close once output is flushed */
	double			 active;	/* last complete request */
};
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);
static unsigned nclients;
static struct evconnlistener *control_listener;
static char *control_path;


static void
control_client_free(struct client *cl)
{
	TAILQ_REMOVE(&clients, cl, entry);
	nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

static void
control_send(struct client *cl, json_object *o)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	const char *s;

	if (cl->closing)
		return;
	if (evbuffer_get_length(out) > PROTOCOL_MAX_OUTPUT) {
		/* it does not read: it loses its connection, nobody else */
		log_info("control: client pid %ld does not read its replies, "
		    "dropped", (long)cl->pid);
		cl->closing = 1;
		evbuffer_drain(out, evbuffer_get_length(out));
		bufferevent_disable(cl->bev, EV_READ);
		bufferevent_trigger(cl->bev, EV_WRITE,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	evbuffer_add(out, s, strlen(s));
	evbuffer_add(out, "\n", 1);
}

static void
control_error(struct client *cl, json_object *id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
control_error(struct client *cl, json_object *id, const char *code,
    const char *fmt, ...)
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
	control_send(cl, o);
	json_object_put(o);
	free(msg);
}

/* root, the daemon's own user, or a member of control_group */
static int
control_may_change(struct client *cl)
{
	struct group *gr;
	struct passwd *pw;
	gid_t groups[256];
	int n = (int)nitems(groups), i;

	if (cl->uid == 0 || cl->uid == geteuid())
		return 1;
	if (tunneld_conf == NULL || tunneld_conf->control_group == NULL ||
	    (gr = getgrnam(tunneld_conf->control_group)) == NULL)
		return 0;
	if (cl->gid == gr->gr_gid)
		return 1;
	if ((pw = getpwuid(cl->uid)) == NULL)
		return 0;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		if (groups[i] == gr->gr_gid)
			return 1;
	}
	return 0;
}

/* The "tunnels" array of names; NULL array means all tunnels. */
static int
control_names(struct client *cl, json_object *req, json_object *id,
    json_object **names)
{
	json_object *a, *e;
	size_t i, n;

	*names = NULL;
	if (!json_object_object_get_ex(req, "tunnels", &a))
		return 0;
	if (!json_object_is_type(a, json_type_array)) {
		control_error(cl, id, PROTOCOL_E_USAGE,
		    "\"tunnels\" must be an array of names");
		return -1;
	}
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string)) {
			control_error(cl, id, PROTOCOL_E_USAGE,
			    "\"tunnels\" must be an array of names");
			return -1;
		}
		if (tunnel_find(json_object_get_string(e)) == NULL) {
			control_error(cl, id, PROTOCOL_E_FAILED,
			    "no tunnel named \"%s\"",
			    json_object_get_string(e));
			return -1;
		}
	}
	*names = a;
	return 0;
}

static void
control_reply_tunnels(struct client *cl, json_object *id, json_object *names)
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
	control_send(cl, o);
	json_object_put(o);
}

static void
control_ok(struct client *cl, json_object *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "protocol",
	    json_object_new_int(PROTOCOL_VERSION));
	json_object_object_add(o, "version", json_object_new_string(VERSION));
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	control_send(cl, o);
	json_object_put(o);
}

static void
control_request(struct client *cl, const char *line, size_t len)
{
	json_object *req, *cmdo, *id = NULL, *pv, *names;
	struct json_tokener *tok;
	struct tunnel *t;
	const char *cmd;
	char why[128];
	size_t i, n;

	tok = json_tokener_new();
	req = json_tokener_parse_ex(tok, line, (int)len);
	if (req == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(req);
		control_error(cl, NULL, PROTOCOL_E_USAGE,
		    "malformed request: not one JSON object on a line");
		cl->closing = 1;
		return;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object)) {
		control_error(cl, NULL, PROTOCOL_E_USAGE,
		    "malformed request: expected a JSON object");
		json_object_put(req);
		cl->closing = 1;
		return;
	}
	json_object_object_get_ex(req, "id", &id);
	if (json_object_object_get_ex(req, "protocol", &pv) &&
	    (!json_object_is_type(pv, json_type_int) ||
	    json_object_get_int(pv) != PROTOCOL_VERSION)) {
		control_error(cl, id, PROTOCOL_E_USAGE, "protocol version %s "
		    "is not spoken here; this tunneld speaks %d",
		    json_object_to_json_string(pv), PROTOCOL_VERSION);
		goto out;
	}
	if (!json_object_object_get_ex(req, "cmd", &cmdo) ||
	    !json_object_is_type(cmdo, json_type_string)) {
		control_error(cl, id, PROTOCOL_E_USAGE,
		    "request without a \"cmd\" string");
		goto out;
	}
	cmd = json_object_get_string(cmdo);

	if (strcmp(cmd, "hello") == 0) {
		control_ok(cl, id);
	} else if (strcmp(cmd, "status") == 0) {
		if (control_names(cl, req, id, &names) == 0)
			control_reply_tunnels(cl, id, names);
	} else if (strcmp(cmd, "events") == 0) {
		cl->events = 1;
		control_ok(cl, id);
	} else if (strcmp(cmd, "up") == 0 || strcmp(cmd, "down") == 0 ||
	    strcmp(cmd, "restart") == 0 || strcmp(cmd, "reload") == 0) {
		if (!control_may_change(cl)) {
			log_notice("control: %s refused to uid %lu pid %ld",
			    cmd, (unsigned long)cl->uid, (long)cl->pid);
			control_error(cl, id, PROTOCOL_E_PERM, "permission "
			    "denied: \"%s\" needs root, the tunneld user or "
			    "membership of control_group%s%s", cmd,
			    tunneld_conf && tunneld_conf->control_group ?
			    " " : "", tunneld_conf &&
			    tunneld_conf->control_group ?
			    tunneld_conf->control_group : "");
			goto out;
		}
		if (strcmp(cmd, "reload") == 0) {
			json_object *r;

			snprintf(why, sizeof why, "by uid %lu pid %ld",
			    (unsigned long)cl->uid, (long)cl->pid);
			r = reload_config(why);
			if (id != NULL)
				json_object_object_add(r, "id",
				    json_object_get(id));
			if (!json_object_get_boolean(json_object_object_get(r,
			    "ok")))
				json_object_object_add(r, "code",
				    json_object_new_string(PROTOCOL_E_FAILED));
			control_send(cl, r);
			json_object_put(r);
			goto out;
		}
		if (control_names(cl, req, id, &names) != 0)
			goto out;
		if (names == NULL) {
			control_error(cl, id, PROTOCOL_E_USAGE,
			    "\"%s\" needs \"tunnels\": [names]", cmd);
			goto out;
		}
		snprintf(why, sizeof why, "%s by uid %lu pid %ld", cmd,
		    (unsigned long)cl->uid, (long)cl->pid);
		n = json_object_array_length(names);
		for (i = 0; i < n; i++) {
			t = tunnel_find(json_object_get_string(
			    json_object_array_get_idx(names, i)));
			log_info("%s: %s", t->name, why);
			tunnel_command(t, cmd[0] == 'u' ? TC_UP :
			    cmd[0] == 'd' ? TC_DOWN : TC_RESTART, why);
		}
		control_reply_tunnels(cl, id, names);
	} else
		control_error(cl, id, PROTOCOL_E_USAGE, "unknown command "
		    "\"%.64s\"", cmd);
out:
	json_object_put(req);
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	size_t len;
	char *line;

	while (!cl->closing) {
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			if (evbuffer_get_length(in) > PROTOCOL_MAX_LINE) {
				control_error(cl, NULL, PROTOCOL_E_USAGE,
				    "request longer than %d bytes",
				    PROTOCOL_MAX_LINE);
				cl->closing = 1;
			}
			break;
		}
		if ((size_t)p.pos > PROTOCOL_MAX_LINE) {
			control_error(cl, NULL, PROTOCOL_E_USAGE,
			    "request longer than %d bytes", PROTOCOL_MAX_LINE);
			cl->closing = 1;
			break;
		}
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL)
			break;
		cl->active = mono_now();
		if (len > 0)
			control_request(cl, line, len);
		free(line);
	}
	if (cl->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			control_client_free(cl);
	}
}

static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	if (cl->closing)
		control_client_free(cl);
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		control_client_free(arg);
}

/*
 * Full: make room by dropping the client idle the longest (events
 * subscribers are never idle), so that connections left open by someone
 * cannot lock tunnelctl out.  0 if a client was dropped.
 */
static int
control_evict(void)
{
	struct client *cl, *idle = NULL;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (!cl->events && !cl->closing &&
		    (idle == NULL || cl->active < idle->active))
			idle = cl;
	}
	if (idle == NULL)
		return -1;
	log_info("control: %u clients connected; dropping pid %ld, idle for "
	    "%.0fs", nclients, (long)idle->pid, mono_now() - idle->active);
	control_client_free(idle);
	return 0;
}

static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct client *cl;

	if (nclients >= CONTROL_MAX_CLIENTS && control_evict() != 0) {
		log_warnx("control: %u clients connected, refusing another",
		    nclients);
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof *cl);
	cl->pid = cred.pid;
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	cl->active = mono_now();
	cl->bev = bufferevent_socket_new(tunneld_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(cl->bev, control_read_cb, control_write_cb,
	    control_event_cb, cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, PROTOCOL_MAX_LINE + 2);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	nclients++;
}

static void
control_accept_error_cb(struct evconnlistener *l, void *arg)
{
	log_warnx("control: accept: %s", strerror(errno));
}

/*
 * A live daemon's socket is never taken over; a stale one (nobody answers)
 * is replaced.  The socket is created mode 0666: who may connect is decided
 * by its directory, what they may do by their credentials.
 */
int
control_init(const char *path, int activated, char **cause)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t clen = sizeof cred;
	mode_t old;
	int fd, e;
	char *dir, *slash;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "control socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (activated != -1) {	/* tunneld.socket made it: systemd owns it */
		set_nonblock(activated);
		fd = activated;
		log_info("control socket %s, from systemd", path);
		goto listen;
	}

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			xasprintf(cause, "cannot create %s: %s", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd != -1 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			xasprintf(cause, "another tunneld (pid %ld) is "
			    "listening on %s; refusing to take its socket",
			    (long)cred.pid, path);
		else
			xasprintf(cause, "another process is listening on %s; "
			    "refusing to take its socket", path);
		close(fd);
		return -1;
	}
	e = errno;
	if (fd != -1)
		close(fd);
	if (e == ECONNREFUSED) {
		log_info("control: removing stale socket %s", path);
		unlink(path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0111);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		e = errno;
		umask(old);
		xasprintf(cause, "cannot create control socket %s: %s", path,
		    strerror(e));
		if (fd != -1)
			close(fd);
		return -1;
	}
	umask(old);
	control_path = xstrdup(path);	/* ours: removed at exit */
	log_info("control socket %s", path);
listen:
	control_listener = evconnlistener_new(tunneld_base, control_accept_cb,
	    NULL, LEV_OPT_CLOSE_ON_FREE, 64, fd);
	if (control_listener == NULL) {
		xasprintf(cause, "cannot listen on %s", path);
		close(fd);
		if (control_path != NULL)
			unlink(control_path);
		free(control_path);
		control_path = NULL;
		return -1;
	}
	evconnlistener_set_error_cb(control_listener, control_accept_error_cb);
	return 0;
}

void
control_shutdown(void)
{
	struct client *cl;

	while ((cl = TAILQ_FIRST(&clients)) != NULL)
		control_client_free(cl);
	if (control_listener != NULL) {
		evconnlistener_free(control_listener);
		control_listener = NULL;
	}
	if (control_path != NULL) {
		unlink(control_path);
		free(control_path);
		control_path = NULL;
	}
}

/* Every state change goes to the subscribers, one JSON object per line. */
void
control_notify_state(const char *tunnel, enum tunnel_state old,
    enum tunnel_state new, const char *reason)
{
	struct client *cl, *next;
	json_object *o;

	if (TAILQ_EMPTY(&clients))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("state"));
	json_object_object_add(o, "time", json_object_new_int64(time(NULL)));
	json_object_object_add(o, "tunnel", json_object_new_string(tunnel));
	json_object_object_add(o, "old", json_object_new_string(
	    tunnel_state_name(old)));
	json_object_object_add(o, "new", json_object_new_string(
	    tunnel_state_name(new)));
	json_object_object_add(o, "reason", reason != NULL ?
	    json_object_new_string(reason) : NULL);
	TAILQ_FOREACH_SAFE(cl, &clients, entry, next) {
		if (cl->events)
			control_send(cl, o);
	}
	json_object_put(o);
}

/*
 * control.c - the control socket and its clients: accepting them (the
 * limits per uid, room for a privileged peer), serving their requests in
 * turn, holding the requests of one that does not read its replies, and
 * sending state events to those subscribed (doc/PROTOCOL.md).  What a
 * request line means is control_cmd.c's.  A peer is known by its
 * credentials (SO_PEERCRED), never by what its messages say.
 *
 * A client that sends an oversized line or bad JSON, or that never reads
 * its replies, loses its own connection and nothing else.  One
 * unprivileged uid holds at most CONTROL_MAX_PER_UID connections, those
 * being closed included, and a privileged peer (root, the daemon's user,
 * control_group) always gets in: by eviction when CONTROL_MAX_CLIENTS are
 * connected, through a spare descriptor when the process has none left.
 * A reply is at most PROTOCOL_MAX_OUTPUT bytes; a larger one is an error.
 * Clients are served in turn, CONTROL_BURST requests each per pass of the
 * event loop, so that one pipelining many requests delays nobody else;
 * a client's requests wait while CONTROL_OUT_PAUSE bytes of its replies
 * are unread, and one that reads none of them for CONTROL_STALL_WAIT is
 * dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "control.h"
#include "control_cmd.h"

#define CONTROL_MAX_CLIENTS	256
#define CONTROL_MAX_PER_UID	16	/* of a peer not privileged */
#define CONTROL_LOG_EVERY	10.0	/* seconds between refusal logs */
#define CONTROL_CLOSE_WAIT	5	/* seconds a closing client has to read
					   its last reply */
#define CONTROL_BURST		4	/* requests per client per pass */
#define CONTROL_OUT_PAUSE	(256 * 1024) /* unread reply bytes above
					   which requests wait */
#define CONTROL_STALL_WAIT	10	/* seconds a waiting client has to
					   read some of its replies */
#define CONTROL_SPARE_BURST	64	/* connections taken through the spare
					   descriptor per wake-up: the
					   listener's backlog */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct bufferevent	*bev;
	struct control_peer	 peer;
	int			 privileged;	/* when it connected */
	int			 events;	/* subscribed to state events */
	int			 closing;	/* close once output is flushed */
	struct event		*close_timer;	/* ... or at CONTROL_CLOSE_WAIT */
	double			 active;	/* last complete request */
	unsigned long		 serial;	/* names it to a late answer */
	int			 waiting;	/* for a reload: reads nothing */
	struct event		*more;		/* its next requests, next pass */
	int			 paused;	/* its replies are not read */
	struct event		*stall_timer;	/* ... for CONTROL_STALL_WAIT */
	size_t			 stall_left;	/* unread when it was armed */
};
static struct event_base *control_base;	/* the main thread's */
static unsigned long control_serial;
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);
static unsigned nclients;
static struct evconnlistener *control_listener;
static char *control_path;
static struct listen_pause control_pause;	/* out of descriptors */
static int control_spare = -1;	/* /dev/null: given up to accept one */
static int control_scarce;	/* accepting through the spare */

static void
control_client_free(struct client *cl)
{
	TAILQ_REMOVE(&clients, cl, entry);
	nclients--;
	bufferevent_free(cl->bev);
	if (cl->close_timer != NULL)
		event_free(cl->close_timer);
	event_free(cl->more);
	event_free(cl->stall_timer);
	free(cl);
	if (control_spare == -1)	/* a descriptor is free again */
		control_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
control_close_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	log_info("control: client uid %lu pid %ld did not read its last reply "
	    "within %ds, dropped", (unsigned long)cl->peer.uid,
	    (long)cl->peer.pid, CONTROL_CLOSE_WAIT);
	control_client_free(cl);
}

/* No more requests: the client goes once its output is flushed, or at
 * CONTROL_CLOSE_WAIT if it does not read it.  Until then it still counts
 * toward its uid's connections. */
static void
control_closing(struct client *cl)
{
	struct timeval tv = { CONTROL_CLOSE_WAIT, 0 };

	if (cl->closing)
		return;
	cl->closing = 1;
	evtimer_del(cl->more);
	evtimer_del(cl->stall_timer);
	/* the write callback now comes when all of the output is sent */
	bufferevent_setwatermark(cl->bev, EV_WRITE, 0, 0);
	cl->close_timer = evtimer_new(control_base, control_close_timeout_cb,
	    cl);
	if (cl->close_timer != NULL)
		evtimer_add(cl->close_timer, &tv);
}

/*
 * Replies are JSON in UTF-8 whatever went into them (a server's error
 * message, a file name): a byte that is not part of UTF-8 becomes '?'.
 */
static void
control_add_line(struct evbuffer *out, const char *s)
{
	size_t len = strlen(s), bad;
	char *copy;

	if ((bad = control_utf8_check((const unsigned char *)s, len)) == len) {
		evbuffer_add(out, s, len);
		evbuffer_add(out, "\n", 1);
		return;
	}
	copy = xstrdup(s);
	do {
		copy[bad] = '?';
		bad += control_utf8_check((unsigned char *)copy + bad,
		    len - bad);
	} while (bad < len);
	evbuffer_add(out, copy, len);
	evbuffer_add(out, "\n", 1);
	free(copy);
}

/*
 * A reply, or an event.  Its text is made before it is queued: one larger
 * than PROTOCOL_MAX_OUTPUT alone is replaced by a short error (its text is
 * freed with the object, by the caller); one that would take the client's
 * unread output past it means the client does not read.
 */
static void
control_send(struct client *cl, json_object *o)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	json_object *id = NULL, *e;
	const char *s;
	size_t len;

	if (cl->closing)
		return;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	if (len > PROTOCOL_MAX_OUTPUT) {
		json_object_object_get_ex(o, "id", &id);
		e = control_fail(id, PROTOCOL_E_FAILED, "reply too large: %zu "
		    "bytes, more than the %d a reply may have; ask for fewer "
		    "tunnels", len, PROTOCOL_MAX_OUTPUT);
		log_notice("control: a reply of %zu bytes to uid %lu pid %ld "
		    "replaced by an error", len, (unsigned long)cl->peer.uid,
		    (long)cl->peer.pid);
		control_send(cl, e);
		json_object_put(e);
		return;
	}
	if (evbuffer_get_length(out) + len + 1 > PROTOCOL_MAX_OUTPUT) {
		/* it does not read: it loses its connection, nobody else */
		log_info("control: client pid %ld does not read its replies, "
		    "dropped", (long)cl->peer.pid);
		control_closing(cl);
		evbuffer_drain(out, evbuffer_get_length(out));
		bufferevent_disable(cl->bev, EV_READ);
		bufferevent_trigger(cl->bev, EV_WRITE,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	control_add_line(out, s);
}

static void
control_too_long(struct client *cl)
{
	json_object *o = control_fail(NULL, PROTOCOL_E_USAGE,
	    "request longer than %d bytes", PROTOCOL_MAX_LINE);

	control_send(cl, o);
	json_object_put(o);
	control_closing(cl);
}

static void
control_request(struct client *cl, const char *line, size_t len)
{
	json_object *r;
	int flags;

	r = control_handle(&cl->peer, line, len, &flags);
	if (r == NULL)		/* answered later: control_answer() */
		return;
	control_send(cl, r);
	json_object_put(r);
	if (flags & CONTROL_SUBSCRIBE)
		cl->events = 1;
	if (flags & CONTROL_CLOSE)
		control_closing(cl);
}

/* The client whose peer p is reads nothing until control_answer(): the
 * serial that names it then; 0 if p is no client (tests/unit). */
unsigned long
control_wait(const struct control_peer *p)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (&cl->peer == p)
			break;
	}
	if (cl == NULL)
		return 0;
	cl->waiting = 1;
	bufferevent_disable(cl->bev, EV_READ);
	return cl->serial;
}

/* The answer r to the client named serial, if it is still there; it
 * reads its next requests again. */
void
control_answer(unsigned long serial, json_object *r)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (cl->serial != serial)
			continue;
		control_send(cl, r);
		cl->waiting = 0;
		if (!cl->closing) {
			bufferevent_enable(cl->bev, EV_READ);
			bufferevent_trigger(cl->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS |
			    BEV_TRIG_DEFER_CALLBACKS);
		}
		break;
	}
}

/* Its next requests in the next pass of the event loop, after the others'. */
static void
control_later(struct client *cl)
{
	static const struct timeval now = { 0, 0 };

	evtimer_add(cl->more, &now);
}

static void
control_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	struct timeval tv = { CONTROL_STALL_WAIT, 0 };
	size_t left = evbuffer_get_length(bufferevent_get_output(cl->bev));

	if (left < cl->stall_left) {	/* it reads, slowly: more time */
		cl->stall_left = left;
		evtimer_add(cl->stall_timer, &tv);
		return;
	}
	log_info("control: client uid %lu pid %ld did not read its replies "
	    "within %ds, dropped", (unsigned long)cl->peer.uid,
	    (long)cl->peer.pid, CONTROL_STALL_WAIT);
	control_client_free(cl);
}

/* Too many of its replies unread: its requests wait (control_write_cb);
 * it is dropped if it reads nothing of them for CONTROL_STALL_WAIT. */
static void
control_hold(struct client *cl)
{
	struct timeval tv = { CONTROL_STALL_WAIT, 0 };

	cl->paused = 1;
	cl->stall_left = evbuffer_get_length(bufferevent_get_output(cl->bev));
	evtimer_add(cl->stall_timer, &tv);
}

/*
 * At most CONTROL_BURST requests, then the others' turn: the rest waits
 * for the next pass (control_later) or, while the client's replies are
 * unread, for them to be read.  Its input holds a line at most
 * (the read watermark): it is not read from the socket meanwhile.
 */
static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer_ptr p;
	size_t len;
	char *line;
	int n = 0;

	while (!cl->closing && !cl->waiting && !cl->paused) {
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (p.pos == -1 ? evbuffer_get_length(in) > PROTOCOL_MAX_LINE :
		    (size_t)p.pos > PROTOCOL_MAX_LINE) {
			control_too_long(cl);
			break;
		}
		if (p.pos == -1)
			break;
		if (evbuffer_get_length(out) > CONTROL_OUT_PAUSE) {
			control_hold(cl);
			break;
		}
		if (n++ == CONTROL_BURST) {
			control_later(cl);
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
		if (evbuffer_get_length(out) == 0)
			control_client_free(cl);
	}
}

static void
control_more_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	control_read_cb(cl->bev, cl);
}

/* Output sent (closing), or down to CONTROL_OUT_PAUSE (the write
 * watermark): a waiting client's requests go on. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	if (cl->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			control_client_free(cl);
		return;
	}
	if (cl->paused) {
		cl->paused = 0;
		evtimer_del(cl->stall_timer);
		control_later(cl);
	}
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		control_client_free(arg);
}

/*
 * Full: make room by dropping one client.  An unprivileged newcomer may only
 * take the place of a client being closed, or of an unprivileged client
 * that is idle (not subscribed to events), the one idle longest.  A privileged one always gets in: it
 * takes the place of an unprivileged client, subscribed or not, before that
 * of a privileged one.  0 if a client was dropped.
 */
static int
control_evict(int privileged)
{
	struct client *cl, *victim = NULL;
	int rank, best = 0;

	TAILQ_FOREACH(cl, &clients, entry) {
		/* a closing client goes first, whoever it is */
		rank = cl->closing ? -1 : cl->privileged * 2 + cl->events;
		if (!privileged && rank > 0)
			continue;
		if (victim == NULL || rank < best ||
		    (rank == best && cl->active < victim->active)) {
			victim = cl;
			best = rank;
		}
	}
	if (victim == NULL)
		return -1;
	log_info("control: %u clients connected%s; dropping uid %lu pid %ld%s, "
	    "idle for %.0fs", nclients, control_scarce ? " and no descriptor "
	    "left" : "", (unsigned long)victim->peer.uid,
	    (long)victim->peer.pid, victim->events ? " (events)" : "",
	    mono_now() - victim->active);
	control_client_free(victim);
	return 0;
}

/* Connections held by uid, whatever their state. */
static unsigned
control_count_uid(uid_t uid)
{
	struct client *cl;
	unsigned n = 0;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (cl->peer.uid == uid)
			n++;
	}
	return n;
}

/* Tell the peer why, in one line it can read before the close, and close. */
static void
control_refuse(int fd, const struct control_peer *p, const char *msg)
{
	static double last;
	static unsigned suppressed;
	json_object *o;
	const char *s;

	o = control_fail(NULL, PROTOCOL_E_FAILED, "%s", msg);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	/* a new socket's buffer is empty: this short line fits */
	if (write(fd, s, strlen(s)) != -1 && write(fd, "\n", 1) == -1)
		log_debug("control: %s: %s", msg, strerror(errno));
	json_object_put(o);
	close(fd);
	if (mono_now() - last < CONTROL_LOG_EVERY) {
		suppressed++;
		return;
	}
	log_notice("control: uid %lu pid %ld refused: %s (%u more refused "
	    "since the last message)", (unsigned long)p->uid, (long)p->pid,
	    msg, suppressed);
	last = mono_now();
	suppressed = 0;
}

static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct control_peer p;
	struct client *cl;
	struct bufferevent *bev;
	int privileged;
	char msg[256];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
		log_warnx("control: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	p.pid = cred.pid;
	p.uid = cred.uid;
	p.gid = cred.gid;
	privileged = control_privileged(&p);
	listen_pause_ok(&control_pause);
	if (control_scarce && !privileged) {
		control_refuse(fd, &p, "tunneld is out of descriptors; only "
		    "root, the tunneld user or control_group get in");
		return;
	}
	if (!privileged && control_count_uid(p.uid) >= CONTROL_MAX_PER_UID) {
		snprintf(msg, sizeof msg, "too many connections from uid %lu "
		    "(%d at most for a user that is not root, the tunneld "
		    "user or in control_group)", (unsigned long)p.uid,
		    CONTROL_MAX_PER_UID);
		control_refuse(fd, &p, msg);
		return;
	}
	if (nclients >= CONTROL_MAX_CLIENTS && control_evict(privileged) != 0) {
		snprintf(msg, sizeof msg, "%u clients connected, the most "
		    "tunneld accepts", nclients);
		control_refuse(fd, &p, msg);
		return;
	}
	bev = bufferevent_socket_new(control_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warnx("control: no memory for a client of uid %lu pid %ld",
		    (unsigned long)p.uid, (long)p.pid);
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof *cl);
	cl->peer = p;
	cl->serial = ++control_serial;
	cl->privileged = privileged;
	cl->active = mono_now();
	cl->bev = bev;
	cl->more = evtimer_new(control_base, control_more_cb, cl);
	cl->stall_timer = evtimer_new(control_base, control_stall_cb, cl);
	if (cl->more == NULL || cl->stall_timer == NULL) {
		log_warnx("control: no memory for a client of uid %lu pid %ld",
		    (unsigned long)p.uid, (long)p.pid);
		if (cl->more != NULL)
			event_free(cl->more);
		if (cl->stall_timer != NULL)
			event_free(cl->stall_timer);
		bufferevent_free(bev);
		free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, control_read_cb, control_write_cb,
	    control_event_cb, cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, PROTOCOL_MAX_LINE + 2);
	bufferevent_setwatermark(cl->bev, EV_WRITE, CONTROL_OUT_PAUSE, 0);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	nclients++;
	if (control_scarce)	/* give a descriptor back for the spare */
		control_evict(0);
}

static void
control_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	if (control_spare == -1)
		control_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (control_listener != NULL)
		evconnlistener_enable(control_listener);
}

/*
 * accept() failed.  Out of descriptors (EMFILE, ENFILE), the spare one
 * makes room for one connection at a time: a privileged peer is served
 * (and an unprivileged client dropped to give a descriptor back), anyone
 * else is told why and closed.  Then, whatever the error, the listener
 * pauses instead of waking up at once for it again.
 */
static void
control_accept_error_cb(struct evconnlistener *l, void *arg)
{
	int e = errno, fd, i;

	for (i = 0; i < CONTROL_SPARE_BURST && control_spare != -1 &&
	    (e == EMFILE || e == ENFILE); i++) {
		close(control_spare);
		control_spare = -1;
		fd = accept4(evconnlistener_get_fd(l), NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			control_scarce = 1;
			control_accept_cb(l, fd, NULL, 0, NULL);
			control_scarce = 0;
		}
		if (control_spare == -1)
			control_spare = open("/dev/null", O_RDONLY |
			    O_CLOEXEC);
		if (fd == -1)
			break;
	}
	evconnlistener_disable(l);
	listen_pause_start(&control_pause, "control: accept", strerror(e));
}

/*
 * A live daemon's socket is never taken over; a stale one (nobody answers)
 * is replaced.  The socket is created mode 0666: who may connect is decided
 * by its directory, what they may do by their credentials.
 */
int
control_init(struct event_base *base, struct config *const *conf,
    const char *path, int activated, char **cause)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t clen = sizeof cred;
	mode_t old;
	int fd, e;
	char *dir, *slash;

	control_base = base;
	control_cmd_init(conf);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "control socket path %s is too long", path);
		return -1;
	}
	bstrcpy(sun.sun_path, path, sizeof sun.sun_path);	/* checked above */
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
	control_listener = evconnlistener_new(control_base, control_accept_cb,
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
	listen_pause_init(&control_pause, control_base, control_resume_cb,
	    NULL);
	if (control_spare == -1)
		control_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

void
control_shutdown(void)
{
	struct client *cl, *next;

	TAILQ_FOREACH_SAFE(cl, &clients, entry, next)
		control_client_free(cl);
	if (control_listener != NULL) {
		evconnlistener_free(control_listener);
		control_listener = NULL;
	}
	listen_pause_clear(&control_pause);
	if (control_spare != -1)
		close(control_spare);
	control_spare = -1;
	if (control_path != NULL) {
		unlink(control_path);
		free(control_path);
		control_path = NULL;
	}
}

/* Clients connected now (metrics.c). */
unsigned
control_clients(void)
{
	return nclients;
}

/* Every state change goes to the subscribers, one JSON object per line
 * (a tunnel_observer). */
void
control_tunnel_changed(const struct tunnel_transition *tr, void *arg)
{
	const char *tunnel = tr->name, *reason = tr->reason;
	const char *server = tr->server;
	enum tunnel_state old = tr->old, new = tr->new;
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
	json_object_object_add(o, "server", server != NULL ?
	    json_object_new_string(server) : NULL);
	TAILQ_FOREACH_SAFE(cl, &clients, entry, next) {
		if (cl->events)
			control_send(cl, o);
	}
	json_object_put(o);
}

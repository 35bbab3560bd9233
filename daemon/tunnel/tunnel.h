/*
 * tunnel/tunnel.h - tunnels and their forwards: the state machine, the
 * set-up slots, the pool of sessions, the forwards of each kind, and the
 * set of tunnels following a configuration (reload).  Above the transport
 * and the configuration; what happens here reaches the layers above
 * through observers (tunnel_observe(), reload_observe()).
 *   tunnel.c          the per-tunnel state machine (SPEC.md's states)
 *   tunnel_setup.c    sessions in set-up to one server, over all workers
 *   tunnel_ssh.c      a tunnel's session parameters from tunneld.conf;
 *                     the callbacks of every session of its pool
 *   tunnel_sessions.c the pool: all of a tunnel's sessions; which one a
 *                     new connection goes on; the connections waiting
 *   forward.c         a forward's state and its local listeners
 *   forward_local.c   -L: accept, open direct-tcpip
 *   forward_dynamic.c -D: accept, SOCKS, open direct-tcpip
 *   forward_remote.c  -R and reverse dynamic: the server's listeners
 *   probe.c           -R: the probe that the listener reaches us
 *   reload.c          a new configuration applied by difference
 */
#ifndef TUNNELD_TUNNEL_H
#define TUNNELD_TUNNEL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "base/base.h"
#include "ssh/ssh.h"
#include "config/conf.h"

struct tunnel;
struct setup_server;
struct forward;

/* tunnel.c, tunnel_setup.c */
enum tunnel_state { TS_DOWN, TS_CONNECTING, TS_UP, TS_DEGRADED, TS_BACKOFF,
	TS_FAILED };
enum tunnel_event {
	TE_UP,		/* wanted: tunnelctl up, autostart, reload */
	TE_DOWN,	/* not wanted: tunnelctl down, reload, shutdown */
	TE_RESTART,	/* restart needed: tunnelctl restart (down, then up) */
	TE_SLOT,	/* a set-up slot for its server: the session starts */
	TE_SESSION_UP,	/* authenticated: the forwards are set up */
	TE_LOST,	/* session lost, retrying may help: backoff */
	TE_LOST_AUTH,	/* ... the server refused us: backoff, slowly */
	TE_LOST_FATAL,	/* ... retrying cannot help (host key, key file) */
	TE_FWD_UP,	/* a forward changed: every one is up */
	TE_FWD_PENDING,	/* ... answers to remote forwards still awaited */
	TE_FWD_FAILED,	/* ... at least one could not be established */
	TE_RETRY	/* the retry timer fired */
};
enum tunnel_command { TC_UP, TC_DOWN, TC_RESTART };
/* enum session_error, the class of a lost session: ssh/ssh.h */
#define STABLE_PERIOD		10	/* seconds up that reset the backoff */
#define AUTH_RETRY_MIN		60	/* seconds: refused keys are retried
					   slowly */
#define SETUP_PER_SERVER	8	/* sessions in set-up to one server at
					   once, over all workers: sshd's
					   default MaxStartups refuses beyond
					   10, and it counts a session a
					   little longer than we do */
/* tunnel_sessions.c: what a tunnel's pool of sessions did (status "pool"):
 * extras started (all for queued opens), closed by why */
enum pool_close { PC_IDLE, PC_LOST, PC_SETUP_FAILED, PC_SESSIONS, PC_TUNNEL,
	PC_OPEN_TIMEOUT, PC_COUNT };
struct pool_counts {
	uint64_t		 started;
	uint64_t		 closed[PC_COUNT];
	double			 setup_avg;	/* seconds a set-up takes (EWMA) */
};

/*
 * Threads: the list, name, id and worker belong to the main thread (set
 * at creation; the list changes under tunnels_lock).  conf changes only in
 * a job the main thread waits for, so the main thread may read it.  pub_*
 * is the main thread's copy of what the worker last posted, so that it
 * can answer for a tunnel whose worker is busy.  setup_state changes
 * under tunnel_setup.c's lock.  Everything else belongs to the tunnel's
 * worker.
 */
struct tunnel {
	TAILQ_ENTRY(tunnel)	 entry;
	char			*name;
	uint64_t		 id;
	struct worker		*worker;
	enum tunnel_state	 pub_state;
	time_t			 pub_since;
	time_t			 pub_next_retry;
	unsigned		 pub_reconnects;
	char			*pub_last_error;
	char			*pub_server;	/* "host:port" */
	json_object		*pub_status;	/* the last status read */
	uint64_t		 hook_runs;	/* on_state: the main thread's */
	uint64_t		 hook_failures;	/* (proc/hook.c) */
	struct tunnel_conf	*conf;
	enum tunnel_state	 state;
	time_t			 since;
	unsigned		 reconnects;
	unsigned		 attempts;	/* consecutive failed attempts */
	double			 up_at;		/* when the session came up */
	char			*last_error;
	time_t			 next_retry;
	double			 retry_delay;	/* armed on entering backoff */
	size_t			 server;	/* of conf->servers: in use */
	struct sockaddr_storage	 peer;		/* its last session's server */
	size_t			 round;		/* servers tried in this round */
	int			 replace;	/* lost to a network change */
	struct session		*session;	/* its own: the pool's first */
	struct setup_server	**setup;	/* its servers, while connecting: */
	size_t			 nsetup;	/* jump hosts and target, sorted */
	size_t			 setup_got;	/* slots held: setup[0..got-1] */
	struct setup_server	*setup_at;	/* whose list setup_entry is on */
	int			 setup_state;	/* SETUP_* in tunnel_setup.c */
	TAILQ_ENTRY(tunnel)	 setup_entry;
	struct event		*ev_begin;	/* the session starts from here */
	struct event		*retry_timer;
	struct forward		**fwds;
	size_t			 nfwds;
	unsigned		 fwd_batch;	/* forwards changing together */
	struct tunnel_pool	*pool;		/* its sessions and the
						   connections waiting for
						   one, or NULL */
	struct pool_counts	 pool_counts;
	uint64_t		 refused;	/* connections over a budget */
	struct ratelimit	*ratelimit;	/* rate_limit: of every session */
};
TAILQ_HEAD(tunnels, tunnel);
extern struct tunnels	 tunnels;

/*
 * What the layers above hear of the tunnels: observers registered by the
 * main thread at start-up, called on the main thread in the order they
 * were registered.
 */
#define OBSERVERS_MAX		8
struct tunnel_transition {
	const char		*name;
	enum tunnel_state	 old, new;
	const char		*reason;
	const char		*server;	/* "host:port", or NULL */
};
typedef void	 tunnel_observer(const struct tunnel_transition *, void *);
void		 tunnel_observe(tunnel_observer *, void *);
const char	*tunnel_state_name(enum tunnel_state);
const char	*tunnel_event_name(enum tunnel_event);
int		 tunnel_fsm_next(enum tunnel_state, enum tunnel_event,
		    enum tunnel_state *);
double		 tunnel_backoff(const struct tunnel_conf *, unsigned attempts,
		    enum session_error);
/* main thread */
struct tunnel	*tunnel_create(struct tunnel_conf *);
int		 tunnel_destroy(struct tunnel *);
struct tunnel	*tunnel_find(const char *);
void		 tunnel_command(struct tunnel *, enum tunnel_command,
		    const char *why);
/* the tunnel's worker */
void		 tunnel_fsm(struct tunnel *, enum tunnel_event, const char *);
struct event_base *tunnel_base(struct tunnel *);
void		 tunnel_start(struct tunnel *, const char *why);
void		 tunnel_stop(struct tunnel *, const char *why);
void		 tunnel_forward_changed(struct tunnel *);
void		 tunnel_forwards_batch_begin(struct tunnel *);
void		 tunnel_forwards_batch_end(struct tunnel *);
void		 tunnel_session_up(struct tunnel *);
void		 tunnel_session_lost(struct tunnel *, enum session_error,
		    const char *);
void		 tunnel_session_replace(struct tunnel *, const char *why);
void		 tunnel_foreach_here(void (*)(struct tunnel *, void *), void *);
const char	*tunnel_server_host(struct tunnel *);
int		 tunnel_server_port(struct tunnel *);
char		*tunnel_server_string(struct tunnel *);
int		 tunnel_setup_enter(struct tunnel *);
void		 tunnel_setup_leave(struct tunnel *);
int		 tunnel_setup_queued(struct tunnel *);
struct setup_slots;
struct setup_slots *tunnel_setup_extra(struct tunnel *);
void		 tunnel_setup_extra_done(struct setup_slots *);

/* tunnel.c: a reload's two steps on the tunnel's worker (reload.c); the
 * tunnel's conf and forwards change only here */
struct tunnel_reconf {
	unsigned		 needs;		/* tunnel_conf_reload_needs() */
	const char		*why;
	struct forward		**kept;		/* new order; NULL: a new one */
	size_t			 nkept;
	int			 start;		/* restarted: it was wanted */
};
void		 tunnel_reconf_release(struct tunnel *,
		    const struct tunnel_conf *, struct tunnel_reconf *);
void		 tunnel_reconf_acquire(struct tunnel *, struct tunnel_conf *,
		    struct tunnel_reconf *);
void		 tunnel_reconf_clear(struct tunnel_reconf *);

/* the log, with the journal's fields (tunnel.c) */
void		 log_tunnel(struct tunnel *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 log_forward(struct forward *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* tunnel_ssh.c: the parameters of a tunnel's sessions, and the one table
 * of callbacks through which each of its pool's sessions reports */
struct pool_member;
void		 tunnel_ssh_conf_params(const struct tunnel_conf *,
		    struct session_params *);
struct session	*tunnel_ssh_session(struct tunnel *, struct pool_member *,
		    const char *name);
void		 tunnel_ssh_reconf(struct tunnel *);
void		 tunnel_ssh_set_params(struct tunnel *, struct session *,
		    const char *name);

/* tunnel_sessions.c: the pool of a tunnel's sessions (its own and, with
 * sessions = N, extra ones) and the queue of connections waiting for one */
void		 tunnel_sessions_own_start(struct tunnel *);
void		 tunnel_sessions_own_up(struct tunnel *);
void		 tunnel_sessions_clear(struct tunnel *);
struct tunnel	*tunnel_sessions_tunnel(struct pool_member *);
struct session	*tunnel_sessions_session(struct pool_member *);
int		 tunnel_sessions_is_own(struct pool_member *);
void		 tunnel_sessions_extra_up(struct pool_member *);
void		 tunnel_sessions_extra_lost(struct pool_member *,
		    enum session_error, const char *);
void		 tunnel_sessions_accept(struct forward *, int fd,
		    const char *host, int port);
void		 tunnel_sessions_serve_waiting(struct forward *);
void		 tunnel_sessions_unwait(struct forward *);
struct session	*tunnel_sessions_pick_open(struct tunnel *, struct forward *);
void		 tunnel_sessions_reconf(struct tunnel *);
void		 tunnel_sessions_rearm(struct tunnel *);
void		 tunnel_sessions_forget(struct tunnel *, struct forward *);
unsigned	 tunnel_sessions_held(struct tunnel *, const struct forward *);
json_object	*tunnel_sessions_status(struct tunnel *);
json_object	*tunnel_sessions_pool_status(struct tunnel *);
void		 tunnel_session_transport(json_object *, struct session *);

/* forward.c, forward_local.c, forward_dynamic.c, forward_remote.c */
/* a new forward is pending (zero) */
enum forward_state { FS_PENDING, FS_UP, FS_FAILED };
#define FORWARD_RETRY_MAX	30	/* seconds between retries of a forward */
struct forward {
	struct tunnel		*tunnel;
	const struct fwdspec	*spec;
	enum forward_state	 state;
	char			*listen_str;	/* what is actually listening */
	char			*last_error;
	struct channel_counters	 counters;	/* of its channels */
	int			*lfds;
	struct event		**levs;
	size_t			 nlfds;
	struct listen_pause	 pause;		/* out of descriptors */
	uint64_t		 refused;	/* connections over a budget */
	unsigned		 nwaiters;	/* in its tunnel's queue,
						   waiting for a session */
	/* remote kinds: the server's listener */
	int			 requested;	/* tcpip-forward in flight */
	int			 granted_before; /* by an earlier session */
	unsigned		 retries;
	struct event		*retry_timer;
	int			 listening;	/* the server granted it */
	int			 bound_port;
	char			*server_note;	/* the server's debug message */
	struct forward_probe	*probe;		/* probe.c: probe_interval */
};
struct forward	*forward_new(struct tunnel *, const struct fwdspec *);
void		 forward_free(struct forward *);
int		 forward_start(struct forward *);
void		 forward_stop(struct forward *);
const char	*forward_state_name(enum forward_state);
void		 forward_set_state(struct forward *, enum forward_state,
		    const char *why);
void		 forward_set_error(struct forward *, const char *);
void		 forward_fail(struct forward *, const char *);
const char	*forward_over_budget(struct forward *);
void		 forward_refused(struct forward *, const char *host, int port,
		    const char *why);
void		 forward_session_up(struct forward *);
int		 forward_is_remote(const struct forward *);
void		 forward_serve(struct forward *, struct session *, int fd,
		    const char *host, int port);
void		 forward_local_accepted(struct forward *, struct session *,
		    int fd, const char *host, int port);
void		 forward_dynamic_accepted(struct forward *, struct session *,
		    int fd, const char *host, int port);
void		 forward_dynamic_request(struct forward *, struct session *,
		    struct channel *, const char *host, int port);
void		 forward_remote_request(struct forward *);
void		 forward_remote_listened(struct forward *, int port,
		    const char *error, const char *server_note);
void		 forward_remote_accept(struct forward *, struct channel *);
void		 forward_remote_sniffed(struct forward *, struct channel *);
void		 forward_remote_dynamic_request(struct forward *,
		    struct channel *, const char *host, int port);
void		 forward_remote_session_lost(struct forward *);
void		 forward_remote_gateway_known(struct tunnel *);
const char	*forward_remote_bind(const struct forward *);

/* probe.c: the end-to-end probe of a remote forward (probe_interval) */
struct forward_probe;
void		 forward_probe_start(struct forward *);
void		 forward_probe_stop(struct forward *);
int		 forward_probe_failed(struct forward *, double since);
void		 forward_probe_forget(struct forward *);
int		 forward_probe_proven(struct forward *, double since);
void		 forward_probe_rearm(struct forward *);
void		 forward_probe_free(struct forward *);
int		 forward_probe_sniff(struct forward *, struct channel *);
int		 forward_probe_sniffed(struct forward *, struct channel *);
void		 forward_probe_status(struct forward *, json_object *);

/* reload.c: the configuration in force is main.c's; reload is its only
 * writer, and says what it did to its observers. */
enum reload_event {
	RELOAD_BEGIN,		/* a new file is being read */
	RELOAD_REFUSED,		/* it had errors: the old one stays */
	RELOAD_APPLIED		/* old is replaced by new */
};
typedef void	 reload_observer(enum reload_event, const struct config *old,
		    const struct config *new, void *);
void		 reload_init(struct config **in_force);
void		 reload_observe(reload_observer *, void *);
json_object	*reload_config(const char *by);
typedef void	 reload_done_cb(json_object *, void *);
void		 reload_request(const char *by, reload_done_cb *, void *);


#endif

/*
 * tunneld.h - the daemon's private header.
 *
 * Architecture, one file per concept:
 *   main.c           options, signals, start-up and shutdown
 *   log.c            leveled logging to stderr
 *   fwdspec.c        OpenSSH forward syntax (-L/-R/-D arguments)
 *   config.c         tunneld.conf: read, validate, defaults
 *   config_keywords.c every setting, defined once: name, type, range,
 *                    default, where it lives, what a reload needs
 *   config_print.c   the effective configuration (--print-config)
 *   ssh_config.c     ssh_config = true: host resolved as an ssh_config
 *                    alias by ssh -G, and where each value came from
 *   reload.c         reload by difference (SIGHUP, tunnelctl reload)
 *   worker.c         the threads that carry the tunnels; calls between
 *                    them and the main thread
 *   tunnel.c         the per-tunnel state machine (SPEC.md states)
 *   tunnel_ssh.c     a tunnel's use of the transport: its session's
 *                    parameters from tunneld.conf, and the callbacks
 *                    through which the session reports (up, lost, a
 *                    listener granted, a channel forwarded, SOCKS requests)
 *   tunnel_sessions.c a tunnel's extra sessions (sessions = N): started when
 *                    opens queue, closed when idle; which session a new
 *                    connection goes on
 *   forward.c        a forward's run-time state and its local listeners
 *   forward_local.c  local (-L) forwards: accept, open direct-tcpip
 *   forward_dynamic.c dynamic (-D) forwards: accept, SOCKS, open direct-tcpip
 *   forward_remote.c remote (-R) and reverse dynamic forwards: tcpip-forward
 *                    on the server, forwarded channels connected from here
 *   socks.c          the SOCKS4/4a/5 protocol (parser and replies)
 *   hostkey.c        host key verification (known_hosts, pinned fingerprint)
 *   identity.c       private key loading and checks (with its passphrase);
 *                    the ssh-agent's socket, and its probe for the check
 *   file.c           reading the files a configuration names without
 *                    blocking a worker (regular files of bounded size);
 *                    secrets (key, passphrase, password) in memory left
 *                    out of core dumps
 *   control.c        the control socket and its JSON protocol
 *   status.c         tunnel and forward state as JSON
 *   notify.c         systemd: readiness, status line, watchdog, activation
 *   check.c          tunneld -n --deep: identities, known_hosts and local
 *                    ports checked as the user who runs it
 *   metrics.c        the Prometheus text of the status: GET /metrics on
 *                    metrics_listen (evhttp), and tunnelctl metrics
 *   netwatch.c       the network changed (rtnetlink), the machine resumed:
 *                    sessions replaced or probed at once
 *   budget.c         descriptors: the soft limit raised, a reserve kept
 *                    from forwarded connections, listeners that pause
 *                    when out of descriptors
 *
 * The SSH transport, ssh/ (ssh/ssh.h): below tunnels and forwards, which
 * it knows nothing of.  Its files are the only ones that include libssh2.h,
 * with hostkey.c - a follow-up: it moves under ssh/ once it takes
 * session_params instead of a tunnel_conf (identity.c too).
 *   ssh/session.c    one libssh2 session on one event base: connect, handshake,
 *                    authentication, teardown; the owner's parameters and
 *                    callbacks
 *   ssh/session_lib.c libssh2 itself: the library, a session object's memory
 *                    (every block on a list) and its freeing, whatever
 *                    libssh2 says
 *   ssh/session_algs.c the algorithms: what the linked libssh2 offers, the
 *                    checks of tunneld.conf's lists, the defaults, what a
 *                    session negotiated
 *   ssh/session_pump.c driving an established session: the call latch, the
 *                    pump over all channels, the open queue, the input path,
 *                    the queue of upward calls delivered after the pump
 *   ssh/session_keepalive.c the round trips that tell a live server from a
 *                    dead one
 *   ssh/channel.c    one forwarded connection: a socket bridged to an SSH
 *                    channel
 *   ssh/window.c     a busy channel's receive window grown for the path,
 *                    within a per-session and a daemon-wide budget
 *   ssh/connect.c    non-blocking outbound connects (evdns, TCP with happy
 *                    eyeballs, UNIX)
 *   ssh/hop.c        jump hosts: a session run in a direct-tcpip channel of
 *                    a session to the hop before it (over a socketpair)
 *   ssh/auth.c       user authentication: the server's methods, then agent
 *                    keys, the key file, the password
 *   ssh/agent.c      the ssh-agent protocol on a non-blocking socket (no
 *                    libssh2: identity.c's probe uses it too)
 *   ssh/proxy.c      through an upstream proxy: HTTP CONNECT, SOCKS5
 */
#ifndef TUNNELD_H
#define TUNNELD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/dns.h>
#include <json-c/json.h>

#include "util.h"
#include "ssh/ssh.h"

/* Arm a libevent timer (or re-arm a persistent one) for secs seconds. */
static inline void
timer_add_secs(struct event *ev, double secs)
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	event_add(ev, &tv);
}

struct tunnel;
struct setup_server;
struct worker;
struct forward;

/* log.c */
enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_NOTICE, LOG_LVL_INFO,
	LOG_LVL_DEBUG };
void	 log_init(int level);
void	 log_set_level(int level);
#define LOG_RATE_INTERVAL	10	/* seconds: log_rate_limit's interval */
void	 log_set_rate_limit(int);
void	 log_rate_flush(void);
int	 log_get_level(void);
int	 log_level_parse(const char *);
void	 log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...)	 log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warnx(...)	 log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...)	 log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)	 log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	 log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* budget.c */
struct listen_pause {
	struct event	*timer;		/* resumes the listener */
	double		 delay;		/* of the next pause */
	double		 last_log;
	unsigned	 paused;	/* pauses since the last message */
};
void	 budget_init(void);
int	 budget_fd_limit(void);
int	 budget_fd_reserve(void);
int	 budget_fd_over(int);
int	 budget_fd_room(void);
int	 budget_accept_exhausted(int);
void	 listen_pause_init(struct listen_pause *, struct event_base *,
	    void (*)(evutil_socket_t, short, void *), void *);
void	 listen_pause_clear(struct listen_pause *);
void	 listen_pause_start(struct listen_pause *, const char *who,
	    const char *why);
void	 listen_pause_ok(struct listen_pause *);
int	 listen_pause_pending(const struct listen_pause *);

/* fwdspec.c */
enum fwd_kind { FWD_LOCAL, FWD_REMOTE, FWD_DYNAMIC, FWD_REMOTE_DYNAMIC };
struct fwd_addr {
	char	*host;	/* NULL: default (loopback); "" or "*": all addresses */
	int	 port;	/* -1 when path is set */
	char	*path;	/* UNIX socket path, or NULL */
};
struct fwdspec {
	enum fwd_kind	 kind;
	char		*spec;		/* as written by the user */
	struct fwd_addr	 listen;
	struct fwd_addr	 connect;	/* unused for dynamic kinds */
	char		*file;		/* where it was written, for messages */
	int		 line;
};
int		 fwdspec_parse(const char *list, const char *, struct fwdspec *,
		    char **cause);
void		 fwdspec_clear(struct fwdspec *);
const char	*fwdspec_kind_name(enum fwd_kind);
int		 fwdspec_bind_is_wildcard(const char *);
int		 fwdspec_listen_conflict(const struct fwdspec *,
		    const struct fwdspec *);
char		*fwdspec_listen_string(const struct fwd_addr *);
struct permit {			/* one permit_remote_open entry */
	char	*host;		/* "*": any host */
	int	 port;		/* -1: any port */
};
int		 permit_parse(const char *, struct permit *, char **cause);
int		 permit_match(const struct permit *, size_t, const char *host,
		    int port);

/* config.c; the settings are defined in config_keywords.c */
enum host_key_check { HKC_YES, HKC_ACCEPT_NEW };
struct server {			/* an entry of host */
	char	*host;
	int	 port;		/* 0: the tunnel's port */
};
struct tunnel_conf {
	char			*name;
	char			*file;
	int			 line;
	char			*host;		/* the first server's name */
	struct server		*servers;	/* host: tried in order */
	size_t			 nservers;
	int			 port;
	char			*user;
	char			*identity_file;	/* NULL: ~/.ssh/id_ed25519, id_ecdsa */
	char			*known_hosts;	/* NULL: ~/.ssh/known_hosts + system */
	char			*identity_agent; /* socket path, "SSH_AUTH_SOCK" */
	char			*passphrase_file; /* identity_file's */
	char			*password_file;	/* password auth, the last resort */
	char			*host_key;	/* "SHA256:..." or NULL */
	char			*jump;		/* ProxyJump list, or NULL */
	enum host_key_check	 strict;
	char			*ciphers;	/* algorithm lists; the default */
	char			*macs;		/* filled in, NULL if none */
	char			*kex_algorithms;
	char			*host_key_algorithms;	/* NULL: known_hosts' */
	int			 autostart;
	double			 keepalive_interval;
	int			 keepalive_count;
	double			 connect_timeout;
	double			 channel_stall_timeout;	/* 0: none */
	double			 reconnect_min;
	double			 reconnect_max;
	struct fwdspec		*fwds;
	size_t			 nfwds;
	int			 sessions;	/* SSH sessions at most */
	double			 sessions_idle;	/* an extra one closes */
	int			 permit_any;	/* permit_remote_open */
	struct permit		*permits;
	size_t			 npermits;
	int			 window_budget;	/* MiB (ssh/window.c) */
	int			 max_connections;	/* of the tunnel */
	int			 max_forward_connections; /* of each forward */
	char			*proxy;		/* "http://h:p", "socks5://h:p" */
	int			 ssh_config;	/* host is an ssh_config alias */
	char			*ssh_config_file; /* ssh -F; NULL: ssh's own */
	struct ssh_resolved	*resolved;	/* what ssh -G said (ssh_config.c) */
};
struct config {
	char			*file;
	char			*control_socket;
	char			*control_group;
	int			 log_level;	/* LOG_LVL_* */
	char			*include_dir;
	unsigned		 workers;	/* threads; 0: one per CPU */
	char			*metrics_listen;	/* "ADDRESS:PORT" or NULL */
	int			 window_budget_total;	/* MiB */
	int			 log_rate_limit;	/* lines per message key */
	struct tunnel_conf	**tunnels;
	size_t			 ntunnels;
};
struct errlist {
	char	**v;
	size_t	  n;
};
struct config	*config_load(const char *path, struct errlist *);
void		 config_free(struct config *);
struct tunnel_conf *config_find(struct config *, const char *);
int		 fwdspec_same(const struct fwdspec *, const struct fwdspec *);
void		 config_print(FILE *, const struct config *);
void		 errlist_add(struct errlist *, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 errlist_clear(struct errlist *);
/* config_hosts.c */
const char	*config_server_host(const struct tunnel_conf *, size_t);
int		 config_server_port(const struct tunnel_conf *, size_t);
char		*config_server_string(const char *host, int port);

/* worker.c */
#define WORKERS_MAX	64
#define WORKER_WAIT	1.5	/* seconds the main thread waits for a worker */
extern struct worker	*worker_main;
int		 worker_threads_enable(void);
int		 worker_init(struct event_base *, unsigned, char **cause);
unsigned	 worker_shutdown(void);
int		 worker_call(struct worker *, void (*)(void *), void *);
int		 worker_send(struct worker *, void (*)(void *), void *);
unsigned	 worker_call_all(void (*)(void *), void *);
void		 worker_post(struct worker *, void (*)(void *), void *);
int		 worker_ping_all(void);
int		 worker_busy(struct worker *);
struct worker	*worker_pick(void);
void		 worker_unpick(struct worker *);
struct worker	*worker_self(void);
struct event_base *worker_base(struct worker *);
struct evdns_base *worker_dns(struct worker *);
void		 worker_dns_check(struct worker *);
struct worker	*worker_at(unsigned);
unsigned	 worker_id(struct worker *);
unsigned	 worker_count(void);

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
/* tunnel_sessions.c: what a tunnel's pool of extra sessions did (status
 * "pool"): extras started (all for queued opens), closed by why */
enum pool_close { PC_IDLE, PC_LOST, PC_SETUP_FAILED, PC_SESSIONS, PC_TUNNEL,
	PC_OPEN_TIMEOUT, PC_COUNT };
struct pool_counts {
	uint64_t		 started;
	uint64_t		 closed[PC_COUNT];
	double			 setup_avg;	/* seconds a set-up takes (EWMA) */
	double			 own_t0;	/* the tunnel's session started */
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
	struct session		*session;
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
	struct tunnel_pool	*pool;		/* its extra sessions, or NULL */
	struct pool_counts	 pool_counts;
	uint64_t		 refused;	/* connections over a budget */
};
TAILQ_HEAD(tunnels, tunnel);
extern struct tunnels	 tunnels;
extern struct event_base *tunneld_base;		/* the main thread's */
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
/* any thread */
int		 tunnel_known(const char *);
/* the tunnel's worker */
void		 tunnel_fsm(struct tunnel *, enum tunnel_event, const char *);
struct event_base *tunnel_base(struct tunnel *);
void		 tunnel_start(struct tunnel *, const char *why);
void		 tunnel_stop(struct tunnel *, const char *why);
void		 tunnel_forward_changed(struct tunnel *);
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

/* tunnel_ssh.c */
struct session	*tunnel_ssh_session(struct tunnel *);
void		 tunnel_ssh_reconf(struct tunnel *);
struct session	*tunnel_ssh_extra(struct tunnel *, const char *name,
		    const struct session_ops *, void *arg);
void		 tunnel_ssh_extra_reconf(struct tunnel *, struct session *,
		    const char *name);

/* tunnel_sessions.c: the extra sessions of a tunnel (sessions = N) */
#define SESSIONS_MAX	32
struct session	*tunnel_sessions_pick_open(struct tunnel *, struct forward *);
struct session	*tunnel_sessions_pick(struct tunnel *, struct forward *,
		    int fd, const char *host, int port);
void		 tunnel_sessions_clear(struct tunnel *);
void		 tunnel_sessions_reconf(struct tunnel *);
void		 tunnel_sessions_rearm(struct tunnel *);
void		 tunnel_sessions_forget(struct tunnel *, struct forward *);
unsigned	 tunnel_sessions_held(struct tunnel *, const struct forward *);
json_object	*tunnel_sessions_status(struct tunnel *);
json_object	*tunnel_sessions_pool_status(struct tunnel *);
void		 tunnel_sessions_own_begin(struct tunnel *);
void		 tunnel_sessions_own_up(struct tunnel *);

/* hostkey.c */
struct hostkey_plan {
	char	*method_pref;	/* LIBSSH2_METHOD_HOSTKEY order, or NULL */
};
struct _LIBSSH2_SESSION;	/* LIBSSH2_SESSION, of the transport's */
int	 hostkey_plan(struct _LIBSSH2_SESSION *, const struct tunnel_conf *,
	    struct hostkey_plan *, char **cause);
int	 hostkey_verify(struct _LIBSSH2_SESSION *, const struct tunnel_conf *,
	    char **cause);
char	*hostkey_fingerprint(struct _LIBSSH2_SESSION *);
size_t	 base64_encode(const unsigned char *, size_t, char *, size_t, int pad);
ssize_t	 base64_decode(const char *, size_t, unsigned char *, size_t);

/* file.c */
struct stat;
#define FILE_NOFOLLOW	0x1	/* a symbolic link is refused */
#define FILE_TRUST	0x2	/* file_trust(), and on the descriptor */
#define TUNNELD_SERVICE_USER	"tunneld"	/* the system unit's User= */
void	 file_trust_init(int system_mode);
int	 file_trust(const char *, const char *, char **cause);
const char	*file_kind(mode_t);
int	 file_open(const char *, const char *, off_t, int, struct stat *,
	    char **cause);
int	 file_read_fd(int, const char *, const char *, char *, size_t,
	    char **cause);
int	 file_read(const char *, const char *, off_t, int, char **, size_t *,
	    struct stat *, char **cause);
void	*secret_alloc(size_t);
void	 secret_free(void *);
int	 file_read_secret(const char *, const char *, off_t, char **, size_t *,
	    char **cause);
int	 file_read_password(const char *, const char *, char **, size_t *,
	    char **cause);

/* identity.c */
struct identity {
	char	*path;		/* NULL: none (an agent or a password will do) */
	char	*data;		/* the private key file (secret_alloc) */
	size_t	 len;
	char	*type;		/* "ssh-ed25519", "ecdsa-sha2-nistp256", ... */
	int	 encrypted;	/* protected by a passphrase ... */
	char	*passphrase;	/* ... this one, from passphrase_file */
	size_t	 passlen;
};
int	 identity_load(const struct tunnel_conf *, struct identity *,
	    char **cause);
void	 identity_clear(struct identity *);
int	 identity_agent_path(const struct tunnel_conf *, char **path,
	    char **cause);
int	 identity_agent_probe(const struct tunnel_conf *, char **cause);

/* socks.c */
#define SOCKS5_OK		0x00
#define SOCKS5_GENERAL		0x01
#define SOCKS5_NOT_ALLOWED	0x02
#define SOCKS5_NET_UNREACH	0x03
#define SOCKS5_HOST_UNREACH	0x04
#define SOCKS5_REFUSED		0x05
#define SOCKS5_BAD_COMMAND	0x07
#define SOCKS5_BAD_ATYP		0x08
enum { SOCKS_MORE, SOCKS_REPLY, SOCKS_REQUEST, SOCKS_ERROR };
struct socks {
	int		 stage;		/* 0: first message; 1: SOCKS5 request */
	int		 version;	/* 4 (also 4a) or 5 */
	struct {
		char	 host[256];
		int	 port;
	}		 req;
	unsigned char	 out[16];	/* what to answer */
	size_t		 outlen;
};
int		 socks_input(struct socks *, const unsigned char *, size_t,
		    size_t *used, const char **why);
void		 socks_reply(struct socks *, int code);
int		 socks_code_for_open_error(const char *);
int		 socks_code_for_errno(int);
const char	*socks_code_name(int);

/* forward.c, forward_local.c, forward_dynamic.c, forward_remote.c */
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
	TAILQ_HEAD(, forward_waiter) waiters;	/* for the session */
	unsigned		 nwaiters;
	/* remote kinds: the server's listener */
	int			 requested;	/* tcpip-forward in flight */
	int			 granted_before; /* by an earlier session */
	unsigned		 retries;
	struct event		*retry_timer;
	int			 listening;	/* the server granted it */
	int			 bound_port;
	char			*server_note;	/* the server's debug message */
};
struct forward	*forward_new(struct tunnel *, const struct fwdspec *);
void		 forward_free(struct forward *);
int		 forward_start(struct forward *);
void		 forward_stop(struct forward *);
const char	*forward_state_name(enum forward_state);
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
void		 forward_remote_dynamic_request(struct forward *,
		    struct channel *, const char *host, int port);
void		 forward_remote_session_lost(struct forward *);
void		 forward_remote_gateway_known(struct tunnel *);

/* reload.c */
extern struct config	*tunneld_conf;
extern int		 tunneld_log_level_fixed;
extern const char	*tunneld_socket_path;
json_object	*reload_config(const char *by);
typedef void	 reload_done_cb(json_object *, void *);
void		 reload_request(const char *by, reload_done_cb *, void *);

/* notify.c */
void		 notify_init(void);
void		 notify_ready(void);
void		 notify_status(void);
void		 notify_reloading(void);
void		 notify_stopping(void);
void		 notify_shutdown(void);
int		 notify_listen_fd(void);

/* netwatch.c */
#define NETWATCH_RESUME_MIN	2.0	/* seconds asleep that count */
struct netwatch_clock {
	int	 known;
	double	 offset;	/* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
};
struct netwatch_addr {
	int		 family;	/* AF_INET, AF_INET6; 0: none */
	unsigned char	 a[16];
};
struct netwatch_prefix {		/* a route's destination */
	struct netwatch_addr	 dst;
	int			 len;	/* 0: a default route */
	int			 added;
};
void		 netwatch_init(struct event_base *);
void		 netwatch_shutdown(void);
double		 netwatch_clock_jumped(struct netwatch_clock *, double boot,
		    double mono);
int		 netwatch_addr_from(const struct sockaddr_storage *,
		    struct netwatch_addr *);
int		 netwatch_prefix_contains(const struct netwatch_prefix *,
		    const struct netwatch_addr *);

/* status.c (main thread) */
json_object	*status_tunnel(struct tunnel *);
json_object	*status_all(void);
void		 status_session_transport(json_object *, struct session *);

/* control.c */
int	 control_init(const char *path, int activated, char **cause);
void	 control_shutdown(void);
unsigned control_clients(void);
void	 control_notify_state(const char *tunnel, enum tunnel_state old,
	    enum tunnel_state new, const char *reason, const char *server);

/* check.c */
void	 check_note_ssh_config(const struct config *);
int	 check_deep(const struct config *, int system_mode);

/* metrics.c (main thread) */
struct evbuffer;
struct sockaddr_storage;
int	 metrics_parse_listen(const char *, struct sockaddr_storage *, int *);
int	 metrics_listen_wildcard(const char *);
void	 metrics_write(struct evbuffer *);
char	*metrics_text(void);
void	 metrics_init(const struct config *);
void	 metrics_apply(const struct config *);
void	 metrics_shutdown(void);

#endif

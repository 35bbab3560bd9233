/*
 * session.h - what the transport's files share: the session, its channels,
 * opens, listeners and deferred events, and the functions they call on
 * one another.  Private to ssh/; the rest of the daemon sees ssh.h, and no
 * libssh2 type.
 */
#ifndef TUNNELD_SESSION_H
#define TUNNELD_SESSION_H

#include <netinet/in.h>

#include <libssh2.h>

#include "base/base.h"
#include "ssh.h"

/* libssh2 1.11.1 deprecates callback_set for callback_set2, which takes a
 * function pointer (configure: HAVE_LIBSSH2_SESSION_CALLBACK_SET2). */
#ifdef HAVE_LIBSSH2_SESSION_CALLBACK_SET2
#define SESSION_CALLBACK(ssh, type, fn) \
	libssh2_session_callback_set2((ssh), (type), (libssh2_cb_generic *)(fn))
#else
#define SESSION_CALLBACK(ssh, type, fn) \
	libssh2_session_callback_set((ssh), (type), (void *)(fn))
#endif

#define PUMP_ROUNDS	4		/* then yield through the poll */
#define RXQ_SIZE	(256 * 1024)	/* input drained while nobody reads */
#define PACKET_SIZE	32768		/* never advertise more (LIBSSH2.md) */
#define TXQ_SIZE	4096		/* small packets' rest, when the */
#define TX_SMALL	1024		/* socket is full (session_send_cb) */
#define TXQ_MAX		(256 * 1024)	/* ... growing, for control packets */
#define OPEN_STUCK	1.0		/* seconds: an open this old is shown */
#define OPEN_SAMPLES	5		/* an open takes the median of the last */
#define WINDOW_MIN	(256 * 1024)
#define WINDOW_MAX	(2 * 1024 * 1024)
#define WINDOW_BUDGET	(16 * 1024 * 1024)	/* per session, shared */
#define WINDOW_LIMIT	(1LL << 30)	/* the most window.c grows one to */

enum session_phase { SP_RESOLVING, SP_CONNECTING, SP_HANDSHAKE, SP_AUTH,
	SP_ESTABLISHED, SP_DEAD };

#define LATCH_NONE	0
#define LATCH_OPEN	100	/* beside the CHOP_* channel operations: */
#define LATCH_ACCEPT	101	/* the request queue's head, the listeners, */
#define LATCH_PROBE	102	/* the keepalive probe */

#define LISTEN_QUEUE	64	/* forwarded channels libssh2 holds for us */
#define FREE_TRIES	8	/* libssh2_session_free() EAGAINs, at once ... */
#define FREE_RETRIES	8	/* ... then from a timer, before a hard free */
#define FREE_RETRY_SECS	0.1
#define PROBE_ADDRESS	"192.0.2.1"	/* TEST-NET-1: no server has it */
#define OPEN_HANG_MAX	150	/* seconds a server may take to answer an
				   open (Linux gives up a SYN after 127) */

/* One forwarded connection (channel.c). */
#define CHANNEL_BUF	32768	/* each direction's staging buffer */
#define CHANNEL_CHUNK	32700	/* what libssh2 sends per packet at most
				   (1.10, 1.11): what we read at a time */
enum channel_op { CHOP_NONE, CHOP_READ, CHOP_WRITE, CHOP_EOF, CHOP_CLOSE,
	CHOP_ADJUST, CHOP_CLOSED, CHOP_FREE };
enum channel_state {
	CH_SOCKS,	/* reading the client's SOCKS request */
	CH_OPENING,	/* waiting for the server to open our channel */
	CH_CONNECTING,	/* a forwarded channel: connecting here */
	CH_OPEN,
	CH_CLOSING,	/* CLOSE sent, waiting for the server's */
	CH_DEAD
};
/* A channel's receive window above what it opened with (window.c). */
struct channel_window {
	unsigned		 base;		/* at open; libssh2 keeps it */
	unsigned		 target;	/* kept topped up to, >= base */
	long long		 reserved;	/* above base, from the budgets */
	long long		 charged;	/* the base, from the budgets */
	unsigned		 want;		/* an adjust to send (CHOP_ADJUST) */
	unsigned		 grown;		/* times it grew */
	unsigned		 idle;		/* periods of little use in a row */
	double			 t0;		/* the measuring period's start */
	uint64_t		 bytes;		/* consumed since */
	long long		 outq;		/* the client's send queue then */
};
struct channel {
	TAILQ_ENTRY(channel)	 entry;
	struct session		*session;
	void			*owner;		/* NULL: nobody's (any more) */
	struct channel_counters	*counters;	/* the owner's, or NULL */
	LIBSSH2_CHANNEL		*ch;
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;
	enum channel_state	 state;
	int			 fd_eof;	/* local peer sent EOF */
	int			 eof_sent;	/* ... and we passed it on */
	int			 ch_eof;	/* remote sent EOF */
	int			 fd_shut;	/* ... and we passed it on */
	int			 ch_closed;	/* remote sent CLOSE */
	int			 fd_reset;	/* local peer's error (ev_closed) */
	int			 close_expired;	/* no CLOSE in time: free it */
	double			 moved_at;	/* last byte moved, either way */
	struct event		*ev_stall;	/* channel_stall_timeout */
	struct event		*ev_closed;	/* the local peer's reset, while
						   neither event is armed */
	int			 cl_on;		/* ev_closed armed */
	size_t			 up_off, up_len;	/* fd -> channel */
	size_t			 down_off, down_len;	/* channel -> fd */
	char			 up[CHANNEL_BUF];
	char			 down[CHANNEL_BUF];
	char			*label;		/* for messages: peer address */
	int			 rd_on, wr_on;	/* fd events armed */
	int			 rd_drained;	/* read() said EAGAIN ... */
	int			 wr_blocked;	/* write() said EAGAIN ... */
						/* ... until the event fires */
	struct socks		*socks;		/* during the SOCKS handshake */
	int			 client_remote;	/* the SOCKS client is at the
						   far end of the channel */
	unsigned char		 owed[16];	/* answer owed to the client */
	size_t			 owedlen;
	int			 owed_then_close;
	struct event		*ev_deadline;	/* SOCKS request, channel open */
	struct connector	*conn;		/* CH_CONNECTING */
	int			 sniffing;	/* CH_CONNECTING: held for its
						   first bytes (channel_sniff) */
	size_t			 sniff_want;
	unsigned char		 sniff_magic[64];
	size_t			 sniff_magiclen;
	struct channel_window	 win;
	/* the owner's rate limit (ratelimit.c), up and down */
	TAILQ_ENTRY(channel)	 rl_entry[2];	/* waiting for a tick */
	int			 rl_waiting[2];
	size_t			 rl_grant[2];	/* bytes dealt to it */
	int			 rl_exempt;	/* tunneld's own (a probe's) */
};
TAILQ_HEAD(channels, channel);

/* A channel open, or a global request: one in flight, FIFO. */
struct open_req {
	TAILQ_ENTRY(open_req)	 entry;
	enum session_open_kind	 kind;
	struct channel		*c;		/* NULL: ping or abandoned */
	void			*owner;		/* REQ_LISTEN; NULL: abandoned */
	LIBSSH2_LISTENER	*l;		/* REQ_CANCEL */
	char			*host;		/* REQ_LISTEN */
	int			 port;
	int			 started;
	unsigned		 debug_seq;	/* server messages before it */
	unsigned char		*payload;
	size_t			 payload_len;
	unsigned		 window;
	double			 t0;		/* started */
	char			*target;	/* "host:port" or a path */
	const void		*tag;		/* the channel's owner, kept
						   when it is abandoned */
};

/* A remote listener the server granted, and whose it is. */
struct session_listener {
	TAILQ_ENTRY(session_listener) entry;
	LIBSSH2_LISTENER	*l;
	void			*owner;
};

/*
 * An upward call, raised anywhere in the transport (most often inside the
 * pump) and made later from ev_deliver, when no libssh2 call is under way.
 */
enum session_event_kind { SEV_UP, SEV_LISTENED, SEV_GATEWAY_KNOWN,
	SEV_FORWARDED, SEV_SOCKS_REQUEST, SEV_CHANNEL_ERROR, SEV_SNIFFED };
struct session_event {
	TAILQ_ENTRY(session_event) entry;
	enum session_event_kind	 kind;
	void			*owner;
	struct channel		*c;
	int			 port;
	char			*host;		/* SOCKS request */
	char			*error;
	char			*note;
};

/*
 * What libssh2's abstract pointer points to: the session (NULL once it is
 * freed while libssh2 holds on), and every block libssh2 allocated for it
 * (session.c), so that a libssh2 session that will not be freed still is.
 */
struct session_lib {
	struct session	*s;
	void		**set;		/* the blocks libssh2 holds: an */
	size_t		 cap;		/* open-addressed set of cap slots */
	size_t		 used;		/* (a power of 2), used of them */
	LIBSSH2_SESSION	*ssh;
	struct event	*ev_retry;		/* libssh2 said EAGAIN ... */
	unsigned	 retries;		/* ... this many times */
	char		*name;
};
#define session_of(abstract) (((struct session_lib *)*(abstract))->s)

/* The owner's parameters, as copied by session_new(): p's strings point
 * to own's copies. */
#define SESSION_PARAM_OWN(f)	char *f;
struct session_conf {
	struct session_params	 p;
	struct {
		SESSION_PARAM_STRINGS(SESSION_PARAM_OWN)
	}			 own;
};

struct session {
	const struct session_ops *ops;
	void			*ops_arg;
	const struct session_params *conf;	/* &params.p */
	struct session_conf	 params;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct connector	*conn;		/* resolving and connecting */
	struct certscan		*scan;		/* the host certificate fetch */
	struct session		*via;		/* jump host: runs in its channel */
	char			*via_name;	/* its host:port, for messages */
	int			 fd;
	LIBSSH2_SESSION		*ssh;
	struct session_lib	*lib;
	enum session_phase	 phase;
	struct identity		 id;
	struct auth		*auth;		/* auth.c's, until up */
	struct event		*ev_read, *ev_write, *ev_timeout, *ev_pump;
	struct event		*ev_dead, *ev_keepalive, *ev_alive;

	struct channel		*latch_ch;
	int			 latch_op;
	struct channels		 channels;
	unsigned		 nchannels;
	TAILQ_HEAD(, open_req)	 opens;

	char			*rxq;
	size_t			 rxq_off, rxq_len;
	int			 rx_drained, rx_eof, rx_paused;
	int			 rx_starved;	/* recv_cb's last answer: none */
	unsigned long		 rx_fed;	/* bytes recv_cb handed libssh2 */
	int			 sock_errno;	/* what recv() or send() failed with */
	size_t			 txq_len;	/* kept back: goes first */
	size_t			 txq_cap;	/* TXQ_SIZE, up to TXQ_MAX */
	char			*txq;
	double			 last_rx;

	LIBSSH2_CHANNEL		*probe_ch;	/* for keepalive requests */
	struct channel		*probe_via;	/* ... or a data channel's */
	LIBSSH2_CHANNEL		*probe_latched;	/* the probe's latched call's */
	int			 probe_nudge;	/* a keepalive@ without reply: */
	int			 ping_nudged;	/* to send; the pending "ping" */
	int			 ping_pending;	/* a round trip in flight */
	double			 ping_t0;
	double			 rtt_ms;
	double			 probe_since;	/* session_probe(): asked at, */
	double			 probe_by;	/* answered by, or 0 */
	size_t			 window_used;	/* windows held (window.c) */
	uint64_t		 channels_stalled;	/* channel.c */
	double			 open_rtt_min;	/* seconds, its quickest open */
	double			 open_last[OPEN_SAMPLES];	/* seconds the last opens
							   took, */
	unsigned		 open_n;	/* how many (up to OPEN_SAMPLES), */
	unsigned		 open_at;	/* the next to replace */
	int			 open_timed_out;	/* libssh2 gave one up */

	TAILQ_HEAD(, session_listener) listeners;
	TAILQ_HEAD(, session_event) events;	/* for ev_deliver */
	struct event		*ev_deliver;
	int			 pumping;	/* in session_pump() */
	int			 delivering;	/* in session_deliver_cb() */
	int			 freed;		/* ... and freed there */

	enum gateway_ports	 gateway_ports;	/* learnt by REQ_PROBE */
	char			*debug_msg;	/* the server's last debug message */
	unsigned		 debug_seq;

	enum session_error	 class;
	char			*error;
	char			 addr[INET6_ADDRSTRLEN + 8];
};

/* session.c */
/* hostkey.c: the host key checked against known_hosts or the pin */
struct hostkey_plan {
	char	*method_pref;	/* LIBSSH2_METHOD_HOSTKEY order, or NULL */
};
int	hostkey_plan(LIBSSH2_SESSION *, const struct session_params *,
	    struct hostkey_plan *, char **cause);
#define HOSTKEY_CERT	1	/* hostkey_verify: known by its CA alone */
int	hostkey_verify(LIBSSH2_SESSION *, const struct session_params *,
	    char **cause);
const char *hostkey_cert_types(LIBSSH2_SESSION *);
int	hostkey_cert_verify(LIBSSH2_SESSION *, const struct session_params *,
	    const char *, const unsigned char *, size_t, int, char **cause);
unsigned char *hostkey_cert_kept(LIBSSH2_SESSION *,
	    const struct session_params *, size_t *);
void	hostkey_cert_keep(LIBSSH2_SESSION *, const struct session_params *,
	    const unsigned char *, size_t);
char	*hostkey_fingerprint(LIBSSH2_SESSION *);

void	session_fail(struct session *, enum session_error, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	session_log(struct session *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	session_params_log(const struct session_params *, int, const char *,
	    ...) __attribute__((format(printf, 3, 4)));
void	session_step(struct session *);
void	session_dead_cb(evutil_socket_t, short, void *);
void	session_release(struct session *);
void	session_attach(struct session *, int);

/* hop.c */
void	hop_start(struct session *);
void	hop_set_params(struct session *);
char	*hop_blame(struct session *, enum session_error *);

/* auth.c */
int	auth_start(struct session *, char **cause);
int	auth_step(struct session *);
void	auth_free(struct session *);
const char *auth_waiting(struct session *);

/* session_lib.c */
LIBSSH2_SESSION *session_lib_new(struct session *);
void	session_lib_release(struct session *);
const char *session_name(struct session *);
struct event_base *session_base(struct session *);
struct evdns_base *session_dns(struct session *);
double	session_connect_timeout(struct session *);
const char *session_ssh_error(struct session *);
unsigned session_channel_window(struct session *);

/* window.c */
void	window_opened(struct channel *, unsigned, double);
void	window_consumed(struct channel *, size_t);
void	window_adjusted(struct channel *);
void	window_release(struct channel *);
long long window_room(struct session *);

/* session_keepalive.c */
void	session_kick(struct session *);
void	session_keepalive_start(struct session *);
void	session_keepalive_cb(evutil_socket_t, short, void *);
void	session_alive_cb(evutil_socket_t, short, void *);
int	session_probe_step(struct session *);
void	session_probe_opened(struct session *, LIBSSH2_CHANNEL *, const char *);
void	session_ping_answered(struct session *);
void	session_probe_forget(struct session *, struct channel *);

/* session_io.c */
ssize_t	session_recv_cb(libssh2_socket_t, void *, size_t, int, void **);
ssize_t	session_send_cb(libssh2_socket_t, const void *, size_t, int,
	    void **);
ssize_t	session_discard_cb(libssh2_socket_t, const void *, size_t, int,
	    void **);
ssize_t	session_eof_cb(libssh2_socket_t, void *, size_t, int, void **);
int	session_tx_flush(struct session *);
void	session_arm(struct session *);
void	session_read_cb(evutil_socket_t, short, void *);
void	session_write_cb(evutil_socket_t, short, void *);

/* session_open.c */
void	session_open_free(struct open_req *);
void	session_open_abandon(struct session *, struct channel *);
int	session_open_step(struct session *);
void	session_open_timed(struct session *, double);
struct session_event *session_raise(struct session *, enum session_event_kind,
	    void *owner, struct channel *);
void	session_deliver_cb(evutil_socket_t, short, void *);
void	session_events_drop(struct session *, void *owner, struct channel *);

/* session_listen.c */
void	session_debug_cb(LIBSSH2_SESSION *, int, const char *, int,
	    const char *, int, void **);
int	session_request_step(struct session *, struct open_req *);
int	session_accept(struct session *);
void	session_listeners_free(struct session *);

/* session_pump.c */
void	session_schedule(struct session *);
void	session_pump(struct session *);
void	session_pump_cb(evutil_socket_t, short, void *);
int	session_note_eagain(struct session *, struct channel *, int op);
int	session_check_error(struct session *, int, const char *);
int	session_latched_on(struct session *, struct channel *);
void	session_channel_attach(struct session *, struct channel *);
void	session_channel_detach(struct session *, struct channel *);

/* ratelimit.c: what a channel may move on its local socket; up is read
 * from it, down written to it */
enum { RL_UP, RL_DOWN, RL_DIRS };
size_t	ratelimit_allow(struct ratelimit *, int dir, struct channel *,
	    size_t want);
void	ratelimit_used(struct ratelimit *, int dir, struct channel *,
	    size_t n);
void	ratelimit_forget(struct ratelimit *, struct channel *);

/* channel.c */
void	channel_ratelimit_wake(struct channel *);
void	channel_opened(struct channel *, LIBSSH2_CHANNEL *, const char *error);
void	channel_forwarded(struct channel *, LIBSSH2_CHANNEL *);
int	channel_pump(struct channel *);
int	channel_retry(struct channel *, int op);
void	channel_session_gone(struct channel *);
void	channel_await_open(struct channel *);

#endif

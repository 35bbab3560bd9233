/*
 * ssh.h - the SSH transport, as the rest of the daemon sees it.
 *
 * The transport (this directory) is one SSH connection - a libssh2 session
 * on one event base - with its channels, and the outbound connects it makes.
 * It knows nothing of tunnels, forwards or tunneld.conf: what it needs comes
 * in as parameters (struct session_params, filled by the owner and copied),
 * and what it reports goes up through the callbacks the owner registers
 * (struct session_ops).  Every upward call is made from an event of the
 * session's own, never from inside a libssh2 call or the pump, so an owner
 * may do anything in it - open channels, cancel listeners, free the session.
 *
 * libssh2 is included by the transport's files alone (session.h and
 * known_hosts.h, private to this directory); here its objects are opaque.
 */
#ifndef TUNNELD_SSH_H
#define TUNNELD_SSH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct sockaddr_storage;
struct session;
struct channel;

/* Why a session ended: what the owner's retry policy needs to know. */
enum session_error {
	SE_NETWORK,	/* anything that retrying may fix: the schedule */
	SE_FATAL,	/* retrying cannot help (host key, key file): failed */
	SE_AUTH		/* the server refused us: retried, slowly */
};

/*
 * The string parameters of a session, each defined once here: the
 * fields of struct session_params and the session's deep copy of them
 * (session.c) are made from this list.  Adding one is one line.
 */
#define SESSION_PARAM_STRINGS(S)					\
	S(name)		/* for messages: "NAME", or "NAME#2" */		\
	S(tunnel)	/* the journal's TUNNEL=: the owner's name */	\
	S(host)								\
	S(user)								\
	S(identity_file) /* NULL: ~/.ssh/id_ed25519, id_ecdsa */	\
	S(certificate_file) /* identity_file's, or NULL */		\
	S(identity_agent) /* ssh-agent socket, "SSH_AUTH_SOCK" */	\
	S(passphrase_file) /* identity_file's */			\
	S(password_file) /* password auth, the last resort */		\
	S(known_hosts)	/* NULL: ~/.ssh/known_hosts + system */		\
	S(host_key)	/* pinned "SHA256:...", or NULL */		\
	S(proxy)	/* "http://h:p", "socks5://h:p" or NULL */	\
	S(ciphers)	/* algorithm lists, NULL: the default */	\
	S(macs)		/* (session_algs_default()) */			\
	S(kex_algorithms)						\
	S(jump)		/* "[user@]host[:port],...", or NULL */		\
	S(host_key_algorithms) /* NULL: known_hosts' order */
#define SESSION_PARAM_FIELD(f)	const char *f;

/* What a session needs, filled by its owner; session_new() copies it. */
struct session_params {
	SESSION_PARAM_STRINGS(SESSION_PARAM_FIELD)
	int		 port;
	int		 accept_new;	/* unknown host keys are learnt */
	double		 connect_timeout; /* connect to authenticated; opens */
	double		 keepalive_interval; /* 0: none */
	int		 keepalive_count;
	long long	 window_budget;	/* bytes of receive windows, per
					   session (window.c) */
	double		 channel_stall_timeout;	/* 0: none (channel.c) */
	struct ratelimit *ratelimit;	/* the owner's, shared by its
					   sessions, or NULL (ratelimit.c) */
};

/*
 * What a session reports, to the owner that registered it (arg).  Forwards
 * are named by an opaque owner pointer: the one passed to session_listen()
 * and channel_set_owner().  Each call comes from a deferred event of the
 * session's (see session_open.c): the owner may free the session in any of
 * them.  lost is the last call; the owner then frees the session.
 */
struct session_ops {
	void	(*up)(void *arg);
	void	(*lost)(void *arg, enum session_error, const char *why);
	/* the server's answer to session_listen(): error is NULL when it
	 * listens (on port), note what the server said about it, or NULL */
	void	(*listened)(void *arg, void *owner, int port,
		    const char *error, const char *note);
	/* what the server's GatewayPorts is has been learnt */
	void	(*gateway_known)(void *arg);
	/* a connection to a listener of owner's, forwarded to us: the owner
	 * calls channel_set_owner(), then channel_connect() or
	 * channel_socks_start() */
	void	(*forwarded)(void *arg, void *owner, struct channel *);
	/* a SOCKS client on a channel of owner's asks for host:port: the
	 * owner opens the channel, connects it, or channel_socks_done() */
	void	(*socks_request)(void *arg, void *owner, struct channel *,
		    const char *host, int port);
	/* a channel of owner's failed in a way worth showing (its last
	 * error): refused by the server, or its target here unreachable */
	void	(*channel_error)(void *arg, void *owner, const char *error);
	/* a forwarded channel held by channel_sniff() has its first bytes
	 * (channel_sniffed()): the owner closes it, or connects it as
	 * forwarded() does; may be NULL when nobody sniffs */
	void	(*sniffed)(void *arg, void *owner, struct channel *);
};

/* A channel's statistics, kept where its owner says (may be NULL). */
struct channel_counters {
	unsigned	 connections;		/* open now */
	uint64_t	 total_connections;
	uint64_t	 bytes_in;	/* from the SSH side to the client */
	uint64_t	 bytes_out;	/* from the client to the SSH side */
	uint64_t	 failures;	/* not forwarded: refused, unreachable */
	uint64_t	 stalled;	/* closed for making no progress */
};

/* session.c */
enum session_open_kind { OPEN_DIRECT_TCPIP, OPEN_STREAMLOCAL, OPEN_PING,
	OPEN_SESSION, REQ_LISTEN, REQ_CANCEL, REQ_PROBE };
enum gateway_ports { GP_UNKNOWN, GP_PROBING, GP_NO, GP_YES,
	GP_CLIENTSPECIFIED };
int		 session_library_init(void);
void		 session_library_exit(void);
void		 session_library_version(const char **linked,
		    const char **built);
struct session	*session_new(struct event_base *, struct evdns_base *,
		    const struct session_params *, const struct session_ops *,
		    void *arg);
void		 session_free(struct session *);
void		 session_set_params(struct session *,
		    const struct session_params *);
int		 session_is_established(struct session *);
int		 session_open_timed_out(struct session *);
const char	*session_phase_name(struct session *);
double		 session_rtt_ms(struct session *);
void		 session_forget_owner(struct session *, void *owner);
int		 session_address(struct session *, int peer,
		    struct sockaddr_storage *);
/* window.c: the daemon-wide budget of receive windows above their base */
void		 window_total_set(long long bytes);
long long	 window_total_used(void);
/* ratelimit.c: bytes per second each way for the channels of the
 * sessions given it, all together */
struct ratelimit;
struct ratelimit *ratelimit_new(struct event_base *);
void		 ratelimit_set(struct ratelimit *, long long bytes_per_sec);
long long	 ratelimit_rate(const struct ratelimit *);
void		 ratelimit_free(struct ratelimit *);
/* session_keepalive.c */
void		 session_keepalive_rearm(struct session *);	/* reload */
void		 session_probe(struct session *, double deadline);
/* session_open.c */
void		 session_open(struct session *, enum session_open_kind,
		    const char *host, int port, const char *orig_host,
		    int orig_port, struct channel *);
void		 session_load(struct session *, unsigned *channels,
		    unsigned *opening);
double		 session_open_time(struct session *);
double		 session_open_wait(struct session *, double dflt,
		    double *work);
unsigned	 session_opens(struct session *, double *oldest);
int		 session_open_late_for(struct session *, const void *, double);
int		 session_open_stuck(struct session *, double *age,
		    char *target, size_t);
/* session_listen.c */
void		 session_listen(struct session *, void *owner,
		    const char *host, int port);
void		 session_listen_cancel(struct session *, void *owner);
enum gateway_ports session_gateway_ports(struct session *, int probe);
/* session_pump.c */
uint64_t	 session_channels_stalled(struct session *);

/* session_algs.c */
enum session_alg { SA_CIPHERS, SA_MACS, SA_KEX, SA_HOSTKEY, SA_COUNT };
int		 session_algs_check(enum session_alg, const char *list,
		    char **why);
const char	*session_algs_default(enum session_alg);
const char	*session_algs_negotiated(struct session *, enum session_alg);

/* channel.c */
struct channel	*channel_new(struct session *, int fd, const char *label);
int		 channel_move(struct channel *, struct session *);
void		*channel_owner(struct channel *);
void		 channel_set_owner(struct channel *, void *owner,
		    struct channel_counters *);
void		 channel_set_label(struct channel *, const char *);
const char	*channel_label(struct channel *);
void		 channel_abort(struct channel *, const char *why);
void		 channel_rate_exempt(struct channel *);
void		 channel_socks_start(struct channel *, double timeout);
void		 channel_socks_done(struct channel *, int code);
void		 channel_connect(struct channel *, const char *host, int port,
		    const char *path);
void		 channel_sniff(struct channel *, const void *magic, size_t len,
		    size_t want, double secs);
const unsigned char *channel_sniffed(struct channel *, size_t *len);

/* hop.c */
int		 hop_check(const char *jump, char **cause);
int		 hop_first(const char *jump, char **host, int *port);

/* connect.c */
struct connector;
typedef void (*connector_cb)(int fd, int error, const char *why, void *arg);
struct connector *connector_start(struct event_base *, struct evdns_base *,
		    const char *host, int port, const char *path,
		    double timeout, int ai_flags, connector_cb, void *arg);
void		 connector_cancel(struct connector *);
int		 connector_resolving(struct connector *);
const char	*connector_address(struct connector *);
struct connector *connector_start_via(struct event_base *, struct evdns_base *,
		    const char *proxy, const char *host, int port,
		    int ai_flags, connector_cb, void *arg);

/* proxy.c */
enum proxy_kind { PROXY_HTTP, PROXY_SOCKS5 };
struct proxy_url {
	enum proxy_kind	 kind;
	char		*host;
	int		 port;
};
struct proxy_talk;
typedef void (*proxy_cb)(int error, const char *why, void *arg);
int		 proxy_parse(const char *, struct proxy_url *, char **cause);
void		 proxy_url_clear(struct proxy_url *);
const char	*proxy_kind_name(enum proxy_kind);
struct proxy_talk *proxy_talk_start(struct event_base *, int fd,
		    enum proxy_kind, const char *addr, const char *host,
		    int port, proxy_cb, void *arg);
void		 proxy_talk_free(struct proxy_talk *);


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

/* identity.c */
struct identity {
	char	*path;		/* NULL: none (an agent or a password will do) */
	char	*data;		/* the private key file (secret_alloc) */
	size_t	 len;
	char	*type;		/* "ssh-ed25519", "ecdsa-sha2-nistp256", ... */
	int	 encrypted;	/* protected by a passphrase ... */
	char	*passphrase;	/* ... this one, from passphrase_file */
	size_t	 passlen;
	unsigned char *pub;	/* its public key blob (OpenSSH format only) */
	size_t	 publen;
	char	*cert;		/* certificate_file's text, or NULL */
	size_t	 certlen;
	char	*certtype;	/* "ssh-ed25519-cert-v01@openssh.com" */
	char	*certnote;	/* why the server may refuse it, or NULL */
};
int	 identity_load(const struct session_params *, struct identity *,
	    char **cause);
void	 identity_clear(struct identity *);
int	 identity_agent_path(const struct session_params *, char **path,
	    char **cause);
int	 identity_agent_probe(const struct session_params *, char **cause);
char	*identity_file_path(const char *identity_file);

/* base64.c */
size_t	 base64_encode(const unsigned char *, size_t, char *, size_t, int pad);
ssize_t	 base64_decode(const char *, size_t, unsigned char *, size_t);
#endif

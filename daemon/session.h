/*
 * session.h - what session.c (a session's life: connecting, handshake,
 * authentication, keepalives, teardown) and session_pump.c (driving an
 * established libssh2 session from the event loop) share.  Private to them.
 */
#ifndef TUNNELD_SESSION_H
#define TUNNELD_SESSION_H

#include <netinet/in.h>

#include "tunneld.h"

#define PUMP_ROUNDS	8		/* then yield to the other events */
#define RXQ_SIZE	(256 * 1024)	/* input drained while nobody reads */
#define PACKET_SIZE	32768		/* never advertise more (LIBSSH2.md) */
#define WINDOW_MIN	(256 * 1024)
#define WINDOW_MAX	(2 * 1024 * 1024)
#define WINDOW_BUDGET	(16 * 1024 * 1024)	/* per session, shared */

enum session_phase { SP_RESOLVING, SP_CONNECTING, SP_HANDSHAKE, SP_AUTH,
	SP_ESTABLISHED, SP_DEAD };

#define LATCH_NONE	0
#define LATCH_OPEN	100	/* beside the CHOP_* channel operations: */
#define LATCH_ACCEPT	101	/* the request queue's head, the listeners, */
#define LATCH_PROBE	102	/* the keepalive probe */

#define LISTEN_QUEUE	64	/* forwarded channels libssh2 holds for us */
#define PROBE_ADDRESS	"192.0.2.1"	/* TEST-NET-1: no server has it */

/* A channel open, or a global request: one in flight, FIFO. */
struct open_req {
	TAILQ_ENTRY(open_req)	 entry;
	enum session_open_kind	 kind;
	struct channel		*c;		/* NULL: ping or abandoned */
	struct forward		*f;		/* REQ_LISTEN; NULL: abandoned */
	LIBSSH2_LISTENER	*l;		/* REQ_CANCEL */
	char			*host;		/* REQ_LISTEN */
	int			 port;
	int			 started;
	unsigned		 debug_seq;	/* server messages before it */
	unsigned char		*payload;
	size_t			 payload_len;
	unsigned		 window;
};

struct session {
	struct tunnel		*tunnel;
	const struct tunnel_conf *conf;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo	*ai, *ai_cur;
	int			 fd;
	LIBSSH2_SESSION		*ssh;
	enum session_phase	 phase;
	struct identity		 id;
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
	double			 last_rx;

	LIBSSH2_CHANNEL		*probe_ch;	/* for keepalive requests */
	int			 ping_pending;	/* a round trip in flight */
	double			 ping_t0;
	double			 rtt_ms;

	enum gateway_ports	 gateway_ports;	/* learnt by REQ_PROBE */
	char			*debug_msg;	/* the server's last debug message */
	unsigned		 debug_seq;

	enum session_error	 class;
	char			*error;
	char			 addr[INET6_ADDRSTRLEN + 8];
};

/* session.c */
void	session_fail(struct session *, enum session_error, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	session_step(struct session *);
void	session_connect_next(struct session *);
void	session_dead_cb(evutil_socket_t, short, void *);

/* session_keepalive.c */
void	session_keepalive_start(struct session *);
void	session_keepalive_cb(evutil_socket_t, short, void *);
void	session_alive_cb(evutil_socket_t, short, void *);
int	session_probe_step(struct session *);
void	session_probe_opened(struct session *, LIBSSH2_CHANNEL *, const char *);
void	session_ping_answered(struct session *);

/* session_pump.c */
ssize_t	session_recv_cb(libssh2_socket_t, void *, size_t, int, void **);
ssize_t	session_send_cb(libssh2_socket_t, const void *, size_t, int,
	    void **);
void	session_kick(struct session *);
void	session_arm(struct session *);
void	session_read_cb(evutil_socket_t, short, void *);
void	session_write_cb(evutil_socket_t, short, void *);
void	session_pump_cb(evutil_socket_t, short, void *);
void	session_open_free(struct open_req *);
void	session_debug_cb(LIBSSH2_SESSION *, int, const char *, int,
	    const char *, int, void **);
ssize_t	session_discard_cb(libssh2_socket_t, const void *, size_t, int,
	    void **);

#endif

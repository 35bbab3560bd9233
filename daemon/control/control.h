/*
 * control/control.h - what is asked and what is shown: the control socket
 * and its JSON protocol (one request line in, one reply object out:
 * control_handle(), also driven with no socket by fuzz_control), the
 * status of tunnels as JSON, the Prometheus metrics.
 *   control.c      the socket and its clients
 *   control_cmd.c  the protocol: the command table and its handlers
 *   control_authkey.c  what tunnelctl authorized-key needs of a tunnel
 *   status.c       tunnel and forward state as JSON
 *   metrics.c      GET /metrics on metrics_listen, and tunnelctl metrics
 */
#ifndef TUNNELD_CONTROL_H
#define TUNNELD_CONTROL_H


#include <sys/types.h>

#include <json-c/json.h>

#include "base/base.h"
#include "tunnel/tunnel.h"

/* the peer as SO_PEERCRED tells it, never as its messages say */
struct control_peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
};

#define CONTROL_CLOSE		0x1	/* drop the client after the reply */
#define CONTROL_SUBSCRIBE	0x2	/* the client now receives events */

/* control_cmd.c (main thread) */
json_object	*control_handle(const struct control_peer *, const char *,
		    size_t, int *flags);
int		 control_privileged(const struct control_peer *);
size_t		 control_utf8_check(const unsigned char *, size_t);

/* status.c (main thread) */
json_object	*status_tunnel(struct tunnel *);
json_object	*status_all(void);

/* control.c (main thread) */
int	 control_init(struct event_base *, struct config *const *in_force,
	    const char *path, int activated, char **cause);
void	 control_shutdown(void);
unsigned control_clients(void);
void	 control_tunnel_changed(const struct tunnel_transition *, void *);

/* metrics.c (main thread) */
struct evbuffer;
struct sockaddr_storage;
void	 metrics_write(struct evbuffer *);
char	*metrics_text(void);
void	 metrics_init(struct event_base *, const struct config *);
void	 metrics_reloaded(enum reload_event, const struct config *,
	    const struct config *, void *);
void	 metrics_shutdown(void);


#endif

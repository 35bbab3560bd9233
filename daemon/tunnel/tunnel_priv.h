/*
 * tunnel_priv.h - what tunnel.c, tunnel_main.c and tunnel_reconf.c share,
 * private to tunnel/.
 */
#ifndef TUNNEL_PRIV_H
#define TUNNEL_PRIV_H

/* tunnel.c */
void	 tunnel_retry_cb(evutil_socket_t, short, void *);
void	 tunnel_begin_cb(evutil_socket_t, short, void *);

/* tunnel_main.c: a state change, posted to the main thread */
void	 tunnel_post_change(struct tunnel *, enum tunnel_state old,
	    const char *reason);

/* tunnel_reconf.c */
void	 tunnel_forwards_new(struct tunnel *);
void	 tunnel_forwards_free(struct tunnel *);

#endif

/*
 * proc/proc.h - the process: start-up, signals and shutdown (main.c, which
 * owns the daemon's globals), systemd's notifications, the network
 * watcher, the deep check.  The top layer: it starts the others and wires
 * their observers.
 */
#ifndef TUNNELD_PROC_H
#define TUNNELD_PROC_H

#include "base/base.h"
#include "config/conf.h"
#include "tunnel/tunnel.h"

/* main.c: the daemon's globals */
extern struct event_base *tunneld_base;		/* the main thread's loop */
extern struct config	*tunneld_conf;		/* in force (reload.c writes) */

/* notify.c */
void		 notify_init(void);
void		 notify_ready(void);
void		 notify_status(void);
void		 notify_reloading(void);
void		 notify_tunnel_changed(const struct tunnel_transition *,
		    void *);
void		 notify_reloaded(enum reload_event, const struct config *,
		    const struct config *, void *);
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

/* hook.c: on_state, a tunnel_observer */
void		 hook_tunnel_changed(const struct tunnel_transition *,
		    void *);
void		 hook_shutdown(void);

/* check.c */
void	 check_note_ssh_config(const struct config *);
int	 check_deep(const struct config *, int system_mode);


#endif

/*
 * tunnel_pool.h - the pool of a tunnel's sessions and the connections
 * waiting for one, shared by tunnel_sessions.c (the pool's members and
 * their lives) and tunnel_pick.c (which session a connection goes on);
 * private to tunnel/.
 */
#ifndef TUNNEL_POOL_H
#define TUNNEL_POOL_H

#include <netinet/in.h>

#define POOL_SETUP_MAX	4	/* a tunnel's extras in set-up at once: they
				   stay far inside a stock sshd's MaxStartups
				   10:30:100 */
#define SETUP_OPENS	7	/* an open, before one is measured, is taken
				   for a set-up's share: a set-up is about 7
				   round trips, an open one */
#define SETUP_AVG_WEIGHT 4	/* a set-up's share of the average: 1/4 */
#define HELD_MAX	256	/* connections one extra session holds */
#define WAIT_MAX	256	/* per forward, waiting for the tunnel's own
				   session */
#define LATE_OPENS	4	/* an open this many opens' time in flight is
				   late: its target does not answer */
#define LATE_MIN	0.05	/* seconds: no open is late sooner */
#define IDLE_CHECK_MIN	0.1	/* seconds between looks at an idle one */
#define IDLE_CHECK_MAX	5.0

#define OWN_ID		1	/* the tunnel's own session */

/* One of the tunnel's sessions. */
struct pool_member {
	TAILQ_ENTRY(pool_member) entry;
	struct tunnel		*t;
	unsigned		 id;		/* OWN_ID; extras 2, 3, ... */
	char			*name;
	struct session		*s;
	struct setup_slots	*slot;		/* an extra being set up */
	double			 t0;		/* started */
	int			 up;
	double			 busy_at;	/* last seen with connections */
	struct event		*idle_timer;	/* an extra's */
	unsigned		 nheld;		/* connections waiting for it */
};

/*
 * A connection accepted by a forward (the socket, not yet a channel)
 * waiting for a session: the tunnel's own (m NULL: there is none up yet;
 * at most connect_timeout) or the extra m being set up.
 */
struct forward_waiter {
	TAILQ_ENTRY(forward_waiter) entry;
	struct forward		*f;
	struct pool_member	*m;
	int			 fd;
	char			 host[INET6_ADDRSTRLEN];
	int			 port;
	struct event		*timer;
};

/*
 * The queue is the tunnel's, not the forward's: an extra being set up
 * holds connections of any of the forwards, served in the order they
 * came when it is up; each forward counts its own (f->nwaiters) for its
 * budgets.  The pool lives while it has a member or a waiting connection.
 */
struct tunnel_pool {
	TAILQ_HEAD(, pool_member) members;	/* by id: the own first */
	unsigned		 nextra;
	unsigned		 nsetup;	/* extras being set up */
	double			 quiet_until;	/* no new extra before */
	TAILQ_HEAD(, forward_waiter) waiting;	/* in the order they came */
};

/* tunnel_pick.c */
double		 tunnel_sessions_open_dflt(struct tunnel *);
double		 tunnel_sessions_queued(struct tunnel *, double each,
		    struct pool_member **best, double *best_wait);
struct pool_member *tunnel_sessions_grow(struct tunnel *, double wait,
		    double queued);
void		 tunnel_sessions_dispatch(struct forward *, int fd,
		    const char *host, int port);

/* tunnel_sessions.c */
struct pool_member *tunnel_sessions_extras(struct tunnel *);
double		 tunnel_sessions_setup_cost(struct tunnel *);
void		 tunnel_sessions_enqueue(struct forward *, struct pool_member *,
		    int fd, const char *host, int port);
struct pool_member *tunnel_sessions_start(struct tunnel *, double wait,
		    double queued);

#endif

/*
 * netwatch.c - noticing that the network changed, instead of waiting for
 * the keepalives to run out.
 *
 * Two sources, on the main thread's loop:
 *   - the kernel's address and route changes (rtnetlink: the groups
 *     RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_IPV4_ROUTE and
 *     RTMGRP_IPV6_ROUTE);
 *   - a resume from suspend: CLOCK_BOOTTIME counts the time suspended and
 *     CLOCK_MONOTONIC does not, so their difference jumps; a timer looks
 *     every NETWATCH_CLOCK_TICK seconds (netwatch_clock_jumped(), pure).
 * What they say is gathered for NETWATCH_SETTLE seconds (a change comes as
 * a burst of messages), then sent to every worker, which owns its tunnels
 * (worker_post(): the main thread never waits for it):
 *   - a session whose local address was removed is replaced at once
 *     (tunnel_session_replace(): backoff, then a retry without delay, on
 *     the same server);
 *   - an established session is probed with a short deadline when a route
 *     that leads to its server was added or removed (a default route
 *     leads everywhere), or after a resume (session_probe(): a round trip
 *     now, dead without an answer within NETWATCH_PROBE_MAX seconds or the
 *     keepalive interval, the shorter);
 *   - a tunnel waiting in backoff tries again now when a route to its last
 *     server was added (the network it lacked may be there now), or after
 *     a resume;
 *   - the worker's resolver re-reads /etc/hosts and /etc/resolv.conf if
 *     they changed (worker_dns_check()).
 * Routes are what tell: a new address comes with its routes, and one
 * removed that a session does not use changes nothing for it.  So a
 * machine whose other interfaces come and go (containers, VPNs, test
 * namespaces) does not have every session probed each time.  When
 * messages were missed (ENOBUFS) or a burst is too big, every session is
 * probed.  Without rtnetlink (a kernel or sandbox that refuses the socket)
 * the keepalives alone decide, and that is logged once.
 */
#include "config.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define NETWATCH_SETTLE		0.1	/* seconds a burst is gathered */
#define NETWATCH_PROBE_MAX	5.0	/* seconds for a probe's answer */
#define NETWATCH_CLOCK_TICK	5.0	/* seconds between clock looks */
#define NETWATCH_MAX		64	/* addresses, routes kept per burst */

/* What a burst said, for every worker (each gets a copy). */
struct netwatch_news {
	struct netwatch_addr	 gone[NETWATCH_MAX];	/* addresses removed */
	size_t			 ngone;
	struct netwatch_prefix	 routes[NETWATCH_MAX];	/* routes changed */
	size_t			 nroutes;
	int			 all;		/* missed some: every session */
	double			 slept;		/* resumed after this long */
};

static struct {
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_settle;
	struct event		*ev_clock;
	struct netwatch_clock	 clock;
	struct netwatch_news	 news;
} nw = { .fd = -1 };

/* --- the resume detector ------------------------------------------------- */

/*
 * boot and mono are CLOCK_BOOTTIME and CLOCK_MONOTONIC read together.  The
 * seconds the machine slept since the last look when their difference grew
 * by more than NETWATCH_RESUME_MIN, else 0.  The first look only learns.
 */
double
netwatch_clock_jumped(struct netwatch_clock *c, double boot, double mono)
{
	double offset = boot - mono, grew;

	if (!c->known) {
		c->known = 1;
		c->offset = offset;
		return 0;
	}
	grew = offset - c->offset;
	c->offset = offset;
	return grew > NETWATCH_RESUME_MIN ? grew : 0;
}

static double
netwatch_clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void netwatch_settle(void);

static void
netwatch_clock_cb(evutil_socket_t fd, short what, void *arg)
{
	double boot, mono, slept;

	mono = netwatch_clock_read(CLOCK_MONOTONIC);
	boot = netwatch_clock_read(CLOCK_BOOTTIME);
	if ((slept = netwatch_clock_jumped(&nw.clock, boot, mono)) > 0) {
		log_notice("resumed after %.0fs asleep: probing every "
		    "session", slept);
		nw.news.slept = slept;
		netwatch_settle();
	}
}

/* --- addresses and prefixes (pure) -------------------------------------- */

/* An address of a socket, IPv4-mapped IPv6 as IPv4: 0, or -1 for another
 * family. */
int
netwatch_addr_from(const struct sockaddr_storage *ss, struct netwatch_addr *a)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	memset(a, 0, sizeof *a);
	if (ss->ss_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->a, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		a->family = AF_INET;
		memcpy(a->a, &sin6->sin6_addr.s6_addr[12], 4);
	} else if (ss->ss_family == AF_INET6) {
		a->family = AF_INET6;
		memcpy(a->a, &sin6->sin6_addr, 16);
	} else
		return -1;
	return 0;
}

/* Is a within the route's destination p (a default route: any of its
 * family)? */
int
netwatch_prefix_contains(const struct netwatch_prefix *p,
    const struct netwatch_addr *a)
{
	int bits = p->len, i;
	unsigned char mask;

	if (a->family == 0 || a->family != p->dst.family)
		return 0;
	if (bits < 0 || bits > (a->family == AF_INET ? 32 : 128))
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8) {
		if (a->a[i] != p->dst.a[i])
			return 0;
	}
	mask = (unsigned char)(0xff00 >> bits);
	return bits == 0 || ((a->a[i] ^ p->dst.a[i]) & mask) == 0;
}

/* --- on each worker ------------------------------------------------------ */

static int
netwatch_same(const struct netwatch_addr *a, const struct netwatch_addr *b)
{
	return a->family != 0 && a->family == b->family &&
	    memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/* Was the session's own address removed? */
static int
netwatch_local_gone(const struct netwatch_news *n, struct session *s)
{
	struct sockaddr_storage ss;
	struct netwatch_addr local;
	size_t i;

	if (session_address(s, 0, &ss) != 0 ||
	    netwatch_addr_from(&ss, &local) != 0)
		return 0;
	for (i = 0; i < n->ngone; i++) {
		if (netwatch_same(&local, &n->gone[i]))
			return 1;
	}
	return 0;
}

/* Did a route to the server change (added only: added)?  Every route,
 * after a resume or when messages were missed. */
static int
netwatch_route_changed(const struct netwatch_news *n,
    const struct sockaddr_storage *server, int added)
{
	struct netwatch_addr a;
	size_t i;

	if (n->all || n->slept > 0)
		return 1;
	if (netwatch_addr_from(server, &a) != 0)
		return 0;
	for (i = 0; i < n->nroutes; i++) {
		if ((n->routes[i].added || !added) &&
		    netwatch_prefix_contains(&n->routes[i], &a))
			return 1;
	}
	return 0;
}

/* What one tunnel does about the news; on its worker. */
static void
netwatch_tunnel(struct tunnel *t, void *arg)
{
	const struct netwatch_news *n = arg;
	struct sockaddr_storage server;
	double deadline = NETWATCH_PROBE_MAX;

	if (t->session != NULL && netwatch_local_gone(n, t->session)) {
		tunnel_session_replace(t, "its local address was removed");
		return;
	}
	if (t->state == TS_BACKOFF) {
		/* the last session's server: is there a new way to it? */
		if (netwatch_route_changed(n, &t->peer, 1))
			tunnel_start(t, n->slept > 0 ? "resumed" :
			    "a route to the server came");
		return;
	}
	if (!session_is_established(t->session) ||
	    session_address(t->session, 1, &server) != 0 ||
	    !netwatch_route_changed(n, &server, 0))
		return;
	if (t->conf->keepalive_interval > 0 &&
	    t->conf->keepalive_interval < deadline)
		deadline = t->conf->keepalive_interval;
	session_probe(t->session, deadline);
}

static void
netwatch_job(void *arg)
{
	struct netwatch_news *n = arg;

	worker_dns_check(worker_self());
	tunnel_foreach_here(netwatch_tunnel, n);
	free(n);
}

/* Every worker gets its copy of the news; the burst starts again. */
static void
netwatch_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct netwatch_news *n;
	unsigned i;

	log_debug("network changed: %zu address%s removed, %zu route%s "
	    "changed%s%s", nw.news.ngone, nw.news.ngone == 1 ? "" : "es",
	    nw.news.nroutes, nw.news.nroutes == 1 ? "" : "s",
	    nw.news.all ? ", some missed" : "",
	    nw.news.slept > 0 ? ", resumed" : "");
	for (i = 0; i < worker_count(); i++) {
		n = xmalloc(sizeof *n);
		*n = nw.news;
		worker_post(worker_at(i), netwatch_job, n);
	}
	memset(&nw.news, 0, sizeof nw.news);
}

static void
netwatch_settle(void)
{
	if (!evtimer_pending(nw.ev_settle, NULL))
		timer_add_secs(nw.ev_settle, NETWATCH_SETTLE);
}

/* --- rtnetlink ----------------------------------------------------------- */

/* An address attribute of family into a; -1 if it is not one. */
static int
netwatch_attr_addr(int family, struct rtattr *rta, struct netwatch_addr *a)
{
	memset(a, 0, sizeof *a);
	if ((family == AF_INET && RTA_PAYLOAD(rta) == 4) ||
	    (family == AF_INET6 && RTA_PAYLOAD(rta) == 16)) {
		a->family = family;
		memcpy(a->a, RTA_DATA(rta), RTA_PAYLOAD(rta));
		return 0;
	}
	return -1;
}

static void
netwatch_addr_gone(struct nlmsghdr *h)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *rta = IFA_RTA(ifa), *addr = NULL;
	int len = IFA_PAYLOAD(h);

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		/* IFA_LOCAL is ours on a point-to-point link; else
		 * IFA_ADDRESS is */
		if (rta->rta_type == IFA_LOCAL ||
		    (rta->rta_type == IFA_ADDRESS && addr == NULL))
			addr = rta;
	}
	if (addr == NULL || nw.news.ngone == NETWATCH_MAX ||
	    netwatch_attr_addr(ifa->ifa_family, addr,
	    &nw.news.gone[nw.news.ngone]) != 0) {
		nw.news.all = 1;
		return;
	}
	nw.news.ngone++;
}

/* A route added or deleted: its destination.  The local table (the
 * machine's own addresses, which come with their address messages) and
 * the route cache are left out. */
static int
netwatch_route(struct nlmsghdr *h)
{
	struct rtmsg *rtm = NLMSG_DATA(h);
	struct rtattr *rta = RTM_RTA(rtm);
	int len = RTM_PAYLOAD(h);
	struct netwatch_prefix *p;

	if (rtm->rtm_table == RT_TABLE_LOCAL || (rtm->rtm_flags &
	    RTM_F_CLONED) || (rtm->rtm_family != AF_INET &&
	    rtm->rtm_family != AF_INET6))
		return 0;
	if (nw.news.nroutes == NETWATCH_MAX) {
		nw.news.all = 1;
		return 1;
	}
	p = &nw.news.routes[nw.news.nroutes];
	memset(p, 0, sizeof *p);
	p->dst.family = rtm->rtm_family;	/* 0/0 unless RTA_DST says */
	p->len = rtm->rtm_dst_len;
	p->added = h->nlmsg_type == RTM_NEWROUTE;
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_DST &&
		    netwatch_attr_addr(rtm->rtm_family, rta, &p->dst) != 0) {
			nw.news.all = 1;
			return 1;
		}
	}
	nw.news.nroutes++;
	return 1;
}

static void
netwatch_message(struct nlmsghdr *h)
{
	switch (h->nlmsg_type) {
	case RTM_DELADDR:
		netwatch_addr_gone(h);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (!netwatch_route(h))
			return;
		break;
	default:		/* RTM_NEWADDR: its routes say what changed */
		return;
	}
	netwatch_settle();
}

static void
netwatch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h;
	size_t off;
	ssize_t n;

	for (;;) {
		if ((n = recv(fd, buf, sizeof buf, 0)) == -1) {
			if (errno == ENOBUFS) {	/* we missed some: all */
				nw.news.all = 1;
				netwatch_settle();
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warnx("rtnetlink: %s", strerror(errno));
			return;
		}
		/* NLMSG_OK() compares signed with unsigned: by hand */
		for (off = 0; off + sizeof *h <= (size_t)n;
		    off += NLMSG_ALIGN(h->nlmsg_len)) {
			h = (struct nlmsghdr *)(void *)(buf + off);
			if (h->nlmsg_len < sizeof *h ||
			    h->nlmsg_len > (size_t)n - off)
				break;
			netwatch_message(h);
		}
	}
}

static int
netwatch_socket(void)
{
	struct sockaddr_nl sa;
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE);
	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Main thread, after the workers: start watching. */
void
netwatch_init(struct event_base *base)
{
	nw.ev_settle = evtimer_new(base, netwatch_settle_cb, NULL);
	nw.ev_clock = event_new(base, -1, EV_PERSIST, netwatch_clock_cb,
	    NULL);
	netwatch_clock_cb(-1, 0, NULL);		/* learns the offset */
	timer_add_secs(nw.ev_clock, NETWATCH_CLOCK_TICK);
	if ((nw.fd = netwatch_socket()) == -1) {
		log_warnx("rtnetlink: %s: address and route changes are not "
		    "watched; the keepalives alone notice a dead session",
		    strerror(errno));
		return;
	}
	nw.ev_read = event_new(base, nw.fd, EV_READ | EV_PERSIST,
	    netwatch_read_cb, NULL);
	event_add(nw.ev_read, NULL);
}

void
netwatch_shutdown(void)
{
	if (nw.ev_read != NULL)
		event_free(nw.ev_read);
	if (nw.fd != -1)
		close(nw.fd);
	if (nw.ev_settle != NULL)
		event_free(nw.ev_settle);
	if (nw.ev_clock != NULL)
		event_free(nw.ev_clock);
	memset(&nw, 0, sizeof nw);
	nw.fd = -1;
}

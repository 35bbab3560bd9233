/*
 * netwatch.c - noticing that the network changed, instead of waiting for
 * the keepalives to run out (issue 17).
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
 *   - every other established session is probed with a short deadline
 *     (session_probe(): a round trip now, dead without an answer within
 *     NETWATCH_PROBE_MAX seconds or the keepalive interval, the shorter);
 *   - a tunnel waiting in backoff tries again now, when an address or a
 *     route was added (the network it lacked may be there now);
 *   - the worker's resolver re-reads /etc/hosts and /etc/resolv.conf if
 *     they changed (worker_dns_check()).
 * Without rtnetlink (a kernel or sandbox that refuses the socket) tunneld
 * works as before: the keepalives decide, and that is logged once.
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

#include "tunneld.h"

#define NETWATCH_SETTLE		0.1	/* seconds a burst is gathered */
#define NETWATCH_PROBE_MAX	5.0	/* seconds for a probe's answer */
#define NETWATCH_CLOCK_TICK	5.0	/* seconds between clock looks */
#define NETWATCH_GONE_MAX	64	/* removed addresses kept per burst */

/* What a burst said, for every worker (each gets a copy). */
struct netwatch_news {
	struct sockaddr_storage	 gone[NETWATCH_GONE_MAX];
	size_t			 ngone;
	int			 added;		/* an address or route came */
	int			 changed;	/* anything else: probe */
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

/* --- on each worker ------------------------------------------------------ */

/* The same address?  (IPv4 also as an IPv4-mapped IPv6 address) */
static int
netwatch_same_address(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	struct sockaddr_storage m;
	struct sockaddr_in *m4 = (void *)&m;

	if (a->ss_family == AF_INET6 && b->ss_family == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		memset(&m, 0, sizeof m);
		m4->sin_family = AF_INET;
		memcpy(&m4->sin_addr, &a6->sin6_addr.s6_addr[12], 4);
		return netwatch_same_address(&m, b);
	}
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof a6->sin6_addr) == 0;
	return 0;
}

static int
netwatch_address_gone(const struct netwatch_news *n, struct session *s)
{
	struct sockaddr_storage local;
	size_t i;

	if (session_local_address(s, &local) != 0)
		return 0;
	for (i = 0; i < n->ngone; i++) {
		if (netwatch_same_address(&local, &n->gone[i]))
			return 1;
	}
	return 0;
}

/* What one tunnel does about the news; on its worker. */
static void
netwatch_tunnel(struct tunnel *t, void *arg)
{
	const struct netwatch_news *n = arg;
	double deadline = NETWATCH_PROBE_MAX;

	if (t->session != NULL && netwatch_address_gone(n, t->session)) {
		tunnel_session_replace(t, "its local address was removed");
		return;
	}
	if (t->state == TS_BACKOFF && (n->added || n->slept > 0)) {
		tunnel_start(t, n->slept > 0 ? "resumed" : "network changed");
		return;
	}
	if (!session_is_established(t->session))
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

	log_debug("network changed: %zu address%s removed%s%s",
	    nw.news.ngone, nw.news.ngone == 1 ? "" : "es",
	    nw.news.added ? ", some added" : "",
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

static void
netwatch_addr_gone(struct nlmsghdr *h)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *rta = IFA_RTA(ifa), *addr = NULL;
	int len = IFA_PAYLOAD(h);
	struct sockaddr_storage *ss;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		/* IFA_LOCAL is ours on a point-to-point link; else
		 * IFA_ADDRESS is */
		if (rta->rta_type == IFA_LOCAL ||
		    (rta->rta_type == IFA_ADDRESS && addr == NULL))
			addr = rta;
	}
	if (addr == NULL || nw.news.ngone == NETWATCH_GONE_MAX) {
		nw.news.changed = 1;
		return;
	}
	ss = &nw.news.gone[nw.news.ngone];
	memset(ss, 0, sizeof *ss);
	if (ifa->ifa_family == AF_INET && RTA_PAYLOAD(addr) == 4) {
		sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, RTA_DATA(addr), 4);
	} else if (ifa->ifa_family == AF_INET6 && RTA_PAYLOAD(addr) == 16) {
		sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, RTA_DATA(addr), 16);
	} else {
		nw.news.changed = 1;
		return;
	}
	nw.news.ngone++;
}

static void
netwatch_message(struct nlmsghdr *h)
{
	switch (h->nlmsg_type) {
	case RTM_DELADDR:
		netwatch_addr_gone(h);
		break;
	case RTM_NEWADDR:
	case RTM_NEWROUTE:
		nw.news.added = 1;
		break;
	case RTM_DELROUTE:
		nw.news.changed = 1;
		break;
	default:
		return;
	}
	netwatch_settle();
}

static void
netwatch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h;
	ssize_t n;
	int len;

	for (;;) {
		if ((n = recv(fd, buf, sizeof buf, 0)) == -1) {
			if (errno == ENOBUFS) {	/* we missed some: all */
				nw.news.changed = 1;
				netwatch_settle();
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warnx("rtnetlink: %s", strerror(errno));
			return;
		}
		len = (int)n;
		for (h = (struct nlmsghdr *)(void *)buf; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len))
			netwatch_message(h);
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

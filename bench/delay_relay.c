/*
 * delay_relay.c - a TCP relay that delays every byte by a fixed time in each
 * direction: a long link on loopback, where tc netem is not available.
 *
 * Usage: delay_relay [-d MS] [-m BYTES] [-l PORT] TARGETPORT
 *   listens on 127.0.0.1:PORT (0, the default: any free port; the port is
 *   printed as "port N" on stdout once listening), connects every accepted
 *   client to 127.0.0.1:TARGETPORT, and hands each byte read on one side to
 *   the other side MS milliseconds later (one way; the round trip is 2*MS).
 *   -m caps the bytes held per direction (default 256 MiB): past it the
 *   relay stops reading, as a full link would.
 *
 * The link it models has the delay and no bandwidth limit or loss: TCP on
 * either side sees loopback, so the only thing a round trip limits is what
 * the protocol above TCP waits for (SSH channel windows, channel opens).
 * The connection to the target is made when the client connects, so a TCP
 * handshake costs nothing here (on a real link it costs one round trip).
 * One thread, epoll and a timerfd; each read becomes a chunk stamped with
 * its due time (a well-filled read buffer is queued as it is, no copy),
 * written out (writev) when due.  With -d 0 it is a plain
 * relay: bench/wan.sh measures it against a direct connection.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RELAY_READ	(256 * 1024)
#define RELAY_IOV	64

struct chunk {
	struct chunk	*next;
	uint64_t	 due;		/* CLOCK_MONOTONIC, ns */
	size_t		 len;
	size_t		 off;
	int		 eof;		/* shut the sink for writing when due */
	char		 data[];
};

struct dir {
	int		 from;
	int		 to;
	struct chunk	*head;
	struct chunk	*tail;
	size_t		 queued;
	int		 read_eof;	/* EOF read, EOF chunk queued */
	int		 done;		/* EOF delivered */
	int		 blocked;	/* EAGAIN: wait for EPOLLOUT */
};

struct conn;
struct end {				/* what epoll hands back for an fd */
	struct conn	*cn;
	int		 side;
};

struct conn {
	struct conn	*next;
	int		 fd[2];		/* client, target */
	struct end	 end[2];
	unsigned	 ev[2];		/* events registered per fd */
	struct dir	 d[2];		/* client->target, target->client */
	int		 dead;
};

static uint64_t		 relay_delay;	/* ns */
static size_t		 relay_cap = 256u * 1024 * 1024;
static int		 relay_ep;
static struct conn	*relay_conns;
static struct chunk	*relay_spare;	/* read into, kept if filled well */

static uint64_t
relay_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
relay_nonblock(int fd)
{
	int one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct chunk *
relay_alloc(size_t len)
{
	struct chunk *c;

	if ((c = malloc(sizeof *c + len)) == NULL) {
		perror("delay_relay: malloc");
		exit(1);
	}
	return c;
}

/* Queue len bytes read into relay_spare: the spare itself if it is well
 * filled (no copy), else a copy of the right size. */
static void
relay_queue(struct dir *d, size_t len, int eof, uint64_t due)
{
	struct chunk *c;

	if (len > RELAY_READ / 2) {
		c = relay_spare;
		relay_spare = NULL;
	} else {
		c = relay_alloc(len);
		memcpy(c->data, relay_spare->data, len);
	}
	c->next = NULL;
	c->due = due;
	c->len = len;
	c->off = 0;
	c->eof = eof;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->queued += len;
}

/* Read what is there (up to the cap); -1 when the connection is broken. */
static int
relay_read(struct dir *d, uint64_t now)
{
	ssize_t n;

	while (!d->read_eof && d->queued < relay_cap) {
		if (relay_spare == NULL)
			relay_spare = relay_alloc(RELAY_READ);
		n = read(d->from, relay_spare->data, RELAY_READ);
		if (n > 0) {
			relay_queue(d, (size_t)n, 0, now + relay_delay);
			continue;
		}
		if (n == 0) {
			relay_queue(d, 0, 1, now + relay_delay);
			d->read_eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return -1;
	}
	return 0;
}

/* Write every chunk that is due; -1 when the connection is broken. */
static int
relay_write(struct dir *d, uint64_t now)
{
	struct iovec iov[RELAY_IOV];
	struct chunk *c;
	ssize_t n;
	size_t k;
	int i;

	while (!d->blocked && d->head != NULL && d->head->due <= now) {
		if (d->head->eof) {
			shutdown(d->to, SHUT_WR);
			d->done = 1;
			free(d->head);
			d->head = d->tail = NULL;
			return 0;
		}
		i = 0;
		for (c = d->head; c != NULL && i < RELAY_IOV && c->due <= now &&
		    !c->eof; c = c->next) {
			iov[i].iov_base = c->data + c->off;
			iov[i++].iov_len = c->len - c->off;
		}
		n = writev(d->to, iov, i);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				d->blocked = 1;
				break;
			}
			return -1;
		}
		d->queued -= (size_t)n;
		while (n > 0) {
			c = d->head;
			k = c->len - c->off;
			if ((size_t)n < k) {
				c->off += (size_t)n;
				break;
			}
			n -= (ssize_t)k;
			d->head = c->next;
			if (d->head == NULL)
				d->tail = NULL;
			free(c);
		}
	}
	return 0;
}

static void
relay_interest(struct conn *cn)
{
	struct epoll_event ev;
	unsigned want;
	int side;

	/* fd[side] is read by d[side] and written by d[1 - side] */
	for (side = 0; side < 2; side++) {
		want = 0;
		if (!cn->d[side].read_eof && cn->d[side].queued < relay_cap)
			want |= EPOLLIN;
		if (cn->d[1 - side].blocked)
			want |= EPOLLOUT;
		if (want == cn->ev[side])
			continue;
		memset(&ev, 0, sizeof ev);
		ev.events = want;
		ev.data.ptr = &cn->end[side];
		epoll_ctl(relay_ep, EPOLL_CTL_MOD, cn->fd[side], &ev);
		cn->ev[side] = want;
	}
}

static void
relay_accept(int lfd, int target)
{
	struct sockaddr_in sin;
	struct epoll_event ev;
	struct conn *cn;
	int c, t, side;

	while ((c = accept(lfd, NULL, NULL)) != -1) {
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)target);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((t = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(t, (struct sockaddr *)&sin, sizeof sin) == -1) {
			perror("delay_relay: connect to target");
			if (t != -1)
				close(t);
			close(c);
			continue;
		}
		relay_nonblock(c);
		relay_nonblock(t);
		if ((cn = calloc(1, sizeof *cn)) == NULL) {
			perror("delay_relay: calloc");
			exit(1);
		}
		cn->fd[0] = c;
		cn->fd[1] = t;
		for (side = 0; side < 2; side++) {
			cn->end[side].cn = cn;
			cn->end[side].side = side;
			cn->d[side].from = cn->fd[side];
			cn->d[side].to = cn->fd[1 - side];
			memset(&ev, 0, sizeof ev);
			ev.events = cn->ev[side] = EPOLLIN;
			ev.data.ptr = &cn->end[side];
			epoll_ctl(relay_ep, EPOLL_CTL_ADD, cn->fd[side], &ev);
		}
		cn->next = relay_conns;
		relay_conns = cn;
	}
}

static void
relay_free(struct conn *cn)
{
	struct chunk *c;
	int side;

	for (side = 0; side < 2; side++) {
		close(cn->fd[side]);
		while ((c = cn->d[side].head) != NULL) {
			cn->d[side].head = c->next;
			free(c);
		}
	}
	free(cn);
}

/* Write what is due on every connection, reap the finished ones, arm the
 * timer for the next due chunk. */
static void
relay_sweep(int tfd)
{
	struct itimerspec its;
	struct conn **pp, *cn;
	uint64_t now, next = 0;
	int side;

	now = relay_now();
	for (pp = &relay_conns; (cn = *pp) != NULL;) {
		for (side = 0; side < 2 && !cn->dead; side++)
			if (relay_write(&cn->d[side], now) == -1)
				cn->dead = 1;
		if (cn->dead || (cn->d[0].done && cn->d[1].done)) {
			*pp = cn->next;
			relay_free(cn);
			continue;
		}
		relay_interest(cn);
		for (side = 0; side < 2; side++) {
			if (cn->d[side].head != NULL && !cn->d[side].blocked &&
			    (next == 0 || cn->d[side].head->due < next))
				next = cn->d[side].head->due;
		}
		pp = &cn->next;
	}
	memset(&its, 0, sizeof its);
	if (next != 0) {
		if (next <= now)
			next = now + 1;
		its.it_value.tv_sec = (time_t)(next / 1000000000u);
		its.it_value.tv_nsec = (long)(next % 1000000000u);
	}
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[64];
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	struct conn *cn;
	uint64_t now, exp;
	int lfd, tfd, one = 1, ch, i, n, side, port = 0, target;
	void *p;

	while ((ch = getopt(argc, argv, "d:m:l:")) != -1) {
		switch (ch) {
		case 'd':
			relay_delay = (uint64_t)(strtod(optarg, NULL) * 1e6);
			break;
		case 'm':
			relay_cap = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			port = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || (target = atoi(argv[optind])) <= 0)
		goto usage;
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 1024) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("delay_relay: listen");
		return 1;
	}
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);

	relay_ep = epoll_create1(0);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = &lfd;
	epoll_ctl(relay_ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &tfd;
	epoll_ctl(relay_ep, EPOLL_CTL_ADD, tfd, &ev);

	for (;;) {
		n = epoll_wait(relay_ep, evs, 64, -1);
		if (n == -1 && errno != EINTR) {
			perror("delay_relay: epoll_wait");
			return 1;
		}
		now = relay_now();
		for (i = 0; i < n; i++) {
			p = evs[i].data.ptr;
			if (p == &lfd) {
				relay_accept(lfd, target);
				continue;
			}
			if (p == &tfd) {
				if (read(tfd, &exp, sizeof exp) == -1)
					exp = 0;
				continue;
			}
			cn = ((struct end *)evs[i].data.ptr)->cn;
			side = ((struct end *)evs[i].data.ptr)->side;
			if (cn->dead)
				continue;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				cn->d[1 - side].blocked = 0;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) &&
			    relay_read(&cn->d[side], now) == -1)
				cn->dead = 1;
		}
		relay_sweep(tfd);
	}

usage:
	fprintf(stderr, "usage: delay_relay [-d ms] [-m bytes] [-l port] "
	    "targetport\n");
	return 2;
}

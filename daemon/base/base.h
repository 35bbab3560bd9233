/*
 * base/base.h - the process's services, the bottom layer: everything above
 * may log, read a file, keep a secret, spend a descriptor and run on a
 * worker thread.  Nothing here knows of SSH, tunnels or tunneld.conf.
 *   log.c     leveled logging to stderr and the journal, rate-limited
 *   file.c    files read without blocking a worker, trusted as OpenSSH's
 *             StrictModes trusts them; secrets kept out of core dumps
 *   budget.c  descriptors: the soft limit raised, a reserve kept from
 *             forwarded connections, listeners that pause when out
 *   worker.c  the threads that carry the tunnels; bounded calls between
 *             them and the main thread
 */
#ifndef TUNNELD_BASE_H
#define TUNNELD_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "util.h"

/* Arm a libevent timer (or re-arm a persistent one) for secs seconds. */
static inline void
timer_add_secs(struct event *ev, double secs)
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	event_add(ev, &tv);
}

/* log.c */
enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_NOTICE, LOG_LVL_INFO,
	LOG_LVL_DEBUG };
void	 log_init(int level);
void	 log_set_level(int level);
#define LOG_RATE_INTERVAL	10	/* seconds: log_rate_limit's interval */
void	 log_set_rate_limit(int);
void	 log_rate_flush(void);
int	 log_get_level(void);
int	 log_level_parse(const char *);
struct log_fields {		/* the journal's fields of a message, or NULL */
	const char	*tunnel;	/* TUNNEL= */
	const char	*state;		/* STATE=, a transition's new state */
	const char	*forward;	/* FORWARD=, a forward's spec */
};
void	 log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 log_fields(int, const struct log_fields *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 log_vfields(int, const struct log_fields *, const char *subject,
	    const char *, va_list) __attribute__((format(printf, 4, 0)));
#define log_error(...)	 log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warnx(...)	 log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...)	 log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)	 log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	 log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* budget.c */
struct listen_pause {
	struct event	*timer;		/* resumes the listener */
	double		 delay;		/* of the next pause */
	double		 last_log;
	unsigned	 paused;	/* pauses since the last message */
};
void	 budget_init(void);
int	 budget_fd_limit(void);
int	 budget_fd_reserve(void);
int	 budget_fd_over(int);
int	 budget_fd_room(void);
int	 budget_accept_exhausted(int);
void	 listen_pause_init(struct listen_pause *, struct event_base *,
	    void (*)(evutil_socket_t, short, void *), void *);
void	 listen_pause_clear(struct listen_pause *);
void	 listen_pause_start(struct listen_pause *, const char *who,
	    const char *why);
void	 listen_pause_ok(struct listen_pause *);
int	 listen_pause_pending(const struct listen_pause *);

/* file.c */
struct stat;
#define FILE_NOFOLLOW	0x1	/* a symbolic link is refused */
#define FILE_TRUST	0x2	/* file_trust(), and on the descriptor */
#define TUNNELD_SERVICE_USER	"tunneld"	/* the system unit's User= */
void	 file_trust_init(int system_mode);
int	 file_trust(const char *, const char *, char **cause);
const char	*file_kind(mode_t);
int	 file_open(const char *, const char *, off_t, int, struct stat *,
	    char **cause);
int	 file_read_fd(int, const char *, const char *, char *, size_t,
	    char **cause);
int	 file_read(const char *, const char *, off_t, int, char **, size_t *,
	    struct stat *, char **cause);
void	*secret_alloc(size_t);
void	 secret_free(void *);
int	 file_read_secret(const char *, const char *, off_t, char **, size_t *,
	    char **cause);
int	 file_read_password(const char *, const char *, char **, size_t *,
	    char **cause);

/* worker.c */
#define WORKERS_MAX	64
#define WORKER_WAIT	1.5	/* seconds the main thread waits for a worker */
extern struct worker	*worker_main;
int		 worker_threads_enable(void);
int		 worker_init(struct event_base *, unsigned, char **cause);
unsigned	 worker_shutdown(void);
int		 worker_call(struct worker *, void (*)(void *), void *);
int		 worker_send(struct worker *, void (*)(void *), void *);
unsigned	 worker_call_all(void (*)(void *), void *);
void		 worker_post(struct worker *, void (*)(void *), void *);
int		 worker_ping_all(void);
int		 worker_busy(struct worker *);
struct worker	*worker_pick(void);
void		 worker_unpick(struct worker *);
struct worker	*worker_self(void);
struct event_base *worker_base(struct worker *);
struct evdns_base *worker_dns(struct worker *);
void		 worker_dns_check(struct worker *);
struct worker	*worker_at(unsigned);
unsigned	 worker_id(struct worker *);
unsigned	 worker_count(void);


#endif

/* util.h - small helpers shared by tunneld and tunnelctl. */
#ifndef TUNNELD_UTIL_H
#define TUNNELD_UTIL_H

#include <stddef.h>
#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
double	 mono_now(void);
char	*home_dir(void);
double	 random_between(double, double);
double	 backoff_delay(double lo, double hi, unsigned n);
int	 set_nonblock(int);
unsigned int tcp_user_timeout_ms(double, int);

/* Writes into fixed-size buffers: each says whether all of it fitted. */
int	 bstrcpy(char *, const char *, size_t);
int	 bsnprintf(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
struct bbuf {				/* bytes appended to a fixed array */
	unsigned char	*p;
	size_t		 size, len;
	int		 over;		/* something did not fit: len is 0 */
};
void	 bbuf_init(struct bbuf *, void *, size_t);
void	 bbuf_add(struct bbuf *, const void *, size_t);
void	 bbuf_byte(struct bbuf *, unsigned);
void	 bbuf_printf(struct bbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#define HOST_NAME_LEN	253		/* a DNS name, at most (RFC 1035) */
#define HOST_LABEL_LEN	63		/* one of its labels */
int	 host_name_check(const char *, char **);

/* paths.c */
#define PATHS_SYSTEM_SOCKET	"/run/tunneld/tunneld.sock"
enum paths_mode {
	PATHS_AUTO,		/* root: system; anyone else: user */
	PATHS_SYSTEM,		/* tunneld --system (the system unit) */
	PATHS_USER		/* tunneld --user */
};
int	 paths_is_system(enum paths_mode);
char	*paths_user_socket(void);
char	*paths_default_socket(enum paths_mode);
char	*paths_default_config(enum paths_mode);

#endif

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

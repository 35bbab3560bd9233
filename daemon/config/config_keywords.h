/*
 * config_keywords.h - the table of every tunneld.conf keyword
 * (config_keywords.c), the operations of its types, and what config's own
 * files share besides: config/'s private header (and the unit tests').
 */
#ifndef TUNNELD_CONFIG_KEYWORDS_H
#define TUNNELD_CONFIG_KEYWORDS_H

#include <stddef.h>
#include <stdio.h>

#include <libconfig.h>

#include "conf.h"

enum kw_type {
	KW_STRING,	/* a non-empty string */
	KW_HOST,	/* a host name or address: no blanks */
	KW_HOSTS,	/* one server or a list: config_hosts.c */
	KW_PATH,	/* a path, relative to the file it is written in */
	KW_ABSPATH,	/* an absolute path */
	KW_GROUP,	/* the name of an existing group */
	KW_FINGERPRINT,	/* SHA256:... as ssh-keygen -lf prints it */
	KW_LISTEN,	/* ADDRESS:PORT, numeric ([v6]:port) */
	KW_ALGORITHMS,	/* names libssh2 offers; min: enum session_alg */
	KW_PROXY,	/* http://host:port or socks5://host:port */
	KW_BOOL,
	KW_INT,		/* an integer in [min, max] */
	KW_DURATION,	/* seconds, integer or decimal, in [min, max] */
	KW_RATE,	/* bytes per second: "10M"; 0 or in [min, max] */
	KW_ENUM,	/* one of the words in values */
	KW_FORWARDS,	/* a list of forwards; the keyword names the kind */
	KW_PERMITS,	/* "any", "none" or a list of host:port */
	KW_ARGV,	/* a program (absolute path) and its arguments */
	KW_SECTION	/* defaults, tunnels: read by config.c itself; last */
};
#define KW_NTYPES	(KW_SECTION + 1)

enum kw_where {
	KW_GLOBAL,	/* struct config */
	KW_TUNNEL	/* struct tunnel_conf: in defaults and in each tunnel */
};

struct kw_enum {
	const char	*name;
	int		 value;	/* a value repeated later is an alias */
};

struct keyword {
	const char		*name;
	enum kw_type		 type;
	enum kw_where		 where;
	size_t			 off;	/* of the field in its structure */
	double			 min, max;
	double			 def;	/* bool, int, duration, enum, permits */
	const char		*def_str;	/* strings; NULL: unset */
	enum kw_reload		 reload;
	const struct kw_enum	*values;	/* KW_ENUM */
};

extern const struct keyword	 keywords[];
extern const size_t		 nkeywords;

/* Where the errors of one file go. */
struct kw_ctx {
	const char	*path;	/* the file, unless libconfig knows better */
	struct errlist	*errs;	/* NULL: report nothing */
};

/*
 * What a type does with a keyword's field in obj (a struct config or a
 * tunnel_conf), one row per type in config_keywords.c's kw_types[]:
 *   parse	setting s into the field; -1 if not valid (reported to ctx)
 *   def	the built-in default, into a new (zeroed) obj
 *   clear	free what the field holds
 *   equal	the same value in both?
 *   print	the value as a line of tunneld.conf (none if unset)
 */
struct kw_type_ops {
	int	(*parse)(const struct keyword *, config_setting_t *,
		    struct kw_ctx *, void *);
	void	(*def)(const struct keyword *, void *);
	void	(*clear)(const struct keyword *, void *);
	int	(*equal)(const struct keyword *, const void *, const void *);
	void	(*print)(FILE *, const struct keyword *, const void *,
		    const char *indent);
};
const struct kw_type_ops *keyword_type_ops(enum kw_type);

/* The keyword of that name there; the operations of its type on it. */
const struct keyword *keyword_find(const char *, enum kw_where);
int		 keyword_parse(const struct keyword *, config_setting_t *,
		    struct kw_ctx *, void *obj);
void		 keyword_default(const struct keyword *, void *obj);
void		 keyword_clear(const struct keyword *, void *obj);
int		 keyword_equal(const struct keyword *, const void *,
		    const void *);
void		 keyword_print(FILE *, const struct keyword *, const void *obj,
		    const char *indent);

/* config_hosts.c: host, one server or a list (its field is host, the list
 * is beside it) */
int		 config_hosts_parse(const struct keyword *, config_setting_t *,
		    struct kw_ctx *, struct tunnel_conf *);
void		 config_hosts_clear(struct tunnel_conf *);
int		 config_hosts_equal(const struct tunnel_conf *,
		    const struct tunnel_conf *);
void		 config_hosts_print(FILE *, const struct tunnel_conf *,
		    const char *indent);
/* ... and is an ADDRESS:PORT every address (metrics_listen warns)? */
int		 config_listen_wildcard(const char *);

/* config.c: the file and line of a setting, for messages; an error of
 * the file being read */
const char	*cfg_file(const config_setting_t *, const char *fallback);
void		 errlist_add(struct errlist *, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define SESSIONS_MAX	32	/* sessions = N: at most */
#define RATE_LIMIT_MAX	(10.0 * (1 << 30))	/* rate_limit: 10G (ssh/ratelimit.c:
					   its bucket's 32 bits) */

#endif

/*
 * config/conf.h - tunneld.conf: read, checked, printed; the settings'
 * table; forward specifications; ssh_config aliases.  Above the transport
 * (the algorithm lists are checked against it), below the tunnels.
 *   config.c          reading a file and its drop-ins; every check
 *   config_keywords.c every setting, defined once: name, type, range,
 *                     default, where it lives, what a reload needs
 *   config_hosts.c    host = [...]: the servers, tried in order
 *   config_print.c    the effective configuration (--print-config)
 *   ssh_config.c      ssh_config = true: the host resolved by ssh -G
 *   fwdspec.c         OpenSSH's forward syntax (-L/-R/-D arguments)
 */
#ifndef TUNNELD_CONF_H
#define TUNNELD_CONF_H

#include <stdio.h>

#include "base/base.h"
#include "ssh/ssh.h"

/*
 * fwdspec.c: a forward as OpenSSH writes it (-L/-R/-D arguments) and a
 * permit_remote_open entry, parsed; the tunnels' forwards use them.
 */
enum fwd_kind { FWD_LOCAL, FWD_REMOTE, FWD_DYNAMIC, FWD_REMOTE_DYNAMIC };
struct fwd_addr {
	char	*host;	/* NULL: default (loopback); "" or "*": all addresses */
	int	 port;	/* -1 when path is set */
	char	*path;	/* UNIX socket path, or NULL */
};
struct fwdspec {
	enum fwd_kind	 kind;
	char		*spec;		/* as written by the user */
	struct fwd_addr	 listen;
	struct fwd_addr	 connect;	/* unused for dynamic kinds */
	char		*file;		/* where it was written, for messages */
	int		 line;
};
int		 fwdspec_parse(const char *list, const char *, struct fwdspec *,
		    char **cause);
void		 fwdspec_clear(struct fwdspec *);
const char	*fwdspec_kind_name(enum fwd_kind);
int		 fwdspec_bind_is_wildcard(const char *);
int		 fwdspec_listen_conflict(const struct fwdspec *,
		    const struct fwdspec *);
char		*fwdspec_listen_string(const struct fwd_addr *);
struct permit {			/* one permit_remote_open entry */
	char	*host;		/* "*": any host */
	int	 port;		/* -1: any port */
};
int		 permit_parse(const char *, struct permit *, char **cause);
int		 permit_match(const struct permit *, size_t, const char *host,
		    int port);

/*
 * config.c: the configuration as read.  A tunnel's settings (struct
 * tunnel_conf, from defaults and its own group) and the daemon's (struct
 * config); the fields are defined in config_keywords.c's table.  A load
 * lists every error it finds in an errlist, each "FILE:LINE: message".
 */
enum host_key_check { HKC_YES, HKC_ACCEPT_NEW };
struct server {			/* an entry of host */
	char	*host;
	int	 port;		/* 0: the tunnel's port */
};
struct tunnel_conf {
	char			*name;
	char			*file;
	int			 line;
	char			*host;		/* the first server's name */
	struct server		*servers;	/* host: tried in order */
	size_t			 nservers;
	int			 port;
	char			*user;
	char			*identity_file;	/* NULL: ~/.ssh/id_ed25519, id_ecdsa */
	char			*certificate_file; /* identity_file's, or NULL */
	char			*known_hosts;	/* NULL: ~/.ssh/known_hosts + system */
	char			*identity_agent; /* socket path, "SSH_AUTH_SOCK" */
	char			*passphrase_file; /* identity_file's */
	char			*password_file;	/* password auth, the last resort */
	char			*host_key;	/* "SHA256:..." or NULL */
	char			*jump;		/* ProxyJump list, or NULL */
	enum host_key_check	 strict;
	char			*ciphers;	/* algorithm lists; the default */
	char			*macs;		/* filled in, NULL if none */
	char			*kex_algorithms;
	char			*host_key_algorithms;	/* NULL: known_hosts' */
	int			 autostart;
	double			 keepalive_interval;
	int			 keepalive_count;
	double			 connect_timeout;
	double			 channel_stall_timeout;	/* 0: none */
	double			 reconnect_min;
	double			 reconnect_max;
	struct fwdspec		*fwds;
	size_t			 nfwds;
	int			 sessions;	/* SSH sessions at most */
	double			 sessions_idle;	/* an extra one closes */
	int			 permit_any;	/* permit_remote_open */
	struct permit		*permits;
	size_t			 npermits;
	int			 window_budget;	/* MiB (ssh/window.c) */
	int			 max_connections;	/* of the tunnel */
	int			 max_forward_connections; /* of each forward */
	double			 probe_interval;	/* -R probe; 0: none */
	int			 probe_target;	/* ... connects the target */
	int			 require_forwards; /* up only with every one */
	long long		 rate_limit;	/* bytes/s each way; 0: none */
	char			*proxy;		/* "http://h:p", "socks5://h:p" */
	int			 ssh_config;	/* host is an ssh_config alias */
	char			*ssh_config_file; /* ssh -F; NULL: ssh's own */
	struct ssh_resolved	*resolved;	/* what ssh -G said (ssh_config.c) */
	char			**on_state;	/* program and arguments run on a
						   state change, NULL-terminated;
						   NULL: none (proc/hook.c) */
	double			 on_state_timeout;	/* seconds it may run */
};
struct config {
	char			*file;
	char			*control_socket;
	char			*control_group;
	int			 log_level;	/* LOG_LVL_* */
	char			*include_dir;
	unsigned		 workers;	/* threads; 0: one per CPU */
	char			*metrics_listen;	/* "ADDRESS:PORT" or NULL */
	int			 window_budget_total;	/* MiB */
	int			 log_rate_limit;	/* lines per message key */
	struct tunnel_conf	**tunnels;
	size_t			 ntunnels;
};
struct errlist {
	char	**v;
	size_t	  n;
};
struct config	*config_load(const char *path, struct errlist *);
void		 config_free(struct config *);
struct tunnel_conf *config_find(struct config *, const char *);
int		 fwdspec_same(const struct fwdspec *, const struct fwdspec *);
void		 config_print(FILE *, const struct config *);
void		 errlist_clear(struct errlist *);

/*
 * config_keywords.c: what a changed setting needs on a reload, the class
 * of each keyword in the table; the tunnels' reload (tunnel/reload.c) acts
 * on it.  KR_APPLY settings are applied by a reload observer on
 * RELOAD_APPLIED: log_level, log_rate_limit and window_budget_total by
 * proc/main.c's main_reloaded, metrics_listen by control/metrics.c's
 * metrics_reloaded.  A new KR_APPLY keyword needs its observer (test_config
 * lists them, so that it fails until one is written).
 */
enum kw_reload {
	KR_NONE,	/* read where it is used: applies from now on */
	KR_APPLY,	/* global, applied at once by a reload observer */
	KR_REARM,	/* the live session's timers are re-armed */
	KR_FORWARDS,	/* forwards are added and removed on the live session */
	KR_SESSION,	/* a new session: the tunnel restarts */
	KR_DAEMON	/* only when tunneld restarts; a reload says so */
};
#define KR_NEEDS(needs, r)	(((needs) & (1U << (r))) != 0)
struct keyword;
unsigned	 tunnel_conf_reload_needs(const struct tunnel_conf *,
		    const struct tunnel_conf *, const struct keyword **which);
const char	*keyword_name(const struct keyword *);
enum kw_reload	 keyword_reload(const struct keyword *);
const char	*keyword_reload_name(enum kw_reload);
void		 config_restart_needs(const struct config *,
		    const struct config *, void (*)(const char *, void *),
		    void *);

/* ssh_config.c: ssh -G for the tunnels of a reload (ssh_config = true),
 * run off the main thread in a batch */
struct ssh_g_batch;
struct ssh_g_batch *ssh_config_batch_new(void);
void	 ssh_config_batch_use(struct ssh_g_batch *);
size_t	 ssh_config_batch_size(const struct ssh_g_batch *);
int	 ssh_config_batch_start(struct ssh_g_batch *, void (*)(void *),
	    void *);
void	 ssh_config_batch_free(struct ssh_g_batch *);
void	 ssh_config_abort(void);

/* config_hosts.c: a tunnel's servers (host = [...]) and ADDRESS:PORT
 * strings, for the tunnels, status and metrics_listen */
const char	*config_server_host(const struct tunnel_conf *, size_t);
int		 config_server_port(const struct tunnel_conf *, size_t);
char		*config_server_string(const char *host, int port);
struct sockaddr_storage;
int		 config_parse_listen(const char *, struct sockaddr_storage *,
		    int *);

#endif

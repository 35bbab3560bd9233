/*
 * ssh_config.h - ssh_config = true (ssh_config.c): a tunnel's host resolved
 * as an ssh_config alias by ssh -G, and what --print-config shows of it.
 * Private to config.c, config_print.c and ssh_config.c; the batch for a
 * reload and ssh_config_abort() are in conf.h.
 */
#ifndef TUNNELD_SSH_CONFIG_H
#define TUNNELD_SSH_CONFIG_H

#include <stdio.h>

#include <libconfig.h>

#include "conf.h"

struct keyword;

enum ssh_from {
	SSH_FROM_NONE,		/* ssh_config says nothing (or nothing valid) */
	SSH_FROM_TUNNEL,	/* ... and the tunnel's block writes it */
	SSH_FROM_SSH,		/* applied */
	SSH_FROM_OVERRIDDEN,	/* the tunnel's block writes it: that wins */
	SSH_FROM_UNSUPPORTED	/* no such keyword in this tunneld */
};

#define SSH_CONFIG_OPTIONS	11	/* ssh_config.c: ssh_options[] */

/* What ssh -G said of a tunnel's alias. */
struct ssh_resolved {
	char		*alias;		/* host as written */
	char		*command;	/* how it was resolved, for people */
	char		*notes;		/* lines for --print-config */
	struct {
		enum ssh_from	 origin;
		char		*value;	/* as tunneld takes it */
	} from[SSH_CONFIG_OPTIONS];
};

/* Where resolving one tunnel reports. */
struct ssh_config_ctx {
	struct errlist	*errs;
	const char	*file;		/* the tunnel's, for messages */
	int		 line;
	char		*ssh_file;	/* (internal) relative paths' base */
};

void	 ssh_config_resolve(struct tunnel_conf *, config_setting_t *group,
	    struct ssh_config_ctx *);
void	 ssh_resolved_free(struct ssh_resolved *);
char	*ssh_config_origin(const struct tunnel_conf *, const struct keyword *);
void	 ssh_config_print_header(FILE *, const struct tunnel_conf *,
	    const char *indent);

#endif

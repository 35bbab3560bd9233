/*
 * forward_local.c - local forwards (ssh -L): every connection accepted on a
 * listener becomes a direct-tcpip (or direct-streamlocal) channel opened
 * from the server to the forward's target.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel.h"

/* A connection accepted on one of the forward's listeners, on s: the
 * tunnel's session or an extra one (established). */
void
forward_local_accepted(struct forward *f, struct session *s, int fd,
    const char *host, int port)
{
	const struct fwdspec *sp = f->spec;
	struct channel *c;
	char label[512];

	if (sp->connect.path != NULL)
		snprintf(label, sizeof label, "%s from %s:%d to %s",
		    sp->spec, host, port, sp->connect.path);
	else
		snprintf(label, sizeof label, "%s from %s:%d to %s:%d",
		    sp->spec, host, port, sp->connect.host, sp->connect.port);
	log_forward(f, LOG_LVL_DEBUG, "%s: accepted", label);
	c = channel_new(s, fd, label);
	channel_set_owner(c, f, &f->counters);
	if (sp->connect.path != NULL)
		session_open(s, OPEN_STREAMLOCAL, sp->connect.path, 0,
		    host, port, c);
	else
		session_open(s, OPEN_DIRECT_TCPIP, sp->connect.host,
		    sp->connect.port, host, port, c);
}

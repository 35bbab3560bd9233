/*
 * control.h - the control protocol's request handler, apart from the socket:
 * one request line in, one reply object out.  control.c drives it for each
 * client; tests/fuzz/fuzz_control.c drives it with no socket and no workers.
 */
#ifndef TUNNELD_CONTROL_H
#define TUNNELD_CONTROL_H

#include <sys/types.h>

#include <json-c/json.h>

/* the peer as SO_PEERCRED tells it, never as its messages say */
struct control_peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
};

#define CONTROL_CLOSE		0x1	/* drop the client after the reply */
#define CONTROL_SUBSCRIBE	0x2	/* the client now receives events */

json_object	*control_handle(const struct control_peer *, const char *,
		    size_t, int *flags);
int		 control_privileged(const struct control_peer *);
size_t		 control_utf8_check(const unsigned char *, size_t);

#endif

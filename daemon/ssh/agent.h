/*
 * agent.h - a client of ssh-agent's protocol (draft-miller-ssh-agent), on a
 * non-blocking socket: no call here ever waits for the agent.  Used by
 * ssh/auth.c (from the event loop) and identity.c (the check, with a
 * bounded poll()).  It knows no libssh2.
 */
#ifndef TUNNELD_AGENT_H
#define TUNNELD_AGENT_H

#include <stddef.h>

#define AGENT_RSA_SHA2_256	0x02	/* SSH_AGENT_RSA_SHA2_256 */
#define AGENT_RSA_SHA2_512	0x04

struct agent_key {
	unsigned char	*blob;		/* the public key, wire format */
	size_t		 len;
	char		*type;		/* "ssh-ed25519", ... */
	char		*comment;
};

struct agent {
	char		*path;
	int		 fd;
	unsigned char	*out;		/* the request being written */
	size_t		 outlen, outoff;
	unsigned char	*in;		/* the answer being read */
	size_t		 inlen, inoff;	/* inlen 0: its length not known */
	unsigned char	 hdr[4];
	int		 busy;		/* a request is in flight */
	struct agent_key *keys;
	size_t		 nkeys;
};

struct agent	*agent_open(const char *path, char **cause);
void		 agent_close(struct agent *);
int		 agent_io(struct agent *, char **cause);
short		 agent_events(struct agent *);
int		 agent_wait(struct agent *, double timeout, char **cause);
void		 agent_list_request(struct agent *);
int		 agent_list_parse(struct agent *, char **cause);
void		 agent_sign_request(struct agent *, const struct agent_key *,
		    const unsigned char *, size_t, unsigned flags);
int		 agent_sign_parse(struct agent *, unsigned char **sig,
		    size_t *siglen, char **cause);

#endif

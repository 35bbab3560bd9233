/*
 * known_hosts.h - the known_hosts file model (known_hosts.c), for the host
 * key policy (hostkey.c).  Private to ssh/.
 */
#ifndef TUNNELD_KNOWN_HOSTS_H
#define TUNNELD_KNOWN_HOSTS_H

#include <libssh2.h>

#include "ssh.h"

#define KNOWN_HOSTS_LINE	16384	/* longer lines are skipped */

/* The host key types known_hosts can hold, in OpenSSH's order of
 * preference. */
#define KH_NKEY_TYPES		6
struct kh_key_type {
	int		 hostkey_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int		 known_type;	/* LIBSSH2_KNOWNHOST_KEY_* */
	const char	*method;
};
extern const struct kh_key_type kh_key_types[KH_NKEY_TYPES];

/* One entry of libssh2's collection, and the line it came from. */
struct kh_entry {
	struct libssh2_knownhost	*e;
	int				 line;
};

struct kh_revoked {
	char	*key;		/* base64, as on the @revoked line */
	int	 line;
};

/* @cert-authority PATTERNS KEYTYPE KEY: the host patterns, the key
 * (base64, as on the line), and the line. */
struct kh_ca {
	char	*hosts;
	char	*key;
	int	 line;
};

/* One file's entries, kept apart so that messages name the right file. */
struct kh_file {
	const char		*path;
	LIBSSH2_KNOWNHOSTS	*kh;
	struct kh_entry		*entries;
	size_t			 nentries;
	struct kh_revoked	*revoked;
	size_t			 nrevoked;
	struct kh_ca		*cas;
	size_t			 ncas;
};

struct known_hosts {
	const struct session_params *tc;
	struct kh_file		 files[2];	/* the user's (or the configured
						   one), then the system's */
	size_t			 nfiles;
	char			*home_file;
	char			*name;	/* "host", or "[host]:port" */
	char			*plain;	/* "host" */
};

void	known_hosts_init(struct known_hosts *, const struct session_params *);
void	known_hosts_free(struct known_hosts *);
int	known_hosts_load(struct known_hosts *, LIBSSH2_SESSION *, char **);
int	known_hosts_lookup(struct known_hosts *, const char *, const char *,
	    size_t, int, struct kh_file **, int *);
int	known_hosts_has_type(struct known_hosts *, const char *, size_t,
	    struct kh_file **, int *);
char	*known_hosts_types(struct known_hosts *, const char *);
int	known_hosts_ca(struct known_hosts *, struct kh_file **, int *);
int	known_hosts_ca_key(struct known_hosts *, const char *,
	    struct kh_file **, const struct kh_ca **);
int	known_hosts_append(const struct session_params *, const char *, int,
	    const char *, size_t, char **);

#endif

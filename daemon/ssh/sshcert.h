/*
 * sshcert.h - OpenSSH certificates read and verified (sshcert.c).  Private to ssh/.
 */
#ifndef TUNNELD_SSHCERT_H
#define TUNNELD_SSHCERT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SSHCERT_USER		1
#define SSHCERT_HOST		2
#define SSHCERT_MAX_PRINCIPALS	256	/* ssh-keygen's own limit */
#define SSHCERT_MAX_CRITICAL	16

/* Bytes inside the parsed blob, not NUL-terminated. */
struct sshcert_str {
	const unsigned char	*p;
	size_t			 len;
};

struct sshcert {
	struct sshcert_str	type;	/* "ssh-ed25519-cert-v01@openssh.com" */
	struct sshcert_str	plain;	/* "ssh-ed25519" */
	struct sshcert_str	nonce;
	struct sshcert_str	key;	/* the key's fields, after the nonce */
	uint64_t		serial;
	uint32_t		kind;	/* SSHCERT_USER or SSHCERT_HOST */
	struct sshcert_str	key_id;
	struct sshcert_str	principals[SSHCERT_MAX_PRINCIPALS];
	size_t			nprincipals;	/* 0: any */
	uint64_t		valid_after, valid_before;	/* seconds */
	struct sshcert_str	critical[SSHCERT_MAX_CRITICAL];	/* names */
	size_t			ncritical;
	struct sshcert_str	signature_key, signature;
};

int	sshcert_parse(const unsigned char *, size_t, struct sshcert *,
	    const char **why);
int	sshcert_str_is(const struct sshcert_str *, const char *);
int	sshcert_key_is(const struct sshcert *, const unsigned char *, size_t);
int	sshcert_verify(const struct sshcert *, const char **why);
int	sshcert_sha256(const unsigned char *, size_t, unsigned char[32]);
int	sshcert_check_host(const struct sshcert *, const char *, uint64_t,
	    const char **why);

/* certscan.c: a server's host certificate, fetched */
enum certscan_state { CSR_IDENT, CSR_KEXINIT, CSR_REPLY, CSR_DONE };
struct certscan_rx {
	enum certscan_state	 state;
	const char		*want;	/* the certificate types asked for */
	unsigned		 lines;	/* before the identification */
	unsigned char		*buf;	/* what the server sent */
	size_t			 len, used;
	const unsigned char	*cert;	/* CSR_DONE: inside buf */
	size_t			 certlen;
	char			 reason[128];	/* a DISCONNECT's */
};
void	certscan_rx_init(struct certscan_rx *, const char *);
void	certscan_rx_free(struct certscan_rx *);
int	certscan_rx_step(struct certscan_rx *, const char **why);

struct event_base;
struct certscan;
/* the certificate, or an error: refused (1) when the server's answer
 * itself says no (no certificate offered, not SSH 2, damaged), 0 when the
 * fetch could not be made (the connection, the time, a DISCONNECT) */
typedef void (*certscan_cb)(const unsigned char *, size_t, const char *,
	    int refused, void *);
struct certscan *certscan_start(struct event_base *, const struct sockaddr *,
	    socklen_t, const char *, double, certscan_cb, void *,
	    const char **);
void	certscan_free(struct certscan *);

#endif

/*
 * hostkey.c - the server's host key is always verified, before any channel.
 *
 * Against known_hosts (OpenSSH format: hashed entries, [host]:port entries,
 * @revoked) and/or a pinned SHA256 fingerprint, with ssh(1)'s rules: the key
 * must be one recorded for "[host]:port" (or "host" on port 22) or for the
 * plain host name; any other key recorded for "[host]:port", of whatever
 * type, makes it a changed key, never a new one.  libssh2's readfile() stops
 * at the first line it cannot parse, so files are read here (file.c: never
 * a FIFO or a device) and fed line by line, each file into its own
 * collection so that messages name the file and line of an entry.  Before
 * the handshake, the host key algorithms are ordered to match the types the
 * files hold for this host; libssh2 otherwise prefers ECDSA while OpenSSH
 * records ed25519.  accept-new adds a key by writing a new file and renaming
 * it over the old one.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>

#include "session.h"

#define SYSTEM_KNOWN_HOSTS	"/etc/ssh/ssh_known_hosts"
#define KNOWN_HOSTS_MAX		(16 * 1024 * 1024)	/* bytes of one file */
#define KNOWN_HOSTS_LINE	16384	/* longer lines are skipped */
#define KNOWN_HOSTS_TRIES	3	/* rewrites raced by another writer */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen,
    int pad)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		if (o + 4 >= outlen)
			break;
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64chars[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < len)
			out[o++] = b64chars[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Decode, skipping white space; -1 on a bad character. */
ssize_t
base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	unsigned v = 0;
	size_t i, o = 0;
	int bits = 0;
	const char *p;

	for (i = 0; i < len; i++) {
		if (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' ||
		    in[i] == '\t')
			continue;
		if (in[i] == '=')
			break;
		if ((p = strchr(b64chars, in[i])) == NULL || in[i] == '\0')
			return -1;
		v = (v << 6) | (unsigned)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (ssize_t)o;
}

/* "SHA256:" + unpadded base64, as ssh-keygen -l prints it. */
char *
hostkey_fingerprint(LIBSSH2_SESSION *ssh)
{
	const char *h;
	char b64[64], *s;

	h = libssh2_hostkey_hash(ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (h == NULL)
		return xstrdup("SHA256:(unavailable)");
	base64_encode((const unsigned char *)h, 32, b64, sizeof b64, 0);
	xasprintf(&s, "SHA256:%s", b64);
	return s;
}

static const struct {
	int		 hostkey_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int		 known_type;	/* LIBSSH2_KNOWNHOST_KEY_* */
	const char	*method;
} key_types[] = {	/* in OpenSSH's order of preference */
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	    "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	    "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	    "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	    "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss" },
};

/* One entry of libssh2's collection, and the line it came from. */
struct kh_entry {
	struct libssh2_knownhost	*e;
	int				 line;
};

struct kh_revoked {
	char	*key;		/* base64, as on the @revoked line */
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

/*
 * The names ssh(1) looks the server up by, lower case as ssh makes them:
 * "[host]:port" unless the port is 22, and the plain "host".
 */
static void
known_hosts_init(struct known_hosts *k, const struct session_params *tc)
{
	char *home, *p;

	memset(k, 0, sizeof *k);
	k->tc = tc;
	k->plain = xstrdup(tc->host);
	for (p = k->plain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (tc->port == 22)
		k->name = xstrdup(k->plain);
	else
		xasprintf(&k->name, "[%s]:%d", k->plain, tc->port);
	if (tc->known_hosts != NULL) {
		k->files[k->nfiles++].path = tc->known_hosts;
		return;
	}
	home = home_dir();
	xasprintf(&k->home_file, "%s/.ssh/known_hosts", home);
	free(home);
	k->files[k->nfiles++].path = k->home_file;
	k->files[k->nfiles++].path = SYSTEM_KNOWN_HOSTS;
}

static void
known_hosts_free(struct known_hosts *k)
{
	struct kh_file *f;
	size_t i, j;

	for (i = 0; i < k->nfiles; i++) {
		f = &k->files[i];
		if (f->kh != NULL)
			libssh2_knownhost_free(f->kh);
		for (j = 0; j < f->nrevoked; j++)
			free(f->revoked[j].key);
		free(f->revoked);
		free(f->entries);
	}
	free(k->home_file);
	free(k->name);
	free(k->plain);
}

/* @revoked host keytype base64: the key is refused, whatever the host. */
static void
known_hosts_revoked(struct kh_file *f, char *p, int lineno)
{
	char *key, *save;

	strtok_r(p, " \t", &save);
	strtok_r(NULL, " \t", &save);
	strtok_r(NULL, " \t", &save);
	if ((key = strtok_r(NULL, " \t", &save)) == NULL)
		return;
	f->revoked = xreallocarray(f->revoked, f->nrevoked + 1,
	    sizeof *f->revoked);
	f->revoked[f->nrevoked].key = xstrdup(key);
	f->revoked[f->nrevoked++].line = lineno;
}

/* One line of a file; what libssh2 cannot read is skipped, and said so. */
static void
known_hosts_line(struct known_hosts *k, struct kh_file *f, char *line,
    size_t n, int lineno)
{
	struct libssh2_knownhost *e, *prev;
	char *p;

	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '#' || *p == '\0')
		return;
	if (strncmp(p, "@revoked", 8) == 0 && (p[8] == ' ' || p[8] == '\t')) {
		known_hosts_revoked(f, p, lineno);
		return;
	}
	if (*p == '@') {
		log_debug("%s: %s:%d: %.*s lines are not supported, skipped",
		    k->tc->name, f->path, lineno, (int)strcspn(p, " \t"), p);
		return;
	}
	if (libssh2_knownhost_readline(f->kh, p, n - (size_t)(p - line),
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
		log_debug("%s: %s:%d: line not understood by libssh2, skipped",
		    k->tc->name, f->path, lineno);
		return;
	}
	/* the entries it added (one per name of "a,b key"), with the line */
	prev = f->nentries > 0 ? f->entries[f->nentries - 1].e : NULL;
	while (libssh2_knownhost_get(f->kh, &e, prev) == 0) {
		f->entries = xreallocarray(f->entries, f->nentries + 1,
		    sizeof *f->entries);
		f->entries[f->nentries].e = e;
		f->entries[f->nentries++].line = lineno;
		prev = e;
	}
}

/*
 * Read one file whole (file.c: a regular file of bounded size, so that a
 * FIFO or a device cannot block the worker) and feed it line by line.  A
 * missing file holds no keys; so does an unreadable default file, as for
 * ssh; anything else is an error: the host key cannot be checked.
 */
static int
known_hosts_load_file(struct known_hosts *k, LIBSSH2_SESSION *ssh,
    struct kh_file *f, char **cause)
{
	char *data, *p, *nl, line[KNOWN_HOSTS_LINE];
	struct stat st;
	size_t len, n;
	int lineno = 0;

	if ((f->kh = libssh2_knownhost_init(ssh)) == NULL) {
		xasprintf(cause, "cannot read known_hosts %s: out of memory",
		    f->path);
		return -1;
	}
	if (file_read(f->path, "known_hosts", KNOWN_HOSTS_MAX, FILE_TRUST,
	    &data, &len, &st, cause) != 0) {
		if (errno == ENOENT || (k->tc->known_hosts == NULL &&
		    errno != EINVAL && errno != EFBIG && errno != EPERM)) {
			log_debug("%s: %s", k->tc->name, *cause);
			free(*cause);
			*cause = NULL;
			return 0;
		}
		return -1;
	}
	for (p = data; p < data + len; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(data + len - p))) == NULL)
			nl = data + len;
		n = (size_t)(nl - p);
		while (n > 0 && strchr(" \t\r", p[n - 1]) != NULL)
			n--;
		if (n >= sizeof line) {
			log_debug("%s: %s:%d: line longer than %zu bytes, "
			    "skipped", k->tc->name, f->path, lineno,
			    sizeof line - 1);
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		known_hosts_line(k, f, line, n, lineno);
	}
	free(data);
	return 0;
}

static int
known_hosts_load(struct known_hosts *k, LIBSSH2_SESSION *ssh, char **cause)
{
	size_t i;

	for (i = 0; i < k->nfiles; i++) {
		if (known_hosts_load_file(k, ssh, &k->files[i], cause) != 0)
			return -1;
	}
	return 0;
}

static int
known_hosts_line_of(const struct kh_file *f, const struct libssh2_knownhost *e)
{
	size_t i;

	for (i = 0; i < f->nentries; i++) {
		if (f->entries[i].e == e)
			return f->entries[i].line;
	}
	return 0;
}

/*
 * KEY for exactly NAME in every file: LIBSSH2_KNOWNHOST_CHECK_MATCH if one
 * entry holds it; else _MISMATCH if an entry of type TYPE (0: of any type)
 * holds another key, with the first such entry's file and line; else
 * _NOTFOUND.  ssh(1) decides the same way (hostfile.c,
 * check_hostkeys_by_key_or_type: a known key of another type is a change).
 */
static int
known_hosts_lookup(struct known_hosts *k, const char *name, const char *key,
    size_t len, int type, struct kh_file **where, int *line)
{
	struct libssh2_knownhost *e;
	struct kh_file *f;
	size_t i;
	int rc, found = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;

	*where = NULL;
	*line = 0;
	for (i = 0; i < k->nfiles; i++) {
		f = &k->files[i];
		if (f->kh == NULL)
			continue;
		e = NULL;
		rc = libssh2_knownhost_checkp(f->kh, name, -1, key, len,
		    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
		    type, &e);
		if (rc == LIBSSH2_KNOWNHOST_CHECK_FAILURE)
			return rc;
		if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH ||
		    (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && *where == NULL)) {
			*where = f;
			*line = e != NULL ? known_hosts_line_of(f, e) : 0;
		}
		if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
			return rc;
		if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			found = rc;
	}
	return found;
}

/* Whether a key of key_types[i] is known for NAME (a dummy key never
 * matches: MISMATCH means an entry of that type exists). */
static int
known_hosts_has_type(struct known_hosts *k, const char *name, size_t i,
    struct kh_file **where, int *line)
{
	return known_hosts_lookup(k, name, "x", 1, key_types[i].known_type,
	    where, line) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

/* "ssh-ed25519 (FILE:LINE), ...": the keys known for NAME, by type. */
static char *
known_hosts_types(struct known_hosts *k, const char *name)
{
	struct kh_file *f;
	char *s = NULL, *n;
	size_t i;
	int line;

	for (i = 0; i < nitems(key_types); i++) {
		if (!known_hosts_has_type(k, name, i, &f, &line))
			continue;
		xasprintf(&n, "%s%s%s (%s:%d)", s != NULL ? s : "",
		    s != NULL ? ", " : "", key_types[i].method, f->path, line);
		free(s);
		s = n;
	}
	return s != NULL ? s : xstrdup("a key of a type libssh2 cannot use");
}

/*
 * Order LIBSSH2_METHOD_HOSTKEY as ssh(1) does (sshconnect2.c,
 * order_hostkeyalgs): the types known for this host first, so that a server
 * holding several keys shows the one on record; then, for a port other than
 * 22, the types known for the plain host name, whose keys ssh also accepts;
 * then the rest in OpenSSH's order, ed25519 first.  The rest stay offered, so
 * that a server that offers only another type is told apart from a network
 * failure (hostkey_verify calls that a changed key, as ssh does).
 */
int
hostkey_plan(LIBSSH2_SESSION *ssh, const struct session_params *tc,
    struct hostkey_plan *plan, char **cause)
{
	struct known_hosts k;
	struct kh_file *f;
	char pref[256], *why = NULL;
	size_t i, used = 0;
	int rank[nitems(key_types)], r, line;

	memset(plan, 0, sizeof *plan);
	for (i = 0; i < nitems(key_types); i++)
		rank[i] = 2;
	if (tc->known_hosts != NULL || tc->host_key == NULL) {
		known_hosts_init(&k, tc);
		if (known_hosts_load(&k, ssh, &why) != 0) {
			log_debug("%s: %s", tc->name, why);	/* verify says */
			free(why);
		} else {
			for (i = 0; i < nitems(key_types); i++) {
				if (known_hosts_has_type(&k, k.name, i, &f,
				    &line))
					rank[i] = 0;
				else if (tc->port != 22 && known_hosts_has_type(
				    &k, k.plain, i, &f, &line))
					rank[i] = 1;
			}
		}
		known_hosts_free(&k);
	}
	pref[0] = '\0';
	for (r = 0; r <= 2; r++) {
		for (i = 0; i < nitems(key_types); i++) {
			if (rank[i] == r)
				used += (size_t)snprintf(pref + used,
				    sizeof pref - used, "%s%s", used ? "," : "",
				    key_types[i].method);
		}
	}
	plan->method_pref = xstrdup(pref);
	(void)cause;
	return 0;
}

static int
hostkey_known_type(int hostkey_type, const char **method)
{
	size_t i;

	for (i = 0; i < nitems(key_types); i++) {
		if (key_types[i].hostkey_type == hostkey_type) {
			*method = key_types[i].method;
			return key_types[i].known_type;
		}
	}
	*method = "unknown";
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* All of BUF to FD: 0, or -1 with errno. */
static int
hostkey_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The new file: the old content, a newline if its last line has none, the
 * entry; the old file's mode and owner (a new file: 0644, as ssh makes it
 * under the usual umask); on disk before it is renamed. */
static int
known_hosts_fill(int fd, const char *tmp, const char *old, size_t oldlen,
    const struct stat *st, const char *entry, size_t elen, char **cause)
{
	struct stat nst;

	if (hostkey_write_all(fd, old, oldlen) != 0 ||
	    (oldlen > 0 && old[oldlen - 1] != '\n' &&
	    hostkey_write_all(fd, "\n", 1) != 0) ||
	    hostkey_write_all(fd, entry, elen) != 0) {
		xasprintf(cause, "cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, st != NULL ? st->st_mode & 07777 : 0644) == -1 ||
	    fstat(fd, &nst) == -1) {
		xasprintf(cause, "cannot set the mode of %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (st != NULL && (nst.st_uid != st->st_uid ||
	    nst.st_gid != st->st_gid) &&
	    fchown(fd, st->st_uid, st->st_gid) == -1) {
		xasprintf(cause, "cannot give %s the owner of the file it "
		    "replaces (uid %lu, gid %lu): %s", tmp,
		    (unsigned long)st->st_uid, (unsigned long)st->st_gid,
		    strerror(errno));
		return -1;
	}
	if (fsync(fd) == -1) {
		xasprintf(cause, "cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether PATH is still the file that was read (or still absent). */
static int
known_hosts_same(const char *path, const struct stat *st)
{
	struct stat now;

	if (lstat(path, &now) == -1)
		return errno == ENOENT && st == NULL;
	return st != NULL && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino && now.st_size == st->st_size &&
	    now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	    now.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static void
known_hosts_sync_dir(const char *tunnel, const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		log_warnx("%s: known_hosts: fsync of directory %s: %s", tunnel,
		    dir, strerror(errno));
	if (fd != -1)
		close(fd);
}

/*
 * One writer per known_hosts path in this process: workers that learn keys
 * at the same time (accept-new) take turns, each reading the file as the
 * one before left it, so that every key is kept and a change seen between
 * the read and the rename is another program's.  A lock per path (as
 * written in the configuration), made on first use and freed with its
 * last user.
 */
struct kh_lock {
	char		*path;
	pthread_mutex_t	 mutex;
	unsigned	 users;
	struct kh_lock	*next;
};
static pthread_mutex_t	 kh_locks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct kh_lock	*kh_locks;

static struct kh_lock *
kh_lock(const char *path)
{
	struct kh_lock *l;

	pthread_mutex_lock(&kh_locks_mutex);
	for (l = kh_locks; l != NULL; l = l->next) {
		if (strcmp(l->path, path) == 0)
			break;
	}
	if (l == NULL) {
		l = xcalloc(1, sizeof *l);
		l->path = xstrdup(path);
		pthread_mutex_init(&l->mutex, NULL);
		l->next = kh_locks;
		kh_locks = l;
	}
	l->users++;
	pthread_mutex_unlock(&kh_locks_mutex);
	pthread_mutex_lock(&l->mutex);
	return l;
}

static void
kh_unlock(struct kh_lock *l)
{
	struct kh_lock **pp;

	pthread_mutex_unlock(&l->mutex);
	pthread_mutex_lock(&kh_locks_mutex);
	if (--l->users == 0) {
		for (pp = &kh_locks; *pp != l; pp = &(*pp)->next)
			;
		*pp = l->next;
		pthread_mutex_destroy(&l->mutex);
		free(l->path);
		free(l);
	}
	pthread_mutex_unlock(&kh_locks_mutex);
}

/* Whether the file already holds ENTRY as a whole line (another tunnel to
 * the same server learnt the same key first). */
static int
known_hosts_holds(const char *old, size_t oldlen, const char *entry,
    size_t elen)
{
	const char *p = old, *end = old + oldlen;

	while (p != NULL && (size_t)(end - p) >= elen) {
		if (memcmp(p, entry, elen) == 0)
			return 1;
		if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
	}
	return 0;
}

/*
 * One attempt at adding ENTRY to PATH: 0, -1 with *cause, or 1 if another
 * program changed the file meanwhile (the caller tries again).  Called
 * with PATH's kh_lock held.
 */
static int
known_hosts_rewrite(const char *tunnel, const char *path, int mkdir_ok,
    const char *entry, size_t elen, char **cause)
{
	struct stat lst, st, *old_st = NULL;
	char *old = NULL, *dir, *slash, *tmp;
	size_t oldlen = 0;
	int fd, rc = -1;

	if (lstat(path, &lst) == 0) {
		if (S_ISLNK(lst.st_mode)) {
			xasprintf(cause, "known_hosts %s is a symbolic link: "
			    "tunneld neither writes through it nor replaces "
			    "it; set known_hosts to the file it points to",
			    path);
			return -1;
		}
		if (file_read(path, "known_hosts", KNOWN_HOSTS_MAX,
		    FILE_NOFOLLOW | FILE_TRUST, &old, &oldlen, &st,
		    cause) != 0)
			return errno == ENOENT ? 1 : -1;
		old_st = &st;
		if (known_hosts_holds(old, oldlen, entry, elen)) {
			free(old);
			return 0;
		}
	} else if (errno != ENOENT) {
		xasprintf(cause, "known_hosts %s: %s", path, strerror(errno));
		return -1;
	} else if (file_trust(path, "known_hosts", cause) != 0)
		return -1;	/* the directories it would be created in */
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else
		slash[slash == dir ? 1 : 0] = '\0';
	if (old_st == NULL && mkdir_ok && mkdir(dir, 0700) == 0)
		log_notice("%s: created %s for known_hosts, as ssh does",
		    tunnel, dir);
	xasprintf(&tmp, "%s.tunneld-XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		xasprintf(cause, "cannot create a file beside known_hosts %s: "
		    "%s", path, strerror(errno));
		goto out;
	}
	if (known_hosts_fill(fd, tmp, old, oldlen, old_st, entry, elen,
	    cause) != 0) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1) {
		xasprintf(cause, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (!known_hosts_same(path, old_st)) {
		unlink(tmp);
		rc = 1;
		goto out;
	}
	if (rename(tmp, path) == -1) {
		xasprintf(cause, "cannot replace known_hosts %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	known_hosts_sync_dir(tunnel, dir);
	rc = 0;
out:
	free(tmp);
	free(dir);
	free(old);
	return rc;
}

/*
 * Add ENTRY (one whole line) to the known_hosts file PATH as careful tools
 * replace a file: a new file beside it, renamed over the old one, so that a
 * crash leaves either the old file or the new one whole (see
 * known_hosts_rewrite).  ssh(1) appends with fopen("a+") instead: it adds a
 * missing newline too, but a crash can leave half a line and it writes
 * through a symbolic link; tunneld refuses a link, and anything but a
 * regular file.
 */
static int
known_hosts_append(const char *tunnel, const char *path, int mkdir_ok,
    const char *entry, size_t elen, char **cause)
{
	struct kh_lock *l = kh_lock(path);
	int i, rc;

	for (i = 0; i < KNOWN_HOSTS_TRIES; i++) {
		if ((rc = known_hosts_rewrite(tunnel, path, mkdir_ok, entry,
		    elen, cause)) <= 0) {
			kh_unlock(l);
			return rc;
		}
		free(*cause);
		*cause = NULL;
	}
	kh_unlock(l);
	xasprintf(cause, "known_hosts %s was changed by another program %d "
	    "times while tunneld was adding a key: not added", path,
	    KNOWN_HOSTS_TRIES);
	return -1;
}

/* accept-new: record a key for a host none is known for, as ssh does. */
static int
hostkey_learn(struct known_hosts *k, const char *key, size_t len,
    int known_type, char **cause)
{
	struct kh_file *f = &k->files[0];
	struct libssh2_knownhost *entry;
	char line[KNOWN_HOSTS_LINE];
	size_t outlen;
	int rc;

	if (f->kh == NULL) {
		xasprintf(cause, "cannot record the new host key: %s was not "
		    "read", f->path);
		return -1;
	}
	rc = libssh2_knownhost_addc(f->kh, k->name, NULL, key, len, NULL, 0,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    known_type, &entry);
	if (rc == 0)
		rc = libssh2_knownhost_writeline(f->kh, entry, line,
		    sizeof line, &outlen, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	if (rc != 0) {
		xasprintf(cause, "cannot record the new host key (libssh2 "
		    "error %d)", rc);
		return -1;
	}
	return known_hosts_append(k->tc->name, f->path,
	    f->path == k->home_file, line, outlen, cause);
}

/* Another key, of the same type or of another, is known for this host. */
static void
hostkey_changed(struct known_hosts *k, const char *method, int known_type,
    const char *fp, char **cause)
{
	struct kh_file *f;
	char *types;
	size_t i;
	int line;

	for (i = 0; i < nitems(key_types); i++) {
		if (key_types[i].known_type == known_type &&
		    known_hosts_has_type(k, k->name, i, &f, &line)) {
			xasprintf(cause, "HOST KEY FOR %s HAS CHANGED: the "
			    "server offers %s %s, which does not match the "
			    "key in %s:%d; if the change is expected, remove "
			    "the old key (ssh-keygen -R '%s' -f %s)", k->name,
			    method, fp, f->path, line, k->name, f->path);
			return;
		}
	}
	known_hosts_lookup(k, k->name, "x", 1, 0, &f, &line);
	types = known_hosts_types(k, k->name);
	xasprintf(cause, "HOST KEY FOR %s HAS CHANGED: the server offers %s "
	    "%s, but the keys known for it are of other types: %s; as ssh "
	    "does, this is not taken for a new host: if the server really "
	    "dropped those keys, remove them (ssh-keygen -R '%s' -f %s)",
	    k->name, method, fp, types, k->name, f->path);
	free(types);
}

/* No key is known for this host (under the name ssh would record). */
static int
hostkey_new(struct known_hosts *k, const char *key, size_t len,
    int known_type, const char *method, const char *fp, int pinned,
    char **cause)
{
	const struct session_params *tc = k->tc;
	struct kh_file *f;
	int line;

	/* As ssh: a key recorded for the plain host name is good for any
	 * port; another key there does not make it a changed key. */
	if (tc->port != 22 && known_hosts_lookup(k, k->plain, key, len, 0,
	    &f, &line) == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		log_debug("%s: host key found for %s (without port) in %s:%d",
		    tc->name, k->plain, f->path, line);
		return 0;
	}
	if (pinned)
		return 0;
	if (tc->accept_new) {
		if (hostkey_learn(k, key, len, known_type, cause) != 0)
			return -1;
		log_notice("%s: added %s %s for %s to %s (accept-new)",
		    tc->name, method, fp, k->name, k->files[0].path);
		return 0;
	}
	xasprintf(cause, "host key for %s is unknown: the server offers %s "
	    "%s; after checking that fingerprint, add it to %s (ssh-keyscan "
	    "-p %d %s >> %s) or set strict_host_key_checking = "
	    "\"accept-new\"", k->name, method, fp, k->files[0].path,
	    tc->port, tc->host, k->files[0].path);
	return -1;
}

static int
hostkey_revoked(struct known_hosts *k, const char *b64, const char *method,
    const char *fp, char **cause)
{
	struct kh_file *f;
	size_t i, j;

	for (i = 0; i < k->nfiles; i++) {
		f = &k->files[i];
		for (j = 0; j < f->nrevoked; j++) {
			if (strcmp(f->revoked[j].key, b64) != 0)
				continue;
			xasprintf(cause, "host key for %s (%s %s) is marked "
			    "@revoked in known_hosts %s:%d", k->name, method,
			    fp, f->path, f->revoked[j].line);
			return 1;
		}
	}
	return 0;
}

/* The pinned fingerprint, if any: 0 (none, or it matches) or -1. */
static int
hostkey_pin(const struct session_params *tc, const char *method, const char *fp,
    char **cause)
{
	size_t a, b;
	char *hp;

	if (tc->host_key == NULL)
		return 0;
	a = strcspn(tc->host_key, "=");
	b = strcspn(fp, "=");
	if (a == b && strncmp(tc->host_key, fp, a) == 0)
		return 0;
	if (tc->port == 22)
		hp = xstrdup(tc->host);
	else
		xasprintf(&hp, "[%s]:%d", tc->host, tc->port);
	xasprintf(cause, "host key for %s does not match the pinned host_key "
	    "%s: the server offers %s %s", hp, tc->host_key, method, fp);
	free(hp);
	return -1;
}

int
hostkey_verify(LIBSSH2_SESSION *ssh, const struct session_params *tc,
    char **cause)
{
	struct known_hosts k;
	struct kh_file *f;
	const char *key, *method;
	char *fp, *b64 = NULL;
	size_t len;
	int type, known_type, line, rc = -1;

	if ((key = libssh2_session_hostkey(ssh, &len, &type)) == NULL) {
		xasprintf(cause, "the server sent no host key");
		return -1;
	}
	known_type = hostkey_known_type(type, &method);
	fp = hostkey_fingerprint(ssh);
	if (hostkey_pin(tc, method, fp, cause) != 0) {
		free(fp);
		return -1;
	}
	if (tc->host_key != NULL && tc->known_hosts == NULL) {
		free(fp);
		return 0;
	}

	known_hosts_init(&k, tc);
	if (known_hosts_load(&k, ssh, cause) != 0)
		goto out;
	b64 = xmalloc(len * 2 + 8);
	base64_encode((const unsigned char *)key, len, b64, len * 2 + 8, 1);
	if (hostkey_revoked(&k, b64, method, fp, cause))
		goto out;
	switch (known_hosts_lookup(&k, k.name, key, len, 0, &f, &line)) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		log_debug("%s: host key %s %s found in %s:%d", tc->name,
		    method, fp, f->path, line);
		rc = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		hostkey_changed(&k, method, known_type, fp, cause);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		rc = hostkey_new(&k, key, len, known_type, method, fp,
		    tc->host_key != NULL, cause);
		break;
	default:
		xasprintf(cause, "host key for %s could not be checked "
		    "against known_hosts", k.name);
		break;
	}
out:
	known_hosts_free(&k);
	free(b64);
	free(fp);
	return rc;
}

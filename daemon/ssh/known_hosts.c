/*
 * known_hosts.c - known_hosts files as ssh(1) reads them (OpenSSH format:
 * hashed entries, [host]:port entries, @revoked): each file read whole
 * (file.c: never a FIFO or a device) and fed to libssh2 line by line, into
 * a collection of its own so that messages name the file and line of an
 * entry, since libssh2's readfile() stops at the first line it cannot
 * parse; lookups by the names ssh uses; and a key added by writing a new
 * file and renaming it over the old one, one writer per path at a time.
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

#include "known_hosts.h"
#include "session.h"

#define SYSTEM_KNOWN_HOSTS	"/etc/ssh/ssh_known_hosts"
#define KNOWN_HOSTS_MAX		(16 * 1024 * 1024)	/* bytes of one file */
#define KNOWN_HOSTS_TRIES	3	/* rewrites raced by another writer */

const struct kh_key_type kh_key_types[] = {
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

/*
 * The names ssh(1) looks the server up by, lower case as ssh makes them:
 * "[host]:port" unless the port is 22, and the plain "host".
 */
void
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

void
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
		for (j = 0; j < f->ncas; j++) {
			free(f->cas[j].hosts);
			free(f->cas[j].key);
		}
		free(f->cas);
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

/* @cert-authority patterns keytype key: the CAs trusted for hosts. */
static void
known_hosts_cert_authority(struct kh_file *f, char *p, int lineno)
{
	char *hosts, *key, *save;

	strtok_r(p, " \t", &save);
	if ((hosts = strtok_r(NULL, " \t", &save)) == NULL ||
	    strtok_r(NULL, " \t", &save) == NULL ||
	    (key = strtok_r(NULL, " \t", &save)) == NULL)
		return;
	f->cas = xreallocarray(f->cas, f->ncas + 1, sizeof *f->cas);
	f->cas[f->ncas].hosts = xstrdup(hosts);
	f->cas[f->ncas].key = xstrdup(key);
	f->cas[f->ncas++].line = lineno;
}

/* ssh's match_pattern(): "*" and "?" are the only wildcards ("[" is not). */
static int
known_hosts_wild(const char *s, const char *pat)
{
	for (; *pat != '\0'; pat++, s++) {
		if (*pat == '*') {
			for (; *s != '\0'; s++) {
				if (known_hosts_wild(s, pat + 1))
					return 1;
			}
			return known_hosts_wild(s, pat + 1);
		}
		if (*s == '\0' || (*pat != '?' && *pat != *s))
			return 0;
	}
	return *s == '\0';
}

/*
 * Does name match the pattern list of a known_hosts line, as ssh's
 * match_hostname() does: comma-separated wildcards (* and ?), a "!"
 * pattern that matches refuses the name.  Hashed names are not matched.
 */
static int
known_hosts_match(const char *name, const char *list)
{
	char *copy, *pat, *save;
	int neg, matched = 0;

	copy = xstrdup(list);
	for (pat = copy; *pat != '\0'; pat++)	/* name is lower case */
		*pat = (char)tolower((unsigned char)*pat);
	for (pat = strtok_r(copy, ",", &save); pat != NULL;
	    pat = strtok_r(NULL, ",", &save)) {
		if ((neg = *pat == '!'))
			pat++;
		if (!known_hosts_wild(name, pat))
			continue;
		if (neg) {
			matched = 0;
			break;
		}
		matched = 1;
	}
	free(copy);
	return matched;
}

/*
 * Is there a @cert-authority line for this host (by either name ssh looks
 * it up by)?  1 with its file and line, or 0.
 */
int
known_hosts_ca(struct known_hosts *k, struct kh_file **fp, int *line)
{
	const char *hosts;
	size_t i, j;

	for (i = 0; i < k->nfiles; i++) {
		for (j = 0; j < k->files[i].ncas; j++) {
			hosts = k->files[i].cas[j].hosts;
			if (!known_hosts_match(k->name, hosts) &&
			    !known_hosts_match(k->plain, hosts))
				continue;
			*fp = &k->files[i];
			*line = k->files[i].cas[j].line;
			return 1;
		}
	}
	return 0;
}

/*
 * The @cert-authority lines that hold KEY (base64): 1 with the first whose
 * patterns match this host (by either name), as ssh trusts a CA; 0 with
 * the first that holds it for other hosts only; -1 if none holds it.
 */
int
known_hosts_ca_key(struct known_hosts *k, const char *key,
    struct kh_file **fp, const struct kh_ca **cap)
{
	const struct kh_ca *ca;
	size_t i, j;
	int rc = -1;

	for (i = 0; i < k->nfiles; i++) {
		for (j = 0; j < k->files[i].ncas; j++) {
			ca = &k->files[i].cas[j];
			if (strcmp(ca->key, key) != 0)
				continue;
			if (known_hosts_match(k->name, ca->hosts) ||
			    known_hosts_match(k->plain, ca->hosts)) {
				*fp = &k->files[i];
				*cap = ca;
				return 1;
			}
			if (rc == -1) {
				*fp = &k->files[i];
				*cap = ca;
				rc = 0;
			}
		}
	}
	return rc;
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
	if (strncmp(p, "@cert-authority", 15) == 0 &&
	    (p[15] == ' ' || p[15] == '\t')) {
		known_hosts_cert_authority(f, p, lineno);
		return;
	}
	if (*p == '@') {
		session_params_log(k->tc, LOG_LVL_DEBUG, "%s:%d: %.*s lines "
		    "are not supported, skipped", f->path, lineno,
		    (int)strcspn(p, " \t"), p);
		return;
	}
	if (libssh2_knownhost_readline(f->kh, p, n - (size_t)(p - line),
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
		session_params_log(k->tc, LOG_LVL_DEBUG, "%s:%d: line not "
		    "understood by libssh2, skipped", f->path, lineno);
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
			session_params_log(k->tc, LOG_LVL_DEBUG, "%s", *cause);
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
			session_params_log(k->tc, LOG_LVL_DEBUG, "%s:%d: line "
			    "longer than %zu bytes, skipped", f->path, lineno,
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

int
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
int
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

/* Whether a key of kh_key_types[i] is known for NAME (a dummy key never
 * matches: MISMATCH means an entry of that type exists). */
int
known_hosts_has_type(struct known_hosts *k, const char *name, size_t i,
    struct kh_file **where, int *line)
{
	return known_hosts_lookup(k, name, "x", 1, kh_key_types[i].known_type,
	    where, line) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

/* "ssh-ed25519 (FILE:LINE), ...": the keys known for NAME, by type. */
char *
known_hosts_types(struct known_hosts *k, const char *name)
{
	struct kh_file *f;
	char *s = NULL, *n;
	size_t i;
	int line;

	for (i = 0; i < nitems(kh_key_types); i++) {
		if (!known_hosts_has_type(k, name, i, &f, &line))
			continue;
		xasprintf(&n, "%s%s%s (%s:%d)", s != NULL ? s : "",
		    s != NULL ? ", " : "", kh_key_types[i].method, f->path,
		    line);
		free(s);
		s = n;
	}
	return s != NULL ? s : xstrdup("a key of a type libssh2 cannot use");
}

/* All of BUF to FD: 0, or -1 with errno. */
static int
known_hosts_write_all(int fd, const char *buf, size_t len)
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

	if (known_hosts_write_all(fd, old, oldlen) != 0 ||
	    (oldlen > 0 && old[oldlen - 1] != '\n' &&
	    known_hosts_write_all(fd, "\n", 1) != 0) ||
	    known_hosts_write_all(fd, entry, elen) != 0) {
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
known_hosts_sync_dir(const struct session_params *tc, const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		session_params_log(tc, LOG_LVL_WARNING, "known_hosts: fsync of "
		    "directory %s: %s", dir, strerror(errno));
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
known_hosts_rewrite(const struct session_params *tc, const char *path,
    int mkdir_ok, const char *entry, size_t elen, char **cause)
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
		session_params_log(tc, LOG_LVL_NOTICE, "created %s for "
		    "known_hosts, as ssh does", dir);
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
	known_hosts_sync_dir(tc, dir);
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
int
known_hosts_append(const struct session_params *tc, const char *path,
    int mkdir_ok, const char *entry, size_t elen, char **cause)
{
	struct kh_lock *l = kh_lock(path);
	int i, rc;

	for (i = 0; i < KNOWN_HOSTS_TRIES; i++) {
		if ((rc = known_hosts_rewrite(tc, path, mkdir_ok, entry,
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

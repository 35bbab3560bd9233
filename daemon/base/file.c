/*
 * file.c - the files a configuration names (identity_file, known_hosts,
 * passphrase_file, password_file),
 * opened by a worker thread without ever blocking it.
 *
 * Only a regular file of bounded size is read.  open() of a FIFO waits for
 * a writer, a device may never end or act on being opened, a directory is no
 * file, and a huge file would stall the worker while it is read: each is
 * refused with an error that names the path and what it is.  The type is
 * checked before open() (so that no device is ever opened) and again on the
 * descriptor (opened O_NONBLOCK, so that a file swapped for a FIFO in between
 * cannot block either).  What this cannot prevent: a file on a network mount
 * that stops answering blocks stat() and read() like any other program.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base.h"

static int	trust_entry(const char *, const char *, const char *,
		    const struct stat *, char **);

/* "a FIFO (named pipe)", for "PATH is a FIFO (named pipe), not ...". */
const char *
file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a file";
}

static int
file_check(const char *path, const char *what, const struct stat *st,
    off_t max, char **cause)
{
	if (!S_ISREG(st->st_mode)) {
		xasprintf(cause, "%s %s is %s, not a regular file: refused",
		    what, path, file_kind(st->st_mode));
		errno = EINVAL;
		return -1;
	}
	if (st->st_size > max) {
		xasprintf(cause, "%s %s is too large (%lld bytes; at most %lld "
		    "are read): refused", what, path, (long long)st->st_size,
		    (long long)max);
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/*
 * Open PATH for reading if it is a regular file of at most MAX bytes; its
 * fstat in *st.  FILE_NOFOLLOW: a symbolic link is refused too.
 * FILE_TRUST: the file and the directories above it must be trusted
 * (file_trust()), the file checked again on the opened descriptor.  The
 * descriptor, or -1 with *cause and errno (ENOENT: the file does not exist).
 */
int
file_open(const char *path, const char *what, off_t max, int flags,
    struct stat *st, char **cause)
{
	struct stat pre;
	int fd, oflags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, e;

	if (flags & FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if (((flags & FILE_NOFOLLOW) ? lstat(path, &pre) : stat(path, &pre)) ==
	    -1) {
		e = errno;
		xasprintf(cause, "%s %s: %s", what, path, strerror(e));
		errno = e;
		return -1;
	}
	if (file_check(path, what, &pre, max, cause) != 0)
		return -1;
	if ((flags & FILE_TRUST) && file_trust(path, what, cause) != 0)
		return -1;
	if ((fd = open(path, oflags)) == -1) {
		e = errno;
		xasprintf(cause, "%s %s: %s", what, path, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, st) == -1) {
		e = errno;
		xasprintf(cause, "%s %s: %s", what, path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	if (file_check(path, what, st, max, cause) != 0 ||
	    ((flags & FILE_TRUST) && trust_entry(what, path, path, st,
	    cause) != 0)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Exactly LEN bytes from FD into BUF (the size fstat gave); 0 or -1. */
int
file_read_fd(int fd, const char *path, const char *what, char *buf,
    size_t len, char **cause)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(cause, "%s %s: %s", what, path,
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			xasprintf(cause, "%s %s: the file shrank while it was "
			    "read (%zu of %zu bytes)", what, path, done, len);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * The whole of PATH (see file_open) in *data, NUL-terminated, *len bytes.
 * 0, or -1 with *cause and errno as file_open leaves it.
 */
int
file_read(const char *path, const char *what, off_t max, int flags,
    char **data, size_t *len, struct stat *st, char **cause)
{
	int fd;

	*data = NULL;
	*len = 0;
	if ((fd = file_open(path, what, max, flags, st, cause)) == -1)
		return -1;
	*len = (size_t)st->st_size;
	*data = xmalloc(*len + 1);
	if (file_read_fd(fd, path, what, *data, *len, cause) != 0) {
		close(fd);
		free(*data);
		*data = NULL;
		*len = 0;
		errno = EIO;
		return -1;
	}
	(*data)[*len] = '\0';
	close(fd);
	return 0;
}

/*
 * Memory for secrets (a private key file, a passphrase, a password): its
 * own pages, left out of core dumps (MADV_DONTDUMP), wiped and unmapped by
 * secret_free().  The mapping's length is kept in front of the block.
 */
#define SECRET_HDR	16

void *
secret_alloc(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), maplen;
	char *p;

	maplen = (len + SECRET_HDR + pg - 1) / pg * pg;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fputs("out of memory (secret_alloc)\n", stderr);
		abort();
	}
	(void)madvise(p, maplen, MADV_DONTDUMP);	/* best effort */
	memcpy(p, &maplen, sizeof maplen);
	return p + SECRET_HDR;
}

void
secret_free(void *block)
{
	char *p = block;
	size_t maplen;

	if (p == NULL)
		return;
	p -= SECRET_HDR;
	memcpy(&maplen, p, sizeof maplen);
	explicit_bzero(p, maplen);
	munmap(p, maplen);
}

/*
 * Group bits that are an ACL's mask (systemd's credentials: root's, 0400,
 * and an ACL entry "user:SERVICE-UID:r"; stat() shows the mask as the
 * group's, 0440): 1 if the ACL lets no one but this user read, 0 if it
 * lets someone else, -1 if there is no ACL.  The xattr is read as the
 * kernel gives it (linux/posix_acl_xattr.h: a version, then tag, perm and
 * id, little-endian), without libacl.
 */
#define ACL_XATTR_VERSION	2
#define ACL_TAG_USER		0x02
#define ACL_TAG_GROUP_OBJ	0x04
#define ACL_TAG_GROUP		0x08
#define ACL_TAG_OTHER		0x20

static uint32_t
file_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static int
file_acl_private(int fd)
{
	unsigned char buf[4 + 8 * 64], *e;
	ssize_t n;
	unsigned tag, perm;

	if ((n = fgetxattr(fd, "system.posix_acl_access", buf, sizeof buf)) <
	    4 || (n - 4) % 8 != 0 || file_le32(buf) != ACL_XATTR_VERSION)
		return -1;
	for (e = buf + 4; e < buf + n; e += 8) {
		tag = e[0] | e[1] << 8;
		perm = e[2] | e[3] << 8;
		if (perm == 0)
			continue;
		if ((tag == ACL_TAG_USER && file_le32(e + 4) != geteuid()) ||
		    tag == ACL_TAG_GROUP_OBJ || tag == ACL_TAG_GROUP ||
		    tag == ACL_TAG_OTHER)
			return 0;
	}
	return 1;
}

/*
 * A file that holds a secret, with ssh's rules for a private key: a regular
 * file (file_open), owned by this user or root, readable by no one else,
 * not empty.  Unlike ssh, group bits that are the mask of an ACL granting
 * this user alone pass: that is how systemd hands out credentials.  The
 * file and its directories must be trusted (FILE_TRUST), and it is opened
 * without following a symbolic link (O_NOFOLLOW) and checked on that
 * descriptor: a link, whoever owns it, could be pointed at another secret
 * (a host key) between the check and the read.  *data (secret_alloc()ed,
 * NUL-terminated, *len bytes) or -1 with *cause, which names WHAT and PATH.
 */
int
file_read_secret(const char *path, const char *what, off_t max, char **data,
    size_t *len, char **cause)
{
	struct stat st;
	int fd, acl;

	*data = NULL;
	*len = 0;
	if ((fd = file_open(path, what, max, FILE_NOFOLLOW | FILE_TRUST, &st,
	    cause)) == -1)
		return -1;
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		xasprintf(cause, "%s %s is owned by uid %lu, not by this user "
		    "(uid %lu) or root: refused, as ssh does", what, path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto fail;
	}
	if ((st.st_mode & 077) != 0 && ((st.st_mode & 007) != 0 ||
	    file_acl_private(fd) != 1)) {
		acl = file_acl_private(fd) == 0;
		xasprintf(cause, "%s %s has permissions %04o%s, which are too "
		    "open: a secret must not be readable by group or others "
		    "(%schmod 600 %s); refused, as ssh does", what, path,
		    (unsigned)(st.st_mode & 07777), acl ? " and an ACL" : "",
		    acl ? "setfacl -b, " : "", path);
		goto fail;
	}
	if (st.st_size == 0) {
		xasprintf(cause, "%s %s is empty", what, path);
		goto fail;
	}
	*data = secret_alloc((size_t)st.st_size + 1);
	if (file_read_fd(fd, path, what, *data, (size_t)st.st_size,
	    cause) != 0) {
		secret_free(*data);
		*data = NULL;
		goto fail;
	}
	*len = (size_t)st.st_size;
	(*data)[*len] = '\0';
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * A passphrase or password file: its first line, without the newline (as
 * systemd-creds and "echo secret > file" leave it).  0, or -1 with *cause.
 */
int
file_read_password(const char *path, const char *what, char **pw,
    size_t *len, char **cause)
{
	char *nl;

	if (file_read_secret(path, what, 4096, pw, len, cause) != 0)
		return -1;
	if ((nl = strpbrk(*pw, "\r\n")) != NULL) {
		explicit_bzero(nl, *len - (size_t)(nl - *pw));
		*len = (size_t)(nl - *pw);
	}
	if (*len == 0) {
		xasprintf(cause, "%s %s: its first line is empty", what, path);
		secret_free(*pw);
		*pw = NULL;
		return -1;
	}
	return 0;
}

/*
 * The trust model, as sshd's StrictModes (OpenSSH's safe_path()): a file
 * tunneld acts on - configuration, drop-ins and their directory, identity,
 * known_hosts, password and passphrase files - and every directory above
 * it up to / must be owned by a trusted user and writable by no one else.
 * Trusted: root and the user the daemon runs as; for the system daemon run
 * by root, the service user (TUNNELD_SERVICE_USER) too.  A directory that
 * others may write is accepted only if it is sticky (/tmp): then no one
 * but the owner of an entry in it can rename or remove that entry, and the
 * entry itself must be trusted.  The path is checked as written (a link on
 * the way must be owned by a trusted user, so that no one else can point
 * it elsewhere) and as realpath() resolves it (the directories the file
 * really is in).
 */
static uid_t	trust_service = (uid_t)-1;

/* On the main thread, before any worker: getpwnam() is not reentrant. */
void
file_trust_init(int system_mode)
{
	struct passwd *pw;

	if (geteuid() == 0 && system_mode &&
	    (pw = getpwnam(TUNNELD_SERVICE_USER)) != NULL && pw->pw_uid != 0)
		trust_service = pw->pw_uid;
}

static int
trust_owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid() ||
	    (trust_service != (uid_t)-1 && uid == trust_service);
}

/* "uid 1000 (bob)", in buf; reentrant, as worker threads call it. */
static const char *
trust_user(uid_t uid, char *buf, size_t len)
{
	struct passwd pwd, *pw = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pwd, tmp, sizeof tmp, &pw) == 0 && pw != NULL)
		snprintf(buf, len, "%s (uid %lu)", pw->pw_name,
		    (unsigned long)uid);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)uid);
	return buf;
}

/* Who may own a trusted file, for messages. */
static const char *
trust_owners(char *buf, size_t len)
{
	char me[256], svc[256];

	if (geteuid() == 0 && trust_service == (uid_t)-1)
		snprintf(buf, len, "root");
	else if (geteuid() == 0)
		snprintf(buf, len, "root or %s", trust_user(trust_service,
		    svc, sizeof svc));
	else
		snprintf(buf, len, "root or %s", trust_user(geteuid(), me,
		    sizeof me));
	return buf;
}

/*
 * One entry on the way to WHAT FILE: NAME (the file itself, or a directory
 * or link above it) with its stat.  0, or -1 with *cause naming the file,
 * the entry, its owner and mode.
 */
static int
trust_entry(const char *what, const char *file, const char *name,
    const struct stat *st, char **cause)
{
	char owner[256], owners[600], entry[PATH_MAX + 64];
	const char *by;

	if (strcmp(name, file) == 0 && !S_ISLNK(st->st_mode))
		snprintf(entry, sizeof entry, "%s %s", what, file);
	else
		snprintf(entry, sizeof entry, "%s %s: %s %s", what, file,
		    S_ISLNK(st->st_mode) ? "the symbolic link" :
		    S_ISDIR(st->st_mode) ? "the directory" : "the file", name);
	if (!trust_owner_ok(st->st_uid)) {
		xasprintf(cause, "%s is owned by %s, mode %04o, not by %s: "
		    "refused, as sshd's StrictModes does", entry,
		    trust_user(st->st_uid, owner, sizeof owner),
		    (unsigned)(st->st_mode & 07777),
		    trust_owners(owners, sizeof owners));
		errno = EPERM;
		return -1;
	}
	if (S_ISLNK(st->st_mode) || (st->st_mode & 022) == 0 ||
	    (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
		return 0;
	by = (st->st_mode & 022) == 022 ? "group and others" :
	    (st->st_mode & 020) ? "its group" : "others";
	xasprintf(cause, "%s is writable by %s (owner %s, mode %04o): "
	    "refused, as sshd's StrictModes does (chmod go-w %s)", entry, by,
	    trust_user(st->st_uid, owner, sizeof owner),
	    (unsigned)(st->st_mode & 07777), name);
	errno = EPERM;
	return -1;
}

/*
 * PATH and every directory above it, as written (lstat: a link is checked
 * as a link) or resolved.  What does not exist is skipped: a missing file
 * is someone else's error, and known_hosts may be created.  A final entry
 * that is neither a file, a directory nor a link is left to file_open(),
 * which refuses it by its type.
 */
static int
trust_walk(const char *what, const char *file, const char *path,
    char **cause)
{
	char *p = xstrdup(path), *slash;
	struct stat st;
	size_t n;
	int first = 1, rc = 0;

	while ((n = strlen(p)) > 1 && p[n - 1] == '/')
		p[n - 1] = '\0';
	for (;;) {
		if (lstat(p, &st) == 0) {
			if ((!first || S_ISREG(st.st_mode) ||
			    S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) &&
			    trust_entry(what, file, p, &st, cause) != 0) {
				rc = -1;
				break;
			}
		} else if (errno != ENOENT && errno != ENOTDIR) {
			xasprintf(cause, "%s %s: cannot check %s: %s", what,
			    file, p, strerror(errno));
			rc = -1;
			break;
		}
		first = 0;
		if (strcmp(p, "/") == 0 || (slash = strrchr(p, '/')) == NULL)
			break;
		slash[slash == p ? 1 : 0] = '\0';
	}
	free(p);
	return rc;
}

/* realpath() of PATH, or of the longest part of it that exists. */
static char *
trust_resolve(const char *path)
{
	char *p = xstrdup(path), *r, *slash;

	while ((r = realpath(p, NULL)) == NULL) {
		if ((slash = strrchr(p, '/')) == NULL || slash == p) {
			r = realpath(slash == p ? "/" : ".", NULL);
			break;
		}
		*slash = '\0';
	}
	free(p);
	return r;
}

/*
 * Whether WHAT PATH may be trusted (see above): 0, or -1 with *cause and
 * errno EPERM.
 */
int
file_trust(const char *path, const char *what, char **cause)
{
	char *real;
	int rc;

	if (trust_walk(what, path, path, cause) != 0)
		return -1;
	if ((real = trust_resolve(path)) == NULL)
		return 0;
	rc = strcmp(real, path) == 0 ? 0 : trust_walk(what, path, real,
	    cause);
	free(real);
	return rc;
}

/*
 * check.c - tunneld -n --deep: what `tunneld -n` cannot see from the file
 * alone, checked as the user who runs it - which is why it is an option of
 * tunneld and not a request to a running daemon: run as the service's user
 * (runuser -u tunneld -- tunneld --system -n --deep) before a restart, it
 * finds what would put a tunnel in `failed` or a forward in `degraded`
 * after it, with the running daemon's own listeners told apart from other
 * programs'.
 *
 * For each tunnel: its identity is loaded as a session would load it
 * (identity.c: the file, its permissions, type and passphrase), its
 * known_hosts file opened (or, without one, the defaults looked for), and
 * each forward's local listen addresses bound and released.  Nothing
 * connects anywhere.  Every problem is printed as FILE:LINE: tunnel NAME:
 * what, then what to do; the exit status is 1 if there is one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"

#define CHECK_FILE_MAX	(16 * 1024 * 1024)	/* known_hosts to open */
#define SYSTEM_KNOWN_HOSTS "/etc/ssh/ssh_known_hosts"	/* as hostkey.c */

struct check {
	const struct tunnel_conf *tc;
	const char	*user;		/* who runs the check */
	unsigned	 problems;
	char		*identity;	/* what was loaded, for the OK line */
};

/* One problem: where, what, and what to do (or NULL). */
static void
check_problem(struct check *c, const char *file, int line, const char *what,
    const char *fix)
{
	printf("%s:%d: tunnel %s: %s\n", file, line, c->tc->name, what);
	if (fix != NULL)
		printf("    fix: %s\n", fix);
	c->problems++;
}

/* --- identities ---------------------------------------------------------- */

/* What to do about a key file that identity_load() refused. */
static char *
check_identity_fix(struct check *c, const char *path)
{
	char *fix = NULL;

	if (path == NULL)
		xasprintf(&fix, "set identity_file, or create a key: "
		    "ssh-keygen -t ed25519 -N '' -f ~%s/.ssh/id_ed25519 and "
		    "add its .pub to the server's authorized_keys", c->user);
	else if (access(path, F_OK) == -1 && errno == ENOENT)
		xasprintf(&fix, "create it (ssh-keygen -t ed25519 -N '' -f %s) "
		    "and add %s.pub to the server's authorized_keys, or "
		    "correct identity_file", path, path);
	else if (access(path, R_OK) == -1 && errno == EACCES)
		xasprintf(&fix, "the service's user must read it, and only "
		    "it: chown %s %s && chmod 600 %s (and let %s through its "
		    "directories)", c->user, path, path, c->user);
	return fix;
}

static void
check_identity(struct check *c)
{
	const struct tunnel_conf *tc = c->tc;
	struct session_params p;
	struct identity id;
	char *cause = NULL, *fix;

	tunnel_ssh_conf_params(tc, &p);
	if (identity_load(&p, &id, &cause) != 0) {
		fix = check_identity_fix(c, tc->identity_file);
		check_problem(c, tc->file, tc->line, cause, fix);
		free(fix);
		free(cause);
		return;
	}
	if (id.path != NULL)
		xasprintf(&c->identity, " (identity %s, %s)", id.path, id.type);
	identity_clear(&id);
	if (identity_agent_probe(&p, &cause) != 0) {
		check_problem(c, tc->file, tc->line, cause, "start the agent "
		    "and ssh-add the key, or correct identity_agent");
		free(cause);
		cause = NULL;
	}
	if (tc->password_file != NULL) {
		char *pw = NULL;
		size_t len;

		if (file_read_password(tc->password_file, "password_file",
		    &pw, &len, &cause) != 0) {
			check_problem(c, tc->file, tc->line, cause, "the "
			    "service's user must own it, mode 600 or 400");
			free(cause);
		} else
			secret_free(pw);
	}
}

/*
 * Without known_hosts, host_key or accept-new, the server's key is looked
 * up in ~/.ssh/known_hosts and the system's: with neither readable, it
 * cannot be known, and the tunnel would fail.
 */
static void
check_known_hosts_default(struct check *c)
{
	const struct tunnel_conf *tc = c->tc;
	char *home = home_dir(), *path, *what, *fix;

	xasprintf(&path, "%s/.ssh/known_hosts", home);
	if (access(path, R_OK) == 0 || access(SYSTEM_KNOWN_HOSTS, R_OK) == 0) {
		free(path);
		free(home);
		return;
	}
	xasprintf(&what, "no known_hosts to verify %s's host key by: neither "
	    "%s nor %s can be read by user %s", tc->host, path,
	    SYSTEM_KNOWN_HOSTS, c->user);
	xasprintf(&fix, "record the server's key (ssh-keyscan -p %d %s >> %s, "
	    "after checking the fingerprint), or set known_hosts, host_key or "
	    "strict_host_key_checking = \"accept-new\"", tc->port, tc->host,
	    path);
	check_problem(c, tc->file, tc->line, what, fix);
	free(what);
	free(fix);
	free(path);
	free(home);
}

static void
check_known_hosts(struct check *c)
{
	const struct tunnel_conf *tc = c->tc;
	struct stat st;
	char *cause = NULL, *fix;
	int fd;

	if (tc->known_hosts == NULL) {
		if (tc->host_key == NULL && tc->strict == HKC_YES)
			check_known_hosts_default(c);
		return;
	}
	if ((fd = file_open(tc->known_hosts, "known_hosts", CHECK_FILE_MAX,
	    FILE_TRUST, &st, &cause)) != -1) {
		close(fd);
		return;
	}
	if (errno == ENOENT && tc->strict == HKC_ACCEPT_NEW) {
		free(cause);
		return;		/* created on the first connection */
	}
	if (errno == ENOENT)
		xasprintf(&fix, "create it with the server's key (ssh-keyscan "
		    "-p %d %s >> %s, after checking the fingerprint), or set "
		    "strict_host_key_checking = \"accept-new\"", tc->port,
		    tc->host, tc->known_hosts);
	else if (errno == EPERM)
		xasprintf(&fix, "give it and its directories to root (or %s) "
		    "and let no one else write them, or correct known_hosts",
		    c->user);
	else
		xasprintf(&fix, "let user %s read it (chmod 644 %s), or "
		    "correct known_hosts", c->user, tc->known_hosts);
	check_problem(c, tc->file, tc->line, cause, fix);
	free(fix);
	free(cause);
}

/* --- local listeners ----------------------------------------------------- */

/* The inode of the TCP socket listening on port, from /proc/net; 0: none
 * found. */
static unsigned long
check_listen_inode(int port)
{
	static const char *tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned long ino = 0, lport, st, inode;
	char line[512];
	FILE *f;
	size_t i;

	for (i = 0; i < nitems(tables) && ino == 0; i++) {
		if ((f = fopen(tables[i], "re")) == NULL)
			continue;
		while (ino == 0 && fgets(line, sizeof line, f) != NULL) {
			/* sl local rem st tx:rx tr:tm retr uid timeout inode */
			if (sscanf(line, "%*d: %*[0-9A-Fa-f]:%lx "
			    "%*[0-9A-Fa-f]:%*x %lx %*x:%*x %*x:%*x %*x %*u "
			    "%*u %lu", &lport, &st, &inode) == 3 &&
			    lport == (unsigned long)port && st == 0x0a)
				ino = inode;	/* 0x0a: TCP_LISTEN */
		}
		fclose(f);
	}
	return ino;
}

/* "pid N (comm)" if pid (a /proc entry) holds the socket of inode ino. */
static char *
check_pid_holds(const char *pid, unsigned long ino)
{
	char want[64], link[64], comm[64], path[600], *who = NULL;
	struct dirent *d;
	DIR *fds;
	FILE *f;

	snprintf(want, sizeof want, "socket:[%lu]", ino);
	snprintf(path, sizeof path, "/proc/%s/fd", pid);
	if ((fds = opendir(path)) == NULL)
		return NULL;
	while (who == NULL && (d = readdir(fds)) != NULL) {
		snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, d->d_name);
		memset(link, 0, sizeof link);
		if (readlink(path, link, sizeof link - 1) == -1 ||
		    strcmp(link, want) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/comm", pid);
		comm[0] = '\0';
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(comm, sizeof comm, f) == NULL)
				comm[0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		xasprintf(&who, "pid %s (%s)", pid, comm);
	}
	closedir(fds);
	return who;
}

/*
 * The process that holds the TCP listener on port, as "pid N (comm)";
 * NULL if it cannot be seen (another user's, to a user that is not root).
 */
static char *
check_port_owner(int port)
{
	unsigned long ino = check_listen_inode(port);
	char *who = NULL;
	struct dirent *p;
	DIR *proc;

	if (ino == 0 || (proc = opendir("/proc")) == NULL)
		return NULL;
	while (who == NULL && (p = readdir(proc)) != NULL) {
		if (p->d_name[0] >= '0' && p->d_name[0] <= '9')
			who = check_pid_holds(p->d_name, ino);
	}
	closedir(proc);
	return who;
}

/* Bind and listen on addr:port as forward.c would, and let go; 0 or errno. */
static int
check_bind_tcp(int family, const char *addr, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1, e = 0;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return EINVAL;
		len = sizeof *sin;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return EINVAL;
		len = sizeof *sin6;
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 1) == -1)
		e = errno;
	close(fd);
	return e;
}

/* What to say about a port that is taken, and what to do. */
static void
check_taken(struct check *c, const struct fwdspec *sp, const char *where,
    int port, int e)
{
	char *what, *fix, *who = e == EADDRINUSE ? check_port_owner(port) :
	    NULL;

	if (e != EADDRINUSE) {
		xasprintf(&what, "%s forward \"%s\": cannot listen on %s: %s",
		    fwdspec_kind_name(sp->kind), sp->spec, where, strerror(e));
		fix = xstrdup(e == EACCES ? "a port below 1024 needs "
		    "CAP_NET_BIND_SERVICE (AmbientCapabilities= in the unit): "
		    "or choose a port from 1024 up" : "choose an address this "
		    "machine has");
	} else {
		xasprintf(&what, "%s forward \"%s\": cannot listen on %s: "
		    "port %d is in use by %s", fwdspec_kind_name(sp->kind),
		    sp->spec, where, port, who != NULL ? who :
		    "another program (one this user cannot see)");
		if (who != NULL && strstr(who, "(tunneld)") != NULL)
			fix = xstrdup("if that tunneld runs this "
			    "configuration, this is its own listener and all "
			    "is well; otherwise stop it or choose another "
			    "port");
		else
			xasprintf(&fix, "stop that program, or choose another "
			    "port for this forward (ss -ltnp 'sport = :%d' "
			    "says who has it)", port);
	}
	check_problem(c, sp->file != NULL ? sp->file : c->tc->file,
	    sp->file != NULL ? sp->line : c->tc->line, what, fix);
	free(what);
	free(fix);
	free(who);
}

/* A local (-L) or dynamic (-D) forward's addresses, as forward_bind(). */
static void
check_listen_tcp(struct check *c, const struct fwdspec *sp)
{
	const char *h = sp->listen.host, *addrs[2] = { "127.0.0.1", "::1" };
	int families[2] = { AF_INET, AF_INET6 }, e;
	char where[INET6_ADDRSTRLEN + 16];
	size_t i, n = 2;

	if (h != NULL && strcmp(h, "localhost") != 0) {
		if (fwdspec_bind_is_wildcard(h)) {
			addrs[0] = "0.0.0.0";
			addrs[1] = "::";
		} else {
			addrs[0] = h;
			families[0] = strchr(h, ':') != NULL ? AF_INET6 :
			    AF_INET;
			n = 1;
		}
	}
	for (i = 0; i < n; i++) {
		e = check_bind_tcp(families[i], addrs[i], sp->listen.port);
		if (e == 0 || (n > 1 && families[i] == AF_INET6 &&
		    (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)))
			continue;
		snprintf(where, sizeof where, families[i] == AF_INET6 ?
		    "[%s]:%d" : "%s:%d", addrs[i], sp->listen.port);
		check_taken(c, sp, where, sp->listen.port, e);
	}
}

/* A UNIX socket listener: taken if something accepts on it. */
static void
check_listen_unix(struct check *c, const struct fwdspec *sp)
{
	struct sockaddr_un sun;
	char *what;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sp->listen.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 ||
	    errno == EAGAIN) {
		xasprintf(&what, "%s forward \"%s\": another program listens "
		    "on %s", fwdspec_kind_name(sp->kind), sp->spec,
		    sp->listen.path);
		check_problem(c, sp->file != NULL ? sp->file : c->tc->file,
		    sp->file != NULL ? sp->line : c->tc->line, what,
		    "stop it (or, if it is the running tunneld, all is well), "
		    "or choose another path");
		free(what);
	}
	close(fd);
}

static void
check_forwards(struct check *c)
{
	const struct fwdspec *sp;
	size_t i;

	for (i = 0; i < c->tc->nfwds; i++) {
		sp = &c->tc->fwds[i];
		if (sp->kind == FWD_REMOTE || sp->kind == FWD_REMOTE_DYNAMIC)
			continue;	/* the server listens, not us */
		if (sp->listen.path != NULL)
			check_listen_unix(c, sp);
		else
			check_listen_tcp(c, sp);
	}
}

/* --- ssh_config ---------------------------------------------------------- */

/*
 * tunneld -n: reading the file ran ssh -G for each ssh_config = true
 * tunnel, as this user, and ssh ran whatever a Match exec says: say so.
 */
void
check_note_ssh_config(const struct config *conf)
{
	struct passwd *pw = getpwuid(geteuid());
	size_t i, n = 0;

	for (i = 0; i < conf->ntunnels; i++) {
		if (conf->tunnels[i]->ssh_config)
			n++;
	}
	if (n == 0)
		return;
	printf("note: ssh_config = true: ran ssh -G for %zu tunnel%s, as "
	    "user %s (uid %lu); ssh runs the commands of any Match exec of "
	    "the ssh configuration, as this user\n", n, n == 1 ? "" : "s",
	    pw != NULL ? pw->pw_name : "?", (unsigned long)geteuid());
}

/* --- the whole check ----------------------------------------------------- */

/*
 * Every tunnel of conf, as this user; what is found on stdout.  0 if
 * nothing would fail, 1 otherwise.
 */
int
check_deep(const struct config *conf, int system_mode)
{
	struct passwd *pw = getpwuid(geteuid());
	struct check c;
	unsigned total = 0, bad = 0;
	size_t i;

	memset(&c, 0, sizeof c);
	c.user = pw != NULL ? pw->pw_name : "this user";
	printf("checking as user %s (uid %lu), connecting nowhere\n", c.user,
	    (unsigned long)geteuid());
	if (geteuid() == 0 && system_mode && getpwnam("tunneld") != NULL)
		printf("note: root reads what the service's user may not: run "
		    "this as that user (runuser -u tunneld -- tunneld --system "
		    "-n --deep)\n");
	for (i = 0; i < conf->ntunnels; i++) {
		c.tc = conf->tunnels[i];
		c.problems = 0;
		check_identity(&c);
		check_known_hosts(&c);
		check_forwards(&c);
		if (c.problems == 0)
			printf("%s:%d: tunnel %s: OK%s\n", c.tc->file,
			    c.tc->line, c.tc->name, c.identity != NULL ?
			    c.identity : "");
		else
			bad++;
		free(c.identity);
		c.identity = NULL;
		total += c.problems;
	}
	if (total == 0)
		printf("no problems found in %zu tunnel%s\n", conf->ntunnels,
		    conf->ntunnels == 1 ? "" : "s");
	else
		printf("%u problem%s in %u of %zu tunnel%s\n", total,
		    total == 1 ? "" : "s", bad, conf->ntunnels,
		    conf->ntunnels == 1 ? "" : "s");
	return total == 0 ? 0 : 1;
}

/*
 * tunnelctl - talk to tunneld over its control socket (doc/PROTOCOL.md).
 *
 * Exit status (SPEC.md): 0 success; 1 refused or failed (for up: the tunnel
 * did not come up in time, and why); 2 usage; 3 daemon unreachable;
 * 4 permission denied.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "tunnelctl.h"
#include "util.h"

#define DEFAULT_WAIT	60	/* seconds `up` waits */
#define REPLY_TIMEOUT	30	/* seconds for any reply */
#define TUNNELCTL_SERVICE_USER	"tunneld" /* the system unit's User= (tunneld.h) */

static int	 ctl_fd = -1;
static char	*ctl_socket;
static int	 opt_json;
static int	 opt_no_wait;
static double	 opt_timeout = DEFAULT_WAIT;
static char	 inbuf[PROTOCOL_MAX_OUTPUT];
static size_t	 inlen;

/* The commands tunnelctl sends: the protocol's, but hello. */
static const struct {
	const char	*name;
	int		 names;	/* takes tunnel names */
} ctl_cmds[] = {
	{ PROTOCOL_CMD_STATUS, 1 },
	{ PROTOCOL_CMD_UP, 1 },
	{ PROTOCOL_CMD_DOWN, 1 },
	{ PROTOCOL_CMD_RESTART, 1 },
	{ PROTOCOL_CMD_RELOAD, 0 },
	{ PROTOCOL_CMD_EVENTS, 0 },
	{ PROTOCOL_CMD_METRICS, 0 },
	{ PROTOCOL_CMD_AUTHKEY, 1 },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tunnelctl [-s SOCKET] [-j|--json] COMMAND [ARGS]\n"
	    "  status [NAME...]   all tunnels as a table, or the named ones "
	    "in detail\n"
	    "  up NAME...         bring tunnels up and wait (--no-wait, "
	    "--timeout SECS)\n"
	    "  down NAME...       bring tunnels down and keep them down\n"
	    "  restart NAME...    down, then up\n"
	    "  reload             re-read the configuration\n"
	    "  events             print state changes until interrupted\n"
	    "  metrics            the metrics in the Prometheus text format\n"
	    "  authorized-key NAME  the server's authorized_keys line for "
	    "NAME's key\n"
	    "  import [--name NAME] -- ssh|autossh ARGS...\n"
	    "                     print a profile for an ssh command line\n");
}

/*
 * Whoever listens on path must be tunneld: a process of root, of the
 * caller, or of the service user, never one of another user who could
 * have put a socket there (SO_PEERCRED).  0, or -1 having said why.
 */
static int
ctl_peer_check(const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct passwd *pw;

	if (getsockopt(ctl_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		fprintf(stderr, "tunnelctl: %s: who listens there is unknown "
		    "(SO_PEERCRED: %s): refused\n", path, strerror(errno));
		return -1;
	}
	if (cred.uid == 0 || cred.uid == geteuid() ||
	    ((pw = getpwnam(TUNNELCTL_SERVICE_USER)) != NULL &&
	    pw->pw_uid == cred.uid))
		return 0;
	pw = getpwuid(cred.uid);
	fprintf(stderr, "tunnelctl: %s is served by uid %lu%s%s%s (pid %ld), "
	    "not by root, you or " TUNNELCTL_SERVICE_USER ": not tunneld, "
	    "refused\n", path, (unsigned long)cred.uid, pw != NULL ? " (" : "",
	    pw != NULL ? pw->pw_name : "", pw != NULL ? ")" : "",
	    (long)cred.pid);
	return -1;
}

/* Connect ctl_fd to path; 0, the errno, or -1 if tunneld is not there. */
static int
ctl_connect_to(const char *path)
{
	struct sockaddr_un sun;
	int e;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return ENAMETOOLONG;
	bstrcpy(sun.sun_path, path, sizeof sun.sun_path);	/* checked above */
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd == -1)
		return errno;
	if (connect(ctl_fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		e = errno;
		close(ctl_fd);
		ctl_fd = -1;
		return e;
	}
	if (ctl_peer_check(path) != 0) {
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	return 0;
}

static int
ctl_connect_rc(int e)
{
	if (e == -1)		/* not tunneld */
		return EXIT_UNREACHABLE;
	if (e == ENAMETOOLONG)
		return EXIT_USAGE;
	if (e == EACCES || e == EPERM)
		return EXIT_PERM;
	return EXIT_UNREACHABLE;
}

/*
 * Find the daemon (SPEC.md, "Default paths"): -s or $TUNNELD_SOCKET if
 * given; root talks to the system daemon; any other user to a daemon of
 * their own if one answers at $XDG_RUNTIME_DIR/tunneld.sock, else to the
 * system daemon, so a member of control_group never needs -s.
 */
static int
ctl_connect(void)
{
	const char *env = getenv("TUNNELD_SOCKET");
	char *user;
	int e, e_user;

	if (ctl_socket == NULL && env != NULL && *env != '\0')
		ctl_socket = xstrdup(env);
	if (ctl_socket == NULL && geteuid() == 0)
		ctl_socket = xstrdup(PATHS_SYSTEM_SOCKET);
	if (ctl_socket != NULL) {
		if ((e = ctl_connect_to(ctl_socket)) == 0)
			return EXIT_OK;
		if (e == -1)
			return ctl_connect_rc(e);
		fprintf(stderr, "tunnelctl: cannot reach tunneld at %s: %s\n",
		    ctl_socket, strerror(e));
		return ctl_connect_rc(e);
	}

	user = paths_user_socket();
	if ((e_user = ctl_connect_to(user)) == 0) {
		ctl_socket = user;
		return EXIT_OK;
	}
	if (e_user == -1) {
		free(user);
		return ctl_connect_rc(e_user);
	}
	ctl_socket = xstrdup(PATHS_SYSTEM_SOCKET);
	if ((e = ctl_connect_to(ctl_socket)) == 0) {
		free(user);
		return EXIT_OK;
	}
	if (e == -1) {
		free(user);
		return ctl_connect_rc(e);
	}
	fprintf(stderr, "tunnelctl: cannot reach tunneld: not at %s (yours: "
	    "%s), nor at %s (the system's: %s)\n", user, strerror(e_user),
	    ctl_socket, strerror(e));
	free(user);
	return ctl_connect_rc(e);
}

static int
ctl_send(json_object *req)
{
	const char *s;
	size_t len, off = 0;
	ssize_t n;

	json_object_object_add(req, "protocol",
	    json_object_new_int(PROTOCOL_VERSION));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	while (off < len) {
		n = write(ctl_fd, s + off, len - off);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (write(ctl_fd, "\n", 1) == 1)
		return 0;
fail:
	fprintf(stderr, "tunnelctl: lost the connection to tunneld\n");
	return -1;
}

/* One line from the daemon; NULL on EOF or timeout (timeout < 0: none). */
static json_object *
ctl_recv(int timeout_ms)
{
	struct pollfd pfd = { ctl_fd, POLLIN, 0 };
	json_object *o;
	char *nl;
	ssize_t n;

	for (;;) {
		if ((nl = memchr(inbuf, '\n', inlen)) != NULL) {
			*nl = '\0';
			o = json_tokener_parse(inbuf);
			inlen -= (size_t)(nl + 1 - inbuf);
			memmove(inbuf, nl + 1, inlen);
			if (o == NULL) {
				fprintf(stderr, "tunnelctl: malformed reply "
				    "from tunneld\n");
				return NULL;
			}
			if (!opt_json)	/* --json escapes them itself */
				output_sanitize(o, 0);
			return o;
		}
		if (inlen == sizeof inbuf) {
			fprintf(stderr, "tunnelctl: reply too long\n");
			return NULL;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			if (timeout_ms >= 0)
				fprintf(stderr, "tunnelctl: no reply from "
				    "tunneld\n");
			return NULL;
		}
		n = read(ctl_fd, inbuf + inlen, sizeof inbuf - inlen);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fprintf(stderr, "tunnelctl: tunneld closed the "
			    "connection\n");
			return NULL;
		}
		inlen += (size_t)n;
	}
}

/* Send a request and read its reply; the exit status if refused. */
static int
ctl_call(const char *cmd, char **names, int nnames, json_object **reply)
{
	json_object *req = json_object_new_object(), *a, *ok, *code, *err;
	const char *c;
	int i;

	*reply = NULL;
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (nnames > 0) {
		a = json_object_new_array();
		for (i = 0; i < nnames; i++)
			json_object_array_add(a,
			    json_object_new_string(names[i]));
		json_object_object_add(req, "tunnels", a);
	}
	if (ctl_send(req) != 0) {
		json_object_put(req);
		return EXIT_UNREACHABLE;
	}
	json_object_put(req);
	if ((*reply = ctl_recv(REPLY_TIMEOUT * 1000)) == NULL)
		return EXIT_UNREACHABLE;
	if (json_object_object_get_ex(*reply, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return EXIT_OK;
	c = json_object_object_get_ex(*reply, "code", &code) ?
	    json_object_get_string(code) : PROTOCOL_E_FAILED;
	if (!opt_json)
		fprintf(stderr, "tunnelctl: %s\n",
		    json_object_object_get_ex(*reply, "error", &err) ?
		    json_object_get_string(err) : "request failed");
	else
		printf("%s\n", json_object_to_json_string_ext(*reply,
		    JSON_C_TO_STRING_PLAIN));
	if (strcmp(c, PROTOCOL_E_PERM) == 0)
		return EXIT_PERM;
	if (strcmp(c, PROTOCOL_E_USAGE) == 0)
		return EXIT_USAGE;
	return EXIT_FAILED;
}

static void
print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
}

static int
cmd_status(char **names, int n)
{
	json_object *reply, *tunnels, *out;
	int rc, i, color = output_color();

	if ((rc = ctl_call(PROTOCOL_CMD_STATUS, names, n, &reply)) != EXIT_OK)
		goto out;
	json_object_object_get_ex(reply, "tunnels", &tunnels);
	if (opt_json) {
		out = json_object_new_object();
		json_object_object_add(out, "tunnels",
		    json_object_get(tunnels));
		print_json(out);
		json_object_put(out);
	} else if (n == 0)
		output_table(tunnels, color);
	else {
		for (i = 0; i < (int)json_object_array_length(tunnels); i++)
			output_detail(json_object_array_get_idx(tunnels, i),
			    color);
	}
out:
	json_object_put(reply);
	return rc;
}

/*
 * up: poll the named tunnels until each is up, or one failed, or the time
 * is out; a tunnel in backoff is still trying, so `up` keeps waiting.
 */
/* On a terminal, each step of each tunnel as it happens. */
static void
show_progress(json_object *tunnels, char **shown, int n)
{
	json_object *t;
	const char *st, *ph;
	char now[64];
	int i;

	for (i = 0; i < (int)json_object_array_length(tunnels) && i < n; i++) {
		t = json_object_array_get_idx(tunnels, i);
		st = output_strz(t, "state");
		ph = output_str(t, "phase");
		snprintf(now, sizeof now, "%s", ph != NULL ? ph : st);
		if (shown[i] != NULL && strcmp(shown[i], now) == 0)
			continue;
		free(shown[i]);
		shown[i] = xstrdup(now);
		if (strcmp(st, "backoff") == 0 && output_int(t, "next_retry") > 0)
			fprintf(stderr, "%s: %s (retry in %llds: %s)\n",
			    output_str(t, "name"), now, output_int(t,
			    "next_retry") - (long long)time(NULL),
			    output_str(t, "last_error") ? output_str(t,
			    "last_error") : "");
		else
			fprintf(stderr, "%s: %s\n", output_str(t, "name"), now);
	}
}

static int
wait_up_loop(char **names, int n, json_object **last, char **shown)
{
	struct timespec delay = { 0, 100 * 1000 * 1000 };
	time_t deadline = time(NULL) + (time_t)opt_timeout;
	json_object *reply = NULL, *tunnels, *t;
	const char *st;
	int i, rc, done;

	for (;;) {
		json_object_put(reply);
		if ((rc = ctl_call(PROTOCOL_CMD_STATUS, names, n, &reply)) != EXIT_OK) {
			json_object_put(reply);
			return rc;
		}
		json_object_object_get_ex(reply, "tunnels", &tunnels);
		if (shown != NULL)
			show_progress(tunnels, shown, n);
		done = 1;
		for (i = 0; i < (int)json_object_array_length(tunnels); i++) {
			t = json_object_array_get_idx(tunnels, i);
			st = output_strz(t, "state");
			if (strcmp(st, "failed") == 0 ||
			    strcmp(st, "down") == 0) {
				*last = reply;
				return EXIT_FAILED;
			}
			if (strcmp(st, "up") != 0)
				done = 0;
		}
		if (done) {
			*last = reply;
			return EXIT_OK;
		}
		if (time(NULL) >= deadline) {
			*last = reply;
			return EXIT_FAILED;
		}
		nanosleep(&delay, NULL);
	}
}

static int
wait_up(char **names, int n, json_object **last)
{
	char **shown = xcalloc((size_t)n + 1, sizeof *shown);
	int i, rc;

	rc = wait_up_loop(names, n, last,
	    !opt_json && isatty(STDERR_FILENO) ? shown : NULL);
	for (i = 0; i < n; i++)
		free(shown[i]);
	free(shown);
	return rc;
}

static int
report_tunnels(json_object *reply, int rc, const char *verb)
{
	json_object *tunnels, *t, *out;
	const char *st, *err;
	int i;

	if (reply == NULL)
		return rc;
	json_object_object_get_ex(reply, "tunnels", &tunnels);
	if (opt_json) {
		out = json_object_new_object();
		json_object_object_add(out, "ok",
		    json_object_new_boolean(rc == EXIT_OK));
		json_object_object_add(out, "tunnels",
		    json_object_get(tunnels));
		print_json(out);
		json_object_put(out);
		return rc;
	}
	for (i = 0; i < (int)json_object_array_length(tunnels); i++) {
		t = json_object_array_get_idx(tunnels, i);
		st = output_strz(t, "state");
		err = output_str(t, "last_error");
		if (strcmp(verb, "up") == 0 && strcmp(st, "up") != 0)
			fprintf(stderr, "%s: not up (%s)%s%s\n", output_str(t, "name"),
			    st, err ? ": " : "", err ? err : "");
		else
			printf("%s: %s\n", output_str(t, "name"), st);
	}
	return rc;
}

static int
cmd_change(const char *cmd, char **names, int n)
{
	json_object *reply = NULL, *last = NULL;
	int rc;

	if (n == 0) {
		fprintf(stderr, "tunnelctl: %s needs at least one tunnel "
		    "name\n", cmd);
		return EXIT_USAGE;
	}
	if ((rc = ctl_call(cmd, names, n, &reply)) != EXIT_OK) {
		json_object_put(reply);
		return rc;
	}
	if (strcmp(cmd, PROTOCOL_CMD_DOWN) == 0 || opt_no_wait) {	/* no waiting */
		rc = report_tunnels(reply, rc, "down");
		json_object_put(reply);
		return rc;
	}
	json_object_put(reply);
	rc = wait_up(names, n, &last);
	rc = report_tunnels(last, rc, "up");
	json_object_put(last);
	return rc;
}

static int
cmd_events(void)
{
	json_object *reply, *ev;
	int rc;

	if ((rc = ctl_call(PROTOCOL_CMD_EVENTS, NULL, 0, &reply)) != EXIT_OK)
		return rc;
	json_object_put(reply);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ev = ctl_recv(-1)) != NULL) {
		if (opt_json)
			print_json(ev);
		else
			output_event(ev);
		json_object_put(ev);
	}
	return EXIT_UNREACHABLE;
}

static int
cmd_reload(void)
{
	json_object *reply;
	int rc;

	static const char *keys[] = { "added", "removed", "restarted",
	    "changed", "unchanged" };
	json_object *a, *errs;
	size_t i, j;

	rc = ctl_call(PROTOCOL_CMD_RELOAD, NULL, 0, &reply);
	if (rc == EXIT_OK && opt_json)
		print_json(reply);
	else if (rc == EXIT_OK) {
		printf("reloaded\n");
		for (i = 0; i < nitems(keys); i++) {
			if (!json_object_object_get_ex(reply, keys[i], &a))
				continue;
			printf("  %-10s", keys[i]);
			for (j = 0; j < json_object_array_length(a); j++)
				printf(" %s", json_object_get_string(
				    json_object_array_get_idx(a, j)));
			printf("\n");
		}
		if (json_object_object_get_ex(reply, "notes", &a)) {
			for (j = 0; j < json_object_array_length(a); j++)
				printf("  note: %s\n", json_object_get_string(
				    json_object_array_get_idx(a, j)));
		}
	} else if (!opt_json && reply != NULL &&
	    json_object_object_get_ex(reply, "errors", &errs)) {
		for (j = 0; j < json_object_array_length(errs); j++)
			fprintf(stderr, "%s\n", json_object_get_string(
			    json_object_array_get_idx(errs, j)));
	}
	json_object_put(reply);
	return rc;
}

/* The text GET /metrics answers, as it is (--json: the reply). */
static int
cmd_metrics(void)
{
	json_object *reply, *text;
	int rc;

	rc = ctl_call(PROTOCOL_CMD_METRICS, NULL, 0, &reply);
	if (rc == EXIT_OK && opt_json)
		print_json(reply);
	else if (rc == EXIT_OK &&
	    json_object_object_get_ex(reply, "metrics", &text))
		fputs(json_object_get_string(text), stdout);
	json_object_put(reply);
	return rc;
}

/* The authorized_keys line for one tunnel (authkey.c). */
static int
cmd_authkey(char **names, int n)
{
	json_object *reply, *tunnels;
	int rc;

	if (n != 1) {
		fprintf(stderr, "tunnelctl: authorized-key takes one tunnel "
		    "name\n");
		return EXIT_USAGE;
	}
	if ((rc = ctl_call(PROTOCOL_CMD_AUTHKEY, names, n, &reply)) ==
	    EXIT_OK && json_object_object_get_ex(reply, "tunnels", &tunnels))
		rc = authkey_print(json_object_array_get_idx(tunnels, 0),
		    opt_json);
	json_object_put(reply);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "no-wait",	no_argument,		NULL, 'W' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *cmd;
	char *ep;
	size_t i;
	int ch, rc;

	if ((rc = import_dispatch(argc, argv)) != -1)
		return rc;
	while ((ch = getopt_long(argc, argv, "s:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctl_socket = optarg;
			break;
		case 'j':
			opt_json = 1;
			break;
		case 'W':
			opt_no_wait = 1;
			break;
		case 'T':
			opt_timeout = strtod(optarg, &ep);
			if (*ep != '\0' || opt_timeout <= 0) {
				fprintf(stderr, "tunnelctl: bad --timeout "
				    "\"%s\"\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("tunnelctl %s\n", VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	for (i = 0; i < nitems(ctl_cmds) && strcmp(cmd, ctl_cmds[i].name) != 0;
	    i++)
		;
	if (i == nitems(ctl_cmds)) {
		fprintf(stderr, "tunnelctl: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!ctl_cmds[i].names && optind != argc) {
		fprintf(stderr, "tunnelctl: %s takes no arguments\n", cmd);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = ctl_connect()) != EXIT_OK)
		return rc;

	if (strcmp(cmd, PROTOCOL_CMD_STATUS) == 0)
		rc = cmd_status(argv + optind, argc - optind);
	else if (strcmp(cmd, PROTOCOL_CMD_EVENTS) == 0)
		rc = cmd_events();
	else if (strcmp(cmd, PROTOCOL_CMD_RELOAD) == 0)
		rc = cmd_reload();
	else if (strcmp(cmd, PROTOCOL_CMD_METRICS) == 0)
		rc = cmd_metrics();
	else if (strcmp(cmd, PROTOCOL_CMD_AUTHKEY) == 0)
		rc = cmd_authkey(argv + optind, argc - optind);
	else
		rc = cmd_change(cmd, argv + optind, argc - optind);
	close(ctl_fd);
	return rc;
}

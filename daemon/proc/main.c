/*
 * main.c - tunneld: options, start-up, signals, shutdown.
 *
 * A new-style daemon: runs in the foreground, logs to stderr, tells systemd
 * when it is ready.  It ends only on a bad configuration at start-up, a
 * fatal local error, or SIGTERM/SIGINT - never because a tunnel failed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>
#include <libconfig.h>

#include "control/control.h"
#include "proc.h"


static enum paths_mode	mode = PATHS_AUTO;

static void
usage(FILE *f)
{
	char *conf = paths_default_config(mode);

	fprintf(f,
	    "usage: tunneld [-nvV] [--system|--user] [-c FILE] [-S SOCKET] "
	    "[--log-level LEVEL] [--print-config]\n"
	    "      --system          the system daemon: %s and %s\n"
	    "                        (the default for root; the system unit "
	    "passes it)\n"
	    "      --user            a user's own daemon: XDG paths (the "
	    "default for others)\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -n, --check           validate the configuration and exit\n"
	    "      --deep            with -n: also load every identity and try\n"
	    "                        every local listen address, as this user\n"
	    "      --print-config    print the effective configuration and exit\n"
	    "  -S, --socket PATH     control socket path\n"
	    "  -v, --verbose         more logging (repeat for debug)\n"
	    "      --log-level LEVEL error, warning, notice, info, debug\n"
	    "  -V, --version         print versions and exit\n",
	    SYSCONFDIR "/tunneld.conf", PATHS_SYSTEM_SOCKET, conf);
	free(conf);
}

static void
version(void)
{
	const char *linked, *built;

	session_library_version(&linked, &built);
	printf("tunneld %s\n", VERSION);
	printf("  libssh2 %s (built with %s)\n", linked, built);
	printf("  libevent %s\n", event_get_version());
	printf("  libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR,
	    LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
	printf("  json-c %s\n", json_c_version());
#ifdef HAVE_SYSTEMD
	printf("  systemd notify: yes\n");
#else
	printf("  systemd notify: no\n");
#endif
}

/*
 * The path of the socket systemd passed (tunneld.socket's ListenStream=),
 * which is the one to name in the log whatever the configuration says.
 */
static char *
activated_path(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;

	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX || sun.sun_path[0] == '\0')
		return NULL;
	sun.sun_path[sizeof sun.sun_path - 1] = '\0';
	return xstrdup(sun.sun_path);
}

/* log.c's summaries of suppressed messages, when their interval ends. */
static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	log_rate_flush();
}

/*
 * SIGTERM or SIGINT before the event loop takes them (config_load runs
 * ssh -G): what ssh -G runs dies too and its temporary file goes, then
 * tunneld dies of the signal as it would have.
 */
static void
startup_signal(int sig)
{
	ssh_config_abort();
	signal(sig, SIG_DFL);
	raise(sig);
}

struct event_base	*tunneld_base;		/* the main thread's loop */
struct config		*tunneld_conf;		/* in force */
static int		 log_level_fixed;	/* by the command line */

/* A reload_observer: the process-wide settings applied at once. */
static void
main_reloaded(enum reload_event ev, const struct config *old,
    const struct config *nc, void *arg)
{
	if (ev != RELOAD_APPLIED)
		return;
	if (!log_level_fixed)
		log_set_level(nc->log_level);
	log_set_rate_limit(nc->log_rate_limit);
	window_total_set((long long)nc->window_budget_total << 20);
}

/* Who hears of what: the observers, in the order they are told. */
static void
main_wire(void)
{
	reload_init(&tunneld_conf);
	reload_observe(main_reloaded, NULL);
	reload_observe(metrics_reloaded, NULL);
	reload_observe(notify_reloaded, NULL);		/* READY=1 last */
	tunnel_observe(control_tunnel_changed, NULL);
	tunnel_observe(notify_tunnel_changed, NULL);
	tunnel_observe(hook_tunnel_changed, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_notice("%s: shutting down", strsignal((int)sig));
		notify_stopping();
		event_base_loopbreak(tunneld_base);
		break;
	case SIGHUP:
		reload_request("SIGHUP", NULL, NULL);
		break;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "system",	no_argument,		NULL, 'Y' },
		{ "user",	no_argument,		NULL, 'U' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "deep",	no_argument,		NULL, 'D' },
		{ "print-config", no_argument,		NULL, 'P' },
		{ "socket",	required_argument,	NULL, 'S' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "log-level",	required_argument,	NULL, 'L' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct event *sigs[3], *log_flush;
	struct timeval flush_tv = { LOG_RATE_INTERVAL, 0 };
	struct errlist errs = { NULL, 0 };
	struct tunnel *t;
	char *config_path = NULL, *socket_path = NULL, *cause = NULL;
	char *owned_config = NULL, *owned_socket = NULL, *owned_path = NULL;
	char *passed = NULL;
	int ch, check = 0, deep = 0, verbose = 0, level = -1, rc = 0;
	int activated;
	size_t i;

	while ((ch = getopt_long(argc, argv, "c:nS:vVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'D':
			deep = 1;
			break;
		case 'Y':
			mode = PATHS_SYSTEM;
			break;
		case 'U':
			mode = PATHS_USER;
			break;
		case 'P':
			check = 2;
			break;
		case 'S':
			socket_path = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'L':
			if ((level = log_level_parse(optarg)) == -1) {
				fprintf(stderr, "tunneld: unknown log level "
				    "\"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (deep && check != 1) {
		fprintf(stderr, "tunneld: --deep goes with -n (--check)\n");
		return 2;
	}
	if (config_path == NULL)
		config_path = owned_config = paths_default_config(mode);
	file_trust_init(paths_is_system(mode));

	signal(SIGTERM, startup_signal);
	signal(SIGINT, startup_signal);
	tunneld_conf = config_load(config_path, &errs);
	if (tunneld_conf == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		errlist_clear(&errs);
		free(owned_config);
		return 1;
	}
	window_total_set((long long)tunneld_conf->window_budget_total << 20);
	if (check == 2) {
		config_print(stdout, tunneld_conf);
		config_free(tunneld_conf);
		free(owned_config);
		return 0;
	}
	if (check) {
		printf("%s: configuration OK (%zu tunnel%s)\n", config_path,
		    tunneld_conf->ntunnels, tunneld_conf->ntunnels == 1 ?
		    "" : "s");
		check_note_ssh_config(tunneld_conf);
		if (deep) {
			log_init(LOG_LVL_WARNING);
			rc = check_deep(tunneld_conf, paths_is_system(mode));
		}
		config_free(tunneld_conf);
		free(owned_config);
		return rc;
	}
	log_level_fixed = level != -1 || verbose > 0;
	if (level == -1)
		level = tunneld_conf->log_level != -1 ?
		    tunneld_conf->log_level : LOG_LVL_INFO;
	level += verbose;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_init(level);
	log_set_rate_limit(tunneld_conf->log_rate_limit);
	budget_init();

	signal(SIGPIPE, SIG_IGN);
	if (session_library_init() != 0) {
		log_error("libssh2_init failed");
		return 1;
	}
	if (worker_threads_enable() != 0 ||
	    (tunneld_base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		return 1;
	}
	if (worker_init(tunneld_base, tunneld_conf->workers, &cause) != 0) {
		log_error("%s", cause);
		free(cause);
		return 1;
	}
	sigs[0] = evsignal_new(tunneld_base, SIGTERM, signal_cb, NULL);
	sigs[1] = evsignal_new(tunneld_base, SIGINT, signal_cb, NULL);
	sigs[2] = evsignal_new(tunneld_base, SIGHUP, signal_cb, NULL);
	for (i = 0; i < nitems(sigs); i++)
		event_add(sigs[i], NULL);
	log_flush = event_new(tunneld_base, -1, EV_PERSIST, log_flush_cb,
	    NULL);
	event_add(log_flush, &flush_tv);
	netwatch_init(tunneld_base);

	if (socket_path == NULL)
		socket_path = tunneld_conf->control_socket != NULL ?
		    tunneld_conf->control_socket :
		    (owned_socket = paths_default_socket(mode));
	activated = notify_listen_fd();
	if (activated != -1 && (passed = activated_path(activated)) != NULL) {
		if (strcmp(passed, socket_path) != 0)
			log_warnx("control socket: systemd passed %s, which "
			    "is used instead of %s", passed, socket_path);
		socket_path = passed;
	}
	/* a copy: the configuration that named it goes at the next reload */
	owned_path = xstrdup(socket_path);
	notify_init();
	if (control_init(tunneld_base, &tunneld_conf, owned_path, activated,
	    &cause) != 0) {
		log_error("%s", cause);
		free(cause);
		free(owned_path);
		free(owned_socket);
		free(passed);
		free(owned_config);
		return 1;
	}
	metrics_init(tunneld_base, tunneld_conf);
	main_wire();
	log_notice("tunneld %s started with %s (%zu tunnel%s)", VERSION,
	    config_path, tunneld_conf->ntunnels,
	    tunneld_conf->ntunnels == 1 ? "" : "s");
	for (i = 0; i < tunneld_conf->ntunnels; i++) {
		t = tunnel_create(tunneld_conf->tunnels[i]);
		if (t->conf->autostart)
			tunnel_command(t, TC_UP, "autostart");
	}
	notify_ready();

	if (event_base_dispatch(tunneld_base) == -1) {
		log_error("event loop failed");
		rc = 1;
	}

	hook_shutdown();
	while ((t = TAILQ_FIRST(&tunnels)) != NULL)
		tunnel_destroy(t);
	if (worker_shutdown() != 0) {
		/* a worker stuck in a blocking call may still use what would
		 * be freed below: exit without it (worker.c) */
		metrics_shutdown();
		control_shutdown();
		notify_shutdown();
		log_notice("stopped, leaving a stuck worker thread behind");
		_exit(rc);
	}
	metrics_shutdown();
	control_shutdown();
	notify_shutdown();
	netwatch_shutdown();
	for (i = 0; i < nitems(sigs); i++)
		event_free(sigs[i]);
	event_free(log_flush);
	log_rate_flush();
	event_base_free(tunneld_base);
	config_free(tunneld_conf);
	session_library_exit();
	free(owned_config);
	free(owned_socket);
	free(owned_path);
	free(passed);
	log_notice("stopped");
	return rc;
}

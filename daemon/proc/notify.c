/*
 * notify.c - what tunneld tells systemd (sd_notify(3), daemon(7)):
 *
 *   READY=1      once the configuration is loaded and the control socket
 *                listens - not waiting for any server, so a late network
 *                does not fail the boot
 *   STATUS=      one line kept current: "3/4 up; campus-bbs: backoff 12s"
 *   RELOADING=1  with MONOTONIC_USEC, then READY=1, around every reload
 *                (also one that is refused)
 *   STOPPING=1   on shutdown
 *   WATCHDOG=1   from the main loop at half of WatchdogSec, so a wedged
 *                loop gets the service restarted
 *
 * Also the control socket handed over by tunneld.socket (sd_listen_fds).
 * Without NOTIFY_SOCKET nothing is sent and nothing fails; built without
 * libsystemd, all of this is absent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "proc.h"

static struct event	*notify_watchdog_ev;
static struct event	*notify_status_ev;
static char		 notify_last[512];

#ifdef HAVE_SYSTEMD
/* Only when every worker thread answers: a stuck one stops the pings. */
static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	if (worker_ping_all() == 0)
		sd_notify(0, "WATCHDOG=1");
}
#endif

/* The one STATUS= line. */
static void
notify_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t, *worst = NULL;
	char line[512], detail[256] = "";
	unsigned n = 0, up = 0;
	time_t now = time(NULL);

	TAILQ_FOREACH(t, &tunnels, entry) {
		if (t->pub_state == TS_DOWN)
			continue;
		n++;
		if (t->pub_state == TS_UP)
			up++;
		else if (worst == NULL || t->pub_state == TS_FAILED ||
		    (t->pub_state == TS_BACKOFF &&
		    worst->pub_state != TS_FAILED))
			worst = t;
	}
	if (worst != NULL && worst->pub_state == TS_BACKOFF &&
	    worst->pub_next_retry)
		snprintf(detail, sizeof detail, "; %s: backoff %llds",
		    worst->name, (long long)(worst->pub_next_retry > now ?
		    worst->pub_next_retry - now : 0));
	else if (worst != NULL)
		snprintf(detail, sizeof detail, "; %s: %s", worst->name,
		    tunnel_state_name(worst->pub_state));
	snprintf(line, sizeof line, "STATUS=%u/%u up%s", up, n, detail);
	if (strcmp(line, notify_last) == 0)
		return;
	snprintf(notify_last, sizeof notify_last, "%s", line);
#ifdef HAVE_SYSTEMD
	sd_notify(0, line);
#endif
}

/* A tunnel_observer: the status line follows the tunnels. */
void
notify_tunnel_changed(const struct tunnel_transition *tr, void *arg)
{
	notify_status();
}

/* A reload_observer, the last: RELOADING=1, then READY=1 once applied. */
void
notify_reloaded(enum reload_event ev, const struct config *old,
    const struct config *nc, void *arg)
{
	if (ev == RELOAD_BEGIN)
		notify_reloading();
	else
		notify_ready();
}

void
notify_status(void)
{
	if (notify_status_ev != NULL)
		event_active(notify_status_ev, 0, 0);
}

void
notify_init(void)
{
	struct timeval tv = { 5, 0 };
#ifdef HAVE_SYSTEMD
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) > 0) {
		usec /= 2;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		notify_watchdog_ev = event_new(tunneld_base, -1, EV_PERSIST,
		    notify_watchdog_cb, NULL);
		event_add(notify_watchdog_ev, &tv);
		log_info("systemd watchdog: WATCHDOG=1 every %.2fs",
		    usec / 1e6);
	}
	/* a countdown in STATUS= ("backoff 12s") is refreshed every 5 s */
	tv.tv_sec = 5;
	tv.tv_usec = 0;
#endif
	if (getenv("NOTIFY_SOCKET") == NULL)	/* nobody to tell */
		return;
	notify_status_ev = event_new(tunneld_base, -1, EV_PERSIST,
	    notify_status_cb, NULL);
	event_add(notify_status_ev, &tv);
}

void
notify_ready(void)
{
	notify_status_cb(-1, 0, NULL);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
}

void
notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	sd_notify(0, msg);
#endif
}

void
notify_stopping(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
}

void
notify_shutdown(void)
{
	if (notify_watchdog_ev != NULL)
		event_free(notify_watchdog_ev);
	if (notify_status_ev != NULL)
		event_free(notify_status_ev);
	notify_watchdog_ev = notify_status_ev = NULL;
}

/* The control socket systemd passed (tunneld.socket), or -1. */
int
notify_listen_fd(void)
{
#ifdef HAVE_SYSTEMD
	int n = sd_listen_fds(1);

	if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1,
	    NULL, 0) > 0)
		return SD_LISTEN_FDS_START;
	if (n > 0)
		log_warnx("systemd passed %d sockets; expected one UNIX stream "
		    "socket for control: ignored", n);
#endif
	return -1;
}

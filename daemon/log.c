/*
 * log.c - leveled logging.  On a terminal, readable lines; under systemd,
 * when standard error is the journal's stream (JOURNAL_STREAM names it),
 * structured journal entries with TUNNEL=, STATE= and FORWARD= fields, so
 * that `journalctl -u tunneld TUNNEL=campus-bbs` tells one tunnel's story;
 * otherwise "<N>" priority prefixes, which journald also understands.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "tunneld.h"

static _Atomic int log_level = LOG_LVL_INFO;	/* any thread logs */
static int log_tty;
#ifdef HAVE_SYSTEMD
static int log_journal;
#endif

static const char *level_names[] = { "error", "warning", "notice", "info",
	"debug" };
/* syslog priorities, understood by journald as a "<N>" line prefix */
static const int level_prio[] = { 3, 4, 5, 6, 7 };

#ifdef HAVE_SYSTEMD
/* Is standard error the journal's stream?  (systemd.exec(5)) */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}
#endif

void
log_init(int level)
{
	log_level = level;
	log_tty = isatty(STDERR_FILENO);
#ifdef HAVE_SYSTEMD
	log_journal = log_stderr_is_journal();
#endif
}

#ifdef HAVE_SYSTEMD
/*
 * The fields of a message.  Every message about a tunnel starts with its
 * name and ": "; a transition reads "NAME: old -> new (...)"; a message
 * about a forward names it as forward "SPEC".
 */
static void
log_journal_send(int level, const char *msg)
{
	char tunnel[128] = "", state[32] = "", fwd[512] = "", f[4][600];
	struct iovec iov[5];
	const char *p, *q;
	size_t n;
	int i = 0;

	if ((p = strstr(msg, ": ")) != NULL && (n = (size_t)(p - msg)) <
	    sizeof tunnel && strchr("abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", msg[0]) != NULL &&
	    strcspn(msg, " ") >= n) {
		memcpy(tunnel, msg, n);
		tunnel[n] = '\0';
		if (!tunnel_known(tunnel))	/* "control: ..." */
			tunnel[0] = '\0';
		else if ((q = strstr(p, " -> ")) != NULL &&
		    strspn(p + 2, "abcdefghijklmnopqrstuvwxyz") ==
		    (size_t)(q - p - 2))
			sscanf(q + 4, "%31[a-z]", state);
	}
	if ((p = strstr(msg, "forward \"")) != NULL &&
	    (q = strchr(p + 9, '"')) != NULL && (size_t)(q - p - 9) <
	    sizeof fwd) {
		memcpy(fwd, p + 9, (size_t)(q - p - 9));
		fwd[q - p - 9] = '\0';
	}
	snprintf(f[0], sizeof f[0], "PRIORITY=%d", level_prio[level]);
	iov[i].iov_base = f[0];
	iov[i++].iov_len = strlen(f[0]);
	snprintf(f[1], sizeof f[1], "TUNNEL=%s", tunnel);
	if (*tunnel != '\0') {
		iov[i].iov_base = f[1];
		iov[i++].iov_len = strlen(f[1]);
	}
	snprintf(f[2], sizeof f[2], "STATE=%s", state);
	if (*state != '\0') {
		iov[i].iov_base = f[2];
		iov[i++].iov_len = strlen(f[2]);
	}
	snprintf(f[3], sizeof f[3], "FORWARD=%s", fwd);
	if (*fwd != '\0') {
		iov[i].iov_base = f[3];
		iov[i++].iov_len = strlen(f[3]);
	}
	/* MESSAGE last, from its own buffer: it may be long */
	{
		char *m;

		if (asprintf(&m, "MESSAGE=%s", msg) == -1)
			return;
		iov[i].iov_base = m;
		iov[i++].iov_len = strlen(m);
		if (sd_journal_sendv(iov, i) < 0)	/* journald gone */
			fprintf(stderr, "<%d>%s\n", level_prio[level], msg);
		free(m);
	}
}
#endif

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < nitems(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	}
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	return -1;
}

void
log_msg(int level, const char *fmt, ...)
{
	char buf[2048], ts[32];
	struct tm tm;
	va_list ap;
	time_t now;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
#ifdef HAVE_SYSTEMD
	if (log_journal) {
		log_journal_send(level, buf);
		return;
	}
#endif
	if (log_tty) {
		now = time(NULL);
		strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
		fprintf(stderr, "%s %s: %s\n", ts, level_names[level], buf);
	} else
		fprintf(stderr, "<%d>%s: %s\n", level_prio[level],
		    level_names[level], buf);
}

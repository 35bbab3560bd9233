/*
 * log.c - leveled logging: readable lines on a terminal; structured
 * entries under systemd, when standard error is the journal's stream
 * (JOURNAL_STREAM names it); otherwise lines with "<N>" priority
 * prefixes, which journald also understands.
 *
 * A journal entry carries the fields its caller passes in struct
 * log_fields (log_fields(), log_vfields(); the tunnels' log_tunnel() and
 * log_forward()): TUNNEL=, STATE= and FORWARD=, as given, so that
 * `journalctl -u tunneld TUNNEL=campus-bbs` tells one tunnel's story.
 *
 * A message repeated faster than log_rate_limit lines per LOG_RATE_INTERVAL
 * is folded, as the kernel's printk_ratelimit and journald's
 * RateLimitBurst do: after the burst its lines are counted, not written,
 * and one line says how many were suppressed when the interval ends.  A
 * message is known by its call site (the format) and its subject: the one
 * passed to log_vfields() (a tunnel's name), or for a message without one
 * the text before its first ": " ("NAME#2", an extra session, counts as
 * NAME).  So one noisy tunnel cannot silence another's lines, nor its own
 * other ones.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
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

#include "base.h"

static _Atomic int log_level = LOG_LVL_INFO;	/* any thread logs */
static int log_tty;
#ifdef HAVE_SYSTEMD
static int log_journal;
#endif

#define RATE_SLOTS	256	/* message keys followed at once */
#define RATE_PROBE	8	/* slots a key may take, from its hash */
#define RATE_ABOUT	64	/* bytes of the text before ": " */
#define RATE_LAST	256	/* bytes of the last suppressed line kept */
struct log_rate {
	const char	*fmt;		/* NULL: free */
	uint64_t	 key;		/* hash of fmt and all of the text */
	char		 about[RATE_ABOUT];	/* the text, cut short */
	int		 level;
	double		 start;		/* of the interval */
	unsigned	 lines;		/* in it */
	unsigned	 suppressed;
	char		 last[RATE_LAST];
};
static struct log_rate	 log_rates[RATE_SLOTS];
static struct log_rate	 log_rate_other;	/* keys that found no slot */
static pthread_mutex_t	 log_rate_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int	 log_rate_limit = 20;

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
/* One journal entry: the message and the fields the caller gave. */
static void
log_journal_send(int level, const struct log_fields *lf, const char *msg)
{
	const char *val[3] = { NULL, NULL, NULL };
	static const char *const names[3] = { "TUNNEL", "STATE", "FORWARD" };
	struct iovec iov[5];
	char prio[16], *f[4] = { NULL, NULL, NULL, NULL };
	int i = 0, k;

	if (lf != NULL) {
		val[0] = lf->tunnel;
		val[1] = lf->state;
		val[2] = lf->forward;
	}
	snprintf(prio, sizeof prio, "PRIORITY=%d", level_prio[level]);
	iov[i].iov_base = prio;
	iov[i++].iov_len = strlen(prio);
	for (k = 0; k < 3; k++) {
		if (val[k] == NULL || *val[k] == '\0' ||
		    asprintf(&f[k], "%s=%s", names[k], val[k]) == -1) {
			f[k] = NULL;
			continue;
		}
		iov[i].iov_base = f[k];
		iov[i++].iov_len = strlen(f[k]);
	}
	if (asprintf(&f[3], "MESSAGE=%s", msg) != -1) {
		iov[i].iov_base = f[3];
		iov[i++].iov_len = strlen(f[3]);
		if (sd_journal_sendv(iov, i) < 0)	/* journald gone */
			fprintf(stderr, "<%d>%s\n", level_prio[level], msg);
	}
	for (k = 0; k < 4; k++)
		free(f[k]);
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
log_set_rate_limit(int n)
{
	log_rate_limit = n;
}

static void
log_emit(int level, const struct log_fields *lf, const char *buf)
{
	char ts[32];
	struct tm tm;
	time_t now;

#ifdef HAVE_SYSTEMD
	if (log_journal) {
		log_journal_send(level, lf, buf);
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

/* The summary of a slot whose interval is over; the slot is free again. */
static void
log_rate_summary(struct log_rate *r, char *out, size_t len)
{
	if (r->about[0] != '\0')
		snprintf(out, len, "%s: %u similar messages suppressed in %ds "
		    "(the last: %s)", r->about, r->suppressed,
		    LOG_RATE_INTERVAL, r->last);
	else
		snprintf(out, len, "%u similar messages suppressed in %ds (the "
		    "last: %s)", r->suppressed, LOG_RATE_INTERVAL, r->last);
}

/*
 * The text a message is known by, with its format: the subject up to a
 * ':' (NAME: jump host h:p), or without one the text before the message's
 * first ": "; either up to a '#' (NAME#2 counts as NAME).  All of it is
 * hashed, however long (tunnel names have no limit): about gets only its
 * first bytes, for the summary.
 */
static uint64_t
log_rate_key(const char *fmt, const char *subject, const char *msg,
    char *about, size_t len)
{
	const char *s = subject != NULL ? subject : msg, *colon;
	uint64_t h = (uintptr_t)fmt;
	size_t n = 0, i;

	if (subject != NULL)
		n = strcspn(subject, ":");
	else if ((colon = strstr(msg, ": ")) != NULL)
		n = (size_t)(colon - msg);
	for (i = 0; i < n && s[i] != '#'; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	n = i < len - 1 ? i : len - 1;
	memcpy(about, s, n);
	about[n] = '\0';
	return h;
}

/*
 * Whether a line may be written (1), or was counted (0).  *summary gets
 * the summary of the key's last interval if it had suppressed lines.
 */
static int
log_rate_check(int level, const char *fmt, const char *subject,
    const char *msg, char *summary, size_t sumlen, int *sumlevel)
{
	struct log_rate *r, *slot = NULL;
	char about[RATE_ABOUT];
	uint64_t h;
	double now = mono_now();
	size_t n, i;
	int limit = log_rate_limit, ok = 1;

	*summary = '\0';
	if (limit == 0)
		return 1;
	h = log_rate_key(fmt, subject, msg, about, sizeof about);
	pthread_mutex_lock(&log_rate_lock);
	for (i = 0; i < RATE_PROBE; i++) {
		r = &log_rates[(h + i) % RATE_SLOTS];
		if (r->fmt == fmt && r->key == h &&
		    strcmp(r->about, about) == 0) {
			slot = r;
			break;
		}
		if (slot == NULL && (r->fmt == NULL ||
		    (now - r->start >= LOG_RATE_INTERVAL &&
		    r->suppressed == 0)))
			slot = r;
	}
	if (slot == NULL)	/* every slot busy: one budget for the rest */
		slot = &log_rate_other;
	else if (slot->fmt != fmt || slot->key != h ||
	    strcmp(slot->about, about) != 0) {
		slot->fmt = fmt;
		slot->key = h;
		snprintf(slot->about, sizeof slot->about, "%s", about);
		slot->start = now;
		slot->lines = 0;
		slot->suppressed = 0;
	}
	if (now - slot->start >= LOG_RATE_INTERVAL) {
		if (slot->suppressed > 0) {
			log_rate_summary(slot, summary, sumlen);
			*sumlevel = slot->level;
		}
		slot->start = now;
		slot->lines = 0;
		slot->suppressed = 0;
	}
	if (++slot->lines > (unsigned)limit * (slot == &log_rate_other ?
	    RATE_PROBE : 1)) {
		slot->suppressed++;
		slot->level = level;
		n = strnlen(msg, sizeof slot->last - 1);	/* cut short */
		memcpy(slot->last, msg, n);
		slot->last[n] = '\0';
		ok = 0;
	}
	pthread_mutex_unlock(&log_rate_lock);
	return ok;
}

/* Every LOG_RATE_INTERVAL (main.c's timer): the summaries of the keys
 * whose interval is over, though they have said nothing since. */
void
log_rate_flush(void)
{
	char summary[RATE_LAST + 2 * RATE_ABOUT + 128];
	struct log_rate *r;
	double now = mono_now();
	size_t i;
	int level = LOG_LVL_INFO;

	for (i = 0; i <= RATE_SLOTS; i++) {
		summary[0] = '\0';
		pthread_mutex_lock(&log_rate_lock);
		r = i < RATE_SLOTS ? &log_rates[i] : &log_rate_other;
		if ((r->fmt != NULL || r == &log_rate_other) &&
		    r->suppressed > 0 &&
		    now - r->start >= LOG_RATE_INTERVAL) {
			log_rate_summary(r, summary, sizeof summary);
			level = r->level;
			r->fmt = NULL;
			r->suppressed = 0;
		}
		pthread_mutex_unlock(&log_rate_lock);
		if (summary[0] != '\0' && level <= log_level)
			log_emit(level, NULL, summary);
	}
}

/*
 * A message about subject (a tunnel's name, or NULL: the text before its
 * first ": "), written "subject: ..." when subject is given, with the
 * journal's fields lf (or NULL).  The rate limit knows it by its format
 * and subject.
 */
/*
 * A line of the log is one line: a control character that reached a
 * message (a peer's bytes that their source did not clean, a hook's
 * output) becomes '?', a tab a space, so that nothing forges a line of
 * its own or speaks to the terminal of whoever reads the log.
 */
static void
log_clean(char *buf)
{
	unsigned char *p;

	for (p = (unsigned char *)buf; *p != '\0'; p++) {
		if (*p == '\t')
			*p = ' ';
		else if (*p < ' ' || *p == 0x7f)
			*p = '?';
	}
}

void
log_vfields(int level, const struct log_fields *lf, const char *subject,
    const char *fmt, va_list ap)
{
	char buf[2048], summary[RATE_LAST + 2 * RATE_ABOUT + 128];
	size_t off = 0;
	int ok, sumlevel = level;

	if (level > log_level)
		return;
	if (subject != NULL) {		/* a long one cut short, still there */
		(void)snprintf(buf, sizeof buf, "%s: ", subject);
		off = strlen(buf);
	}
	vsnprintf(buf + off, sizeof buf - off, fmt, ap);
	log_clean(buf);
	ok = log_rate_check(level, fmt, subject, buf, summary, sizeof summary,
	    &sumlevel);
	if (summary[0] != '\0')
		log_emit(sumlevel, NULL, summary);
	if (ok)
		log_emit(level, lf, buf);
}

void
log_fields(int level, const struct log_fields *lf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, lf, NULL, fmt, ap);
	va_end(ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, NULL, NULL, fmt, ap);
	va_end(ap);
}

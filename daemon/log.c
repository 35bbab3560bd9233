/* log.c - leveled logging to stderr, where journald picks it up. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tunneld.h"

static int log_level = LOG_LVL_INFO;
static int log_tty;

static const char *level_names[] = { "error", "warning", "notice", "info",
	"debug" };
/* syslog priorities, understood by journald as a "<N>" line prefix */
static const int level_prio[] = { 3, 4, 5, 6, 7 };

void
log_init(int level)
{
	log_level = level;
	log_tty = isatty(STDERR_FILENO);
}

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
	va_list ap;
	time_t now;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (log_tty) {
		now = time(NULL);
		strftime(ts, sizeof ts, "%H:%M:%S", localtime(&now));
		fprintf(stderr, "%s %s: %s\n", ts, level_names[level], buf);
	} else
		fprintf(stderr, "<%d>%s: %s\n", level_prio[level],
		    level_names[level], buf);
}

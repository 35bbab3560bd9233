/* output.c - what tunnelctl prints for people (scripts use --json). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tunnelctl.h"

#define C_RESET	"\033[0m"
#define C_GREEN	"\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED	"\033[31m"
#define C_CYAN	"\033[36m"
#define C_DIM	"\033[2m"

/*
 * States in colour only for a person at a terminal: stdout is one, NO_COLOR
 * is unset or empty (no-color.org) and TERM is not "dumb".  --json never.
 */
int
output_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!isatty(STDOUT_FILENO))
		return 0;
	if (nc != NULL && *nc != '\0')
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}

/*
 * s with every control character (C0, DEL, C1 in UTF-8) written as \xNN,
 * newlines too unless keep_nl: what the daemon says (a tunnel's name, a
 * server's error message) never moves the cursor or recolours a terminal.
 * NULL if nothing needs escaping.
 */
static char *
output_vis(const char *s, int keep_nl)
{
	const unsigned char *p;
	char *v, *o;
	size_t n = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p < 0x20 && !(keep_nl && *p == '\n')) || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			n++;
	}
	if (n == 0)
		return NULL;
	o = v = malloc(strlen(s) + n * 8 + 1);
	if (v == NULL)
		return NULL;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p < 0x20 && !(keep_nl && *p == '\n')) || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			o += sprintf(o, "\\x%02x\\x%02x", p[0], p[1]);
			p++;
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return v;
}

/*
 * Every string in a reply escaped for a terminal (output_vis), before
 * anything of it is printed as text; the metrics text keeps its lines.
 */
void
output_sanitize(json_object *o, int keep_nl)
{
	struct json_object_iterator it, end;
	char *v;
	size_t i;

	switch (json_object_get_type(o)) {
	case json_type_string:
		if ((v = output_vis(json_object_get_string(o), keep_nl)) !=
		    NULL) {
			json_object_set_string(o, v);
			free(v);
		}
		break;
	case json_type_array:
		for (i = 0; i < json_object_array_length(o); i++)
			output_sanitize(json_object_array_get_idx(o, i), 0);
		break;
	case json_type_object:
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			output_sanitize(json_object_iter_peek_value(&it),
			    strcmp(json_object_iter_peek_name(&it),
			    "metrics") == 0);
		break;
	default:
		break;
	}
}

/* A string member of o, or NULL if absent or null. */
const char *
output_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* The same, "" if absent: for what is compared, never NULL. */
const char *
output_strz(json_object *o, const char *key)
{
	const char *s = output_str(o, key);

	return s != NULL ? s : "";
}

long long
output_int(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return -1;
	return (long long)json_object_get_int64(v);
}

static const char *
state_color(const char *st)
{
	if (strcmp(st, "up") == 0)
		return C_GREEN;
	if (strcmp(st, "failed") == 0)
		return C_RED;
	if (strcmp(st, "down") == 0)
		return C_DIM;
	if (strcmp(st, "connecting") == 0 || strcmp(st, "backoff") == 0)
		return C_CYAN;
	return C_YELLOW;
}

char *
output_bytes(long long n, char *buf, size_t len)
{
	static const char *units[] = { "B", "K", "M", "G", "T", "P" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld", n);
	else
		snprintf(buf, len, "%.1f%s", v, units[u]);
	return buf;
}

char *
output_duration(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
	return buf;
}

/* A tunnel whose worker did not answer in time is shown as last known. */
static int
output_busy(json_object *t)
{
	json_object *b;

	return (json_object_object_get_ex(t, "worker_busy", &b) &&
	    json_object_get_boolean(b));
}

void
output_table(json_object *tunnels, int color)
{
	json_object *t, *fw, *f;
	long long now = time(NULL), in, out, conns, retry;
	char since[32], bin[32], bout[32], fwd[32], info[256];
	const char *st, *err;
	size_t i, j, nf, up, width = 4;

	for (i = 0; i < json_object_array_length(tunnels); i++) {
		size_t l = strlen(output_strz(json_object_array_get_idx(tunnels, i),
		    "name"));
		if (l > width)
			width = l;
	}
	printf("%-*s  %-10s  %-7s  %-8s  %5s  %8s  %8s  %s\n", (int)width,
	    "NAME", "STATE", "SINCE", "FORWARDS", "CONNS", "IN", "OUT", "INFO");
	for (i = 0; i < json_object_array_length(tunnels); i++) {
		t = json_object_array_get_idx(tunnels, i);
		st = output_strz(t, "state");
		json_object_object_get_ex(t, "forwards", &fw);
		nf = json_object_array_length(fw);
		in = out = conns = 0;
		for (j = up = 0; j < nf; j++) {
			f = json_object_array_get_idx(fw, j);
			if (strcmp(output_strz(f, "state"), "up") == 0)
				up++;
			in += output_int(f, "bytes_in");
			out += output_int(f, "bytes_out");
			conns += output_int(f, "connections");
		}
		snprintf(fwd, sizeof fwd, "%zu/%zu", up, nf);
		err = output_str(t, "last_error");
		retry = output_int(t, "next_retry");
		info[0] = '\0';
		if (strcmp(st, "backoff") == 0 && retry > 0)
			snprintf(info, sizeof info, "retry in %llds: %s",
			    retry - now > 0 ? retry - now : 0, err ? err : "");
		else if (err != NULL && strcmp(st, "up") != 0)
			snprintf(info, sizeof info, "%s", err);
		if (output_busy(t))
			snprintf(info, sizeof info, "worker %lld busy: "
			    "last known state", output_int(t, "worker"));
		else if (info[0] == '\0' && output_int(t, "refused") > 0)
			snprintf(info, sizeof info, "%lld connections "
			    "refused", output_int(t, "refused"));
		printf("%-*s  %s%-10s%s  %-7s  %-8s  %5lld  %8s  %8s  %s\n",
		    (int)width, output_str(t, "name"), color ? state_color(st) : "",
		    st, color ? C_RESET : "",
		    output_duration(now - output_int(t, "since"), since,
		    sizeof since), fwd, conns,
		    output_bytes(in, bin, sizeof bin),
		    output_bytes(out, bout, sizeof bout), info);
	}
}

/* A session's transport: an open stuck in flight, channels that stalled. */
static void
output_session_transport(json_object *o)
{
	json_object *stuck, *age;
	const char *target;

	if (json_object_object_get_ex(o, "stuck_open", &stuck) &&
	    stuck != NULL) {
		target = output_str(stuck, "target");
		json_object_object_get_ex(stuck, "age_s", &age);
		printf("    an open stuck for %.1fs: %s (the next connections "
		    "wait behind it)\n", json_object_get_double(age),
		    target != NULL ? target : "?");
	}
	if (output_int(o, "channels_stalled") > 0)
		printf("    %lld connections closed for making no progress\n",
		    output_int(o, "channels_stalled"));
}

/* The SSH sessions (sessions = N): the tunnel's, then the extra ones. */
static void
output_sessions(json_object *t)
{
	json_object *a, *o;
	const char *st, *role;
	size_t i;

	if (!json_object_object_get_ex(t, "sessions", &a) ||
	    !json_object_is_type(a, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(a); i++) {
		o = json_object_array_get_idx(a, i);
		st = output_strz(o, "state");
		role = output_str(o, "role");
		printf("  session %-4lld %s (%s); %lld connections, %lld "
		    "opening\n", output_int(o, "id"), st != NULL ? st : "?",
		    role != NULL && strcmp(role, "tunnel") == 0 ?
		    "the tunnel's" : "extra", output_int(o, "channels"),
		    output_int(o, "opens_queued"));
		output_session_transport(o);
	}
}

/* What the tunnel's session negotiated (status "algorithms"). */
static void
output_algorithms(json_object *algs)
{
	static const char *keys[] = { "cipher", "mac", "kex", "host_key" };
	static const char *labels[] = { "", ", MAC ", ", kex ", ", host key " };
	const char *v;
	size_t i;

	printf("\n  algorithms:  ");
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		v = output_str(algs, keys[i]);
		printf("%s%s", labels[i], v != NULL ? v : "?");
	}
}

/* The settings status shows: what makes the tunnel up, its rate. */
static void
output_settings(json_object *t)
{
	json_object *v;
	char rate[32];

	if (json_object_object_get_ex(t, "require_forwards", &v) &&
	    json_object_get_boolean(v))
		printf("  forwards:    all required (require_forwards): up "
		    "only with every one established\n");
	if (output_int(t, "rate_limit") > 0)
		printf("  rate limit:  %s/s each way (rate_limit)\n",
		    output_bytes(output_int(t, "rate_limit"), rate,
		    sizeof rate));
}

void
output_detail(json_object *t, int color)
{
	json_object *fw, *f, *rtt, *algs;
	long long now = time(NULL), retry;
	char since[32], bin[32], bout[32];
	const char *st = output_strz(t, "state"), *err, *kind;
	size_t j;

	printf("%s: %s%s%s for %s\n", output_str(t, "name"),
	    color ? state_color(st) : "", st, color ? C_RESET : "",
	    output_duration(now - output_int(t, "since"), since, sizeof since));
	printf("  server:      %s@%s port %lld", output_str(t, "user"),
	    output_str(t, "host"), output_int(t, "port"));
	if (json_object_object_get_ex(t, "rtt_ms", &rtt) && rtt != NULL)
		printf(" (rtt %.1f ms)", json_object_get_double(rtt));
	if (json_object_object_get_ex(t, "algorithms", &algs) && algs != NULL)
		output_algorithms(algs);
	printf("\n  reconnects:  %lld\n", output_int(t, "reconnects"));
	output_settings(t);
	if (output_int(t, "refused") > 0)
		printf("  refused:     %lld connections, over max_connections, "
		    "max_forward_connections or the descriptors\n",
		    output_int(t, "refused"));
	if ((err = output_str(t, "last_error")) != NULL)
		printf("  last error:  %s\n", err);
	if ((retry = output_int(t, "next_retry")) > 0)
		printf("  next retry:  in %llds\n", retry - now > 0 ?
		    retry - now : 0);
	if (output_busy(t))
		printf("  worker %lld is busy: this is the last state it "
		    "reported\n", output_int(t, "worker"));
	output_sessions(t);
	json_object_object_get_ex(t, "forwards", &fw);
	for (j = 0; j < json_object_array_length(fw); j++) {
		f = json_object_array_get_idx(fw, j);
		st = output_strz(f, "state");
		kind = output_str(f, "kind");
		printf("  %-8s %s\n", kind, output_str(f, "spec"));
		printf("           %s%s%s", color ? state_color(st) : "", st,
		    color ? C_RESET : "");
		if (output_str(f, "listen_all") != NULL)
			printf(", %s on %s", kind != NULL &&
			    strncmp(kind, "remote", 6) == 0 ?
			    "the server listens" : "listening",
			    output_str(f, "listen_all"));
		printf("; %lld open, %lld total; in %s, out %s",
		    output_int(f, "connections"), output_int(f, "total_connections"),
		    output_bytes(output_int(f, "bytes_in"), bin, sizeof bin),
		    output_bytes(output_int(f, "bytes_out"), bout, sizeof bout));
		if (output_int(f, "refused") > 0)
			printf("; %lld refused", output_int(f, "refused"));
		printf("\n");
		if ((err = output_str(f, "last_error")) != NULL)
			printf("           last error: %s\n", err);
	}
}

void
output_event(json_object *ev)
{
	char ts[32];
	time_t t = (time_t)output_int(ev, "time");
	const char *reason = output_str(ev, "reason");

	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
	printf("%s %s: %s -> %s%s%s%s\n", ts, output_str(ev, "tunnel"),
	    output_str(ev, "old"), output_str(ev, "new"), reason ? " (" : "",
	    reason ? reason : "", reason ? ")" : "");
}

/*
 * config_print.c - the effective configuration (tunneld --print-config):
 * defaults applied, drop-ins merged, in libconfig syntax that parses back
 * to the same configuration.  include_dir is shown only as a comment, since
 * its tunnels are already here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tunneld.h"

static const char *levels[] = { "error", "warning", "notice", "info",
	"debug" };

/* A libconfig string literal: quotes and backslashes escaped. */
static void
print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
print_setting(FILE *f, const char *indent, const char *name, const char *v)
{
	if (v == NULL)
		return;
	fprintf(f, "%s%s = ", indent, name);
	print_str(f, v);
	fputs(";\n", f);
}

static void
print_forwards(FILE *f, const struct tunnel_conf *tc, const char *list)
{
	const char *sep = "";
	size_t i;
	int n = 0;

	for (i = 0; i < tc->nfwds; i++) {
		const char *k = fwdspec_kind_name(tc->fwds[i].kind);

		if (strcmp(k, "remote-dynamic") == 0)
			k = "remote";
		if (strcmp(k, list) != 0)
			continue;
		if (n++ == 0)
			fprintf(f, "    %s = [ ", list);
		fputs(sep, f);
		print_str(f, tc->fwds[i].spec);
		sep = ", ";
	}
	if (n > 0)
		fputs(" ];\n", f);
}

static void
print_tunnel(FILE *f, const struct tunnel_conf *tc)
{
	size_t i;

	fprintf(f, "  %s = {\t# %s:%d\n", tc->name, tc->file, tc->line);
	print_setting(f, "    ", "host", tc->host);
	fprintf(f, "    port = %d;\n", tc->port);
	print_setting(f, "    ", "user", tc->user);
	print_setting(f, "    ", "identity_file", tc->identity_file);
	print_setting(f, "    ", "known_hosts", tc->known_hosts);
	print_setting(f, "    ", "host_key", tc->host_key);
	fprintf(f, "    strict_host_key_checking = \"%s\";\n",
	    tc->strict == HKC_YES ? "yes" : "accept-new");
	fprintf(f, "    autostart = %s;\n", tc->autostart ? "true" : "false");
	fprintf(f, "    keepalive_interval = %g;\n", tc->keepalive_interval);
	fprintf(f, "    keepalive_count = %d;\n", tc->keepalive_count);
	fprintf(f, "    connect_timeout = %g;\n", tc->connect_timeout);
	fprintf(f, "    reconnect_min = %g;\n", tc->reconnect_min);
	fprintf(f, "    reconnect_max = %g;\n", tc->reconnect_max);
	print_forwards(f, tc, "local");
	print_forwards(f, tc, "remote");
	print_forwards(f, tc, "dynamic");
	if (tc->permit_any)
		fputs("    permit_remote_open = \"any\";\n", f);
	else if (tc->npermits == 0)
		fputs("    permit_remote_open = \"none\";\n", f);
	else {
		fputs("    permit_remote_open = [ ", f);
		for (i = 0; i < tc->npermits; i++) {
			char buf[1100];

			snprintf(buf, sizeof buf, strchr(tc->permits[i].host,
			    ':') != NULL ? "[%s]" : "%s", tc->permits[i].host);
			if (tc->permits[i].port == -1)
				strcat(buf, ":*");
			else
				snprintf(buf + strlen(buf), sizeof buf -
				    strlen(buf), ":%d", tc->permits[i].port);
			if (i > 0)
				fputs(", ", f);
			print_str(f, buf);
		}
		fputs(" ];\n", f);
	}
	fputs("  };\n", f);
}

void
config_print(FILE *f, const struct config *conf)
{
	size_t i;

	fprintf(f, "# tunneld --print-config: %s with every default "
	    "applied\n", conf->file);
	if (conf->include_dir != NULL)
		fprintf(f, "# (the tunnels of include_dir %s are merged in "
		    "below)\n", conf->include_dir);
	print_setting(f, "", "control_socket", conf->control_socket);
	print_setting(f, "", "control_group", conf->control_group);
	if (conf->log_level >= 0 && conf->log_level < (int)nitems(levels))
		print_setting(f, "", "log_level", levels[conf->log_level]);
	fprintf(f, "workers = %u;%s\n", conf->workers, conf->workers == 0 ?
	    "\t# one per CPU" : "");
	fputs("tunnels = {\n", f);
	for (i = 0; i < conf->ntunnels; i++)
		print_tunnel(f, conf->tunnels[i]);
	fputs("};\n", f);
}

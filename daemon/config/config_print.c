/*
 * config_print.c - the effective configuration (tunneld --print-config):
 * defaults applied, drop-ins merged, in libconfig syntax that parses back
 * to the same configuration.  Every keyword of the table is printed in
 * table order; include_dir is shown only as a comment, since its tunnels
 * are already here.  A tunnel whose host is an ssh_config alias shows
 * the alias as host, and beside each setting ssh_config could give, where
 * its value came from (ssh_config.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keywords.h"
#include "ssh_config.h"

/* kw's line of a resolved tunnel, with where its value came from. */
static void
print_resolved(FILE *f, const struct keyword *kw,
    const struct tunnel_conf *tc)
{
	struct tunnel_conf shown = *tc;
	struct server alias = { NULL, 0 };
	char *line = NULL, *origin;
	size_t len = 0;
	FILE *m;

	if ((origin = ssh_config_origin(tc, kw)) == NULL ||
	    (m = open_memstream(&line, &len)) == NULL) {
		keyword_print(f, kw, tc, "    ");
		free(origin);
		return;
	}
	if (strcmp(kw->name, "host") == 0) {	/* reads back as the alias */
		alias.host = tc->resolved->alias;
		shown.host = alias.host;
		shown.servers = &alias;
		shown.nservers = 1;
	}
	keyword_print(m, kw, &shown, "    ");
	fclose(m);
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len > 0)
		fprintf(f, "%s\t# %s\n", line, origin);
	free(line);
	free(origin);
}

static void
print_tunnel(FILE *f, const struct tunnel_conf *tc)
{
	size_t i;

	fprintf(f, "  %s = {\t# %s:%d\n", tc->name, tc->file, tc->line);
	ssh_config_print_header(f, tc, "    ");
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_TUNNEL)
			print_resolved(f, &keywords[i], tc);
	}
	fputs("  };\n", f);
}

void
config_print(FILE *f, const struct config *conf)
{
	const struct keyword *kw;
	size_t i;

	fprintf(f, "# tunneld --print-config: %s with every default "
	    "applied\n", conf->file);
	for (i = 0; i < nkeywords; i++) {
		kw = &keywords[i];
		if (kw->where != KW_GLOBAL || kw->type == KW_SECTION)
			continue;
		if (kw->off == offsetof(struct config, include_dir)) {
			if (conf->include_dir != NULL)
				fprintf(f, "# include_dir = \"%s\": its "
				    "tunnels are merged in below\n",
				    conf->include_dir);
			continue;
		}
		keyword_print(f, kw, conf, "");
	}
	fputs("tunnels = {\n", f);
	for (i = 0; i < conf->ntunnels; i++)
		print_tunnel(f, conf->tunnels[i]);
	fputs("};\n", f);
}

/*
 * config_print.c - the effective configuration (tunneld --print-config):
 * defaults applied, drop-ins merged, in libconfig syntax that parses back
 * to the same configuration.  Every keyword of the table is printed in
 * table order; include_dir is shown only as a comment, since its tunnels
 * are already here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "config_keywords.h"

static void
print_tunnel(FILE *f, const struct tunnel_conf *tc)
{
	size_t i;

	fprintf(f, "  %s = {\t# %s:%d\n", tc->name, tc->file, tc->line);
	for (i = 0; i < nkeywords; i++) {
		if (keywords[i].where == KW_TUNNEL)
			keyword_print(f, &keywords[i], tc, "    ");
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

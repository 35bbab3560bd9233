/* paths.c - default locations of the configuration and control socket (SPEC.md). */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#define SYSTEM_SOCKET	"/run/tunneld/tunneld.sock"
#define SYSTEM_CONFIG	"/etc/tunneld.conf"

/* Root gets the system paths; any other user gets the XDG ones. */
char *
paths_default_socket(void)
{
	const char *env, *rt;
	char *p;

	if ((env = getenv("TUNNELD_SOCKET")) != NULL && *env != '\0')
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup(SYSTEM_SOCKET);
	if ((rt = getenv("XDG_RUNTIME_DIR")) != NULL && *rt != '\0') {
		xasprintf(&p, "%s/tunneld.sock", rt);
		return p;
	}
	xasprintf(&p, "/run/user/%lu/tunneld.sock", (unsigned long)geteuid());
	return p;
}

char *
paths_default_config(void)
{
	const char *env, *xdg, *home;
	char *p;

	if ((env = getenv("TUNNELD_CONFIG")) != NULL && *env != '\0')
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup(SYSTEM_CONFIG);
	if ((xdg = getenv("XDG_CONFIG_HOME")) != NULL && *xdg != '\0')
		xasprintf(&p, "%s/tunneld/tunneld.conf", xdg);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		xasprintf(&p, "%s/.config/tunneld/tunneld.conf", home);
	else
		p = xstrdup(SYSTEM_CONFIG);
	return p;
}

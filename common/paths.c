/*
 * paths.c - default locations of the configuration and the control socket
 * (SPEC.md, "Default paths").
 *
 * The system daemon is the one the system unit starts (tunneld --system,
 * whatever its uid) or one started by root; every other tunneld is a user's
 * own.  TUNNELD_CONFIG and TUNNELD_SOCKET override both.
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define SYSTEM_CONFIG	SYSCONFDIR "/tunneld.conf"

/* PATHS_AUTO: root is the system daemon, any other user is a user's own. */
int
paths_is_system(enum paths_mode mode)
{
	if (mode == PATHS_AUTO)
		return geteuid() == 0;
	return mode == PATHS_SYSTEM;
}

static const char *
paths_env(const char *name)
{
	const char *env;

	if ((env = getenv(name)) != NULL && *env != '\0')
		return env;
	return NULL;
}

/* $XDG_RUNTIME_DIR/tunneld.sock, else /run/user/UID/tunneld.sock. */
char *
paths_user_socket(void)
{
	const char *rt;
	char *p;

	if ((rt = paths_env("XDG_RUNTIME_DIR")) != NULL)
		xasprintf(&p, "%s/tunneld.sock", rt);
	else
		xasprintf(&p, "/run/user/%lu/tunneld.sock",
		    (unsigned long)geteuid());
	return p;
}

char *
paths_default_socket(enum paths_mode mode)
{
	const char *env;

	if ((env = paths_env("TUNNELD_SOCKET")) != NULL)
		return xstrdup(env);
	if (paths_is_system(mode))
		return xstrdup(PATHS_SYSTEM_SOCKET);
	return paths_user_socket();
}

char *
paths_default_config(enum paths_mode mode)
{
	const char *env, *xdg, *home;
	char *p;

	if ((env = paths_env("TUNNELD_CONFIG")) != NULL)
		return xstrdup(env);
	if (paths_is_system(mode))
		return xstrdup(SYSTEM_CONFIG);
	if ((xdg = paths_env("XDG_CONFIG_HOME")) != NULL)
		xasprintf(&p, "%s/tunneld/tunneld.conf", xdg);
	else if ((home = paths_env("HOME")) != NULL)
		xasprintf(&p, "%s/.config/tunneld/tunneld.conf", home);
	else
		p = xstrdup(SYSTEM_CONFIG);
	return p;
}

/*
 * control_authkey.c - what tunnelctl authorized-key needs of a tunnel:
 * its forwards as parsed, servers, user, jump host and public key; ctl/
 * writes the authorized_keys line from it (restrict, permitlisten=,
 * permitopen=).  The public key is read from KEY.pub, trusted as the key
 * itself is.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_cmd.h"

/* A forward's address as parsed: host (absent: the default), port, path. */
static json_object *
control_authkey_addr(const struct fwd_addr *a)
{
	json_object *o = json_object_new_object();

	if (a->host != NULL)
		json_object_object_add(o, "host",
		    json_object_new_string(a->host));
	if (a->path != NULL)
		json_object_object_add(o, "path",
		    json_object_new_string(a->path));
	else
		json_object_object_add(o, "port",
		    json_object_new_int(a->port));
	return o;
}

static json_object *
control_authkey_forwards(const struct tunnel_conf *tc)
{
	json_object *a = json_object_new_array(), *o;
	const struct fwdspec *f;
	size_t i;

	for (i = 0; i < tc->nfwds; i++) {
		f = &tc->fwds[i];
		o = json_object_new_object();
		json_object_object_add(o, "kind",
		    json_object_new_string(fwdspec_kind_name(f->kind)));
		json_object_object_add(o, "spec",
		    json_object_new_string(f->spec));
		json_object_object_add(o, "listen",
		    control_authkey_addr(&f->listen));
		if (f->kind == FWD_LOCAL || f->kind == FWD_REMOTE)
			json_object_object_add(o, "connect",
			    control_authkey_addr(&f->connect));
		json_object_array_add(a, o);
	}
	return a;
}

/*
 * The first line of a .pub file, "TYPE BASE64 [COMMENT]", split; -1 if it
 * is not one (only a key's characters are passed on, never the file's).
 */
static int
control_authkey_parse(char *data, char **type, char **b64)
{
	size_t n;

	data[strcspn(data, "\r\n")] = '\0';
	*type = data + strspn(data, " \t");
	n = strspn(*type, "abcdefghijklmnopqrstuvwxyz0123456789@.-");
	if (n == 0 || ((*type)[n] != ' ' && (*type)[n] != '\t'))
		return -1;
	(*type)[n] = '\0';
	*b64 = *type + n + 1;
	*b64 += strspn(*b64, " \t");
	n = strspn(*b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=");
	if (n == 0 || ((*b64)[n] != '\0' && (*b64)[n] != ' ' &&
	    (*b64)[n] != '\t'))
		return -1;
	(*b64)[n] = '\0';
	return 0;
}

/*
 * The public key of the tunnel's key file: KEY.pub next to it, as ssh(1)
 * reads it (libssh2 cannot derive one, and an encrypted key could not be
 * opened here anyway), trusted as the key is: in a sticky directory (/tmp)
 * anyone could make KEY.pub, or a link to a file of root's, and have their
 * key printed as the tunnel's.  "key_type" and "key", or "key_error" saying
 * why not.
 */
static void
control_authkey_key(json_object *o, const struct tunnel_conf *tc)
{
	char *path, *pub, *data, *cause = NULL, *why, *type, *b64;
	struct stat st;
	size_t len;

	if ((path = identity_file_path(tc->identity_file)) == NULL) {
		json_object_object_add(o, "key_error", json_object_new_string(
		    tc->identity_agent != NULL ? "it authenticates with the "
		    "agent's keys (identity_agent), which tunneld does not "
		    "list: set identity_file, or take the key from ssh-add -L"
		    : "no identity_file is set and no default key exists"));
		return;
	}
	xasprintf(&pub, "%s.pub", path);
	json_object_object_add(o, "identity_file",
	    json_object_new_string(path));
	json_object_object_add(o, "public_key_file",
	    json_object_new_string(pub));
	if (file_read(pub, "public key", 16384, FILE_TRUST, &data, &len, &st,
	    &why) != 0) {
		xasprintf(&cause, "%s; ssh-keygen -y -f %s > %s makes it",
		    why, path, pub);
		free(why);
	} else if (control_authkey_parse(data, &type, &b64) != 0)
		xasprintf(&cause, "%s is not a public key (\"TYPE BASE64 "
		    "[COMMENT]\"): make it with ssh-keygen -y -f %s > %s",
		    pub, path, pub);
	else {
		json_object_object_add(o, "key_type",
		    json_object_new_string(type));
		json_object_object_add(o, "key", json_object_new_string(b64));
	}
	if (cause != NULL)
		json_object_object_add(o, "key_error",
		    json_object_new_string(cause));
	free(data);
	free(cause);
	free(path);
	free(pub);
}

/* What tunnelctl authorized-key needs of a tunnel to write the line. */
json_object *
control_authkey(const struct tunnel *t)
{
	const struct tunnel_conf *tc = t->conf;
	json_object *o = json_object_new_object(), *a, *sv;
	size_t i, n = tc->nservers > 0 ? tc->nservers : 1;

	json_object_object_add(o, "name", json_object_new_string(t->name));
	if (tc->user != NULL)
		json_object_object_add(o, "user",
		    json_object_new_string(tc->user));
	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		sv = json_object_new_object();
		json_object_object_add(sv, "host", json_object_new_string(
		    config_server_host(tc, i)));
		json_object_object_add(sv, "port",
		    json_object_new_int(config_server_port(tc, i)));
		json_object_array_add(a, sv);
	}
	json_object_object_add(o, "servers", a);
	if (tc->jump != NULL)
		json_object_object_add(o, "jump",
		    json_object_new_string(tc->jump));
	json_object_object_add(o, "forwards", control_authkey_forwards(tc));
	control_authkey_key(o, tc);
	return o;
}

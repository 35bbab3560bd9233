/* tunnelctl.h - the client's private header. */
#ifndef TUNNELCTL_H
#define TUNNELCTL_H

#include <json-c/json.h>

/* exit codes of SPEC.md */
#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNREACHABLE 3
#define EXIT_PERM	4

/* authkey.c */
int	authkey_print(json_object *tunnel, int json);

/* output.c */
const char *output_str(json_object *, const char *);
const char *output_strz(json_object *, const char *);
long long output_int(json_object *, const char *);
void	output_table(json_object *tunnels, int color);
void	output_detail(json_object *tunnel, int color);
void	output_event(json_object *event);
void	output_sanitize(json_object *, int keep_nl);
char	*output_bytes(long long, char *, size_t);
char	*output_duration(long long, char *, size_t);
int	 output_color(void);

/* import.c */
int	 import_dispatch(int, char **);

#endif

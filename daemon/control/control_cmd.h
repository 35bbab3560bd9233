/*
 * control_cmd.h - between the clients (control.c) and the protocol
 * (control_cmd.c).
 */
#ifndef TUNNELD_CONTROL_CMD_H
#define TUNNELD_CONTROL_CMD_H

#include <json-c/json.h>

struct config;
struct control_peer;
struct tunnel;

/* control_cmd.c */
void		 control_cmd_init(struct config *const *in_force);
json_object	*control_fail(json_object *id, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* control_authkey.c: tunnelctl authorized-key's object for a tunnel */
json_object	*control_authkey(const struct tunnel *);

/* control.c: a reply given later (a reload's) */
unsigned long	 control_wait(const struct control_peer *);
void		 control_answer(unsigned long serial, json_object *);

#endif

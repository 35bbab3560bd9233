/*
 * control_cmd.h - between the clients (control.c) and the protocol
 * (control_cmd.c).
 */
#ifndef TUNNELD_CONTROL_CMD_H
#define TUNNELD_CONTROL_CMD_H

#include <json-c/json.h>

struct config;
struct control_peer;

/* control_cmd.c */
void		 control_cmd_init(struct config *const *in_force);
json_object	*control_fail(json_object *id, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* control.c: a reply given later (a reload's) */
unsigned long	 control_wait(const struct control_peer *);
void		 control_answer(unsigned long serial, json_object *);

#endif

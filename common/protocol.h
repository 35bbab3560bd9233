/*
 * protocol.h - the control protocol between tunneld and its clients.
 * Newline-delimited JSON over a UNIX stream socket; doc/PROTOCOL.md is the
 * reference.  Only constants live here: both sides build and read the JSON.
 */
#ifndef TUNNELD_PROTOCOL_H
#define TUNNELD_PROTOCOL_H

#define PROTOCOL_VERSION	1
#define PROTOCOL_MAX_LINE	65536	/* a longer request costs the client its connection */
#define PROTOCOL_MAX_OUTPUT	(4 * 1024 * 1024) /* unread replies a client may hold */

/* The commands ("cmd"); doc/PROTOCOL.md says what each does. */
#define PROTOCOL_CMD_HELLO	"hello"
#define PROTOCOL_CMD_STATUS	"status"
#define PROTOCOL_CMD_EVENTS	"events"
#define PROTOCOL_CMD_UP		"up"
#define PROTOCOL_CMD_DOWN	"down"
#define PROTOCOL_CMD_RESTART	"restart"
#define PROTOCOL_CMD_RELOAD	"reload"
#define PROTOCOL_CMD_METRICS	"metrics"
#define PROTOCOL_CMD_AUTHKEY	"authorized-key"

/* Error codes in replies ("code"), mapped by tunnelctl to exit status. */
#define PROTOCOL_E_FAILED	"failed"	/* exit 1 */
#define PROTOCOL_E_USAGE	"usage"		/* exit 2 */
#define PROTOCOL_E_PERM		"permission"	/* exit 4 */

#endif

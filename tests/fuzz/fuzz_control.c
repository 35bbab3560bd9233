/*
 * fuzz_control.c - control-protocol lines through the real request handler,
 * control_handle(): the parse, every field's checks and the dispatch, for a
 * peer that is not privileged (no configuration is loaded, no tunnel
 * exists, no worker runs; privileged commands are refused after their
 * fields are checked, as for any such peer).  Each input is one line, as
 * control.c cuts them.  The reply must be one JSON object in UTF-8 that a
 * strict parser takes back whole, with "ok".
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "protocol.h"
#include "tunneld.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void __attribute__((noreturn))
fail(const char *what, const char *reply)
{
	fprintf(stderr, "fuzz_control: %s: %s\n", what, reply);
	abort();
}

static void
check_reply(json_object *r)
{
	struct json_tokener *tok;
	json_object *back, *ok;
	const char *s;
	size_t len;

	if (r == NULL || !json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean))
		fail("no reply, or one without \"ok\"", "");
	s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	if (memchr(s, '\n', len) != NULL)
		fail("a reply of more than one line", s);
	if (control_utf8_check((const unsigned char *)s, len) != len)
		fail("a reply that is not UTF-8", s);
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	back = json_tokener_parse_ex(tok, s, (int)len);
	if (back == NULL || json_tokener_get_parse_end(tok) != len)
		fail("a reply that is not JSON", s);
	json_object_put(back);
	json_tokener_free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_peer p;
	json_object *r;
	int flags;

	/* as control_read_cb: a line without its newline, at most MAX_LINE */
	if (size == 0 || size > PROTOCOL_MAX_LINE ||
	    memchr(data, '\n', size) != NULL)
		return 0;
	p.pid = 1;
	p.uid = geteuid() == 65534 ? 65533 : 65534;
	p.gid = 65534;
	if (control_privileged(&p))
		abort();
	r = control_handle(&p, (const char *)data, size, &flags);
	check_reply(r);
	json_object_put(r);
	return 0;
}

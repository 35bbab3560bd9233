/*
 * fuzz_control.c - control-protocol lines through the real request handler,
 * control_handle(): the parse, every field's checks and the dispatch, for a
 * peer that is not privileged (no configuration is loaded, no tunnel
 * exists, no worker runs; privileged commands are refused after their
 * fields are checked, as for any such peer).  Each input is one line, as
 * control.c cuts them.  The reply must be one JSON object (RFC 8259, checked
 * here, not by json-c) in UTF-8, with "ok".
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "control.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void __attribute__((noreturn))
fail(const char *what, const char *reply)
{
	fprintf(stderr, "fuzz_control: %s: %s\n", what, reply);
	abort();
}

/*
 * JSON as RFC 8259 has it, nothing more: json-c's own parser, even strict,
 * takes NaN, Infinity and "1.", so it cannot be the judge.  p advances
 * past one value; -1 if there is none.
 */
static int
json_value(const char **p, int depth)
{
	const char *s = *p;
	int first;

	if (depth > 64)
		return -1;
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';

		s++;
		for (first = 1; *s != close; first = 0) {
			if (!first && *s++ != ',')
				return -1;
			if (close == '}') {
				if (*s != '"' || json_value(&s, depth + 1) ||
				    *s++ != ':')
					return -1;
			}
			if (json_value(&s, depth + 1) != 0)
				return -1;
		}
		*p = s + 1;
		return 0;
	}
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if ((unsigned char)*s < 0x20)
				return -1;
			if (*s != '\\')
				continue;
			s++;
			if (*s == 'u') {
				if (strspn(s + 1, "0123456789abcdefABCDEF") < 4)
					return -1;
				s += 4;
			} else if (strchr("\"\\/bfnrt", *s) == NULL ||
			    *s == '\0')
				return -1;
		}
		*p = s + 1;
		return 0;
	}
	if (strncmp(s, "true", 4) == 0 || strncmp(s, "null", 4) == 0) {
		*p = s + 4;
		return 0;
	}
	if (strncmp(s, "false", 5) == 0) {
		*p = s + 5;
		return 0;
	}
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		s += strspn(s, "0123456789");
	else
		return -1;
	if (*s == '.') {
		if (strspn(++s, "0123456789") == 0)
			return -1;
		s += strspn(s, "0123456789");
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (strspn(s, "0123456789") == 0)
			return -1;
		s += strspn(s, "0123456789");
	}
	*p = s;
	return 0;
}

static void
check_reply(json_object *r)
{
	struct json_tokener *tok;
	json_object *back, *ok;
	const char *s, *end;
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
	end = s;
	if (*s != '{' || json_value(&end, 0) != 0 || *end != '\0')
		fail("a reply that is not JSON", s);
	tok = json_tokener_new();
	back = json_tokener_parse_ex(tok, s, (int)len);
	if (back == NULL || json_tokener_get_parse_end(tok) != len)
		fail("a reply that json-c does not read back", s);
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

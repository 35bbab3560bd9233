/*
 * session_lib.c - libssh2 itself: the library, and a session object's
 * memory and end.
 *
 * Every block libssh2 allocates for a session is in a set of the
 * session's struct session_lib (what libssh2's abstract pointer points
 * to), so that a session libssh2 will not free is still freed: its free is
 * tried FREE_TRIES times at once, then FREE_RETRIES times from a timer,
 * then the blocks are freed by hand.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "session.h"

/*
 * The blocks are kept in a set of their addresses (open addressing, linear
 * probing), not behind a header of ours: libssh2 1.11 hands memory that
 * OpenSSL allocated to its free function, and a header would turn that
 * into a bad free.  A block freed that the set does not hold is simply
 * free()d, as libssh2's default allocator would.
 */
static size_t
session_heap_slot(const struct session_lib *lib, const void *p)
{
	uintptr_t h = (uintptr_t)p;

	h ^= h >> 17;
	h *= (uintptr_t)0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 7) & (lib->cap - 1);
}

static void session_heap_add(struct session_lib *, void *);

static void
session_heap_grow(struct session_lib *lib)
{
	void **old = lib->set;
	size_t i, cap = lib->cap;

	lib->cap = cap == 0 ? 64 : cap * 2;
	lib->set = xcalloc(lib->cap, sizeof *lib->set);
	lib->used = 0;
	for (i = 0; i < cap; i++)
		if (old[i] != NULL)
			session_heap_add(lib, old[i]);
	free(old);
}

static void
session_heap_add(struct session_lib *lib, void *p)
{
	size_t i;

	if ((lib->used + 1) * 4 > lib->cap * 3)
		session_heap_grow(lib);
	for (i = session_heap_slot(lib, p); lib->set[i] != NULL;
	    i = (i + 1) & (lib->cap - 1))
		;
	lib->set[i] = p;
	lib->used++;
}

/* Take p out of the set (backward-shift deletion); 0 if it was not in it. */
static int
session_heap_del(struct session_lib *lib, void *p)
{
	size_t i, j, k, mask = lib->cap - 1;

	if (lib->cap == 0)
		return 0;
	for (i = session_heap_slot(lib, p); lib->set[i] != p;
	    i = (i + 1) & mask)
		if (lib->set[i] == NULL)
			return 0;
	for (j = (i + 1) & mask; lib->set[j] != NULL; j = (j + 1) & mask) {
		k = session_heap_slot(lib, lib->set[j]);
		/* move j into the hole at i unless its home lies in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		lib->set[i] = lib->set[j];
		i = j;
	}
	lib->set[i] = NULL;
	lib->used--;
	return 1;
}

static void *
session_alloc(size_t n, void **abstract)
{
	void *p;

	if ((p = malloc(n)) != NULL)
		session_heap_add(*abstract, p);
	return p;
}

static void *
session_realloc(void *p, size_t n, void **abstract)
{
	void *np;

	if (p == NULL)
		return session_alloc(n, abstract);
	session_heap_del(*abstract, p);
	if ((np = realloc(p, n)) == NULL) {
		session_heap_add(*abstract, p);	/* unchanged, still held */
		return NULL;
	}
	session_heap_add(*abstract, np);
	return np;
}

static void
session_dealloc(void *p, void **abstract)
{
	if (p == NULL)
		return;
	session_heap_del(*abstract, p);
	free(p);
}

/* A libssh2 session for s, allocating through s->lib; or NULL. */
LIBSSH2_SESSION *
session_lib_new(struct session *s)
{
	struct session_lib *lib = xcalloc(1, sizeof *lib);

	lib->s = s;
	s->lib = lib;
	s->ssh = lib->ssh = libssh2_session_init_ex(session_alloc,
	    session_dealloc, session_realloc, lib);
	return s->ssh;
}

/*
 * A libssh2 session that would not be freed (session_free()) is retried
 * every FREE_RETRY_SECS, FREE_RETRIES times; then everything libssh2
 * allocated for it is freed all the same, by hand.  What OpenSSL allocated
 * for its ciphers is lost then, but never more than that.
 */
static void
session_lib_free(struct session_lib *lib, int hard)
{
	size_t i, n = lib->used;

	/* after a free that libssh2 finished, what is left is not ours */
	for (i = 0; hard && i < lib->cap; i++)
		free(lib->set[i]);
	free(lib->set);
	if (hard)
		log_warnx("%s: libssh2 would not free the session after %d "
		    "tries; freed by hand (%zu blocks)", lib->name,
		    FREE_TRIES + FREE_RETRIES, n);
	if (lib->ev_retry != NULL)
		event_free(lib->ev_retry);
	free(lib->name);
	free(lib);
}

static void
session_lib_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_lib *lib = arg;

	if (libssh2_session_free(lib->ssh) != LIBSSH2_ERROR_EAGAIN)
		session_lib_free(lib, 0);
	else if (++lib->retries >= FREE_RETRIES)
		session_lib_free(lib, 1);
	else
		timer_add_secs(lib->ev_retry, FREE_RETRY_SECS);
}

/* Free the libssh2 session (its socket is shut already), whatever it says. */
void
session_lib_release(struct session *s)
{
	struct session_lib *lib = s->lib;
	int tries = 0, rc = 0;

	if (lib == NULL)	/* no SSH yet */
		return;
	s->lib = NULL;
	if (s->ssh == NULL) {
		session_lib_free(lib, 0);
		return;
	}
	/* Whatever libssh2 sends while freeing (CLOSE, and the cancel of
	 * each remote listener, which it retries for ever if the send
	 * fails) is dropped, and it reads an end of file. */
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_SEND, session_discard_cb);
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_RECV, session_eof_cb);
	SESSION_CALLBACK(s->ssh, LIBSSH2_CALLBACK_DEBUG, NULL);
	lib->s = NULL;		/* no callback may find the session now */
	/* with the socket shut, nothing inside can wait for long */
	while (tries++ < FREE_TRIES &&
	    (rc = libssh2_session_free(s->ssh)) == LIBSSH2_ERROR_EAGAIN)
		;
	if (rc != LIBSSH2_ERROR_EAGAIN) {
		session_lib_free(lib, 0);
		return;
	}
	session_log(s, LOG_LVL_DEBUG, "libssh2 is not done freeing the "
	    "session; again in %gs", FREE_RETRY_SECS);
	lib->name = xstrdup(s->conf->name);
	lib->ev_retry = evtimer_new(s->base, session_lib_retry_cb, lib);
	timer_add_secs(lib->ev_retry, FREE_RETRY_SECS);
}

/* --- the library --------------------------------------------------------- */

/* Once, before any thread starts (LIBSSH2.md rule 10). */
int
session_library_init(void)
{
	return libssh2_init(0);
}

void
session_library_exit(void)
{
	libssh2_exit();
}

void
session_library_version(const char **linked, const char **built)
{
	*linked = libssh2_version(0);
	*built = LIBSSH2_VERSION;
}

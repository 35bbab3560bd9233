/*
 * session_lib.c - libssh2 itself: the library, and a session object's
 * memory and end.
 *
 * Every block libssh2 allocates for a session is on a list of the
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

/* One block of libssh2's, behind its place on the list. */
union heap_block {
	struct heap_hdr	 h;
	max_align_t	 align;
};

static void
session_heap_link(struct session_lib *lib, struct heap_hdr *h)
{
	h->next = lib->blocks.next;
	h->prev = &lib->blocks;
	lib->blocks.next->prev = h;
	lib->blocks.next = h;
}

static void
session_heap_unlink(struct heap_hdr *h)
{
	h->prev->next = h->next;
	h->next->prev = h->prev;
}

static void *
session_alloc(size_t n, void **abstract)
{
	union heap_block *b;

	if (n > SIZE_MAX - sizeof *b || (b = malloc(sizeof *b + n)) == NULL)
		return NULL;
	session_heap_link(*abstract, &b->h);
	return b + 1;
}

static void *
session_realloc(void *p, size_t n, void **abstract)
{
	union heap_block *b, *nb;

	if (p == NULL)
		return session_alloc(n, abstract);
	b = (union heap_block *)p - 1;
	if (n > SIZE_MAX - sizeof *b)
		return NULL;
	session_heap_unlink(&b->h);
	if ((nb = realloc(b, sizeof *b + n)) == NULL) {
		session_heap_link(*abstract, &b->h);
		return NULL;
	}
	session_heap_link(*abstract, &nb->h);
	return nb + 1;
}

static void
session_dealloc(void *p, void **abstract)
{
	union heap_block *b;

	if (p == NULL)
		return;
	b = (union heap_block *)p - 1;
	session_heap_unlink(&b->h);
	free(b);
}

/* A libssh2 session for s, allocating through s->lib; or NULL. */
LIBSSH2_SESSION *
session_lib_new(struct session *s)
{
	struct session_lib *lib = xcalloc(1, sizeof *lib);

	lib->s = s;
	lib->blocks.next = lib->blocks.prev = &lib->blocks;
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
	struct heap_hdr *h;
	size_t n = 0;

	while ((h = lib->blocks.next) != &lib->blocks) {
		session_heap_unlink(h);
		free(h);
		n++;
	}
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
	log_debug("%s: libssh2 is not done freeing the session; again in "
	    "%gs", s->conf->name, FREE_RETRY_SECS);
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

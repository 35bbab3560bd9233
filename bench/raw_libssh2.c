/*
 * raw_libssh2.c - the ceiling for one stream through libssh2: a minimal
 * blocking program, no event loop, one direct-tcpip channel.
 *
 * Up (the default): BYTES go to a sink that answers the byte count, in
 * writes of 32700 bytes (what libssh2 sends per packet at most).  Down
 * (RAW_WAY=down): PORT is a source that sends the number of bytes asked on
 * its first line, read in 32 KiB calls.  What tunneld adds on top of
 * libssh2 is the difference to this.
 *
 * RAW_SOCKET=1: the bytes are not made up in memory or dropped, but read
 * from (up) or written to (down) a TCP connection on loopback whose other
 * end is a child process, 32700 at a time, as a forwarder reads and writes
 * its client's socket: the ceiling for any single-threaded forwarder on
 * libssh2, which pays the client's socket as ssh -L does.
 *
 * Usage: raw_libssh2 HOST PORT USER KEY SERVERPORT BYTES [CIPHERS [MACS]]
 *   -> prints seconds, the cipher and MAC negotiated, and this process's
 *      own CPU seconds (the child's not included)
 * (host key not checked: a benchmark against a local sshd only).  Without
 * CIPHERS and MACS (or with "-"), libssh2's own preferences.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The other end of the client's socket: a child that writes total bytes
 * into a loopback TCP connection in 1 MiB writes (as the benchmark's client
 * does), or reads it to the end.  Returns our end, or -1.
 */
static int
client_socket(int up, long long total, pid_t *pid)
{
	static char chunk[1 << 20];
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	long long left = total;
	ssize_t n;
	int l, fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1) {
		perror("raw_libssh2: client socket");
		return -1;
	}
	if ((*pid = fork()) == -1) {
		perror("raw_libssh2: fork");
		return -1;
	}
	if (*pid == 0) {
		close(l);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1)
			_exit(1);
		memset(chunk, 'x', sizeof chunk);
		while (up && left > 0) {
			n = write(fd, chunk, left < (long long)sizeof chunk ?
			    (size_t)left : sizeof chunk);
			if (n <= 0)
				_exit(1);
			left -= n;
		}
		while (!up && (n = read(fd, chunk, sizeof chunk)) > 0)
			;
		_exit(0);
	}
	fd = accept(l, NULL, NULL);
	close(l);
	return fd;
}

/* Up: total bytes to the channel; 0, or -1 on an error (said). */
static int
push(LIBSSH2_CHANNEL *ch, char *buf, long long total, int src)
{
	long long left = total;
	size_t have = 0;
	ssize_t n;

	while (left > 0) {
		if (src == -1)
			have = left < 32700 ? (size_t)left : 32700;
		else if (have == 0) {
			n = read(src, buf, left < 32700 ? (size_t)left : 32700);
			if (n <= 0) {
				fprintf(stderr, "raw_libssh2: client ended\n");
				return -1;
			}
			have = (size_t)n;
		}
		if ((n = libssh2_channel_write(ch, buf, have)) < 0) {
			fprintf(stderr, "raw_libssh2: write: %zd\n", n);
			return -1;
		}
		if (src != -1 && (size_t)n < have)
			memmove(buf, buf + n, have - (size_t)n);
		have -= (size_t)n;
		left -= n;
	}
	return 0;
}

/* Down: total bytes from the channel (to dst, if not -1). */
static int
pull(LIBSSH2_CHANNEL *ch, char *buf, size_t size, long long total, int dst)
{
	long long got = 0;
	ssize_t n, w, off;

	while (got < total) {
		if ((n = libssh2_channel_read(ch, buf, size)) < 0) {
			fprintf(stderr, "raw_libssh2: read: %zd\n", n);
			return -1;
		}
		if (n == 0 && libssh2_channel_eof(ch))
			break;
		for (off = 0; dst != -1 && off < n; off += w) {
			if ((w = write(dst, buf + off, (size_t)(n - off))) <= 0) {
				perror("raw_libssh2: client");
				return -1;
			}
		}
		got += n;
	}
	if (got != total) {
		fprintf(stderr, "raw_libssh2: source sent %lld\n", got);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char buf[32768];
	struct sockaddr_in sin;
	LIBSSH2_SESSION *s;
	LIBSSH2_CHANNEL *ch;
	const char *way = getenv("RAW_WAY");
	long long total;
	char reply[64];
	ssize_t n;
	struct rusage ru;
	double t0, elapsed;
	int fd, cfd = -1, one = 1, up = way == NULL || strcmp(way, "down") != 0;
	pid_t pid = -1;

	if (argc < 7 || argc > 9) {
		fprintf(stderr, "usage: raw_libssh2 HOST PORT USER KEY SERVERPORT "
		    "BYTES [CIPHERS [MACS]]\n");
		return 2;
	}
	total = atoll(argv[6]);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		perror("connect");
		return 1;
	}
	libssh2_init(0);
	s = libssh2_session_init();
	if (argc > 7 && strcmp(argv[7], "-") != 0) {
		libssh2_session_method_pref(s, LIBSSH2_METHOD_CRYPT_CS, argv[7]);
		libssh2_session_method_pref(s, LIBSSH2_METHOD_CRYPT_SC, argv[7]);
	}
	if (argc > 8 && strcmp(argv[8], "-") != 0) {
		libssh2_session_method_pref(s, LIBSSH2_METHOD_MAC_CS, argv[8]);
		libssh2_session_method_pref(s, LIBSSH2_METHOD_MAC_SC, argv[8]);
	}
	if (libssh2_session_handshake(s, fd) != 0 ||
	    libssh2_userauth_publickey_fromfile(s, argv[3], NULL, argv[4],
	    NULL) != 0) {
		fprintf(stderr, "raw_libssh2: handshake or authentication "
		    "failed\n");
		return 1;
	}
	ch = libssh2_channel_direct_tcpip(s, "127.0.0.1", atoi(argv[5]));
	if (ch == NULL) {
		fprintf(stderr, "raw_libssh2: channel open failed\n");
		return 1;
	}
	memset(buf, 'x', sizeof buf);
	if (getenv("RAW_SOCKET") != NULL &&
	    (cfd = client_socket(up, total, &pid)) == -1)
		return 1;
	t0 = now();
	if (up) {
		if (push(ch, buf, total, cfd) != 0)
			return 1;
		libssh2_channel_send_eof(ch);
		n = libssh2_channel_read(ch, reply, sizeof reply - 1);
		reply[n > 0 ? n : 0] = '\0';
		if (atoll(reply) != total)
			fprintf(stderr, "raw_libssh2: sink got %s\n", reply);
	} else {
		n = snprintf(reply, sizeof reply, "%lld\n", total);
		if (libssh2_channel_write(ch, reply, (size_t)n) != n ||
		    pull(ch, buf, sizeof buf, total, cfd) != 0)
			return 1;
	}
	elapsed = now() - t0;
	if (cfd != -1) {
		close(cfd);
		waitpid(pid, NULL, 0);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("%.4f %s %s %.3f\n", elapsed,
	    libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_CS),
	    libssh2_session_methods(s, LIBSSH2_METHOD_MAC_CS),
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	libssh2_channel_free(ch);
	libssh2_session_disconnect(s, "done");
	libssh2_session_free(s);
	close(fd);
	return 0;
}

/*
 * raw_libssh2.c - the ceiling for one stream through libssh2: a minimal
 * blocking program that pushes BYTES over one direct-tcpip channel to a
 * sink that answers the byte count, in writes of 32700 bytes (what libssh2
 * sends per packet at most), with no event loop.
 * What tunneld adds on top of libssh2 is the difference to this.
 * Usage: raw_libssh2 HOST PORT USER KEY SINKPORT BYTES [CIPHERS [MACS]]
 *   -> prints seconds, then the cipher and MAC negotiated
 * (host key not checked: a benchmark against a local sshd only).  Without
 * CIPHERS and MACS (or with "-"), libssh2's own preferences.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

int
main(int argc, char **argv)
{
	static char buf[32768];
	struct sockaddr_in sin;
	LIBSSH2_SESSION *s;
	LIBSSH2_CHANNEL *ch;
	long long left, total;
	char reply[64];
	ssize_t n;
	double t0;
	int fd, one = 1;

	if (argc < 7 || argc > 9) {
		fprintf(stderr, "usage: raw_libssh2 HOST PORT USER KEY SINKPORT "
		    "BYTES [CIPHERS [MACS]]\n");
		return 2;
	}
	total = left = atoll(argv[6]);
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
	t0 = now();
	while (left > 0) {
		n = libssh2_channel_write(ch, buf, left < 32700 ?
		    (size_t)left : 32700);
		if (n < 0) {
			fprintf(stderr, "raw_libssh2: write: %zd\n", n);
			return 1;
		}
		left -= n;
	}
	libssh2_channel_send_eof(ch);
	n = libssh2_channel_read(ch, reply, sizeof reply - 1);
	reply[n > 0 ? n : 0] = '\0';
	printf("%.4f %s %s\n", now() - t0,
	    libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_CS),
	    libssh2_session_methods(s, LIBSSH2_METHOD_MAC_CS));
	if (atoll(reply) != total)
		fprintf(stderr, "raw_libssh2: sink got %s\n", reply);
	libssh2_channel_free(ch);
	libssh2_session_disconnect(s, "done");
	libssh2_session_free(s);
	close(fd);
	return 0;
}

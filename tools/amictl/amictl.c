/*
 * amictl — run operator commands on a running amid over its control
 * socket, as `asterisk -rx` / `asterisk -r` do for Asterisk.
 *
 *   amictl [-s SOCKET] -x "manager show connected"   one command
 *   amictl [-s SOCKET]                                commands from stdin
 *
 * The protocol (doc/cli.md): after connecting, the server sends a frame,
 * "<status> <length>\n" and <length> bytes: the greeting (status 0) or a
 * refusal (status 4).  Each command line the client sends (ended by LF)
 * is answered by one such frame holding the command's output; status 0
 * means success, 1 failure, 2 unknown command, 3 bad arguments, 5 line
 * too long.
 *
 * Exit status: 0 the command (or, interactively, the last one) succeeded;
 * 1 it failed; 2 bad usage, or amid cannot be reached.
 *
 * Plain C and POSIX on purpose: no GLib, no readline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/amid/amid.ctl"
#define MAX_LINE 4096 /* the server's limit, terminator included */

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_TROUBLE = 2 };
enum { ST_OK = 0, ST_DENIED = 4 };

static const char *progname = "amictl";
static const char *socket_path = DEFAULT_SOCKET;

/* A buffered reader over the socket. */
static int sock = -1;
static char rbuf[8192];
static size_t rlen, roff;

/* Read more bytes; returns 0 on EOF, -1 on error, else bytes. */
static ssize_t fill(void)
{
	if (roff == rlen)
		roff = rlen = 0;
	for (;;) {
		ssize_t n = read(sock, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			rlen += (size_t)n;
		return n;
	}
}

static void lost(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", progname, socket_path, what);
	exit(EXIT_TROUBLE);
}

/* Read a frame header "<status> <length>\n". */
static void read_header(int *status, size_t *length)
{
	char head[64];
	size_t h = 0;
	for (;;) {
		if (roff == rlen) {
			ssize_t n = fill();
			if (n == 0)
				lost(h ? "amid closed the connection in the "
					 "middle of an answer"
				       : "amid closed the connection");
			if (n < 0)
				lost(strerror(errno));
		}
		char c = rbuf[roff++];
		if (c == '\n')
			break;
		if (h + 1 >= sizeof(head))
			lost("not an amid control socket (bad answer)");
		head[h++] = c;
	}
	head[h] = '\0';
	char *end;
	long st = strtol(head, &end, 10);
	if (end == head || *end != ' ')
		lost("not an amid control socket (bad answer)");
	char *num = end + 1;
	unsigned long long len = strtoull(num, &end, 10);
	if (end == num || *end != '\0' || st < 0)
		lost("not an amid control socket (bad answer)");
	*status = (int)st;
	*length = (size_t)len;
}

/* Copy @length bytes of the frame body to @out (NULL: into @keep). */
static void read_body(size_t length, FILE *out, char *keep, size_t keepsz)
{
	size_t kept = 0;
	while (length > 0) {
		if (roff == rlen) {
			ssize_t n = fill();
			if (n == 0)
				lost("amid closed the connection in the middle "
				     "of an answer");
			if (n < 0)
				lost(strerror(errno));
		}
		size_t chunk = rlen - roff;
		if (chunk > length)
			chunk = length;
		if (out) {
			fwrite(rbuf + roff, 1, chunk, out);
		} else if (keep && kept + 1 < keepsz) {
			size_t room = keepsz - 1 - kept;
			size_t n = chunk < room ? chunk : room;
			memcpy(keep + kept, rbuf + roff, n);
			kept += n;
		}
		roff += chunk;
		length -= chunk;
	}
	if (keep && keepsz)
		keep[kept] = '\0';
	if (out)
		fflush(out);
}

static void send_all(const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(sock, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			lost(errno == EPIPE ? "amid closed the connection"
					    : strerror(errno));
		data += w;
		len -= (size_t)w;
	}
}

static void connect_socket(void)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: %s: socket path too long\n", progname,
			socket_path);
		exit(EXIT_TROUBLE);
	}
	strcpy(sa.sun_path, socket_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		fprintf(stderr, "%s: socket: %s\n", progname, strerror(errno));
		exit(EXIT_TROUBLE);
	}
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return;
	int e = errno;
	const char *hint = "";
	if (e == ENOENT || e == ECONNREFUSED)
		hint = " (is amid running? -s names another socket)";
	else if (e == EACCES || e == EPERM)
		hint = " (run amictl as root, as amid's user or as a member "
		       "of its group)";
	fprintf(stderr, "%s: cannot connect to amid at %s: %s%s\n", progname,
		socket_path, strerror(e), hint);
	exit(EXIT_TROUBLE);
}

/* Read the greeting; its text goes to @hello. */
static void greeting(char *hello, size_t size)
{
	int status;
	size_t len;
	read_header(&status, &len);
	read_body(len, NULL, hello, size);
	if (status == ST_OK)
		return;
	size_t n = strlen(hello);
	while (n && hello[n - 1] == '\n')
		hello[--n] = '\0';
	fprintf(stderr, "%s: amid refused the connection: %s\n", progname,
		hello);
	exit(EXIT_TROUBLE);
}

/* Send one command line and print its answer; returns the frame status. */
static int run(const char *command)
{
	send_all(command, strlen(command));
	send_all("\n", 1);
	int status;
	size_t len;
	read_header(&status, &len);
	read_body(len, stdout, NULL, 0);
	return status;
}

static int exit_of(int status)
{
	return status == ST_OK ? EXIT_OK : EXIT_FAILED;
}

/* "amid 0.1.0 1234 host\n" → the usual banner of asterisk -r. */
static void print_banner(const char *hello)
{
	char version[64] = "", host[256] = "";
	long pid = 0;
	if (sscanf(hello, "amid %63s %ld %255s", version, &pid, host) == 3)
		printf("Connected to amid %s currently running on %s "
		       "(pid = %ld)\n",
		       version, host, pid);
}

static int interactive(const char *hello)
{
	int tty = isatty(STDIN_FILENO);
	int last = ST_OK;
	char line[MAX_LINE + 2];
	if (tty)
		print_banner(hello);
	for (;;) {
		if (tty) {
			fputs("amid*CLI> ", stdout);
			fflush(stdout);
		}
		if (!fgets(line, sizeof(line), stdin))
			break;
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(stdin)) {
			/* Longer than the server takes: drop the rest. */
			int c;
			while ((c = getchar()) != EOF && c != '\n')
				;
			fprintf(stderr, "%s: command line too long (at most "
					"%d bytes)\n",
				progname, MAX_LINE - 1);
			last = 1;
			continue;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
			       line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		char *cmd = line;
		while (*cmd == ' ' || *cmd == '\t')
			cmd++;
		if (!*cmd)
			continue;
		if (!strcmp(cmd, "exit") || !strcmp(cmd, "quit"))
			break;
		last = run(cmd);
	}
	if (tty)
		putchar('\n');
	return exit_of(last);
}

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: %s [-s SOCKET] [-x COMMAND]\n"
		"Run operator commands on a running amid (like asterisk -rx).\n"
		"\n"
		"  -s SOCKET   control socket (default %s)\n"
		"  -x COMMAND  run COMMAND, print its output and exit\n"
		"  -h          show this help\n"
		"\n"
		"Without -x, commands are read from standard input, one per\n"
		"line; 'help' lists them, 'exit' or 'quit' leaves.\n"
		"Exit status: 0 success, 1 the command failed, 2 usage error\n"
		"or amid not reachable.\n",
		progname, DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	const char *command = NULL;
	int opt;
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "s:x:h")) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'x':
			if (command) {
				fprintf(stderr, "%s: -x given twice\n",
					progname);
				return EXIT_TROUBLE;
			}
			command = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_TROUBLE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (quote the "
				"command: -x \"core show uptime\")\n",
			progname, argv[optind]);
		return EXIT_TROUBLE;
	}
	if (command && (strchr(command, '\n') || strchr(command, '\r'))) {
		fprintf(stderr, "%s: the command must be one line\n", progname);
		return EXIT_TROUBLE;
	}
	if (command && strlen(command) >= MAX_LINE) {
		fprintf(stderr, "%s: command too long (at most %d bytes)\n",
			progname, MAX_LINE - 1);
		return EXIT_TROUBLE;
	}

	connect_socket();
	char hello[512];
	greeting(hello, sizeof(hello));
	if (command) {
		int status = run(command);
		shutdown(sock, SHUT_WR);
		close(sock);
		return exit_of(status);
	}
	int rc = interactive(hello);
	shutdown(sock, SHUT_WR);
	close(sock);
	return rc;
}

/*
 * libFuzzer harness: a whole session fed arbitrary bytes through a real
 * I/O worker: banner, login state machine (plain and MD5), dispatch,
 * replies, events.  The input is written to one end of a socketpair whose
 * other end is handed to the worker like an accepted connection; the
 * harness reads everything back until the session closes or goes quiet.
 * Users: admin/amp111 (all), limited/lim (user).  Failed logins close at
 * once (authfaildelay = 0) so the fuzzer does not wait.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions.h"
#include "auth.h"
#include "config.h"
#include "core.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int action_echo_event(AmiSession *s, const AmiMessage *m)
{
	ami_send_ack(s, m, "Event Sent");
	ami_manager_event(AMI_EVENT_FLAG_USER, "UserEvent", "UserEvent: %s\r\n",
			  ami_get_header(m, "UserEvent"));
	return AMI_SUCCESS;
}

static int action_ping(AmiSession *s, const AmiMessage *m)
{
	ami_send_start_ack(s, m);
	ami_append(s, "Ping: Pong\r\n\r\n");
	return AMI_SUCCESS;
}

static int action_wait(AmiSession *s, const AmiMessage *m)
{
	return ami_session_wait_event(s, m, 0);
}

static int action_events(AmiSession *s, const AmiMessage *m)
{
	ami_session_set_event_mask(s, ami_parse_event_mask(
					      ami_get_header(m, "EventMask")));
	ami_send_ack(s, m, NULL);
	return AMI_SUCCESS;
}

static GLogWriterOutput quiet(GLogLevelFlags level, const GLogField *f,
			      gsize n, gpointer data)
{
	return G_LOG_WRITER_HANDLED;
}

static void setup(void)
{
	g_log_set_writer_func(quiet, NULL, NULL);
	static const char conf[] =
		"general = { authfaildelay = 0; authlimit = 100000; };\n"
		"users = ( { username = \"admin\"; secret = \"amp111\";"
		" read = \"all\"; write = \"all\"; },"
		" { username = \"limited\"; secret = \"lim\"; read = \"user\";"
		" write = \"user\"; } );\n";
	char path[] = "/tmp/amid-fuzz-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, conf, sizeof(conf) - 1) < 0)
		abort();
	close(fd);
	AmidConfig *c = amid_config_load(path, NULL);
	unlink(path);
	if (!c)
		abort();
	amid_core_set_config(c);
	amid_config_unref(c);
	amid_actions_init();
	amid_auth_register();
	ami_manager_register2("Ping", 0, action_ping, NULL, "", NULL);
	ami_manager_register2("UserEvent", AMI_EVENT_FLAG_USER,
			      action_echo_event, NULL, "", NULL);
	ami_manager_register2("WaitEvent", 0, action_wait, NULL, "", NULL);
	ami_manager_register2("Events", 0, action_events, NULL, "", NULL);
	amid_core_mark_booted();
	amid_workers_start(1);
}

/* Read whatever the server sends; FALSE once it closed or went quiet. */
static gboolean drain(int fd, int timeout_ms)
{
	char buf[65536];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return FALSE;
	ssize_t n = read(fd, buf, sizeof(buf));
	return n > 0 || (n < 0 && errno == EAGAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gboolean ready;
	if (!ready) {
		setup();
		ready = TRUE;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	if (!amid_core_unauth_try_add(100000)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	amid_workers_assign(sv[1], "fuzz:1");

	size_t off = 0;
	while (off < size) {
		ssize_t w = write(sv[0], data + off, size - off);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			break;
		drain(sv[0], w < 0 ? 10 : 0);
	}
	shutdown(sv[0], SHUT_WR);
	while (drain(sv[0], 50))
		;
	close(sv[0]);
	return 0;
}

"""Clean shutdown on SIGTERM with sessions open."""

import time

from harness import AmidServer, AmidTestCase, STOP_TIMEOUT


class TestShutdown(AmidTestCase):
    """SIGTERM with live sessions: exit status 0 within 5 s, every client sees EOF."""

    def test_sigterm_with_sessions_open(self):
        """Logged-in, unauthenticated and mid-WaitEvent sessions do not hold up the exit."""
        authed = self.logged_in()
        unauth = self.connect()
        waiting = self.logged_in(events="off")
        waiting.send([("Action", "WaitEvent"), ("Timeout", "30"), ("ActionID", "w")])
        waiting.read_message()  # the ack; the wait is now pending

        t0 = time.monotonic()
        status = self.server.stop()
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 0, "amid %s" % self.server.describe_exit(status))
        self.assertLess(elapsed, STOP_TIMEOUT)
        for client in (authed, unauth, waiting):
            client.expect_closed(2)

    def test_restart_on_same_port(self):
        """After a clean exit the port is released: a new daemon binds it at once."""
        port = self.server.port
        self.assertEqual(self.server.stop(), 0)
        second = AmidServer()
        try:
            second.start(port=port)
            client = second.connect()
            self.assertTrue(client.banner.startswith(b"Asterisk Call Manager/"), client.banner)
            client.close()
        finally:
            status = second.stop()
            second.cleanup()
        self.assertEqual(status, 0, "second daemon %s" % second.describe_exit(status))

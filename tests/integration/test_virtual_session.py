"""Sessions opened by a module (amid/session.h), through mod_test_virtual.

TestVirtual (a blocking action) opens a session, submits Login, Ping and
Logoff as text, waits for it to close and answers with everything the
session produced, CRLF shown as "|".
"""
import re

from harness import AmidTestCase, DEFAULT_MODULES


class TestVirtualSession(AmidTestCase):
    test_modules = True
    load = DEFAULT_MODULES + ["mod_test_virtual.so"]

    def run_virtual(self, username, secret):
        c = self.connect()
        self.login(c)
        return c.request([("Action", "TestVirtual"), ("ActionID", "tv"),
                          ("Username", username), ("Secret", secret)])

    def test_login_ping_logoff(self):
        reply = self.run_virtual("admin", "amp111")
        self.assertEqual(reply.get("Response"), "Success", reply.raw)
        self.assertEqual(reply.get("Closed"), "yes")
        self.assertEqual(reply.get("SubmitAfterClose"), "-32")  # -EPIPE
        out = reply.get("Output")
        # No banner; the login answer, then Ping, then Goodbye, in order.
        self.assertTrue(out.startswith(
            "Response: Success|ActionID: v1|Message: Authentication accepted||"), out)
        self.assertRegex(out, r"Response: Success\|ActionID: v2\|Ping: Pong\|"
                              r"Timestamp: \d+\.\d{6}\|\|")
        self.assertTrue(out.endswith(
            "Response: Goodbye|ActionID: v3|Message: Thanks for all the fish.||"), out)

    def test_failed_login_closes(self):
        reply = self.run_virtual("admin", "wrong")
        self.assertEqual(reply.get("Closed"), "yes")
        self.assertEqual(reply.get("Output"),
                         "Response: Error|ActionID: v1|Message: Authentication failed||")
        self.server.wait_for_log(r"127\.0\.0\.1:1 failed to authenticate as 'admin'")

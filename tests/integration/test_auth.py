"""Authentication: plain and MD5 login, failures, limits (wire reference section 2)."""

import re
import time

from harness import AmidTestCase, error, goodbye, md5_key, success, timing_sensitive

#: Asterisk sends at most 9 digits; amid documents 16 (doc/protocol.md).  Digits only.
CHALLENGE_RE = re.compile(rb"\AResponse: Success\r\nActionID: ch\r\nChallenge: (\d+)\r\n\r\n\Z")


class TestPlainLogin(AmidTestCase):
    """Plain Login, FullyBooted, and what is allowed before login."""

    def test_login_success_exact_bytes(self):
        """Success reply is exactly Response/ActionID/Message."""
        client = self.connect()
        client.send([("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"),
                     ("ActionID", "x")])
        reply = client.read_message()
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: x\r\n"
                                    b"Message: Authentication accepted\r\n\r\n")

    def test_login_without_actionid_has_no_actionid_line(self):
        """Without ActionID the reply has no ActionID line."""
        client = self.connect()
        reply = client.request([("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"),
                                ("Events", "off")])
        self.assertEqual(reply.raw, success(None, "Authentication accepted"))

    def test_fully_booted_exactly_once(self):
        """FullyBooted (Privilege system,all; Status Fully Booted) arrives once after login."""
        client = self.connect()
        client.send([("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"),
                     ("ActionID", "fb")])
        self.assertEqual(client.read_message().raw, success("fb", "Authentication accepted"))
        event = client.wait_event("FullyBooted", timeout=3)
        self.assertEqual(event.lines[0], "Event: FullyBooted", event.raw)
        self.assertEqual(event.lines[1], "Privilege: system,all", event.raw)
        self.assertEqual(event.get("Status"), "Fully Booted", event.raw)
        self.assertIsNone(event.get("Timestamp"), "login copy must not carry Timestamp")
        # No second copy (login copy and broadcast must not both arrive).
        time.sleep(0.5)
        self.assertNoEvent(client, "FullyBooted")

    def test_fully_booted_not_sent_with_events_off(self):
        """``Events: off`` at login: no FullyBooted."""
        client = self.connect()
        self.login(client, events="off")
        time.sleep(0.5)
        self.assertNoEvent(client, "FullyBooted")

    def test_fully_booted_not_sent_with_events_user(self):
        """``Events: user`` excludes the system class, so no FullyBooted."""
        client = self.connect()
        self.login(client, events="user")
        time.sleep(0.3)
        self.assertNoEvent(client, "FullyBooted")

    def test_fully_booted_not_sent_without_system_read(self):
        """A user whose read= lacks system gets no FullyBooted."""
        client = self.connect()
        self.login(client, "noread")
        time.sleep(0.3)
        self.assertNoEvent(client, "FullyBooted")

    def test_already_authenticated(self):
        """A second Login on a logged-in session: ``Already authenticated``."""
        client = self.logged_in(events="off")
        reply = client.request([("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"),
                                ("ActionID", "again")])
        self.assertEqual(reply.raw, success("again", "Already authenticated"))
        self.assertPingWorks(client)

    def test_username_is_case_insensitive(self):
        """User lookup ignores case (``ADMIN`` logs in as admin)."""
        client = self.connect()
        self.login(client, "ADMIN", secret="amp111", events="off")
        self.assertPingWorks(client)

    def test_action_before_login_permission_denied(self):
        """Ping, CoreStatus and unknown actions before login: ``Permission denied``."""
        client = self.connect()
        for n, action in enumerate(("Ping", "CoreStatus", "NoSuchAction")):
            reply = client.request([("Action", action), ("ActionID", "e%d" % n)])
            self.assertEqual(reply.raw, error("e%d" % n, "Permission denied"), action)

    def test_missing_action_before_login(self):
        """Missing Action is reported as such even before login."""
        client = self.connect()
        reply = client.request([("ActionID", "m"), ("Foo", "bar")])
        self.assertEqual(reply.raw, error("m", "Missing action in request"))

    def test_logoff_before_login(self):
        """Logoff before login: Goodbye, then the server closes."""
        client = self.connect()
        client.send([("Action", "Logoff"), ("ActionID", "lo")])
        self.assertEqual(client.read_message().raw, goodbye("lo"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_logoff_after_login(self):
        """Logoff: exact Goodbye bytes, then close."""
        client = self.logged_in(events="off")
        client.send([("Action", "Logoff"), ("ActionID", "bye")])
        self.assertEqual(client.read_message().raw,
                         b"Response: Goodbye\r\nActionID: bye\r\n"
                         b"Message: Thanks for all the fish.\r\n\r\n")
        self.assertEqual(client.expect_closed(2), b"")

    def test_secret_trailing_space_fails(self):
        """Trailing whitespace is part of the value: ``Secret: amp111 `` fails."""
        client = self.connect()
        client.send(b"Action: Login\r\nUsername: admin\r\nSecret: amp111 \r\nActionID: ts\r\n\r\n")
        self.assertEqual(client.read_message().raw, error("ts", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")


class TestMD5(AmidTestCase):
    """Challenge / Login with ``AuthType: MD5`` (fast authfaildelay)."""

    def challenge(self, client, authtype="MD5"):
        """Send Challenge and return the challenge string."""
        reply = client.request([("Action", "Challenge"), ("AuthType", authtype),
                                ("ActionID", "ch")])
        m = CHALLENGE_RE.match(reply.raw)
        self.assertIsNotNone(m, "bad Challenge reply %r" % reply.raw)
        return m.group(1).decode()

    def test_challenge_shape(self):
        """``Challenge: <digits>`` right after Response and ActionID."""
        self.challenge(self.connect())

    def test_challenge_authtype_case_insensitive(self):
        """``AuthType: md5`` works like MD5."""
        self.challenge(self.connect(), "md5")

    def test_two_sessions_get_different_challenges(self):
        """Challenges are random per session."""
        self.assertNotEqual(self.challenge(self.connect()), self.challenge(self.connect()))

    def test_login_with_correct_key(self):
        """Login with Key = md5(challenge + secret) in lowercase hex succeeds."""
        client = self.connect()
        chal = self.challenge(client)
        reply = client.request([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                                ("Key", md5_key(chal, "amp111")), ("ActionID", "k"),
                                ("Events", "off")])
        self.assertEqual(reply.raw, success("k", "Authentication accepted"))
        self.assertPingWorks(client)

    def test_uppercase_key_fails(self):
        """The Key comparison is case-sensitive: uppercase hex fails and closes."""
        client = self.connect()
        chal = self.challenge(client)
        client.send([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                     ("Key", md5_key(chal, "amp111").upper()), ("ActionID", "u")])
        self.assertEqual(client.read_message(3).raw, error("u", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_wrong_key_fails(self):
        """A wrong Key: Authentication failed, then close."""
        client = self.connect()
        self.challenge(client)
        client.send([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                     ("Key", "0" * 32), ("ActionID", "x3")])
        self.assertEqual(client.read_message(3).raw, error("x3", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_key_without_challenge_fails(self):
        """An MD5 Login needs a prior Challenge on the same session."""
        client = self.connect()
        other = self.connect()
        chal = self.challenge(other)
        client.send([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                     ("Key", md5_key(chal, "amp111")), ("ActionID", "nc")])
        self.assertEqual(client.read_message(3).raw, error("nc", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_challenge_other_authtype(self):
        """``AuthType: SHA1``: ``Must specify AuthType``; the session stays usable."""
        client = self.connect()
        reply = client.request([("Action", "Challenge"), ("AuthType", "SHA1"), ("ActionID", "x1")])
        self.assertEqual(reply.raw, error("x1", "Must specify AuthType"))
        self.challenge(client)

    def test_challenge_without_authtype(self):
        """No AuthType at all: ``Must specify AuthType``."""
        client = self.connect()
        reply = client.request([("Action", "Challenge"), ("ActionID", "x0")])
        self.assertEqual(reply.raw, error("x0", "Must specify AuthType"))


class TestAuthFailureDelay(AmidTestCase):
    """Failed logins with the default 1 s delay, which must not block other sessions."""

    general = {"authfaildelay": 1000, "workers": 1}

    @timing_sensitive("Pings must be answered within 0.3 s during the 1 s failure delay")
    def test_failures_identical_delayed_and_closed(self):
        """Wrong secret, unknown user, missing secret: same bytes, >= 0.9 s, then close.

        The three failures run concurrently while a logged-in session on the
        same (single) worker keeps getting prompt Ping replies.
        """
        pinger = self.logged_in(events="off")
        attempts = {
            "wrong secret": [("Action", "Login"), ("Username", "admin"), ("Secret", "nope"),
                             ("ActionID", "af")],
            "unknown user": [("Action", "Login"), ("Username", "nosuch"), ("Secret", "x"),
                             ("ActionID", "af")],
            "missing secret": [("Action", "Login"), ("Username", "admin"), ("ActionID", "af")],
        }
        clients = {name: self.connect() for name in attempts}
        started = {}
        for name, headers in attempts.items():
            started[name] = time.monotonic()
            clients[name].send(headers)

        # While the three wait for their delay, Ping must be answered promptly.
        for i in range(3):
            t0 = time.monotonic()
            self.assertPingWorks(pinger, "during%d" % i)
            rtt = time.monotonic() - t0
            self.assertLess(rtt, 0.3, "Ping took %.3f s while logins were failing: the "
                                      "failure delay blocks the worker" % rtt)
            time.sleep(0.1)

        for name, client in clients.items():
            reply = client.read_message(5)
            elapsed = time.monotonic() - started[name]
            self.assertEqual(reply.raw, b"Response: Error\r\nActionID: af\r\n"
                                        b"Message: Authentication failed\r\n\r\n", name)
            self.assertGreaterEqual(elapsed, 0.9, "%s answered after %.3f s, expected the "
                                                  "1 s failure delay" % (name, elapsed))
            self.assertEqual(client.expect_closed(2), b"", name)


class TestAuthTimeout(AmidTestCase):
    """``authtimeout = 2``: unauthenticated connections are dropped after 2 s."""

    general = {"authtimeout": 2}

    @timing_sensitive("the close must come within 4 s of a 2 s authtimeout")
    def test_idle_unauthenticated_connection_closed(self):
        """Idle and not-logged-in-but-active connections close ~2 s after connect;
        a logged-in one stays."""
        t0 = time.monotonic()
        idle = self.connect()
        chatty = self.connect()
        reply = chatty.request([("Action", "Ping"), ("ActionID", "pd")])
        self.assertEqual(reply.raw, error("pd", "Permission denied"))
        authed = self.logged_in(events="off")

        self.assertEqual(idle.expect_closed(5), b"")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.5, "closed after %.2f s, before authtimeout" % elapsed)
        self.assertLess(elapsed, 4.0, "closed after %.2f s, authtimeout is 2 s" % elapsed)
        self.assertEqual(chatty.expect_closed(2), b"")

        time.sleep(max(0.0, 2.6 - (time.monotonic() - t0)))
        self.assertPingWorks(authed)


class TestAuthLimit(AmidTestCase):
    """``authlimit = 3``: at most 3 unauthenticated sessions at once."""

    general = {"authlimit": 3}

    def test_fourth_unauthenticated_connection_refused(self):
        """The 4th concurrent unauthenticated connection is closed without a banner;
        once one logs in, a new one is accepted."""
        time.sleep(0.3)  # let the daemon notice the harness' start-up probe is gone
        first = [self.connect() for _ in range(3)]
        for c in first:
            self.assertTrue(c.banner.startswith(b"Asterisk Call Manager/"), c.banner)

        fourth = self.connect(read_banner=False)
        self.assertEqual(fourth.expect_closed(2), b"",
                         "4th unauthenticated connection must be closed with no banner")

        self.login(first[0], events="off")
        time.sleep(0.1)
        fifth = self.connect()
        self.assertTrue(fifth.banner.startswith(b"Asterisk Call Manager/"), fifth.banner)
        self.assertPingWorks(first[0])

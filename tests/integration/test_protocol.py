"""Message framing, header matching, dispatch errors and ActionID echo
(wire reference sections 1 and 4)."""

import time

from harness import AmidTestCase, PING_RE, error, unknown_command


class TestDispatch(AmidTestCase):
    """How a complete message is matched to an action."""

    def setUp(self):
        super().setUp()
        self.client = self.logged_in(events="off")

    def test_unknown_action(self):
        """Unregistered action: the exact Invalid/unknown command text."""
        reply = self.client.request([("Action", "NoSuchAction"), ("ActionID", "e5")])
        self.assertEqual(reply.raw, b"Response: Error\r\nActionID: e5\r\nMessage: Invalid/unknown "
                                    b"command: NoSuchAction. Use Action: ListCommands to show "
                                    b"available commands.\r\n\r\n")

    def test_missing_action(self):
        """No Action header: ``Missing action in request``."""
        reply = self.client.request([("ActionID", "e6"), ("Foo", "bar")])
        self.assertEqual(reply.raw, error("e6", "Missing action in request"))

    def test_empty_message(self):
        """A lone blank line is processed as a message without Action."""
        reply = self.client.request(b"\r\n")
        self.assertEqual(reply.raw, error(None, "Missing action in request"))

    def test_empty_action_value(self):
        """``Action:`` with an empty value counts as missing."""
        reply = self.client.request(b"Action: \r\nActionID: ea\r\n\r\n")
        self.assertEqual(reply.raw, error("ea", "Missing action in request"))

    def test_space_before_colon_does_not_match(self):
        """``Action : Ping`` is not an Action header."""
        reply = self.client.request(b"Action : Ping\r\nActionID: sp\r\n\r\n")
        self.assertEqual(reply.raw, error("sp", "Missing action in request"))

    def test_trailing_space_kept_in_action(self):
        """``Action: Ping `` names the action ``Ping `` (unknown)."""
        reply = self.client.request(b"Action: Ping \r\nActionID: tr\r\n\r\n")
        self.assertEqual(reply.raw, unknown_command("tr", "Ping "))

    def test_lowercase_header_names_and_action(self):
        """``action: ping`` / ``actionid:`` work; the reply spells ``ActionID``."""
        reply = self.client.request(b"action: ping\r\nactionid: e7\r\n\r\n")
        self.assertRegex(reply.raw, PING_RE)
        self.assertTrue(reply.raw.startswith(b"Response: Success\r\nActionID: e7\r\n"), reply.raw)

    def test_uppercase_action_name(self):
        """Action lookup is case-insensitive."""
        reply = self.client.request(b"ACTION: PING\r\nACTIONID: up\r\n\r\n")
        self.assertRegex(reply.raw, PING_RE)

    def test_bare_lf_input(self):
        """Bare-LF lines are accepted; the reply still uses CRLF."""
        reply = self.client.request(b"Action: Ping\nActionID: e8\n\n")
        self.assertRegex(reply.raw, PING_RE)
        self.assertEqual(reply.get("ActionID"), "e8")

    def test_mixed_line_ends(self):
        """CRLF and LF can be mixed within one message."""
        reply = self.client.request(b"Action: Ping\nActionID: mx\r\n\n")
        self.assertRegex(reply.raw, PING_RE)
        self.assertEqual(reply.get("ActionID"), "mx")

    def test_action_header_last(self):
        """Headers in any order (panoramisk sorts them): Action last works."""
        reply = self.client.request([("ActionID", "ns"), ("Foo", "bar"), ("Action", "Ping")])
        self.assertRegex(reply.raw, PING_RE)
        self.assertEqual(reply.get("ActionID"), "ns")

    def test_first_nonempty_action_wins(self):
        """With duplicate Action headers the first non-empty one is used."""
        reply = self.client.request(b"Action: \r\nAction: Ping\r\nAction: Logoff\r\n"
                                    b"ActionID: dup\r\n\r\n")
        self.assertRegex(reply.raw, PING_RE)

    def test_ping_reply_shape(self):
        """``Ping: Pong`` and ``Timestamp: <sec>.<6 digits>`` close to now."""
        reply = self.client.request([("Action", "Ping"), ("ActionID", "p")])
        m = PING_RE.match(reply.raw)
        self.assertIsNotNone(m, reply.raw)
        self.assertEqual(m.group(1), b"ActionID: p\r\n")
        self.assertLess(abs(int(m.group(2)) - time.time()), 5, "Timestamp is not the current time")

    def test_ping_without_actionid(self):
        """No ActionID, no ActionID line."""
        reply = self.client.request([("Action", "Ping")])
        m = PING_RE.match(reply.raw)
        self.assertIsNotNone(m, reply.raw)
        self.assertIsNone(m.group(1))


class TestActionID(AmidTestCase):
    """ActionID is echoed verbatim as the second line of every response."""

    def setUp(self):
        super().setUp()
        self.client = self.logged_in(events="off")

    def echo(self, raw_value):
        """Send Ping with the raw ActionID line value; return the reply."""
        return self.client.request(b"Action: Ping\r\nActionID: " + raw_value + b"\r\n\r\n")

    def assertEchoed(self, sent, expected):
        """Ping with ActionID *sent* must answer with ActionID *expected* on line 2."""
        reply = self.echo(sent)
        self.assertRegex(reply.raw, PING_RE)
        self.assertTrue(reply.raw.startswith(b"Response: Success\r\nActionID: " + expected
                                             + b"\r\nPing: Pong\r\n"),
                        "sent ActionID %r, got %r" % (sent, reply.raw))

    def test_format_specifiers_literal(self):
        """``%s%n`` is echoed literally (AST-2008-004)."""
        self.assertEchoed(b"%s%n%x%%", b"%s%n%x%%")

    def test_uuid(self):
        """A UUID round-trips."""
        self.assertEchoed(b"6f1c7c0e-3a4b-4d1e-9c2a-0b9d2f6e8a11",
                          b"6f1c7c0e-3a4b-4d1e-9c2a-0b9d2f6e8a11")

    def test_slashes(self):
        """``a/b/1/7`` (asterisk-manager style) round-trips."""
        self.assertEchoed(b"a/b/1/7", b"a/b/1/7")

    def test_client_library_ids(self):
        """IDs used by real clients: ``__auth_<ms>__``, ``--spec_<ms>``, ``action/<uuid>/1/7``."""
        for value in (b"__auth_1732862400123__", b"--spec_1732862400123",
                      b"action/6f1c7c0e-3a4b-4d1e-9c2a-0b9d2f6e8a11/1/7"):
            self.assertEchoed(value, value)

    def test_leading_blanks_stripped(self):
        """Leading spaces and tabs are skipped."""
        self.assertEchoed(b"   \tlead", b"lead")

    def test_trailing_blanks_kept(self):
        """Trailing spaces are kept (``e10   ``)."""
        self.assertEchoed(b"e10   ", b"e10   ")

    def test_inner_colon_kept(self):
        """A colon inside the value is part of it."""
        self.assertEchoed(b"a: b:c", b"a: b:c")

    def test_first_duplicate_wins(self):
        """Two ActionID headers: the first is echoed, once."""
        reply = self.client.request(b"Action: Ping\r\nActionID: e9\r\nActionID: e9b\r\n\r\n")
        self.assertRegex(reply.raw, PING_RE)
        self.assertTrue(reply.raw.startswith(b"Response: Success\r\nActionID: e9\r\nPing"),
                        reply.raw)

    def test_empty_actionid_not_echoed(self):
        """``ActionID:`` with nothing after it: no ActionID line."""
        reply = self.echo(b"")
        self.assertRegex(reply.raw, PING_RE)
        self.assertNotIn(b"ActionID", reply.raw)

    def test_actionid_on_error_reply(self):
        """Errors carry the ActionID on line 2 too."""
        reply = self.client.request([("Action", "NoSuchAction"), ("ActionID", "%s%n")])
        self.assertEqual(reply.raw, unknown_command("%s%n", "NoSuchAction"))

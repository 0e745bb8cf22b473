"""Write-class checks and ListCommands (wire reference sections 1 step 6 and 3)."""

import re

from harness import AmidTestCase, error

#: One ListCommands line: ``Name: synopsis  (Priv: classes)`` (two spaces).
LISTCOMMANDS_LINE = re.compile(r"\A([A-Za-z][A-Za-z0-9_]*): (.*)  \(Priv: ([a-z,]+|<none>)\)\Z")


def list_commands(testcase, client, action_id="lc"):
    """Run ListCommands; return ``{name: (synopsis, priv)}`` in reply order.

    Asserts the framing: Success, ActionID second, no Message line, every
    entry line well formed.
    """
    reply = client.request([("Action", "ListCommands"), ("ActionID", action_id)])
    testcase.assertEqual(reply.lines[:2], ["Response: Success", "ActionID: " + action_id],
                         reply.raw[:200])
    entries = {}
    for line in reply.lines[2:]:
        m = LISTCOMMANDS_LINE.match(line)
        testcase.assertIsNotNone(m, "malformed ListCommands line %r" % line)
        testcase.assertNotIn(m.group(1), entries, "duplicate entry %r" % m.group(1))
        entries[m.group(1)] = (m.group(2), m.group(3))
    return entries


class TestLimitedUser(AmidTestCase):
    """User ``limited``: read=system,user write=user."""

    def setUp(self):
        super().setUp()
        self.client = self.logged_in("limited", events="off")

    def test_corestatus_denied(self):
        """CoreStatus needs system|reporting: ``Permission denied``."""
        reply = self.client.request([("Action", "CoreStatus"), ("ActionID", "p4")])
        self.assertEqual(reply.raw, error("p4", "Permission denied"))

    def test_command_denied(self):
        """Command needs the command class: ``Permission denied``."""
        admin = self.logged_in(events="off")
        if "Command" not in list_commands(self, admin):
            self.skipTest("no Command action registered")
        reply = self.client.request([("Action", "Command"), ("Command", "core show version"),
                                     ("ActionID", "p3")])
        self.assertEqual(reply.raw, error("p3", "Permission denied"))

    def test_modulecheck_denied(self):
        """ModuleCheck needs system: ``Permission denied``."""
        reply = self.client.request([("Action", "ModuleCheck"), ("Module", "mod_core"),
                                     ("ActionID", "mc")])
        self.assertEqual(reply.raw, error("mc", "Permission denied"))

    def test_ping_allowed(self):
        """Authority-0 actions run for any logged-in user."""
        self.assertPingWorks(self.client, "p5")

    def test_userevent_allowed(self):
        """UserEvent needs user, which write=user grants."""
        reply = self.client.request([("Action", "UserEvent"), ("UserEvent", "FromLimited"),
                                     ("ActionID", "p2")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: p2\r\nMessage: Event Sent\r\n\r\n")

    def test_unknown_action_still_unknown(self):
        """Lookup comes before the permission check: unknown stays unknown."""
        reply = self.client.request([("Action", "NoSuchAction"), ("ActionID", "u")])
        self.assertEqual(reply.get("Message"), "Invalid/unknown command: NoSuchAction. Use Action: "
                                               "ListCommands to show available commands.")

    def test_listcommands_filtered(self):
        """Only actions with Priv <none> or sharing a class with write=user are listed."""
        entries = list_commands(self, self.client)
        for name, (_, priv) in entries.items():
            self.assertTrue(priv == "<none>" or "user" in priv.split(","),
                            "%s (Priv: %s) listed for a write=user session" % (name, priv))
        for name in ("Login", "Logoff", "Challenge", "Ping", "UserEvent"):
            self.assertIn(name, entries)
        for name in ("ModuleLoad", "ModuleCheck", "CoreStatus", "CoreSettings"):
            self.assertNotIn(name, entries)
        self.assertEqual(entries["UserEvent"][1], "user,all")
        self.assertEqual(entries["Ping"][1], "<none>")

    def test_listcommands_sorted_case_insensitively(self):
        """Entries are sorted case-insensitively."""
        names = list(list_commands(self, self.client))
        self.assertEqual(names, sorted(names, key=str.lower))


class TestAdminListCommands(AmidTestCase):
    """ListCommands as ``admin`` (write=all)."""

    def test_listcommands_admin(self):
        """Everything is listed, sorted, with Priv strings ending in ``all``."""
        client = self.logged_in(events="off")
        entries = list_commands(self, client)
        names = list(entries)
        self.assertEqual(names, sorted(names, key=str.lower))
        for name in ("Login", "Logoff", "Challenge", "Ping", "UserEvent", "ListCommands",
                     "Events", "WaitEvent", "ModuleLoad", "ModuleCheck", "CoreStatus",
                     "CoreSettings"):
            self.assertIn(name, entries)
        for name, (synopsis, priv) in entries.items():
            self.assertTrue(priv == "<none>" or priv.endswith(",all") or priv == "all",
                            "%s: bad privilege string %r" % (name, priv))
        self.assertEqual(entries["ModuleLoad"][1], "system,all")
        self.assertEqual(entries["CoreStatus"][1], "system,reporting,all")
        self.assertEqual(entries["Login"][1], "<none>")

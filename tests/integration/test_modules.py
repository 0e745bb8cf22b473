"""ModuleLoad / ModuleCheck (wire reference section 3) against the real loader."""

import re

from harness import AmidTestCase, PING_RE, error, goodbye, success, unknown_command
from test_permissions import list_commands


class TestModuleActions(AmidTestCase):
    """Module management through AMI, as admin."""

    def setUp(self):
        super().setUp()
        self.client = self.logged_in(events="off")

    def tearDown(self):
        # Leave mod_core loaded for the next test whatever happened.
        try:
            reply = self.client.request([("Action", "Ping"), ("ActionID", "restore")])
            if reply.response != "Success":
                self.client.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                                     ("Module", "mod_core.so")])
        except AssertionError:
            pass
        super().tearDown()

    def test_unload_and_load_mod_core(self):
        """Unloading mod_core removes Ping; loading it again brings it back."""
        c = self.client
        reply = c.request([("Action", "ModuleLoad"), ("LoadType", "unload"),
                           ("Module", "mod_core"), ("ActionID", "ul")])
        self.assertEqual(reply.raw, success("ul", "Module unloaded."))

        reply = c.request([("Action", "Ping"), ("ActionID", "gone")])
        self.assertEqual(reply.raw, unknown_command("gone", "Ping"))

        reply = c.request([("Action", "ListCommands"), ("ActionID", "lc")])
        # Either ListCommands went away with mod_core (amid registers it there),
        # or it lives elsewhere and must no longer list Ping.
        if reply.raw != unknown_command("lc", "ListCommands"):
            self.assertEqual(reply.response, "Success", reply.raw)
            names = [line.split(":", 1)[0] for line in reply.lines[2:]]
            self.assertNotIn("Ping", names)
            self.assertIn("ModuleLoad", names)

        reply = c.request([("Action", "ModuleCheck"), ("Module", "mod_core"), ("ActionID", "mc")])
        self.assertEqual(reply.raw, error("mc", "Module not loaded"))

        reply = c.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                           ("Module", "mod_core.so"), ("ActionID", "ld")])
        self.assertEqual(reply.raw, success("ld", "Module loaded."))
        self.assertPingWorks(c, "back")
        self.assertIn("Ping", list_commands(self, c))

    def test_load_already_loaded(self):
        """Loading a module that is loaded fails cleanly and leaves it working."""
        reply = self.client.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                                     ("Module", "mod_core.so"), ("ActionID", "again")])
        self.assertEqual(reply.response, "Error", reply.raw)
        self.assertEqual(reply.lines[1], "ActionID: again")
        self.assertPingWorks(self.client)

    def test_modulecheck_loaded(self):
        """ModuleCheck mod_core: Success with a ``Version:`` line."""
        reply = self.client.request([("Action", "ModuleCheck"), ("Module", "mod_core"),
                                     ("ActionID", "mc")])
        self.assertRegex(reply.raw, re.compile(rb"\AResponse: Success\r\nActionID: mc\r\n"
                                               rb"Version: [^\r\n]*\r\n\r\n\Z"))

    def test_modulecheck_name_forms(self):
        """ModuleCheck matches with or without ``.so``, case-insensitively."""
        for name in ("mod_core.so", "MOD_CORE", "mod_modules"):
            reply = self.client.request([("Action", "ModuleCheck"), ("Module", name)])
            self.assertEqual(reply.response, "Success", "%s: %r" % (name, reply.raw))
            self.assertIsNotNone(reply.get("Version"), reply.raw)

    def test_modulecheck_missing(self):
        """ModuleCheck of a module that is not loaded: ``Module not loaded``."""
        reply = self.client.request([("Action", "ModuleCheck"), ("Module", "mod_nosuch"),
                                     ("ActionID", "mm")])
        self.assertEqual(reply.raw, error("mm", "Module not loaded"))

    def assertSingleReply(self, request, expected):
        """*request* gets exactly *expected* and nothing else before a Ping barrier."""
        self.client.send(request)
        self.assertEqual(self.client.read_message().raw, expected)
        reply, before = self.client.ping("after")
        self.assertEqual(before, [], "extra replies to one request: %r" % [m.raw for m in before])
        self.assertRegex(reply.raw, PING_RE)

    def test_missing_loadtype_single_reply(self):
        """No LoadType: exactly one ``Incomplete ModuleLoad action.`` reply."""
        self.assertSingleReply([("Action", "ModuleLoad"), ("Module", "mod_core"),
                                ("ActionID", "nl")],
                               error("nl", "Incomplete ModuleLoad action."))

    def test_missing_everything_single_reply(self):
        """Neither LoadType nor Module: still exactly one reply."""
        self.assertSingleReply([("Action", "ModuleLoad"), ("ActionID", "ne")],
                               error("ne", "Incomplete ModuleLoad action."))

    def test_unknown_loadtype_single_reply(self):
        """An unknown LoadType is incomplete too."""
        self.assertSingleReply([("Action", "ModuleLoad"), ("LoadType", "bogus"),
                                ("Module", "mod_core"), ("ActionID", "bl")],
                               error("bl", "Incomplete ModuleLoad action."))

    def test_load_without_module_single_reply(self):
        """``LoadType: load`` without Module: exactly one ``Need module name``."""
        self.assertSingleReply([("Action", "ModuleLoad"), ("LoadType", "load"),
                                ("ActionID", "nm")],
                               error("nm", "Need module name"))

    def test_path_traversal_refused(self):
        """``Module: ../../etc/x.so`` is refused as outside the modules directory."""
        reply = self.client.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                                     ("Module", "../../etc/x.so"), ("ActionID", "tr")])
        self.assertEqual(reply.raw, error("tr", "Module must be in the configured modules "
                                                "directory."))
        self.assertPingWorks(self.client)

    def test_absolute_path_refused(self):
        """An absolute path is refused as well."""
        reply = self.client.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                                     ("Module", "/etc/x.so"), ("ActionID", "ab")])
        self.assertEqual(reply.response, "Error", reply.raw)
        self.assertPingWorks(self.client)

    def test_load_missing_file(self):
        """Loading a name with no file: Error, session fine."""
        reply = self.client.request([("Action", "ModuleLoad"), ("LoadType", "load"),
                                     ("Module", "mod_nosuch.so"), ("ActionID", "nf")])
        self.assertEqual(reply.response, "Error", reply.raw)
        self.assertEqual(reply.lines[1], "ActionID: nf")
        self.assertPingWorks(self.client)


class TestNoModules(AmidTestCase):
    """A daemon with no modules: the core still authenticates and dispatches."""

    load = []

    def test_core_without_modules(self):
        """Login, FullyBooted and Logoff work; Ping is an unknown command."""
        client = self.connect()
        self.login(client, action_id="l")
        reply = client.request([("Action", "Ping"), ("ActionID", "np")])
        self.assertEqual(reply.raw, unknown_command("np", "Ping"))
        client.send([("Action", "Logoff"), ("ActionID", "bye")])
        self.assertEqual(client.read_message().raw, goodbye("bye"))
        self.assertEqual(client.expect_closed(2), b"")

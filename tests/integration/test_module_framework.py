"""The module framework through the real loader (DESIGN section 3, style item 13).

Every ``ModuleLoad`` / ``ModuleCheck`` path, start-up ordering and
``require``, the sweep of what a module leaves registered, unloading while a
handler runs, the Asterisk compatibility header and custom hooks, all with
the deliberately built modules of ``tests/modules/`` (``make check`` or
``make test-modules`` builds them; see harness.make_module_dir()).
"""

import collections
import re
import threading
import time

import harness
from harness import (DEFAULT_MODULES, PING_RE, START_TIMEOUT, AmidServer, AmidTestCase, error,
                     missing_test_modules, success, unknown_command)
from test_permissions import list_commands

#: Every test module; a class is skipped when one it needs is not built.
TEST_MODULES = [
    "mod_test_abi", "mod_test_abi_minor", "mod_test_sig", "mod_test_nosym", "mod_test_fail",
    "mod_test_leaky", "mod_test_slow", "mod_test_dep_a", "mod_test_dep_b", "mod_test_cycle_x",
    "mod_test_cycle_y", "mod_test_needs_missing", "mod_test_compat", "mod_test_hook",
]

NOT_IN_DIRECTORY = "Module must be in the configured modules directory."


def module_load(client, load_type, module, action_id):
    """Send ModuleLoad and return its reply."""
    headers = [("Action", "ModuleLoad"), ("LoadType", load_type)]
    if module is not None:
        headers.append(("Module", module))
    headers.append(("ActionID", action_id))
    return client.request(headers)


def module_check(client, module, action_id="mc"):
    """Send ModuleCheck and return its reply."""
    return client.request([("Action", "ModuleCheck"), ("Module", module),
                           ("ActionID", action_id)])


def version_reply(action_id, version):
    """The ModuleCheck reply for a loaded module."""
    return (b"Response: Success\r\nActionID: " + action_id.encode() + b"\r\nVersion: "
            + version.encode() + b"\r\n\r\n")


class ModuleFrameworkCase(AmidTestCase):
    """Base: a daemon whose modules directory holds the test modules too.

    Skips the class when the test modules are not built.  Tests read the
    daemon's log from a mark taken before the step they check.
    """

    test_modules = True

    @classmethod
    def setUpClass(cls):
        missing = missing_test_modules(TEST_MODULES)
        if missing:
            cls.server = None
            cls._start_error = None
            cls._late_deaths = []
            cls._skip_reason = ("test modules not built in %s (run `make check` or "
                                "`make test-modules`): %s" % (harness.test_module_dir(),
                                                              ", ".join(missing)))
            return
        super().setUpClass()

    def setUp(self):
        super().setUp()
        # The banner comes before start-up loading ends: wait for the end.
        self.server.wait_for_log(r"fully booted", START_TIMEOUT)
        self.admin = self.logged_in(events="off")

    def log_mark(self):
        """A position in the daemon's log; pass it to assertLogged()."""
        return len(self.server.log_text())

    def assertLogged(self, pattern, mark=0, timeout=2.0):
        """Assert a log line after *mark* matches regex *pattern*; return the match."""
        return self.server.wait_for_log(pattern, timeout, mark)

    def assertNotLogged(self, pattern, mark=0):
        """Assert no log line after *mark* matches regex *pattern*."""
        text = self.server.log_text()[mark:]
        found = re.search(pattern, text)
        self.assertIsNone(found, "unexpected log line matching %r:\n%s" % (pattern, text))

    def assertLoaded(self, module, version=None):
        """ModuleCheck says *module* is loaded (with *version* when given)."""
        reply = module_check(self.admin, module, "chk")
        self.assertEqual(reply.response, "Success", "%s: %r" % (module, reply.raw))
        if version is not None:
            self.assertEqual(reply.raw, version_reply("chk", version))

    def assertNotLoaded(self, module):
        """ModuleCheck says *module* is not loaded."""
        reply = module_check(self.admin, module, "chk")
        self.assertEqual(reply.raw, error("chk", "Module not loaded"), module)

    def ensure_loaded(self, *modules):
        """Load each of *modules* that is not loaded (restores state after a test)."""
        for module in modules:
            if module_check(self.admin, module, "ens").response != "Success":
                reply = module_load(self.admin, "load", module, "ens")
                self.assertEqual(reply.raw, success("ens", "Module loaded."), module)


# ---------------------------------------------------------------------------
# ModuleLoad and ModuleCheck
# ---------------------------------------------------------------------------

class TestModuleLoadPaths(ModuleFrameworkCase):
    """Every ModuleLoad outcome, with the wording mod_modules answers."""

    load = DEFAULT_MODULES + ["mod_test_dep_a.so", "mod_test_dep_b.so", "mod_test_slow.so"]

    def tearDown(self):
        try:
            self.ensure_loaded("mod_test_dep_a", "mod_test_dep_b", "mod_test_slow")
            for module in ("mod_test_compat", "mod_test_leaky"):
                module_load(self.admin, "unload", module, "cleanup")
        except AssertionError:
            pass
        super().tearDown()

    def test_load_unload_with_and_without_so(self):
        """``mod_x`` and ``mod_x.so`` name the same module for load, check and unload."""
        c = self.admin
        self.assertEqual(module_load(c, "load", "mod_test_compat", "l1").raw,
                         success("l1", "Module loaded."))
        self.assertLoaded("mod_test_compat.so")
        self.assertLoaded("MOD_TEST_COMPAT")
        self.assertEqual(module_load(c, "unload", "mod_test_compat.so", "u1").raw,
                         success("u1", "Module unloaded."))
        self.assertNotLoaded("mod_test_compat")
        self.assertEqual(module_load(c, "load", "mod_test_compat.so", "l2").raw,
                         success("l2", "Module loaded."))
        self.assertLoaded("mod_test_compat")
        self.assertEqual(module_load(c, "unload", "MOD_TEST_COMPAT", "u2").raw,
                         success("u2", "Module unloaded."))
        self.assertNotLoaded("mod_test_compat.so")

    def test_modulecheck_version(self):
        """ModuleCheck answers the descriptor's version string."""
        self.assertLoaded("mod_test_dep_a", "a-1")
        self.assertLoaded("mod_test_slow.so", "slow-1")

    def test_load_already_loaded(self):
        """Loading a loaded module: ``Could not load module.``, module unharmed."""
        reply = module_load(self.admin, "load", "mod_test_slow.so", "again")
        self.assertEqual(reply.raw, error("again", "Could not load module."))
        reply = self.admin.request([("Action", "TestFast"), ("ActionID", "f")])
        self.assertEqual(reply.raw, success("f", "Fast"))

    def test_unload_not_loaded(self):
        """Unloading a module that is not loaded: ``No such module.``"""
        reply = module_load(self.admin, "unload", "mod_test_compat", "nl")
        self.assertEqual(reply.raw, error("nl", "No such module."))

    def test_reload_module_with_callback(self):
        """Reload runs the module's reload callback, with or without ``.so``."""
        c = self.admin
        before = int(c.request([("Action", "TestDepA")]).get("Reloads"))
        mark = self.log_mark()
        self.assertEqual(module_load(c, "reload", "mod_test_dep_a", "r1").raw,
                         success("r1", "Module reloaded."))
        self.assertEqual(module_load(c, "reload", "mod_test_dep_a.so", "r2").raw,
                         success("r2", "Module reloaded."))
        self.assertEqual(int(c.request([("Action", "TestDepA")]).get("Reloads")), before + 2)
        self.assertLogged(r"mod_test_dep_a: reloaded \(%d\)" % (before + 2), mark)

    def test_reload_without_callback(self):
        """A module without reload callback: ``Module does not support reload action.``"""
        reply = module_load(self.admin, "reload", "mod_test_slow", "nr")
        self.assertEqual(reply.raw, error("nr", "Module does not support reload action."))
        self.assertLoaded("mod_test_slow")

    def test_reload_not_loaded(self):
        """Reloading a module that is not loaded: ``No such module.``"""
        reply = module_load(self.admin, "reload", "mod_test_compat", "rn")
        self.assertEqual(reply.raw, error("rn", "No such module."))

    def test_reload_all(self):
        """Reload with no Module reloads every module that can: ``All modules reloaded``."""
        c = self.admin
        before = int(c.request([("Action", "TestDepA")]).get("Reloads"))
        for module in (None, ""):
            reply = module_load(c, "reload", module, "ra")
            self.assertEqual(reply.raw, success("ra", "All modules reloaded"))
        self.assertEqual(int(c.request([("Action", "TestDepA")]).get("Reloads")), before + 2)
        self.assertLoaded("mod_test_slow")

    def test_unload_required_module(self):
        """dep_a cannot go while dep_b (which requires it) is loaded; the log says why."""
        mark = self.log_mark()
        reply = module_load(self.admin, "unload", "mod_test_dep_a", "ua")
        self.assertEqual(reply.raw, error("ua", "Could not unload module."))
        self.assertLogged(r"module mod_test_dep_a: cannot unload, mod_test_dep_b requires it",
                          mark)
        self.assertLoaded("mod_test_dep_a")
        reply = self.admin.request([("Action", "TestDepA"), ("ActionID", "a")])
        self.assertEqual(reply.response, "Success", reply.raw)

    def test_dependency_order_by_hand(self):
        """dep_b needs dep_a: unload b then a; loading b alone fails; a then b works."""
        c = self.admin
        self.assertEqual(module_load(c, "unload", "mod_test_dep_b", "ub").raw,
                         success("ub", "Module unloaded."))
        self.assertEqual(module_load(c, "unload", "mod_test_dep_a", "ua").raw,
                         success("ua", "Module unloaded."))
        mark = self.log_mark()
        reply = module_load(c, "load", "mod_test_dep_b", "lb")
        self.assertEqual(reply.raw, error("lb", "Could not load module."))
        self.assertLogged(r"module mod_test_dep_b requires mod_test_dep_a, which is not loaded",
                          mark)
        self.assertNotLoaded("mod_test_dep_b")
        reply = c.request([("Action", "TestDepB"), ("ActionID", "tb")])
        self.assertEqual(reply.raw, unknown_command("tb", "TestDepB"))
        self.assertEqual(module_load(c, "load", "mod_test_dep_a", "la").raw,
                         success("la", "Module loaded."))
        self.assertEqual(module_load(c, "load", "mod_test_dep_b", "lb2").raw,
                         success("lb2", "Module loaded."))
        reply = c.request([("Action", "TestDepB"), ("ActionID", "tb2")])
        self.assertEqual(reply.raw, success("tb2", "dep_b here"))

    def assertRefused(self, module, log_pattern):
        """Loading *module* answers ``Could not load module.`` and logs *log_pattern*."""
        mark = self.log_mark()
        reply = module_load(self.admin, "load", module, "bad")
        self.assertEqual(reply.raw, error("bad", "Could not load module."), module)
        self.assertLogged(log_pattern, mark)
        self.assertNotLoaded(module)
        self.assertPingWorks(self.admin)

    def test_abi_major_refused(self):
        """A module built for SDK ABI major + 1 is refused before any of its code runs."""
        self.assertRefused("mod_test_abi",
                           r"module \S*/mod_test_abi\.so: built for SDK ABI 2\.0, this amid has "
                           r"1\.\d+; rebuild it against this SDK")

    def test_abi_minor_refused(self):
        """A module built against a newer SDK minor is refused too."""
        self.assertRefused("mod_test_abi_minor.so",
                           r"module \S*/mod_test_abi_minor\.so: built for SDK ABI 1\.\d+, this "
                           r"amid has 1\.\d+")

    def test_build_signature_refused(self):
        """A wrong build signature is refused; the log shows both signatures."""
        self.assertRefused("mod_test_sig",
                           r"module \S*/mod_test_sig\.so: build signature "
                           r"'ptr2-long2-glib1-test' differs from amid's 'ptr\d+-long\d+-glib\d+'")

    def test_no_descriptor_refused(self):
        """A shared object without ``ami_module_info`` is not an amid module."""
        self.assertRefused("mod_test_nosym.so",
                           r"module \S*/mod_test_nosym\.so: no ami_module_info symbol: "
                           r"not an amid module")

    def test_failing_load_leaves_nothing(self):
        """load() registers an action, a hook and a timer, then fails: all swept."""
        for attempt in ("f1", "f2"):  # and a second time: nothing was left behind
            mark = self.log_mark()
            reply = module_load(self.admin, "load", "mod_test_fail", attempt)
            self.assertEqual(reply.raw, error(attempt, "Could not load module."))
            self.assertLogged(r"module mod_test_fail: load failed", mark)
            self.assertLogged(r"module mod_test_fail left action 'TestFail' registered; removed",
                              mark)
            self.assertLogged(r"module mod_test_fail left a hook registered; removed", mark)
            self.assertLogged(r"module mod_test_fail left a timer running; removed", mark)
            self.assertNotLoaded("mod_test_fail")
            reply = self.admin.request([("Action", "TestFail"), ("ActionID", "tf")])
            self.assertEqual(reply.raw, unknown_command("tf", "TestFail"))
            self.assertNotIn("TestFail", list_commands(self, self.admin))

    def test_path_traversal_refused(self):
        """``../x`` and names with a slash are outside the modules directory."""
        for name in ("../x", "../x.so", "../modules/mod_test_slow", "sub/mod_test_slow.so",
                     "mod_test_slow/../mod_test_slow"):
            mark = self.log_mark()
            reply = module_load(self.admin, "load", name, "tr")
            self.assertEqual(reply.raw, error("tr", NOT_IN_DIRECTORY), name)
            self.assertLogged(r"module '%s': must be a name in the modules directory"
                              % re.escape(name), mark)
        self.assertPingWorks(self.admin)

    def test_missing_file(self):
        """A name with no file: ``Module not found.``, and the log names the path."""
        for name in ("mod_test_nonexistent", "mod_test_nonexistent.so"):
            mark = self.log_mark()
            reply = module_load(self.admin, "load", name, "nf")
            self.assertEqual(reply.raw, error("nf", "Module not found."), name)
            self.assertLogged(r"module \S*/mod_test_nonexistent\.so: no such file", mark)

    def test_unload_of_running_mod_modules_refused(self):
        """ModuleLoad cannot unload mod_modules: its own handler is running."""
        mark = self.log_mark()
        reply = module_load(self.admin, "unload", "mod_modules", "self")
        self.assertEqual(reply.raw, error("self", "Could not unload module."))
        self.assertLogged(r"module mod_modules: cannot unload while its code runs", mark)
        self.assertLoaded("mod_modules")


# ---------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------

class TestStartupOrdering(ModuleFrameworkCase):
    """Start-up: ``requires`` ordering, cycles, missing requirements, bad modules."""

    load = DEFAULT_MODULES + [
        "mod_test_dep_b.so", "mod_test_dep_a.so",  # b first: the loader reorders
        "mod_test_cycle_x", "mod_test_cycle_y", "mod_test_needs_missing.so",
        "mod_test_abi", "mod_test_sig", "mod_test_nosym", "mod_test_fail",
    ]

    def test_requires_orders_loading(self):
        """dep_b listed before dep_a: both load, dep_a first."""
        self.assertLoaded("mod_test_dep_a")
        self.assertLoaded("mod_test_dep_b")
        log = self.server.log_text()
        a = log.find("Loaded module mod_test_dep_a ")
        b = log.find("Loaded module mod_test_dep_b ")
        self.assertGreaterEqual(a, 0, log)
        self.assertGreater(b, a, "mod_test_dep_b loaded before mod_test_dep_a:\n" + log)

    def test_cycle_not_loaded(self):
        """A requirement cycle: neither module loads, the log names the cycle."""
        self.assertNotLoaded("mod_test_cycle_x")
        self.assertNotLoaded("mod_test_cycle_y")
        self.assertLogged(r"module mod_test_cycle_[xy]: dependency cycle")
        self.assertLogged(r"module mod_test_cycle_x: not loaded because mod_test_cycle_y could "
                          r"not be")
        self.assertLogged(r"module mod_test_cycle_y: not loaded because mod_test_cycle_x could "
                          r"not be")
        self.assertNotLogged(r"mod_test_cycle_[xy]: loaded")

    def test_missing_requirement_not_loaded(self):
        """A module whose requirement does not exist is skipped, with a reason."""
        self.assertNotLoaded("mod_test_needs_missing")
        self.assertLogged(r"module mod_test_needs_missing requires mod_test_nonexistent, which "
                          r"is not available; not loading it")
        self.assertNotLogged(r"mod_test_needs_missing: loaded")

    def test_bad_modules_skipped_at_startup(self):
        """ABI, signature, descriptor and load() failures at start-up are logged and skipped."""
        for module, pattern in (
                ("mod_test_abi", r"mod_test_abi\.so: built for SDK ABI 2\.0"),
                ("mod_test_sig", r"mod_test_sig\.so: build signature 'ptr2-long2-glib1-test' "
                                 r"differs"),
                ("mod_test_nosym", r"mod_test_nosym\.so: no ami_module_info symbol"),
                ("mod_test_fail", r"module mod_test_fail: load failed")):
            self.assertNotLoaded(module)
            self.assertLogged(pattern)

    def test_daemon_booted(self):
        """The daemon boots anyway: FullyBooted, Ping, the good modules work."""
        client = self.connect()
        self.login(client)  # reads FullyBooted
        self.assertPingWorks(client)
        reply = client.request([("Action", "TestDepB"), ("ActionID", "b")])
        self.assertEqual(reply.raw, success("b", "dep_b here"))
        self.assertLoaded("mod_core")
        self.assertLoaded("mod_modules")


class TestStartupRequire(ModuleFrameworkCase):
    """``modules.require``: the daemon refuses to run without those modules."""

    load = DEFAULT_MODULES + ["mod_test_dep_a"]
    modules = {"require": ["mod_core", "mod_modules.so", "mod_test_dep_a"]}

    def run_to_exit(self, **kwargs):
        """Start a daemon that must stop on its own; return (exit status, log)."""
        server = AmidServer(test_modules=True, **kwargs)
        try:
            server.launch()
            deadline = time.monotonic() + START_TIMEOUT
            while server.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            running = server.proc.poll() is None
            status = server.stop()
            log = server.log_text()
        finally:
            server.kill()
            server.cleanup()
        self.assertFalse(running, "amid kept running although a required module is "
                                  "missing; log:\n" + log)
        return status, log

    def test_require_satisfied(self):
        """This class's daemon requires modules that load: it boots."""
        self.assertLoaded("mod_test_dep_a")
        self.assertPingWorks(self.admin)

    def test_require_missing_module(self):
        """``require`` naming a module with no file: exit status non-zero, the log says which."""
        status, log = self.run_to_exit(modules={"require": ["mod_test_nonexistent"]})
        self.assertIsNotNone(status)
        self.assertGreater(status, 0, "amid exited with %s; log:\n%s" % (status, log))
        self.assertRegex(log, r"required module mod_test_nonexistent did not load")

    def test_require_module_that_cannot_load(self):
        """``require`` naming a module that exists but cannot load (cycle): non-zero exit."""
        status, log = self.run_to_exit(load=DEFAULT_MODULES + ["mod_test_cycle_x",
                                                               "mod_test_cycle_y"],
                                       modules={"require": ["mod_core", "mod_test_cycle_x.so"]})
        self.assertIsNotNone(status)
        self.assertGreater(status, 0, "amid exited with %s; log:\n%s" % (status, log))
        self.assertRegex(log, r"required module mod_test_cycle_x\.so did not load")

    def test_require_refused_module(self):
        """``require`` naming a module the loader refuses (ABI): non-zero exit."""
        status, log = self.run_to_exit(load=DEFAULT_MODULES + ["mod_test_abi"],
                                       modules={"require": ["mod_test_abi"]})
        self.assertIsNotNone(status)
        self.assertGreater(status, 0, "amid exited with %s; log:\n%s" % (status, log))
        self.assertRegex(log, r"required module mod_test_abi did not load")


# ---------------------------------------------------------------------------
# Leftovers, unloading while running
# ---------------------------------------------------------------------------

LEAKY_FREED = b"Event: TestLeakyFreed\r\nPrivilege: user,all\r\nCalls: %d\r\n\r\n"


class TestLeftoversSwept(ModuleFrameworkCase):
    """mod_test_leaky unregisters nothing: the core sweeps it all."""

    load = DEFAULT_MODULES + ["mod_test_leaky"]

    def tearDown(self):
        try:
            self.ensure_loaded("mod_test_leaky")
        except AssertionError:
            pass
        super().tearDown()

    def test_unload_sweeps_everything(self):
        """Action, hook, timer and session datastore are removed; the session lives on."""
        holder = self.logged_in()  # events on: gets the ticks and TestLeakyFreed
        for n in (1, 2):
            reply = holder.request([("Action", "TestLeaky"), ("ActionID", "t%d" % n)])
            self.assertEqual(reply.raw, b"Response: Success\r\nActionID: t%d\r\nMessage: Datastore "
                                        b"added\r\nCalls: %d\r\n\r\n" % (n, n))
        holder.wait_event("TestLeakyTick", 2)  # the timer runs

        mark = self.log_mark()
        reply = module_load(self.admin, "unload", "mod_test_leaky", "ul")
        self.assertEqual(reply.raw, success("ul", "Module unloaded."))
        self.assertEqual(holder.wait_event("TestLeakyFreed", 3).raw, LEAKY_FREED % 2)
        for pattern in (r"mod_test_leaky: unloading without unregistering anything",
                        r"module mod_test_leaky left action 'TestLeaky' registered; removed",
                        r"module mod_test_leaky left a hook registered; removed",
                        r"module mod_test_leaky left a timer running; removed",
                        r"Unloaded module mod_test_leaky",
                        r"mod_test_leaky: datastore freed after 2 call\(s\)"):
            self.assertLogged(pattern, mark)
        self.assertNotLoaded("mod_test_leaky")

        # The session that held the datastore still works.
        self.assertPingWorks(holder, "after")
        reply = holder.request([("Action", "TestLeaky"), ("ActionID", "gone")])
        self.assertEqual(reply.raw, unknown_command("gone", "TestLeaky"))
        self.assertNotIn("TestLeaky", list_commands(self, holder))

        # The timer is gone: no tick after the ones already queued.
        holder.ping("drain1")
        time.sleep(0.15)
        holder.ping("drain2")
        holder.skipped = []
        time.sleep(0.35)
        self.assertNoEvent(holder, "TestLeakyTick")

    def test_datastore_freed_with_session(self):
        """A session closing frees its datastore through the destroy callback, no sweep."""
        client = self.logged_in(events="off")
        reply = client.request([("Action", "TestLeaky"), ("ActionID", "t")])
        self.assertEqual(reply.get("Calls"), "1", reply.raw)
        mark = self.log_mark()
        client.request([("Action", "Logoff")])
        self.assertLogged(r"mod_test_leaky: datastore freed after 1 call\(s\)", mark)
        self.assertNotLogged(r"left \d+ session datastore", mark)

    def test_reload_after_sweep(self):
        """After a sweep the module loads again and works; unloading again sweeps again."""
        c = self.admin
        self.assertEqual(module_load(c, "unload", "mod_test_leaky", "u1").raw,
                         success("u1", "Module unloaded."))
        self.assertEqual(module_load(c, "load", "mod_test_leaky", "l1").raw,
                         success("l1", "Module loaded."))
        reply = c.request([("Action", "TestLeaky"), ("ActionID", "t")])
        self.assertEqual(reply.get("Calls"), "1", reply.raw)
        mark = self.log_mark()
        self.assertEqual(module_load(c, "unload", "mod_test_leaky", "u2").raw,
                         success("u2", "Module unloaded."))
        self.assertLogged(r"module mod_test_leaky left action 'TestLeaky' registered", mark)
        # The sweep frees the session's datastore through its destroy callback.
        self.assertLogged(r"mod_test_leaky: datastore freed after 1 call\(s\)", mark)
        self.assertPingWorks(c)


class TestUnloadWhileRunning(ModuleFrameworkCase):
    """mod_test_slow: no unload while its blocking TestSlow runs."""

    load = DEFAULT_MODULES + ["mod_test_slow"]

    def tearDown(self):
        try:
            self.ensure_loaded("mod_test_slow")
        except AssertionError:
            pass
        super().tearDown()

    def test_unload_refused_while_running(self):
        """Unload during TestSlow: ``Could not unload module.``; TestSlow still succeeds;
        afterwards the unload works."""
        runner = self.logged_in(events="off")
        watcher = self.logged_in()  # sees TestSlowStarted
        runner.send([("Action", "TestSlow"), ("Seconds", "1.5"), ("ActionID", "slow1")])
        started = watcher.wait_event("TestSlowStarted", 3)
        self.assertEqual(started.get("ActionID"), "slow1", started.raw)

        mark = self.log_mark()
        t0 = time.monotonic()
        reply = module_load(self.admin, "unload", "mod_test_slow", "ul1")
        waited = time.monotonic() - t0
        self.assertEqual(reply.raw, error("ul1", "Could not unload module."))
        self.assertGreaterEqual(waited, 0.15, "the unload should wait ~200 ms for the handler")
        self.assertLogged(r"module mod_test_slow: cannot unload while its code runs", mark)
        self.assertLoaded("mod_test_slow")
        reply = self.admin.request([("Action", "TestFast"), ("ActionID", "f1")])
        self.assertEqual(reply.raw, success("f1", "Fast"))

        reply = runner.read_response(timeout=5)
        self.assertEqual(reply.raw, success("slow1", "Slept"))

        reply = module_load(self.admin, "unload", "mod_test_slow", "ul2")
        self.assertEqual(reply.raw, success("ul2", "Module unloaded."))
        reply = runner.request([("Action", "TestSlow"), ("Seconds", "0"), ("ActionID", "s2")])
        self.assertEqual(reply.raw, unknown_command("s2", "TestSlow"))
        self.assertPingWorks(runner)

    @harness.timing_sensitive("three other sessions must be answered within 0.8 s")
    def test_blocking_action_does_not_stall_others(self):
        """While one session sleeps in TestSlow, other sessions are answered at once."""
        runner = self.logged_in(events="off")
        runner.send([("Action", "TestSlow"), ("Seconds", "1"), ("ActionID", "s")])
        others = [self.logged_in(events="off") for _ in range(3)]
        t0 = time.monotonic()
        for i, other in enumerate(others):
            reply = other.request([("Action", "TestFast"), ("ActionID", "f%d" % i)])
            self.assertEqual(reply.raw, success("f%d" % i, "Fast"))
        self.assertLess(time.monotonic() - t0, 0.8)
        self.assertEqual(runner.read_response(timeout=5).raw, success("s", "Slept"))


# ---------------------------------------------------------------------------
# Asterisk compatibility and hooks
# ---------------------------------------------------------------------------

class TestAsteriskCompat(ModuleFrameworkCase):
    """mod_test_compat, written only with <amid/asterisk-compat.h> names."""

    load = DEFAULT_MODULES + ["mod_test_compat"]

    def test_echo_reply_and_event(self):
        """CompatEcho: astman_start_ack + astman_append, and a manager_event."""
        listener = self.logged_in()
        reply = self.admin.request([("Action", "CompatEcho"), ("Value", "hi there: 1"),
                                    ("ActionID", "e1")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: e1\r\nValue: hi there: 1"
                                    b"\r\n\r\n")
        self.assertEqual(listener.wait_event("CompatEcho").raw,
                         b"Event: CompatEcho\r\nPrivilege: user,all\r\nValue: hi there: 1\r\n\r\n")

    def test_echo_error(self):
        """CompatEcho without Value: astman_send_error (ast_strlen_zero works)."""
        reply = self.admin.request([("Action", "CompatEcho"), ("ActionID", "e2")])
        self.assertEqual(reply.raw, error("e2", "Value not specified"))

    def test_registered_like_asterisk(self):
        """ast_manager_register2 and ast_manager_register_xml entries in ListCommands."""
        entries = list_commands(self, self.admin)
        self.assertEqual(entries.get("CompatEcho"), ("Echo a value", "user,all"))
        self.assertIn("CompatCounter", entries)
        # Authority EVENT_FLAG_USER: user "limited" (write=user) may run it.
        limited = self.logged_in("limited", events="off")
        reply = limited.request([("Action", "CompatEcho"), ("Value", "x"), ("ActionID", "p")])
        self.assertEqual(reply.response, "Success", reply.raw)

    def test_counter_datastore(self):
        """CompatCounter keeps a per-session count in a datastore (find/alloc/add/remove)."""
        a = self.logged_in(events="off")
        b = self.logged_in(events="off")
        for expected in (1, 2, 3):
            self.assertEqual(a.request([("Action", "CompatCounter")]).get("Counter"),
                             str(expected))
        self.assertEqual(b.request([("Action", "CompatCounter")]).get("Counter"), "1")
        reply = a.request([("Action", "CompatCounter"), ("Reset", "yes"), ("ActionID", "r")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: r\r\nCounter: 1\r\n\r\n")
        self.assertEqual(a.request([("Action", "CompatCounter")]).get("Counter"), "2")

    def test_clean_unload(self):
        """AST_MODULE_INFO_STANDARD's unload_module removes everything: no sweep warnings."""
        a = self.logged_in(events="off")
        a.request([("Action", "CompatCounter")])  # a datastore to free
        mark = self.log_mark()
        self.assertEqual(module_load(self.admin, "unload", "mod_test_compat", "u").raw,
                         success("u", "Module unloaded."))
        self.assertLogged(r"Unloaded module mod_test_compat", mark)
        # The datastore is the only leftover a ported module cannot undo itself.
        self.assertNotLogged(r"mod_test_compat left (action|a hook|a timer)", mark)
        reply = a.request([("Action", "CompatEcho"), ("Value", "x"), ("ActionID", "g")])
        self.assertEqual(reply.raw, unknown_command("g", "CompatEcho"))
        self.assertEqual(module_load(self.admin, "load", "mod_test_compat", "l").raw,
                         success("l", "Module loaded."))
        self.assertEqual(a.request([("Action", "CompatCounter")]).get("Counter"), "1")


HOOK_PING = re.compile(r"\AResponse: Success\|ActionID: h1\|Ping: Pong\|Timestamp: \d+\.\d{6}\|\|"
                       r"\Z")


class TestHooks(ModuleFrameworkCase):
    """mod_test_hook: a custom hook sees events and runs actions."""

    load = DEFAULT_MODULES + ["mod_test_hook", "mod_test_slow"]

    def hook_count(self):
        """(Count, LastEvent) from TestHookCount."""
        reply = self.admin.request([("Action", "TestHookCount")])
        self.assertEqual(reply.response, "Success", reply.raw)
        return int(reply.get("Count")), reply.get("LastEvent")

    def hook_send(self, request):
        """TestHookSend *request* ("|" = CR LF); return (result, hook response text)."""
        reply = self.admin.request([("Action", "TestHookSend"), ("Request", request)])
        self.assertEqual(reply.response, "Success", reply.raw)
        return int(reply.get("Result")), reply.get("HookResponse")

    def test_hook_sees_events(self):
        """Every event reaches the hook, even one no session may read."""
        noread = self.logged_in("noread", events="off")
        before, _ = self.hook_count()
        for n in range(3):
            reply = noread.request([("Action", "UserEvent"), ("UserEvent", "HookProbe%d" % n)])
            self.assertEqual(reply.response, "Success", reply.raw)
        after, last = self.hook_count()
        self.assertEqual(after, before + 3)
        self.assertEqual(last, "UserEvent")

    def test_hook_ping(self):
        """TestHookPing: the Ping reply comes back through the hook as a HookResponse."""
        reply = self.admin.request([("Action", "TestHookPing"), ("ActionID", "hp")])
        self.assertEqual(reply.lines[:3], ["Response: Success", "ActionID: hp", "Result: 0"],
                         reply.raw)
        self.assertRegex(reply.get("HookResponse"), HOOK_PING)

    def test_hook_response_not_counted_as_event(self):
        """The HookResponse goes to the hook only; it is no event for sessions."""
        listener = self.logged_in()
        before, _ = self.hook_count()
        self.admin.request([("Action", "TestHookPing")])
        after, _ = self.hook_count()
        self.assertEqual(after, before)
        self.assertNoEvent(listener, "HookResponse")

    def test_hook_send_results(self):
        """ami_hook_send_action: its return codes and the reply text."""
        result, text = self.hook_send("Action: ModuleCheck|Module: mod_core|ActionID: m")
        self.assertEqual((result, text), (0, "Response: Success|ActionID: m|Version: 1.0||"))
        result, text = self.hook_send("Action: CoreStatus|Foo: bar")  # needs system: held
        self.assertEqual(result, 0)
        self.assertTrue(text.startswith("Response: Success|"), text)
        self.assertEqual(self.hook_send("Action: NoSuchAction"), (-2, ""))  # -ENOENT
        self.assertEqual(self.hook_send("Action: Login|Username: admin|Secret: amp111"),
                         (-1, ""))  # -EPERM
        self.assertEqual(self.hook_send("Action: TestHookConfigOnly"), (-1, ""))  # -EPERM
        self.assertEqual(self.hook_send("Action: TestSlow|Seconds: 0"), (-1, ""))  # blocking
        self.assertEqual(self.hook_send("ActionID: x"), (-22, ""))  # -EINVAL

    def test_unload_and_reload_hook_module(self):
        """Its unload removes the hook cleanly; a new load starts a new count."""
        self.admin.request([("Action", "UserEvent"), ("UserEvent", "Before")])
        mark = self.log_mark()
        self.assertEqual(module_load(self.admin, "unload", "mod_test_hook", "u").raw,
                         success("u", "Module unloaded."))
        self.assertNotLogged(r"mod_test_hook left", mark)
        self.admin.request([("Action", "UserEvent"), ("UserEvent", "Unhooked")])
        self.assertEqual(module_load(self.admin, "load", "mod_test_hook", "l").raw,
                         success("l", "Module loaded."))
        self.assertEqual(self.hook_count(), (0, ""))


# ---------------------------------------------------------------------------
# Stress
# ---------------------------------------------------------------------------

class TestLoadUnloadStress(ModuleFrameworkCase):
    """Load and unload modules in a loop while 20 clients call their actions."""

    load = DEFAULT_MODULES + ["mod_test_slow", "mod_test_leaky", "mod_test_hook"]

    CLIENTS = 20
    #: The loader's loop gives up after this long (the test then fails).
    TIME_LIMIT = 15.0
    #: Success messages of the actions the clients call.
    OK_MESSAGES = ("Fast", "Slept", "Datastore added", "Event Sent", None)

    def judge(self, reply, action_id):
        """'ok', 'refused', or a description of what is wrong with *reply*."""
        if reply.get("ActionID") != action_id:
            return "reply for %r carries ActionID %r: %r" % (action_id, reply.get("ActionID"),
                                                             reply.raw)
        message = reply.get("Message")
        if reply.response == "Success" and message in self.OK_MESSAGES:
            return "ok"
        if reply.response == "Error" and message is not None and (
                message.startswith("Invalid/unknown command: ") or message == "Permission denied"):
            return "refused"
        return "unexpected reply %r" % reply.raw

    def run_traffic(self, cycles, steps, request_for, events_every=0):
        """Run *cycles* rounds of ModuleLoad *steps* while CLIENTS clients send requests.

        *steps* lists ``(load_type, module)``; each must answer its Success
        or its "Could not …" error.  ``request_for(n)`` gives a client's
        n-th request (without ActionID).  Every *events_every*-th client
        keeps events on.  Returns ``(successful steps, client outcomes)``
        after asserting every reply was acceptable and nothing hung.
        """
        loader = self.logged_in(events="off")
        clients = [self.logged_in(events="on" if events_every and i % events_every == 0
                                  else "off")
                   for i in range(self.CLIENTS)]
        stop = threading.Event()
        lock = threading.Lock()
        outcomes = collections.Counter()
        problems = []

        def hammer(index, client):
            n = 0
            try:
                while not stop.is_set():
                    n += 1
                    action_id = "c%d-%d" % (index, n)
                    reply = client.request(request_for(n) + [("ActionID", action_id)],
                                           timeout=10)
                    verdict = self.judge(reply, action_id)
                    with lock:
                        if verdict in ("ok", "refused"):
                            outcomes[verdict] += 1
                        else:
                            problems.append(verdict)
                            return
            except AssertionError as e:  # timeout or EOF
                with lock:
                    problems.append("client %d, request %d: %s" % (index, n, e))

        threads = [threading.Thread(target=hammer, args=(i, c), daemon=True)
                   for i, c in enumerate(clients)]
        for t in threads:
            t.start()

        done = collections.Counter()
        answers = {"unload": ("Module unloaded.", "Could not unload module."),
                   "load": ("Module loaded.", "Could not load module.")}
        started = time.monotonic()
        try:
            for i in range(cycles):
                if time.monotonic() - started > self.TIME_LIMIT:
                    break
                for load_type, module in steps:
                    ok, busy = answers[load_type]
                    action_id = "%s-%s-%d" % (load_type, module, i)
                    reply = module_load(loader, load_type, module, action_id)
                    if reply.raw == success(action_id, ok):
                        done[load_type, module] += 1
                    elif reply.raw != error(action_id, busy):
                        self.fail("ModuleLoad %s %s #%d: %r" % (load_type, module, i, reply.raw))
                with lock:
                    if problems:
                        break
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        elapsed = time.monotonic() - started

        self.assertEqual(problems, [], "%d bad replies, first ones shown" % len(problems))
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hangs")
        self.assertLess(elapsed, self.TIME_LIMIT, "only %r in %.1f s" % (dict(done), elapsed))
        self.assertGreater(outcomes["ok"], 0, outcomes)
        # Still serving: Ping works on old and new sessions.
        for client in (loader, clients[0], self.logged_in(events="off")):
            reply = client.request([("Action", "Ping"), ("ActionID", "p")])
            self.assertRegex(reply.raw, PING_RE)
        return done, outcomes

    def assertCleanExit(self):
        """No critical log line; SIGTERM ends the daemon with status 0."""
        self.assertNotLogged(r"CRITICAL|ERROR")
        status = self.server.stop()
        self.assertEqual(status, 0, "amid %s after SIGTERM; log:\n%s"
                         % (self.server.describe_exit(status), self.server.log_tail()))

    def test_load_unload_under_traffic(self):
        """mod_test_slow unloaded/loaded 200 times under TestFast/TestSlow traffic."""
        cycles = 200

        def request_for(n):
            if n % 10 == 0:
                return [("Action", "TestSlow"), ("Seconds", "0")]
            return [("Action", "TestFast")]

        done, _ = self.run_traffic(cycles, [("unload", "mod_test_slow"),
                                            ("load", "mod_test_slow")], request_for)
        # A refusal needs a handler running for 200 ms: with TestFast and
        # TestSlow(0) nearly every unload must succeed.
        self.assertGreater(done["unload", "mod_test_slow"], cycles * 0.9, done)
        self.ensure_loaded("mod_test_slow")
        reply = self.admin.request([("Action", "TestFast"), ("ActionID", "end")])
        self.assertEqual(reply.raw, success("end", "Fast"))
        self.assertCleanExit()

    def test_sweeps_under_traffic(self):
        """Hooks, timers and datastores swept 100 times while events flow and sessions
        add datastores."""
        cycles = 100

        def request_for(n):
            if n % 3 == 0:
                return [("Action", "TestLeaky")]
            if n % 3 == 1:
                return [("Action", "UserEvent"), ("UserEvent", "Stress%d" % n)]
            return [("Action", "TestHookCount")]

        done, _ = self.run_traffic(cycles, [("unload", "mod_test_leaky"),
                                            ("unload", "mod_test_hook"),
                                            ("load", "mod_test_leaky"),
                                            ("load", "mod_test_hook")],
                                   request_for, events_every=4)
        self.assertGreater(done["unload", "mod_test_leaky"], cycles * 0.9, done)
        self.assertGreater(done["unload", "mod_test_hook"], cycles * 0.9, done)
        self.ensure_loaded("mod_test_leaky", "mod_test_hook")
        self.assertCleanExit()

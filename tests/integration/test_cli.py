"""The operator CLI: amictl over the control socket, and the Command action.

amictl is looked for in AMICTL_BIN, else ``<repo>/tools/amictl/amictl``; the
tests that need it skip when it is not built.  Every test daemon gets its
own control socket in its temporary directory (harness: ``controlsocket``).
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import REPO, USERS, AmidTestCase, error, scaled

AMICTL = os.environ.get("AMICTL_BIN") or os.path.join(REPO, "tools", "amictl", "amictl")

#: Every command of the CLI, as `help` lists them.
COMMANDS = [
    "core reload", "core show help", "core show settings", "core show uptime",
    "core show version", "core stop gracefully", "core stop now", "help",
    "manager reload", "manager show command", "manager show commands",
    "manager show connected", "manager show eventq", "manager show user",
    "manager show users", "module load", "module reload", "module show",
    "module unload",
]

VERSION_RE = re.compile(r"\Aamid \d+\.\d+\.\d+ \(AMI (\S+), SDK ABI \d+\.\d+\) on a \S+ running \S+ \S+\n\Z")
UPTIME_RE = re.compile(r"\ASystem uptime: ((\d+ (year|week|day|hour|minute|second)s?)(, )?)+\n"
                       r"Last reload: ((\d+ (year|week|day|hour|minute|second)s?)(, )?)+\n\Z")
#: `manager show connected`: the header, as Asterisk's HSMCONN_FORMAT1.
CONNECTED_HEAD = ("  %-15.15s  %-55.55s  %-10.10s  %-10.10s  %-8.8s  %-8.8s  %-10.10s  %-10.10s\n"
                  % ("Username", "IP Address", "Start", "Elapsed", "FileDes", "HttpCnt",
                     "ReadPerms", "WritePerms"))
CONNECTED_ROW = re.compile(r"^  (\S+) +(\S+) +(\d+) +(\d+) +(\d+) +0 +(\d{10})  (\d{10})$", re.M)


def amictl_missing():
    return not (os.path.isfile(AMICTL) and os.access(AMICTL, os.X_OK))


need_amictl = unittest.skipIf(amictl_missing(), "amictl not built (%s)" % AMICTL)


class CliTestCase(AmidTestCase):
    """Helpers to run amictl against this class's daemon."""

    def setUp(self):
        super().setUp()
        # The banner comes first: the control socket follows once the
        # start-up modules are loaded.
        deadline = time.monotonic() + scaled(10)
        while not os.path.exists(self.socket_path()):
            if time.monotonic() > deadline:
                self.fail("no control socket %s; log:\n%s"
                          % (self.socket_path(), self.server.log_tail()))
            time.sleep(0.02)

    def socket_path(self):
        return self.server.general["controlsocket"]

    def amictl(self, *args, stdin=None, socket_path=None, prefix=(), binary=AMICTL):
        """Run amictl; returns (exit status, stdout, stderr) as text."""
        argv = list(prefix) + [binary, "-s", socket_path or self.socket_path()] + list(args)
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=scaled(10))
        return proc.returncode, proc.stdout, proc.stderr

    def run_cli(self, command, expect_rc=0):
        """``amictl -x COMMAND``; asserts the exit status, returns stdout."""
        rc, out, err = self.amictl("-x", command)
        self.assertEqual(rc, expect_rc, "amictl -x %r: exit %d, stdout %r, stderr %r"
                         % (command, rc, out, err))
        self.assertEqual(err, "", "amictl -x %r wrote to stderr" % command)
        return out

    def wait_connected(self, count):
        """Poll `manager show connected` until it shows *count* sessions."""
        deadline = time.monotonic() + scaled(5)
        while True:
            out = self.run_cli("manager show connected")
            if out.endswith("\n%d users connected.\n" % count):
                return out
            if time.monotonic() > deadline:
                self.fail("manager show connected never showed %d sessions: %r" % (count, out))
            time.sleep(0.05)


@need_amictl
class TestAmictlCommands(CliTestCase):
    """amictl -x for every command, with the expected output."""

    def test_help_lists_every_command(self):
        out = self.run_cli("help")
        listed = [line.split(" -- ")[0].rstrip() for line in out.splitlines()]
        self.assertEqual(listed, COMMANDS)
        for line in out.splitlines():
            self.assertRegex(line, r"^\S.{29} -- \S")
        self.assertEqual(self.run_cli("core show help"), out)

    def test_help_topic(self):
        self.assertEqual(self.run_cli("help manager show users"),
                         "Usage: manager show users\n"
                         "       Prints a listing of all managers that are currently\n"
                         "       configured.\n")
        out = self.run_cli("help mod")
        self.assertEqual([l.split(" -- ")[0].rstrip() for l in out.splitlines()],
                         ["module load", "module reload", "module show", "module unload"])
        self.assertEqual(self.run_cli("help nosuch", 1), "No such command 'nosuch'.\n")

    def test_core_show_version(self):
        out = self.run_cli("core show version")
        m = VERSION_RE.match(out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), "1.1")

    def test_core_show_uptime(self):
        self.assertRegex(self.run_cli("core show uptime"), UPTIME_RE)
        self.assertRegex(self.run_cli("core show uptime seconds"),
                         r"\ASystem uptime: \d+\nLast reload: \d+\n\Z")
        self.assertTrue(self.run_cli("core show uptime bogus", 1).startswith(
            "Usage: core show uptime [seconds]\n"))

    def test_core_show_settings(self):
        out = self.run_cli("core show settings")
        self.assertTrue(out.startswith("\namid core settings\n------------------\n"), out)
        expected = {
            "AMI version": "1.1",
            "Control socket": self.socket_path(),
            "Listening on": "127.0.0.1 port %d" % self.server.port,
            "Configuration file": self.server.config_path,
            "Auth timeout": "30 s",
            "Fully booted": "Yes",
            "Users configured": str(len(USERS)),
        }
        for label, value in expected.items():
            self.assertIn("\n  %-29s%s\n" % (label + ":", value), out)

    def test_manager_show_commands(self):
        out = self.run_cli("manager show commands")
        lines = out.splitlines()
        width = len(lines[0]) - len("  ") - len("  Synopsis")
        self.assertEqual(lines[0], "  %-*s  Synopsis" % (width, "Action"))
        self.assertEqual(lines[1], "  %-*s  --------" % (width, "------"))
        rows = {l[2:2 + width].rstrip(): l[4 + width:] for l in lines[2:]}
        self.assertEqual(rows["Ping"], "Check that the connection is alive.")
        self.assertEqual(rows["Command"], "Execute an amid CLI command.")
        for name in ("Login", "Logoff", "Challenge", "ModuleLoad", "CoreSettings"):
            self.assertIn(name, rows)
        self.assertEqual(list(rows), sorted(rows, key=str.lower))

    def test_manager_show_command(self):
        self.assertEqual(self.run_cli("manager show command ping"),
                         "[Syntax]\nAction: Ping\n\n"
                         "[Synopsis]\nCheck that the connection is alive.\n\n"
                         "[Description]\nAnswers Ping: Pong with the server's current time.\n\n"
                         "[Privilege]\n<none>\n\n"
                         "[Module]\nmod_core\n\n")
        out = self.run_cli("manager show command Command ModuleLoad")
        self.assertIn("[Syntax]\nAction: Command\n", out)
        self.assertIn("[Privilege]\ncommand,all\n", out)
        self.assertIn("[Syntax]\nAction: ModuleLoad\n", out)
        self.assertIn("[Module]\nmod_modules\n", out)
        self.assertIn("[Syntax]\nAction: Login\n", self.run_cli("manager show command Login"))
        self.assertEqual(self.run_cli("manager show command NoSuch", 1),
                         "No manager action named 'NoSuch'\n")
        self.assertTrue(self.run_cli("manager show command", 1).startswith(
            "Usage: manager show command <actionname>"))

    def test_manager_show_users(self):
        names = sorted(USERS, key=str.lower)
        self.assertEqual(self.run_cli("manager show users"),
                         "\nusername\n--------\n" + "".join(n + "\n" for n in names)
                         + "-------------------\n%d manager users configured.\n" % len(names))

    def test_manager_show_user(self):
        self.assertEqual(self.run_cli("manager show user LIMITED"),
                         "\n"
                         "          username: limited\n"
                         "            secret: <Set>\n"
                         "               ACL: no\n"
                         "         read perm: system,user,all\n"
                         "        write perm: user,all\n"
                         "   displayconnects: yes\n"
                         "allowmultiplelogin: yes\n"
                         "      writetimeout: 100 ms\n"
                         "          sessions: 0\n"
                         "      eventfilters: (none)\n")
        out = self.run_cli("manager show user noread")
        self.assertIn("         read perm: <none>\n", out)
        self.assertEqual(self.run_cli("manager show user ghost", 1),
                         "There is no manager called ghost\n")
        self.assertTrue(self.run_cli("manager show user", 1).startswith(
            "Usage: manager show user <user>\n"))

    def test_manager_show_connected(self):
        self.wait_connected(0)
        admin = self.logged_in("admin", events="off")
        limited = self.logged_in("limited", events="off")
        out = self.wait_connected(2)
        self.assertTrue(out.startswith(CONNECTED_HEAD), out)
        rows = {m.group(1): m.groups() for m in CONNECTED_ROW.finditer(out)}
        self.assertEqual(set(rows), {"admin", "limited"}, out)
        now = int(time.time())
        for name, client in (("admin", admin), ("limited", limited)):
            _, peer, start, elapsed, fd, readperm, writeperm = rows[name]
            self.assertEqual(peer, "127.0.0.1:%d" % client.sock.getsockname()[1])
            self.assertLessEqual(abs(int(start) - now), 5)
            self.assertLessEqual(int(elapsed), 5)
        self.assertEqual(rows["admin"][5:], ("2147483647", "2147483647"))
        self.assertEqual(rows["limited"][5:], ("%010d" % (1 | 64), "%010d" % 64))
        self.assertIn("          sessions: 1\n", self.run_cli("manager show user limited"))
        limited.close()
        self.wait_connected(1)
        admin.close()
        self.wait_connected(0)

    def test_manager_show_eventq(self):
        self.wait_connected(0)
        client = self.logged_in("admin", events="off")
        self.assertPingWorks(client)
        self.wait_connected(1)
        out = self.run_cli("manager show eventq")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["Username", "IP", "Address", "Worker", "Queued", "bytes"])
        self.assertRegex(lines[1], r"^  admin +127\.0\.0\.1:%d +\d+ +0$"
                         % client.sock.getsockname()[1])
        self.assertEqual(lines[2], "1 sessions, 0 bytes queued in all, largest queue 0 bytes "
                                   "(limit 4194304).")
        self.assertEqual(len(lines), 3)

    def test_module_show(self):
        out = self.run_cli("module show")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["Module", "Description", "Use", "Count", "Status",
                                            "Version"])
        self.assertRegex(lines[1], r"^mod_core\.so +Core manager actions +0 +Running +1\.0$")
        self.assertRegex(lines[2], r"^mod_modules\.so +Module management actions +0 +Running +1\.0$")
        self.assertEqual(lines[3:], ["2 modules loaded"])
        out = self.run_cli("module show like CORE")
        self.assertEqual(out.splitlines()[1:], [lines[1], "1 modules loaded"])
        self.assertTrue(out.startswith(lines[0]))
        self.assertTrue(self.run_cli("module show like", 1).startswith(
            "Usage: module show [like keyword]\n"))

    def test_module_load_unload_reload(self):
        self.assertEqual(self.run_cli("module unload mod_modules"), "Unloaded mod_modules\n")
        self.assertNotIn("mod_modules", self.run_cli("module show"))
        self.assertEqual(self.run_cli("module unload mod_modules", 1),
                         "Unable to unload resource mod_modules: it is not loaded\n")
        self.assertEqual(self.run_cli("module load mod_modules.so"), "Loaded mod_modules.so\n")
        self.assertIn("mod_modules.so", self.run_cli("module show"))
        self.assertEqual(self.run_cli("module load mod_modules", 1),
                         "Unable to load module mod_modules: it is already loaded\n")
        self.assertEqual(self.run_cli("module load mod_nosuch", 1),
                         "Unable to load module mod_nosuch: no such module file in the "
                         "modules directory\n")
        self.assertEqual(self.run_cli("module load ../etc/x", 1),
                         "Unable to load module ../etc/x: the name must be a module in the "
                         "modules directory\n")
        self.assertEqual(self.run_cli("module reload mod_core", 1),
                         "The module 'mod_core' does not support reloading.\n")
        self.assertEqual(self.run_cli("module reload mod_nosuch", 1),
                         "The module 'mod_nosuch' is not loaded.\n")
        self.assertEqual(self.run_cli("module reload"), "All modules reloaded\n")
        self.assertTrue(self.run_cli("module load", 1).startswith("Usage: module load"))
        self.assertTrue(self.run_cli("module unload", 1).startswith("Usage: module unload"))

    def test_core_reload(self):
        self.assertEqual(self.run_cli("core reload"),
                         "Configuration reloaded from %s; modules reloaded\n"
                         % self.server.config_path)
        self.assertEqual(self.run_cli("manager reload"),
                         "Manager configuration reloaded from %s\n" % self.server.config_path)
        with open(self.server.config_path) as f:
            good = f.read()
        try:
            with open(self.server.config_path, "w") as f:
                f.write(good + "\nthis is not libconfig\n")
            out = self.run_cli("core reload", 1)
            self.assertTrue(out.startswith("Configuration not reloaded: %s:"
                                           % self.server.config_path), out)
        finally:
            with open(self.server.config_path, "w") as f:
                f.write(good)
        self.assertPingWorks(self.logged_in(events="off"))

    def test_unknown_command(self):
        self.assertEqual(self.run_cli("frobnicate now", 1),
                         "No such command 'frobnicate now' (type 'help' for other possible "
                         "commands)\n")
        self.assertEqual(self.run_cli("manager show nothing", 1),
                         "No such command 'manager show nothing' (type 'help manager show' for "
                         "other possible commands)\n")
        # Words are spelled out in full: no abbreviations.
        self.run_cli("core sh version", 1)

    def test_case_and_quotes(self):
        version = self.run_cli("core show version")
        self.assertEqual(self.run_cli("CORE  Show\tVERSION"), version)
        self.assertEqual(self.run_cli('"core" show "version"'), version)
        self.assertEqual(self.run_cli('manager show user "lim"ited'),
                         self.run_cli("manager show user limited"))

    def test_bad_arguments_show_usage(self):
        self.assertEqual(self.run_cli("manager show users extra", 1),
                         "Usage: manager show users\n"
                         "       Prints a listing of all managers that are currently\n"
                         "       configured.\n")
        self.assertTrue(self.run_cli("core stop gracefully please", 1).startswith(
            "Usage: core stop gracefully\n"))


@need_amictl
class TestAmictlClient(CliTestCase):
    """amictl itself: interactive use, errors, exit statuses; the socket file."""

    def test_interactive_stdin(self):
        rc, out, err = self.amictl(stdin="core show version\n\n   \nmanager show users\n"
                                         "exit\ncore show uptime\n")
        self.assertEqual((rc, err), (0, ""))
        version = self.run_cli("core show version")
        self.assertEqual(out, version + self.run_cli("manager show users"))

    def test_interactive_exit_status_is_the_last_commands(self):
        rc, out, _ = self.amictl(stdin="bogus\ncore show version\n")
        self.assertEqual(rc, 0)
        self.assertIn("No such command 'bogus'", out)
        rc, out, _ = self.amictl(stdin="core show version\nbogus\n")
        self.assertEqual(rc, 1)
        rc, out, _ = self.amictl(stdin="core show version")  # no final newline
        self.assertEqual((rc, out), (0, self.run_cli("core show version")))
        rc, out, _ = self.amictl(stdin="")
        self.assertEqual((rc, out), (0, ""))

    def test_daemon_not_running(self):
        missing = os.path.join(self.server.tmpdir, "no-such.ctl")
        rc, out, err = self.amictl("-x", "core show version", socket_path=missing)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("cannot connect to amid at %s" % missing, err)
        self.assertIn("is amid running?", err)

    def test_stale_socket(self):
        """A socket file nobody listens on: refused, exit 2."""
        path = os.path.join(self.server.tmpdir, "stale.ctl")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()
        rc, _, err = self.amictl("-x", "help", socket_path=path)
        self.assertEqual(rc, 2)
        self.assertIn("Connection refused", err)

    def test_bad_usage(self):
        for args in (["-x", "a", "-x", "b"], ["core", "show"], ["-q"], ["-x", "a\nb"]):
            rc, out, err = self.amictl(*args)
            self.assertEqual(rc, 2, args)
            self.assertTrue(err, args)
        rc, out, _ = self.amictl("-h")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: amictl", out)

    def test_socket_file(self):
        st = os.lstat(self.socket_path())
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_uid, os.geteuid())

    def test_raw_protocol(self):
        """Greeting frame, pipelined commands answered in order, status codes, EOF."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(scaled(5))
        s.connect(self.socket_path())
        reader = s.makefile("rb")

        def frame():
            head = reader.readline()
            status, length = head.decode().split()
            return int(status), reader.read(int(length)).decode()

        status, hello = frame()
        self.assertEqual(status, 0)
        self.assertRegex(hello, r"\Aamid \d+\.\d+\.\d+ %d \S+\n\Z" % self.server.proc.pid)
        s.sendall(b"core show version\r\nbogus\nmanager show users extra\n\n"
                  b"manager show user ghost\n")
        self.assertEqual(frame(), (0, self.run_cli("core show version")))
        self.assertEqual(frame()[0], 2)
        self.assertEqual(frame()[0], 3)
        self.assertEqual(frame(), (0, ""))
        self.assertEqual(frame(), (1, "There is no manager called ghost\n"))
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.read(), b"")
        s.close()

    def test_line_too_long(self):
        """A line over 4095 bytes: status 5, then the server closes."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(scaled(5))
        s.connect(self.socket_path())
        reader = s.makefile("rb")
        status, length = reader.readline().split()
        reader.read(int(length))
        s.sendall(b"x" * 5000)
        status, length = reader.readline().split()
        self.assertEqual(status, b"5")
        self.assertEqual(reader.read(int(length)),
                         b"Command line too long (at most 4095 bytes)\n")
        try:
            rest = s.recv(100)
        except ConnectionResetError:  # closed with our extra bytes unread
            rest = b""
        self.assertEqual(rest, b"")
        s.close()
        self.assertEqual(self.run_cli("core show uptime seconds").count("\n"), 2)


@need_amictl
@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                     "needs root and setpriv to run amictl as another user")
class TestControlSocketPermissions(CliTestCase):
    """Who may use the control socket: file modes, then SO_PEERCRED."""

    NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    def setUp(self):
        super().setUp()
        # A copy of amictl that user nobody may run wherever the tree is.
        self.bindir = tempfile.mkdtemp(prefix="amictl-")
        os.chmod(self.bindir, 0o755)
        self.binary = os.path.join(self.bindir, "amictl")
        shutil.copy(AMICTL, self.binary)
        os.chmod(self.binary, 0o755)

    def tearDown(self):
        shutil.rmtree(self.bindir, ignore_errors=True)
        os.chmod(self.server.tmpdir, 0o700)
        os.chmod(self.socket_path(), 0o660)
        super().tearDown()

    def test_nobody_blocked_by_file_modes(self):
        rc, out, err = self.amictl("-x", "core show version", prefix=self.NOBODY,
                                   binary=self.binary)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("Permission denied", err)

    def test_nobody_refused_by_peer_credentials(self):
        os.chmod(self.server.tmpdir, 0o755)
        os.chmod(self.socket_path(), 0o666)
        rc, out, err = self.amictl("-x", "core show version", prefix=self.NOBODY,
                                   binary=self.binary)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("amid refused the connection: Permission denied", err)
        self.server.wait_for_log(r"SECURITY event=ControlRefused user=\"\" peer=uid=65534 ")

    def test_member_of_the_sockets_group_allowed(self):
        os.chmod(self.server.tmpdir, 0o755)
        group = os.lstat(self.socket_path()).st_gid
        rc, out, err = self.amictl(
            "-x", "core show version",
            prefix=["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % group],
            binary=self.binary)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, VERSION_RE)


@need_amictl
class TestCoreStop(CliTestCase):
    """`core stop gracefully` ends amid with status 0 and removes the socket."""

    def test_core_stop_gracefully(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.run_cli("core stop gracefully"), "Shutting down amid\n")
        self.assertEqual(self.server.proc.wait(scaled(5)), 0)
        client.expect_closed(2)
        self.assertFalse(os.path.exists(self.socket_path()))
        self.server.wait_for_log(r"Shutting down \('core stop gracefully' from the CLI\)")
        self.assertEqual(self.server.stop(), 0)

    def test_core_stop_over_ami(self):
        """Command: core stop gracefully (not blacklisted, as in Asterisk)."""
        client = self.logged_in(events="off")
        client.send([("Action", "Command"), ("Command", "core stop now"), ("ActionID", "s")])
        self.assertEqual(self.server.proc.wait(scaled(5)), 0)
        self.assertEqual(self.server.stop(), 0)


# ---------------------------------------------------------------------------
# The Command action
# ---------------------------------------------------------------------------

def follows(action_id, text):
    """The <=13-era Command reply: Follows, Privilege, ActionID, raw output, marker."""
    aid = ("ActionID: %s\r\n" % action_id) if action_id else ""
    return ("Response: Follows\r\nPrivilege: Command\r\n%s%s--END COMMAND--\r\n\r\n"
            % (aid, text)).encode()


def output_lines(response, action_id, text):
    """The 14+ Command reply: Success/Error, Message, one Output line per line."""
    aid = ("ActionID: %s\r\n" % action_id) if action_id else ""
    if text.endswith("\n"):
        text = text[:-1]
    body = "".join("Output: %s\r\n" % line for line in text.split("\n"))
    return ("Response: %s\r\n%sMessage: Command output follows\r\n%s\r\n"
            % (response, aid, body)).encode()


class CommandActionMixin:
    """Errors common to both formats."""

    def command(self, client, command, action_id="c"):
        headers = [("Action", "Command")]
        if command is not None:
            headers.append(("Command", command))
        if action_id:
            headers.append(("ActionID", action_id))
        return client.request(headers)

    def test_empty_command(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, None, "e1").raw, error("e1", "No command provided"))
        self.assertEqual(self.command(client, "", "e2").raw, error("e2", "No command provided"))

    def test_blacklisted(self):
        client = self.logged_in(events="off")
        for cmd in ("module load mod_x", "MODULE   Unload mod_modules", "restart gracefully",
                    "  module\tload", "module load"):
            self.assertEqual(self.command(client, cmd, "b").raw, error("b", "Command blacklisted"),
                             cmd)
        # Nothing was unloaded.
        self.assertIn("mod_modules", self.command_text("module show"))

    def test_permission_denied(self):
        client = self.logged_in("limited", events="off")
        self.assertEqual(self.command(client, "core show version", "p3").raw,
                         error("p3", "Permission denied"))

    def command_text(self, command):
        """The whole reply to Command *command*, as text."""
        client = self.logged_in(events="off")
        return self.command(client, command, "x").raw.decode()


class TestCommandFollows(CommandActionMixin, AmidTestCase):
    """ami_version 1.1 (the default): Asterisk <=13's Response: Follows."""

    def test_core_show_version(self):
        client = self.logged_in(events="off")
        reply = self.command(client, "core show version", "v1")
        m = re.match(rb"\AResponse: Follows\r\nPrivilege: Command\r\nActionID: v1\r\n"
                     rb"(amid [^\r\n]*\n)--END COMMAND--\r\n\r\n\Z", reply.raw)
        self.assertIsNotNone(m, reply.raw)
        self.assertRegex(m.group(1).decode(), VERSION_RE)

    def test_without_actionid(self):
        client = self.logged_in(events="off")
        reply = self.command(client, "core show uptime seconds", None)
        self.assertRegex(reply.raw, rb"\AResponse: Follows\r\nPrivilege: Command\r\n"
                                    rb"System uptime: \d+\nLast reload: \d+\n"
                                    rb"--END COMMAND--\r\n\r\n\Z")

    def test_multiline_output(self):
        client = self.logged_in(events="off")
        names = sorted(USERS, key=str.lower)
        text = ("\nusername\n--------\n" + "".join(n + "\n" for n in names)
                + "-------------------\n%d manager users configured.\n" % len(names))
        self.assertEqual(self.command(client, "manager show users", "u").raw, follows("u", text))

    def test_unknown_command_in_follows_block(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, "nope", "n").raw,
                         follows("n", "No such command 'nope' (type 'help' for other "
                                      "possible commands)\n"))

    def test_failure_and_usage_in_follows_block(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, "manager show user ghost", "g").raw,
                         follows("g", "There is no manager called ghost\n"))
        reply = self.command(client, "manager show users now", "us")
        self.assertTrue(reply.raw.startswith(b"Response: Follows\r\nPrivilege: Command\r\n"
                                             b"ActionID: us\r\nUsage: manager show users\n"))

    def test_session_goes_on(self):
        """Requests after a Command are answered normally, in order."""
        client = self.logged_in(events="off")
        client.send([("Action", "Command"), ("Command", "core show version"), ("ActionID", "1")])
        client.send([("Action", "Ping"), ("ActionID", "2")])
        first = client.read_response()
        second = client.read_response()
        self.assertTrue(first.raw.startswith(b"Response: Follows\r\n"), first.raw)
        self.assertEqual(second.get("ActionID"), "2")

    def test_sees_its_own_session(self):
        client = self.logged_in(events="off")
        text = self.command(client, "manager show connected", "mc").raw.decode()
        self.assertIn("  admin ", text)
        self.assertIn("127.0.0.1:%d " % client.sock.getsockname()[1], text)


class TestCommandOutputLines(CommandActionMixin, AmidTestCase):
    """ami_version 9.0.0 (Asterisk 20): Success/Error with Output: lines."""

    general = {"ami_version": "9.0.0"}

    def test_banner(self):
        self.assertEqual(self.connect().banner, b"Asterisk Call Manager/9.0.0\r\n")

    def test_core_show_version(self):
        client = self.logged_in(events="off")
        reply = self.command(client, "core show version", "v1")
        m = re.match(rb"\AResponse: Success\r\nActionID: v1\r\nMessage: Command output follows\r\n"
                     rb"Output: (amid [^\r\n]*)\r\n\r\n\Z", reply.raw)
        self.assertIsNotNone(m, reply.raw)
        self.assertRegex(m.group(1).decode() + "\n", VERSION_RE)
        self.assertIn("(AMI 9.0.0,", m.group(1).decode())

    def test_multiline_output(self):
        client = self.logged_in(events="off")
        names = sorted(USERS, key=str.lower)
        text = ("\nusername\n--------\n" + "".join(n + "\n" for n in names)
                + "-------------------\n%d manager users configured.\n" % len(names))
        reply = self.command(client, "manager show users", None)
        self.assertEqual(reply.raw, output_lines("Success", None, text))
        self.assertEqual(reply.getall("Output")[:3], ["", "username", "--------"])

    def test_unknown_command_is_error(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, "nope", "n").raw,
                         output_lines("Error", "n", "No such command 'nope' (type 'help' for "
                                                    "other possible commands)\n"))

    def test_failure_and_usage_are_errors(self):
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, "manager show user ghost", "g").raw,
                         output_lines("Error", "g", "There is no manager called ghost\n"))
        reply = self.command(client, "core show uptime badly", "u")
        self.assertEqual(reply.response, "Error")
        self.assertEqual(reply.getall("Output")[0], "Usage: core show uptime [seconds]")

    def test_module_reload_over_ami(self):
        """Not blacklisted: module reload runs."""
        client = self.logged_in(events="off")
        self.assertEqual(self.command(client, "module reload", "r").raw,
                         output_lines("Success", "r", "All modules reloaded\n"))

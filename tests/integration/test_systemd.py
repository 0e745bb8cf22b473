"""systemd integration: the sd_notify protocol, the unit file, the sandbox, the journal.

- :class:`TestNotify`: amid started with ``NOTIFY_SOCKET`` pointing at a Unix
  datagram socket made by the test, as systemd does for ``Type=notify``:
  ``READY=1`` (with ``STATUS`` and ``MAINPID``) arrives once the daemon is
  fully booted and never before its port accepts; ``SIGHUP`` gives
  ``RELOADING=1`` then ``READY=1`` (also when the new file is refused);
  ``SIGTERM`` gives ``STOPPING=1`` and exit status 0.
- :class:`TestUnitFile`: ``conf/amid.service.in`` with its paths filled in
  passes ``systemd-analyze verify`` without a single warning (its man pages
  included), and its ``ExecStart`` options are ones amid accepts.
- :class:`TestSandbox`: the unit's ``MemoryDenyWriteExecute=yes`` (emulated
  with the kernel's ``PR_SET_MDWE``): modules still load with ``dlopen()``
  and event filters (GLib's PCRE2, JIT refused) still work.
- :class:`TestJournal`: without ``-f``, with stderr connected to the journal
  (a fake journald in a private mount namespace), log messages arrive as
  native journal entries whose PRIORITY follows their level; with ``-f``
  they are plain text lines on stderr.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import (AmidServer, DEFAULT_GENERAL, PING_RE, REPO, START_TIMEOUT, STOP_TIMEOUT,
                     UNDER_WRAPPER, USERS, find_binary, module_dir, render_config, scaled)

UNIT_TEMPLATE = os.path.join(REPO, "conf", "amid.service.in")
DOC = os.path.join(REPO, "doc")

#: prctl(2) codes for MemoryDenyWriteExecute emulation (Linux 6.3+).
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def parse_notify(data):
    """An sd_notify datagram as a dict (``KEY=VALUE`` per line)."""
    out = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        key, eq, value = line.partition("=")
        if eq:
            out[key] = value
    return out


class NotifySocket:
    """The receiving end of sd_notify: a Unix datagram socket in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="amid-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        #: Every message received so far, in order, as dicts.
        self.received = []

    def next(self, timeout):
        """The next message (a dict), or None when none arrives within *timeout* seconds."""
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        msg = parse_notify(data)
        self.received.append(msg)
        return msg

    def wait_for(self, key, timeout):
        """Read messages until one has *key*; return ``(that message, the ones before it)``.

        Raises AssertionError at the deadline.
        """
        deadline = time.monotonic() + scaled(timeout)
        before = []
        while True:
            msg = self.next(deadline - time.monotonic())
            if msg is None:
                raise AssertionError("no sd_notify message with %s within %.1f s; got %r"
                                     % (key, scaled(timeout), self.received))
            if key in msg:
                return msg, before
            before.append(msg)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SystemdCase(unittest.TestCase):
    """A fresh daemon per test, started by the test itself."""

    def setUp(self):
        if find_binary() is None:
            self.skipTest("amid binary not built")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            if server.proc is not None:
                server.stop()
            server.cleanup()

    def server(self, **kwargs):
        server = AmidServer(**kwargs)
        self.servers.append(server)
        return server


class TestNotify(SystemdCase):
    """Type=notify: READY after boot, RELOADING/READY on SIGHUP, STOPPING on SIGTERM."""

    def setUp(self):
        super().setUp()
        self.notify = NotifySocket()
        self.addCleanup(self.notify.close)
        self.amid = self.server(env={"NOTIFY_SOCKET": self.notify.path})

    def start_until_ready(self):
        """Launch the daemon and wait for READY=1; return that message."""
        self.amid.launch()
        msg, _ = self.notify.wait_for("READY", START_TIMEOUT)
        return msg

    def test_ready_after_boot_and_not_before_the_port_accepts(self):
        """READY=1 comes once, after 'fully booted', with STATUS and MAINPID; the port answers at once."""
        self.amid.launch()
        msg, before = self.notify.wait_for("READY", START_TIMEOUT)
        # The very moment READY arrives the port must accept and greet:
        # one attempt, no retry.
        client = self.amid.connect()
        self.addCleanup(client.close)
        self.assertTrue(client.banner.startswith(b"Asterisk Call Manager/"), client.banner)

        self.assertEqual(msg.get("READY"), "1", msg)
        self.assertEqual(before, [], "messages before READY=1: %r" % before)
        self.assertRegex(msg.get("STATUS", ""), r"^Fully booted, listening on port %d$"
                         % self.amid.port)
        self.assertEqual(msg.get("MAINPID"), str(self.amid.proc.pid))
        self.assertRegex(self.amid.log_text(), r"fully booted")
        # Boot is over: a login gets FullyBooted right away.
        reply = client.request([("Action", "Login"), ("Username", "admin"),
                                ("Secret", USERS["admin"][0])])
        self.assertEqual(reply.get("Message"), "Authentication accepted")
        event = client.wait_event("FullyBooted", timeout=2)
        self.assertEqual(event.get("Status"), "Fully Booted")
        # Nothing else was said meanwhile.
        self.assertIsNone(self.notify.next(0.2), self.notify.received)

    def test_sighup_gives_reloading_then_ready(self):
        """SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1, and the reload happened."""
        self.start_until_ready()
        mark = len(self.amid.log_text())
        before_usec = int(time.monotonic() * 1e6)
        self.amid.proc.send_signal(signal.SIGHUP)
        reloading, early = self.notify.wait_for("RELOADING", 5)
        self.assertEqual(early, [], "before RELOADING=1: %r" % early)
        self.assertEqual(reloading.get("RELOADING"), "1")
        self.assertNotIn("READY", reloading)
        # MONOTONIC_USEC: CLOCK_MONOTONIC when the reload started (systemd
        # 253+ wants it).
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$", reloading)
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, before_usec)
        self.assertLess(usec, before_usec + scaled(5) * 1e6)

        ready, between = self.notify.wait_for("READY", 5)
        self.assertEqual(between, [])
        self.assertEqual(ready.get("READY"), "1")
        self.assertEqual(ready.get("STATUS"), "Reloaded")
        self.amid.wait_for_log(r"Configuration reloaded from", start=mark)
        self.assertTrue(self.amid.alive())

    def test_sighup_with_a_broken_file_still_ends_ready(self):
        """A refused reload also ends with READY=1: the service stays up on the old file."""
        self.start_until_ready()
        with open(self.amid.config_path, "a") as f:
            f.write("general = { port = \"not a number\"; };\n")
        mark = len(self.amid.log_text())
        self.amid.proc.send_signal(signal.SIGHUP)
        self.notify.wait_for("RELOADING", 5)
        ready, _ = self.notify.wait_for("READY", 5)
        self.assertEqual(ready.get("READY"), "1")
        self.amid.wait_for_log(r"Reload refused, keeping the running configuration", start=mark)
        client = self.amid.connect()
        self.addCleanup(client.close)
        reply = client.request([("Action", "Login"), ("Username", "admin"),
                                ("Secret", USERS["admin"][0])])
        self.assertEqual(reply.get("Message"), "Authentication accepted")

    def test_sigterm_gives_stopping_and_exit_0(self):
        """SIGTERM: STOPPING=1, then exit status 0 within the stop deadline."""
        self.start_until_ready()
        self.amid.proc.send_signal(signal.SIGTERM)
        stopping, before = self.notify.wait_for("STOPPING", STOP_TIMEOUT)
        self.assertEqual(before, [])
        self.assertEqual(stopping.get("STOPPING"), "1")
        try:
            status = self.amid.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        self.assertEqual(status, 0, "amid %s" % self.amid.describe_exit(status))
        self.amid.proc = None
        # Nothing after STOPPING=1 (no READY, no second STOPPING).
        self.assertIsNone(self.notify.next(0.1), self.notify.received)

    def test_without_notify_socket_nothing_changes(self):
        """No NOTIFY_SOCKET (amid run by hand): it starts and stops as always."""
        plain = self.server(env={"NOTIFY_SOCKET": None})
        plain.start()
        self.assertEqual(plain.stop(), 0)
        self.assertIsNone(self.notify.next(0.1))


def fill_unit(text, sbindir, sysconfdir):
    """The unit template with make's substitutions done."""
    return text.replace("@sbindir@", sbindir).replace("@sysconfdir@", sysconfdir)


def unit_settings(text):
    """``{(section, key): [values]}`` of a unit file (comments and blanks left out)."""
    out = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


class TestUnitFile(unittest.TestCase):
    """conf/amid.service.in: valid for systemd, and what amid needs."""

    def setUp(self):
        if not os.path.isfile(UNIT_TEMPLATE):
            self.fail("%s is missing" % UNIT_TEMPLATE)
        with open(UNIT_TEMPLATE) as f:
            self.template = f.read()
        self.tmp = tempfile.mkdtemp(prefix="amid-unit-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_settings(self):
        """Type=notify, reload by SIGHUP, user amid, runtime dir, sandbox, limits."""
        s = unit_settings(fill_unit(self.template, "/usr/sbin", "/etc"))
        svc = lambda key: s.get(("Service", key))
        self.assertEqual(svc("Type"), ["notify"])
        self.assertEqual(svc("NotifyAccess"), ["main"])
        self.assertEqual(svc("ExecStart"), ["/usr/sbin/amid -c /etc/amid/amid.conf"])
        self.assertEqual(svc("ExecReload"), ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(svc("User"), ["amid"])
        self.assertEqual(svc("Group"), ["amid"])
        self.assertEqual(svc("RuntimeDirectory"), ["amid"])
        self.assertEqual(svc("Restart"), ["on-failure"])
        self.assertEqual(svc("LimitNOFILE"), ["65536"])
        self.assertEqual(svc("CapabilityBoundingSet"), [""])
        self.assertEqual(svc("RestrictAddressFamilies"), ["AF_UNIX AF_INET AF_INET6"])
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                    "ProtectControlGroups", "RestrictNamespaces", "LockPersonality",
                    "MemoryDenyWriteExecute", "RestrictRealtime"):
            self.assertEqual(svc(key), ["yes"], key)
        self.assertEqual(svc("ProtectSystem"), ["strict"])
        self.assertEqual(svc("SystemCallArchitectures"), ["native"])
        self.assertEqual(s.get(("Install", "WantedBy")), ["multi-user.target"])

    def test_execstart_options_accepted_by_amid(self):
        """ExecStart's own options, plus -t, check a valid config: amid accepts them."""
        binary = find_binary()
        if binary is None:
            self.skipTest("amid binary not built")
        os.makedirs(os.path.join(self.tmp, "amid"))
        conf = os.path.join(self.tmp, "amid", "amid.conf")
        with open(conf, "w") as f:
            f.write(render_config(dict(DEFAULT_GENERAL, port=0), module_dir()))
        s = unit_settings(fill_unit(self.template, os.path.dirname(binary), self.tmp))
        argv = s[("Service", "ExecStart")][0].split()
        self.assertEqual(argv[0], os.path.join(os.path.dirname(binary), "amid"))
        out = subprocess.run([binary] + argv[1:] + ["-t"], capture_output=True, text=True,
                             timeout=scaled(10))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("%s: configuration OK" % conf, out.stdout)

    def test_systemd_analyze_verify(self):
        """systemd-analyze verify: no error, no warning, the man pages of Documentation= found."""
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze not installed (apt-get install systemd)")
        binary = find_binary()
        if binary is None:
            self.skipTest("amid binary not built")
        # ExecStart must name an executable: the build's amid, under its name.
        sbindir = os.path.join(self.tmp, "sbin")
        os.makedirs(sbindir)
        os.symlink(binary, os.path.join(sbindir, "amid"))
        # Documentation=man:…: the pages of doc/, found through MANPATH.
        manpath = os.path.join(self.tmp, "man")
        for page in ("amid.8", "amid.conf.5", "amictl.1"):
            section = os.path.join(manpath, "man" + page.rsplit(".", 1)[1])
            os.makedirs(section, exist_ok=True)
            os.symlink(os.path.join(DOC, page), os.path.join(section, page))
        unit = os.path.join(self.tmp, "amid.service")
        with open(unit, "w") as f:
            f.write(fill_unit(self.template, sbindir, "/etc"))
        env = dict(os.environ, MANPATH=manpath, SYSTEMD_LOG_COLOR="0", LC_ALL="C.UTF-8")
        man_ok = shutil.which("man") is not None
        cmd = [tool, "verify"] + ([] if man_ok else ["--man=no"]) + [unit]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        report = (out.stdout + out.stderr).strip()
        self.assertEqual(out.returncode, 0, report)
        # verify exits 0 on unknown keys and bad values too: any output counts.
        self.assertEqual(report, "", "systemd-analyze verify said:\n" + report)


def mdwe_supported():
    """True when this kernel refuses W+X memory after PR_SET_MDWE (checked in a child)."""
    code = ("import ctypes,sys\n"
            "libc=ctypes.CDLL(None,use_errno=True)\n"
            "if libc.prctl(%d,%d,0,0,0)!=0: sys.exit(1)\n"
            "libc.mmap.restype=ctypes.c_void_p\n"
            "libc.mmap.argtypes=[ctypes.c_void_p,ctypes.c_size_t,ctypes.c_int,ctypes.c_int,"
            "ctypes.c_int,ctypes.c_long]\n"
            "p=libc.mmap(None,4096,7,0x22,-1,0)\n"
            "sys.exit(0 if p in (None,ctypes.c_void_p(-1).value) else 2)\n"
            % (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN))
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


@unittest.skipIf(UNDER_WRAPPER, "AMID_WRAPPER (valgrind) cannot run under PR_SET_MDWE: its JIT "
                 "needs writable and executable memory")
class TestSandbox(SystemdCase):
    """MemoryDenyWriteExecute=yes: dlopen() of modules and GRegex event filters still work."""

    def test_modules_and_event_filters_under_mdwe(self):
        """Under PR_SET_MDWE amid loads its modules, answers, and filters events."""
        if not mdwe_supported():
            self.skipTest("this kernel has no PR_SET_MDWE (Linux 6.3+)")
        binary = find_binary()
        tmp = tempfile.mkdtemp(prefix="amid-mdwe-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # A wrapper that turns MDWE on (inherited across execve) and execs amid.
        wrapper = os.path.join(tmp, "amid-mdwe")
        with open(wrapper, "w") as f:
            f.write("#!%s\nimport ctypes, os, sys\n"
                    "libc = ctypes.CDLL(None, use_errno=True)\n"
                    "if libc.prctl(%d, %d, 0, 0, 0) != 0:\n"
                    "    sys.exit('prctl(PR_SET_MDWE) failed: errno %%d' %% ctypes.get_errno())\n"
                    "os.execv(%r, [%r] + sys.argv[1:])\n"
                    % (sys.executable, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, binary, binary))
        os.chmod(wrapper, 0o755)
        users = dict(USERS)
        users["filtered"] = ("fp", "all", "all",
                             {"eventfilter": ["Event: UserEvent", "!UserEvent: drop"]})
        amid = self.server(users=users)
        amid.binary = wrapper
        amid.start()
        log_before = amid.log_text()
        self.assertRegex(log_before, r"2 modules loaded")

        sender = amid.connect()
        self.addCleanup(sender.close)
        self.assertEqual(sender.request([("Action", "Login"), ("Username", "admin"),
                                         ("Secret", "amp111"), ("Events", "off")]).get("Message"),
                         "Authentication accepted")
        listener = amid.connect()
        self.addCleanup(listener.close)
        self.assertEqual(listener.request([("Action", "Login"), ("Username", "filtered"),
                                           ("Secret", "fp"), ("Events", "user")]).get("Message"),
                         "Authentication accepted")
        for name in ("drop", "keep"):
            reply = sender.request([("Action", "UserEvent"), ("UserEvent", name)])
            self.assertEqual(reply.response, "Success", reply)
        event = listener.wait_event("UserEvent", timeout=5)
        self.assertEqual(event.get("UserEvent"), "keep", "the exclude filter let 'drop' through")
        # A module loaded at run time: dlclose() and dlopen() again, under MDWE.
        for load_type in ("unload", "load"):
            reply = sender.request([("Action", "ModuleLoad"), ("LoadType", load_type),
                                    ("Module", "mod_core")])
            self.assertEqual(reply.response, "Success", reply)
        reply = sender.request([("Action", "Ping")])
        self.assertRegex(reply.raw, PING_RE)
        self.assertTrue(amid.alive())


# The fake journald, run by TestJournal in a private mount namespace: a
# tmpfs on /run/systemd (or /run) with /run/systemd/journal/{socket,stdout},
# amid started with stderr connected to .../stdout as systemd does.  Prints
# one JSON object: the native entries received, the plain stderr text, the
# exit status.
JOURNAL_HELPER = r'''
import json, os, select, signal, socket, struct, subprocess, sys, time
amid, conf, moddir, mount_on, foreground, timeout = sys.argv[1:7]
timeout = float(timeout)
subprocess.check_call(["mount", "-t", "tmpfs", "amid-test", mount_on])
jdir = "/run/systemd/journal"
os.makedirs(jdir)
native = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
native.bind(jdir + "/socket")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(jdir + "/stdout")
listener.listen(1)
err = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
err.connect(jdir + "/stdout")
stream, _ = listener.accept()
argv = [amid] + (["-f"] if foreground == "1" else []) + ["-c", conf, "-m", moddir]
proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
err.close()

def parse(data):
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, _, v = line.partition(b"=")
            i = nl + 1
        else:  # binary form: KEY\n<le64 size><data>\n
            k = line
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        entry[k.decode()] = v.decode("utf-8", "replace")
    return entry

entries, text = [], b""
deadline = time.monotonic() + timeout
sent_term = False
exited_at = None
while time.monotonic() < deadline:
    r, _, _ = select.select([native] if exited_at else [native, stream], [], [], 0.05)
    if native in r:
        entries.append(parse(native.recv(65536)))
    if stream in r:
        chunk = stream.recv(65536)
        if chunk:
            text += chunk
        else:  # amid closed its stderr: it has exited
            exited_at = time.monotonic()
    booted = any("fully booted" in e.get("MESSAGE", "") for e in entries) or b"fully booted" in text
    if booted and not sent_term:
        proc.send_signal(signal.SIGTERM)
        sent_term = True
    # After the exit, what amid sent is already queued: drain it, then stop.
    if exited_at and not r and time.monotonic() - exited_at > 0.1:
        break
if proc.poll() is None:
    proc.kill()
rc = proc.wait()
print(json.dumps({"entries": entries, "stderr": text.decode("utf-8", "replace"), "rc": rc}))
'''


class TestJournal(unittest.TestCase):
    """Without -f, under systemd: native journal entries with the right PRIORITY."""

    @classmethod
    def setUpClass(cls):
        cls.skip_reason = None
        if find_binary() is None:
            cls.skip_reason = "amid binary not built"
        elif os.geteuid() != 0:
            cls.skip_reason = "needs root (a private mount namespace for a fake journald)"
        elif shutil.which("unshare") is None:
            cls.skip_reason = "unshare(1) not installed (util-linux)"
        elif subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                            stderr=subprocess.DEVNULL).returncode != 0:
            cls.skip_reason = "unshare -m not permitted here (no CAP_SYS_ADMIN)"

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)
        self.tmp = tempfile.mkdtemp(prefix="amid-journal-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_under_journal(self, foreground, modules=None):
        """Run amid with stderr on the fake journal until booted, SIGTERM it; the helper's report."""
        conf = os.path.join(self.tmp, "amid.conf")
        # An unknown option: a WARNING at start-up, to see its priority.
        general = dict(DEFAULT_GENERAL, port=0, no_such_option=1)
        with open(conf, "w") as f:
            f.write(render_config(general, module_dir(), modules=modules))
        mount_on = "/run/systemd" if os.path.isdir("/run/systemd") else "/run"
        out = subprocess.run(
            ["unshare", "-m", "--propagation", "private", sys.executable, "-c", JOURNAL_HELPER,
             find_binary(), conf, module_dir(), mount_on, "1" if foreground else "0",
             str(scaled(15))],
            capture_output=True, text=True, timeout=scaled(30))
        self.assertEqual(out.returncode, 0, "journal helper failed:\n" + out.stderr)
        return json.loads(out.stdout)

    def test_native_entries_with_priorities(self):
        """NOTICE → PRIORITY=5, WARNING → 4, GLIB_DOMAIN set, nothing on stderr; exit 0."""
        report = self.run_under_journal(foreground=False)
        entries = report["entries"]
        by_text = lambda pattern: [e for e in entries if re.search(pattern, e.get("MESSAGE", ""))]
        self.assertEqual(report["rc"], 0, report)
        self.assertEqual(report["stderr"], "", "plain text on stderr despite the journal")
        listening = by_text(r"^Manager listening on 127\.0\.0\.1:\d+$")
        self.assertEqual(len(listening), 1, entries)
        self.assertEqual(listening[0].get("PRIORITY"), "5")
        self.assertEqual(listening[0].get("GLIB_DOMAIN"), "amid")
        warning = by_text(r"unknown option 'general\.no_such_option' ignored")
        self.assertEqual(len(warning), 1, entries)
        self.assertEqual(warning[0].get("PRIORITY"), "4")
        self.assertTrue(by_text(r"fully booted"), entries)
        self.assertTrue(by_text(r"^amid stopped$"), entries)
        # Source location comes along (CODE_FILE / CODE_LINE from g_message).
        self.assertTrue(all("MESSAGE" in e and "PRIORITY" in e for e in entries), entries)

    def test_critical_is_priority_4(self):
        """A required module missing: CRITICAL '... stopping' at PRIORITY=4, exit status 1."""
        report = self.run_under_journal(foreground=False,
                                        modules={"require": ["mod_no_such_module.so"]})
        self.assertEqual(report["rc"], 1, report)
        self.assertEqual(report["stderr"], "")
        critical = [e for e in report["entries"]
                    if re.search(r"required module mod_no_such_module\.so did not load: stopping",
                                 e.get("MESSAGE", ""))]
        self.assertEqual(len(critical), 1, report["entries"])
        self.assertEqual(critical[0].get("PRIORITY"), "4")

    def test_foreground_logs_plain_lines_even_to_the_journal(self):
        """-f: text lines on stderr (no native entries), levels spelled out."""
        report = self.run_under_journal(foreground=True)
        self.assertEqual(report["rc"], 0, report)
        self.assertEqual(report["entries"], [])
        self.assertRegex(report["stderr"],
                         r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} NOTICE amid: "
                         r"Manager listening on ")
        self.assertRegex(report["stderr"], r"(?m) WARNING amid: .*no_such_option")

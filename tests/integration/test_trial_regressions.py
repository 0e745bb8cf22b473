"""Regressions found by a new user's trial run (each failed before its fix).

- A half-closed client gets every reply, also after a blocking action
  (Command) or a WaitEvent it sent before closing its side.
- A second amid on a port already in use exits 1 instead of sharing it
  through SO_REUSEPORT.
- SIGTERM sends `Event: Shutdown` (class system) before closing sessions.
- With systemname set, events carry `SystemName:`.
- ModuleLoad reload without Module re-reads the configuration too.
"""
import os
import signal
import socket
import subprocess
import time

from harness import AmidTestCase, find_binary, module_dir


def half_closed_exchange(port, payload, timeout=5.0):
    """Send payload, shut down the write side, read until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


LOGIN = b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n"


class TestHalfClose(AmidTestCase):

    def test_reply_after_blocking_action(self):
        data = half_closed_exchange(self.server.port, LOGIN +
                                    b"Action: Command\r\nCommand: core show version\r\n"
                                    b"ActionID: c\r\n\r\nAction: Ping\r\nActionID: p\r\n\r\n")
        self.assertIn(b"ActionID: c\r\n", data)
        self.assertIn(b"--END COMMAND--", data)
        self.assertIn(b"ActionID: p\r\nPing: Pong\r\n", data)
        self.assertLess(data.index(b"--END COMMAND--"), data.index(b"Ping: Pong"))

    def test_end_of_input_ends_waitevent(self):
        t0 = time.monotonic()
        data = half_closed_exchange(self.server.port, LOGIN +
                                    b"Action: WaitEvent\r\nTimeout: 5\r\nActionID: w\r\n\r\n"
                                    b"Action: Ping\r\nActionID: p\r\n\r\n")
        self.assertIn(b"Event: WaitEventComplete\r\nActionID: w\r\n\r\n", data)
        self.assertIn(b"ActionID: p\r\nPing: Pong\r\n", data)
        self.assertLess(time.monotonic() - t0, 4.0, "the WaitEvent should end at the EOF")


class TestPortInUse(AmidTestCase):

    def test_second_daemon_refuses_a_taken_port(self):
        r = subprocess.run([find_binary(), "-f", "-c", self.server.config_path,
                            "-m", module_dir()], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Address already in use", r.stderr)
        # The first daemon still serves.
        self.login(self.connect())


class TestShutdownEventAndSystemName(AmidTestCase):
    general = {"systemname": "pbx-a"}

    def test_system_name_on_events(self):
        c = self.connect()
        self.login(c, events="user")
        c.request([("Action", "UserEvent"), ("UserEvent", "S")])
        ev = c.wait_event("UserEvent")
        self.assertTrue(ev.raw.startswith(b"Event: UserEvent\r\nPrivilege: user,all\r\n"
                                          b"SystemName: pbx-a\r\nUserEvent: S\r\n"), ev.raw)

    def test_shutdown_event_on_sigterm(self):
        c = self.connect()
        self.login(c)
        self.server.proc.send_signal(signal.SIGTERM)
        ev = c.wait_event("Shutdown")
        self.assertEqual(ev.raw, b"Event: Shutdown\r\nPrivilege: system,all\r\n"
                                 b"SystemName: pbx-a\r\nShutdown: Cleanly\r\nRestart: False\r\n\r\n")
        c.expect_closed()
        self.assertEqual(self.server.proc.wait(5), 0)
        self.server.proc = None  # restarted by the next test's setUp


class TestModuleReloadAll(AmidTestCase):

    def test_reload_all_reads_the_config(self):
        with open(self.server.config_path) as f:
            text = f.read()
        with open(self.server.config_path, "w") as f:
            f.write(text.replace("users = (",
                                 'users = (\n  { username = "late"; secret = "l8"; '
                                 'read = "all"; write = "all"; },', 1))
        admin = self.connect()
        self.login(admin)
        reply = admin.request([("Action", "ModuleLoad"), ("LoadType", "reload"),
                               ("ActionID", "r")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: r\r\n"
                                    b"Message: All modules reloaded\r\n\r\n")
        late = self.connect()
        reply = late.request([("Action", "Login"), ("Username", "late"), ("Secret", "l8"),
                              ("Events", "off")])
        self.assertEqual(reply.get("Message"), "Authentication accepted")

"""Failed-login throttling per peer address (general.authfailban).

Off by default (Asterisk has none): every failure only costs the
authfaildelay.  With authfailban = N, N failures from one address within
authfailbantime seconds ban that address: its new connections are closed
before the banner, other addresses and logged-in sessions are unaffected.
"""
import socket
import time
import unittest

from harness import AmidTestCase, AmiClient


class TestThrottleOff(AmidTestCase):
    """Default: no ban, however many failures."""

    general = {"authfaildelay": 0}

    def test_no_ban_by_default(self):
        for i in range(20):
            c = self.connect()
            reply = c.request([("Action", "Login"), ("Username", "admin"), ("Secret", "wrong")])
            self.assertEqual(reply.get("Message"), "Authentication failed")
            c.expect_closed()
        self.login(self.connect())


class TestThrottleBan(AmidTestCase):
    """authfailban = 3: the fourth connection from 127.0.0.1 gets no banner."""

    general = {"authfaildelay": 0, "authfailban": 3, "authfailbantime": 2}

    def fail_once(self):
        c = self.connect()
        reply = c.request([("Action", "Login"), ("Username", "admin"), ("Secret", "wrong")])
        self.assertEqual(reply.get("Message"), "Authentication failed")
        c.expect_closed()

    def banner_or_none(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=2)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        s.close()
        return data

    def test_ban_then_expiry(self):
        survivor = self.connect()  # logged in before the attack
        self.login(survivor)
        for _ in range(3):
            self.fail_once()
        self.assertEqual(self.banner_or_none(), b"")
        self.server.wait_for_log(r"SECURITY event=AddressBanned .*peer=127\.0\.0\.1 ")
        # Other addresses and existing sessions go on.
        other = AmiClient(self.server.port, source="127.0.0.2")
        self._clients.append(other)
        self.login(other)
        self.assertEqual(survivor.request([("Action", "Ping")]).get("Ping"), "Pong")
        # The ban ends after authfailbantime.
        time.sleep(2.3)
        self.assertTrue(self.banner_or_none().startswith(b"Asterisk Call Manager/"))

    def test_brute_force_never_succeeds_nor_slows_others(self):
        """1,000 wrong secrets: none succeeds; a bystander's Ping stays fast."""
        bystander = AmiClient(self.server.port, source="127.0.0.3")
        self._clients.append(bystander)
        self.login(bystander)
        successes = refused = failed = 0
        worst = 0.0
        for i in range(1000):
            try:
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=2)
            except OSError:
                refused += 1
                continue
            s.sendall(b"Action: Login\r\nUsername: admin\r\nSecret: guess%d\r\n\r\n" % i)
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
            if b"Authentication accepted" in data:
                successes += 1
            elif b"Authentication failed" in data:
                failed += 1
            else:
                refused += 1
            if i % 100 == 0:
                t0 = time.monotonic()
                self.assertEqual(bystander.request([("Action", "Ping")]).get("Ping"), "Pong")
                worst = max(worst, time.monotonic() - t0)
        self.assertEqual(successes, 0)
        self.assertLessEqual(failed, 3 + 2)  # the ban stops the guessing
        self.assertGreater(refused, 900)
        self.assertLess(worst, 0.5, "the bystander was slowed down")


if __name__ == "__main__":
    unittest.main()

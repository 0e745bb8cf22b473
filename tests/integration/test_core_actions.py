"""mod_core actions: CoreSettings, CoreStatus, WaitEvent (wire reference section 3)."""

import datetime
import time

from harness import AmidTestCase, PING_RE, timing_sensitive

WAIT_ACK = b"Response: Success\r\nActionID: %s\r\nMessage: Waiting for Event completed.\r\n\r\n"
WAIT_DONE = b"Event: WaitEventComplete\r\nActionID: %s\r\n\r\n"

#: CoreSettings fields in Asterisk's order (AMI 1.1 .. 9.0; SoundsSearchCustomDir is 18+).
CORESETTINGS_FIELDS = ["AMIversion", "AsteriskVersion", "SystemName", "CoreMaxCalls",
                       "CoreMaxLoadAvg", "CoreRunUser", "CoreRunGroup", "CoreMaxFilehandles",
                       "CoreRealTimeEnabled", "CoreCDRenabled", "CoreHTTPenabled"]


class TestCoreInfo(AmidTestCase):
    """CoreSettings and CoreStatus as admin."""

    def setUp(self):
        super().setUp()
        self.client = self.logged_in(events="off")

    def test_coresettings_amiversion_first(self):
        """The first field after Response/ActionID is ``AMIversion: 1.1``."""
        reply = self.client.request([("Action", "CoreSettings"), ("ActionID", "cs")])
        self.assertEqual(reply.lines[:3], ["Response: Success", "ActionID: cs", "AMIversion: 1.1"],
                         reply.raw)

    def test_coresettings_fields_in_order(self):
        """All of Asterisk's CoreSettings fields, in Asterisk's order, well formed."""
        reply = self.client.request([("Action", "CoreSettings"), ("ActionID", "cs")])
        names = [k for k, _ in reply.headers[2:]]
        present = [n for n in names if n in CORESETTINGS_FIELDS]
        self.assertEqual(present, CORESETTINGS_FIELDS, reply.raw)
        self.assertRegex(reply.get("CoreMaxLoadAvg"), r"\A\d+\.\d{6}\Z")
        self.assertRegex(reply.get("CoreMaxCalls"), r"\A\d+\Z")
        for name in ("CoreRealTimeEnabled", "CoreCDRenabled", "CoreHTTPenabled"):
            self.assertIn(reply.get(name), ("Yes", "No"), name)

    def test_corestatus_fields(self):
        """CoreStartupDate/Time, CoreReloadDate/Time, CoreCurrentCalls in order, local time."""
        reply = self.client.request([("Action", "CoreStatus"), ("ActionID", "st")])
        self.assertEqual(reply.lines[:2], ["Response: Success", "ActionID: st"], reply.raw)
        names = [k for k, _ in reply.headers[2:7]]
        self.assertEqual(names, ["CoreStartupDate", "CoreStartupTime", "CoreReloadDate",
                                 "CoreReloadTime", "CoreCurrentCalls"], reply.raw)
        self.assertRegex(reply.get("CoreStartupDate"), r"\A\d{4}-\d{2}-\d{2}\Z")
        self.assertRegex(reply.get("CoreStartupTime"), r"\A\d{2}:\d{2}:\d{2}\Z")
        self.assertRegex(reply.get("CoreReloadDate"), r"\A\d{4}-\d{2}-\d{2}\Z")
        self.assertRegex(reply.get("CoreReloadTime"), r"\A\d{2}:\d{2}:\d{2}\Z")
        self.assertRegex(reply.get("CoreCurrentCalls"), r"\A\d+\Z")
        started = datetime.datetime.strptime(
            reply.get("CoreStartupDate") + " " + reply.get("CoreStartupTime"), "%Y-%m-%d %H:%M:%S")
        age = (datetime.datetime.now() - started).total_seconds()
        self.assertTrue(-5 < age < 300, "startup time %s is not local time of a daemon started "
                                        "moments ago (age %.0f s)" % (started, age))


class TestWaitEvent(AmidTestCase):
    """WaitEvent on a TCP session."""

    def test_timeout(self):
        """Timeout 1: ack at once, then WaitEventComplete (with ActionID) after ~1 s."""
        client = self.logged_in()
        t0 = time.monotonic()
        client.send([("Action", "WaitEvent"), ("Timeout", "1"), ("ActionID", "w1")])
        self.assertEqual(client.read_message(1).raw, WAIT_ACK % b"w1")
        done = client.read_message(4)
        elapsed = time.monotonic() - t0
        self.assertEqual(done.raw, WAIT_DONE % b"w1")
        self.assertGreaterEqual(elapsed, 0.5, "returned after %.2f s, Timeout was 1 s" % elapsed)
        self.assertLess(elapsed, 2.5, "returned after %.2f s, Timeout was 1 s" % elapsed)
        self.assertPingWorks(client)

    @timing_sensitive("WaitEvent with Timeout 0 must complete within 0.8 s")
    def test_timeout_zero_returns_at_once(self):
        """Timeout 0: complete immediately."""
        client = self.logged_in()
        t0 = time.monotonic()
        client.send([("Action", "WaitEvent"), ("Timeout", "0"), ("ActionID", "w0")])
        self.assertEqual(client.read_message(1).raw, WAIT_ACK % b"w0")
        self.assertEqual(client.read_message(1).raw, WAIT_DONE % b"w0")
        self.assertLess(time.monotonic() - t0, 0.8)

    def test_userevent_ends_wait(self):
        """A UserEvent from another session ends the wait early, and is delivered before
        WaitEventComplete."""
        waiter = self.logged_in()
        sender = self.logged_in(events="off")
        waiter.send([("Action", "WaitEvent"), ("Timeout", "10"), ("ActionID", "w2")])
        self.assertEqual(waiter.read_message().raw, WAIT_ACK % b"w2")
        t0 = time.monotonic()
        reply = sender.request([("Action", "UserEvent"), ("UserEvent", "Wake"), ("ActionID", "s")])
        self.assertEqual(reply.response, "Success", reply.raw)
        event = waiter.read_message(3)
        self.assertEqual(event.raw, b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Wake\r\n"
                                    b"ActionID: s\r\n\r\n")
        self.assertEqual(waiter.read_message(3).raw, WAIT_DONE % b"w2")
        self.assertLess(time.monotonic() - t0, 2.0, "WaitEvent did not return soon after the event")
        self.assertPingWorks(waiter)

    def test_client_input_ends_wait(self):
        """Bytes from the client end the wait; the new request is answered afterwards."""
        client = self.logged_in()
        client.send([("Action", "WaitEvent"), ("Timeout", "10"), ("ActionID", "w3")])
        self.assertEqual(client.read_message().raw, WAIT_ACK % b"w3")
        t0 = time.monotonic()
        client.send([("Action", "Ping"), ("ActionID", "pp")])
        self.assertEqual(client.read_message(3).raw, WAIT_DONE % b"w3")
        reply = client.read_message(3)
        self.assertRegex(reply.raw, PING_RE)
        self.assertEqual(reply.get("ActionID"), "pp")
        self.assertLess(time.monotonic() - t0, 2.0)

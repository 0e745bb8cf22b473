"""UserEvent, event delivery by read mask, the Events action and ``Events:`` at login
(wire reference sections 2, 3 and 5)."""

from harness import AmidTestCase, error

PROBE_REQUEST = [("Action", "UserEvent"), ("UserEvent", "Probe"), ("ActionID", "ue1"),
                 ("Payload", "hello: world")]
PROBE_ACK = b"Response: Success\r\nActionID: ue1\r\nMessage: Event Sent\r\n\r\n"
PROBE_EVENT = (b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Probe\r\n"
               b"ActionID: ue1\r\nPayload: hello: world\r\n\r\n")


class TestUserEvent(AmidTestCase):
    """UserEvent's reply, event body and delivery."""

    def send_probe(self, sender):
        """Send the probe UserEvent from *sender* and check the ack."""
        reply = sender.request(PROBE_REQUEST)
        self.assertEqual(reply.raw, PROBE_ACK)

    def test_ack_first_then_own_event(self):
        """The sender (reading user) gets the ack first, then its own event."""
        sender = self.logged_in()
        sender.send(PROBE_REQUEST)
        self.assertEqual(sender.read_message().raw, PROBE_ACK, "the ack must come first")
        self.assertEqual(sender.wait_event("UserEvent").raw, PROBE_EVENT)

    def test_delivered_to_readers_of_user(self):
        """admin (read=all) and limited (read=system,user) both get the exact event."""
        admin = self.logged_in()
        limited = self.logged_in("limited")
        sender = self.logged_in(events="off")
        self.send_probe(sender)
        self.assertEqual(admin.wait_event("UserEvent").raw, PROBE_EVENT)
        self.assertEqual(limited.wait_event("UserEvent").raw, PROBE_EVENT)
        self.assertNoEvent(sender, "UserEvent")

    def test_not_delivered_without_read_class(self):
        """A user with no read classes never gets it, not even its own."""
        listener = self.logged_in()
        noread = self.logged_in("noread")
        self.send_probe(noread)
        self.assertEqual(listener.wait_event("UserEvent").raw, PROBE_EVENT)
        self.assertNoEvent(noread, "UserEvent")

    def test_not_delivered_with_events_off(self):
        """A session that logged in with ``Events: off`` gets nothing."""
        listener = self.logged_in()
        off = self.logged_in(events="off")
        sender = self.logged_in(events="off")
        self.send_probe(sender)
        self.assertEqual(listener.wait_event("UserEvent").raw, PROBE_EVENT)
        self.assertNoEvent(off, "UserEvent")

    def test_copied_lines(self):
        """Every request line except Action/UserEvent is copied verbatim and in order:
        duplicates, colon-less lines, ActionID, values containing colons."""
        listener = self.logged_in()
        sender = self.logged_in(events="off")
        sender.send(b"UserEvent: Multi\r\nHeader1: a\r\naction: UserEvent\r\nHeader1: b\r\n"
                    b"JustText\r\nActionID: m1\r\nKey:NoSpace\r\n\r\n")
        self.assertEqual(sender.read_response().raw,
                         b"Response: Success\r\nActionID: m1\r\nMessage: Event Sent\r\n\r\n")
        self.assertEqual(listener.wait_event("UserEvent").raw,
                         b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Multi\r\n"
                         b"Header1: a\r\nHeader1: b\r\nJustText\r\nActionID: m1\r\n"
                         b"Key:NoSpace\r\n\r\n")

    def test_event_order_preserved(self):
        """Several UserEvents from one sender arrive in order."""
        listener = self.logged_in()
        sender = self.logged_in(events="off")
        for i in range(20):
            reply = sender.request([("Action", "UserEvent"), ("UserEvent", "Seq"), ("N", str(i))])
            self.assertEqual(reply.raw, b"Response: Success\r\nMessage: Event Sent\r\n\r\n")
        got = [int(listener.wait_event("UserEvent").get("N")) for _ in range(20)]
        self.assertEqual(got, list(range(20)))


class TestEventMasks(AmidTestCase):
    """The Events action and ``Events:`` on Login."""

    def test_events_off_then_on(self):
        """EventMask off stops delivery (``Events: Off``), on resumes it (``Events: On``)."""
        listener = self.logged_in()
        sender = self.logged_in(events="off")

        reply = listener.request([("Action", "Events"), ("EventMask", "off"), ("ActionID", "e11")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: e11\r\nEvents: Off\r\n\r\n")
        self.assertEqual(sender.request(PROBE_REQUEST).raw, PROBE_ACK)
        self.assertNoEvent(listener, "UserEvent")

        reply = listener.request([("Action", "Events"), ("EventMask", "on"), ("ActionID", "e12")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: e12\r\nEvents: On\r\n\r\n")
        self.assertEqual(sender.request(PROBE_REQUEST).raw, PROBE_ACK)
        self.assertEqual(listener.wait_event("UserEvent").raw, PROBE_EVENT)

    def test_events_on_after_login_with_events_off(self):
        """A session that logged in with ``Events: off`` can turn events on."""
        listener = self.logged_in(events="off")
        sender = self.logged_in(events="off")
        reply = listener.request([("Action", "Events"), ("EventMask", "on")])
        self.assertEqual(reply.raw, b"Response: Success\r\nEvents: On\r\n\r\n")
        self.assertEqual(sender.request(PROBE_REQUEST).raw, PROBE_ACK)
        self.assertEqual(listener.wait_event("UserEvent").raw, PROBE_EVENT)

    def test_events_class_list_excluding_user(self):
        """``EventMask: system`` is On but excludes user events."""
        listener = self.logged_in()
        sender = self.logged_in(events="off")
        reply = listener.request([("Action", "Events"), ("EventMask", "system"),
                                  ("ActionID", "sy")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: sy\r\nEvents: On\r\n\r\n")
        self.assertEqual(sender.request(PROBE_REQUEST).raw, PROBE_ACK)
        self.assertNoEvent(listener, "UserEvent")

    def test_events_empty_mask_invalid(self):
        """Empty or missing EventMask: ``Invalid event mask``."""
        client = self.logged_in(events="off")
        reply = client.request(b"Action: Events\r\nEventMask: \r\nActionID: em\r\n\r\n")
        self.assertEqual(reply.raw, error("em", "Invalid event mask"))
        reply = client.request([("Action", "Events"), ("ActionID", "em2")])
        self.assertEqual(reply.raw, error("em2", "Invalid event mask"))

    def test_events_unknown_name_is_off(self):
        """An unknown class name gives mask 0: ``Events: Off``."""
        client = self.logged_in(events="off")
        reply = client.request([("Action", "Events"), ("EventMask", "nosuchclass"),
                                ("ActionID", "un")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: un\r\nEvents: Off\r\n\r\n")

    def test_login_events_user(self):
        """``Events: user`` at login: UserEvents arrive, FullyBooted (system) does not."""
        listener = self.connect()
        self.login(listener, events="user")
        self.assertNoEvent(listener, "FullyBooted")
        sender = self.logged_in(events="off")
        self.assertEqual(sender.request(PROBE_REQUEST).raw, PROBE_ACK)
        self.assertEqual(listener.wait_event("UserEvent").raw, PROBE_EVENT)
        self.assertNotIn("FullyBooted", [m.event for m in listener.skipped])

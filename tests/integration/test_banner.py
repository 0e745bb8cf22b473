"""The greeting line (ami-wire-behaviour.md section 1, "Banner")."""

from harness import AmidTestCase


class TestDefaultBanner(AmidTestCase):
    """A daemon configured with the default ``ami_version = "1.1"``."""

    def test_banner_exact_bytes(self):
        """First bytes are exactly ``Asterisk Call Manager/1.1`` + CRLF."""
        client = self.connect()
        self.assertEqual(client.banner, b"Asterisk Call Manager/1.1\r\n")

    def test_no_blank_line_after_banner(self):
        """Nothing follows the banner until the client speaks."""
        client = self.connect()
        self.assertEqual(client.pending(0.3), b"")

    def test_banner_sent_before_any_input(self):
        """The banner arrives without the client sending anything, on every connection."""
        first = self.connect()
        second = self.connect()
        self.assertEqual(first.banner, second.banner)
        self.assertEqual(second.banner, b"Asterisk Call Manager/1.1\r\n")


class TestConfiguredBanner(AmidTestCase):
    """``general.ami_version`` changes the banner (Asterisk 20 says 9.0.0)."""

    general = {"ami_version": "9.0.0"}

    def test_banner_uses_configured_version(self):
        """``ami_version = "9.0.0"`` gives ``Asterisk Call Manager/9.0.0`` + CRLF."""
        client = self.connect()
        self.assertEqual(client.banner, b"Asterisk Call Manager/9.0.0\r\n")

    def test_coresettings_reports_configured_version(self):
        """CoreSettings' AMIversion matches the banner version."""
        client = self.logged_in(events="off")
        reply = client.request([("Action", "CoreSettings"), ("ActionID", "cs")])
        self.assertEqual(reply.response, "Success", reply.raw)
        self.assertEqual(reply.get("AMIversion"), "9.0.0", reply.raw)

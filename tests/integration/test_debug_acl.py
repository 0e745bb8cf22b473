"""general.debug and named ACLs (`acls` + per-user `acl`).

debug = true: every request is logged with Secret/Key redacted, and events
carry SequenceNumber.  Named ACLs: a user's `acl` names lists from the
top-level `acls`; its own permit/deny and every named list must all allow
(as Asterisk's acl=).
"""
import re
import subprocess
import tempfile
import os

from harness import AmidTestCase, USERS, error, find_binary


class TestDebug(AmidTestCase):
    general = {"debug": True}

    def test_requests_logged_with_secrets_redacted(self):
        c = self.connect()
        self.login(c)
        c.request([("Action", "Ping"), ("ActionID", "d1")])
        self.server.wait_for_log(r"Manager received command 'Ping' from 127\.0\.0\.1:\d+: "
                                 r"Action: Ping \| ActionID: d1 \|")
        log = self.server.log_text()
        self.assertIn("Secret: <redacted from logging>", log)
        self.assertNotIn("amp111", log)

    def test_events_numbered(self):
        c = self.connect()
        self.login(c, events="user")
        c.request([("Action", "UserEvent"), ("UserEvent", "N1")])
        first = c.wait_event("UserEvent")
        c.request([("Action", "UserEvent"), ("UserEvent", "N2")])
        second = c.wait_event("UserEvent")
        self.assertTrue(first.raw.startswith(b"Event: UserEvent\r\nPrivilege: user,all\r\n"
                                             b"SequenceNumber: "), first.raw)
        self.assertEqual(int(second.get("SequenceNumber")), int(first.get("SequenceNumber")) + 1)


NAMED_ACLS = """
acls = (
  { name = "loopback"; deny = [ "0.0.0.0/0" ]; permit = [ "127.0.0.0/8" ]; },
  { name = "only2"; deny = [ "0.0.0.0/0" ]; permit = [ "127.0.0.2" ]; }
);
"""


class TestNamedAcls(AmidTestCase):
    users = dict(USERS)
    users["lo"] = ("lo", "all", "all", {"acl": "loopback"})
    users["two"] = ("two", "all", "all", {"acl": ["loopback", "only2"]})
    users["mixed"] = ("mx", "all", "all", {"deny": ["127.0.0.2"], "acl": "loopback"})
    extra_config = NAMED_ACLS

    def attempt(self, user, secret, source=None):
        from harness import AmiClient
        c = AmiClient(self.server.port, source=source)
        self._clients.append(c)
        return c.request([("Action", "Login"), ("Username", user), ("Secret", secret)])

    def test_named_acl_allows(self):
        self.assertEqual(self.attempt("lo", "lo").get("Message"), "Authentication accepted")

    def test_all_lists_must_allow(self):
        self.assertEqual(self.attempt("two", "two").get("Message"), "Authentication failed")
        self.assertEqual(self.attempt("two", "two", source="127.0.0.2").get("Message"),
                         "Authentication accepted")

    def test_own_rules_and_named_list(self):
        self.assertEqual(self.attempt("mixed", "mx").get("Message"), "Authentication accepted")
        self.assertEqual(self.attempt("mixed", "mx", source="127.0.0.2").get("Message"),
                         "Authentication failed")
        self.server.wait_for_log(r"127\.0\.0\.2:\d+ failed to pass IP ACL as 'mixed'")

    def test_undefined_acl_is_a_config_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "amid.conf")
            with open(path, "w") as f:
                f.write('users = ( { username = "x"; secret = "y"; acl = "nope"; } );\n')
            r = subprocess.run([find_binary(), "-t", "-c", path], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stderr, r"amid\.conf:1: acl 'nope' is not defined in 'acls'")

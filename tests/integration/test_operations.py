"""Operations: per-user IP ACLs, allowmultiplelogin, event filters (config
``eventfilter`` and the Filter action), and configuration reload (the Reload
action and SIGHUP).  Wire reference sections 2, 3 (Filter, Reload), 5
(filters) and 6 (manager.conf); amid's own strings (the Reload error, the
log lines) are amid's.
"""

import os
import re
import signal
import subprocess
import tempfile
import shutil
import time
import unittest

import harness
from harness import USERS, AmidTestCase, error, find_binary, render_config, success

#: The exact bytes of the Filter action's errors (two spaces after the period).
FILTER_DID_NOT_COMPILE = "Filter did not compile.  Check the syntax of the filter given."
FILTER_FORMATTED_INCORRECTLY = ("Filter was formatted incorrectly.  Check the syntax of the "
                                "filter given.")


def peer_of(client):
    """The ``ip:port`` amid logs for *client*'s connection."""
    host, port = client.sock.getsockname()[:2]
    return "%s:%d" % (host, port)


def user_event(name):
    """The exact UserEvent an admin sender's ``UserEvent: <name>`` request produces."""
    return (b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: " + name.encode()
            + b"\r\n\r\n")


class OperationsCase(AmidTestCase):
    """Helpers shared by the classes below."""

    def try_login(self, client, username, secret, action_id="li", events="off"):
        """Send a plain Login and return the first block of the reply."""
        client.send([("Action", "Login"), ("Username", username), ("Secret", secret),
                     ("ActionID", action_id), ("Events", events)])
        return client.read_message(3)

    def login_ok(self, username, secret, events="off"):
        """Connect and log in as *username*; return the client."""
        client = self.connect()
        self.assertEqual(self.try_login(client, username, secret, "ok", events).raw,
                         success("ok", "Authentication accepted"), "login as %s" % username)
        return client

    def login_refused(self, username, secret, message="Authentication failed", action_id="bad"):
        """Connect, log in as *username*: exact *message* error, then close.

        Returns the client (already closed by the server).
        """
        client = self.connect()
        reply = self.try_login(client, username, secret, action_id)
        self.assertEqual(reply.raw, error(action_id, message), "login as %s" % username)
        self.assertEqual(client.expect_closed(2), b"", "login as %s" % username)
        return client

    def mark(self):
        """Current length of the daemon's log (start of the part a step writes)."""
        return len(self.server.log_text())

    def sighup_reload(self):
        """SIGHUP the daemon and wait for "Configuration reloaded" in its log."""
        mark = self.mark()
        os.kill(self.server.proc.pid, signal.SIGHUP)
        self.server.wait_for_log(r"Configuration reloaded from %s\n"
                                 % re.escape(self.server.config_path), start=mark)

    def send_user_events(self, sender, names):
        """Send one UserEvent per name from *sender*, checking each ack."""
        for name in names:
            reply = sender.request([("Action", "UserEvent"), ("UserEvent", name)])
            self.assertEqual(reply.raw, b"Response: Success\r\nMessage: Event Sent\r\n\r\n")

    def user_events_until(self, client, last):
        """The UserEvent names *client* receives up to and including *last*.

        Every UserEvent block must have the exact shape of user_event().
        """
        names = []
        while True:
            event = client.wait_event("UserEvent")
            name = event.get("UserEvent")
            self.assertEqual(event.raw, user_event(name))
            names.append(name)
            if name == last:
                return names


# ---------------------------------------------------------------------------
# ACL (permit / deny)
# ---------------------------------------------------------------------------

ACL_USERS = dict(USERS)
ACL_USERS.update({
    # deny everything, then permit the loopback host / another network (CIDR)
    "local": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", "127.0.0.1/32")]),
    "remote": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")]),
    # the same with dotted netmasks
    "masklocal": ("pw", "all", "all", [("deny", "0.0.0.0/0.0.0.0"),
                                       ("permit", "127.0.0.0/255.0.0.0")]),
    "maskremote": ("pw", "all", "all", [("deny", "0.0.0.0/0.0.0.0"),
                                        ("permit", "10.0.0.0/255.0.0.0")]),
    # a bare address is a /32
    "hostlocal": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", "127.0.0.1")]),
    "hostother": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", "127.0.0.2")]),
    # IPv6 rules never match the IPv4 peer, neither to permit nor to deny
    "v6permit": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", ["::/0", "::1"])]),
    "v6deny": ("pw", "all", "all", [("deny", ["::/0", "::1/128"])]),
    # last match wins, in the order the keys stand in the user
    "permitfirst": ("pw", "all", "all", [("permit", "127.0.0.1"), ("deny", "127.0.0.0/8")]),
    "denyfirst": ("pw", "all", "all", [("deny", "127.0.0.0/8"), ("permit", "127.0.0.1")]),
    "lists": ("pw", "all", "all", [("deny", "0.0.0.0/0"),
                                   ("permit", ["10.0.0.0/8", "127.0.0.0/8"])]),
    "listlast": ("pw", "all", "all", [("permit", ["0.0.0.0/0"]),
                                      ("deny", ["192.168.0.0/16", "127.0.0.1/32"])]),
})


class TestAcl(OperationsCase):
    """Per-user ``permit``/``deny`` against the 127.0.0.1 peer."""

    users = ACL_USERS

    def test_permit_loopback_cidr(self):
        """deny 0.0.0.0/0 + permit 127.0.0.1/32: login works from 127.0.0.1."""
        self.assertPingWorks(self.login_ok("local", "pw"))

    def test_permit_other_network_refused(self):
        """deny all + permit 10.0.0.0/8: ``Authentication failed`` then close; the log
        says "failed to pass IP ACL" and has a SECURITY event=FailedACL line."""
        mark = self.mark()
        client = self.login_refused("remote", "pw", action_id="acl")
        peer = peer_of(client)
        self.server.wait_for_log(r"%s failed to pass IP ACL as 'remote'\n" % re.escape(peer),
                                 start=mark)
        self.server.wait_for_log(r"%s failed to authenticate as 'remote'\n" % re.escape(peer),
                                 start=mark)
        self.server.wait_for_log(r'NOTICE amid: SECURITY event=FailedACL user="remote" '
                                 r'peer=%s reason="rejected by ACL"\n' % re.escape(peer),
                                 start=mark)

    def test_acl_checked_before_secret(self):
        """A wrong secret for an ACL-rejected user is reported as the ACL failure."""
        mark = self.mark()
        client = self.login_refused("remote", "wrong")
        peer = re.escape(peer_of(client))
        self.server.wait_for_log(r"SECURITY event=FailedACL user=\"remote\" peer=%s " % peer,
                                 start=mark)
        self.assertNotRegex(self.server.log_text()[mark:],
                            r"SECURITY event=InvalidPassword user=\"remote\" peer=%s " % peer)

    def test_acl_failure_looks_like_bad_secret(self):
        """On the wire an ACL rejection and a wrong secret are the same bytes."""
        acl = self.connect()
        bad = self.connect()
        acl_reply = self.try_login(acl, "remote", "pw", "same")
        bad_reply = self.try_login(bad, "admin", "wrong", "same")
        self.assertEqual(acl_reply.raw, bad_reply.raw)
        self.assertEqual(acl_reply.raw, error("same", "Authentication failed"))
        self.assertEqual(acl.expect_closed(2), b"")
        self.assertEqual(bad.expect_closed(2), b"")

    def test_netmask_form(self):
        """``127.0.0.0/255.0.0.0`` permits the peer, ``10.0.0.0/255.0.0.0`` does not."""
        self.assertPingWorks(self.login_ok("masklocal", "pw"))
        self.login_refused("maskremote", "pw")

    def test_bare_address(self):
        """A bare address is one host: 127.0.0.1 permits, 127.0.0.2 does not."""
        self.assertPingWorks(self.login_ok("hostlocal", "pw"))
        self.login_refused("hostother", "pw")

    def test_ipv6_rule_never_matches_ipv4_peer(self):
        """``permit = ::/0`` does not undo an IPv4 deny; ``deny = ::/0`` does not deny."""
        self.login_refused("v6permit", "pw")
        self.assertPingWorks(self.login_ok("v6deny", "pw"))

    def test_last_match_wins_in_key_order(self):
        """Rules run in the order of the keys (and of list items); the last match decides."""
        self.login_refused("permitfirst", "pw")
        self.assertPingWorks(self.login_ok("denyfirst", "pw"))
        self.assertPingWorks(self.login_ok("lists", "pw"))
        self.login_refused("listlast", "pw")

    def test_users_without_acl_unaffected(self):
        """A user with no permit/deny logs in from anywhere."""
        self.assertPingWorks(self.login_ok("admin", "amp111"))


class TestAclConfigCheck(unittest.TestCase):
    """A malformed ACL value makes ``amid -t`` fail with file:line."""

    BAD_SPECS = [
        "10.0.0.0/33",            # prefix longer than the address
        "::1/129",
        "10.0.0.0/255.0.255.0",   # not a contiguous netmask
        "10.0.0.0/255.0.0",       # not an address
        "10.0.0.0/",              # no prefix (was read as /0: permits everything)
        "10.0.0.0/x",             # not a number (was read as /0)
        "10.0.0.0/8x",            # trailing junk (was read as /8)
        "10.0.0.0/-8",
        "not-an-address",
        "",
        "10.0.0.300",
    ]

    def setUp(self):
        self.binary = find_binary()
        if self.binary is None:
            self.skipTest("amid binary not built")
        self.tmpdir = tempfile.mkdtemp(prefix="amid-it-acl-")

    def tearDown(self):
        if not os.environ.get("AMID_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def check(self, extra):
        """Write a config with user ``acl`` carrying *extra*; run ``amid -t``.

        Returns ``(returncode, output, path, line of the acl user)``.
        """
        users = dict(USERS)
        users["acl"] = ("pw", "all", "all", extra)
        text = render_config(dict(harness.DEFAULT_GENERAL, port=harness.free_port()),
                             harness.module_dir(), users)
        path = os.path.join(self.tmpdir, "amid.conf")
        with open(path, "w") as f:
            f.write(text)
        line = next(n for n, l in enumerate(text.split("\n"), 1) if 'username = "acl"' in l)
        proc = subprocess.run([self.binary, "-t", "-c", path], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), path, line

    def test_valid_acl_accepted(self):
        """The well-formed forms pass ``amid -t``."""
        rc, out, path, _ = self.check([("deny", ["0.0.0.0/0", "::/0"]),
                                       ("permit", ["127.0.0.1", "10.0.0.0/8",
                                                   "192.168.0.0/255.255.0.0", "::1",
                                                   "2001:db8::/32"])])
        self.assertEqual(rc, 0, out)
        self.assertIn("%s: configuration OK" % path, out)

    def test_malformed_acl_rejected_with_file_line(self):
        """Each malformed permit/deny value: exit 1 and ``<file>:<line>:`` in the message."""
        for key in ("permit", "deny"):
            for spec in self.BAD_SPECS:
                for value in (spec, ["127.0.0.1", spec]):
                    with self.subTest(key=key, value=value):
                        rc, out, path, line = self.check([(key, value)])
                        self.assertEqual(rc, 1, out)
                        self.assertIn("%s:%d: %s" % (path, line, key), out)
                        self.assertNotIn("configuration OK", out)


# ---------------------------------------------------------------------------
# allowmultiplelogin
# ---------------------------------------------------------------------------

class TestAllowMultipleLoginPerUser(OperationsCase):
    """User ``single`` has ``allowmultiplelogin = false``; general keeps the default (true)."""

    users = dict(USERS, single=("pw", "all", "all", {"allowmultiplelogin": False}))

    def setUp(self):
        """The previous test's sessions were closed by the client side; wait
        until the server has seen those closes (it releases the login then),
        so each test starts with no session of ``single``."""
        super().setUp()
        deadline = time.monotonic() + harness.scaled(5)
        while True:
            probe = self.connect()
            reply = self.try_login(probe, "single", "pw", "probe")
            if reply.get("Message") == "Authentication accepted":
                # Log off and wait for the close: the login is released then.
                probe.send([("Action", "Logoff")])
                probe.read_message()
                probe.expect_closed()
                return
            probe.close()
            self.assertLess(time.monotonic(), deadline, "a session of 'single' stays logged in")
            time.sleep(0.05)

    def test_second_login_refused_then_closed(self):
        """A second concurrent login: ``Login Already In Use`` (delayed), then close."""
        first = self.login_ok("single", "pw")
        mark = self.mark()
        second = self.login_refused("single", "pw", "Login Already In Use", "dup")
        self.server.wait_for_log(r'SECURITY event=SessionLimit user="single" peer=%s '
                                 r'reason="login already in use"\n'
                                 % re.escape(peer_of(second)), start=mark)
        self.assertPingWorks(first)

    def test_checked_before_credentials_and_case_insensitive(self):
        """A wrong secret, and the name in another case, also get ``Login Already In Use``."""
        self.login_ok("single", "pw")
        self.login_refused("single", "wrong", "Login Already In Use")
        self.login_refused("SINGLE", "pw", "Login Already In Use")

    @harness.timing_sensitive("the refusal must wait for authfaildelay (100 ms)")
    def test_refusal_waits_for_failure_delay(self):
        """The refusal comes after the login failure delay, like a failed login."""
        self.login_ok("single", "pw")
        client = self.connect()
        started = time.monotonic()
        reply = self.try_login(client, "single", "pw", "t")
        self.assertEqual(reply.raw, error("t", "Login Already In Use"))
        self.assertGreaterEqual(time.monotonic() - started, 0.09)

    def test_login_again_after_logoff(self):
        """After the first session logs off, a new login works."""
        first = self.login_ok("single", "pw")
        first.send([("Action", "Logoff"), ("ActionID", "lo")])
        self.assertEqual(first.read_message().raw, harness.goodbye("lo"))
        self.assertEqual(first.expect_closed(2), b"")
        again = self.login_ok("single", "pw")
        self.assertPingWorks(again)
        self.login_refused("single", "pw", "Login Already In Use")

    def test_login_again_after_disconnect(self):
        """A session that just disconnects frees the login too."""
        first = self.login_ok("single", "pw")
        first.close()
        deadline = time.monotonic() + harness.scaled(3)
        while True:
            client = self.connect()
            reply = self.try_login(client, "single", "pw", "re")
            if reply.raw == success("re", "Authentication accepted"):
                break
            self.assertEqual(reply.raw, error("re", "Login Already In Use"))
            self.assertLess(time.monotonic(), deadline, "login still in use after disconnect")
        self.assertPingWorks(client)

    def test_challenge_refused_while_logged_in(self):
        """Challenge naming a logged-in user: ``Login Already In Use`` then close."""
        self.login_ok("single", "pw")
        client = self.connect()
        client.send([("Action", "Challenge"), ("AuthType", "MD5"), ("Username", "single"),
                     ("ActionID", "ch")])
        self.assertEqual(client.read_message(3).raw, error("ch", "Login Already In Use"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_challenge_without_username_allowed(self):
        """Challenge without a Username is not checked; the MD5 Login then is refused."""
        self.login_ok("single", "pw")
        client = self.connect()
        reply = client.request([("Action", "Challenge"), ("AuthType", "MD5"), ("ActionID", "c")])
        m = re.match(rb"\AResponse: Success\r\nActionID: c\r\nChallenge: (\d+)\r\n\r\n\Z",
                     reply.raw)
        self.assertIsNotNone(m, reply.raw)
        client.send([("Action", "Login"), ("AuthType", "MD5"), ("Username", "single"),
                     ("Key", harness.md5_key(m.group(1).decode(), "pw")), ("ActionID", "k")])
        self.assertEqual(client.read_message(3).raw, error("k", "Login Already In Use"))
        self.assertEqual(client.expect_closed(2), b"")

    def test_challenge_allowed_when_not_logged_in(self):
        """Challenge for the user while nobody is logged in as it: a challenge."""
        client = self.connect()
        reply = client.request([("Action", "Challenge"), ("AuthType", "MD5"),
                                ("Username", "single"), ("ActionID", "c")])
        self.assertRegex(reply.raw, rb"\AResponse: Success\r\nActionID: c\r\nChallenge: \d+"
                                    rb"\r\n\r\n\Z")

    def test_failed_login_does_not_count(self):
        """A failed login does not hold the user: the next login works."""
        self.login_refused("single", "wrong")
        self.assertPingWorks(self.login_ok("single", "pw"))

    def test_other_users_keep_multiple_logins(self):
        """admin (no key, general default true) may log in several times."""
        sessions = [self.login_ok("admin", "amp111") for _ in range(3)]
        for s in sessions:
            self.assertPingWorks(s)

    def test_login_while_logged_in_same_session(self):
        """Login again on the logged-in session: ``Already authenticated``."""
        client = self.login_ok("single", "pw")
        reply = client.request([("Action", "Login"), ("Username", "single"), ("Secret", "pw"),
                                ("ActionID", "again")])
        self.assertEqual(reply.raw, success("again", "Already authenticated"))


class TestAllowMultipleLoginGeneral(OperationsCase):
    """``general.allowmultiplelogin = false`` applies to users without their own key."""

    general = {"allowmultiplelogin": False}
    users = dict(USERS, multi=("pw", "all", "all", {"allowmultiplelogin": True}))

    def test_user_without_key_refused(self):
        """admin has no key: the second login is refused."""
        first = self.login_ok("admin", "amp111")
        self.login_refused("admin", "amp111", "Login Already In Use")
        self.assertPingWorks(first)

    def test_user_key_overrides_general(self):
        """``multi`` sets allowmultiplelogin = true: two sessions at once."""
        a = self.login_ok("multi", "pw")
        b = self.login_ok("multi", "pw")
        self.assertPingWorks(a)
        self.assertPingWorks(b)

    def test_general_after_users_in_file(self):
        """The default applies wherever ``general`` stands in the file (here after
        ``users``), as the config reloaded shows."""
        path = self.server.config_path
        with open(path) as f:
            original = f.read()
        general_part = original[original.index("general = {"):original.index("modules = {")]
        rest = original.replace(general_part, "")
        self.addCleanup(self._restore, path, original)
        with open(path, "w") as f:
            f.write(rest + general_part)
        admin = self.login_ok("admin", "amp111")
        reply = admin.request([("Action", "Reload"), ("ActionID", "rl")])
        self.assertEqual(reply.raw, success("rl", "Module Reloaded"))
        self.login_refused("admin", "amp111", "Login Already In Use")
        a = self.login_ok("multi", "pw")
        b = self.login_ok("multi", "pw")
        self.assertPingWorks(a)
        self.assertPingWorks(b)

    def _restore(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        if self.server.alive():
            self.sighup_reload()


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------

FILTER_USERS = dict(USERS)
FILTER_USERS.update({
    "inc": ("pw", "all", "all", {"eventfilter": "UserEvent: Alpha"}),
    "exc": ("pw", "all", "all", {"eventfilter": "!UserEvent: Beta"}),
    "both": ("pw", "all", "all", {"eventfilter": ["UserEvent: (Alpha|Beta)", "!UserEvent: Beta"]}),
    # over the whole text: Event and Privilege lines and the CRLFs are part of it
    "whole": ("pw", "all", "all",
              {"eventfilter": r"\AEvent: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Gamma\r\n"}),
    "two": ("pw", "all", "all", {"eventfilter": ["UserEvent: Alpha", "UserEvent: Gamma"]}),
})

#: The order the sender emits in; each receiver waits for its last expected name.
SEQUENCE = ["Beta", "Gamma", "Alpha"]


class TestUserEventFilters(OperationsCase):
    """``eventfilter`` of a user: includes, excludes ("!"), regex over the whole event."""

    users = FILTER_USERS

    def check_receivers(self, expected):
        """Log in a receiver per user of *expected*, emit SEQUENCE, compare names."""
        receivers = {name: self.login_ok(name, FILTER_USERS[name][0], events="user")
                     for name in expected}
        sender = self.login_ok("admin", "amp111")
        self.send_user_events(sender, SEQUENCE)
        for name, names in expected.items():
            got = self.user_events_until(receivers[name], names[-1])
            self.assertEqual(got, names, "user %s" % name)
            self.assertNoEvent(receivers[name], "UserEvent")

    def test_include_only(self):
        """An include filter: only the matching event."""
        self.check_receivers({"inc": ["Alpha"], "admin": SEQUENCE})

    def test_exclude_only(self):
        """An exclude filter: everything but the matching event."""
        self.check_receivers({"exc": ["Gamma", "Alpha"]})

    def test_include_and_exclude(self):
        """Both: must match an include and no exclude."""
        self.check_receivers({"both": ["Alpha"]})

    def test_several_includes(self):
        """Several includes: matching any one is enough."""
        self.check_receivers({"two": ["Gamma", "Alpha"]})

    def test_regex_over_whole_event_text(self):
        r"""``\AEvent: UserEvent\r\nPrivilege: user,all\r\n...`` matches from the first line."""
        self.check_receivers({"whole": ["Gamma"]})

    def test_responses_not_filtered(self):
        """Filters apply to events only: responses still arrive."""
        client = self.login_ok("inc", "pw", events="user")
        self.assertPingWorks(client)
        reply = client.request([("Action", "Events"), ("EventMask", "on"), ("ActionID", "e")])
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: e\r\nEvents: On\r\n\r\n")


class TestFilterAction(OperationsCase):
    """The Filter action ([system]): session-only filters added to the config ones."""

    users = FILTER_USERS

    def add_filter(self, client, value, operation="Add", action_id="f"):
        """Send Filter and return the reply."""
        headers = [("Action", "Filter")]
        if operation is not None:
            headers.append(("Operation", operation))
        if value is not None:
            headers.append(("Filter", value))
        headers.append(("ActionID", action_id))
        return client.request(headers)

    def test_add_include_filters_only_that_session(self):
        """``Message: Success``; the session gets only Alpha, another admin gets all."""
        filtered = self.login_ok("admin", "amp111", events="user")
        other = self.login_ok("admin", "amp111", events="user")
        reply = self.add_filter(filtered, "UserEvent: Alpha")
        self.assertEqual(reply.raw, b"Response: Success\r\nActionID: f\r\nMessage: Success\r\n\r\n")
        sender = self.login_ok("admin", "amp111")
        self.send_user_events(sender, SEQUENCE)
        self.assertEqual(self.user_events_until(filtered, "Alpha"), ["Alpha"])
        self.assertEqual(self.user_events_until(other, "Alpha"), SEQUENCE)
        self.assertNoEvent(filtered, "UserEvent")

    def test_add_exclude(self):
        """``!UserEvent: Beta`` excludes Beta only."""
        client = self.login_ok("admin", "amp111", events="user")
        self.assertEqual(self.add_filter(client, "!UserEvent: Beta").raw, success("f", "Success"))
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        self.assertEqual(self.user_events_until(client, "Alpha"), ["Gamma", "Alpha"])

    def test_operation_case_insensitive(self):
        """``Operation: add`` works like Add."""
        client = self.login_ok("admin", "amp111", events="user")
        self.assertEqual(self.add_filter(client, "UserEvent: Gamma", "add").raw,
                         success("f", "Success"))
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        self.assertEqual(self.user_events_until(client, "Gamma"), ["Gamma"])
        self.assertNoEvent(client, "UserEvent")

    def test_combines_with_user_eventfilter(self):
        """User ``exc`` (!Beta) adds include ``Beta|Gamma``: only Gamma passes."""
        client = self.login_ok("exc", "pw", events="user")
        self.assertEqual(self.add_filter(client, "UserEvent: (Beta|Gamma)").raw,
                         success("f", "Success"))
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        self.assertEqual(self.user_events_until(client, "Gamma"), ["Gamma"])
        self.assertNoEvent(client, "UserEvent")

    def test_bad_regex(self):
        """A regex that does not compile: the exact error; no filter is added."""
        client = self.login_ok("admin", "amp111", events="user")
        for n, value in enumerate(("UserEvent: (", "[z-a]", "!(", "a{2,1}")):
            reply = self.add_filter(client, value, action_id="b%d" % n)
            self.assertEqual(reply.raw, error("b%d" % n, FILTER_DID_NOT_COMPILE), value)
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        self.assertEqual(self.user_events_until(client, "Alpha"), SEQUENCE)

    def test_empty_filter(self):
        """Empty, missing, or a lone ``!``: formatted incorrectly."""
        client = self.login_ok("admin", "amp111")
        reply = client.request(b"Action: Filter\r\nOperation: Add\r\nFilter: \r\nActionID: e1\r\n\r\n")
        self.assertEqual(reply.raw, error("e1", FILTER_FORMATTED_INCORRECTLY))
        self.assertEqual(self.add_filter(client, None, action_id="e2").raw,
                         error("e2", FILTER_FORMATTED_INCORRECTLY))
        self.assertEqual(self.add_filter(client, "!", action_id="e3").raw,
                         error("e3", FILTER_FORMATTED_INCORRECTLY))

    def test_unknown_operation(self):
        """Any Operation but Add, or none: ``Unknown operation``."""
        client = self.login_ok("admin", "amp111")
        for n, op in enumerate(("Remove", "Delete", "Add ", "", None)):
            reply = self.add_filter(client, "UserEvent: Alpha", op, "u%d" % n)
            self.assertEqual(reply.raw, error("u%d" % n, "Unknown operation"), repr(op))

    def test_needs_write_system(self):
        """``limited`` (write=user): ``Permission denied``."""
        client = self.login_ok("limited", "lim")
        self.assertEqual(self.add_filter(client, "UserEvent: Alpha", action_id="pd").raw,
                         error("pd", "Permission denied"))

    def test_exclude_everything_keeps_responses(self):
        """``!.`` blocks every event, never a response."""
        client = self.login_ok("admin", "amp111", events="user")
        self.assertEqual(self.add_filter(client, "!.").raw, success("f", "Success"))
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        time.sleep(0.2)
        self.assertNoEvent(client, "UserEvent")
        self.assertPingWorks(client)


# ---------------------------------------------------------------------------
# Reload
# ---------------------------------------------------------------------------

RELOAD_USERS = dict(USERS)
RELOAD_USERS.update({
    "victim": ("v", "all", "all"),
    "shrink": ("s", "system,user", "all"),
})


class TestReload(OperationsCase):
    """Editing the config file on disk, then ``Action: Reload`` or SIGHUP."""

    users = RELOAD_USERS

    def setUp(self):
        super().setUp()
        self.addCleanup(self.restore_config)

    def write_config(self, users=None, text=None):
        """Replace the daemon's config file with *users* (or raw *text*)."""
        if text is None:
            text = render_config(self.server.general, self.server.modules_dir, users,
                                 self.server.load, self.server.modules)
        with open(self.server.config_path, "w") as f:
            f.write(text)
        return text

    def restore_config(self):
        """Put the class's config back and reload it (SIGHUP, checked in the log)."""
        if not self.server.alive():
            return
        self.write_config(RELOAD_USERS)
        self.sighup_reload()

    def reload(self, client, action_id="rl", module=None):
        """Send Reload and return the reply."""
        headers = [("Action", "Reload")]
        if module is not None:
            headers.append(("Module", module))
        headers.append(("ActionID", action_id))
        return client.request(headers)

    def test_added_user_can_log_in(self):
        """A user added on disk logs in after ``Module Reloaded``."""
        self.login_refused("newbie", "n")
        admin = self.login_ok("admin", "amp111")
        self.write_config(dict(RELOAD_USERS, newbie=("n", "all", "all")))
        self.assertEqual(self.reload(admin).raw,
                         b"Response: Success\r\nActionID: rl\r\nMessage: Module Reloaded\r\n\r\n")
        self.assertPingWorks(self.login_ok("newbie", "n"))
        self.assertPingWorks(admin)

    def test_removed_user_session_closed(self):
        """The live session of a removed user is closed; it cannot log in again."""
        victim = self.login_ok("victim", "v")
        admin = self.login_ok("admin", "amp111")
        users = dict(RELOAD_USERS)
        del users["victim"]
        self.write_config(users)
        mark = self.mark()
        self.assertEqual(self.reload(admin).raw, success("rl", "Module Reloaded"))
        self.assertEqual(victim.expect_closed(3), b"")
        self.server.wait_for_log(r"Manager 'victim' removed from the configuration: closing its "
                                 r"session from %s\n" % re.escape(peer_of(victim)), start=mark)
        self.login_refused("victim", "v")
        self.assertPingWorks(admin)

    def test_shrunk_read_classes(self):
        """``read = system,user`` → ``system``: the live session stops getting user events."""
        shrink = self.login_ok("shrink", "s", events="user")
        control = self.login_ok("admin", "amp111", events="user")
        sender = self.login_ok("admin", "amp111")
        self.send_user_events(sender, ["Before"])
        self.assertEqual(self.user_events_until(shrink, "Before"), ["Before"])
        self.assertEqual(self.user_events_until(control, "Before"), ["Before"])

        self.write_config(dict(RELOAD_USERS, shrink=("s", "system", "all")))
        self.assertEqual(self.reload(sender).raw, success("rl", "Module Reloaded"))
        self.assertPingWorks(shrink)  # the reload has reached its worker
        self.send_user_events(sender, ["After"])
        self.assertEqual(self.user_events_until(control, "After"), ["After"])
        time.sleep(0.2)
        self.assertNoEvent(shrink, "UserEvent")

    def test_own_filters_survive_reload(self):
        """Filters added with the Filter action stay after a reload."""
        client = self.login_ok("admin", "amp111", events="user")
        reply = client.request([("Action", "Filter"), ("Operation", "Add"),
                                ("Filter", "UserEvent: Alpha")])
        self.assertEqual(reply.raw, success(None, "Success"))
        self.assertEqual(self.reload(client).raw, success("rl", "Module Reloaded"))
        self.send_user_events(self.login_ok("admin", "amp111"), SEQUENCE)
        self.assertEqual(self.user_events_until(client, "Alpha"), ["Alpha"])

    def broken_text(self):
        """The class's config with a syntax error appended; returns (text, error line)."""
        text = render_config(self.server.general, self.server.modules_dir, RELOAD_USERS,
                             self.server.load, self.server.modules)
        line = text.count("\n") + 1
        return text + "this is = not libconfig\n", line

    def test_broken_config_keeps_old(self):
        """A syntax error: the error names file:line, the old configuration stays."""
        admin = self.login_ok("admin", "amp111")
        text, line = self.broken_text()
        self.write_config(text=text)
        reply = self.reload(admin, "bad")
        where = "%s:%d: " % (self.server.config_path, line)
        self.assertRegex(reply.raw, rb"\AResponse: Error\r\nActionID: bad\r\nMessage: "
                                    rb"Configuration not reloaded: "
                         + re.escape(where.encode()) + rb"[^\r\n]+\r\n\r\n\Z")
        self.assertPingWorks(self.login_ok("victim", "v"))
        self.assertPingWorks(admin)

    def test_semantic_error_keeps_old(self):
        """A bad value (a malformed ACL of a new user): file:line, nothing applied."""
        admin = self.login_ok("admin", "amp111")
        users = dict(RELOAD_USERS, newbie=("n", "all", "all", {"permit": "10.0.0.0/40"}))
        del users["victim"]
        text = self.write_config(users)
        line = next(n for n, l in enumerate(text.split("\n"), 1) if '"newbie"' in l)
        victim = self.login_ok("victim", "v")
        reply = self.reload(admin, "sem")
        self.assertEqual(reply.response, "Error", reply.raw)
        self.assertIn("Configuration not reloaded: %s:%d: permit" % (self.server.config_path, line),
                      reply.get("Message"))
        self.login_refused("newbie", "n")
        self.assertPingWorks(victim)

    def test_sighup_reloads(self):
        """SIGHUP: "Configuration reloaded" in the log, the added user logs in."""
        self.write_config(dict(RELOAD_USERS, newbie=("n", "all", "all")))
        mark = self.mark()
        os.kill(self.server.proc.pid, signal.SIGHUP)
        self.server.wait_for_log(r"SIGHUP: reloading\n", start=mark)
        self.server.wait_for_log(r"Configuration reloaded from %s\n"
                                 % re.escape(self.server.config_path), start=mark)
        self.assertPingWorks(self.login_ok("newbie", "n"))

    def test_sighup_broken_config_keeps_old(self):
        """SIGHUP with a broken file: logged with file:line, the old users still log in."""
        text, line = self.broken_text()
        self.write_config(text=text)
        mark = self.mark()
        os.kill(self.server.proc.pid, signal.SIGHUP)
        self.server.wait_for_log(r"Reload refused, keeping the running configuration: %s:%d: "
                                 % (re.escape(self.server.config_path), line), start=mark)
        self.assertNotIn("Configuration reloaded", self.server.log_text()[mark:])
        self.assertPingWorks(self.login_ok("victim", "v"))

    def test_reload_module_without_reload_callback(self):
        """``Module: mod_core`` (no reload callback): ``Module does not support reload``."""
        admin = self.login_ok("admin", "amp111")
        for n, name in enumerate(("mod_core", "mod_core.so")):
            self.assertEqual(self.reload(admin, "m%d" % n, name).raw,
                             error("m%d" % n, "Module does not support reload"))

    def test_reload_unknown_module(self):
        """An unknown module: ``No such module``."""
        admin = self.login_ok("admin", "amp111")
        self.assertEqual(self.reload(admin, "nm", "mod_nosuch").raw,
                         error("nm", "No such module"))

    def test_reload_needs_config_or_system(self):
        """``limited`` (write=user): ``Permission denied``; the file is not read."""
        limited = self.login_ok("limited", "lim")
        self.write_config(dict(RELOAD_USERS, newbie=("n", "all", "all")))
        self.assertEqual(self.reload(limited, "pd").raw, error("pd", "Permission denied"))
        self.login_refused("newbie", "n")


if __name__ == "__main__":
    unittest.main()

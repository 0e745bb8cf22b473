"""Security log lines and the fail2ban filter conf/amid-fail2ban.conf.

Every event the filter bans on is provoked against the real daemon; the line
amid logs for it is read back from the daemon's log and run through the
filter's ``failregex`` lines the way fail2ban runs them (see
:func:`fail2ban_regex` below): exactly the regex for that event must match,
and the host it extracts must be the client's address.  Lines that must not
ban (SuccessfulAuth, RequestNotAllowed) must match none.  A username full of
CR, quotes, backslashes and a fake ``peer=`` must not forge a line or a host.

When fail2ban's own ``fail2ban-regex`` is installed it is run as well on the
part of the log each test produced (``-o "<ip>|<msg>"`` prints the host and
the line of every match); without it that part is skipped and
``test_fail2ban_regex_tool`` reports why.  The tests never install it.

How fail2ban applies a filter (fail2ban 0.10-1.0, server/failregex.py and
server/filter.py), reproduced here with Python's ``re``:

1. The config is read with ``%(name)s`` interpolation and ``%%`` for ``%``
   (configparser's BasicInterpolation does the same); ``failregex`` holds one
   regex per line.
2. The date that ``datepattern`` finds is cut out of the line; the regexes
   are searched (``re.search``, not ``match``) in what is left, followed by a
   newline.  ``datepattern``'s ``%Y``, ``%m``, ... become digit groups.
3. ``<HOST>`` is replaced by three named alternatives (with the default
   ``usedns``, which is not ``no``)::

       (?:\\[?(?:(?:::f{4,6}:)?(?P<ip4>IPv4)|(?P<ip6>IPv6))\\]?|(?P<dns>[\\w\\-.^_]*\\w))

   where IPv4 is ``(?:\\d{1,3}\\.){3}\\d{1,3}`` and IPv6 is
   ``(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)``; the
   host is whichever of ``ip4``, ``ip6``, ``dns`` matched.
4. A line that also matches an ``ignoreregex`` is not a failure.
"""

import configparser
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

import harness
from harness import USERS, AmidTestCase, error, md5_key, success

FILTER_PATH = os.path.join(harness.REPO, "conf", "amid-fail2ban.conf")

#: The events the filter must ban on.
BANNED = ["InvalidAccountID", "InvalidPassword", "ChallengeResponseFailed", "FailedACL",
          "AuthTimeout", "SessionLimit", "RequestBadFormat"]

# -- fail2ban's <HOST>, as in fail2ban/server/failregex.py (R_HOST) -----------
F2B_IP4 = r"(?:\d{1,3}\.){3}\d{1,3}"
F2B_IP6 = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)"
F2B_ADDR = r"\[?(?:(?:::f{4,6}:)?(?P<ip4>%s)|(?P<ip6>%s))\]?" % (F2B_IP4, F2B_IP6)
F2B_HOST = r"(?:%s|(?P<dns>[\w\-.^_]*\w))" % F2B_ADDR

#: datepattern directives -> regex (fail2ban's strptime uses stricter ranges).
F2B_DATE_DIRECTIVES = {"%Y": r"\d{4}", "%m": r"\d{1,2}", "%d": r"\d{1,2}", "%H": r"\d{1,2}",
                       "%M": r"\d{1,2}", "%S": r"\d{1,2}", "%f": r"\d{1,6}"}


def load_filter(path=FILTER_PATH):
    """Read the filter; return (failregexes, ignoreregexes, date regex), compiled.

    ``<HOST>`` becomes F2B_HOST; every other ``<TAG>`` is an error here (the
    filter uses none).
    """
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    with open(path) as f:
        parser.read_file(f)
    definition = parser["Definition"]

    def regexes(key):
        out = []
        for line in definition.get(key, "").splitlines():
            line = line.strip()
            if not line:
                continue
            if re.search(r"<(?!HOST>)[A-Z][\w-]*/?>", line):
                raise AssertionError("tag other than <HOST> in %s: %r" % (key, line))
            out.append(re.compile(line.replace("<HOST>", F2B_HOST)))
        return out

    date = definition.get("datepattern")
    if not date:
        raise AssertionError("the filter sets no datepattern")
    for directive, rx in F2B_DATE_DIRECTIVES.items():
        date = date.replace(directive, rx)
    return regexes("failregex"), regexes("ignoreregex"), re.compile(date)


FAILREGEXES, IGNOREREGEXES, DATE_RE = load_filter()


def fail2ban_regex(line):
    """Apply the filter to one log line as fail2ban does.

    Returns ``[(index of the failregex, host), ...]`` for every failregex that
    matches (fail2ban stops at the first; the tests want exactly one), or []
    when the line has no date, matches an ignoreregex, or matches nothing.
    """
    date = DATE_RE.search(line)
    if not date:
        return []
    buf = line[:date.start()] + line[date.end():] + "\n"
    if any(rx.search(buf) for rx in IGNOREREGEXES):
        return []
    hits = []
    for i, rx in enumerate(FAILREGEXES):
        m = rx.search(buf)
        if m:
            hits.append((i, m.group("ip4") or m.group("ip6") or m.group("dns")))
    return hits


def fail2ban_regex_binary():
    """Path of fail2ban-regex, or None."""
    return shutil.which("fail2ban-regex")


def peer_port(client):
    """The client's local port (the port in amid's ``peer=``)."""
    return client.sock.getsockname()[1]


#: A line amid wrote for a security event (in another message, e.g. inside an
#: escaped username, the text does not start the line).
SECURITY_LINE = re.compile(r"\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} NOTICE amid: SECURITY event=")


def ipv6_unavailable():
    """Why an IPv6 loopback test cannot run here, or None."""
    if not socket.has_ipv6:
        return "Python has no IPv6 support"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError as e:
        return "no IPv6 loopback (%s)" % e
    return None


class SecurityLogCase(AmidTestCase):
    """Helpers: provoke, find the SECURITY line, check it against the filter."""

    def mark(self):
        """Current length of the daemon's log."""
        return len(self.server.log_text())

    def security_lines(self, start, port=None, host="127.0.0.1"):
        """The SECURITY lines logged since *start* (for peer *host*:*port* if given)."""
        lines = [l for l in self.server.log_text()[start:].split("\n") if SECURITY_LINE.match(l)]
        if port is None:
            return lines
        tail = re.compile(r' peer=%s:%d reason="' % (re.escape("[%s]" % host if ":" in host
                                                               else host), port))
        return [l for l in lines if tail.search(l)]

    def wait_security_line(self, start, event, port, host="127.0.0.1"):
        """Wait for the SECURITY line of *event* from *host*:*port*; return it whole.

        It must be the only SECURITY line of that peer since *start*.
        """
        shown = "[%s]" % host if ":" in host else host
        self.server.wait_for_log(r'(?m)^[^\n]* NOTICE amid: SECURITY event=%s user="[^"\n]*" '
                                 r'peer=%s:%d reason="[^"\n]*"$' % (event, re.escape(shown), port),
                                 start=start)
        lines = self.security_lines(start, port, host)
        self.assertEqual(len(lines), 1, "one SECURITY line per event expected: %r" % lines)
        return lines[0]

    def assertBanned(self, line, event, host="127.0.0.1"):
        """Exactly the failregex of *event* matches *line*, extracting *host*."""
        hits = fail2ban_regex(line)
        self.assertEqual(len(hits), 1, "expected exactly one failregex to match %r, got %r"
                         % (line, hits))
        index, got = hits[0]
        self.assertIn("event=%s " % event, FAILREGEXES[index].pattern,
                      "%r matched the regex of another event" % line)
        self.assertEqual(got, host, line)

    def assertNotBanned(self, line):
        """No failregex matches *line*."""
        self.assertEqual(fail2ban_regex(line), [], line)

    def assertToolAgrees(self, start, expected):
        """When fail2ban-regex is installed: run it on the log since *start*.

        *expected* lists ``(host, line)`` of every line that must match, in
        order; nothing else may match.
        """
        tool = fail2ban_regex_binary()
        if tool is None:
            return
        path = os.path.join(self.server.tmpdir, "f2b-%d.log" % start)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.server.log_text()[start:])
        proc = subprocess.run([tool, "-o", "<ip>|<msg>", path, FILTER_PATH],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
        out = proc.stdout.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, out)
        got = [tuple(l.split("|", 1)) for l in out.splitlines() if "|" in l]
        self.assertEqual(got, list(expected), "fail2ban-regex output:\n" + out)

    def check_event(self, start, event, port, host="127.0.0.1"):
        """The full check of one provoked event; returns the line."""
        line = self.wait_security_line(start, event, port, host)
        self.assertBanned(line, event, host)
        # Every other line logged meanwhile: no ban (one ban per event).
        time.sleep(0.05)
        others = [l for l in self.server.log_text()[start:].split("\n") if l and l != line]
        for other in others:
            self.assertNotBanned(other)
        self.assertToolAgrees(start, [(host, line)])
        return line

    # -- provoking ----------------------------------------------------------

    def failed_login(self, headers, host="127.0.0.1"):
        """Send a Login that fails; wait for the close.  Returns the client's port."""
        client = self.connect(host=host) if host != "127.0.0.1" else self.connect()
        client.send(headers)
        self.assertEqual(client.read_message(3).raw, error("x", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")
        return peer_port(client)


SECURITY_USERS = dict(USERS)
SECURITY_USERS.update({
    "nosecret": (None, "all", "all"),
    "acl": ("pw", "all", "all", [("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")]),
    "single": ("pw", "all", "all", {"allowmultiplelogin": False}),
})


class TestSecurityLog(SecurityLogCase):
    """The events of a login and of a bad client, from 127.0.0.1."""

    users = SECURITY_USERS

    def test_invalid_account_id(self):
        """Unknown user: InvalidAccountID."""
        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("Username", "nosuch"), ("Secret", "x"),
                                  ("ActionID", "x")])
        line = self.check_event(start, "InvalidAccountID", port)
        self.assertIn('user="nosuch"', line)

    def test_invalid_password(self):
        """Wrong secret, and a user without a secret: InvalidPassword."""
        for user in ("admin", "nosecret"):
            with self.subTest(user=user):
                start = self.mark()
                port = self.failed_login([("Action", "Login"), ("Username", user),
                                          ("Secret", "wrong"), ("ActionID", "x")])
                self.check_event(start, "InvalidPassword", port)

    def test_challenge_response_failed(self):
        """A wrong MD5 key, and an MD5 login without Challenge: ChallengeResponseFailed."""
        start = self.mark()
        client = self.connect()
        reply = client.request([("Action", "Challenge"), ("AuthType", "MD5")])
        challenge = re.search(rb"Challenge: (\d+)", reply.raw).group(1).decode()
        client.send([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                     ("Key", md5_key(challenge, "not-the-secret")), ("ActionID", "x")])
        self.assertEqual(client.read_message(3).raw, error("x", "Authentication failed"))
        self.assertEqual(client.expect_closed(2), b"")
        self.check_event(start, "ChallengeResponseFailed", peer_port(client))

        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                                  ("Key", "0" * 32), ("ActionID", "x")])
        self.check_event(start, "ChallengeResponseFailed", port)

    def test_failed_acl(self):
        """A peer the user's ACL refuses: FailedACL."""
        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("Username", "acl"), ("Secret", "pw"),
                                  ("ActionID", "x")])
        self.check_event(start, "FailedACL", port)

    def test_session_limit_login_in_use(self):
        """A second login of an allowmultiplelogin=false user: SessionLimit."""
        first = self.connect()
        self.login(first, "single", secret="pw", events="off")
        start = self.mark()
        client = self.connect()
        client.send([("Action", "Login"), ("Username", "single"), ("Secret", "pw"),
                     ("ActionID", "x")])
        self.assertEqual(client.read_message(3).raw, error("x", "Login Already In Use"))
        self.assertEqual(client.expect_closed(2), b"")
        line = self.check_event(start, "SessionLimit", peer_port(client))
        self.assertIn('user="single"', line)

    def flood(self, client):
        """Send over 1 MiB without a line end until amid hangs up."""
        chunk = b"A" * 65536
        try:
            for _ in range(40):
                client.sock.sendall(chunk)
        except OSError:
            pass  # closed while we were still sending
        client.expect_closed(5)

    def test_request_bad_format(self):
        """Over 1 MiB of unparseable input: RequestBadFormat (before and after login)."""
        start = self.mark()
        client = self.connect()
        port = peer_port(client)
        self.flood(client)
        line = self.check_event(start, "RequestBadFormat", port)
        self.assertIn('user=""', line)

        start = self.mark()
        client = self.connect()
        self.login(client, events="off")
        port = peer_port(client)
        self.flood(client)
        # This client's lines since the mark: its SuccessfulAuth, then the flood's.
        self.server.wait_for_log(r"SECURITY event=RequestBadFormat user=\"admin\" "
                                 r"peer=127\.0\.0\.1:%d " % port, start=start)
        lines = self.security_lines(start, port)
        self.assertEqual([re.search(r"event=(\w+)", l).group(1) for l in lines],
                         ["SuccessfulAuth", "RequestBadFormat"], lines)
        self.assertNotBanned(lines[0])
        self.assertBanned(lines[1], "RequestBadFormat")
        self.assertToolAgrees(start, [("127.0.0.1", lines[1])])

    def test_successful_auth_not_banned(self):
        """SuccessfulAuth is logged in the same shape and never matches."""
        start = self.mark()
        client = self.connect()
        self.login(client, events="off")
        port = peer_port(client)
        self.server.wait_for_log(r'SECURITY event=SuccessfulAuth user="admin" '
                                 r'peer=127\.0\.0\.1:%d reason="ok"' % port, start=start)
        for line in self.security_lines(start, port):
            self.assertNotBanned(line)
        self.assertToolAgrees(start, [])

    def test_request_not_allowed_not_banned(self):
        """A logged-in user's denied action (RequestNotAllowed) never matches."""
        client = self.connect()
        self.login(client, "limited", events="off")
        start = self.mark()
        reply = client.request([("Action", "CoreStatus"), ("ActionID", "d")])
        self.assertEqual(reply.raw, error("d", "Permission denied"))
        self.server.wait_for_log(r'SECURITY event=RequestNotAllowed user="limited" '
                                 r'peer=127\.0\.0\.1:%d ' % peer_port(client), start=start)
        for line in self.security_lines(start):
            self.assertNotBanned(line)
        self.assertToolAgrees(start, [])

    def test_username_cannot_forge_lines(self):
        """CR, quotes, backslashes, a fake peer= and a fake whole line in Username:
        one log line per event, escaped, and the only host extracted is the client's."""
        forged = [
            # a CR and a complete fake line after it (a LF would end the header)
            b'x\r2026-01-01 00:00:00.000 NOTICE amid: SECURITY event=InvalidPassword '
            b'user="" peer=6.6.6.6:1 reason="forged"',
            # close the quote and add a fake peer
            b'y" peer=6.6.6.6:2 reason="z',
            # backslash before the quote, to undo the escape
            b'\\" peer=6.6.6.6:3 reason=\\"',
            # a fake peer inside the quotes and bytes that are not UTF-8
            b'peer=6.6.6.6:4 \xff\xfe\x7f\x1b[0m',
        ]
        for n, name in enumerate(forged):
            with self.subTest(n=n):
                start = self.mark()
                client = self.connect()
                client.send(b"Action: Login\r\nUsername: " + name + b"\r\nSecret: x\r\n"
                            b"ActionID: x\r\n\r\n")
                self.assertEqual(client.read_message(3).raw, error("x", "Authentication failed"))
                self.assertEqual(client.expect_closed(2), b"")
                port = peer_port(client)
                line = self.check_event(start, "InvalidAccountID", port)
                log = self.server.log_text()[start:]
                self.assertNotIn("\r", log)
                self.assertNotIn("\x1b", log)
                # One SECURITY line in all, and its user field has no raw quote.
                self.assertEqual(len(self.security_lines(start)), 1, log)
                user = re.search(r' user="([^"]*)" peer=127\.0\.0\.1:%d reason="' % port, line)
                self.assertIsNotNone(user, line)
                self.assertNotIn('"', user.group(1))
                hosts = [h for l in log.split("\n") for _, h in fail2ban_regex(l)]
                self.assertEqual(hosts, ["127.0.0.1"], log)

    def test_fail2ban_regex_tool(self):
        """fail2ban-regex itself, over every banned event of this class at once."""
        tool = fail2ban_regex_binary()
        if tool is None:
            self.skipTest("fail2ban-regex not installed (apt-get install fail2ban); the "
                          "filter was checked with the Python emulation only")
        start = self.mark()
        ports = []
        ports.append(self.failed_login([("Action", "Login"), ("Username", "nosuch"),
                                        ("Secret", "x"), ("ActionID", "x")]))
        ports.append(self.failed_login([("Action", "Login"), ("Username", "admin"),
                                        ("Secret", "bad"), ("ActionID", "x")]))
        ports.append(self.failed_login([("Action", "Login"), ("AuthType", "MD5"),
                                        ("Username", "admin"), ("Key", "0" * 32),
                                        ("ActionID", "x")]))
        ports.append(self.failed_login([("Action", "Login"), ("Username", "acl"),
                                        ("Secret", "pw"), ("ActionID", "x")]))
        ok = self.connect()
        self.login(ok, "single", secret="pw", events="off")
        client = self.connect()
        client.send([("Action", "Login"), ("Username", "single"), ("Secret", "pw")])
        client.expect_closed(3)
        ports.append(peer_port(client))
        client = self.connect()
        ports.append(peer_port(client))
        self.flood(client)
        for port in ports:
            self.server.wait_for_log(r"SECURITY event=\w+ user=\"[^\"]*\" peer=127\.0\.0\.1:%d "
                                     % port, start=start)
        path = os.path.join(self.server.tmpdir, "f2b-all.log")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.server.log_text()[start:])
        proc = subprocess.run([tool, path, FILTER_PATH], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = proc.stdout.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, out)
        matched = re.search(r"^Lines: \d+ lines, 0 ignored, (\d+) matched, \d+ missed", out, re.M)
        self.assertIsNotNone(matched, out)
        self.assertEqual(int(matched.group(1)), len(ports), out)
        # Per-regex hits: "|   N) [hits] regex" (N from 1); AuthTimeout has none here.
        hits = {int(n): int(h) for n, h in re.findall(r"^\|\s+(\d+)\) \[(\d+)\] ", out, re.M)}
        for i, rx in enumerate(FAILREGEXES, 1):
            event = re.search(r"event=(\w+)", rx.pattern).group(1)
            want = {"AuthTimeout": 0, "InvalidPassword": 1}.get(event, 1)
            self.assertEqual(hits.get(i, 0), want, "%s: %s" % (event, out))


class TestSecurityLogLimits(SecurityLogCase):
    """authtimeout = 1 and authlimit = 2: AuthTimeout and SessionLimit at accept."""

    general = {"authtimeout": 1, "authlimit": 2}

    def test_auth_timeout(self):
        """No login within authtimeout: AuthTimeout, empty user."""
        start = self.mark()
        client = self.connect()
        port = peer_port(client)
        self.assertEqual(client.expect_closed(5), b"")
        line = self.check_event(start, "AuthTimeout", port)
        self.assertIn('user=""', line)

    @harness.timing_sensitive("two connections must stay unauthenticated within authtimeout 1 s")
    def test_session_limit_authlimit(self):
        """A connection over authlimit is closed without a banner: SessionLimit."""
        time.sleep(0.3)  # the harness' start-up probe is gone
        held = [self.connect() for _ in range(2)]
        start = self.mark()
        extra = self.connect(read_banner=False)
        port = peer_port(extra)
        self.assertEqual(extra.expect_closed(2), b"")
        line = self.check_event(start, "SessionLimit", port)
        self.assertIn('reason="authlimit reached"', line)
        for c in held:
            c.close()


class TestSecurityLogIPv6(SecurityLogCase):
    """``bindaddr = "::"``: an IPv6 peer is logged in brackets; the host is the bare address."""

    general = {"bindaddr": "::"}
    users = dict(USERS, v6acl=("pw", "all", "all", {"deny": "::/0"}))

    @classmethod
    def setUpClass(cls):
        reason = ipv6_unavailable()
        if reason:
            cls._skip_reason, cls._start_error, cls._late_deaths, cls.server = reason, None, [], None
            return
        super().setUpClass()

    def test_invalid_password_ipv6(self):
        """From ::1: ``peer=[::1]:<port>``, host ``::1``."""
        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("Username", "admin"),
                                  ("Secret", "bad"), ("ActionID", "x")], host="::1")
        self.check_event(start, "InvalidPassword", port, host="::1")

    def test_failed_acl_ipv6(self):
        """An IPv6 deny refuses the IPv6 peer: FailedACL with host ``::1``."""
        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("Username", "v6acl"),
                                  ("Secret", "pw"), ("ActionID", "x")], host="::1")
        self.check_event(start, "FailedACL", port, host="::1")

    def test_ipv4_peer_on_dual_stack(self):
        """An IPv4 client of the "::" socket is logged as plain IPv4 (not ::ffff:)."""
        start = self.mark()
        port = self.failed_login([("Action", "Login"), ("Username", "admin"),
                                  ("Secret", "bad"), ("ActionID", "x")])
        self.check_event(start, "InvalidPassword", port)

    def test_ipv6_acl_does_not_touch_ipv4_peer(self):
        """``deny = ::/0`` does not refuse the same user over IPv4."""
        client = self.connect()
        reply = client.request([("Action", "Login"), ("Username", "v6acl"), ("Secret", "pw"),
                                ("Events", "off"), ("ActionID", "ok")])
        self.assertEqual(reply.raw, success("ok", "Authentication accepted"))


if __name__ == "__main__":
    unittest.main()

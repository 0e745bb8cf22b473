"""Bad input: every abuse draws an AMI error or a clean, logged disconnect.

For every case three things are checked:

- the abusive connection gets the documented AMI error (doc/protocol.md,
  "Limits") or is closed, and the close is in the daemon's log (the exact
  line, naming the abuser's address and port);
- another, logged-in session keeps being served: a bystander thread pings
  every 20 ms during the whole case, each answer must come within PROMPT
  seconds, and one more Ping is answered afterwards;
- the daemon does not keep what the abuse cost: the case runs ROUNDS times;
  after each round the daemon's descriptors (/proc/<pid>/fd) must be back to
  what they were before, and its VmRSS (/proc/<pid>/status) is sampled.  The
  growth over the whole case must stay under RSS_TOLERANCE (glibc does not
  hand every freed page back) and the growth between the 2nd and the last
  round under RSS_REPEAT_TOLERANCE (a per-round leak shows there).

The daemons run with one I/O worker, so abuser and bystander share a thread:
an abuse that monopolised the worker would show as a slow bystander.

Under AMID_WRAPPER (valgrind) the promptness and memory bounds are not
asserted (valgrind checks leaks itself), fewer rounds run and the floods
are smaller.  Against a sanitizer build (tests/run-sanitizers) the memory
bounds are not asserted either: ASan's quarantine holds freed memory on
purpose, and LeakSanitizer checks leaks at exit.  AMID_SHOW_RSS=1 prints
every case's samples.
"""

import contextlib
import os
import re
import select
import socket
import struct
import threading
import time

from harness import HOST, PING_RE, UNDER_WRAPPER, AmidTestCase, error, scaled

LINE_TOO_LONG = "Failed to parse message: line too long"
TOO_MANY_LINES = "Too many lines in message or allocation failure"
MISSING_ACTION = "Missing action in request"
AUTH_FAILED = "Authentication failed"

KiB = 1 << 10
MiB = 1 << 20
#: The parser's limit on bytes dropped inside one bad message (AMID_MAX_GARBAGE).
MAX_GARBAGE = 1 * MiB

#: Allowed VmRSS growth over a whole case (before the first round -> after the last).
RSS_TOLERANCE = 8 * MiB
#: Allowed VmRSS growth from the end of the 2nd round to the end of the last.
RSS_REPEAT_TOLERANCE = 2 * MiB
#: Rounds per case: the first warms up the allocator, the 2nd is the reference.
ROUNDS = 2 if UNDER_WRAPPER else 4
#: Longest acceptable Ping round trip of the bystander while the abuse runs.
PROMPT = 1.0


# ---------------------------------------------------------------------------
# /proc helpers
# ---------------------------------------------------------------------------

def rss_bytes(pid):
    """VmRSS of process *pid*, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KiB
    raise AssertionError("no VmRSS in /proc/%d/status" % pid)


def fd_count(pid):
    """Number of open descriptors of process *pid*."""
    return len(os.listdir("/proc/%d/fd" % pid))


_SANITIZED = {}


def sanitized(binary):
    """True when *binary* was built with a sanitizer runtime (ASan, TSan, MSan)."""
    if binary not in _SANITIZED:
        try:
            with open(binary, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        _SANITIZED[binary] = any(marker in data for marker in
                                 (b"__asan_init", b"__tsan_init", b"__msan_init"))
    return _SANITIZED[binary]


def peer_of(sock):
    """The address the daemon logs for the client *sock* ("127.0.0.1:port")."""
    host, port = sock.getsockname()[:2]
    return "%s:%d" % (host, port)


def raw_socket(port, rcvbuf=None):
    """A connected plain socket; *rcvbuf* shrinks its receive buffer first."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(scaled(5))
    s.connect((HOST, port))
    return s


def drain_until_closed(sock, timeout):
    """Read and discard until EOF or reset; True when the peer closed in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            return False
        except ConnectionError:
            return True
    return False


def send_quietly(sock, data, errors=None):
    """sendall() that stops at the reset or broken pipe of a server-side close."""
    try:
        sock.sendall(data)
    except OSError as e:
        if errors is not None:
            errors.append(e)


def count_blocks(sock, n, timeout):
    """Read until *n* complete blocks (``\\r\\n\\r\\n``) arrived; return the bytes."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    found = 0
    scanned = 0
    while found < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("only %d of %d replies within %.0f s" % (found, n, timeout))
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError("server closed after %d of %d replies" % (found, n))
        buf += chunk
        start = max(0, scanned - 3)
        found += buf.count(b"\r\n\r\n", start) - buf.count(b"\r\n\r\n", start, scanned)
        scanned = len(buf)
    return bytes(buf)


def ping_block(action_id):
    """The request bytes of a Ping with *action_id*."""
    return b"Action: Ping\r\nActionID: " + action_id + b"\r\n\r\n"


# ---------------------------------------------------------------------------
# The bystander
# ---------------------------------------------------------------------------

class Bystander(threading.Thread):
    """A logged-in session pinging every 20 ms from its own thread."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.rtts = []
        self.failure = None
        self.stopping = threading.Event()
        self.answered = threading.Condition()

    def run(self):
        n = 0
        try:
            while not self.stopping.is_set():
                action_id = "by%d" % n
                t0 = time.monotonic()
                reply = self.client.request([("Action", "Ping"), ("ActionID", action_id)])
                rtt = time.monotonic() - t0
                if not PING_RE.match(reply.raw) or reply.get("ActionID") != action_id:
                    raise AssertionError("bad Ping reply %r" % reply.raw)
                with self.answered:
                    self.rtts.append(rtt)
                    self.answered.notify_all()
                n += 1
                self.stopping.wait(0.02)
        except Exception as e:  # reported by the test thread
            self.failure = e
            with self.answered:
                self.answered.notify_all()

    def wait_answers(self, count, timeout):
        """Block until *count* Pings were answered in all (or the thread failed)."""
        with self.answered:
            self.answered.wait_for(lambda: len(self.rtts) >= count or self.failure is not None,
                                   timeout)
        return len(self.rtts) >= count


# ---------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------

class BadInputCase(AmidTestCase):
    """Helpers: the bystander, rounds with memory and descriptor checks, log lines."""

    general = {"workers": 1}

    def setUp(self):
        super().setUp()
        self.pid = self.server.proc.pid

    # -- log ------------------------------------------------------------------

    def log_mark(self):
        """Position in the log from which the next expect_log() searches."""
        return len(self.server.log_text())

    def expect_log(self, pattern, mark, timeout=5.0):
        """Assert the log gets a line matching *pattern* (regex) after *mark*."""
        return self.server.wait_for_log(pattern, timeout=timeout, start=mark)

    # -- clients --------------------------------------------------------------

    def victim(self, username="admin"):
        """A logged-in client with events off (closed after the test if left open)."""
        return self.logged_in(username, events="off")

    # -- bystander -----------------------------------------------------------

    @contextlib.contextmanager
    def served_meanwhile(self):
        """Run the body while a logged-in bystander pings; assert it was served.

        At least one Ping is answered before the body starts and one after it
        ends (so the answers span the body); none may take PROMPT seconds or
        more (not asserted under a wrapper).  A last Ping from this thread
        closes the check.
        """
        client = self.victim()
        by = Bystander(client)
        by.start()
        self.assertTrue(by.wait_answers(1, scaled(5)), "bystander got no first Ping answer: %s"
                        % by.failure)
        try:
            yield by
            during = len(by.rtts)
            self.assertTrue(by.wait_answers(during + 1, scaled(5)),
                            "bystander not served after the abuse: %s" % by.failure)
        finally:
            by.stopping.set()
            by.join(scaled(10))
        self.assertIsNone(by.failure, "bystander session failed during the abuse: %s"
                          % by.failure)
        self.assertFalse(by.is_alive(), "bystander thread stuck")
        if not UNDER_WRAPPER:
            slowest = max(by.rtts)
            self.assertLess(slowest, PROMPT, "bystander Ping took %.3f s during the abuse "
                                             "(%d Pings, median %.4f s)"
                            % (slowest, len(by.rtts), sorted(by.rtts)[len(by.rtts) // 2]))
        self.assertPingWorks(client, "after-abuse")

    # -- rounds -----------------------------------------------------------------

    def settle_fds(self, baseline, what):
        """Wait until the daemon holds at most *baseline* descriptors again."""
        deadline = time.monotonic() + scaled(5)
        while True:
            now = fd_count(self.pid)
            if now <= baseline:
                return now
            if time.monotonic() > deadline:
                self.fail("%s: the daemon holds %d descriptors, %d before (%s)"
                          % (what, now, baseline, sorted(os.listdir("/proc/%d/fd" % self.pid))))
            time.sleep(0.02)

    def rounds(self, abuse, rounds=ROUNDS):
        """Call abuse(i) for i in range(rounds) with a bystander; check fds and memory."""
        with self.served_meanwhile():
            fds = fd_count(self.pid)
            before = rss_bytes(self.pid)
            samples = []
            for i in range(rounds):
                abuse(i)
                self.settle_fds(fds, "after round %d" % (i + 1))
                samples.append(rss_bytes(self.pid))
        self.check_memory(before, samples)
        return samples

    def check_memory(self, before, samples):
        """RSS after the last round within RSS_TOLERANCE of *before* and
        within RSS_REPEAT_TOLERANCE of the 2nd round."""
        if UNDER_WRAPPER or sanitized(self.server.binary):
            return  # valgrind / LeakSanitizer judge leaks; ASan keeps freed memory
        report = "VmRSS before %d KiB, after each round %s KiB" % (
            before // KiB, [s // KiB for s in samples])
        if os.environ.get("AMID_SHOW_RSS"):
            print("# %s: %s" % (self.id(), report), flush=True)
        self.assertLessEqual(samples[-1] - before, RSS_TOLERANCE,
                             "memory not back near the baseline: " + report)
        if len(samples) >= 3:
            self.assertLessEqual(samples[-1] - samples[1], RSS_REPEAT_TOLERANCE,
                                 "memory grows with every round: " + report)


# ---------------------------------------------------------------------------
# Cases answered with an error (or, past the limit, a disconnect)
# ---------------------------------------------------------------------------

class TestBadInput(BadInputCase):
    """Malformed and oversized requests on one worker.

    ``writetimeout`` 2 s and ``queuelimit`` 16 MiB let the half-open case
    queue a lot of output for a client that reads late.
    """

    general = {"workers": 1, "writetimeout": 2000, "queuelimit": 16 * MiB}

    def test_1mb_line_without_newline(self):
        """1,000,000 bytes without a newline (under the 1 MiB drop limit): the
        connection stays; once the message ends it gets ``line too long``,
        the log names the peer, and the session goes on."""
        def abuse(i):
            victim = self.victim()
            peer = peer_of(victim.sock)
            mark = self.log_mark()
            action_id = b"big%d" % i
            victim.sock.sendall(b"Action: Ping\r\nActionID: " + action_id + b"\r\nX-Long: "
                                + b"L" * 1000000)
            self.assertEqual(victim.pending(0.1), b"", "reply before the message ended")
            victim.sock.sendall(b"\r\n\r\n")
            self.assertEqual(victim.read_message().raw, error(action_id, LINE_TOO_LONG))
            self.expect_log(r"WARNING amid: Discarding message from %s: %s"
                            % (re.escape(peer), LINE_TOO_LONG), mark)
            self.assertPingWorks(victim, "still%d" % i)
            victim.close()
        self.rounds(abuse)

    def test_endless_line_disconnects(self):
        """More than 1 MiB without a newline, logged in or not: disconnected,
        ``SECURITY event=RequestBadFormat`` logged with the peer."""
        def abuse(i):
            logged_in = i % 2 == 0
            victim = self.victim() if logged_in else self.connect()
            peer = peer_of(victim.sock)
            mark = self.log_mark()
            flood = threading.Thread(target=send_quietly, daemon=True,
                                     args=(victim.sock, b"G" * (MAX_GARBAGE + 256 * KiB)))
            flood.start()
            self.assertNotIn(b"Pong", victim.expect_closed(10))
            flood.join(scaled(10))
            self.assertFalse(flood.is_alive(), "flood still blocked after the close")
            self.expect_log(r'SECURITY event=RequestBadFormat user="%s" peer=%s '
                            r'reason="unparseable input flood"'
                            % ("admin" if logged_in else "", re.escape(peer)), mark)
            self.expect_log(r"Disconnecting %s: over %d bytes of unparseable input"
                            % (re.escape(peer), MAX_GARBAGE), mark)
            victim.close()
        self.rounds(abuse)

    def test_100000_headers(self):
        """100,000 short headers in one message (0.6 MB): ``Too many lines``,
        logged; the session goes on."""
        body = b"A: b\r\n" * 100000

        def abuse(i):
            victim = self.victim()
            peer = peer_of(victim.sock)
            mark = self.log_mark()
            action_id = b"h%d" % i
            victim.sock.sendall(b"Action: Ping\r\nActionID: " + action_id + b"\r\n" + body
                                + b"\r\n")
            self.assertEqual(victim.read_message().raw, error(action_id, TOO_MANY_LINES))
            self.expect_log(r"Discarding message from %s: %s" % (re.escape(peer), TOO_MANY_LINES),
                            mark)
            self.assertPingWorks(victim, "still%d" % i)
            victim.close()
        self.rounds(abuse)

    def test_100000_long_headers_disconnect(self):
        """100,000 headers of 25 bytes (2.5 MB): past 1 MiB of dropped lines
        the client is disconnected and ``RequestBadFormat`` logged."""
        body = b"".join(b"X-Header-%06d: value\r\n" % n for n in range(100000))

        def abuse(i):
            victim = self.victim()
            peer = peer_of(victim.sock)
            mark = self.log_mark()
            flood = threading.Thread(target=send_quietly, daemon=True,
                                     args=(victim.sock, b"Action: Ping\r\n" + body + b"\r\n"))
            flood.start()
            self.assertEqual(victim.expect_closed(10), b"")
            flood.join(scaled(10))
            self.expect_log(r'SECURITY event=RequestBadFormat user="admin" peer=%s '
                            % re.escape(peer), mark)
            victim.close()
        self.rounds(abuse)

    def test_nul_bytes(self):
        """A NUL truncates its line (doc/protocol.md): each message gets the
        reply its truncated lines call for; a NUL in a Login's Username makes
        it a different (unknown) user."""
        requests = [
            (b"Action: Ping\x00junk\r\nActionID: n1\r\n\r\n", "ping", b"n1"),
            (b"Action: Ping\r\nActionID: n2\x00hidden\r\n\r\n", "ping", b"n2"),
            (b"Action\x00: Ping\r\nActionID: n3\r\n\r\n", error("n3", MISSING_ACTION), None),
            (b"\x00\x00\x00\r\n\r\n", error(None, MISSING_ACTION), None),
            (b"\x00" * 5000 + b"\r\nAction: Ping\r\nActionID: n5\r\n\r\n", "ping", b"n5"),
            (b"Action: Ping\r\nActionID: n6\r\nX: " + b"\x00" * 20000 + b"\r\n\r\n",
             error("n6", LINE_TOO_LONG), None),
        ]

        def abuse(i):
            victim = self.victim()
            victim.sock.sendall(b"".join(r[0] for r in requests))
            for request, expected, action_id in requests:
                reply = victim.read_message()
                if expected == "ping":
                    self.assertRegex(reply.raw, PING_RE, request[:60])
                    self.assertTrue(reply.raw.startswith(b"Response: Success\r\nActionID: "
                                                         + action_id + b"\r\n"), reply.raw)
                else:
                    self.assertEqual(reply.raw, expected, request[:60])
            self.assertPingWorks(victim, "still%d" % i)
            victim.close()

            # Before login: "adm\0in" is the user "adm", which does not exist.
            client = self.connect()
            peer = peer_of(client.sock)
            mark = self.log_mark()
            client.send(b"Action: Login\r\nUsername: adm\x00in\r\nSecret: amp111\r\n"
                        b"ActionID: nl\r\n\r\n")
            self.assertEqual(client.read_message().raw, error("nl", AUTH_FAILED))
            self.assertEqual(client.expect_closed(2), b"")
            self.expect_log(r'SECURITY event=InvalidAccountID user="adm" peer=%s '
                            r'reason="unknown user"' % re.escape(peer), mark)
            client.close()
        self.rounds(abuse)

    def test_invalid_utf8(self):
        """Invalid UTF-8 (stray continuation, overlong, surrogate, > U+10FFFF)
        in an action name, an ActionID, a header name and a Login: bytes are
        echoed unchanged, the failed login is logged and closed."""
        junk = b"\xff\xfe\xc3\x28\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\x80"

        def abuse(i):
            victim = self.victim()
            reply = victim.request(b"Action: " + junk + b"\r\nActionID: u1\r\n\r\n")
            self.assertEqual(reply.raw, b"Response: Error\r\nActionID: u1\r\n"
                                        b"Message: Invalid/unknown command: " + junk
                             + b". Use Action: ListCommands to show available commands.\r\n\r\n")
            reply = victim.request(b"Action: Ping\r\nActionID: " + junk + b"\r\n\r\n")
            self.assertRegex(reply.raw, PING_RE)
            self.assertTrue(reply.raw.startswith(b"Response: Success\r\nActionID: " + junk
                                                 + b"\r\n"), reply.raw)
            reply = victim.request(junk + b": x\r\nAction: Ping\r\nActionID: u3\r\n\r\n")
            self.assertRegex(reply.raw, PING_RE)
            victim.close()

            client = self.connect()
            peer = peer_of(client.sock)
            mark = self.log_mark()
            client.send(b"Action: Login\r\nUsername: " + junk + b"\r\nSecret: " + junk
                        + b"\r\nActionID: ul\r\n\r\n")
            self.assertEqual(client.read_message().raw, error("ul", AUTH_FAILED))
            self.assertEqual(client.expect_closed(2), b"")
            self.expect_log(r'SECURITY event=InvalidAccountID user="[^"\n]*" peer=%s '
                            r'reason="unknown user"' % re.escape(peer), mark)
            client.close()
        self.rounds(abuse)

    def test_header_without_colon(self):
        """Lines without a colon are kept but never match: a colon-less
        ``Action`` line means no action; other lines do not disturb."""
        requests = [
            (b"Action: Ping\r\nNoColonHere\r\nActionID: c1\r\n\r\n", "ping"),
            (b"Action Ping\r\nActionID: c2\r\n\r\n", error("c2", MISSING_ACTION)),
            (b"Action : Ping\r\nActionID: c3\r\n\r\n", error("c3", MISSING_ACTION)),
            (b"JustText\r\n\r\n", error(None, MISSING_ACTION)),
            (b"ActionID c5\r\nAction: Ping\r\n\r\n", "ping"),
            (b"x\r\n" * 127 + b"Action: Ping\r\n\r\n", "ping"),
        ]

        def abuse(i):
            client = self.connect()
            reply = client.request(b"Action Login\r\nUsername admin\r\nSecret amp111\r\n"
                                   b"ActionID: cl\r\n\r\n")
            self.assertEqual(reply.raw, error("cl", MISSING_ACTION))
            client.close()

            victim = self.victim()
            victim.sock.sendall(b"".join(r[0] for r in requests))
            for request, expected in requests:
                reply = victim.read_message()
                if expected == "ping":
                    self.assertRegex(reply.raw, PING_RE, request[:60])
                else:
                    self.assertEqual(reply.raw, expected, request[:60])
            self.assertPingWorks(victim, "still%d" % i)
            victim.close()
        self.rounds(abuse)

    def test_empty_action(self):
        """``Action:`` empty or blank: ``Missing action`` (before login too,
        not ``Permission denied``); an empty one before a real one is skipped."""
        requests = [
            (b"Action:\r\nActionID: e1\r\n\r\n", error("e1", MISSING_ACTION)),
            (b"Action: \r\nActionID: e2\r\n\r\n", error("e2", MISSING_ACTION)),
            (b"Action:\t \t\r\nActionID: e3\r\n\r\n", error("e3", MISSING_ACTION)),
            (b"Action:\r\nAction: Ping\r\nActionID: e4\r\n\r\n", "ping"),
            (b"Action:\r\n\r\n", error(None, MISSING_ACTION)),
        ]

        def abuse(i):
            client = self.connect()
            reply = client.request(b"Action:\r\nActionID: e0\r\n\r\n")
            self.assertEqual(reply.raw, error("e0", MISSING_ACTION))
            client.close()

            victim = self.victim()
            victim.sock.sendall(b"".join(r[0] for r in requests) * 20)
            for request, expected in requests * 20:
                reply = victim.read_message()
                if expected == "ping":
                    self.assertRegex(reply.raw, PING_RE, request)
                else:
                    self.assertEqual(reply.raw, expected, request)
            victim.close()
        self.rounds(abuse)

    def test_10000_actions_in_one_write(self):
        """10,000 requests in one write (Pings, every 10th an unknown action):
        all answered, in order, while the bystander is served."""
        n = 10000
        batch = []
        expected_ids = []
        for k in range(n):
            action_id = b"q%d" % k
            action = b"NoSuchAction" if k % 10 == 9 else b"Ping"
            batch.append(b"Action: " + action + b"\r\nActionID: " + action_id + b"\r\n\r\n")
            expected_ids.append(action_id)
        batch = b"".join(batch)

        def abuse(i):
            victim = self.victim()
            sender = threading.Thread(target=victim.sock.sendall, args=(batch,), daemon=True)
            sender.start()
            data = count_blocks(victim.sock, n, scaled(20))
            sender.join(scaled(10))
            blocks = data.split(b"\r\n\r\n")
            self.assertEqual(blocks[-1], b"", "extra bytes after the last reply")
            blocks = blocks[:-1]
            self.assertEqual(len(blocks), n)
            for k, block in enumerate(blocks):
                if not block.startswith(b"Response: " + (b"Error" if k % 10 == 9 else b"Success")
                                        + b"\r\nActionID: " + expected_ids[k] + b"\r\n"):
                    self.fail("reply %d out of order or wrong: %r" % (k, block))
            self.assertPingWorks(victim, "still%d" % i)
            victim.close()
        self.rounds(abuse, rounds=ROUNDS if not UNDER_WRAPPER else 1)

    def test_half_open(self):
        """The client shuts down its write side after its requests: every
        reply still arrives, then the server closes and logs it.  Logged in,
        not logged in, and 50,000 Pings read late through a small window (the
        output outlives the input by far)."""
        def abuse(i):
            client = self.victim()
            peer = peer_of(client.sock)
            mark = self.log_mark()
            client.send([("Action", "Ping"), ("ActionID", "ho%d" % i)])
            client.sock.shutdown(socket.SHUT_WR)
            reply = client.read_message()
            self.assertRegex(reply.raw, PING_RE)
            self.assertEqual(reply.get("ActionID"), "ho%d" % i)
            self.assertEqual(client.expect_closed(3), b"")
            self.expect_log(r"Manager 'admin' logged off from %s" % re.escape(peer), mark)
            client.close()

            client = self.connect()
            peer = peer_of(client.sock)
            mark = self.log_mark()
            client.send([("Action", "Ping"), ("ActionID", "pd%d" % i)])
            client.sock.shutdown(socket.SHUT_WR)
            self.assertEqual(client.read_message().raw, error("pd%d" % i, "Permission denied"))
            self.assertEqual(client.expect_closed(3), b"")
            self.expect_log(r"Connect attempt from '%s' unable to authenticate"
                            % re.escape(peer), mark)
            client.close()

            n = 50000 if not UNDER_WRAPPER else 2000
            sock = raw_socket(self.server.port, rcvbuf=8192)
            try:
                sock.sendall(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n"
                             b"Events: off\r\n\r\n"
                             + b"".join(ping_block(b"w%d" % k) for k in range(n)))
                sock.shutdown(socket.SHUT_WR)
                time.sleep(0.5)  # let the output pile up (writetimeout is 2 s)
                data = count_blocks(sock, n + 1, scaled(20))
                self.assertTrue(drain_until_closed(sock, scaled(3)),
                                "server did not close after the replies")
            finally:
                sock.close()
            self.assertEqual(data.count(b"Ping: Pong"), n)
            self.assertRegex(data[-200:], rb"ActionID: w%d\r\nPing: Pong\r\nTimestamp: [0-9.]+"
                                          rb"\r\n\r\n\Z" % (n - 1))
        self.rounds(abuse)

    def test_long_credentials(self):
        """64 KB Username or Secret: ``line too long``, nothing run, the
        connection stays and can still log in.  8000 bytes (within the line
        limit): a plain failure, logged and closed.  An 8000-byte MD5 Key too."""
        big = b"u" * (64 * KiB)
        long_user = "U" * 8000

        def abuse(i):
            for header in (b"Username: " + big + b"\r\nSecret: amp111",
                           b"Username: admin\r\nSecret: " + big):
                client = self.connect()
                peer = peer_of(client.sock)
                mark = self.log_mark()
                reply = client.request(b"Action: Login\r\n" + header + b"\r\nActionID: big\r\n\r\n")
                self.assertEqual(reply.raw, error("big", LINE_TOO_LONG))
                self.expect_log(r"Discarding message from %s: %s" % (re.escape(peer),
                                                                     LINE_TOO_LONG), mark)
                self.login(client, events="off")
                self.assertPingWorks(client, "in%d" % i)
                client.close()

            failures = [
                ([("Action", "Login"), ("Username", long_user), ("Secret", "x")],
                 "InvalidAccountID", long_user, "unknown user"),
                ([("Action", "Login"), ("Username", "admin"), ("Secret", "S" * 8000)],
                 "InvalidPassword", "admin", "wrong secret"),
                ([("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                  ("Key", "k" * 8000)],
                 "ChallengeResponseFailed", "admin", "wrong MD5 key"),
            ]
            for headers, event, user, reason in failures:
                client = self.connect()
                peer = peer_of(client.sock)
                mark = self.log_mark()
                if event == "ChallengeResponseFailed":
                    reply = client.request([("Action", "Challenge"), ("AuthType", "MD5")])
                    self.assertEqual(reply.response, "Success", reply.raw)
                client.send(headers + [("ActionID", "lf")])
                self.assertEqual(client.read_message(3).raw, error("lf", AUTH_FAILED), event)
                self.assertEqual(client.expect_closed(2), b"", event)
                self.expect_log(r'SECURITY event=%s user="%s" peer=%s reason="%s"'
                                % (event, user, re.escape(peer), reason), mark)
                client.close()
        self.rounds(abuse)

    def test_username_cannot_forge_log_fields(self):
        """A Username holding quotes, a backslash or a CR cannot add fields or
        lines to the log: the SECURITY line keeps one user="..." without a
        quote inside, then the client's real peer (what fail2ban reads)."""
        evil = b'x" peer=6.6.6.6:1 reason="\\\rSECURITY event=SuccessfulAuth user="y'
        client = self.connect()
        peer = peer_of(client.sock)
        mark = self.log_mark()
        client.send(b"Action: Login\r\nUsername: " + evil + b"\r\nSecret: s\r\nActionID: ev\r\n\r\n")
        self.assertEqual(client.read_message().raw, error("ev", AUTH_FAILED))
        self.assertEqual(client.expect_closed(2), b"")
        self.expect_log(r"SECURITY event=InvalidAccountID ", mark)
        text = self.server.log_text()[mark:]
        self.assertFalse("\r" in text, "a CR from the username reached the log: %r" % text)
        security = [line for line in text.split("\n")
                    if re.match(r"\S+ \S+ NOTICE amid: SECURITY event=", line)]
        self.assertEqual(len(security), 1, "expected one SECURITY line: %r" % security)
        self.assertRegex(security[0], r'SECURITY event=InvalidAccountID user="[^"]*" peer=%s '
                                      r'reason="unknown user"\Z' % re.escape(peer))
        self.assertPingWorks(self.victim())


# ---------------------------------------------------------------------------
# Slowloris: authtimeout 2
# ---------------------------------------------------------------------------

class TestSlowloris(BadInputCase):
    """A Login trickling in one byte per 0.2 s never beats ``authtimeout`` (2 s)."""

    general = {"workers": 1, "authtimeout": 2}

    CLIENTS = 5

    def test_slowloris_before_login(self):
        """Five connections each send a byte every 0.2 s: all are closed about
        2 s after connecting, with ``AuthTimeout`` logged for each."""
        payload = b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nActionID: slow\r\n\r\n"

        def abuse(i):
            mark = self.log_mark()
            socks = [raw_socket(self.server.port) for _ in range(self.CLIENTS)]
            start = time.monotonic()
            for s in socks:  # the banner first, so the loop below only sees closes
                banner = b""
                while not banner.endswith(b"\n"):
                    chunk = s.recv(256)
                    self.assertTrue(chunk, "closed before the banner")
                    banner += chunk
            peers = {s: peer_of(s) for s in socks}
            closed = {}
            sent = 0
            try:
                while len(closed) < len(socks) and time.monotonic() - start < scaled(6):
                    open_socks = [s for s in socks if s not in closed]
                    readable, _, _ = select.select(open_socks, [], [], 0.2)
                    for s in readable:
                        try:
                            data = s.recv(4096)
                        except ConnectionError:
                            data = b""
                        if not data:
                            closed[s] = time.monotonic() - start
                        else:
                            self.assertNotIn(b"Response", data, "a reply to a partial Login")
                    for s in open_socks:
                        if s not in closed and sent < len(payload) - 1:
                            send_quietly(s, payload[sent:sent + 1])
                    sent += 1
            finally:
                for s in socks:
                    s.close()
            self.assertEqual(len(closed), len(socks), "%d of %d slow connections still open "
                                                      "after %.0f s" % (len(socks) - len(closed),
                                                                        len(socks), scaled(6)))
            self.assertLess(sent, len(payload) - 1, "the whole Login went out before the timeout")
            if not UNDER_WRAPPER:
                for s, when in closed.items():
                    self.assertGreaterEqual(when, 1.5, "closed after %.2f s, before authtimeout"
                                            % when)
                    self.assertLess(when, 3.5, "closed after %.2f s, authtimeout is 2 s" % when)
            for peer in peers.values():
                self.expect_log(r'SECURITY event=AuthTimeout user="" peer=%s '
                                r'reason="no login before authtimeout"' % re.escape(peer), mark)
                self.expect_log(r"Client from %s, failed to authenticate in 2 seconds"
                                % re.escape(peer), mark)
        self.rounds(abuse, rounds=3 if not UNDER_WRAPPER else 1)


# ---------------------------------------------------------------------------
# Connect-and-close flood
# ---------------------------------------------------------------------------

class TestConnectFlood(BadInputCase):
    """10,000 connections opened and dropped by four threads."""

    general = {}  # default worker count: the flood spreads over all of them

    TOTAL = 10000 if not UNDER_WRAPPER else 1000
    THREADS = 4

    def flood(self, count):
        """Open and drop *count* connections from THREADS threads; return
        (connections made, errors)."""
        made = []
        errors = []

        def one_thread(k, n):
            done = 0
            for j in range(n):
                try:
                    s = socket.create_connection((HOST, self.server.port), timeout=scaled(5))
                except OSError as e:
                    errors.append(e)
                    continue
                try:
                    mode = (k + j) % 3
                    if mode == 1:  # reset instead of FIN
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    elif mode == 2:  # wait for the banner (or the authlimit close)
                        try:
                            s.recv(256)
                        except OSError:
                            pass
                finally:
                    s.close()
                done += 1
            made.append(done)

        threads = [threading.Thread(target=one_thread, args=(k, count // self.THREADS),
                                    daemon=True) for k in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        self.assertFalse(any(t.is_alive() for t in threads), "flood threads stuck")
        return sum(made), errors

    def test_connect_and_close_flood(self):
        """Every connection is closed and logged, the descriptors come back,
        a fresh login works, and authlimit (50) is not used up afterwards."""
        per_round = self.TOTAL // ROUNDS
        total = [0]

        def abuse(i):
            mark = self.log_mark()
            made, errors = self.flood(per_round)
            self.assertEqual(errors, [], "connect errors: %r" % errors[:5])
            total[0] += made
            # Each connection is either refused at the limit (SessionLimit)
            # or becomes a session that closes unauthenticated: one line each.
            pattern = re.compile(r"Connect attempt from '127\.0\.0\.1:\d+' unable to authenticate"
                                 r"|SECURITY event=SessionLimit ")
            deadline = time.monotonic() + scaled(5)
            while True:
                logged = len(pattern.findall(self.server.log_text(), mark))
                if logged >= made or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(logged, made, "log lines for %d dropped connections" % made)
        self.rounds(abuse)
        self.assertEqual(total[0], per_round * ROUNDS)

        client = self.connect()
        self.login(client, events="off")
        self.assertPingWorks(client)
        # The unauthenticated-session count went back to zero: 50 at once fit.
        waiting = [self.connect() for _ in range(50)]
        for c in waiting:
            self.assertTrue(c.banner.startswith(b"Asterisk Call Manager/"), c.banner)
        for c in waiting:
            c.close()


# ---------------------------------------------------------------------------
# Clients that do not read
# ---------------------------------------------------------------------------

class TestNeverReads(BadInputCase):
    """``queuelimit`` 64 KiB: a client that does not read is dropped."""

    general = {"workers": 1, "queuelimit": 65536}

    #: Log lines of the two ways out: the queue limit or writetimeout.
    DROPPED = (r"(SECURITY event=QueueOverflow user=\"admin\" peer=%(peer)s "
               r"reason=\"client stopped reading\""
               r"|Session admin from %(peer)s did not read for \d+ ms \(writetimeout\))")

    def test_pipelined_requests_never_read(self):
        """20,000 Pings (1.4 MB of replies) from a client with a 4 KiB receive
        buffer that never reads: disconnected and logged."""
        batch = b"".join(ping_block(b"n%d" % k) for k in range(20000))

        def abuse(i):
            sock = raw_socket(self.server.port, rcvbuf=4096)
            try:
                peer = peer_of(sock)
                mark = self.log_mark()
                sock.sendall(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n"
                             b"Events: off\r\n\r\n")
                sender = threading.Thread(target=send_quietly, args=(sock, batch), daemon=True)
                sender.start()
                self.expect_log(self.DROPPED % {"peer": re.escape(peer)}, mark)
                sender.join(scaled(10))
                self.assertFalse(sender.is_alive(), "sender still blocked after the drop")
                self.assertTrue(drain_until_closed(sock, scaled(5)), "connection still open")
            finally:
                sock.close()
        self.rounds(abuse)

    def test_events_never_read(self):
        """A listener that never reads gets 2 KB UserEvents until it is
        dropped (logged); the sender's every request is answered promptly."""
        payload = "p" * 2000

        def abuse(i):
            sock = raw_socket(self.server.port, rcvbuf=4096)
            try:
                peer = peer_of(sock)
                mark = self.log_mark()
                sock.sendall(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n"
                             b"Events: user\r\n\r\n")
                sender = self.victim()
                pattern = re.compile(self.DROPPED % {"peer": re.escape(peer)})
                slowest = 0.0
                for k in range(3000):
                    t0 = time.monotonic()
                    reply = sender.request([("Action", "UserEvent"), ("UserEvent", "Flood"),
                                            ("Payload", payload), ("ActionID", "ev%d" % k)])
                    slowest = max(slowest, time.monotonic() - t0)
                    self.assertEqual(reply.response, "Success", reply.raw)
                    if k % 50 == 49 and pattern.search(self.server.log_text(), mark):
                        break
                self.expect_log(pattern.pattern, mark, timeout=1)
                if not UNDER_WRAPPER:
                    self.assertLess(slowest, PROMPT, "UserEvent sender waited %.3f s" % slowest)
                self.assertTrue(drain_until_closed(sock, scaled(5)), "listener still connected")
                self.assertPingWorks(sender, "sender%d" % i)
                sender.close()
            finally:
                sock.close()
        self.rounds(abuse)

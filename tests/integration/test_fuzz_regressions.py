"""Replay of fuzzer inputs against the real daemon over TCP.

Every input that once crashed or hung a libFuzzer harness (``make fuzz``) is
kept in tests/fuzz/regressions/ (its README.md gives the naming) and sent raw
to a fresh connection:

- ``parser-*``: an input of fuzz_parser, whose first byte chose the read size
  (byte + 1): the rest is sent in writes of that size;
- ``session-*`` (and any other name): an input of fuzz_session, sent as it
  is.

Then, as fuzz_session does, the write side is shut down and the replies are
drained until the server closes the connection or goes quiet.  After each
input the daemon must still run and a logged-in session on another
connection must get its Ping answered.  When the directory holds no inputs
the seed corpus (tests/fuzz/corpus/) is replayed the same way, so the test
always checks something.
"""

import os
import socket
import time

from harness import HOST, REPO, AmidTestCase, scaled

FUZZ_DIR = os.path.join(REPO, "tests", "fuzz")
REGRESSIONS = os.path.join(FUZZ_DIR, "regressions")
CORPUS = os.path.join(FUZZ_DIR, "corpus")


def inputs_in(directory):
    """Sorted paths of the input files of *directory* (no dot files, no *.md)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names
            if not n.startswith(".") and not n.endswith(".md")
            and os.path.isfile(os.path.join(directory, n))]


def writes_for(name, data):
    """The writes that replay input *name* with bytes *data*."""
    if name.startswith("parser-"):
        if not data:
            return []
        chunk = data[0] + 1
        body = data[1:]
        return [body[i:i + chunk] for i in range(0, len(body), chunk)]
    return [data]


class TestFuzzRegressions(AmidTestCase):
    """Fuzzer finds (or the seed corpus) sent to the daemon one by one."""

    general = {"workers": 1}

    def replay(self, path):
        """Send one input on a fresh connection; return what the server answered."""
        name = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
        sock = socket.create_connection((HOST, self.server.port), timeout=scaled(5))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        received = bytearray()
        try:
            try:
                for chunk in writes_for(name, data):
                    sock.sendall(chunk)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may close first (a failed login, a flood)
            quiet = scaled(0.5)
            deadline = time.monotonic() + scaled(10)
            while time.monotonic() < deadline:
                sock.settimeout(quiet)
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break  # quiet: e.g. a WaitEvent without timeout
                except ConnectionError:
                    break
                if not chunk:
                    break
                received += chunk
        finally:
            sock.close()
        return bytes(received)

    def test_replay(self):
        """Each regression input (or, with none, each seed) leaves the daemon
        running and another session served."""
        inputs = inputs_in(REGRESSIONS)
        source = "tests/fuzz/regressions"
        if not inputs:
            inputs = inputs_in(CORPUS)
            source = "tests/fuzz/corpus (no regression inputs yet)"
        if not inputs:
            self.skipTest("no fuzz inputs found under %s (not in a source tree?)" % FUZZ_DIR)
        bystander = self.logged_in(events="off")
        for path in inputs:
            name = os.path.basename(path)
            with self.subTest(input=name, source=source):
                answer = self.replay(path)
                self.assertTrue(self.server.alive(), "amid died on %s/%s; log:\n%s"
                                % (source, name, self.server.log_tail()))
                self.assertTrue(answer == b"" or answer.startswith(b"Asterisk Call Manager/"),
                                "%s: the first bytes are not the banner: %r" % (name, answer[:80]))
                self.assertPingWorks(bystander, "after-%s" % name)

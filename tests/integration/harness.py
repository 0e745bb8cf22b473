"""Test harness for amid's integration tests: the real daemon over TCP sockets.

Standard library only.  The pieces:

- :class:`AmidServer` writes a libconfig file into a temporary directory,
  starts ``amid -f -c CONFIG -m MODULEDIR`` with stderr captured to a log
  file, waits until the port accepts connections and sends its banner, and
  stops the daemon with SIGTERM (recording the exit status).
- :class:`AmiClient` is a small, strict AMI client: every read has a
  deadline, replies are returned as :class:`Message` objects holding the
  exact bytes of one block plus the parsed header lines.
- :class:`AmidTestCase` is the base class of the test classes: one daemon
  per class (configured through the ``general`` class attribute), helpers for
  connecting and logging in, and a check after every test that the daemon is
  still alive.

Locations (environment variables override):

- ``AMID_BIN``: the daemon; default ``<repo>/amid``, else ``<repo>/core/amid``.
- ``AMID_MODULE_DIR``: the modules; default ``<repo>/modules/.libs``.
- ``AMID_TEST_MODULE_DIR``: the deliberately broken test modules built by
  ``make check`` (or ``make test-modules``); default
  ``<repo>/tests/modules/.libs``.  A class with ``test_modules = True`` runs
  its daemon on a temporary directory of symlinks to the modules of both.
- ``AMID_KEEP_TMP=1`` keeps the temporary directories (config and log).
- ``AMID_WRAPPER``: a command prefixed to the daemon's, split like a shell
  would, e.g. ``valgrind --error-exitcode=99 --leak-check=full`` (``make
  check-valgrind``).  Under a wrapper every deadline of the harness is
  multiplied by ``AMID_TIMEOUT_SCALE`` (default 10 with a wrapper, else 1),
  and tests decorated with :func:`timing_sensitive` skip themselves.
"""

import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

HOST = "127.0.0.1"

#: Command prefixed to the daemon's (AMID_WRAPPER), e.g. valgrind; [] for none.
WRAPPER = shlex.split(os.environ.get("AMID_WRAPPER", ""))
#: True when the daemon runs under a wrapper (everything is much slower).
UNDER_WRAPPER = bool(WRAPPER)
#: Factor applied to every deadline: valgrind slows amid down ~20x.
TIMEOUT_SCALE = float(os.environ.get("AMID_TIMEOUT_SCALE") or (10 if UNDER_WRAPPER else 1))


def scaled(seconds):
    """*seconds* stretched by TIMEOUT_SCALE (a deadline, never a bound to assert)."""
    return seconds * TIMEOUT_SCALE


def timing_sensitive(reason):
    """Decorator: skip the test (or class) under AMID_WRAPPER, printing *reason*.

    For tests that assert an upper bound on time (a delay, a prompt reply),
    which a 20x slower daemon cannot meet.
    """
    return unittest.skipIf(UNDER_WRAPPER, "timing-sensitive, skipped under AMID_WRAPPER (%s): %s"
                           % (" ".join(WRAPPER[:1]), reason))


#: A complete log line written by valgrind (the usual AMID_WRAPPER).
_WRAPPER_LINE = re.compile(r"(?m)^==\d+==[^\n]*\n")

#: Default deadline of a single read, in seconds.
DEFAULT_TIMEOUT = scaled(5.0)
#: How long the daemon has to start accepting and send its banner.
START_TIMEOUT = scaled(10.0)
#: How long the daemon has to exit after SIGTERM.
STOP_TIMEOUT = scaled(5.0)

#: The users of every test configuration: username -> (secret, read, write).
#: ``None`` means the key is omitted from the config (Asterisk default: none).
#: A class's ``users`` may add a 4th item: more user keys, rendered in order
#: (a dict or ``(key, value)`` pairs; a list value becomes a libconfig array).
USERS = {
    "admin": ("amp111", "all", "all"),
    "limited": ("lim", "system,user", "user"),
    "noread": ("nr", None, "all"),
}

#: The default [general] settings of a test daemon.  ``authfaildelay`` is
#: lowered to keep the suite fast; the tests that measure the delay use a
#: class with the default.
DEFAULT_GENERAL = {
    "enabled": True,
    "bindaddr": HOST,
    "ami_version": "1.1",
    "authtimeout": 30,
    "authlimit": 50,
    "timestampevents": False,
    "displayconnects": True,
    "authfaildelay": 100,
}

#: The modules a test daemon loads at start-up.
DEFAULT_MODULES = ["mod_core.so", "mod_modules.so"]

# Every server started and not yet stopped, so an interrupted run can still
# kill its own daemons (see kill_leftover_servers()).
_RUNNING = []


def find_binary():
    """Return the path of the amid executable, or None when it is not built."""
    env = os.environ.get("AMID_BIN")
    if env:
        return env if os.access(env, os.X_OK) else None
    for candidate in (os.path.join(REPO, "amid"), os.path.join(REPO, "core", "amid")):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def module_dir():
    """Return the directory the test daemons load modules from."""
    return os.environ.get("AMID_MODULE_DIR") or os.path.join(REPO, "modules", ".libs")


def test_module_dir():
    """Return the directory holding the built test modules (tests/modules)."""
    return (os.environ.get("AMID_TEST_MODULE_DIR")
            or os.path.join(REPO, "tests", "modules", ".libs"))


def missing_test_modules(names):
    """The module names of *names* (without ``.so``) not built in test_module_dir()."""
    return [n for n in names if not os.path.isfile(os.path.join(test_module_dir(), n + ".so"))]


def make_module_dir(dest):
    """Create *dest* holding symlinks to every ``.so`` of module_dir() and test_module_dir().

    One directory then holds the real modules and the test modules, as the
    loader wants.  Returns *dest*.
    """
    os.makedirs(dest, exist_ok=True)
    for src_dir in (module_dir(), test_module_dir()):
        try:
            entries = sorted(os.listdir(src_dir))
        except OSError:
            continue
        for entry in entries:
            link = os.path.join(dest, entry)
            if entry.endswith(".so") and not os.path.lexists(link):
                os.symlink(os.path.join(os.path.abspath(src_dir), entry), link)
    return dest


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def md5_key(challenge, secret):
    """The Login ``Key`` for an MD5 challenge: lowercase hex MD5(challenge + secret)."""
    return hashlib.md5((challenge + secret).encode("latin-1")).hexdigest()


def build_message(headers):
    """Encode one AMI request.

    *headers* is a dict, a list of ``(name, value)`` pairs (a value of None
    writes the name alone, as a colon-less line), or ready-made bytes/str
    which are sent unchanged.  Dicts and lists get CRLF line ends and the
    terminating blank line.
    """
    if isinstance(headers, bytes):
        return headers
    if isinstance(headers, str):
        return headers.encode("latin-1")
    items = headers.items() if isinstance(headers, dict) else headers
    out = bytearray()
    for name, value in items:
        if value is None:
            line = name
        else:
            line = "%s: %s" % (name, value)
        out += line.encode("latin-1") if isinstance(line, str) else line
        out += b"\r\n"
    out += b"\r\n"
    return bytes(out)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

def _cfg_value(value):
    """Render a Python value as a libconfig scalar, array or list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, (list, tuple)):
        return "[ %s ]" % ", ".join(_cfg_value(v) for v in value)
    raise TypeError("cannot render %r in libconfig" % (value,))


def render_config(general, modules_dir, users=USERS, load=DEFAULT_MODULES, modules=None):
    """Return the text of an amid.conf (libconfig) for a test daemon.

    *modules* adds or overrides settings of the ``modules`` section
    (``preload``, ``require``, ``noload``, ``autoload``).
    """
    lines = ["# generated by tests/integration/harness.py", "general = {"]
    for key, value in general.items():
        lines.append("  %s = %s;" % (key, _cfg_value(value)))
    section = {"directory": modules_dir, "autoload": False, "load": list(load), "noload": []}
    section.update(modules or {})
    lines += ["};", "modules = {"]
    lines += ["  %s = %s;" % (key, _cfg_value(value)) for key, value in section.items()]
    lines += ["};", "users = ("]
    entries = []
    for name, spec in users.items():
        secret, read, write = spec[:3]
        fields = ["username = %s;" % _cfg_value(name)]
        if secret is not None:
            fields.append("secret = %s;" % _cfg_value(secret))
        if read is not None:
            fields.append("read = %s;" % _cfg_value(read))
        if write is not None:
            fields.append("write = %s;" % _cfg_value(write))
        # Optional 4th item: more keys, in order (dict or (key, value) pairs).
        extra = spec[3] if len(spec) > 3 else ()
        for key, value in (extra.items() if isinstance(extra, dict) else extra):
            fields.append("%s = %s;" % (key, _cfg_value(value)))
        entries.append("  { %s }" % " ".join(fields))
    lines.append(",\n".join(entries))
    lines.append(");")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# The daemon
# ---------------------------------------------------------------------------

class AmidServer:
    """One amid process with its own temporary config, port and log file."""

    def __init__(self, general=None, users=USERS, load=DEFAULT_MODULES, modules=None,
                 test_modules=False, env=None, foreground=True, extra_config=""):
        self.binary = find_binary()
        self.modules_dir = module_dir()
        self.general = dict(DEFAULT_GENERAL)
        self.general.update(general or {})
        self.users = users
        self.load = load
        #: Extra settings of the config's ``modules`` section.
        self.modules = dict(modules or {})
        #: Load from a temporary directory holding the test modules too.
        self.test_modules = test_modules
        #: Extra environment variables of the daemon (added to the test's own),
        #: e.g. NOTIFY_SOCKET; a value of None removes that variable.
        self.env = dict(env or {})
        #: Start with -f (log lines on stderr); False leaves -f out, as the
        #: systemd unit does.
        self.foreground = foreground
        #: Raw libconfig text appended to the configuration (e.g. ``acls``).
        self.extra_config = extra_config
        self.port = None
        self.proc = None
        self.tmpdir = None
        self.log_path = None
        self.config_path = None
        self.returncode = None

    # -- life cycle ---------------------------------------------------------

    def start(self, port=None):
        """Write the config, start the daemon and wait for its banner.

        The daemon listens on *port*, or on a fresh free port when None.

        Raises RuntimeError (with the tail of the daemon's log) when it exits
        or does not answer within START_TIMEOUT.
        """
        self.launch(port)
        self._wait_ready()

    def launch(self, port=None):
        """Write the config and start the daemon without waiting for it."""
        if self.binary is None:
            raise RuntimeError("amid binary not found")
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="amid-it-")
        if self.test_modules:
            self.modules_dir = make_module_dir(os.path.join(self.tmpdir, "modules"))
        self.port = port or free_port()
        self.general["port"] = self.port
        # The CLI's control socket (amictl) lives with the config, never
        # in /run/amid, where a real daemon's may be.
        self.general.setdefault("controlsocket", os.path.join(self.tmpdir, "amid.ctl"))
        self.config_path = os.path.join(self.tmpdir, "amid.conf")
        with open(self.config_path, "w") as f:
            f.write(render_config(self.general, self.modules_dir, self.users, self.load,
                                  self.modules))
            f.write(self.extra_config)
        self.log_path = os.path.join(self.tmpdir, "amid.log")
        log = open(self.log_path, "ab")
        env = None
        if self.env:
            env = dict(os.environ)
            for key, value in self.env.items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = value
        try:
            self.proc = subprocess.Popen(
                WRAPPER + [self.binary] + (["-f"] if self.foreground else [])
                + ["-c", self.config_path, "-m", self.modules_dir],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.tmpdir, env=env)
        finally:
            log.close()
        self.returncode = None
        _RUNNING.append(self)

    def _wait_ready(self):
        """Poll until a connection is accepted and the banner line arrives."""
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no connection attempt made"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("amid exited with status %s during start-up; log:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection((HOST, self.port), timeout=1.0) as s:
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    data = b""
                    while b"\n" not in data:
                        chunk = s.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"Asterisk Call Manager/"):
                        return
                    last_error = "unexpected greeting %r" % data
            except OSError as e:
                last_error = str(e)
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("amid did not send its banner on port %d within %.0f s (%s); log:\n%s"
                           % (self.port, START_TIMEOUT, last_error, self.log_tail()))

    def alive(self):
        """True while the daemon process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM the daemon and wait for it; return its exit status.

        Returns None (after SIGKILL) when it did not exit within *timeout*.
        A negative status means it died from that signal.
        """
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.returncode = None
                self.proc = None
                return None
        self.returncode = self.proc.returncode
        self.proc = None
        if self in _RUNNING:
            _RUNNING.remove(self)
        return self.returncode

    def kill(self):
        """SIGKILL the daemon (only this process) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _RUNNING:
            _RUNNING.remove(self)

    def cleanup(self):
        """Remove the temporary directory unless AMID_KEEP_TMP is set."""
        if self.tmpdir and not os.environ.get("AMID_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def log_text(self):
        """The daemon's whole log so far, as text ('' when there is none).

        Under a wrapper its own complete lines (valgrind's ``==PID== ...``)
        are left out, so tests see only amid's; log_tail() shows them all.
        """
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        return _WRAPPER_LINE.sub("", text) if UNDER_WRAPPER else text

    def wait_for_log(self, pattern, timeout=5.0, start=0):
        """Wait until the log (from character *start* on) matches regex *pattern*.

        Returns the match; raises AssertionError with the log's tail at the
        deadline.
        """
        regex = re.compile(pattern)
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.log_text(), start)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("no log line matching %r within %.1f s; log:\n%s"
                                     % (pattern, timeout, self.log_tail()))
            time.sleep(0.02)

    def log_tail(self, lines=25):
        """The last *lines* lines of the daemon's log, for failure messages.

        Under a wrapper the wrapper's error reports come first (valgrind's
        ``==PID==`` records before its summary), then the tail.
        """
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return "(no log)"
        all_lines = text.splitlines()
        shown = all_lines[-lines:]
        if UNDER_WRAPPER:
            reports = [l for l in all_lines[:-lines] if _WRAPPER_LINE.match(l + "\n")
                       and "== Memcheck," not in l]
            if any(re.search(r"== (Invalid|Conditional|Use of|Syscall|Mismatched|\d+ bytes in)", l)
                   for l in reports):
                shown = reports[-150:] + ["(...)"] + shown
        return "\n".join("    | " + l for l in shown) or "    | (empty)"

    def describe_exit(self, status):
        """Human wording of an exit status."""
        if status is None:
            return "did not exit within %.0f s of SIGTERM (killed)" % STOP_TIMEOUT
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = "signal %d" % -status
            return "died from %s" % name
        return "exited with status %d" % status

    # -- clients ------------------------------------------------------------

    def connect(self, **kwargs):
        """Open an :class:`AmiClient` to this daemon (banner read by default)."""
        return AmiClient(self.port, **kwargs)


def kill_leftover_servers():
    """SIGKILL every daemon this process started and did not stop."""
    for server in list(_RUNNING):
        server.kill()


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------

class AmiTimeout(AssertionError):
    """A read did not complete before its deadline."""


class AmiClosed(AssertionError):
    """The server closed the connection while a message was expected."""


class Message:
    """One AMI block as received.

    ``raw`` holds the exact bytes including the terminating blank line;
    ``headers`` the lines as ``(name, value)`` pairs (``value`` is None for a
    line without a colon), decoded as latin-1 so every byte survives.  Values
    drop the one space the server puts after the colon and nothing else.
    """

    def __init__(self, raw):
        self.raw = raw
        body = raw[:-4] if raw.endswith(b"\r\n\r\n") else raw
        self.lines = body.decode("latin-1").split("\r\n") if body else []
        self.headers = []
        for line in self.lines:
            name, colon, value = line.partition(":")
            if not colon:
                self.headers.append((line, None))
                continue
            if value.startswith(" "):
                value = value[1:]
            self.headers.append((name, value))

    def get(self, name, default=None):
        """Value of the first header called *name* (case-insensitive)."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname and value is not None:
                return value
        return default

    def getall(self, name):
        """Every value of headers called *name*, in order."""
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname and v is not None]

    @property
    def response(self):
        """The ``Response`` value, or None for an event."""
        if self.headers and self.headers[0][0] == "Response":
            return self.headers[0][1]
        return None

    @property
    def event(self):
        """The ``Event`` value, or None for a response."""
        if self.headers and self.headers[0][0] == "Event":
            return self.headers[0][1]
        return None

    def __repr__(self):
        return "Message(%r)" % (self.raw,)


class AmiClient:
    """A blocking AMI TCP client in which every read has a deadline."""

    def __init__(self, port, host=HOST, timeout=DEFAULT_TIMEOUT, read_banner=True, source=None):
        self.timeout = timeout
        # source: a local address (e.g. "127.0.0.2") to connect from.
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed_by_peer = False
        #: Events passed over by read_response() / wait_event(), in order.
        self.skipped = []
        self.banner = self.read_line() if read_banner else None

    # -- low level ----------------------------------------------------------

    def _deadline(self, timeout):
        """Absolute deadline for a read: *timeout* (scaled) or the client's default."""
        return time.monotonic() + (self.timeout if timeout is None else scaled(timeout))

    def _recv(self, deadline):
        """Receive more bytes into the buffer before *deadline*.

        Raises AmiTimeout when the deadline passes and AmiClosed on EOF or a
        connection reset.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AmiTimeout("no complete data within the deadline; buffered %r" % self.buf[:400])
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AmiTimeout("no complete data within the deadline; buffered %r" % self.buf[:400])
        except ConnectionError:
            chunk = b""
        if not chunk:
            self.closed_by_peer = True
            raise AmiClosed("server closed the connection; buffered %r" % self.buf[:400])
        self.buf += chunk

    def read_line(self, timeout=None):
        """Return the next line (up to and including LF) as bytes."""
        deadline = self._deadline(timeout)
        while b"\n" not in self.buf:
            self._recv(deadline)
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_message(self, timeout=None):
        """Return the next block (up to and including ``\\r\\n\\r\\n``) as a Message."""
        deadline = self._deadline(timeout)
        while True:
            idx = self.buf.find(b"\r\n\r\n")
            if idx >= 0:
                raw, self.buf = self.buf[:idx + 4], self.buf[idx + 4:]
                return Message(raw)
            self._recv(deadline)

    def read_until(self, predicate, timeout=None):
        """Read blocks until *predicate(msg)* is true.

        Returns ``(msg, passed_over)`` where *passed_over* lists the blocks
        read before it.
        """
        deadline = self._deadline(timeout)
        passed = []
        while True:
            left = max(0.0, deadline - time.monotonic()) or 0.001
            msg = self.read_message(left / TIMEOUT_SCALE)  # already scaled
            if predicate(msg):
                return msg, passed
            passed.append(msg)

    def read_response(self, timeout=None):
        """Return the next ``Response:`` block, passing over events (kept in ``skipped``)."""
        msg, passed = self.read_until(lambda m: m.response is not None, timeout)
        self.skipped.extend(passed)
        return msg

    def wait_event(self, name, timeout=None):
        """Return the next event called *name*; other events go to ``skipped``.

        A Response block arriving first is an error (it would be lost).
        """
        def match(m):
            if m.response is not None:
                raise AssertionError("expected Event: %s, got a response: %r" % (name, m.raw))
            return m.event == name
        msg, passed = self.read_until(match, timeout)
        self.skipped.extend(passed)
        return msg

    def pending(self, wait=0.3):
        """Return whatever bytes arrive within *wait* seconds (b'' if none)."""
        deadline = time.monotonic() + wait
        try:
            while True:
                self._recv(deadline)
        except AmiTimeout:
            pass
        except AmiClosed:
            pass
        data, self.buf = self.buf, b""
        return data

    def expect_closed(self, timeout=None):
        """Wait for the server to close the connection; return bytes received meanwhile.

        Raises AssertionError when the connection is still open at the deadline.
        """
        started = time.monotonic()
        deadline = self._deadline(timeout)
        try:
            while True:
                self._recv(deadline)
        except AmiClosed:
            data, self.buf = self.buf, b""
            return data
        except AmiTimeout:
            raise AssertionError("connection still open after %.1f s; received %r"
                                 % (deadline - started, self.buf[:400]))

    # -- requests -----------------------------------------------------------

    def send(self, headers):
        """Send one request (see :func:`build_message`) in a single write."""
        self.sock.settimeout(self.timeout)
        self.sock.sendall(build_message(headers))

    def request(self, headers, timeout=None):
        """Send a request and return its response (events passed over)."""
        self.send(headers)
        return self.read_response(timeout)

    def ping(self, action_id="barrier", timeout=None):
        """Send a Ping and return everything up to its response.

        Returns ``(response, blocks_before)``: a barrier that shows which
        events were queued for this session before the Ping was handled.
        """
        self.send([("Action", "Ping"), ("ActionID", action_id)])
        return self.read_until(lambda m: m.response is not None and m.get("ActionID") == action_id,
                               timeout)

    def close(self):
        """Close the socket (idempotent)."""
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Expected wire strings (ami-wire-behaviour.md sections 2-4)
# ---------------------------------------------------------------------------

def aid(action_id):
    """The ``ActionID:`` line for *action_id*, or b'' when it is empty/None."""
    if not action_id:
        return b""
    if isinstance(action_id, str):
        action_id = action_id.encode("latin-1")
    return b"ActionID: " + action_id + b"\r\n"


def success(action_id, message):
    """``Response: Success`` [ActionID] ``Message: <message>`` block."""
    return b"Response: Success\r\n" + aid(action_id) + b"Message: " + message.encode() + b"\r\n\r\n"


def error(action_id, message):
    """``Response: Error`` [ActionID] ``Message: <message>`` block."""
    return b"Response: Error\r\n" + aid(action_id) + b"Message: " + message.encode() + b"\r\n\r\n"


def unknown_command(action_id, action):
    """The reply to an unregistered action."""
    return error(action_id, "Invalid/unknown command: %s. Use Action: ListCommands to show "
                            "available commands." % action)


def goodbye(action_id):
    """The reply to Logoff."""
    return (b"Response: Goodbye\r\n" + aid(action_id)
            + b"Message: Thanks for all the fish.\r\n\r\n")


PING_RE = re.compile(rb"\AResponse: Success\r\n(ActionID: [^\r\n]*\r\n)?Ping: Pong\r\n"
                     rb"Timestamp: (\d+)\.(\d{6})\r\n\r\n\Z")


# ---------------------------------------------------------------------------
# Base test case
# ---------------------------------------------------------------------------

class AmidTestCase(unittest.TestCase):
    """Base class: one daemon per test class, configured by ``general``.

    When the binary is missing every test is skipped; when the daemon does
    not start every test fails with the reason.  After each test the daemon
    must still be running (a crash fails the test that caused it, and the
    daemon is restarted for the next test); at the end of the class it must
    exit with status 0 within 5 s of SIGTERM.
    """

    #: [general] overrides for this class's daemon.
    general = {}
    #: The users of this class's daemon.
    users = USERS
    #: The modules this class's daemon loads at start-up.
    load = DEFAULT_MODULES
    #: Extra settings of the ``modules`` section (preload, require, noload).
    modules = {}
    #: Run on a module directory that holds the test modules as well.
    test_modules = False
    #: Raw libconfig text appended to the configuration.
    extra_config = ""
    #: Extra environment of this class's daemon (None removes a variable).
    daemon_env = {}

    server = None
    _skip_reason = None
    _start_error = None
    _late_deaths = []

    @classmethod
    def setUpClass(cls):
        cls._skip_reason = None
        cls._start_error = None
        cls._late_deaths = []
        cls.server = None
        if find_binary() is None:
            cls._skip_reason = ("amid binary not built (looked for AMID_BIN, %s/amid, %s/core/amid)"
                                % (REPO, REPO))
            return
        cls.server = AmidServer(general=cls.general, users=cls.users, load=cls.load,
                                modules=cls.modules, test_modules=cls.test_modules,
                                extra_config=cls.extra_config, env=cls.daemon_env)
        try:
            cls.server.start()
        except RuntimeError as e:
            cls._start_error = str(e)

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        if server is None:
            return
        late = list(cls._late_deaths)
        if server.proc is None:
            server.cleanup()
            status = 0
            tail = ""
        else:
            status = server.stop()
            tail = server.log_tail()
            server.cleanup()
        if late:
            raise AssertionError("amid died between tests of this class (%s); log:\n%s"
                                 % ("; ".join(late), tail))
        if status != 0:
            raise AssertionError("clean shutdown: amid %s after SIGTERM (expected exit 0 within "
                                 "%.0f s); log:\n%s" % (server.describe_exit(status), STOP_TIMEOUT,
                                                        tail))

    def setUp(self):
        if self._skip_reason:
            raise unittest.SkipTest(self._skip_reason)
        if self._start_error:
            self.fail("daemon did not start: %s" % self._start_error)
        if not self.server.alive():
            if self.server.proc is not None:
                # It died after the previous test's check: report it at class end.
                type(self)._late_deaths.append(self.server.describe_exit(self.server.proc.returncode))
                self.server.kill()
                self.server.proc = None
            # Stopped by a test, or crashed (and that test failed): start afresh.
            self.server.start()
        self._clients = []
        self.addTypeEqualityFunc(bytes, self._assert_bytes_equal)

    def _assert_bytes_equal(self, first, second, msg=None):
        """Byte comparison whose failure shows both values in full (wire bytes matter)."""
        if first != second:
            self.fail(self._formatMessage(msg, "got %r, expected %r" % (first, second)))

    def tearDown(self):
        clients = getattr(self, "_clients", [])
        for client in clients:
            client.close()
        if self.server is None or self.server.proc is None:
            return
        if any(c.closed_by_peer for c in clients):
            # A crash shows up as EOF on the clients slightly before the process is
            # reapable: give it a moment so the death is blamed on this test.
            try:
                self.server.proc.wait(0.1)
            except subprocess.TimeoutExpired:
                pass
        if not self.server.alive():
            status = self.server.proc.returncode
            tail = self.server.log_tail()
            self.server.kill()
            self.server.proc = None
            raise AssertionError("amid %s during this test; log:\n%s"
                                 % (self.server.describe_exit(status), tail))

    # -- helpers ------------------------------------------------------------

    def connect(self, **kwargs):
        """Open a client (closed automatically after the test)."""
        client = self.server.connect(**kwargs)
        self._clients.append(client)
        return client

    def login(self, client, username="admin", secret=None, events=None, action_id=None,
              fully_booted=None):
        """Log *client* in (plain) and assert success.

        Returns the Success response.  When the session is expected to get
        FullyBooted (its user reads ``system`` and *events* does not narrow
        the mask) that event is read too, so the next read is clean; pass
        *fully_booted* to override the guess.
        """
        if secret is None:
            secret = USERS[username][0]
        headers = [("Action", "Login"), ("Username", username), ("Secret", secret)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        if events is not None:
            headers.append(("Events", events))
        reply = client.request(headers)
        self.assertEqual(reply.raw, success(action_id, "Authentication accepted"),
                         "login as %s failed" % username)
        if fully_booted is None:
            read = USERS.get(username, (None, None, None))[1] or ""
            fully_booted = (("system" in read.split(",") or read == "all")
                            and (events is None or events.lower() in ("", "on", "yes", "true",
                                                                      "system", "all")))
        if fully_booted:
            client.wait_event("FullyBooted")
        return reply

    def logged_in(self, username="admin", events=None):
        """Connect and log in; return the client."""
        client = self.connect()
        self.login(client, username, events=events)
        return client

    def assertNoEvent(self, client, name, action_id="barrier"):
        """Assert no event *name* was queued for *client* before a Ping barrier."""
        reply, before = client.ping(action_id)
        self.assertRegex(reply.raw, PING_RE)
        names = [m.event for m in before + client.skipped]
        client.skipped = []
        self.assertNotIn(name, names, "unexpected %s event: %r"
                         % (name, [m.raw for m in before if m.event == name]))

    def assertPingWorks(self, client, action_id="alive"):
        """Assert a Ping on *client* is answered with the right shape."""
        reply = client.request([("Action", "Ping"), ("ActionID", action_id)])
        self.assertRegex(reply.raw, PING_RE)
        self.assertEqual(reply.get("ActionID"), action_id)

#!/usr/bin/python3
"""Drive an installed amid that has mod_example.so in its modules directory.

Used by tests/sdk/test_out_of_tree.sh; standard library only.

    oot_session.py HOST PORT LOGFILE TICK_SECONDS

Logs in as admin/amp111, checks that mod_example is not loaded, loads it
with ModuleLoad, calls ExampleEcho and ExampleCount, waits for ExampleTick
events, unloads it and checks that its actions and events are gone; then
loads and unloads it a second time.  Prints one 'PASS name' / 'FAIL name:
why' / 'SKIP name: why' line per check; exit status 0 unless a check failed.
"""

import re
import socket
import sys
import time

HOST, PORT, LOGFILE, TICK = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

results = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def report(kind, name, why=""):
    results[kind] += 1
    print("%s %s%s" % (kind, name, ": " + why if why else ""), flush=True)


def check(name, cond, why=""):
    report("PASS" if cond else "FAIL", name, "" if cond else why)
    return cond


class Block:
    """One AMI block: its raw text and its header lines in order."""

    def __init__(self, text):
        self.text = text
        self.lines = [l for l in text.split("\r\n") if l]
        self.pairs = []
        for line in self.lines:
            key, sep, value = line.partition(":")
            if sep:
                self.pairs.append((key.strip(), value.lstrip(" ")))

    def get(self, key, default=None):
        for k, v in self.pairs:
            if k.lower() == key.lower():
                return v
        return default

    def __repr__(self):
        return repr(self.text)


class Client:
    """A minimal AMI client: every read has a deadline."""

    def __init__(self, timeout=5.0):
        self.sock = socket.create_connection((HOST, PORT), timeout=timeout)
        self.buf = b""
        self.banner = self._read_until(b"\r\n", timeout).decode("latin-1")
        self.events = []  # events read while waiting for responses
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _read_until(self, sep, timeout):
        deadline = time.monotonic() + timeout
        while sep not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r within %.1fs (have %r)" % (sep, timeout, self.buf[:200]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionError("connection closed (have %r)" % self.buf[:200])
            self.buf += chunk
        head, _, self.buf = self.buf.partition(sep)
        return head

    def read_block(self, timeout=5.0):
        return Block(self._read_until(b"\r\n\r\n", timeout).decode("latin-1") + "\r\n")

    def send(self, headers):
        out = "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        self.sock.sendall(out.encode("latin-1"))

    def action(self, name, *headers, timeout=5.0):
        """Send an action with a fresh ActionID; return its response block."""
        self.seq += 1
        aid = "oot-%d" % self.seq
        self.send([("Action", name), ("ActionID", aid)] + list(headers))
        deadline = time.monotonic() + timeout
        while True:
            block = self.read_block(max(0.01, deadline - time.monotonic()))
            if block.get("Response") is not None and block.get("ActionID") == aid:
                return block
            if block.get("Event") is not None:
                self.events.append(block)

    def wait_event(self, name, timeout):
        """Return the first event called @name (queued or new), or None."""
        for i, ev in enumerate(self.events):
            if ev.get("Event") == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                block = self.read_block(left)
            except TimeoutError:
                return None
            if block.get("Event") == name:
                return block

    def drain(self, seconds):
        """Read events for @seconds; return every one read."""
        got = list(self.events)
        self.events = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                got.append(self.read_block(left))
            except TimeoutError:
                return got

    def login(self):
        return self.action("Login", ("Username", "admin"), ("Secret", "amp111"))


def commands(client):
    """The action names ListCommands reports, mapped to their whole line."""
    block = client.action("ListCommands")
    found = {}
    for line in block.lines:
        m = re.match(r"^([A-Za-z0-9_]+): (.*)$", line)
        if m and m.group(1) not in ("Response", "ActionID"):
            found[m.group(1)] = m.group(2)
    return found


def load_cycle(a, round_no):
    """Load mod_example with ModuleLoad; return True when it loaded."""
    suffix = "" if round_no == 1 else " (again)"
    r = a.action("ModuleLoad", ("LoadType", "load"), ("Module", "mod_example"))
    return check("ModuleLoad load mod_example" + suffix,
                 r.get("Response") == "Success" and r.get("Message") == "Module loaded.",
                 repr(r))


def unload_cycle(a, round_no):
    suffix = "" if round_no == 1 else " (again)"
    r = a.action("ModuleLoad", ("LoadType", "unload"), ("Module", "mod_example"))
    ok = check("ModuleLoad unload mod_example" + suffix,
               r.get("Response") == "Success" and r.get("Message") == "Module unloaded.",
               repr(r))
    cmds = commands(a)
    check("ExampleEcho and ExampleCount gone from ListCommands" + suffix,
          "ExampleEcho" not in cmds and "ExampleCount" not in cmds
          and "ModuleLoad" in cmds, repr(sorted(cmds)))
    return ok


def main():
    a = Client()
    check("banner", a.banner.startswith("Asterisk Call Manager/"), repr(a.banner))
    r = a.login()
    if not check("login admin", r.get("Response") == "Success", repr(r)):
        return

    cmds = commands(a)
    check("mod_core and mod_modules loaded at start",
          "Ping" in cmds and "ModuleLoad" in cmds, repr(sorted(cmds)))
    check("mod_example not loaded at start",
          "ExampleEcho" not in cmds and "ExampleCount" not in cmds, repr(sorted(cmds)))
    r = a.action("ModuleCheck", ("Module", "mod_example"))
    check("ModuleCheck before load answers Error", r.get("Response") == "Error", repr(r))

    if not load_cycle(a, 1):
        return
    r = a.action("ModuleCheck", ("Module", "mod_example"))
    check("ModuleCheck reports Version: 1.0",
          r.get("Response") == "Success" and r.get("Version") == "1.0", repr(r))

    cmds = commands(a)
    check("ListCommands shows ExampleEcho with synopsis and privilege",
          cmds.get("ExampleEcho", "").startswith("Echo the Text header back.")
          and "(Priv: user,all)" in cmds.get("ExampleEcho", ""), repr(cmds.get("ExampleEcho")))
    check("ListCommands shows ExampleCount",
          cmds.get("ExampleCount", "").startswith("Count this session's calls.")
          and "(Priv: <none>)" in cmds.get("ExampleCount", ""), repr(cmds.get("ExampleCount")))

    # ExampleEcho
    r = a.action("ExampleEcho", ("Text", "hello, world"), ("Variable", "a=1,b=two"),
                 ("Variable", "c=3"))
    check("ExampleEcho echoes Text",
          r.get("Response") == "Success" and r.get("Echo") == "hello, world", repr(r))
    check("ExampleEcho echoes Variable items",
          (r.get("Variable-a"), r.get("Variable-b"), r.get("Variable-c")) == ("1", "two", "3"),
          repr(r))
    check("ExampleEcho reply keeps the ActionID right after Response",
          len(r.lines) >= 2 and r.lines[1].startswith("ActionID: oot-"), repr(r))
    r = a.action("ExampleEcho")
    check("ExampleEcho without Text answers Error",
          r.get("Response") == "Error" and r.get("Message") == "Missing Text header", repr(r))

    # ExampleCount: per session
    counts = [a.action("ExampleCount").get("Count") for _ in range(3)]
    check("ExampleCount counts 1, 2, 3 in one session", counts == ["1", "2", "3"], repr(counts))
    b = Client()
    b.login()
    rb = b.action("ExampleCount")
    check("ExampleCount starts at 1 in another session", rb.get("Count") == "1", repr(rb))
    b.close()  # its counter datastore is destroyed with the session
    r = a.action("ExampleCount")
    check("first session's counter is unaffected", r.get("Count") == "4", repr(r))

    # ExampleTick
    ev1 = a.wait_event("ExampleTick", TICK * 3 + 2)
    if check("ExampleTick event received", ev1 is not None, "none within %ds" % (TICK * 3 + 2)):
        check("ExampleTick has Privilege: user,all",
              ev1.get("Privilege") == "user,all", repr(ev1))
        ev2 = a.wait_event("ExampleTick", TICK * 3 + 2)
        ok = ev2 is not None and ev1.get("Count", "").isdigit() and ev2.get("Count", "").isdigit()
        check("ExampleTick Count increases",
              ok and int(ev2.get("Count")) == int(ev1.get("Count")) + 1, "%r then %r" % (ev1, ev2))

    # Unload, then everything is gone
    if not unload_cycle(a, 1):
        return
    r = a.action("ExampleEcho", ("Text", "x"))
    check("ExampleEcho after unload answers Error", r.get("Response") == "Error", repr(r))
    r = a.action("ModuleCheck", ("Module", "mod_example"))
    check("ModuleCheck after unload answers Error", r.get("Response") == "Error", repr(r))
    # A tick raised just before the unload may still be in flight.
    late = [e for e in a.drain(0.5) if e.get("Event") == "ExampleTick"]
    ticks = [e for e in a.drain(TICK * 2 + 1) if e.get("Event") == "ExampleTick"]
    check("no ExampleTick after unload", not ticks, "%d late, then %r" % (len(late), ticks))

    # A second load/unload cycle of the same file.
    if load_cycle(a, 2):
        r = a.action("ExampleCount")
        check("ExampleCount restarts at 1 after reload of the module",
              r.get("Count") == "1", repr(r))
        ev = a.wait_event("ExampleTick", TICK * 3 + 2)
        check("ExampleTick counter restarts at 1",
              ev is not None and ev.get("Count") == "1", repr(ev))
        unload_cycle(a, 2)

    r = a.action("Logoff")
    check("Logoff", r.get("Response") == "Goodbye", repr(r))
    a.close()

    # The daemon's log: our unload removed the timer itself.
    try:
        with open(LOGFILE, encoding="utf-8", errors="replace") as f:
            log = f.read()
    except OSError as e:
        report("FAIL", "daemon log readable", str(e))
        return
    check("log: mod_example loaded and unloaded",
          log.count("Loaded module mod_example") == 2 and log.count("Unloaded module mod_example") == 2,
          "log does not show two loads and two unloads")
    check("log: no timer left behind by mod_example",
          "mod_example left a timer" not in log, "the core had to remove a timer")
    bad = [l for l in log.splitlines() if "CRITICAL" in l or "ERROR" in l]
    check("log: no critical messages", not bad, repr(bad[:3]))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a protocol error ends the session: one failure
        report("FAIL", "session", "%s: %s" % (type(e).__name__, e))
    sys.exit(1 if results["FAIL"] else 0)

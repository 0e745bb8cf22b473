#!/usr/bin/python3
"""Tests of tools/amid-import-manager-conf (manager.conf → amid.conf).

Usage::

    tests/tools/test_import.py [-v] [--update] [-k PATTERN]

Each directory under tests/tools/cases/ is a case: ``manager.conf`` (and the
files it includes), optional ``args`` (extra options, shell-split) and the
golden files

- ``expected.conf``: the converted amid.conf (stdout),
- ``expected.report``: the report (stderr), compared line by line,
- ``expected.status``: the exit status when it is not 0.

The tool runs inside the case directory.  A converted file must also pass
``amid -t -c FILE`` with no warning.  Then a few command-line checks, and a
live check: the converted FreePBX-like case runs in amid (port and bindaddr
edited after conversion) and its users get exactly their permissions.

``--update`` rewrites the golden files from the current output (review the
diff before committing).  Prints ``PASS name``, ``FAIL name: reason`` or
``SKIP name: reason`` per check, and ends with ``N passed, N failed,
N skipped``; exits 1 when anything failed.

Environment: ``AMID_BIN`` (default ``<repo>/amid``), ``AMID_MODULE_DIR``
(default ``<repo>/modules/.libs``), ``AMID_KEEP_TMP=1`` keeps temporary
directories.
"""

import argparse
import difflib
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(REPO, "tools", "amid-import-manager-conf")
CASES = os.path.join(HERE, "cases")
AMID = os.environ.get("AMID_BIN") or os.path.join(REPO, "amid")
MODULE_DIR = os.environ.get("AMID_MODULE_DIR") or os.path.join(REPO, "modules", ".libs")
KEEP = os.environ.get("AMID_KEEP_TMP") == "1"


class Results:
    def __init__(self, verbose, pattern):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose
        self.pattern = pattern

    def wanted(self, name):
        return not self.pattern or any(p in name for p in self.pattern)

    def ok(self, name):
        self.passed += 1
        print("PASS %s" % name, flush=True)

    def fail(self, name, reason, detail=None):
        self.failed += 1
        print("FAIL %s: %s" % (name, reason), flush=True)
        if detail:
            lines = detail.rstrip("\n").split("\n")
            if not self.verbose and len(lines) > 40:
                lines = lines[:40] + ["... (%d more lines, -v shows all)" % (len(lines) - 40)]
            for line in lines:
                print("    " + line)

    def skip(self, name, reason):
        self.skipped += 1
        print("SKIP %s: %s" % (name, reason), flush=True)

    def check(self, name, cond, reason, detail=None):
        if cond:
            self.ok(name)
        else:
            self.fail(name, reason, detail)
        return cond


def run_tool(args, cwd):
    p = subprocess.run([TOOL] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def diff(expected, got, a="expected", b="got"):
    return "".join(difflib.unified_diff(expected.splitlines(True),
                                        got.splitlines(True), a, b))


def read(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return default


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def amid_check(path):
    """(ok, why): amid -t -c path passes without any warning."""
    p = subprocess.run([AMID, "-t", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0:
        return False, "amid -t exited %d: %s" % (p.returncode, (err or out).strip())
    if "configuration OK" not in out:
        return False, "amid -t did not say 'configuration OK': %s" % out.strip()
    if err.strip():
        return False, "amid -t warned: %s" % err.strip()
    return True, None


# ------------------------------------------------------------------ cases

def test_cases(res, update, tmp):
    for case in sorted(os.listdir(CASES)):
        cdir = os.path.join(CASES, case)
        if not os.path.isdir(cdir) or not res.wanted(case):
            continue
        args = shlex.split(read(os.path.join(cdir, "args"), ""))
        status, out, err = run_tool(args + ["manager.conf"], cdir)
        if update:
            if status == 0:
                write(os.path.join(cdir, "expected.conf"), out)
            elif os.path.exists(os.path.join(cdir, "expected.conf")):
                os.unlink(os.path.join(cdir, "expected.conf"))
            write(os.path.join(cdir, "expected.report"), err)
            spath = os.path.join(cdir, "expected.status")
            if status:
                write(spath, "%d\n" % status)
            elif os.path.exists(spath):
                os.unlink(spath)
            print("updated %s (status %d)" % (case, status))
            continue
        want_status = int(read(os.path.join(cdir, "expected.status"), "0"))
        res.check("%s/status" % case, status == want_status,
                  "exit status %d, expected %d" % (status, want_status), err)
        want_conf = read(os.path.join(cdir, "expected.conf"))
        if want_conf is not None:
            res.check("%s/output" % case, out == want_conf,
                      "output differs from expected.conf",
                      diff(want_conf, out, "expected.conf", "output"))
        elif out:
            res.fail("%s/output" % case, "output written although the case "
                     "expects none", out)
        want_report = read(os.path.join(cdir, "expected.report"))
        if want_report is None:
            res.fail("%s/report" % case, "expected.report is missing (--update)")
        else:
            res.check("%s/report" % case, err == want_report,
                      "report differs from expected.report",
                      diff(want_report, err, "expected.report", "report"))
        if status == 0:
            name = "%s/amid -t" % case
            if not os.access(AMID, os.X_OK):
                res.skip(name, "no amid binary at %s (AMID_BIN)" % AMID)
                continue
            path = os.path.join(tmp, case + ".conf")
            write(path, out)
            ok, why = amid_check(path)
            res.check(name, ok, why)


# ------------------------------------------------------------------ command line

def test_cli(res, tmp):
    if res.wanted("cli/usage"):
        st, out, err = run_tool([], tmp)
        res.check("cli/usage", st == 2 and "usage:" in err and not out,
                  "no argument: status %d" % st, err)
    if res.wanted("cli/bad-option"):
        st, out, err = run_tool(["--no-such-option", "x.conf"], tmp)
        res.check("cli/bad-option", st == 2 and "usage:" in err,
                  "status %d" % st, err)
    if res.wanted("cli/unreadable"):
        st, out, err = run_tool([os.path.join(tmp, "missing.conf")], tmp)
        res.check("cli/unreadable", st == 1 and "cannot read" in err and not out,
                  "status %d" % st, err)
    if res.wanted("cli/directory"):
        st, out, err = run_tool([tmp], tmp)
        res.check("cli/directory", st == 1 and "error:" in err and not out,
                  "status %d" % st, err)

    freepbx = os.path.join(CASES, "freepbx")
    golden = read(os.path.join(freepbx, "expected.conf"), "")
    if res.wanted("cli/output-file"):
        out_path = os.path.join(tmp, "out", "amid.conf")
        os.makedirs(os.path.dirname(out_path))
        st, out, err = run_tool(["-o", out_path, "manager.conf"], freepbx)
        text = read(out_path)
        mode = stat.S_IMODE(os.stat(out_path).st_mode) if text is not None else None
        res.check("cli/output-file",
                  st == 0 and not out and text == golden and mode == 0o600,
                  "status %d, stdout %d bytes, file %s, mode %s"
                  % (st, len(out), "equal" if text == golden else "differs",
                     oct(mode) if mode is not None else "-"), err)
    if res.wanted("cli/no-output-on-error"):
        out_path = os.path.join(tmp, "never.conf")
        st, out, err = run_tool(["-o", out_path, "manager.conf"],
                                os.path.join(CASES, "missing-include"))
        res.check("cli/no-output-on-error", st == 1 and not os.path.exists(out_path),
                  "status %d, output %s" % (st, "written" if os.path.exists(out_path)
                                            else "absent"), err)
    if res.wanted("cli/other-cwd"):
        # Run from elsewhere: includes are found next to manager.conf; only
        # the file names in comments and in the report change.
        st, out, err = run_tool([os.path.join(freepbx, "manager.conf")], tmp)

        def body(t):
            return [x for x in t.splitlines() if not x.lstrip().startswith("#")]
        res.check("cli/other-cwd", st == 0 and body(out) == body(golden),
                  "status %d, settings differ from the golden file" % st,
                  diff("\n".join(body(golden)) + "\n", "\n".join(body(out)) + "\n"))
    if res.wanted("cli/include-dir"):
        # --include-dir: the main file elsewhere, the includes in DIR.
        d = os.path.join(tmp, "incdir")
        os.makedirs(d)
        shutil.copy(os.path.join(freepbx, "manager.conf"), d)
        st, out, err = run_tool(["--include-dir", freepbx,
                                 os.path.join(d, "manager.conf")], tmp)
        res.check("cli/include-dir", st == 0 and '"crm"' in out and '"panel"' in out,
                  "status %d, included users missing" % st, err)
    if res.wanted("cli/moduledir"):
        d = os.path.join(tmp, "etc-amid")
        os.makedirs(d)
        write(os.path.join(d, "amid.conf.sample"),
              'general = { };\nmodules = {\n  directory = "/opt/amid/lib/modules";\n'
              '  autoload = false;\n};\n')
        st, out, err = run_tool(["-o", os.path.join(d, "amid.conf"), "manager.conf"],
                                os.path.join(CASES, "minimal"))
        got = read(os.path.join(d, "amid.conf"), "")
        ok1 = st == 0 and 'directory = "/opt/amid/lib/modules";' in got
        st2, out2, err2 = run_tool(["--moduledir", "/x/y", "--ami-version", "9.0.0",
                                    "manager.conf"], os.path.join(CASES, "minimal"))
        ok2 = st2 == 0 and 'directory = "/x/y";' in out2 and 'ami_version = "9.0.0";' in out2
        res.check("cli/moduledir", ok1 and ok2,
                  "modules.directory not taken from amid.conf.sample or --moduledir",
                  err + err2)


# ------------------------------------------------------------------ live

class Ami:
    """A small AMI client: one message at a time, with deadlines."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout
        self.banner = self._line()

    def _line(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def message(self):
        headers = []
        while True:
            line = self._line()
            if line == "":
                if headers:
                    return dict((k.lower(), v) for k, _, v in
                                (h.partition(": ") for h in headers))
                continue
            headers.append(line)

    def send(self, **headers):
        text = "".join("%s: %s\r\n" % (k, v) for k, v in headers.items()) + "\r\n"
        self.sock.sendall(text.encode())

    def request(self, **headers):
        """The Response to the request, skipping events."""
        headers.setdefault("ActionID", "t%d" % id(headers))
        self.send(**headers)
        while True:
            m = self.message()
            if "response" in m and m.get("actionid") == headers["ActionID"]:
                return m

    def login(self, user, secret):
        return self.request(Action="Login", Username=user, Secret=secret)

    def events_until_ping(self):
        """Events queued before a Ping's reply."""
        self.send(Action="Ping", ActionID="barrier")
        events = []
        while True:
            m = self.message()
            if m.get("actionid") == "barrier" and "response" in m:
                return events
            if "event" in m:
                events.append(m)

    def close(self):
        self.sock.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_live(res, tmp):
    names = ["live/start", "live/admin", "live/crm-permissions", "live/panel-quoted-secret",
             "live/wrong-secret", "live/noc-acl", "live/wallboard-single-login",
             "live/read-classes", "live/stop"]
    if not any(res.wanted(n) for n in names):
        return
    if not os.access(AMID, os.X_OK) or not os.path.isdir(MODULE_DIR):
        for n in names:
            res.skip(n, "needs the built amid (%s) and modules (%s)" % (AMID, MODULE_DIR))
        return
    conf = os.path.join(tmp, "live", "amid.conf")
    os.makedirs(os.path.dirname(conf))
    st, out, err = run_tool(["-o", conf, "manager.conf"], os.path.join(CASES, "freepbx"))
    if st != 0:
        res.fail("live/start", "conversion failed (%d)" % st, err)
        return
    text = read(conf)
    port = free_port()
    edited = re.sub(r'(?m)^  bindaddr = .*;$', '  bindaddr = "127.0.0.1";', text)
    edited = re.sub(r'(?m)^  port = \d+;$', '  port = %d;' % port, edited)
    # amid's control socket (amictl) must not be the system one
    edited = edited.replace("general = {\n", "general = {\n  controlsocket = %s;\n"
                            % ('"' + os.path.join(tmp, "live", "amid.ctl") + '"'), 1)
    if edited.count("127.0.0.1\";") < 1 or ("port = %d;" % port) not in edited:
        res.fail("live/start", "could not edit bindaddr/port in the converted file", text)
        return
    write(conf, edited)
    log_path = os.path.join(tmp, "live", "amid.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([AMID, "-f", "-c", conf, "-m", MODULE_DIR],
                            stdout=log, stderr=subprocess.STDOUT)
    clients = []

    def connect():
        c = Ami(port)
        clients.append(c)
        return c

    def log_tail():
        return "\n".join((read(log_path, "") or "").splitlines()[-20:])

    try:
        deadline = time.monotonic() + 10
        banner = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                c = connect()
                banner = c.banner
                break
            except OSError:
                time.sleep(0.05)
        if not res.check("live/start", banner and banner.startswith("Asterisk Call Manager/"),
                         "amid did not start (exit %s)" % proc.poll(), log_tail()):
            return

        def run(name, fn):
            if not res.wanted(name):
                return
            try:
                problem = fn()
            except (OSError, EOFError, AssertionError) as e:
                problem = "%s: %s" % (type(e).__name__, e)
            res.check(name, problem is None, problem or "", log_tail() if problem else None)

        def admin():
            c = connect()
            r = c.login("admin", "amp111")
            if r.get("response") != "Success":
                return "admin login: %r" % r
            r = c.request(Action="CoreSettings")
            if r.get("response") != "Success":
                return "CoreSettings (system|reporting) refused to admin: %r" % r
            return None
        run("live/admin", admin)

        def crm():
            c = connect()
            r = c.login("crm", "crm-S3cret")
            if r.get("response") != "Success":
                return "crm login: %r" % r
            r = c.request(Action="CoreStatus")
            if r.get("response") != "Success":
                return "CoreStatus (needs system or reporting) refused to write=reporting: %r" % r
            for action in ("Filter", "ModuleCheck", "Reload"):
                r = c.request(Action=action, Module="mod_core.so", Operation="Add",
                              Filter="x")
                if r.get("message") != "Permission denied":
                    return "%s (system) allowed to write=reporting: %r" % (action, r)
            return None
        run("live/crm-permissions", crm)

        def panel():
            c = connect()
            r = c.login("panel", '"flop-panel"')
            if r.get("response") != "Success":
                return "login with the quoted secret: %r" % r
            r = c.request(Action="CoreStatus")
            if r.get("message") != "Permission denied":
                return "CoreStatus allowed to write=command,originate: %r" % r
            return None
        run("live/panel-quoted-secret", panel)

        def wrong():
            c = connect()
            r = c.login("cxpanel", "wrong")
            if r.get("message") != "Authentication failed":
                return "wrong secret accepted: %r" % r
            return None
        run("live/wrong-secret", wrong)

        def noc():
            c = connect()
            r = c.login("noc", "n0c")
            if r.get("message") != "Authentication failed":
                return "noc (permit 10.20.0.0/16 only) logged in from 127.0.0.1: %r" % r
            c2 = connect()
            r = c2.login("monitor", "mon1tor")
            if r.get("response") != "Success":
                return "monitor (permit 127.0.0.0/8) refused: %r" % r
            return None
        run("live/noc-acl", noc)

        def wallboard():
            c1 = connect()
            r = c1.login("wallboard", "wb-pass")
            if r.get("response") != "Success":
                return "first wallboard login: %r" % r
            c2 = connect()
            r = c2.login("wallboard", "wb-pass")
            if r.get("message") != "Login Already In Use":
                return "second wallboard login (allowmultiplelogin = no): %r" % r
            c3 = connect()
            r = c3.login("crm", "crm-S3cret")
            c4 = connect()
            r2 = c4.login("crm", "crm-S3cret")
            if r.get("response") != "Success" or r2.get("response") != "Success":
                return "two crm logins (multiple logins allowed): %r %r" % (r, r2)
            return None
        run("live/wallboard-single-login", wallboard)

        def classes():
            # monitor reads user, crm does not: a UserEvent reaches only the
            # first, with a Timestamp (timestampevents = yes).  monitor's
            # filters (a legacy one whose '.' crosses lines, an advanced
            # exclude on a header) let only "ImportCheck" through.
            mon = connect()
            if mon.login("monitor", "mon1tor").get("response") != "Success":
                return "monitor login failed"
            crm_c = connect()
            if crm_c.login("crm", "crm-S3cret").get("response") != "Success":
                return "crm login failed"
            mon.events_until_ping()
            crm_c.events_until_ping()
            adm = connect()
            if adm.login("admin", "amp111").get("response") != "Success":
                return "admin login failed"
            for name, value in (("Noise", "1"), ("Other", "2"), ("ImportCheck", "1")):
                r = adm.request(Action="UserEvent", UserEvent=name, Value=value)
                if r.get("response") != "Success":
                    return "UserEvent refused to admin: %r" % r
            deadline = time.monotonic() + 3
            seen = []
            while time.monotonic() < deadline:
                seen += [e for e in mon.events_until_ping() if e.get("event") == "UserEvent"]
                if seen and seen[-1].get("userevent") == "ImportCheck":
                    break
                time.sleep(0.05)
            if not seen:
                return "monitor (read = user,reporting) got no UserEvent"
            names = [e.get("userevent") for e in seen]
            if names != ["ImportCheck"]:
                return "monitor's filters let through %r, expected only ImportCheck" % names
            if "timestamp" not in seen[0]:
                return "UserEvent without Timestamp although timestampevents = yes: %r" % seen[0]
            leaked = [e for e in crm_c.events_until_ping() if e.get("event") == "UserEvent"]
            if leaked:
                return "crm (read = call,reporting,cdr) got a UserEvent: %r" % leaked[0]
            return None
        run("live/read-classes", classes)
    finally:
        for c in clients:
            try:
                c.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
    if res.wanted("live/stop"):
        res.check("live/stop", proc.returncode == 0,
                  "amid exited %s after SIGTERM" % proc.returncode, log_tail())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--update", action="store_true",
                    help="rewrite the golden files from the current output")
    ap.add_argument("-k", dest="pattern", action="append",
                    help="run only checks whose name contains PATTERN")
    args = ap.parse_args()
    res = Results(args.verbose, args.pattern)
    tmp = tempfile.mkdtemp(prefix="amid-import-test.")
    try:
        test_cases(res, args.update, tmp)
        if args.update:
            return 0
        test_cli(res, tmp)
        test_live(res, tmp)
    finally:
        if KEEP:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (res.passed, res.failed, res.skipped))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Run amid's integration tests.

Usage::

    tests/integration/run.py [-v] [-k PATTERN]... [MODULE_OR_TEST_ID ...]

Prints ``PASS name``, ``FAIL name: reason`` (details indented below it) or
``SKIP name: reason`` per test and ends with exactly one line
``N passed, N failed, N skipped``.  Exits 1 when anything failed.

Environment: ``AMID_BIN``, ``AMID_MODULE_DIR``, ``AMID_KEEP_TMP``,
``AMID_WRAPPER``, ``AMID_TIMEOUT_SCALE`` (see harness.py), ``AMID_RUN_TIMEOUT``.
``-v`` also prints the full traceback of failures.
"""

import argparse
import faulthandler
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402  (needs sys.path first)

#: Hard limit for the whole run: a hang dumps every thread's stack and exits.
#: AMID_RUN_TIMEOUT overrides; under AMID_WRAPPER (valgrind) it is an hour.
RUN_TIMEOUT = int(os.environ.get("AMID_RUN_TIMEOUT") or (3600 if harness.UNDER_WRAPPER else 300))


def test_name(test):
    """``module.Class.method`` for a test, or the class-fixture description."""
    if isinstance(test, unittest.TestCase):
        return test.id()
    return str(test)  # _ErrorHolder: "setUpClass (test_x.TestY)"


def reason_of(err):
    """One-line reason and multi-line detail of an exc_info triple."""
    exc_type, exc, _ = err
    text = str(exc).strip() or exc_type.__name__
    first, _, rest = text.partition("\n")
    if not issubclass(exc_type, AssertionError):
        first = "%s: %s" % (exc_type.__name__, first)
    return first, rest


class LineResult(unittest.TestResult):
    """Prints one PASS/FAIL/SKIP line per test as it finishes."""

    def __init__(self, verbose=False):
        super().__init__()
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.skipped_count = 0
        self._failed_ids = set()

    def _emit(self, line):
        print(line, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self._failed_ids:
            self.passed += 1
            self._emit("PASS %s" % test_name(test))

    def _fail(self, test, err):
        name = test_name(test)
        first, rest = reason_of(err)
        if name not in self._failed_ids:  # a test failing and then erroring in tearDown
            self.failed += 1
        self._failed_ids.add(name)
        self._emit("FAIL %s: %s" % (name, first))
        if rest:
            for line in rest.splitlines():
                self._emit("    " + line)
        if self.verbose:
            for line in "".join(traceback.format_exception(*err)).splitlines():
                self._emit("    " + line)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        if issubclass(err[0], unittest.SkipTest):
            self.addSkip(test, str(err[1]))
            return
        self._fail(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_count += 1
        self._emit("SKIP %s: %s" % (test_name(test), reason))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(subtest, err)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._emit("PASS %s (expected failure)" % test_name(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1
        self._emit("FAIL %s: unexpected success" % test_name(test))


def flatten(suite):
    """Yield the tests of a (nested) suite in order."""
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def select(suite, patterns):
    """A flat suite of the tests whose id contains one of *patterns* (any case).

    Tests stay in discovery order, so each class's daemon still starts once.
    """
    wanted = [p.lower() for p in patterns]
    return unittest.TestSuite(t for t in flatten(suite)
                              if any(p in t.id().lower() for p in wanted))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print tracebacks")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="only tests whose id contains this substring, any case (repeatable)")
    parser.add_argument("tests", nargs="*",
                        help="test modules or ids, e.g. test_auth or test_auth.TestMD5")
    args = parser.parse_args(argv)

    faulthandler.dump_traceback_later(RUN_TIMEOUT, exit=True)
    loader = unittest.TestLoader()
    if args.tests:
        suite = loader.loadTestsFromNames([t[:-3] if t.endswith(".py") else t
                                           for t in args.tests])
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.patterns:
        suite = select(suite, args.patterns)

    binary = harness.find_binary()
    print("# amid: %s; modules: %s" % (binary or "NOT BUILT", harness.module_dir()), flush=True)
    if harness.UNDER_WRAPPER:
        print("# wrapper: %s (deadlines x%g)" % (" ".join(harness.WRAPPER), harness.TIMEOUT_SCALE),
              flush=True)
    result = LineResult(verbose=args.verbose)
    started = time.monotonic()
    try:
        suite.run(result)
    finally:
        harness.kill_leftover_servers()
    print("# %.1f s" % (time.monotonic() - started), flush=True)
    print("%d passed, %d failed, %d skipped" % (result.passed, result.failed,
                                                  result.skipped_count), flush=True)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())

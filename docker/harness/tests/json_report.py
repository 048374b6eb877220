"""Runs the harness's unittest suite and writes one JSON line per test (id, outcome, detail, seconds)
to the file named by argv[1], so lem's uvu suite can show every test, and every skip with its reason.

    python3 tests/json_report.py OUT.jsonl        (from docker/harness; exit 0 when nothing failed)
"""

import json
import os
import sys
import time
import unittest


class JsonResult(unittest.TestResult):
    def __init__(self, out, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = out
        self._started = time.monotonic()

    def startTest(self, test):
        super().startTest(test)
        self._started = time.monotonic()

    def _emit(self, test, outcome, detail=""):
        record = {"id": test.id(), "outcome": outcome, "detail": detail, "seconds": round(time.monotonic() - self._started, 3)}
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        # Also what a module that fails to import, or a failing setUpClass, reports.
        super().addError(test, err)
        self._emit(test, "error", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        # A failing subtest fails its test, which then reports no outcome of its own: say it here, or
        # the suite fails with no test to show for it.
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._emit(subtest, "failed" if failed else "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(test, "passed", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(test, "failed", "unexpected success")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(here, top_level_dir=here)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        result = JsonResult(out)
        suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

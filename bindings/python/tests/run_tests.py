#!/usr/bin/python3
"""Runs the Python binding's pytest suite; the last line is the one CI counts: "N passed, N failed".

usage: run_tests.py [--no-torch] [extra pytest arguments]   (PYTHONPATH must reach the package q8)

--no-torch leaves out test_torch.py and test_qat_torch.py (the LeakSanitizer run, lsan_check.py,
uses it).

test_live_handles.py runs last: it checks that the suite left no native handle behind.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LAST = "test_live_handles.py"


class Tally:
    """The outcome of every test id: failed if any phase failed, else skipped or passed."""

    def __init__(self):
        self.outcome = {}
        self.collect_errors = 0

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors += 1

    def pytest_runtest_logreport(self, report):
        previous = self.outcome.get(report.nodeid)
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif previous != "failed":
            if report.skipped:
                self.outcome[report.nodeid] = "skipped"
            elif report.when == "call":
                self.outcome[report.nodeid] = "passed"

    def count(self, what):
        return sum(1 for o in self.outcome.values() if o == what)


def main():
    extra = sys.argv[1:]
    skip = {LAST}
    if "--no-torch" in extra:
        extra.remove("--no-torch")
        skip.update(("test_torch.py", "test_qat_torch.py"))
    files = sorted(f for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py") and f not in skip)
    files = [os.path.join(HERE, f) for f in files + [LAST]]
    tally = Tally()
    # -rsP prints every skip with its reason and what passing tests printed (accuracies); no
    # cache dir in the source tree; no ini file from a directory above.
    args = ["-rsP", "-p", "no:cacheprovider", "--rootdir", HERE, "-c", os.devnull, *extra, *files]
    rc = pytest.main(args, plugins=[tally])
    passed, failed = tally.count("passed"), tally.count("failed") + tally.collect_errors
    if rc not in (0, 1, 5) and failed == 0:  # interrupted or a usage error: not a pass
        failed = 1
    if tally.count("skipped"):
        print(f"{tally.count('skipped')} skipped (reasons above)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and rc in (0, 5) and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

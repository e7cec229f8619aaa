#!/usr/bin/python3
"""Summarize meson test logs as individual test counts.

usage: summarize_tests.py LOG [LOG...]

Each LOG is a meson testlog.json (one JSON object per line), or a build directory holding
meson-logs/testlog.json. A Criterion suite counts its individual tests, read from the
"[====] Synthesis: Tested: X | Passing: Y | Failing: Z | Crashing: W" line that Criterion prints
on stderr (meson merges stderr into the "stdout" field). A binding's harness (JUnit, pytest, go
test, the C# runner) counts its tests from the last line of the form "N passed, N failed" it
prints. Any other meson test counts as one. A meson test that failed without a parseable count
(or with one that shows no failure) counts one failure, and so does a log that is missing or
unreadable.

Prints one line per meson test, a total per log, and finally a plain line
`N passed, N failed` for all logs together. Exits 1 if anything failed or nothing ran.
"""
import json
import os
import re
import sys

SYNTHESIS = re.compile(
    r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")
HARNESS = re.compile(r"^(\d+) passed, (\d+) failed\s*$", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
GOOD = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def log_path(arg):
    if os.path.isdir(arg):
        return os.path.join(arg, "meson-logs", "testlog.json")
    return arg


def label_of(path):
    """The build directory a log belongs to, for display."""
    parts = os.path.normpath(path).split(os.sep)
    if len(parts) >= 3 and parts[-2] == "meson-logs":
        return parts[-3]
    return path


def count_test(entry):
    """(passed, failed, kind, note) for one meson test entry."""
    result = entry.get("result", "?")
    output = ANSI.sub("", (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or ""))
    found = SYNTHESIS.findall(output)
    if result in SKIPPED:
        return 0, 0, "skipped", result
    if found:
        tested, passing, failing, crashing = (int(v) for v in found[-1])
        failed = failing + crashing
        note = f"Tested: {tested}"
        if result not in GOOD and failed == 0:
            failed = 1  # the binary failed (sanitizer report at exit, timeout, ...) after its tests
            note += f", but the run ended {result} (returncode {entry.get('returncode')})"
        return passing, failed, "criterion", note
    counted = HARNESS.findall(output)
    if counted:
        passing, failing = (int(v) for v in counted[-1])
        note = f"tests: {passing + failing}"
        if result not in GOOD and failing == 0:
            failing = 1  # the process failed after its tests (sanitizer report, leak check, ...)
            note += f", but the run ended {result} (returncode {entry.get('returncode')})"
        return passing, failing, "harness", note
    if result in GOOD:
        return 1, 0, "test", result
    return 0, 1, "test", f"{result} (returncode {entry.get('returncode')})"


def summarize(path):
    """Prints the lines of one log; returns (passed, failed)."""
    label = label_of(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f if line.strip()]
        entries = [json.loads(line) for line in lines]
    except (OSError, ValueError) as e:
        print(f"{label}: no readable test log ({e}); counted as 1 failure")
        return 0, 1
    passed = failed = 0
    for entry in entries:
        p, f_, kind, note = count_test(entry)
        passed += p
        failed += f_
        status = "FAIL" if f_ else ("SKIP" if kind == "skipped" else "ok")
        print(f"{label}: {entry.get('name', '?'):<28} {status:<4} {p:>4} passed, {f_:>3} failed"
              f"  [{kind}: {note}]")
    if not entries:
        print(f"{label}: the test log is empty")
    print(f"{label}: total {passed} passed, {failed} failed")
    return passed, failed


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    passed = failed = 0
    for arg in argv[1:]:
        p, f = summarize(log_path(arg))
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""LeakSanitizer over the Python binding (sanitized builds): fails if any leak's allocation stack
passes through libq8 or the extension module _q8native. The interpreter's own leaks at exit are
not ours and are only counted.

usage: lsan_check.py RUN_TESTS_PY   (environment as for the tests: ASan preloaded, PYTHONPATH)

Two checks, then the line CI counts ("N passed, N failed"):
  1. the check sees q8's leaks: a child leaks one native Tensor on purpose (disowned, then
     dropped) and its report must name libq8 / _q8native;
  2. the non-torch tests (run_tests.py --no-torch) pass with detect_leaks=1 and no leak of ours.
"""
import os
import re
import subprocess
import sys
import tempfile

# A frame of ours: by module (unsymbolized frames), by function, or by source file (the q8
# tree's src/ and bindings/, the generated wrapper).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OURS = re.compile(r"libq8\.so|_q8native|q8_wrap_python\.cxx| in (?:q8_|q8::|q8b::|_wrap_)|"
                  + re.escape(ROOT.lstrip("/")) + r"/(?:src|bindings)/")


def lsan_env(log_prefix):
    env = dict(os.environ)
    options = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o and not o.startswith("detect_leaks=")]
    # Full stacks (Python is built without frame pointers) so a leak shows every module it crossed.
    options += ["detect_leaks=1", "fast_unwind_on_malloc=0", "malloc_context_size=40",
                "log_path=" + log_prefix]
    env["ASAN_OPTIONS"] = ":".join(options)
    env["PYTHONMALLOC"] = "malloc"  # Python objects through malloc, where LSan sees them
    return env


def leak_reports(directory):
    """Every leak block ("Direct/Indirect leak of ...", its frames) of the logs in `directory`."""
    blocks = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), errors="replace") as f:
            text = f.read()
        for block in re.split(r"\n(?=(?:Direct|Indirect) leak of )", text):
            if re.match(r"(?:Direct|Indirect) leak of ", block):
                blocks.append(block.split("\n\n")[0])
    return blocks


def run_with_lsan(cmd):
    """(completed process, all leak reports, ours) for cmd run under LSan."""
    with tempfile.TemporaryDirectory() as logs:
        proc = subprocess.run(cmd, env=lsan_env(os.path.join(logs, "lsan")), capture_output=True, text=True)
        reports = leak_reports(logs)
    return proc, reports, [r for r in reports if OURS.search(r)]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    passed = failed = 0

    leak_one = "import q8; t = q8.capi.Tensor(0, [1000]); t.thisown = False; del t"
    proc, reports, ours = run_with_lsan([sys.executable, "-c", leak_one])
    if ours:
        passed += 1
        print(f"self-check: a deliberately leaked Tensor is reported through q8 ({len(ours)} of "
              f"{len(reports)} reports)")
    else:
        failed += 1
        print(f"self-check FAILED: no leak report names libq8 or _q8native ({len(reports)} reports, "
              f"exit status {proc.returncode})\n{proc.stderr[-3000:]}")

    proc, reports, ours = run_with_lsan([sys.executable, sys.argv[1], "--no-torch"])
    lines = proc.stdout.strip().splitlines()
    suite_ok = bool(lines) and re.fullmatch(r"[1-9]\d* passed, 0 failed", lines[-1]) is not None
    if suite_ok and not ours:
        passed += 1
        print(f"tests under LeakSanitizer: {lines[-1]}; no leak through libq8 or _q8native "
              f"({len(reports)} interpreter leak reports ignored)")
    else:
        failed += 1
        print(proc.stdout[-5000:])
        print(proc.stderr[-3000:])
        for r in ours:
            print(r, "\n")
        print(f"tests under LeakSanitizer FAILED: suite line {lines[-1] if lines else '(none)'!r}, "
              f"{len(ours)} leaks through q8")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs the JUnit 5 console launcher and ends with the line CI counts: "N passed, N failed".

usage: run_junit.py JAVA CONSOLE_JAR LIBRARY_DIR CLASSPATH TEST_JAR [JVM FLAG...]

Every test class in TEST_JAR runs (--scan-classpath), with -Djava.library.path=LIBRARY_DIR so
System.loadLibrary finds libq8jni.so. Failed tests and failed containers (a class whose setup
threw) count as failures; a launcher that exits non-zero without reporting one counts one, and
so does any warning of -Xcheck:jni (pass it as a JVM flag).
"""
import re
import subprocess
import sys


def count(pattern, text):
    m = re.search(r"\[\s*(\d+) " + pattern + r"\s*\]", text)
    return int(m.group(1)) if m else 0


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    java, console, libdir, classpath, test_jar = sys.argv[1:6]
    jvm_flags = sys.argv[6:]
    cmd = [java, *jvm_flags, "-Djava.library.path=" + libdir, "-jar", console,
           "--disable-banner", "--disable-ansi-colors", "--details=tree", "--fail-if-no-tests",
           "-cp", classpath, "--scan-classpath", test_jar]
    print(" ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace")
    sys.stdout.write(r.stdout)
    passed = count("tests successful", r.stdout)
    failed = count("tests failed", r.stdout) + count("tests aborted", r.stdout)
    failed += count("containers failed", r.stdout)
    # -Xcheck:jni only warns; a warning is a bug in the wrapper, so it fails the run.
    jni = re.findall(r"^(?:Warning: Calling other JNI functions|WARNING in native method).*$", r.stdout, re.M)
    if jni:
        print(f"checked JNI reported {len(jni)} misuse(s): {jni[0]}")
        failed += 1
    if r.returncode != 0 and failed == 0:
        print(f"the launcher exited with status {r.returncode}")
        failed = 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

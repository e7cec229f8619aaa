#!/usr/bin/python3
"""Runs the go tool for meson: build the package, test it, or build and run an example.

usage: run_go.py build MODULE_DIR STAMP
       run_go.py test MODULE_DIR
       run_go.py example MODULE_DIR EXAMPLES_DIR NAME
       run_go.py exec PROGRAM ARGS...          (go test -exec: runs the test binary)

The go tool itself runs without LD_PRELOAD (a sanitized build preloads the ASan runtime for the
host program; the compiler and linker do not need it). The test binary and the examples get it
back, plus GODEBUG=cgocheck=2 (every pointer passed to C is checked); the test binary also gets
detect_leaks=1 for its final LeakSanitizer check. `test` prints the go test output, then
"N passed, N failed" over the top-level tests, and fails if go fails or a test fails or is
skipped. `example` prints "1 passed, 0 failed" when the example exits 0.
"""
import os
import re
import subprocess
import sys

HOST_ONLY = ("LD_PRELOAD",)  # only for the programs under test
SAVED = "Q8GO_SAVED_"


def tool_env():
    env = dict(os.environ)
    for name in HOST_ONLY:
        if name in env:
            env[SAVED + name] = env.pop(name)
    return env


def host_env():
    env = dict(os.environ)
    for name in HOST_ONLY:
        saved = env.pop(SAVED + name, None)
        if saved is not None:
            env[name] = saved
    env["GODEBUG"] = "cgocheck=2"
    # The tests end with an explicit LeakSanitizer check (a Go program never reaches the atexit
    # one), which needs leak detection on; the examples keep the build's setting.
    if env.pop("Q8GO_LSAN", None) and "ASAN_OPTIONS" in env:
        opts = [o for o in env["ASAN_OPTIONS"].split(":") if o and not o.startswith("detect_leaks=")]
        env["ASAN_OPTIONS"] = ":".join(opts + ["detect_leaks=1"])
    return env


def go(args, cwd, env, capture=False):
    """Runs go; with capture, also returns its output (streamed as it comes, merged stderr)."""
    cmd = ["go"] + args
    print("+ " + " ".join(cmd), flush=True)
    if not capture:
        return subprocess.run(cmd, cwd=cwd, env=env).returncode, ""
    lines = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    return proc.returncode, "".join(lines)


def build(module, stamp):
    code, _ = go(["build", "./..."], module, tool_env())
    if code != 0:
        return code
    with open(stamp, "w", encoding="utf-8") as f:
        f.write("ok\n")
    return 0


def test(module):
    exec_cmd = f"{sys.executable} {os.path.abspath(__file__)} exec"
    env = tool_env()
    env["Q8GO_LSAN"] = "1"
    code, out = go(["test", "-count=1", "-v", "-exec", exec_cmd, "./..."], module, env, capture=True)
    passed = len(re.findall(r"^--- PASS: ", out, re.M))
    failed = len(re.findall(r"^--- (?:FAIL|SKIP): ", out, re.M))
    if code != 0 and failed == 0:
        failed = 1  # the build or the test binary failed outside any test
    print(f"{passed} passed, {failed} failed")
    return 0 if code == 0 and failed == 0 and passed > 0 else 1


def example(module, examples, name):
    # The examples' go.mod points at ../../build/bindings/go (the default build dir); a copy in
    # this build dir points at this build's package instead.
    work = os.path.join(module, "_examples")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(examples, "go.mod"), encoding="utf-8") as f:
        text = f.read()
    text, found = re.subn(r"(?m)^replace q8\.dev/q8 => .*$", f"replace q8.dev/q8 => {module}", text)
    if found != 1:
        print(f"{examples}/go.mod has no `replace q8.dev/q8 => ...` line\n0 passed, 1 failed")
        return 1
    modfile = os.path.join(work, name + ".mod")  # one per example: they may run in parallel
    with open(modfile, "w", encoding="utf-8") as f:
        f.write(text)
    binary = os.path.join(work, name)
    code, _ = go(["build", "-modfile", modfile, "-o", binary, "./" + name], examples, tool_env())
    if code == 0:
        print("+ " + binary, flush=True)
        code = subprocess.run([binary], cwd=examples, env=host_env()).returncode
    ok = code == 0
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "build":
        return build(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "test":
        return test(argv[1])
    if len(argv) == 4 and argv[0] == "example":
        return example(*argv[1:])
    if len(argv) >= 2 and argv[0] == "exec":
        os.execve(argv[1], argv[1:], host_env())
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

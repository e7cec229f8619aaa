#!/usr/bin/python3
"""Builds the C# side of the binding in one step: SWIG (bindings/q8.i with csharp.swg) into a fresh
private directory, then every generated .cs plus the hand-written ones into one assembly.

usage: csbuild.py PRIVATE_DIR WRAP_CXX DLL DEPFILE MCS SWIG SWIG_ARG... INTERFACE -- EXTRA_CS...

Compiling whatever SWIG wrote (instead of a fixed list of outputs) means a new class or enum in
q8.i needs no change here. SWIG warning 302 (an identifier redefined, so one of the two is silently
dropped: C enum items share one scope) and 503 (cannot be wrapped) fail the build.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

FATAL = re.compile(r"Warning (302|503):")


def main():
    if "--" not in sys.argv or len(sys.argv) < 9:
        print(__doc__)
        return 2
    sep = sys.argv.index("--")
    private_dir, wrap_cxx, dll, depfile, mcs, swig = sys.argv[1:7]
    swig_args = sys.argv[7:sep]
    extra_cs = sys.argv[sep + 1:]

    gen = os.path.join(private_dir, "generated")
    shutil.rmtree(gen, ignore_errors=True)  # a class removed from q8.i must not linger
    os.makedirs(gen)
    cmd = [swig, *swig_args[:-1], "-outdir", gen, "-o", wrap_cxx, "-MD", "-MF", depfile,
           swig_args[-1]]
    # (Never run from bindings/csharp: SWIG looks in the current directory first and would take
    # our csharp.swg for its own library file of that name. meson runs this from the build root.)
    run = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        return run.returncode
    fatal = [l for l in run.stderr.splitlines() if FATAL.search(l)]
    if fatal:
        sys.stderr.write("csbuild.py: SWIG dropped or could not wrap a declaration (see above): "
                         "give it a distinct C# name in bindings/csharp/csharp.swg\n")
        return 1

    sources = sorted(glob.glob(os.path.join(gen, "*.cs"))) + extra_cs
    run = subprocess.run([mcs, "-nologo", "-target:library", "-unsafe", "-debug",
                          "-out:" + dll, *sources])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())

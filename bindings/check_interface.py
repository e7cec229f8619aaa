#!/usr/bin/python3
"""Checks that bindings/q8.i reaches every public function in every language.

usage: check_interface.py SWIG INCLUDE_DIR BINDINGS_DIR

For each language (python, java, csharp, go) SWIG is run on q8.i into a temporary directory. Then:
  - every Q8_API function of include/q8/*.h is either wrapped (its name without q8_ appears in the
    generated wrapper) or %ignored in q8.i (reached through a class method or facade call);
  - no generated proxy code exposes an unmapped pointer (SWIGTYPE_p_...): every array parameter
    of the facade has a typemap in that language.
A new public function of the usual shape (scalars, strings, handles, options) therefore reaches all
languages by itself, and one that takes raw arrays fails this check until it gets a facade form.
Prints one line per problem and a last line "N passed, N failed" (one check per language).
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

LANGS = {
    "python": (["-python"], "*.py"),
    "java": (["-java", "-package", "q8"], "*.java"),
    "csharp": (["-csharp", "-namespace", "Q8"], "*.cs"),
    "go": (["-go", "-cgo", "-intgosize", "64"], "*.go"),
}


def public_functions(include_dir):
    names = set()
    for header in glob.glob(os.path.join(include_dir, "q8", "*.h")):
        text = open(header, encoding="utf-8").read()
        for m in re.finditer(r"Q8_API\s+[^;(]*?\b(q8_\w+)\s*\(", text):
            names.add(m.group(1))
    return names


def ignored(interface, names):
    text = open(interface, encoding="utf-8").read()
    plain = set(re.findall(r"%ignore\s+(q8_\w+)\s*;", text))
    patterns = [re.compile(p) for p in re.findall(r'%rename\("\$ignore", regextarget=1\) "([^"]+)"', text)]
    return {n for n in names if n in plain or any(p.search(n) for p in patterns)}


# Handle and struct proxies are pointers too, but mapped ones: only bare C types count.
BARE = r"(?:float|double|int|short|long|long_long|signed_char|unsigned_char|char|void|p_\w+)"


def unmapped_pointers(lang, out, glob_pattern, wrapper):
    """(file, pointer type) for each bare C pointer the language's API would expose."""
    found = set()
    if lang == "python":  # the proxy .py is untyped: look at the wrapper's argument conversions
        for m in re.finditer(r"SWIG_ConvertPtr\([^;]*?(SWIGTYPE_p_" + BARE + r")\b", wrapper):
            found.add(("wrap.cxx", m.group(1)))
        return sorted(found)
    for path in glob.glob(os.path.join(out, glob_pattern)):
        name = os.path.basename(path)
        if name.startswith("SWIGTYPE_p_"):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        if lang == "go":  # raw pointers show up as *T parameters of exported functions
            for m in re.finditer(r"^func (?:\([^)]*\) )?[A-Z]\w*\(([^)]*)\)", text, re.M):
                for t in re.findall(r"\*(?:u?int\d*|byte|float\d+|uintptr)\b", m.group(1)):
                    found.add((name, t))
        else:
            for t in re.findall(r"SWIGTYPE_p_\w+", text):
                found.add((name, t))
    return sorted(found)


def check(lang, swig, include_dir, bindings_dir, functions, skip):
    args, glob_pattern = LANGS[lang]
    problems = []
    with tempfile.TemporaryDirectory() as out:
        cmd = [swig, "-c++", *args, "-I" + include_dir, "-I" + bindings_dir, "-outdir", out,
               "-o", os.path.join(out, "wrap.cxx"), os.path.join(bindings_dir, "q8.i")]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            return [f"{lang}: swig failed: {run.stderr.strip()}"]
        wrapper = open(os.path.join(out, "wrap.cxx"), encoding="utf-8", errors="replace").read()
        for name in sorted(functions - skip):
            short = name[len("q8_"):]
            # The C call inside the wrapper is the proof the function is wrapped.
            if not re.search(r"\b" + re.escape(name) + r"\s*\(", wrapper) or short == "":
                problems.append(f"{lang}: {name} is neither wrapped nor %ignored in q8.i")
        for where, pointer in unmapped_pointers(lang, out, glob_pattern, wrapper):
            problems.append(f"{lang}: {where} exposes unmapped pointer {pointer}")
    return problems


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    swig, include_dir, bindings_dir = sys.argv[1:]
    functions = public_functions(include_dir)
    skip = ignored(os.path.join(bindings_dir, "q8.i"), functions)
    print(f"{len(functions)} public functions, {len(skip)} reached through methods or the facade")
    passed = failed = 0
    for lang in LANGS:
        problems = check(lang, swig, include_dir, bindings_dir, functions, skip)
        for p in problems:
            print(p)
        if problems:
            failed += 1
        else:
            passed += 1
            print(f"{lang}: every public function reached, no unmapped pointer")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

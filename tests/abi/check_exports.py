#!/usr/bin/python3
"""Checks libq8's dynamic symbol table against the public headers.

Fails if the library exports anything but q8_* (the version node Q8_0 aside), if a function
declared Q8_API in include/q8/*.h is not exported, or if a q8_* symbol is exported without a
public declaration.

usage: check_exports.py NM LIBRARY HEADER_DIR
"""
import pathlib
import re
import subprocess
import sys

VERSION_NODE = "Q8_0"


def exported(nm, library):
    """Defined dynamic symbols: name -> nm type letter (version suffix dropped)."""
    out = subprocess.run([nm, "-D", "--defined-only", library], check=True, capture_output=True,
                         text=True).stdout
    symbols = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        symbols[name.split("@")[0]] = kind
    return symbols


def declared(header_dir):
    """Names of functions declared with Q8_API in the public headers."""
    names = set()
    for header in sorted(pathlib.Path(header_dir).glob("*.h")):
        text = header.read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments may mention Q8_API
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # the macro's own definition
        for m in re.finditer(r"\bQ8_API\b([^;{]*?)\b(q8_\w+)\s*\(", text):
            names.add(m.group(2))
    return names


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    nm, library, header_dir = argv[1:]
    symbols = exported(nm, library)
    api = declared(header_dir)
    problems = []
    if not api:
        problems.append(f"no Q8_API declarations found in {header_dir}")
    for name, kind in sorted(symbols.items()):
        if name == VERSION_NODE:
            continue
        if not name.startswith("q8_"):
            problems.append(f"exported but not q8_*: {name} ({kind})")
        elif name not in api:
            problems.append(f"exported but not declared Q8_API in the headers: {name}")
        elif kind not in ("T", "W", "i"):
            problems.append(f"exported as '{kind}', not as a function: {name}")
    for name in sorted(api - set(symbols)):
        problems.append(f"declared Q8_API but not exported: {name}")
    for p in problems:
        print("FAIL:", p)
    exports = sum(1 for n in symbols if n != VERSION_NODE)
    print(f"{len(api)} declared functions, {exports} exported symbols, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

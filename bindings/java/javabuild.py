#!/usr/bin/python3
"""Build steps of the Java binding that meson's jar() cannot do with SWIG's flat output.

usage:
  javabuild.py bindings WORKDIR WRAP_CXX JAR DEPFILE JAVAC JARTOOL SWIG [SWIG ARGS...] INTERFACE -- JAVA_SRC...
      SWIG writes the JNI wrapper WRAP_CXX and the package q8 into WORKDIR/src; javac compiles
      them with the hand-written JAVA_SRC into WORKDIR/classes, jar packs q8.jar. DEPFILE lists
      what SWIG read (headers, .swg), so changing one rebuilds.
  javabuild.py jar WORKDIR JAR CLASSPATH JAVAC JARTOOL SRC...
      javac SRC (.java) against CLASSPATH into WORKDIR, then JAR holds the classes and any other
      SRC (resources such as junit-platform.properties) at its root.
"""
import os
import shutil
import subprocess
import sys

JAVAC_FLAGS = ["-encoding", "UTF-8", "--release", "11", "-Xlint:all"]


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def run(cmd):
    r = subprocess.run(cmd)
    if r.returncode != 0:
        print("failed:", " ".join(cmd), file=sys.stderr)
        sys.exit(r.returncode)


def bindings(args):
    workdir, wrap, jar, depfile, javac, jartool, swig = args[:7]
    rest = args[7:]
    split = rest.index("--")
    swig_args, java_src = rest[:split], rest[split + 1:]
    src, classes = os.path.join(workdir, "src"), os.path.join(workdir, "classes")
    fresh(src)
    fresh(classes)
    *options, interface = swig_args  # SWIG wants the interface file last
    run([swig, *options, "-MMD", "-MF", depfile, "-outdir", src, "-o", wrap, interface])
    generated = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".java"))
    run([javac, *JAVAC_FLAGS, "-d", classes, *generated, *java_src])
    run([jartool, "cf", jar, "-C", classes, "."])


def jar(args):
    workdir, out, classpath, javac, jartool = args[:5]
    srcs = args[5:]
    classes = os.path.join(workdir, "classes")
    fresh(classes)
    java = [s for s in srcs if s.endswith(".java")]
    run([javac, *JAVAC_FLAGS, "-cp", classpath, "-d", classes, *java])
    for s in srcs:
        if not s.endswith(".java"):
            shutil.copy(s, classes)
    run([jartool, "cf", out, "-C", classes, "."])


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("bindings", "jar"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    (bindings if sys.argv[1] == "bindings" else jar)(sys.argv[2:])

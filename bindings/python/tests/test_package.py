"""The package itself: version, runtime settings, what importing it loads."""
import os
import subprocess
import sys

import numpy as np

import q8


def test_version():
    assert q8.version() == q8.__version__ == q8.capi.version_string()
    major, minor, patch = (int(p) for p in q8.version().split("."))
    assert q8.capi.version() == major * 10000 + minor * 100 + patch


def test_threads_and_isa_do_not_change_results():
    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, (70, 300)).astype(np.uint8)
    b = rng.integers(-128, 128, (300, 90)).astype(np.int8)
    before_threads, before_isa = q8.threads(), q8.isa()
    reference = q8.gemm_u8s8(a, b, a_zero_point=3)
    try:
        q8.set_threads(1)
        assert q8.threads() == 1
        np.testing.assert_array_equal(q8.gemm_u8s8(a, b, a_zero_point=3), reference)
        assert q8.isa_supported("scalar")
        q8.set_isa("scalar")
        assert q8.isa() is q8.Isa.SCALAR
        np.testing.assert_array_equal(q8.gemm_u8s8(a, b, a_zero_point=3), reference)
    finally:
        q8.set_threads(before_threads)
        q8.set_isa("auto")
    assert q8.isa() is before_isa


def test_import_does_not_load_torch():
    code = "import sys, q8, q8.fixed; assert 'torch' not in sys.modules, 'torch was imported'"
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # under lsan_check.py: the interpreter's exit leaks are not the point
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_enums_mirror_every_library_constant():
    # The enums are written out in q8/__init__.py: a value the C headers gain must appear here too
    # (Status above all: an error with an unknown status could not be raised as its class).
    names = [k for k in dir(q8.capi) if k.startswith("Q8_")]
    mirrored = {
        q8.Status: [k for k in names if k == "Q8_OK" or k.startswith("Q8_ERR_")],
        q8.DType: [k for k in names if k.startswith("Q8_DTYPE_")],
        q8.Scheme: [k for k in names if k.startswith("Q8_SCHEME_")],
        q8.ObserverKind: [k for k in names if k.startswith("Q8_OBSERVER_")],
        q8.PtqMode: [k for k in names if k.startswith("Q8_PTQ_")],
        q8.Rounding: [k for k in names if k.startswith("Q8_ROUND_")],
        q8.Isa: [k for k in names if k.startswith("Q8_ISA_")],
        q8.PrunePattern: [k for k in names if k.startswith("Q8_PRUNE_") and not k.startswith("Q8_PRUNE_NORM_")],
        q8.PruneNorm: [k for k in names if k.startswith("Q8_PRUNE_NORM_")],
        q8.PartitionBalance: [k for k in names if k.startswith("Q8_PARTITION_BY_")],
        q8.WeightFormat: [k for k in names if k.startswith("Q8_WEIGHTS_")],
    }
    for enum_class, constants in mirrored.items():
        assert constants, enum_class
        assert sorted(int(m) for m in enum_class) == sorted(getattr(q8.capi, k) for k in constants), enum_class

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

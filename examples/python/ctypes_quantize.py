"""q8 from Python without bindings: ctypes over the C ABI (the SWIG package comes later).

    LD_LIBRARY_PATH=build/src python3 examples/python/ctypes_quantize.py [path/to/libq8.so.0]
"""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else "libq8.so.0")
lib.q8_last_error.restype = ctypes.c_char_p
lib.q8_version_string.restype = ctypes.c_char_p
F32, S8 = 0, 1


def check(status):
    if status != 0:
        raise RuntimeError(lib.q8_last_error().decode())


values = [0.0, 0.1, -0.25, 1.0, 2.5, float("nan"), -3.0, 0.125]
n = len(values)
shape = (ctypes.c_int64 * 1)(n)
buf = (ctypes.c_float * n)(*values)
x, q = ctypes.c_void_p(), ctypes.c_void_p()
check(lib.q8_tensor_wrap(F32, shape, 1, buf, ctypes.sizeof(buf), ctypes.byref(x)))
check(lib.q8_tensor_create(S8, shape, 1, ctypes.byref(q)))
check(lib.q8_tensor_set_qparams(q, ctypes.c_float(0.025), 0))
check(lib.q8_quantize(x, q))
data = ctypes.c_void_p()
check(lib.q8_tensor_data(q, ctypes.byref(data)))
out = list(ctypes.cast(data, ctypes.POINTER(ctypes.c_int8))[:n])
print("q8", lib.q8_version_string().decode(), "->", out)
assert out == [0, 4, -10, 40, 100, 0, -120, 5], out  # 0.125 / 0.025 = 5; NaN -> zero point

# Errors come back as a status plus a message that names the argument.
status = lib.q8_tensor_set_qparams(q, ctypes.c_float(-1.0), 0)
print("bad scale ->", status, lib.q8_last_error().decode())
assert status == 1 and b"scale" in lib.q8_last_error()
lib.q8_tensor_destroy(q)
lib.q8_tensor_destroy(x)

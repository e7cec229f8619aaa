"""q8.qat: the quantization-aware-training math (q8/qat.h) through the facade, over numpy arrays.
No torch here (test_qat_torch.py has q8.torch's modules), so LeakSanitizer runs these too."""
import numpy as np
import pytest

import q8
from q8 import qat


def rng(seed=0):
    return np.random.default_rng(seed)


def surrogate(x, s, z, qmin, qmax, axis, x0, s0, z0):
    """The function whose exact derivatives q8's STE / LSQ / LSQ+ gradients are (q8/qat.h): each
    rounding is the identity plus a constant frozen at the evaluation point (x0, s0, z0), and so
    is the clipping decision. Float64, per channel along `axis` (None: per tensor)."""
    def per(a):
        a = np.asarray(a, np.float64)
        if axis is None:
            return a.reshape(())
        shape = [1] * x.ndim
        shape[axis] = -1
        return a.reshape(shape)
    s, z, s0, z0 = per(s), per(z), per(s0), per(z0)
    x = np.asarray(x, np.float64)  # (a 0-d float64 would not promote a float32 array)
    v0 = (x0.astype(np.float32) / s0.astype(np.float32)).astype(np.float64)  # f32 division, as q8
    r0 = np.rint(v0)
    zi0 = np.clip(np.rint(z0), qmin, qmax)
    q0 = r0 + zi0
    inside = (q0 >= qmin) & (q0 <= qmax)
    clipped = np.clip(q0, qmin, qmax)
    zi = z + (zi0 - z0)            # round(z) = z + frozen offset
    v = x / s
    q = v + (r0 - v0) + zi         # round(x / s) = x / s + frozen offset
    return np.where(inside, (q - zi) * s, (clipped - zi) * s)


def central(f, p, h):
    """Central differences of the scalar f at every entry of p (float64)."""
    g = np.zeros_like(p, dtype=np.float64)
    for i in np.ndindex(p.shape):
        a, b = p.astype(np.float64).copy(), p.astype(np.float64).copy()
        a[i] += h
        b[i] -= h
        g[i] = (f(a) - f(b)) / (2 * h)
    return g


# ---- ranges and parameters -----------------------------------------------------------------------

def test_ranges():
    assert qat.qrange(8) == (-127, 127)
    assert qat.qrange(8, narrow=False) == (-128, 127)
    assert qat.qrange(8, symmetric=False) == (0, 255)
    assert qat.qrange(4) == (-7, 7)
    assert qat.qrange(4, narrow=False) == (-8, 7)
    assert qat.qrange(4, symmetric=False) == (0, 15)
    assert qat.qrange(2) == (-1, 1)
    for bits in (1, 9):
        with pytest.raises(q8.InvalidArgumentError):
            qat.qrange(bits)


def test_qparams_at_8_bits_are_q8s():
    """At 8 bits q8_qat_qparams gives exactly q8_qparams_from_range's parameters."""
    r = rng(1)
    for _ in range(50):
        lo, hi = sorted(r.normal(0, 3, 2).astype(np.float32))
        s, z = qat.qparams(lo, hi, 0, 255)
        p = q8.qparams_from_range(lo, hi, "asymmetric_u8")
        assert np.float32(s) == np.float32(p.scale) and z == p.zero_point
        s, z = qat.qparams(lo, hi, -127, 127)
        p = q8.qparams_from_range(lo, hi, "symmetric_narrow")
        assert np.float32(s) == np.float32(p.scale) and z == 0
    mins, maxs = -r.random(6).astype(np.float32), r.random(6).astype(np.float32)
    s, z = qat.qparams(mins, maxs, -7, 7)
    assert s.dtype == np.float32 and s.shape == (6,)
    np.testing.assert_array_equal(s, (np.maximum(-mins, maxs) / np.float32(7)).astype(np.float32))
    np.testing.assert_array_equal(z, np.zeros(6, np.float32))
    assert qat.qparams(0.0, 0.0, 0, 255)[0] == 1.0  # an all-zero range gets scale 1


# ---- forward -------------------------------------------------------------------------------------

def test_forward_is_quantize_then_dequantize():
    """Bit for bit q8.dequantize(q8.quantize(x)) with the same parameters, ties included."""
    r = rng(2)
    s = np.float32(0.05)
    ties = (np.arange(-300, 300) + 0.5).astype(np.float32) * s   # exact .5 multiples and clipped
    x = np.concatenate([r.normal(0, 4, 4000).astype(np.float32), ties])
    for zp, (qmin, qmax), scheme in ((37, (0, 255), "asymmetric_u8"), (0, (-128, 127), "symmetric")):
        y, mask = qat.fake_quantize(x, s, zp, qmin=qmin, qmax=qmax)
        with q8.quantize(x, scheme, scale=float(s), zero_point=zp) as t:
            np.testing.assert_array_equal(y, q8.dequantize(t))
        q = np.rint((x / s).astype(np.float32)) + zp
        np.testing.assert_array_equal(mask, ((q >= qmin) & (q <= qmax)).astype(np.uint8))
    # per channel, channels on axis 1 of a 3-D array, 4 bits: the 8-bit codes clipped to [-7, 7]
    x = r.normal(0, 1, (3, 5, 7)).astype(np.float32)
    scales = (0.1 + 0.05 * np.arange(5)).astype(np.float32)
    y, mask = qat.fake_quantize(x, scales, qmin=-7, qmax=7, axis=1)
    with q8.quantize(x, "symmetric", 1, scale=scales) as t:
        codes = t.numpy().astype(np.int32)
    np.testing.assert_array_equal(y, (np.clip(codes, -7, 7).astype(np.float32) * scales[None, :, None]))
    np.testing.assert_array_equal(mask, (np.abs(codes) <= 7).astype(np.uint8))


def test_real_zero_point_rounds_half_to_even():
    x = np.linspace(-2, 2, 101, dtype=np.float32)
    for z, zi in ((10.5, 10), (11.5, 12), (-3.0, 0), (300.0, 255), (7.4, 7)):
        y, _ = qat.fake_quantize(x, 0.02, np.float32(z), qmin=0, qmax=255)
        y_int, _ = qat.fake_quantize(x, 0.02, np.float32(zi), qmin=0, qmax=255)
        np.testing.assert_array_equal(y, y_int)


def test_out_arrays_are_written_in_place_and_y_may_alias_x():
    x = rng(3).normal(0, 1, (4, 9)).astype(np.float32)
    out, mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    with qat.FakeQuantizer(4, -127, 127) as fq:
        fq.set_range(x.min(1), x.max(1))
        y, m = fq.forward(x, 0, out=out, mask=mask)
        assert y is out and m is mask
        same = x.copy()
        fq.forward(same, 0, out=same, mask=False)
        np.testing.assert_array_equal(same, out)
        assert fq.forward(x, 0, mask=False)[1] is None


# ---- gradients -----------------------------------------------------------------------------------

def test_ste_is_dy_times_mask():
    r = rng(4)
    x = r.normal(0, 3, 1000).astype(np.float32)
    dy = r.normal(0, 1, 1000).astype(np.float32)
    _, mask = qat.fake_quantize(x, 0.01, 128, qmin=0, qmax=255)
    assert 0 < mask.sum() < mask.size
    np.testing.assert_array_equal(qat.ste_backward(dy, mask), dy * mask)


@pytest.mark.parametrize("case", ["per_tensor_u8", "per_channel_4bit", "per_channel_u8_axis1"])
def test_lsq_gradients_match_central_differences(case):
    """dx, d scale and d zero point are the derivatives of the surrogate (frozen rounding), so
    central differences of it agree (it is piecewise linear: the difference is only f32 noise)."""
    r = rng(5)
    if case == "per_tensor_u8":
        x = r.normal(0.5, 2, (6, 10)).astype(np.float32)
        s, z, qmin, qmax, axis = np.array([0.02], np.float32), np.array([100.3], np.float32), 0, 255, None
    elif case == "per_channel_4bit":
        x = r.normal(0, 1, (5, 12)).astype(np.float32)
        s, z, qmin, qmax, axis = (0.1 + 0.03 * r.random(5)).astype(np.float32), None, -7, 7, 0
    else:
        x = r.normal(0, 1, (3, 4, 6)).astype(np.float32)
        s, z, qmin, qmax, axis = (0.01 + 0.01 * r.random(4)).astype(np.float32), \
            (60 + 100 * r.random(4)).astype(np.float32), 0, 255, 1
    dy = r.normal(0, 1, x.shape).astype(np.float32)
    g = 0.37
    zz = np.zeros_like(s) if z is None else z
    # the call's parameters: scalars per tensor, arrays per channel; None zero points are 0
    sp = s if axis is not None else s[0]
    zp = None if z is None else (z if axis is not None else z[0])
    dx, ds, dz = qat.lsq_backward(x, dy, sp, zp, qmin, qmax, axis=axis, grad_scale=g)

    def loss_s(sv):
        return float(np.sum(dy * surrogate(x, sv, zz, qmin, qmax, axis, x, s, zz)))

    def loss_z(zv):
        return float(np.sum(dy * surrogate(x, s, zv, qmin, qmax, axis, x, s, zz)))

    def loss_x(xv):
        return float(np.sum(dy * surrogate(xv, s, zz, qmin, qmax, axis, x, s, zz)))

    np.testing.assert_allclose(ds, g * central(loss_s, s, 1e-4), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, central(loss_x, x, 1e-3), rtol=1e-5, atol=1e-5)
    # LSQ+: also with no zero points given (all 0), the gradient a learnable one would get
    np.testing.assert_allclose(dz, g * central(loss_z, zz, 1e-2), rtol=1e-5, atol=1e-5)
    assert np.any(dz != 0)  # something was clipped
    # and the same dx as the STE, and the surrogate is the forward at the evaluation point
    y, mask = qat.fake_quantize(x, sp, zp, qmin=qmin, qmax=qmax, axis=axis)
    np.testing.assert_array_equal(dx, dy * mask)
    np.testing.assert_allclose(surrogate(x, s, zz, qmin, qmax, axis, x, s, zz), y, rtol=1e-6, atol=1e-6)


def test_lsq_without_dx():
    x = rng(6).normal(0, 1, 20).astype(np.float32)
    dx, ds, dz = qat.lsq_backward(x, np.ones_like(x), 0.1, None, -7, 7, dx=False)
    assert dx is None and ds.shape == (1,) and dz.shape == (1,)


# ---- BatchNorm fold ------------------------------------------------------------------------------

def bn_case(seed=7, channels=4, per_channel=6):
    r = rng(seed)
    w = r.normal(0, 1, (channels, per_channel)).astype(np.float32)
    b = r.normal(0, 1, channels).astype(np.float32)
    gamma = (0.5 + r.random(channels)).astype(np.float32)
    beta = r.normal(0, 1, channels).astype(np.float32)
    mean = r.normal(0, 1, channels).astype(np.float32)
    var = (0.1 + r.random(channels)).astype(np.float32)
    return w, b, gamma, beta, mean, var


def fold64(w, b, gamma, beta, mean, var, eps):
    f = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + np.float64(np.float32(eps)))
    wf = w.astype(np.float64) * f.reshape((-1,) + (1,) * (w.ndim - 1))
    bf = (b.astype(np.float64) - mean) * f + beta
    return wf, bf


def test_fold_is_the_double_formula_stored_f32():
    w, b, gamma, beta, mean, var = bn_case()
    wf, bf = qat.fold_batchnorm(w, b, gamma, beta, mean, var, 1e-5)
    rw, rb = fold64(w, b, gamma, beta, mean, var, 1e-5)
    np.testing.assert_allclose(wf, rw.astype(np.float32), rtol=2e-7, atol=0)
    np.testing.assert_allclose(bf, rb.astype(np.float32), rtol=2e-7, atol=1e-7)
    wf0, bf0 = qat.fold_batchnorm(w, None, gamma, beta, mean, var, 1e-5)  # no bias: b = 0
    np.testing.assert_array_equal(wf0, wf)
    np.testing.assert_allclose(bf0, fold64(w, np.zeros(4, np.float32), gamma, beta, mean, var, 1e-5)[1]
                               .astype(np.float32), rtol=2e-7, atol=1e-7)
    w4 = np.ascontiguousarray(w.reshape(4, 1, 2, 3))  # Conv OIHW
    np.testing.assert_array_equal(qat.fold_batchnorm(w4, b, gamma, beta, mean, var, 1e-5)[0], wf.reshape(4, 1, 2, 3))


def test_fold_backward_matches_central_differences():
    w, b, gamma, beta, mean, var = bn_case(8)
    eps = 1e-3
    r = rng(9)
    dwf = r.normal(0, 1, w.shape).astype(np.float32)
    dbf = r.normal(0, 1, b.shape).astype(np.float32)
    dw, db, dg, dbeta = qat.fold_batchnorm_backward(w, b, gamma, mean, var, eps, dwf, dbf)

    def loss(w_=w, b_=b, g_=gamma, beta_=beta):
        wf, bf = fold64(w_, b_, g_, beta_, mean, var, eps)
        return float(np.sum(dwf * wf) + np.sum(dbf * bf))

    np.testing.assert_allclose(dw, central(lambda p: loss(w_=p), w, 1e-4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, central(lambda p: loss(b_=p), b, 1e-4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dg, central(lambda p: loss(g_=p), gamma, 1e-4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dbeta, central(lambda p: loss(beta_=p), beta, 1e-4), rtol=1e-5, atol=1e-6)


def test_batchnorm_fold_object_keeps_the_last_fold_for_backward():
    w, b, gamma, beta, mean, var = bn_case(10)
    with qat.BatchNormFold(4, 6, 1e-5) as bn:
        assert (bn.channels, bn.per_channel) == (4, 6)
        with pytest.raises(q8.StateError, match="fold"):
            bn.backward(np.ones_like(w), np.ones(4, np.float32))
        bn.set_affine(gamma, beta).set_statistics(mean, var)
        wf, bf = bn.fold(w, b)
        ref = qat.fold_batchnorm_backward(w, b, gamma, mean, var, 1e-5, np.ones_like(w), np.ones(4, np.float32))
        got = bn.backward(np.ones_like(w), np.ones(4, np.float32))
        for a, e in zip(got, ref):
            np.testing.assert_array_equal(a, e)
        with pytest.raises(q8.ShapeError):
            bn.fold(w[:3], b)
        with pytest.raises(q8.ShapeError):
            bn.set_affine(gamma[:3], beta)
    assert "closed" in repr(bn)


# ---- errors and handles --------------------------------------------------------------------------

def test_errors_name_the_argument():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(q8.InvalidArgumentError):
        qat.fake_quantize(x, 0.0)                       # scale must be > 0
    with pytest.raises(q8.InvalidArgumentError):
        qat.fake_quantize(x, np.float32(np.nan))
    with pytest.raises(q8.InvalidArgumentError):
        qat.FakeQuantizer(1, 5, 4)                      # qmin > qmax
    with pytest.raises(q8.InvalidArgumentError):
        qat.FakeQuantizer(1, -129, 0)
    with pytest.raises(q8.ShapeError):
        qat.fake_quantize(x, np.ones(3, np.float32), axis=0)  # 3 scales, axis 0 has 2
    with pytest.raises(q8.ShapeError):
        qat.fake_quantize(x, np.ones(2, np.float32))          # 2 scales need an axis
    with qat.FakeQuantizer(2, -7, 7) as fq:
        with pytest.raises(q8.ShapeError, match="zero points"):
            fq.set_params(np.ones(2, np.float32), np.zeros(3, np.float32))
        np.testing.assert_array_equal(fq.scales, np.ones(2, np.float32))  # unchanged
        with pytest.raises(q8.ShapeError):
            fq.ste_backward(np.ones(3, np.float32), np.ones(2, np.uint8))
        with pytest.raises(q8.DTypeError):
            fq.forward(x, 0, out=np.empty(x.shape, np.float64))
    with pytest.raises(q8.StateError, match="FakeQuantizer is closed"):
        fq.forward(x, 0)
    with pytest.raises(q8.InvalidArgumentError):
        qat.BatchNormFold(2, 3, -1.0)


def test_raw_layer_closes_too():
    fq = q8.capi.FakeQuantizer(1, 0, 255)
    fq.setParams(np.array([0.5], np.float32), np.array([3], np.float32))
    y = np.empty(4, np.float32)
    fq.forward(1, 4, np.arange(4, dtype=np.float32), y, np.empty(0, np.uint8))
    np.testing.assert_array_equal(y, [0.0, 1.0, 2.0, 3.0])
    fq.close()
    with pytest.raises(q8.StateError):
        fq.channels()
    r = q8.capi.qat_range(3, True, True)
    assert (r.qmin, r.qmax) == (-3, 3)


def test_observer_freeze():
    """A frozen observer checks its batches but keeps its range (q8_observer_set_frozen)."""
    with q8.Observer("moving_average_minmax", averaging_constant=0.5) as obs:
        assert not obs.frozen
        obs.update(np.array([-1.0, 1.0], np.float32))
        obs.freeze()
        assert obs.frozen
        obs.update(np.array([-9.0, 9.0], np.float32))
        assert obs.range() == (-1.0, 1.0)
        obs.reset()
        assert obs.frozen  # reset keeps the frozen state
        obs.frozen = False
        obs.update(np.array([-2.0, 4.0], np.float32))
        assert obs.range() == (-2.0, 4.0)


def test_temporaries_are_closed():
    before = q8.live_handles()
    x = rng(11).normal(0, 1, (8, 8)).astype(np.float32)
    qat.qparams(x.min(1), x.max(1), -7, 7)
    qat.fake_quantize(x, 0.1)
    qat.lsq_backward(x, x, 0.1)
    qat.fold_batchnorm(x, None, np.ones(8), np.zeros(8), np.zeros(8), np.ones(8))
    assert q8.live_handles() == before

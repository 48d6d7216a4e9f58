"""Two small SIMD building blocks for Numba kernels, written as LLVM intrinsics (Numba's
auto-vectoriser does not produce them): an 8-lane range test and a compressing store.

* :func:`inrange8` ``(a, i, lo, hi)``: bit l of the result is set when ``lo <= a[i + l] < hi``
  (l = 0..7; ordered comparisons, so NaN is out of range);
* :func:`compress8` ``(src, i, dst, j, mask)``: the elements ``src[i + l]`` whose mask bit is set
  are stored, in order, at ``dst[j], dst[j + 1], ...`` (``llvm.masked.compressstore``: with
  AVX-512 one ``vcompresspd``); only the selected elements are written, and the values are
  copied bit for bit;
* :func:`popcount` (``llvm.ctpop``).

No bounds checks: the caller guarantees ``i + 8 <= len(a)``, ``i + 8 <= len(src)`` and
``j + popcount(mask) <= len(dst)``.

``HAVE_AVX512``: whether the CPU Numba compiles for has AVX-512F (forced off by the environment
variable ``SCALEFORGE_NO_SIMD=1``, read at import; the tests use it, with a fresh Numba cache
directory, to check the scalar fallback). ``llvm.masked.compressstore`` is
legal on every target, but without AVX-512 LLVM expands it lane by lane, so kernels use it only
where ``HAVE_AVX512`` holds and keep their scalar compaction elsewhere.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic


def _have_avx512() -> bool:
    import os

    if os.environ.get("SCALEFORGE_NO_SIMD", "") not in ("", "0"):
        return False
    try:
        from llvmlite import binding

        if getattr(config, "CPU_NAME", None) not in (None, "", "host"):
            return False
        return bool(binding.get_host_cpu_features().get("avx512f", False))
    except Exception:  # pragma: no cover - feature query unavailable
        return False


HAVE_AVX512 = _have_avx512()

_V8 = ir.VectorType(ir.DoubleType(), 8)
_M8 = ir.VectorType(ir.IntType(1), 8)


def _elem_ptr(context, builder, aryty, ary, idx):
    a = context.make_array(aryty)(context, builder, ary)
    return builder.gep(a.data, [idx])


def _splat(builder, x):
    v = builder.insert_element(ir.Constant(_V8, None), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(_V8, None), ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8))


@intrinsic
def inrange8(typingctx, a, i, lo, hi):
    """Mask (uint64, bits 0..7) of ``lo <= a[i + l] < hi``."""
    if not (isinstance(a, types.Array) and a.dtype == types.float64):
        return None
    sig = types.uint64(a, i, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        a_, i_, lo_, hi_ = args
        p = builder.bitcast(_elem_ptr(context, builder, sig.args[0], a_, i_), _V8.as_pointer())
        v = builder.load(p, align=8)
        m = builder.and_(builder.fcmp_ordered("<", v, _splat(builder, hi_)),
                         builder.fcmp_ordered(">=", v, _splat(builder, lo_)))
        return builder.zext(builder.bitcast(m, ir.IntType(8)), ir.IntType(64))

    return sig, codegen


@intrinsic
def compress8(typingctx, src, i, dst, j, mask):
    """Store the elements ``src[i + l]`` (l = 0..7) selected by ``mask`` contiguously from ``dst[j]``."""
    if not (isinstance(src, types.Array) and src.dtype == types.float64
            and isinstance(dst, types.Array) and dst.dtype == types.float64):
        return None
    sig = types.void(src, i, dst, j, mask)

    def codegen(context, builder, sig, args):
        src_, i_, dst_, j_, mask_ = args
        sp = builder.bitcast(_elem_ptr(context, builder, sig.args[0], src_, i_), _V8.as_pointer())
        dp = _elem_ptr(context, builder, sig.args[2], dst_, j_)
        v = builder.load(sp, align=8)
        m = builder.bitcast(builder.trunc(mask_, ir.IntType(8)), _M8)
        fnty = ir.FunctionType(ir.VoidType(), [_V8, dp.type, _M8])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.masked.compressstore.v8f64")
        builder.call(fn, [v, dp, m])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of a uint64."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, [args[0]])

    return sig, codegen

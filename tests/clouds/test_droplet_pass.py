"""The one-pass DNS droplet kernel equals the separate kernels bit for bit (same arithmetic, same deposition order)."""
import numpy as np
import pytest

from clouds._kernels import droplets as K
from clouds.dns import DNS, make_config


def test_mod_is_pythons_floored_modulo_bitwise():
    L = 0.1
    xs = [0.0, -0.0, 1e-300, -1e-300, L, -L, 2 * L, -2 * L, L * (1 - 2 ** -53), np.nextafter(L, 1), np.nextafter(-L, 0),
          np.nextafter(2 * L, 0), 0.3 * L, -0.3 * L, 1.7 * L, 5.3 * L, -7.1 * L, 1e9, -1e9, np.inf, -np.inf, np.nan]
    rng = np.random.default_rng(3)
    xs += list(rng.uniform(-3 * L, 3 * L, 2000))
    for x in xs:
        got, want = K._mod(x, L), x % L
        if np.isnan(want):
            assert np.isnan(got)
        else:
            assert got == want and np.signbit(got) == np.signbit(want), (x, got, want)


def _setup(m, n, lapse, seed=0):
    rng = np.random.default_rng(seed)
    L = 0.1
    dx = np.full(3, L / n)
    nf = 6 if lapse else 5
    fields = np.empty((nf, n, n, n))
    fields[:3] = 0.3 * rng.standard_normal((3, n, n, n))          # u, v, w [m/s]
    fields[3] = 0.05 * rng.standard_normal((n, n, n))             # theta [K]
    fields[4] = 7.5e-3 * (1 + 0.01 * rng.standard_normal((n, n, n)))   # q_v near saturation at 283 K, 900 hPa
    if lapse:
        fields[5] = 0.01 * rng.standard_normal((n, n, n))          # zeta [m]
    pos = rng.random((m, 3)) * L
    pos[:5, 0] = [0.0, L * (1 - 1e-16), 1e-18, L / n, 0.5 * L]     # on cell faces and the box edge
    vel = np.zeros((m, 3))
    r = rng.gamma(20.0, 10e-6 / 20.0, m)
    r[::7] = 0.06e-6                                               # haze-like droplets near the dry radius
    rd = np.full(m, 0.05e-6)
    kap = np.full(m, 0.6)
    mult = rng.uniform(1e3, 2e3, m)
    return fields, pos, vel, r, rd, kap, mult, dx, np.full(3, L)


@pytest.mark.parametrize("m, lapse", [(500, False), (8 * K.PARALLEL_MIN + 17, False), (8 * K.PARALLEL_MIN, True)])
def test_droplet_pass_equals_separate_kernels_bitwise(m, lapse):
    n = 8
    T0, p0, G, A, dt = 283.15, 9e4, 1e-10, 1.1e-9, 0.01       # dt large enough that droplets cross cells
    iz = 5 if lapse else -1
    fields, pos, vel, r, rd, kap, mult, dx, box = _setup(m, n, lapse)

    # the separate kernels, in the order of DNS.step
    p1, v1 = pos.copy(), vel.copy()
    vals = np.empty((m, fields.shape[0]))
    K.interpolate(fields, p1, dx, vals, n, 0)
    r1, dm, S1 = np.empty(m), np.empty(m), np.empty(m)
    K.condense(vals, r, rd, kap, mult, T0, p0, G, A, dt, 3, 4, iz, r1, dm, S1)
    src1 = np.zeros((n, n, n))
    K.deposit(p1, dm, dx, src1, n, 0)
    K.tracer_heun(p1, v1, np.ascontiguousarray(vals[:, :3]), fields[:3], dx, n, 0, dt, box)
    lm = np.empty(m)
    K.liquid_mass(r1, rd, mult, lm)
    liq1 = np.zeros((n, n, n))
    K.deposit(p1, lm, dx, liq1, n, 0)

    p2, v2 = pos.copy(), vel.copy()
    r2, S2 = np.empty(m), np.empty(m)
    src2, liq2 = np.zeros((n, n, n)), np.zeros((n, n, n))
    K.droplet_pass(fields, p2, v2, r, rd, kap, mult, T0, p0, G, A, dt, 3, 4, iz, dx, box, n, 0, r2, S2, src2, liq2)

    moved = np.abs(np.floor(p1 / dx) - np.floor(pos / dx)).max()
    assert moved >= 1                                # the test crosses cells
    assert np.ptp(r1 - r) > 0                        # and grows and shrinks droplets
    for a, b in ((p1, p2), (v1, v2), (r1, r2), (S1, S2), (src1, src2), (liq1, liq2)):
        assert np.array_equal(a, b)


def test_dns_steps_fused_equal_unfused_bitwise():
    def run(fused):
        cfg = make_config(grid=dict(n=16, box=0.05), fluid=dict(u_rms=0.05), thermo=dict(setup="slab", rh_clear=0.8),
                          droplets=dict(n_droplets=8 * K.PARALLEL_MIN + 5, N_c=1e8), run=dict(dt=0.004))
        d = DNS(cfg)
        d._fuse_droplets = fused
        assert d._fused == fused
        for _ in range(3):
            d.step()
        return d

    a, b = run(True), run(False)
    for name in ("pos", "vel", "r", "S_droplets", "uh", "thh", "qh", "ql_grid"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name

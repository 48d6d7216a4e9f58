"""The DNS right-hand side computed in place equals the textbook array expressions.

The reference below is the direct NumPy transcription of the model (rotational momentum term, flux-form
scalars, buoyancy, fixed-power forcing, 2/3 dealiasing, Leray projection; clouds.dns module docstring).
The in-place evaluation performs the same floating-point operations in the same order, so it must agree
bit for bit, except the forcing energy E_f, a sum over the forced shell that is now taken over the shell's
modes only (a different summation order: relative round-off, bounded here by 1e-14).
"""
import numpy as np
import pytest

from clouds import thermo as th
from clouds.dns import DNS, make_config


def _reference_rhs(d, uh, thh, qh, ql_hat, zh=None):
    sp, xp, c = d.sp, np, d.cfg
    u = xp.stack([sp.inverse(uh[i]) for i in range(3)])
    om = xp.stack([sp.inverse(w) for w in sp.curl(uh)])
    cross = xp.stack([u[1] * om[2] - u[2] * om[1], u[2] * om[0] - u[0] * om[2], u[0] * om[1] - u[1] * om[0]])
    Nu = xp.stack([sp.forward(cross[i]) for i in range(3)])
    if c.fluid.buoyancy:
        Nu[2] += th.G_ACC * (thh / d.T0 + 0.608 * qh) - th.G_ACC * ql_hat
    if c.forcing.epsilon > 0:
        k0 = 2 * np.pi / c.grid.box
        shell = (sp.kmag <= c.forcing.k_f * k0) & (sp.k2 > 0)
        Ef = 0.5 * sum(float(xp.sum(sp.weight * shell * xp.abs(uh[i]) ** 2)) for i in range(3)) / sp.npts ** 2
        Nu += (c.forcing.epsilon / (2 * Ef)) * shell * uh
    Nu = sp.project(Nu * sp.dealias)
    Nu[:, 0, 0, 0] = 0

    def flux(s):
        return -sum(1j * k * sp.forward(u[i] * s) for i, k in enumerate((sp.kx, sp.ky, sp.kz))) * sp.dealias

    Nth = flux(sp.inverse(thh))
    if c.thermo.lapse:
        Nth = Nth - (th.G_ACC / th.C_P) * uh[2]
    Nq = flux(sp.inverse(qh))
    if zh is None:
        return Nu, Nth, Nq, u
    return Nu, Nth, Nq, flux(sp.inverse(zh)) + uh[2], u


def _reference_advance(d, dt):
    sp, c = d.sp, d.cfg
    ql_hat = sp.forward(d.ql_grid) * sp.dealias
    y0 = (d.uh, d.thh, d.qh) + (() if d.zh is None else (d.zh,))
    m = len(y0)
    diff = (c.fluid.nu, c.fluid.kappa, c.fluid.diffusivity, c.fluid.kappa)[:m]
    E1 = [np.exp(-D * sp.k2 * dt) for D in diff]
    Eh = [np.exp(-D * sp.k2 * 0.5 * dt) for D in diff]

    def rhs(y):
        return _reference_rhs(d, y[0], y[1], y[2], ql_hat, *y[3:])

    k1 = rhs(y0)
    ya = tuple(Eh[j] * (y0[j] + 0.5 * dt * k1[j]) for j in range(m))
    k2 = rhs(ya)
    yb = tuple(E1[j] * (y0[j] - dt * k1[j]) + 2 * dt * Eh[j] * k2[j] for j in range(m))
    k3 = rhs(yb)
    return tuple(E1[j] * (y0[j] + dt / 6 * k1[j]) + Eh[j] * (4 * dt / 6) * k2[j] + dt / 6 * k3[j] for j in range(m))


@pytest.mark.parametrize("forced, lapse, kernels", [(False, False, True), (False, True, True), (True, False, True),
                                                    (False, True, False)])
def test_in_place_rk3_step_equals_textbook_expressions(forced, lapse, kernels):
    # kernels=False: the RK3 stages as array expressions (the path CuPy fields take)
    cfg = make_config(grid=dict(n=16, box=0.05), fluid=dict(u_rms=0.05),
                      forcing=dict(epsilon=1e-3 if forced else 0.0),
                      thermo=dict(setup="slab", rh_clear=0.8, lapse=lapse),
                      droplets=dict(n_droplets=2000, N_c=1e8), run=dict(dt=0.004))
    d = DNS(cfg)
    d._stage_kernels = kernels
    for _ in range(2):
        d.step()                                   # droplets source theta, q_v and q_l: all terms non-zero
    if lapse:
        assert np.abs(d.zh).max() > 0
    want = _reference_advance(d, 0.003)
    u = np.stack([d.sp.inverse(d.uh[i]) for i in range(3)])
    d._advance_fluid(0.003, u)                     # with the step's velocity handed in, as DNS.step does
    got = (d.uh, d.thh, d.qh) + (() if d.zh is None else (d.zh,))
    for g, w in zip(got, want):
        if forced:
            assert np.abs(g - w).max() <= 1e-14 * np.abs(w).max()
            assert not np.array_equal(g, 0 * g)
        else:
            assert np.array_equal(g, w)


def test_spectral_curl_and_flux_divergence_in_place():
    from clouds.spectral import Spectral

    sp = Spectral((8, 10, 12), (1.0, 1.3, 0.7))
    rng = np.random.default_rng(2)
    uh = np.stack([sp.forward(rng.standard_normal(sp.shape)) for _ in range(3)])
    want = np.stack([sp.inverse(w) for w in sp.curl(uh)])
    assert np.array_equal(sp.curl_inverse(uh), want)
    u = rng.standard_normal((3,) + sp.shape)
    s = rng.standard_normal(sp.shape)
    ref = -sum(1j * k * sp.forward(u[i] * s) for i, k in enumerate((sp.kx, sp.ky, sp.kz))) * sp.dealias
    assert np.array_equal(sp.flux_divergence(u, s), ref)
    idx, w = sp.forcing_modes(2.5 * 2 * np.pi)
    shell = (sp.kmag <= 2.5 * 2 * np.pi) & (sp.k2 > 0)
    assert idx[0].size == shell.sum() > 0
    assert np.array_equal(w, np.broadcast_to(sp.weight, sp.k2.shape)[shell])

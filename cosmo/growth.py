"""Linear growth of matter perturbations: GR D(a), f(a), and scale-dependent D(k, a), f(k, a) with mu(k, a).

The sub-horizon, quasi-static linear growth equation for the matter contrast
(e.g. Pogosian & Silvestri 2008, PRD 77, 023503, eq. 11; the form used by MGCAMB),
written in x = ln a with D' = dD/dln a:

    D'' + (2 + dlnH/dlna) D' - (3/2) Omega_m(a) mu(k, a) D = 0,

with Omega_m(a) = Omega_m0 a^-3 / E(a)^2 (CDM + baryons) and H(a) from the
astropy background (radiation and massive neutrinos included in H). GR is
mu = 1. Initial conditions at a_i = 1e-5 are the Meszaros (1974) growing mode of
pressureless matter in a matter + radiation universe, D ∝ 1 + 3y/2 with
y = a/a_eq (so D' = 3y/2 in the same units); in a universe without radiation
this reduces to D ∝ a.

Normalisation: the GR solution has D(a=1) = 1. Scale-dependent solutions
D(k, a) share the GR initial amplitude (mu -> 1 at early times for all models
shipped in :mod:`cosmo.mg`), so D(k, a) / D_GR(a) is the modified-gravity
enhancement and P_MG(k, z) = P_GR(k, z) [D(k, a)/D_GR(a)]^2.

The growth rate is f = dlnD/dlna = D'/D.

API convention (the whole of :mod:`cosmo`): the epoch is the redshift ``z=`` or, here, explicitly
the scale factor ``a=`` (keyword only; a positional epoch raises TypeError, since a number could be
either), and arrays over (redshift, wavenumber) have shape (n_z, n_k).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .background import background, cosmology_key

A_INIT = 1e-5
_GR_CACHE: dict = {}


def _check_a(a, name="a"):
    arr = np.asarray(a, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr <= A_INIT) or np.any(arr > 10.0):
        raise ValueError(f"scale factor {name} must lie in ({A_INIT}, 10], got range "
                         f"[{np.nanmin(arr)}, {np.nanmax(arr)}]")
    return arr


def _epoch(func, args, z, a):
    """Scale factor(s) from exactly one of ``z=`` (redshift) or ``a=`` (scale factor), both keyword-only."""
    if args:
        raise TypeError(f"{func}() takes the epoch by keyword: write z=<redshift> or a=<scale factor> "
                        f"(got the positional value {args[0]!r}; cosmo functions take z, not a, by default)")
    if (z is None) == (a is None):
        raise TypeError(f"{func}() needs exactly one of z=<redshift> or a=<scale factor>")
    if a is not None:
        return _check_a(a)
    zz = np.asarray(z, dtype=float)
    if np.any(~np.isfinite(zz)) or np.any(zz < 1.0 / 10.0 - 1.0) or np.any(zz >= 1.0 / A_INIT - 1.0):
        raise ValueError(f"redshift z must lie in [-0.9, {1.0 / A_INIT - 1.0:g}), got range "
                         f"[{np.nanmin(zz)}, {np.nanmax(zz)}]")
    return _check_a(1.0 / (1.0 + zz), "1/(1+z)")


def _initial(bg, a_i):
    """Meszaros growing mode D = a_i + (2/3) a_eq, D' = a_i (a_eq = Omega_r/Omega_m at a_i)."""
    z_i = 1.0 / a_i - 1.0
    c = bg.cosmo
    om = float(c.Om(z_i))
    orad = float(c.Ogamma(z_i) + c.Onu(z_i)) if c.Tcmb0.value > 0 else 0.0
    a_eq = a_i * orad / om
    return a_i + (2.0 / 3.0) * a_eq, a_i


def _rhs_factory(bg, k, mu):
    def rhs(x, y):
        a = np.exp(x)
        z = 1.0 / a - 1.0
        n = k.size
        D, Dp = y[:n], y[n:]
        om = float(bg.omega_m(z))
        dlnh = float(bg.dlnH_dlna(z))
        m = 1.0 if mu is None else np.broadcast_to(np.asarray(mu(k, a), dtype=float), k.shape)
        return np.concatenate([Dp, -(2.0 + dlnh) * Dp + 1.5 * om * m * D])

    return rhs


def solve_growth(k, *args, z=None, a=None, mu=None, cosmology=None, rtol: float = 1e-8):
    """Solve the growth ODE for each wavenumber; return (D, f), each of shape (n_z, n_k).

    Parameters
    ----------
    k : array_like
        Wavenumbers [h/Mpc] (ignored by GR but sets the output shape).
    z : array_like, keyword only
        Redshifts in [-0.9, 1e5); or give ``a=`` (scale factors in (1e-5, 10]) instead.
    mu : callable ``mu(k, a) -> array like k`` or an object with a ``mu`` method, or None (GR).
    cosmology : astropy FLRW or None (Planck18).
    """
    a = np.atleast_1d(_epoch("solve_growth", args, z, a))
    k = np.atleast_1d(np.asarray(k, dtype=float))
    if np.any(k <= 0) or np.any(~np.isfinite(k)):
        raise ValueError("wavenumbers k must be finite and > 0 (h/Mpc)")
    if mu is not None and not callable(mu):
        if hasattr(mu, "mu"):
            mu = mu.mu
        else:
            raise TypeError("mu must be a callable mu(k, a), an object with a .mu method, or None")
    bg = background(cosmology)
    D0, Dp0 = _initial(bg, A_INIT)
    n = k.size
    y0 = np.concatenate([np.full(n, D0), np.full(n, Dp0)])
    xs = np.log(a)
    order = np.argsort(xs)
    xe = np.unique(np.concatenate([xs[order], [0.0]]))
    sol = solve_ivp(_rhs_factory(bg, k, mu), (np.log(A_INIT), max(xe[-1], 0.0)), y0, method="DOP853",
                    t_eval=xe, rtol=rtol, atol=1e-14 * D0)
    if not sol.success:  # pragma: no cover
        raise RuntimeError(f"growth ODE failed: {sol.message}")
    Dall = sol.y[:n]
    Dpall = sol.y[n:]
    norm = _gr_norm(bg, cosmology) if mu is not None else Dall[:, np.searchsorted(xe, 0.0)][:, None]
    idx = np.searchsorted(xe, xs)
    D = Dall[:, idx] / norm
    f = Dpall[:, idx] / Dall[:, idx]
    return D.T, f.T


def _gr_norm(bg, cosmology):
    """Unnormalised GR D(a=1) for the Meszaros initial amplitude (so MG shares the GR early-time amplitude)."""
    key = cosmology_key(cosmology)
    v = _GR_CACHE.get(("norm", key))
    if v is None:
        D0, Dp0 = _initial(bg, A_INIT)
        sol = solve_ivp(_rhs_factory(bg, np.ones(1), None), (np.log(A_INIT), 0.0), [D0, Dp0], method="DOP853",
                        rtol=1e-10, atol=1e-14 * D0)
        v = float(sol.y[0, -1])
        _GR_CACHE[("norm", key)] = v
    return v


def _gr_table(cosmology):
    """Dense GR table (ln a -> D, f) used by the scalar functions (cached per cosmology)."""
    key = cosmology_key(cosmology)
    tab = _GR_CACHE.get(key)
    if tab is None:
        bg = background(cosmology)
        D0, Dp0 = _initial(bg, A_INIT)
        x = np.linspace(np.log(A_INIT), np.log(10.0), 3000)
        sol = solve_ivp(_rhs_factory(bg, np.ones(1), None), (x[0], x[-1]), [D0, Dp0], method="DOP853",
                        t_eval=x, rtol=1e-11, atol=1e-16)
        D = sol.y[0]
        from scipy.interpolate import CubicSpline

        lnD = CubicSpline(x, np.log(D))
        norm = float(np.exp(lnD(0.0)))
        tab = (CubicSpline(x, np.log(D / norm)), CubicSpline(x, sol.y[1] / D))
        _GR_CACHE[key] = tab
        _GR_CACHE[("norm", key)] = float(norm)
    return tab


def growth_factor(*args, z=None, a=None, cosmology=None):
    """GR linear growth factor D, normalised to D(z=0) = 1, at redshift ``z=`` (or scale factor ``a=``).

    Scalar in, float out; arrays keep their shape.
    """
    arr = _epoch("growth_factor", args, z, a)
    lnD, _ = _gr_table(cosmology)
    out = np.exp(lnD(np.log(arr)))
    return float(out) if np.ndim(out) == 0 else out


def growth_rate(*args, z=None, a=None, cosmology=None):
    """GR linear growth rate f = dlnD/dlna at redshift ``z=`` (or scale factor ``a=``)."""
    arr = _epoch("growth_rate", args, z, a)
    _, f = _gr_table(cosmology)
    out = f(np.log(arr))
    return float(out) if np.ndim(out) == 0 else out


def growth_factor_k(k, *args, z=None, a=None, mu=None, cosmology=None):
    """Scale-dependent D(k, z), shape (n_z, n_k), equal to the GR D(z) at early times."""
    _epoch("growth_factor_k", args, z, a)
    return solve_growth(k, z=z, a=a, mu=mu, cosmology=cosmology)[0]


def growth_rate_k(k, *args, z=None, a=None, mu=None, cosmology=None):
    """Scale-dependent growth rate f(k, z) = dlnD(k, z)/dlna, shape (n_z, n_k)."""
    _epoch("growth_rate_k", args, z, a)
    return solve_growth(k, z=z, a=a, mu=mu, cosmology=cosmology)[1]


def growth_integral_solution(*args, z=None, a=None, cosmology=None):
    """Heath (1977) integral D(a) ∝ (5 Omega_m0 / 2) E(a) int_0^a da' / (a' E(a'))^3, normalised D(1) = 1,
    at redshift ``z=`` (or scale factor ``a=``).

    Exact for matter + Lambda (+ curvature) without radiation; used as an independent check.
    """
    from scipy.integrate import quad

    bg = background(cosmology)

    def raw(aa):
        val, _ = quad(lambda x: 1.0 / (x * bg.E(1 / x - 1)) ** 3 if x > 0 else 0.0, 0.0, aa, limit=200,
                      epsabs=0, epsrel=1e-11)
        return float(bg.E(1 / aa - 1)) * val

    aa = _epoch("growth_integral_solution", args, z, a)
    arr = np.atleast_1d(aa)
    out = np.array([raw(x) for x in arr]) / raw(1.0)
    return out.reshape(np.shape(aa)) if np.ndim(aa) else float(out[0])

"""Growth factors for the PM code: D1 (from :mod:`cosmo.growth`), the second-order D2, and FastPM's
kick/drift factors.

Units: H0 = 1, comoving lengths in Mpc/h, so velocities are in units of 100 km/s. The
canonical momentum is ``p = a^3 E(a) dx/da`` (``= a^2 dx/dt`` with t in 1/H0), and the
equations of motion are (e.g. Feng et al. 2016, arXiv:1603.00476, sec. 2)

    dx/da = p / (a^3 E),    dp/da = F / (a^2 E),    F = -grad phi,   lap phi = (3/2) Omega_m0 delta.

Linear growth: ``d/da (a^3 E dD1/da) = (3/2) Omega_m0 D1 / (a^2 E)``, the same equation
:mod:`cosmo.growth` solves in ln a (D1(1) = 1, f1 = dlnD1/dlna).

Second order (Bouchet et al. 1995, A&A 296, 575, eq. 18; Scoccimarro 1998, MNRAS 299, 1097,
eq. A6): ``D2'' + (2 + dlnH/dlna) D2' - (3/2) Omega_m(a) D2 = -(3/2) Omega_m(a) D1^2`` in
ln a, with the growing solution ``D2 -> -(3/7) D1^2`` at early times (exact in
Einstein-de Sitter); f2 = dlnD2/dlna.

FastPM factors (Feng et al. 2016, eqs. 19-21 and sec. 2.3): with ``G_p = D1``,
``g_p = dD1/da``, ``G_f = a^3 E dD1/da = a^2 E f1 D1`` and
``g_f = dG_f/da = (3/2) Omega_m0 D1 / (a^2 E)``, a drift from a_i to a_f using the
momentum at a_c and a kick using the force at a_c are

    Delta x = p(a_c) [D1(a_f) - D1(a_i)] / (a_c^3 E(a_c) g_p(a_c)),
    Delta p = F(a_c) [G_f(a_f) - G_f(a_i)] / (a_c^2 E(a_c) g_f(a_c)),

which reproduce the linear growing mode exactly for any step size (the
Zel'dovich solution ``x = q + D1 Psi``, ``p = G_f Psi``, ``F = (3/2) Omega_m0 D1 Psi``).
"""
from __future__ import annotations

import numpy as np


class GrowthTables:
    """D1, f1, D2, f2, E and the FastPM factors of one cosmology (astropy FLRW; None = Planck18)."""

    def __init__(self, cosmology=None, a_min: float = 1e-3):
        from scipy.integrate import solve_ivp
        from scipy.interpolate import CubicSpline

        from cosmo.background import get_cosmology
        from cosmo.growth import growth_factor, growth_rate

        self.cosmology = get_cosmology(cosmology)
        self.Om0 = float(self.cosmology.Om0)
        self._D1 = lambda a: growth_factor(a=a, cosmology=self.cosmology)
        self._f1 = lambda a: growth_rate(a=a, cosmology=self.cosmology)
        x = np.linspace(np.log(a_min), np.log(2.0), 1200)
        a = np.exp(x)
        E = np.asarray(self.cosmology.efunc(1 / a - 1), dtype=float)
        lnE = CubicSpline(x, np.log(E))
        D1 = CubicSpline(x, np.asarray(self._D1(a)))

        def rhs(xx, y):
            aa = np.exp(xx)
            e = np.exp(lnE(xx))
            om = self.Om0 / (aa ** 3 * e * e)
            d1 = D1(xx)
            return [y[1], -(2.0 + lnE(xx, 1)) * y[1] + 1.5 * om * (y[0] - d1 * d1)]

        d10 = float(D1(x[0]))
        f10 = float(self._f1(a[0]))
        y0 = [-3.0 / 7.0 * d10 ** 2, -3.0 / 7.0 * d10 ** 2 * 2.0 * f10]
        sol = solve_ivp(rhs, (x[0], x[-1]), y0, t_eval=x, method="DOP853", rtol=1e-10, atol=1e-16)
        self._lnD2 = CubicSpline(x, np.log(-sol.y[0]))
        self._f2 = CubicSpline(x, sol.y[1] / sol.y[0])
        self._lnE = lnE
        self.a_min = a_min

    def E(self, a):
        return np.exp(self._lnE(np.log(a)))

    def D1(self, a):
        return self._D1(a)

    def f1(self, a):
        return self._f1(a)

    def D2(self, a):
        return -np.exp(self._lnD2(np.log(a)))

    def f2(self, a):
        return self._f2(np.log(a))

    def gp(self, a):
        """dD1/da."""
        return self.f1(a) * self.D1(a) / a

    def Gf(self, a):
        """G_f = a^3 E dD1/da."""
        return a * a * self.E(a) * self.f1(a) * self.D1(a)

    def gf(self, a):
        """dG_f/da = (3/2) Omega_m0 D1 / (a^2 E) (the linear growth equation)."""
        return 1.5 * self.Om0 * self.D1(a) / (a * a * self.E(a))

    def drift_factor(self, ai, af, ac):
        """FastPM drift: Delta x = p(a_c) * this (Feng et al. 2016, eq. 20)."""
        return (self.D1(af) - self.D1(ai)) / (ac ** 3 * self.E(ac) * self.gp(ac))

    def kick_factor(self, ai, af, ac):
        """FastPM kick: Delta p = F(a_c) * this (Feng et al. 2016, eq. 21)."""
        return (self.Gf(af) - self.Gf(ai)) / (ac * ac * self.E(ac) * self.gf(ac))


def growth_tables(cosmology=None) -> GrowthTables:
    """Cached :class:`GrowthTables` per cosmology."""
    from cosmo.background import cosmology_key

    key = cosmology_key(cosmology)
    tab = _TABLES.get(key)
    if tab is None:
        tab = _TABLES[key] = GrowthTables(cosmology)
    return tab


_TABLES: dict = {}

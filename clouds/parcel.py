"""Adiabatic parcel model with Lagrangian superdroplets and optional eddy-hopping fluctuations.

Formulation (Rogers & Yau 1989 ch. 7; Grabowski & Wang 2013 ARFM; Grabowski & Abade 2017 JAS 74)
------------------------------------------------------------------------------------------------
State: height z, pressure p, temperature T, vapour mixing ratio q_v [kg/kg dry air]; superdroplets
with radii r_i, dry radii, kappa and multiplicities n_i [per kg of dry air]. The liquid mixing ratio
is q_l = sum_i n_i (4/3) pi rho_w (r_i^3 - r_dry,i^3), and q_t = q_v + q_l is held fixed: q_v is
always *diagnosed* as q_t - q_l, so total water is conserved to round-off by construction.

The equations (Rogers & Yau 1989 ch. 3 and 7; Korolev & Mazin 2003, JAS 60:2957) are

    c_p dT/dt = -g w + L(T) dq_l/dt,    d ln p/dt = -g w / (R_d T_v),
    r_i dr_i/dt = G (S + S'_i - S_eq(r_i)),    dq_l/dt = sum_i n_i 4 pi rho_w r_i^2 dr_i/dt,

i.e. the first law with the parcel's specific volume equal to that of its hydrostatic environment;
they give dS/dt = A1 w - S / tau_phase with A1 of :func:`clouds.thermo.a1_coefficient`.

One step of length dt:

1. ascent dz = w dt: T* = T0 - g dz / c_p, and the hypsometric pressure p1 = p0 exp(-g dz / (R_d T_v))
   at the mid-step virtual temperature (:func:`clouds.thermo.hydrostatic_pressure`);
2. condensation at fixed p1: every droplet grows by the theta-method in r^2 with an exponentially
   fitted theta (:func:`clouds._kernels.parcel.grow_uniform_d`: trapezoidal for slowly changing
   droplets, backward Euler for stiff haze droplets) at S_eff + S'_i with G and the Kelvin
   coefficient at the mid-step state, and the latent heat is released at the mid-step temperature,
   c_p (T1 - T*) = L((T0 + T1) / 2) (q_l1 - q_l0). The common S_eff is the trapezoidal mean
   S_eff = (S_0 + S_1(S_eff)) / 2, found by Newton's method on this scalar monotone equation (a
   semi-implicit coupling that stays stable for dt >> tau_phase). The step is second order in dt:
   measured order 1.98-2.05 of the peak supersaturation of an activating aerosol for dt = 0.5 ... 1/16 s
   (tests/clouds/test_parcel.py);
3. with eddy hopping, each superdroplet carries its own vertical-velocity fluctuation w'_i (an
   Ornstein-Uhlenbeck process with integral time tau_t = (L_e^2/epsilon)^(1/3) and standard deviation
   sigma_w = (epsilon L_e)^(1/3)) and supersaturation fluctuation dS'_i/dt = A1 w'_i - S'_i / tau_phase
   (Grabowski & Abade 2017, eqs. 3-5, with their tau_relax = tau_phase).

Energy: since L depends on T, c_p T + g z + L q_v is *not* conserved: it changes by the integral of
q_v dL (about +40 J/kg over 360 m of cloudy ascent). The step closes this budget to round-off:
over each step, the change of c_p T + g z + L q_v equals (q_v0 + q_v1) (L1 - L0) / 2.

MPI: superdroplets are split in index blocks over ranks; the condensed mass is summed with an
Allreduce, so every rank carries the same thermodynamic state and the result agrees with the
serial run to round-off.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq

import gpu
from gpu.config import ConfigError, check_arg, load_config, param

from . import diagnostics, growth, koehler
from . import thermo as th
from ._kernels import parcel as K
from .droplets import Population


def _si(value, unit, name):
    """Convert an astropy Quantity to ``unit`` (float); plain numbers are taken as already in it."""
    if hasattr(value, "unit"):
        try:
            import astropy.units as u

            return float(value.to_value(unit, equivalencies=u.temperature()))
        except Exception as exc:
            raise ValueError(f"{name} has units {value.unit}, not convertible to {unit}") from exc
    return float(value)


@dataclasses.dataclass
class EddyHopping:
    """Eddy-hopping parameters (Grabowski & Abade 2017): TKE dissipation [m^2/s^3], eddy scale [m]."""

    epsilon: float = 1e-2
    length: float = 50.0
    seed: int = 0

    def __post_init__(self):
        if not self.epsilon > 0:
            raise ValueError(f"eddy hopping epsilon must be > 0 m^2/s^3, got {self.epsilon}")
        if not self.length > 0:
            raise ValueError(f"eddy hopping length must be > 0 m, got {self.length}")

    @property
    def tau_t(self):
        return (self.length ** 2 / self.epsilon) ** (1.0 / 3.0)

    @property
    def sigma_w(self):
        return (self.epsilon * self.length) ** (1.0 / 3.0)


class ParcelModel:
    """Rising adiabatic parcel with superdroplets.

    Parameters
    ----------
    p, T : initial pressure [Pa] and temperature [K] (floats or astropy Quantities)
    w : updraft speed [m/s] (constant, or a callable w(t))
    population : :class:`clouds.droplets.Population` with multiplicities **per kg of dry air**
        (use :meth:`from_concentration` to pass number per volume instead)
    rh : initial relative humidity (1.0 = saturated); or ``qv`` [kg/kg]
    dt : time step [s]
    curvature : include the Kelvin term in the growth law (solute term follows from r_dry, kappa)
    kinetic : gas-kinetic corrections of D and K (P&K 1997 eqs. 13.14, 13.20) with condensation
        coefficient ``alpha_c`` and thermal accommodation ``alpha_t``; G per droplet, evaluated at
        the radius at the start of each step
    eddy_hopping : None or :class:`EddyHopping`
    comm : MPI communicator (None: serial, or COMM_WORLD under mpiexec)
    """

    def __init__(self, p, T, w, population: Population, rh=1.0, qv=None, dt=0.1, curvature=True,
                 eddy_hopping: EddyHopping | None = None, comm=None, kinetic=False, alpha_c=1.0, alpha_t=0.96):
        self.p = _si(p, "Pa", "pressure p")
        self.T = _si(T, "K", "temperature T")
        th._check_T(self.T)
        th._check_p(self.p)
        self.dt = _si(dt, "s", "time step dt")
        if not self.dt > 0:
            raise ValueError(f"time step dt must be > 0 s, got {self.dt}")
        self._w = w if callable(w) else (lambda t, _w=_si(w, "m/s", "updraft w"): _w)
        self.comm = gpu.get_comm(comm)
        size, rank = getattr(self.comm, "size", 1), getattr(self.comm, "rank", 0)
        self._size = size
        self._dS_eff = self._dS_eff_old = None
        self.n_total = len(population)
        lo, hi = gpu.block_range(len(population), size, rank)
        self.pop = population.subset(lo, hi)
        self.curvature = bool(curvature)
        self.kinetic = bool(kinetic)
        if not (0 < alpha_c <= 1 and 0 < alpha_t <= 1):
            raise ValueError("alpha_c and alpha_t must be in (0, 1]")
        self.alpha_c, self.alpha_t = float(alpha_c), float(alpha_t)
        self.z = 0.0
        self.t = 0.0
        ql = self._ql()
        if qv is None:
            if not 0 <= rh <= 1.2:
                raise ValueError(f"relative humidity rh must be in [0, 1.2], got {rh}")
            qv = float(th.mixing_ratio_from_rh(self.p, self.T, rh))
        if qv < 0:
            raise ValueError("vapour mixing ratio qv must be >= 0")
        self.qt = qv + ql
        self.qv = qv
        self.eh = eddy_hopping
        m = len(self.pop)
        self.S_prime = np.zeros(m)
        self.w_prime = np.zeros(m)
        if self.eh is not None:
            self._rng = np.random.default_rng([self.eh.seed, rank])
            self.w_prime = self._rng.standard_normal(m) * self.eh.sigma_w
        self.S = float(th.supersaturation(self.p, self.T, self.qv))
        self.history: dict[str, list] = {k: [] for k in
                                         ("t", "z", "p", "T", "qv", "ql", "S", "r_mean", "r_std", "epsilon", "N")}
        self._record()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def from_concentration(p, T, radius, number_per_m3, r_dry=0.0, kappa=0.0, rh=1.0, **kw):
        """Build a parcel from radii [m] and number concentrations per m^3 at the initial state."""
        pf, Tf = _si(p, "Pa", "pressure p"), _si(T, "K", "temperature T")
        N = np.atleast_1d(np.asarray(number_per_m3, float))
        if np.any(N < 0):
            raise ValueError("number concentration must be >= 0 m^-3")
        qv = float(th.mixing_ratio_from_rh(pf, Tf, rh))
        rho_d = float(th.dry_air_density(pf, Tf, qv))
        r = np.atleast_1d(np.asarray(radius, float))
        pop = Population(r, np.broadcast_to(r_dry, r.shape), np.broadcast_to(kappa, r.shape),
                         np.broadcast_to(N, r.shape) / rho_d)
        return ParcelModel(pf, Tf, population=pop, rh=rh, **kw)

    @staticmethod
    def from_config(config, comm=None) -> "ParcelModel":
        """Build a parcel from a :class:`ParcelConfig` (or a TOML path / text / dict of one)."""
        return _model_from_config(config, comm)

    # ------------------------------------------------------------------ internals
    def _allsum(self, x):
        if getattr(self.comm, "size", 1) == 1:
            return float(x)
        return float(gpu.allreduce_sum(self.comm, np.array([x]))[0])

    def _ql(self):
        pop = self.pop
        return self._allsum(np.sum(pop.n * (4.0 / 3.0) * np.pi * th.RHO_W * (pop.r ** 3 - pop.r_dry ** 3)))

    def _moments(self):
        pop = self.pop
        s0 = self._allsum(np.sum(pop.n))
        s1 = self._allsum(np.sum(pop.n * pop.r))
        s2 = self._allsum(np.sum(pop.n * pop.r ** 2))
        s1r = self._allsum(np.sum(pop.n / np.maximum(pop.r, 1e-300)))
        return s0, s1, s2, s1r

    def _record(self):
        s0, s1, s2, _ = self._moments()
        mean = s1 / s0 if s0 > 0 else 0.0
        std = np.sqrt(max(s2 / s0 - mean ** 2, 0.0)) if s0 > 0 else 0.0
        h = self.history
        for k, v in (("t", self.t), ("z", self.z), ("p", self.p), ("T", self.T), ("qv", self.qv),
                     ("ql", self.qt - self.qv), ("S", self.S), ("r_mean", mean), ("r_std", std),
                     ("epsilon", std / mean if mean > 0 else 0.0),
                     ("N", s0 * float(th.dry_air_density(self.p, self.T, self.qv)))):
            h[k].append(float(v))

    def phase_relaxation_time(self):
        """tau_phase [s] of the current population (Korolev & Mazin 2003)."""
        s0, s1, _, _ = self._moments()
        rho_d = float(th.dry_air_density(self.p, self.T, self.qv))
        return float(growth.phase_relaxation_time(self.T, self.p, s0 * rho_d, s1 / s0, self.qv))

    def _bracketed_solve(self, S0, state, thermo_state, guess):
        def g(S):
            return S - 0.5 * (S0 + thermo_state(state(S)[0])[2])
        step = 1e-4
        a, ga = guess, g(guess)
        b = a - step if ga > 0 else a + step
        gb = g(b)
        while ga * gb > 0:
            step *= 2.0
            b = max(a - step if ga > 0 else a + step, -0.999)
            gb = g(b)
            if step > 10:
                raise RuntimeError("parcel supersaturation solve failed to bracket; reduce dt")
        return brentq(g, min(a, b), max(a, b), xtol=1e-14, rtol=1e-12)

    def step(self):
        dt = self.dt
        w = float(self._w(self.t + 0.5 * dt))
        p0, T0 = self.p, self.T
        dz = w * dt
        # 1. ascent: c_p dT = -g dz (first law with the parcel's specific volume equal to that of its
        #    hydrostatic environment); pressure from the hypsometric equation at the mid-step T_v
        Ts = T0 - th.G_ACC * dz / th.C_P
        Tm = 0.5 * (T0 + Ts)
        Tv = Tm * (1.0 + self.qv / th.EPS) / (1.0 + self.qt)
        p1 = float(th.hydrostatic_pressure(p0, Tv, dz))
        pm = float(np.sqrt(p0 * p1))
        # 2. condensation with latent heating, trapezoidal in S, fitted theta-method in the growth law
        #    (:func:`clouds._kernels.parcel.grow_uniform_d`); G and A at
        #    the mid-step state
        if self.kinetic:
            G = np.ascontiguousarray(growth.growth_parameter(Tm, pm, r=np.maximum(self.pop.r, 1e-9), kinetic=True,
                                                             alpha_c=self.alpha_c, alpha_t=self.alpha_t))
        else:
            G = np.array([float(growth.growth_parameter(Tm, pm))])
        A = float(koehler.curvature_A(Tm)) if self.curvature else 0.0
        pop = self.pop
        rw = np.empty_like(pop.r)
        ql0 = self.qt - self.qv
        S0 = self.S
        if self.eh is not None:
            tau = self.phase_relaxation_time() if ql0 > 0 else 1e30
            noise = self._rng.standard_normal(len(pop))
            K.ou_step(self.w_prime, self.S_prime, dt, self.eh.tau_t, self.eh.sigma_w,
                      float(growth.A1(Tm)), min(tau, 1e30), noise)
        coef = (4.0 / 3.0) * np.pi * th.RHO_W

        def thermo_state(dql):
            # c_p (T1 - Ts) = L(T_half) dql with T_half = (T0 + T1) / 2: L linear in T, so the
            # fixed point converges by a factor |dL/dT dql / (2 c_p)| < 1e-4 per iteration
            qv1 = self.qv - dql
            T1 = Ts
            for _ in range(3):
                T1 = Ts + th.latent_heat_linear(0.5 * (T0 + T1)) * dql / th.C_P
            return qv1, T1, th.supersaturation_pqT(p1, T1, max(qv1, 0.0))

        def state(S_eff):
            dm, ddm = K.grow_uniform_d(pop.r, pop.r_dry, pop.kappa, self.S_prime, S_eff, G, A, dt, pop.n, rw)
            if self._size > 1:
                dm, ddm = gpu.allreduce_sum(self.comm, np.array([dm, ddm]))
            return coef * dm, coef * ddm

        # Newton on g(S) = S - (S0 + S1(S)) / 2 with the analytic droplet derivative;
        # dS1/dq_l by a centred difference of the (cheap) thermodynamic map
        # predictor: last step's offset S_eff - S0 (smooth in time), else the no-condensation mean
        if self._dS_eff is not None:
            S_eff = S0 + (2 * self._dS_eff - self._dS_eff_old if self._dS_eff_old is not None else self._dS_eff)
        else:
            S_eff = float(th.supersaturation_pqT(p1, Ts, self.qv)) * 0.5 + 0.5 * S0
        h = 1e-9
        dS1_dql = (thermo_state(h)[2] - thermo_state(-h)[2]) / (2 * h)
        converged = False
        for _ in range(30):
            dql, ddql = state(S_eff)
            gval = S_eff - 0.5 * (S0 + thermo_state(dql)[2])
            gder = 1.0 - 0.5 * dS1_dql * ddql
            step = gval / gder
            # |S error| < 1e-11 + 1e-8 |S|: far below any physical relevance; water is conserved
            # exactly whatever the tolerance (q_v is diagnosed from q_t)
            if abs(step) < 1e-11 + 1e-8 * abs(S_eff):
                converged = True      # rw already holds the radii grown at this S_eff
                break
            S_eff -= step
        if not converged:  # pragma: no cover - safeguard; Newton on a monotone g converges
            S_eff = self._bracketed_solve(S0, state, thermo_state, S_eff)
            state(S_eff)
        self._dS_eff_old, self._dS_eff = self._dS_eff, S_eff - S0
        # commit: q_v diagnosed from the conserved total water
        pop.r[:] = rw
        self.qv = self.qt - self._ql()
        self.T = float(thermo_state((self.qt - self.qv) - ql0)[1])
        self.p = p1
        self.S = float(th.supersaturation(self.p, self.T, self.qv))
        self.z += dz
        self.t += dt

    def run(self, t_end, record_every=1, progress=False):
        """Integrate to time t_end [s] exactly; returns the history dict of arrays.

        Whole steps of ``dt``, then one shorter step that lands on ``t_end`` when it is not a
        multiple of ``dt`` away. When the state leaves the range of the formulas (temperature
        outside :data:`clouds.thermo.T_VALID_K`) a :class:`clouds.thermo.ValidityWarning` is issued
        once per run, with the numbers, and kept in :attr:`warnings` (and in :meth:`summary`).
        """
        t_end = check_arg("t_end", _si(t_end, "s", "t_end"))
        dt = self.dt
        remaining = t_end - self.t
        if not remaining > 1e-9 * dt:
            raise ConfigError(f"t_end = {t_end:g} s is not after the parcel's current time {self.t:g} s "
                              f"(dt = {dt:g} s): there is nothing to run")
        n_full = int(np.floor(remaining / dt + 1e-9))
        rest = remaining - n_full * dt
        n = n_full + (1 if rest > 1e-9 * dt else 0)
        self._check_validity()
        it = gpu.progress(range(n), desc="parcel", comm=self.comm, quiet=not progress)
        for i in it:
            if i == n_full:            # the shorter last step, measured from the time reached
                self.dt = t_end - self.t
                try:
                    self.step()
                finally:
                    self.dt = dt
            else:
                self.step()
            if i == n - 1:
                self.t = t_end         # no round-off drift of the summed steps at the end
            self._check_validity()
            if (i + 1) % record_every == 0 or i == n - 1:
                self._record()
        return {k: np.array(v) for k, v in self.history.items()}

    #: the run stops (ConfigError) below this temperature [K]: one more step (at most 500 m of dry
    #: ascent at the largest allowed w and dt, ~5 K) must stay above the 150 K where the
    #: thermodynamic functions of clouds.thermo refuse to evaluate
    T_STOP = 160.0

    def _check_validity(self):
        """Warn once per run (and remember) when the temperature leaves the formulas' range; stop
        with a ConfigError naming the inputs before it leaves the thermodynamic functions' domain."""
        import warnings

        if np.isfinite(self.T) and not self.T > self.T_STOP:
            raise ConfigError(f"the parcel cooled to T = {self.T:.1f} K at t = {self.t:g} s (height {self.z:.0f} m, "
                              f"p = {self.p / 100:.0f} hPa), below {self.T_STOP:g} K where the model's thermodynamics "
                              "end; shorten the run (t_end) or lower the updraft (w)")
        self.warnings = getattr(self, "warnings", [])
        if any(w.startswith("parcel temperature") for w in self.warnings):
            return
        msg = th.temperature_range_message(self.T, "parcel temperature T")
        if msg is not None:
            msg += f" (at t = {self.t:g} s, height z = {self.z:.0f} m, p = {self.p / 100:.0f} hPa)"
            self.warnings.append(msg)
            if getattr(self.comm, "rank", 0) == 0:
                warnings.warn(msg, th.ValidityWarning, stacklevel=3)

    def check_result(self):
        """The model's own checks after a run: None if they pass, else the reason (a string).

        Fails on non-finite history values or radii, and on a total-water drift larger than
        1e-12 kg/kg (q_v is diagnosed from the conserved q_t, so the drift is round-off).
        """
        bad = sorted(k for k, v in self.history.items() if not np.all(np.isfinite(np.asarray(v, dtype=float))))
        r, n = self.spectrum()
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(n))):
            bad.append("radius")
        if bad:
            return f"non-finite values in the parcel solution ({', '.join(bad)}) at t = {self.t:g} s; reduce dt"
        drift = abs(self.qv + self._ql() - self.qt)
        if not drift <= 1e-12:
            return f"water budget check failed: total water drifted by {drift:.3g} kg/kg (allowed 1e-12)"
        return None

    def spectrum(self):
        """Gathered (radius [m], multiplicity per kg) of all superdroplets."""
        if getattr(self.comm, "size", 1) == 1:
            return self.pop.r.copy(), self.pop.n.copy()
        parts = self.comm.allgather((self.pop.r, self.pop.n))
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])

    def summary(self):
        h = {k: np.array(v) for k, v in self.history.items()}
        r, n = self.spectrum()
        i = int(np.argmax(h["S"]))
        return {"S_max_percent": 100 * float(h["S"][i]), "t_S_max_s": float(h["t"][i]),
                "z_S_max_m": float(h["z"][i]),
                "final": {"t_s": float(h["t"][-1]), "S_percent": 100 * float(h["S"][-1]),
                          "T_K": float(h["T"][-1]), "p_Pa": float(h["p"][-1]),
                          "ql_g_per_kg": 1e3 * float(h["ql"][-1]),
                          "r_mean_um": 1e6 * float(h["r_mean"][-1]),
                          "relative_dispersion": float(h["epsilon"][-1]),
                          "growth_coefficient_cm_s": diagnostics.growth_coefficient(r, self.T, self.p, n),
                          "effective_radius_um": 1e6 * diagnostics.effective_radius(r, n)},
                "total_water_drift": float(self.qv + self._ql() - self.qt),
                "warnings": list(getattr(self, "warnings", []))}


# ---------------------------------------------------------------------------- configuration

@dataclasses.dataclass
class ParcelSection:
    p_hPa: float = param(900.0, gt=100, lt=1100, doc="initial pressure [hPa]")
    T_K: float = param(285.0, gt=200, lt=330, doc="initial temperature [K]")
    w: float = param(1.0, ge=0, le=50, doc="updraft [m/s]; 50 m/s is about the strongest updraft observed in "
                                           "deep convection (Houze 2014, Cloud Dynamics, 2nd ed.); a run that "
                                           "leaves the formulas' temperature range is warned about")
    rh: float = param(1.0, ge=0, le=1.2, doc="initial relative humidity")
    dt: float = param(0.1, gt=0, le=10, doc="time step [s]")
    t_end: float = param(300.0, gt=0, doc="end time [s], reached exactly (shorter last step)")
    curvature: bool = param(True, doc="Kelvin term in the growth law")


@dataclasses.dataclass
class SpectrumSection:
    kind: str = param("lognormal", choices=("lognormal", "gamma", "monodisperse", "observed"))
    N_cm3: float = param(100.0, gt=0, doc="number concentration at the initial state [cm^-3]")
    r_um: float = param(0.05, gt=0, doc="lognormal median dry radius / gamma or monodisperse mean radius [um]")
    sigma_g: float = param(1.5, gt=1, doc="lognormal geometric standard deviation")
    shape: float = param(50.0, gt=0, doc="gamma shape (dispersion 1/sqrt(shape))")
    kappa: float = param(0.6, ge=0, le=1.5, doc="hygroscopicity")
    r_dry_um: float = param(0.0, ge=0, doc="dry radius of droplet spectra (gamma/monodisperse/observed) [um]")
    n_sd: int = param(256, ge=1, doc="number of superdroplets")
    file: str = param("", doc="observed spectrum file (clouds.observations layout); '' = shipped synthetic")
    time_index: int = param(0, ge=0, doc="time row of the observed spectrum")


@dataclasses.dataclass
class EddySection:
    enabled: bool = param(False)
    epsilon: float = param(0.01, gt=0, doc="TKE dissipation rate [m^2/s^3]")
    length: float = param(50.0, gt=0, doc="eddy scale [m]")
    seed: int = param(0, ge=0)


@dataclasses.dataclass
class ParcelConfig:
    """``python -m clouds parcel`` config: sections [parcel], [spectrum], [eddy_hopping]."""

    parcel: ParcelSection = dataclasses.field(default_factory=ParcelSection)
    spectrum: SpectrumSection = dataclasses.field(default_factory=SpectrumSection)
    eddy_hopping: EddySection = dataclasses.field(default_factory=EddySection)


def _model_from_config(cfg, comm=None) -> ParcelModel:
    from . import droplets

    if not isinstance(cfg, ParcelConfig):
        cfg = load_config(cfg, ParcelConfig)
    P, S = cfg.parcel, cfg.spectrum
    p, T = P.p_hPa * 100.0, P.T_K
    qv = float(th.mixing_ratio_from_rh(p, T, P.rh))
    rho_d = float(th.dry_air_density(p, T, qv))
    N = S.N_cm3 * 1e6
    if S.kind == "lognormal":
        rd, n = droplets.lognormal(N, S.r_um * 1e-6, S.sigma_g, S.n_sd)
        r = droplets.equilibrium_radii(min(P.rh - 1.0, 0.0), rd, S.kappa, T) if S.kappa > 0 else rd
        pop = droplets.Population(r, rd, S.kappa, n / rho_d)
    else:
        if S.kind == "gamma":
            r, n = droplets.gamma(N, S.r_um * 1e-6, S.shape, S.n_sd)
        elif S.kind == "monodisperse":
            r, n = np.full(1, S.r_um * 1e-6), np.full(1, N)
        else:
            from .observations import SYNTHETIC, read_spectrum

            obs = read_spectrum(S.file or SYNTHETIC)
            if S.time_index >= obs.concentration.shape[0]:
                raise ConfigError(f"config key 'spectrum.time_index' = {S.time_index} is out of range; the "
                                  f"spectrum file has {obs.concentration.shape[0]} time rows (0..."
                                  f"{obs.concentration.shape[0] - 1})")
            r, n = droplets.from_histogram(obs.edges, obs.concentration[S.time_index],
                                           n_per_bin=max(1, S.n_sd // (obs.edges.size - 1)))
        if S.r_dry_um * 1e-6 >= float(np.min(r)):
            raise ConfigError(f"config key 'spectrum.r_dry_um' = {S.r_dry_um:g} must be below the smallest droplet "
                              f"radius of the '{S.kind}' spectrum ({float(np.min(r)) * 1e6:.3g} um; "
                              f"spectrum.r_um = {S.r_um:g})")
        pop = droplets.Population(r, S.r_dry_um * 1e-6, S.kappa if S.r_dry_um > 0 else 0.0, n / rho_d)
    eh = EddyHopping(cfg.eddy_hopping.epsilon, cfg.eddy_hopping.length, cfg.eddy_hopping.seed) \
        if cfg.eddy_hopping.enabled else None
    return ParcelModel(p, T, P.w, pop, rh=P.rh, dt=P.dt, curvature=P.curvature, eddy_hopping=eh, comm=comm)

"""Eulerian-Lagrangian DNS: pseudo-spectral Boussinesq turbulence carrying Lagrangian cloud droplets.

Model (Vaillancourt et al. 2001 JAS 58:1945; Kumar, Schumacher & Shaw 2014 JAS 71:2564;
Götzfried et al. 2017 JFM 814:452; Bhowmik et al. arXiv:2303.00987), triply periodic cube of side L::

    du/dt + (u . grad) u = -grad p + nu lap u + B e_z + f,      div u = 0,
    B = g [ theta / T0 + 0.608 (q_v - <q_v>) - q_l ],
    dtheta/dt + div(u theta) = kappa lap theta + (L0 / c_p) C_d,
    dq_v/dt  + div(u q_v)   = D lap q_v - C_d,

optionally (``thermo.lapse``) with the adiabatic term -(g/c_p) w in the theta equation and the
vertical displacement zeta of the fluid,

    dzeta/dt + div(u zeta) = kappa lap zeta + w,

which sets the local pressure p = p0 exp(-g zeta / (R_d T0)) (hydrostatic, dp/dz = -rho g) used in
the supersaturation S = e(p, q_v) / e_s(T) - 1. Together they tie supersaturation fluctuations to
vertical velocity as in a rising cloud volume, dS/dt = A1 w with the full A1 = g/(R_d T) (L R_d /
(c_p R_v T) - 1) of Rogers & Yau (1989, eq. 7.23) (Götzfried et al. 2017; Sardina et al. 2015, there as
dS'/dt = A1 w - S'/tau_phase); without the pressure term the coupling would be L R_d / (c_p R_v T) /
(L R_d / (c_p R_v T) - 1) ~ 1.23 times too strong. zeta diffuses with kappa so that theta + (g/c_p)
zeta, the dry static energy, is a passive scalar away from droplets, exactly as theta without lapse.
With a mean updraft W (``thermo.updraft``) the box rises as a whole: w becomes w + W in the theta and
zeta sources, so the box mean of zeta grows as W t and that of theta falls at g W / c_p (the dry
adiabat) while the mean supersaturation rises at ~A1 W; together with aerosol that starts as haze
(``droplets.init = "aerosol"``: a lognormal dry aerosol at its kappa-Köhler equilibrium below
saturation) this is an adiabatic parcel resolved by the DNS, in which activation - including secondary
activation by supersaturation fluctuations - follows from the growth law at the local S. The
thermodynamic constants stay those of (T0, p0) (Boussinesq), which limits an ascent to a few hundred
metres; at rest the DNS reproduces the parcel model's activation (tests/clouds/test_dns_activation.py:
S_max within 0.2 %, N_c within 1 % with ~8 superdroplets per cell).

with theta = T - T0 and C_d the condensation rate per unit mass of air, obtained by depositing
each droplet's water-mass change onto the grid with cloud-in-cell (trilinear) weights — the
adjoint of the trilinear interpolation used to sample u, theta and q_v at droplets. Latent heat
is the constant L0 = L(T0) (Boussinesq), so c_p <theta> + g <zeta> + L0 (<q_v> + q_l) and total water
are conserved exactly in the closed box (tests check both to round-off).

Open box (statistically steady state). A closed box has no steady droplet population: evaporation
relaxes it to one humidity, the cloud in dry air evaporates, and without sources and sinks the size
variance grows without bound (Sardina et al. 2015, PRL 115:184501). Two optional sources open it:
``thermo.relax_time`` tau_r relaxes theta, q_v (and zeta) towards the initial profile,
d phi / dt = ... - (phi - phi_e) / tau_r (entrainment of cloudy and environmental air at the
fractional rate 1 / tau_r; :meth:`DNS._relax_scalars`), and ``droplets.renew_radius`` replaces droplets
that evaporate below it by fresh droplets from the initial spectrum at random positions in the cloud
(:meth:`DNS._renew_droplets`; the sources and sinks of a steady cloud-chamber population, Chandrakar
et al. 2016, Krueger 2020). Both are operator split after the flow step, and the water and moist static
energy they add are accumulated (:attr:`DNS.sources`, history ``water_source_kg``, ``mse_source_J``),
so the budgets stay checked to round-off: total water minus the water source is conserved
(tests/clouds/test_dns_steady.py).

Numerics
--------
* Fourier pseudo-spectral, 2/3 dealiasing (Orszag 1971), rotational form u x omega for the
  momentum, flux form div(u q) for scalars (so the mean of every scalar is untouched by
  transport), Leray projection for pressure.
* Time stepping: Lawson integrating-factor form of Kutta's third-order Runge-Kutta — diffusion
  exactly through exp(-nu k^2 t), only forward exponentials. NumPy fields: the stage values and the
  Fourier-space terms (buoyancy, dealiasing + projection, flux divergence) are one Numba pass each
  (:mod:`clouds._kernels.lawson`, :mod:`clouds._kernels.fourier_terms`); CuPy fields take the same
  operations as array expressions (both give the same numbers, tests/clouds/test_dns_rhs.py).
* Forcing: fixed-power forcing of the modes 0 < |k| <= k_f, f_k = epsilon_f u_k / (2 E_f)
  (Alvelius 1999-type; injects exactly epsilon_f per unit mass), so the dissipation rate
  settles at the target epsilon_f.
* Droplets: per step (operator split) interpolate, grow implicitly at the local S with
  kappa-Köhler (:func:`clouds._kernels.droplets.implicit_radius`), feed back -dm to q_v and
  L0 dm / c_p to theta, move as tracers (Heun) or with Stokes drag and settling
  (exact exponential for frozen fluid velocity, tau_p = 2 rho_w r^2 / (9 rho_a nu)). Tracers on one
  rank or with replicated fields take all of this in one pass over the droplets
  (:func:`clouds._kernels.droplets.droplet_pass`), bit for bit the separate kernels' result.
* MPI: droplets are distributed over ranks in index blocks; the deposited source fields and all
  droplet sums are combined with Allreduce and every rank advances the (replicated) spectral
  fields, so results agree with the serial run to round-off.
* GPU (``run.backend = "cuda"``, one rank): the spectral fields are CuPy arrays (FFTs through
  :mod:`clouds.spectral` and ``gpu.xp``) and the droplets live on the device in structure-of-arrays
  layout, stepped by the ``numba.cuda`` kernels of :mod:`clouds._kernels.cuda_droplets`, which take
  the CuPy fields through ``__cuda_array_interface__``: a step moves no array between host and device
  (the CFL check reads three maxima). Droplet arrays (``pos``, ``r``, ...) are copied to the host only
  when read (diagnostics, output), as read-only snapshots; assigning a new array uploads it at the
  next step. ``"auto"`` picks CUDA when :func:`gpu.available` (logged once). Under
  ``NUMBA_ENABLE_CUDASIM=1`` without a device, ``"cuda"`` runs the droplet kernels in numba's CUDA
  simulator with NumPy FFTs (copying the fields each step): a test mode, not a fast path.
"""
from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

import gpu
from gpu.config import ConfigError, check_arg, load_config, param, to_dict

from . import drag
from . import droplets as dmod
from . import growth, koehler
from . import thermo as th
from ._kernels import droplets as K
from .spectral import Spectral

log = logging.getLogger(__name__)


#: droplet arrays that the "cuda" backend keeps on the device
_DEVICE_STATE = ("pos", "vel", "r", "rd", "kap", "mult")


def _resolve_backend(name, nranks):
    """(droplet backend, FFT backend) for ``run.backend``: ("cpu", "cpu") or ("cuda", "cuda"); under
    the CUDA simulator without a usable GPU, "cuda" gives ("cuda", "cpu") (kernels simulated, NumPy FFTs)."""
    from gpu.cuda import simulator_enabled

    if name == "cuda" and simulator_enabled() and not gpu.available():
        backend, fft = "cuda", "cpu"
    else:
        backend = gpu.get_backend(name)
        fft = backend
    if backend == "cuda" and nranks > 1:
        raise ConfigError(f"config key 'run.backend' = {name!r} selects the GPU, which runs on one MPI rank "
                          f"(got {nranks}); use run.backend = 'cpu' under MPI")
    return backend, fft


class CFLError(ConfigError):
    """The time step violates the advective CFL limit (an input error: run.dt is too large)."""


@dataclasses.dataclass
class GridConfig:
    n: int = param(32, ge=8, doc="grid points per direction (even)")
    box: float = param(0.2, gt=0, doc="box side L [m]")


@dataclasses.dataclass
class FluidConfig:
    nu: float = param(1.5e-5, gt=0, doc="kinematic viscosity [m^2/s]")
    kappa: float = param(2.1e-5, gt=0, doc="thermal diffusivity [m^2/s]")
    diffusivity: float = param(2.55e-5, gt=0, doc="vapour diffusivity [m^2/s]")
    u_rms: float = param(0.0, ge=0, doc="rms velocity of the random initial field [m/s]")
    buoyancy: bool = param(True, doc="include B e_z in the momentum equation")


@dataclasses.dataclass
class ForcingConfig:
    epsilon: float = param(0.0, ge=0, doc="target energy dissipation rate [m^2/s^3]; 0 = decaying")
    k_f: float = param(2.5, gt=0, doc="forced shell |k| <= k_f (units of 2 pi / L)")


@dataclasses.dataclass
class ThermoConfig:
    T0: float = param(283.15, gt=200, lt=330, doc="reference temperature [K]")
    p0: float = param(9.0e4, gt=1e4, lt=1.2e5, doc="pressure [Pa]")
    setup: str = param("homogeneous", choices=("homogeneous", "slab"), doc="initial condition")
    rh_cloud: float = param(1.0, ge=0, le=1.1, doc="relative humidity in the cloud")
    rh_clear: float = param(0.7, ge=0, le=1.1, doc="relative humidity of the clear air (slab)")
    slab_fraction: float = param(0.4, gt=0, lt=1, doc="fraction of the box (in x) that is cloudy")
    lapse: bool = param(False, doc="adiabatic term -(g/c_p) w in the temperature equation and the hydrostatic "
                                   "pressure of vertically displaced fluid in S (rising box; Götzfried et al. "
                                   "2017, Sardina et al. 2015): S fluctuations follow A1 w")
    updraft: float = param(0.0, ge=0, le=20.0,
                           doc="mean updraft W [m/s] of the box (needs lapse): the box rises as a parcel, "
                               "its mean displacement grows as W t, the mean temperature falls at g W / c_p "
                               "and the mean supersaturation rises at ~A1 W (aerosol activation in the DNS)")

    relax_time: float = param(0.0, ge=0, doc="relaxation time tau_r [s] of theta, q_v (and zeta) towards the initial "
                                               "profile (the cloud core saturated, the clear air at rh_clear): "
                                               "entrainment of fresh cloudy and environmental air that keeps the "
                                               "humidity statistically steady; 0 = closed box")

    def check_config(self, prefix=""):
        if self.updraft > 0 and not self.lapse:
            raise ConfigError(f"config key '{prefix}updraft' = {self.updraft:g} m/s needs '{prefix}lapse' = true "
                              "(the mean ascent acts through the adiabatic term and the hydrostatic pressure)")


@dataclasses.dataclass
class DropletConfig:
    n_droplets: int = param(1000, ge=0, doc="number of (super)droplets")
    N_c: float = param(1e8, ge=0, doc="droplet number concentration in the cloud [m^-3]")
    r_mean: float = param(10e-6, gt=0, doc="mean initial radius [m]")
    shape: float = param(100.0, gt=0, doc="gamma shape of the initial spectrum (dispersion 1/sqrt(shape))")
    r_dry: float = param(0.05e-6, ge=0, doc="dry (CCN) radius [m]")
    kappa: float = param(0.6, ge=0, le=1.5, doc="CCN hygroscopicity")
    inertial: bool = param(False, doc="Stokes drag and settling (else tracers)")
    settling: bool = param(True, doc="gravitational settling for inertial droplets")
    spectrum_file: str = param("", doc="observed spectrum (clouds.observations layout) to sample radii from")
    spectrum_time: int = param(0, ge=0, doc="time row of the spectrum file")
    init: str = param("spectrum", choices=("spectrum", "aerosol"),
                      doc="spectrum: cloud droplets from the gamma spectrum (or spectrum_file); aerosol: "
                          "unactivated haze, a lognormal dry aerosol (median r_dry, sigma_g; N_c is then the "
                          "aerosol number concentration) at its kappa-Koehler equilibrium in the initial "
                          "humidity (below saturation), activated by the flow and thermo.updraft")
    sigma_g: float = param(1.6, gt=1.0, le=4.0, doc="geometric standard deviation of the dry aerosol (init = aerosol)")
    renew_radius: float = param(0.0, ge=0, doc="droplets that evaporate below this radius [m] are replaced by fresh ones "
                                               "from the initial spectrum at random positions in the cloud (droplet "
                                               "renewal, needed for a statistically steady spectrum); 0 = never")

    def check_config(self, prefix=""):
        if self.init == "aerosol" and not self.r_dry > 0:
            raise ConfigError(f"config key '{prefix}r_dry' must be > 0 m with '{prefix}init' = 'aerosol' "
                              "(it is the median dry radius)")
        if self.init == "aerosol" and not self.kappa > 0:
            raise ConfigError(f"config key '{prefix}kappa' must be > 0 with '{prefix}init' = 'aerosol'")
        if self.init == "aerosol" and self.spectrum_file:
            raise ConfigError(f"config keys '{prefix}init' = 'aerosol' and '{prefix}spectrum_file' exclude each other")
        if self.renew_radius > 0 and self.init == "aerosol":
            raise ConfigError(f"config key '{prefix}renew_radius' > 0 needs '{prefix}init' = 'spectrum' (renewed "
                              "droplets are drawn from the cloud-droplet spectrum; haze is below any renewal radius)")
        if self.renew_radius > 0 and not self.spectrum_file and not self.renew_radius < 0.5 * self.r_mean:
            raise ConfigError(f"config key '{prefix}renew_radius' = {self.renew_radius:g} m must be < r_mean / 2 = "
                              f"{0.5 * self.r_mean:g} m (else fresh droplets are renewed at once)")


@dataclasses.dataclass
class RunConfig:
    dt: float = param(2e-3, gt=0, doc="time step [s]")
    t_end: float = param(1.0, gt=0, doc="end time [s], reached exactly: a last step shorter than run.dt lands on it")
    cfl_max: float = param(1.0, gt=0, le=2.0, doc="largest allowed advective CFL number")
    diag_every: int = param(10, ge=1, doc="steps between diagnostics")
    checkpoint_every: int = param(0, ge=0, doc="steps between restart files (0 = none); written to a separate "
                                              "checkpoint file, never under the final result's name")
    seed: int = param(1, ge=0)
    backend: str = param("cpu", choices=("cpu", "cuda", "auto"),
                         doc="cuda: fields (CuPy) and droplets (numba.cuda) on the GPU, one MPI rank; auto: cuda "
                             "when a GPU is usable, else cpu")
    decomposition: str = param("slab", choices=("slab", "replicated"),
                               doc="MPI: slab-decomposed FFT grid with droplets exchanged by slab, or the "
                                   "grid replicated on every rank with droplets split by index")


#: units of the diagnostics of :meth:`DNS.diagnostics` (the ``history/*`` datasets)
HISTORY_UNITS = {"t": "s", "energy": "m^2/s^2", "dissipation": "m^2/s^3", "theta_var": "K^2", "q_var": "(kg/kg)^2",
                 "theta_mean": "K", "q_mean": "kg/kg", "r_mean": "m", "r_std": "m", "relative_dispersion": "1",
                 "N_c": "m^-3", "lwc": "kg/m^3", "effective_radius": "m", "growth_coefficient_cm_s": "cm/s",
                 "water_kg": "kg", "mse_J": "J", "S_mean": "1", "N_act": "m^-3", "z_mean": "m",
                 "water_source_kg": "kg", "mse_source_J": "J", "renewed": "1"}


@dataclasses.dataclass
class DNSConfig:
    grid: GridConfig = dataclasses.field(default_factory=GridConfig)
    fluid: FluidConfig = dataclasses.field(default_factory=FluidConfig)
    forcing: ForcingConfig = dataclasses.field(default_factory=ForcingConfig)
    thermo: ThermoConfig = dataclasses.field(default_factory=ThermoConfig)
    droplets: DropletConfig = dataclasses.field(default_factory=DropletConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    def check_config(self, prefix=""):
        if self.droplets.init == "aerosol" and not self.thermo.rh_cloud < 1.0:
            raise ConfigError(f"config key '{prefix}thermo.rh_cloud' = {self.thermo.rh_cloud:g} must be < 1 with "
                              f"'{prefix}droplets.init' = 'aerosol' (the haze starts in equilibrium below saturation)")


def make_config(source=None, **sections) -> DNSConfig:
    """DNSConfig from a TOML path/text/dict, with optional ``section={key: value}`` overrides."""
    data = {}
    if source is not None:
        cfg = load_config(source, DNSConfig)
        data = to_dict(cfg)
    for sec, vals in sections.items():
        if sec not in {f.name for f in dataclasses.fields(DNSConfig)}:
            raise ConfigError(f"unknown config section '{sec}'")
        data.setdefault(sec, {}).update(vals)
    return load_config(data, DNSConfig)


class DNS:
    """Eulerian-Lagrangian cloud DNS (see module docstring). ``DNS(config, comm=None)``."""

    def __init__(self, config: DNSConfig | dict | str | None = None, comm=None, config_text=None, _init=True):
        if not isinstance(config, DNSConfig):
            config = make_config(config)
        self.cfg = c = config
        self.config_text = config_text
        if c.grid.n % 2:
            raise ConfigError(f"config key 'grid.n' = {c.grid.n} must be even")
        self.comm = gpu.get_comm(comm)
        self.rank, self.size = getattr(self.comm, "rank", 0), getattr(self.comm, "size", 1)
        self.slab = self.size > 1 and c.run.decomposition == "slab"
        self.backend, fft_backend = _resolve_backend(c.run.backend, self.size)
        if self.slab and c.droplets.renew_radius > 0 and c.droplets.inertial:
            raise ConfigError("config key 'droplets.renew_radius' > 0 with inertial droplets needs "
                              "run.decomposition = 'replicated' under MPI (fresh droplets start at the fluid velocity)")
        #: device droplet arrays (backend "cuda", after the first step); None when the host arrays are current
        self._dev = None
        self._snap = {}
        if self.slab:
            from .spectral import SlabSpectral

            self.sp = SlabSpectral((c.grid.n,) * 3, (c.grid.box,) * 3, self.comm, backend=fft_backend)
            if self.sp.nxl < 3:
                raise ConfigError(f"config key 'grid.n' = {c.grid.n} gives {self.sp.nxl} x planes per rank on "
                                  f"{self.size} ranks; slabs need >= 3 (or use run.decomposition = 'replicated')")
        else:
            self.sp = Spectral((c.grid.n,) * 3, (c.grid.box,) * 3, backend=fft_backend)
        self.xp = self.sp.xp
        self.t = 0.0
        self.nstep = 0
        self.T0, self.p0 = c.thermo.T0, c.thermo.p0
        self.L0 = float(th.latent_heat(self.T0))
        self.qvs0 = float(th.saturation_mixing_ratio(self.p0, self.T0))
        self.rho = float(th.dry_air_density(self.p0, self.T0, self.qvs0))
        self.cell_volume = float(np.prod(self.sp.dx))
        self.G0 = float(growth.growth_parameter(self.T0, self.p0))
        self.A0 = float(koehler.curvature_A(self.T0))
        self.history: dict[str, list] = {}
        #: spectral vertical displacement zeta (``thermo.lapse`` only; None otherwise)
        self.zh = None
        self.timing = {"fluid": 0.0, "interpolate": 0.0, "growth": 0.0, "move": 0.0, "deposit": 0.0}
        if _init:
            self._init_fields()
            self._init_droplets()
            self.ql_grid = self._liquid_grid()

    # ------------------------------------------------------------------ initial conditions
    def _init_fields(self):
        c, sp, xp = self.cfg, self.sp, self.xp
        n = c.grid.n
        rng = np.random.default_rng(c.run.seed)
        uh = xp.zeros((3,) + sp.kx.shape[:1] + sp.ky.shape[1:2] + sp.kz.shape[2:], dtype=complex)
        if c.fluid.u_rms > 0:
            noise = xp.asarray(rng.standard_normal((3, n, n, n))[:, sp.x_lo:sp.x_hi])
            uh = xp.stack([sp.forward(noise[i]) for i in range(3)])
            k0 = 2 * np.pi / c.grid.box
            kp = 3.0 * k0
            amp = (sp.kmag / kp) ** 2 * xp.exp(-((sp.kmag / kp) ** 2))  # E(k) ~ k^4 exp(-2 (k/kp)^2)
            uh = uh * amp * sp.dealias
            uh = sp.project(uh)
            if sp.owns_k0:
                uh[:, 0, 0, 0] = 0
            uh *= c.fluid.u_rms / math.sqrt(2 * sp.energy(uh) / 3.0)
        self.uh = uh
        self.thh = sp.forward(xp.zeros(sp.local_shape))
        self.qh = self._initial_qh()
        self.zh = sp.forward(xp.zeros(sp.local_shape)) if c.thermo.lapse else None

    def _initial_qh(self):
        """Spectral q_v of the initial state (``thermo.setup``): uniform rh_cloud, or the cloud slab at
        rh_cloud in clear air at rh_clear with tanh edges two cells wide; dealiased. Also the target of
        the relaxation (``thermo.relax_time``)."""
        c, sp, xp = self.cfg, self.sp, self.xp
        n = c.grid.n
        x = (np.arange(n) + 0.0) * sp.dx[0]
        if c.thermo.setup == "slab":
            L = c.grid.box
            half = 0.5 * c.thermo.slab_fraction * L
            width = 2.0 * sp.dx[0]
            prof = 0.5 * (np.tanh((x - (0.5 * L - half)) / width) - np.tanh((x - (0.5 * L + half)) / width))
            rh = c.thermo.rh_clear + (c.thermo.rh_cloud - c.thermo.rh_clear) * prof
        else:
            rh = np.full(n, c.thermo.rh_cloud)
        q1 = th.mixing_ratio_from_rh(self.p0, self.T0, rh)
        q = np.broadcast_to(q1[sp.x_lo:sp.x_hi, None, None], sp.local_shape).copy()
        return sp.forward(xp.asarray(q)) * sp.dealias

    @property
    def _one_hat(self):
        """Spectral coefficients of the field 1 (non-zero at k = 0 only, on the rank owning it): the
        source of the box-mean updraft terms."""
        if getattr(self, "_one_hat_cache", None) is None:
            self._one_hat_cache = self.sp.forward(self.xp.ones(self.sp.local_shape))
        return self._one_hat_cache

    def _init_droplets(self):
        c = self.cfg
        d = c.droplets
        rng = np.random.default_rng(c.run.seed + 12345)
        m = d.n_droplets
        L = c.grid.box
        if c.thermo.setup == "slab":
            cloud_vol = c.thermo.slab_fraction * L ** 3
        else:
            cloud_vol = L ** 3
        rd = np.full(m, d.r_dry)
        if d.init == "aerosol":
            # deterministic lognormal sampling: superdroplet i holds the aerosol of its log-radius bin, at
            # its stable kappa-Koehler equilibrium in the initial humidity (as clouds.dispersion.ascent)
            rd, mult = dmod.lognormal(d.N_c * cloud_vol, d.r_dry, d.sigma_g, m) if m else (rd, np.zeros(0))
            r = dmod.equilibrium_radii(np.full(m, c.thermo.rh_cloud - 1.0), rd, d.kappa, self.T0) if m else rd
        else:
            r = self._spectrum_radii(m, rng)
            mult = np.full(m, d.N_c * cloud_vol / max(m, 1))
        r = np.maximum(r, rd * 1.0001 + 1e-12)
        pos = self._cloud_positions(m, rng)
        mine = self._owned(pos)
        self.pos = np.ascontiguousarray(pos[mine])
        self.r = np.ascontiguousarray(r[mine])
        k = self.r.size
        self.rd = np.ascontiguousarray(rd[mine])
        self.kap = np.full(k, d.kappa)
        self.mult = np.ascontiguousarray(mult[mine])
        dmod.validate(self.r, self.rd, self.kap, self.mult)
        self.vel = np.zeros_like(self.pos)
        u, nxg, xoff = self._ghosted(self._physical())
        if len(self.r):
            vals = np.empty((len(self.r), u.shape[0]))
            K.interpolate(u, self.pos, self.sp.dx, vals, nxg, xoff)
            self.vel[:] = vals[:, :3]
        self.n_total = m

    def _spectrum_radii(self, m, rng):
        """m radii [m] from the cloud-droplet spectrum: ``droplets.spectrum_file`` or the gamma spectrum."""
        d = self.cfg.droplets
        if d.spectrum_file:
            from .observations import read_spectrum

            if getattr(self, "_obs_spectrum", None) is None:
                self._obs_spectrum = read_spectrum(d.spectrum_file)
            return self._obs_spectrum.sample(m, rng, time_index=d.spectrum_time)
        return rng.gamma(d.shape, d.r_mean / d.shape, size=m)

    def _cloud_positions(self, m, rng):
        """m positions uniform in the cloud: the whole box, or the slab (``thermo.setup``)."""
        c = self.cfg
        L = c.grid.box
        pos = rng.random((m, 3)) * L
        if c.thermo.setup == "slab":
            pos[:, 0] = (0.5 - 0.5 * c.thermo.slab_fraction + c.thermo.slab_fraction * rng.random(m)) * L
        return pos

    # ------------------------------------------------------------------ MPI layout
    def _owner(self, pos):
        """Rank owning each position: its x slab (slab mode)."""
        sp = self.sp
        ix = np.floor(pos[:, 0] / sp.dx[0]).astype(np.int64) % self.cfg.grid.n
        return ix // sp.nxl

    def _owned(self, pos):
        """Index (mask or slice) of the droplets of the global arrays that this rank keeps."""
        if self.slab:
            return self._owner(pos) == self.rank
        lo, hi = gpu.block_range(pos.shape[0], self.size, self.rank)
        return slice(lo, hi)

    #: ghost planes below / above the slab (droplets move < 1 cell per step at CFL <= 1)
    GHOST_LO, GHOST_HI = 2, 3

    def _ghosted(self, f):
        """(array, nxg, xoff) for the interpolation kernel: the slab with ghost planes in slab mode."""
        n = self.cfg.grid.n
        if not self.slab:
            return f, n, 0
        comm, P, q = self.comm, self.size, self.rank
        lo_g, hi_g = self.GHOST_LO, self.GHOST_HI
        send_up = np.ascontiguousarray(f[:, -lo_g:])          # my top planes -> next rank's lower ghost
        send_dn = np.ascontiguousarray(f[:, :hi_g])           # my bottom planes -> previous rank's upper ghost
        recv_lo = np.empty_like(send_up)
        recv_hi = np.empty_like(send_dn)
        comm.Sendrecv(send_up, dest=(q + 1) % P, recvbuf=recv_lo, source=(q - 1) % P)
        comm.Sendrecv(send_dn, dest=(q - 1) % P, recvbuf=recv_hi, source=(q + 1) % P)
        ext = np.ascontiguousarray(np.concatenate([recv_lo, f, recv_hi], axis=1))
        return ext, n, self.sp.x_lo - lo_g

    def _deposit_grid(self):
        """(zeroed deposit array, nxg, xoff) matching :meth:`_ghosted`."""
        n = self.cfg.grid.n
        if not self.slab:
            return np.zeros((n, n, n)), n, 0
        return np.zeros((self.sp.nxl + self.GHOST_LO + self.GHOST_HI, n, n)), n, self.sp.x_lo - self.GHOST_LO

    def _fold(self, g):
        """Combine deposits: sum over ranks (replicated) or add ghost planes to their owners (slab)."""
        if not self.slab:
            return self._allsum(g)
        comm, P, q = self.comm, self.size, self.rank
        lo_g, hi_g, nxl = self.GHOST_LO, self.GHOST_HI, self.sp.nxl
        core = g[lo_g:lo_g + nxl].copy()
        up = np.ascontiguousarray(g[lo_g + nxl:])            # belongs to the next rank's first planes
        dn = np.ascontiguousarray(g[:lo_g])                  # belongs to the previous rank's last planes
        r_up = np.empty_like(up)
        r_dn = np.empty_like(dn)
        comm.Sendrecv(up, dest=(q + 1) % P, recvbuf=r_up, source=(q - 1) % P)
        comm.Sendrecv(dn, dest=(q - 1) % P, recvbuf=r_dn, source=(q + 1) % P)
        core[:hi_g] += r_up
        core[nxl - lo_g:] += r_dn
        return core

    def _migrate(self):
        """Send droplets that left this rank's slab to their new owners."""
        if not self.slab:
            return
        owner = self._owner(self.pos)
        arrays = ("pos", "vel", "r", "rd", "kap", "mult")
        out = [tuple(getattr(self, a)[owner == d] for a in arrays) for d in range(self.size)]
        got = self.comm.alltoall(out)
        for i, a in enumerate(arrays):
            setattr(self, a, np.ascontiguousarray(np.concatenate([g[i] for g in got])))

    # ------------------------------------------------------------------ helpers
    def _allsum(self, a):
        if self.size == 1:
            return a
        return gpu.allreduce_sum(self.comm, np.asarray(a))

    def _physical(self):
        """Host array (5, nx_local, n, n): u, v, w, theta, q_v in real space (this rank's slab);
        (6, ...) with the vertical displacement zeta last when ``thermo.lapse``."""
        sp = self.sp
        hats = [self.uh[0], self.uh[1], self.uh[2], self.thh, self.qh]
        if self.zh is not None:
            hats.append(self.zh)
        f = self.xp.stack([sp.inverse(h) for h in hats])
        return np.ascontiguousarray(gpu.to_host(f))

    @property
    def _iz(self):
        """Column of zeta in the interpolated fields (-1: no lapse, pressure p0)."""
        return 5 if self.zh is not None else -1

    def supersaturation(self):
        """S = e / e_s(T) - 1 on this rank's grid, with the local pressure (see module docstring)."""
        f = self._physical()
        vals = np.ascontiguousarray(f.reshape(f.shape[0], -1).T)
        out = np.empty(vals.shape[0])
        K.droplet_supersaturation(vals, self.T0, self.p0, 3, 4, self._iz, out)
        return out.reshape(f.shape[1:])

    def _droplet_supersaturation(self):
        """S at every droplet of this rank from the current fields and positions."""
        f, nxg, xoff = self._ghosted(self._physical())
        vals = np.empty((len(self.r), f.shape[0]))
        K.interpolate(f, self.pos, self.sp.dx, vals, nxg, xoff)
        out = np.empty(len(self.r))
        K.droplet_supersaturation(vals, self.T0, self.p0, 3, 4, self._iz, out)
        return out

    def _liquid_grid(self):
        """q_l per cell [kg/kg] from the droplets (cloud-in-cell)."""
        g, nxg, xoff = self._deposit_grid()
        if len(self.r):
            m = np.empty_like(self.r)
            K.liquid_mass(self.r, self.rd, self.mult, m)
            K.deposit(self.pos, m, self.sp.dx, g, nxg, xoff)
        return self._fold(g) / (self.rho * self.cell_volume)

    def _tau_p(self):
        return drag.stokes_time(self.r, self.T0)

    # ------------------------------------------------------------------ the flow right-hand side
    def _rhs(self, uh, thh, qh, Gql_hat, zh=None, u=None):
        """Right-hand sides (N_u, N_theta, N_q[, N_zeta], u) of the fields at one RK3 stage.

        ``Gql_hat`` = g (FFT q_l) dealiased; ``u`` = the real-space velocity of ``uh`` when the caller has it.
        Array operations in place where the old value is not needed (the same operations, in the same
        order, as the textbook expressions in the comments).
        """
        sp, xp, c = self.sp, self.xp, self.cfg
        if u is None:
            u = xp.stack([sp.inverse(uh[i]) for i in range(3)])
        fk = self._fourier_kernels()
        cross = xp.empty_like(u)
        if fk:
            omh = np.empty_like(uh)
            fk.curl(uh, *self._k1d, omh)
            om = [sp.inverse(omh[i]) for i in range(3)]
            fk.cross(u, om[0], om[1], om[2], cross)
        else:
            om = sp.curl_inverse(uh)
            # u x omega
            tmp = xp.empty_like(u[0])
            for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
                xp.multiply(u[j], om[k], out=cross[i])
                xp.multiply(u[k], om[j], out=tmp)
                cross[i] -= tmp
        Nu = xp.stack([sp.forward(cross[i]) for i in range(3)])
        if c.fluid.buoyancy:
            # B = g (theta / T0 + 0.608 q_v - q_l)
            if fk:
                fk.add_buoyancy(Nu[2], thh, qh, Gql_hat, th.G_ACC, 1.0 / self.T0, 0.608)
            else:
                Bh = th.G_ACC * (thh / self.T0 + 0.608 * qh)
                Bh -= Gql_hat
                Nu[2] += Bh
        if c.forcing.epsilon > 0:
            # f_k = epsilon_f u_k / (2 E_f) on 0 < |k| <= k_f, E_f the energy there
            idx, w = sp.forcing_modes(c.forcing.k_f * 2 * np.pi / c.grid.box)
            uf = [uh[i][idx] for i in range(3)]
            Ef = 0.5 * sp._reduce(sum(float(xp.sum(w * xp.abs(uf[i]) ** 2)) for i in range(3))) / sp.npts ** 2
            if Ef > 0:
                a = c.forcing.epsilon / (2 * Ef)
                for i in range(3):
                    Nu[i][idx] += a * uf[i]
        if fk:
            k1d = self._k1d
            fk.dealias_project(Nu, *k1d, sp.dealias, sp.inv_k2, sp.owns_k0)
        else:
            Nu *= sp.dealias
            Nu = sp.project(Nu)
            if sp.owns_k0:
                Nu[:, 0, 0, 0] = 0
        flux = self._flux_divergence
        Nth = flux(u, sp.inverse(thh))
        if c.thermo.lapse:
            Nth -= (th.G_ACC / th.C_P) * uh[2]   # the fluctuation w has zero box mean
            if c.thermo.updraft:
                # the mean updraft W: -(g/c_p) W on the box mean (the rising box cools on the dry adiabat)
                Nth -= (th.G_ACC / th.C_P * c.thermo.updraft) * self._one_hat
        Nq = flux(u, sp.inverse(qh))
        if zh is None:
            return Nu, Nth, Nq, u
        Nz = flux(u, sp.inverse(zh))
        Nz += uh[2]
        if c.thermo.updraft:
            Nz += c.thermo.updraft * self._one_hat      # the box mean rises as W t
        return Nu, Nth, Nq, Nz, u

    def _fourier_kernels(self):
        """The module :mod:`clouds._kernels.fourier_terms` when the fields are NumPy arrays and
        :attr:`_stage_kernels` is set; None: array expressions (CuPy fields)."""
        if self.xp is np and self._stage_kernels:
            from ._kernels import fourier_terms

            if not hasattr(self, "_k1d"):
                sp = self.sp
                self._k1d = tuple(np.ascontiguousarray(np.ravel(k)) for k in (sp.kx, sp.ky, sp.kz))
            return fourier_terms
        return None

    def _flux_divergence(self, u, s):
        """-div(u s) in Fourier space, 2/3-dealiased (:meth:`clouds.spectral.Spectral.flux_divergence`)."""
        fk = self._fourier_kernels()
        sp = self.sp
        if not fk:
            return sp.flux_divergence(u, s)
        F = [sp.forward(u[i] * s) for i in range(3)]
        out = np.empty_like(F[0])
        fk.flux_divergence(F[0], F[1], F[2], *self._k1d, sp.dealias, out)
        return out

    def _factors(self, dt, m):
        """Integrating factors of the RK3 for a step dt (cached per dt): per field, exp(-D k^2 dt),
        exp(-D k^2 dt / 2), 2 dt exp(-D k^2 dt / 2) and (4 dt / 6) exp(-D k^2 dt / 2)."""
        cache = self.__dict__.setdefault("_factor_cache", {})
        key = (dt, m)
        if key not in cache:
            sp, xp, c = self.sp, self.xp, self.cfg
            diff = (c.fluid.nu, c.fluid.kappa, c.fluid.diffusivity, c.fluid.kappa)[:m]
            E1 = [xp.exp(-d * sp.k2 * dt) for d in diff]
            Eh = [xp.exp(-d * sp.k2 * 0.5 * dt) for d in diff]
            if len(cache) > 4:          # a run uses run.dt and at most one shorter last step
                cache.clear()
            cache[key] = (E1, Eh, [2 * dt * e for e in Eh], [e * (4 * dt / 6) for e in Eh])
        return cache[key]

    def _advance_fluid(self, dt, u=None):
        """Lawson / integrating-factor Kutta RK3 over dt (``u``: the real-space velocity of the current uh, if known).

        Stages (E = exp(-D k^2 dt), E' = exp(-D k^2 dt / 2)): y_a = E' (y0 + dt/2 k1),
        y_b = E (y0 - dt k1) + 2 dt E' k2, y1 = E (y0 + dt/6 k1) + (4 dt/6) E' k2 + dt/6 k3,
        each evaluated from left to right in one pass (:meth:`_stage`).
        """
        sp, xp = self.sp, self.xp
        ql_hat = sp.forward(xp.asarray(self.ql_grid)) * sp.dealias
        Gql_hat = th.G_ACC * ql_hat
        # u, theta, q_v (and zeta, diffused like theta)
        y0 = (self.uh, self.thh, self.qh) + (() if self.zh is None else (self.zh,))
        m = len(y0)
        E1, Eh, Eh2, Eh4 = self._factors(dt, m)

        def rhs(y, u=None):
            return self._rhs(y[0], y[1], y[2], Gql_hat, *y[3:], u=u)

        k1 = rhs(y0, u)
        self._check_cfl(k1[m], dt)
        stage = self._stage
        ya = [stage(y0[j], Eh[j], 0.5 * dt, k1[j]) for j in range(m)]
        k2 = rhs(ya)
        yb = [stage(y0[j], E1[j], -dt, k1[j], Eh2[j], k2[j]) for j in range(m)]
        del ya
        k3 = rhs(yb)
        out = [stage(y0[j], E1[j], dt / 6, k1[j], Eh4[j], k2[j], dt / 6, k3[j]) for j in range(m)]
        self.uh, self.thh, self.qh = out[:3]
        if m == 4:
            self.zh = out[3]

    #: evaluate the RK3 stages and the terms of the right-hand side (curl, u x omega, buoyancy, projection,
    #: flux divergence) of NumPy fields with the
    #: Numba kernels of :mod:`clouds._kernels.lawson` and :mod:`clouds._kernels.fourier_terms` (False: array
    #: expressions, the path CuPy fields take; both give the same numbers)
    _stage_kernels = True

    def _stage(self, y0, E, a, k1, F=None, k2=None, c=None, k3=None):
        """A stage value E (y0 + a k1) [+ F k2 [+ c k3]] of the RK3 (left to right; see :mod:`clouds._kernels.lawson`).

        y0 - dt k1 is written y0 + (-dt) k1: the same number, as (-dt) k1 = -(dt k1) exactly.
        """
        xp = self.xp
        if xp is np and self._stage_kernels:
            from ._kernels import lawson

            out = np.empty_like(y0)
            flat = (lambda x: np.ascontiguousarray(x).reshape(-1, E.size))
            o, e = out.reshape(-1, E.size), np.ascontiguousarray(E).reshape(-1)
            if k2 is None:
                lawson.stage1(flat(y0), e, a, flat(k1), o)
            elif k3 is None:
                lawson.stage2(flat(y0), e, a, flat(k1), np.ascontiguousarray(F).reshape(-1), flat(k2), o)
            else:
                lawson.stage3(flat(y0), e, a, flat(k1), np.ascontiguousarray(F).reshape(-1), flat(k2), c, flat(k3), o)
            return out
        out = k1 * a
        out += y0
        out *= E
        if k2 is not None:
            out += F * k2
        if k3 is not None:
            out += k3 * c
        return out

    def _check_cfl(self, u, dt):
        umax = [float(self.xp.max(self.xp.abs(u[i]))) for i in range(3)]
        if self.slab:
            from mpi4py import MPI

            umax = [self.comm.allreduce(x, op=MPI.MAX) for x in umax]
        cfl = dt * sum(um / dx for um, dx in zip(umax, self.sp.dx))
        if cfl > self.cfg.run.cfl_max:
            raise CFLError(f"CFL number {cfl:.3g} exceeds run.cfl_max = {self.cfg.run.cfl_max}; reduce run.dt "
                           f"(now {dt:g} s) below {dt * self.cfg.run.cfl_max / cfl:.3g} s")

    # ------------------------------------------------------------------ one step
    def step(self, dt=None):
        """Advance one step of length ``dt`` (default ``run.dt``; :meth:`run` shortens the last step)."""
        import time as _time

        c, sp, xp = self.cfg, self.sp, self.xp
        if dt is None:
            dt = c.run.dt
        else:
            from gpu.config import check_arg

            dt = check_arg("dt", dt, gt=0, le=c.run.dt)  # run() shortens only the last step
        n = c.grid.n
        u_now = None            # the real-space velocity of self.uh, when a droplet step made it
        if self.n_total and self.backend == "cuda":
            t0 = _time.perf_counter()
            self._droplet_step_device(dt)
            self.timing["droplets_device"] = self.timing.get("droplets_device", 0.0) + _time.perf_counter() - t0
        elif self.n_total and self._fused:
            t0 = _time.perf_counter()
            if self.nstep % self.SORT_EVERY == 0 and len(self.r) > self.SORT_MIN:
                self._sort_droplets()
            f = self._physical()
            u_now = f[:3]
            t1 = _time.perf_counter()
            src, liq = self._droplet_pass(dt, f)
            t2 = _time.perf_counter()
            src = self._fold(src) / (self.rho * self.cell_volume)      # kg water per kg air
            srch = sp.forward(xp.asarray(src))
            self.qh = self.qh - srch
            self.thh = self.thh + (self.L0 / th.C_P) * srch
            self.ql_grid = self._fold(liq) / (self.rho * self.cell_volume)
            t3 = _time.perf_counter()
            for k, v in (("interpolate", t1 - t0), ("droplet_pass", t2 - t1), ("deposit", t3 - t2)):
                self.timing[k] = self.timing.get(k, 0.0) + v
        elif self.n_total:
            t0 = _time.perf_counter()
            if self.nstep % self.SORT_EVERY == 0 and len(self.r) > self.SORT_MIN:
                self._sort_droplets()
            f, nxg, xoff = self._ghosted(self._physical())
            vals = np.empty((len(self.r), f.shape[0]))
            K.interpolate(f, self.pos, sp.dx, vals, nxg, xoff)
            t1 = _time.perf_counter()
            S = np.empty(len(self.r))
            r_new = np.empty_like(self.r)
            dm = np.empty_like(self.r)
            K.condense(vals, self.r, self.rd, self.kap, self.mult, self.T0, self.p0, self.G0, self.A0, dt,
                       3, 4, self._iz, r_new, dm, S)
            self.r = r_new
            self.S_droplets = S
            t2 = _time.perf_counter()
            src, nxg, xoff = self._deposit_grid()
            K.deposit(self.pos, dm, sp.dx, src, nxg, xoff)
            src = self._fold(src) / (self.rho * self.cell_volume)      # kg water per kg air
            srch = sp.forward(xp.asarray(src))
            self.qh = self.qh - srch
            self.thh = self.thh + (self.L0 / th.C_P) * srch
            t3 = _time.perf_counter()
            self._move(vals[:, :3], f, dt, nxg, xoff)
            self._migrate()
            t4 = _time.perf_counter()
            self.ql_grid = self._liquid_grid()
            t5 = _time.perf_counter()
            for k, v in (("interpolate", t1 - t0), ("growth", t2 - t1), ("deposit", t3 - t2 + t5 - t4),
                         ("move", t4 - t3)):
                self.timing[k] += v
        t5 = _time.perf_counter()
        self._advance_fluid(dt, u_now)
        self.timing["fluid"] += _time.perf_counter() - t5
        if c.thermo.relax_time > 0:
            self._relax_scalars(dt)
        if c.droplets.renew_radius > 0 and self.n_total:
            self._renew_droplets()
        self.t += dt
        self.nstep += 1

    # ------------------------------------------------------------------ open box: sources that keep it steady
    @property
    def steady_forcing(self):
        """Whether the box is open (``thermo.relax_time`` or ``droplets.renew_radius`` set): its water and
        energy then change by the recorded sources (:attr:`sources`), not at all in the closed box."""
        return self.cfg.thermo.relax_time > 0 or self.cfg.droplets.renew_radius > 0

    @property
    def sources(self):
        """Cumulative sources since t = 0: water [kg] and moist static energy [J] added by the relaxation
        and the droplet renewal, and the number of superdroplets renewed."""
        if "_sources" not in self.__dict__:
            self._sources = {"water_source_kg": 0.0, "mse_source_J": 0.0, "renewed": 0.0}
        return self._sources

    def _relax_scalars(self, dt):
        """Relax theta, q_v (and zeta) towards the initial profile over ``thermo.relax_time`` (operator split).

        d phi / dt = -(phi - phi_e) / tau_r, integrated exactly over the step:
        phi <- phi_e + (phi - phi_e) exp(-dt / tau_r), with phi_e the initial state (theta_e = zeta_e = 0,
        q_v,e the saturated cloud and the clear air at rh_clear). This is the entrainment term of an
        entraining parcel, d phi / dt = -lambda (phi - phi_e) with the fractional entrainment rate lambda
        = 1 / tau_r (Stommel 1947, J. Meteor. 4:91), applied to every point of the box: fresh
        cloudy air enters the core and environmental air the clear region at the rate 1 / tau_r, so the
        mean humidity and the humidity contrast stay statistically steady instead of decaying as in the
        closed box (there, droplet evaporation relaxes the box to one humidity and the cloud dies or the
        spectrum broadens without bound: Sardina et al. 2015, PRL 115:184501). The relaxation acts on the
        spectral coefficients (the target is dealiased), so it adds no aliasing; the water and moist
        static energy it adds are recorded exactly (:attr:`sources`) from the change of the box means.
        """
        c, sp = self.cfg, self.sp
        if getattr(self, "_q_target", None) is None:
            self._q_target = self._initial_qh()
        decay = math.exp(-dt / c.thermo.relax_time)
        mass_air = self.rho * c.grid.box ** 3
        q0, th0 = sp.mean(self.qh), sp.mean(self.thh)
        self.qh = self._q_target + (self.qh - self._q_target) * decay
        self.thh = self.thh * decay
        dz = 0.0
        if self.zh is not None:
            z0 = sp.mean(self.zh)
            self.zh = self.zh * decay
            dz = sp.mean(self.zh) - z0
        dq, dth = sp.mean(self.qh) - q0, sp.mean(self.thh) - th0
        src = self.sources
        src["water_source_kg"] += dq * mass_air
        src["mse_source_J"] += (th.C_P * dth + th.G_ACC * dz + self.L0 * dq) * mass_air

    def _renew_droplets(self):
        """Replace droplets that evaporated below ``droplets.renew_radius`` by fresh cloud droplets.

        A renewed superdroplet keeps its multiplicity and takes a radius from the initial spectrum, the
        dry radius and hygroscopicity of ``droplets``, and a random position in the cloud (the slab or the
        box): droplets that evaporate in the entrained air leave, freshly activated ones arrive with the
        cloudy air, as the sources and sinks that make the droplet population of a turbulent cloud chamber
        statistically steady (Chandrakar et al. 2016, PNAS 113:14243; Krueger 2020, ACP 20:7895). Without
        renewal the spectrum of a closed box broadens without bound (Sardina et al. 2015, PRL
        115:184501). The liquid water of the replaced droplets, m = 4/3 pi rho_w n (r^3 - r_d^3), leaves
        and that of the new ones enters; the difference is recorded in :attr:`sources` (the moist static
        energy c_p theta + g zeta + L0 q_v holds no liquid, so renewal does not change it). Random numbers
        come from (run.seed, step, rank): a restarted run renews as the uninterrupted one (under MPI the fresh
        droplets depend on the number of ranks, their statistics do not).
        """
        c = self.cfg
        d = c.droplets
        dev = self.__dict__.get("_dev")
        if dev is not None and "r" not in self.__dict__:
            # droplets on the device (one rank): look at the smallest radius there before copying anything
            r_dev = self._to_xp(dev["r"])
            if not (r_dev.size and float(self.xp.min(r_dev)) < d.renew_radius):
                return
        r = self.r
        gone = np.flatnonzero(r < d.renew_radius)
        count = float(self._allsum(np.array([gone.size], dtype=float))[0])
        if count == 0:
            return
        added = removed = 0.0
        if gone.size:
            rng = np.random.default_rng([c.run.seed, 7919, self.nstep, self.rank])
            k = gone.size
            pos, vel, rd, kap, r_new = (np.array(a) for a in (self.pos, self.vel, self.rd, self.kap, r))
            mult = self.mult
            removed = float(np.sum(mult[gone] * 4 / 3 * np.pi * th.RHO_W * (r[gone] ** 3 - rd[gone] ** 3)))
            rd[gone] = d.r_dry
            kap[gone] = d.kappa
            r_new[gone] = np.maximum(self._spectrum_radii(k, rng), rd[gone] * 1.0001 + 1e-12)
            pos[gone] = self._cloud_positions(k, rng)
            vel[gone] = 0.0
            added = float(np.sum(mult[gone] * 4 / 3 * np.pi * th.RHO_W * (r_new[gone] ** 3 - rd[gone] ** 3)))
            self.pos, self.vel, self.rd, self.kap, self.r = pos, vel, rd, kap, r_new
        dw = float(self._allsum(np.array([added - removed]))[0])
        self.sources["water_source_kg"] += dw
        self.sources["renewed"] += count
        if self.slab:
            self._migrate()
        if c.droplets.inertial and gone.size:
            # fresh droplets start at the local fluid velocity (the others keep theirs; not slab: __init__)
            f, nxg, xoff = self._ghosted(self._physical())
            vals = np.empty((gone.size, f.shape[0]))
            K.interpolate(f, np.ascontiguousarray(self.pos[gone]), self.sp.dx, vals, nxg, xoff)
            vel = np.array(self.vel)
            vel[gone] = vals[:, :3]
            self.vel = vel
        self.ql_grid = self._liquid_grid()

    @property
    def _fused(self):
        """Whether :meth:`step` moves the droplets with the one-pass kernel
        :func:`clouds._kernels.droplets.droplet_pass` (tracers without slab decomposition; same results as
        the separate kernels, bit for bit)."""
        return self._fuse_droplets and not self.slab and not self.cfg.droplets.inertial

    #: use the one-pass droplet kernel where it applies (:attr:`_fused`); False runs the separate kernels
    _fuse_droplets = True

    def _droplet_pass(self, dt, f):
        """Interpolate, grow, deposit the source, move (Heun) and deposit the liquid water in one pass over the
        droplets (:func:`clouds._kernels.droplets.droplet_pass`); sets r, S_droplets, pos and vel and returns
        the (unfolded) deposit grids (source dm at the old positions, liquid mass at the new ones)."""
        m = len(self.r)
        r_new, S = np.empty(m), np.empty(m)
        src, nxg, xoff = self._deposit_grid()
        liq = np.zeros_like(src)
        K.droplet_pass(f, self.pos, self.vel, self.r, self.rd, self.kap, self.mult, self.T0, self.p0, self.G0,
                       self.A0, dt, 3, 4, self._iz, self.sp.dx, np.full(3, self.cfg.grid.box), nxg, xoff,
                       r_new, S, src, liq)
        self.r = r_new
        self.S_droplets = S
        return src, liq

    def _move(self, u1, f, dt, nxg, xoff):
        box = np.full(3, self.cfg.grid.box)
        if self.cfg.droplets.inertial:
            tau = self._tau_p()
            vs = -th.G_ACC * tau if self.cfg.droplets.settling else np.zeros_like(tau)
            K.move_droplets(self.pos, self.vel, np.ascontiguousarray(u1), tau, vs, dt, box, True)
        else:
            K.tracer_heun(self.pos, self.vel, np.ascontiguousarray(u1), f[:3], self.sp.dx, nxg, xoff, dt, box)

    # ------------------------------------------------------------------ droplets on the device
    def __getattr__(self, name):
        # reached only for attributes missing from __dict__: droplet arrays that live on the device
        if name in _DEVICE_STATE + ("S_droplets",) and self.__dict__.get("_dev") is not None:
            self._download()
            if name in self.__dict__:
                return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _download(self):
        """Read-only host snapshots of the device droplet arrays (the device arrays stay current)."""
        for name, a in self._dev.items():
            if name in self.__dict__:
                continue
            h = a.copy_to_host()
            h = np.ascontiguousarray(h.T) if h.ndim == 2 else h
            h.setflags(write=False)
            self.__dict__[name] = self._snap[name] = h

    def _upload(self):
        """Make the device droplet arrays current: keep them unless a host array was assigned since."""
        state = self.__dict__
        if self._dev is not None:
            if all(state.get(k) is None or state[k] is self._snap.get(k) for k in _DEVICE_STATE):
                for k in list(self._snap):
                    state.pop(k, None)
                self._snap = {}
                return
            self._download()                       # a host array was assigned: the host is current
            self._dev = None
        from numba import cuda

        self._dev = {k: cuda.to_device(np.ascontiguousarray(state[k].T if state[k].ndim == 2 else state[k]))
                     for k in _DEVICE_STATE}
        for k in _DEVICE_STATE + ("S_droplets",):
            state.pop(k, None)
        self._snap = {}

    def _to_device(self, a):
        """An xp array as a numba.cuda device array: a view of CuPy memory, a copy under the simulator."""
        from numba import cuda

        if hasattr(a, "__cuda_array_interface__"):
            return cuda.as_cuda_array(a)
        return cuda.to_device(np.ascontiguousarray(a))

    def _to_xp(self, d):
        """A numba.cuda device array as an xp array (CuPy: the same memory; NumPy: a copy)."""
        if self.xp is np:
            return d.copy_to_host()
        return self.xp.asarray(d)

    def _droplet_step_device(self, dt):
        """The droplet part of :meth:`step` with the CUDA kernels (same operations and order as on the CPU)."""
        from numba import cuda

        from ._kernels import cuda_droplets as C

        c, sp, xp = self.cfg, self.sp, self.xp
        self._upload()
        m = self._dev["r"].shape[0]
        if self.nstep % self.SORT_EVERY == 0 and m > self.SORT_MIN:
            self._sort_droplets_device()
        d = self._dev
        hats = [self.uh[0], self.uh[1], self.uh[2], self.thh, self.qh] + ([self.zh] if self.zh is not None else [])
        fx = xp.ascontiguousarray(xp.stack([sp.inverse(h) for h in hats]))
        f = self._to_device(fx)
        vals = cuda.device_array((f.shape[0], m))
        C.interpolate(f, d["pos"], sp.dx, vals)
        r_new, dm, S = cuda.device_array(m), cuda.device_array(m), cuda.device_array(m)
        C.condense(vals, d["r"], d["rd"], d["kap"], d["mult"], self.T0, self.p0, self.G0, self.A0, dt,
                   3, 4, self._iz, r_new, dm, S)
        d["r"], d["S_droplets"] = r_new, S
        src = self._to_device(xp.zeros(sp.local_shape))
        C.deposit(d["pos"], dm, sp.dx, src)
        srch = sp.forward(self._to_xp(src) / (self.rho * self.cell_volume))
        self.qh = self.qh - srch
        self.thh = self.thh + (self.L0 / th.C_P) * srch
        box = np.full(3, c.grid.box)
        if c.droplets.inertial:
            C.move_inertial(d["pos"], d["vel"], vals[0:3], d["r"], float(th.dynamic_viscosity(self.T0)),
                            c.droplets.settling, dt, box)
        else:
            C.tracer_heun(d["pos"], d["vel"], vals[0:3], f[0:3], sp.dx, dt, box)
        mass = cuda.device_array(m)
        C.liquid_mass(d["r"], d["rd"], d["mult"], mass)
        g = self._to_device(xp.zeros(sp.local_shape))
        C.deposit(d["pos"], mass, sp.dx, g)
        self.ql_grid = self._to_xp(g) / (self.rho * self.cell_volume)
        cuda.synchronize()      # kernels run asynchronously: timing["droplets_device"] measures their work

    #: droplets are re-sorted by grid cell every SORT_EVERY steps when a rank holds more than SORT_MIN
    SORT_EVERY, SORT_MIN = 25, 100000

    def _sort_droplets_device(self):
        """:meth:`_sort_droplets` on the device: cell index kernel, stable argsort and gathers in xp."""
        from numba import cuda

        from ._kernels import cuda_droplets as C

        xp, d, n = self.xp, self._dev, self.cfg.grid.n
        idx = cuda.device_array(d["r"].shape[0], dtype=np.int64)
        C.cell_index(d["pos"], self.sp.dx, (n, n, n), idx)
        keys = self._to_xp(idx)
        order = np.argsort(keys, kind="stable") if xp is np else xp.argsort(keys)   # CuPy sorts stably
        for name in list(d):
            a = self._to_xp(d[name])
            d[name] = self._to_device(xp.ascontiguousarray(a[:, order] if a.ndim == 2 else a[order]))

    def _sort_droplets(self):
        """Reorder droplets by grid cell so interpolation and deposition touch memory in order."""
        n = self.cfg.grid.n
        idx = np.argsort(K.cell_index(self.pos, self.sp.dx, np.array([n, n, n])), kind="stable")
        for name in ("pos", "vel", "r", "rd", "kap", "mult"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[idx]))

    # ------------------------------------------------------------------ diagnostics
    def droplet_moments(self, r_min=0.0):
        """Global (sum n, sum n r, sum n r^2, sum n r^3, sum n / r) over droplets with r > r_min."""
        sel = self.r > r_min
        n, r = self.mult[sel], self.r[sel]
        loc = np.array([n.sum(), (n * r).sum(), (n * r ** 2).sum(), (n * r ** 3).sum(),
                        (n / np.maximum(r, 1e-300)).sum()])
        return self._allsum(loc)

    def totals(self):
        """Total water [kg] and moist static energy [J] in the box (conserved by the coupling)."""
        sp = self.sp
        mass_air = self.rho * self.cfg.grid.box ** 3
        qmean = sp.mean(self.qh)
        thmean = sp.mean(self.thh)
        liquid = float(self._allsum(np.array([np.sum(self.mult * 4 / 3 * np.pi * th.RHO_W * (self.r ** 3 - self.rd ** 3))]))[0])
        water = qmean * mass_air + liquid
        zmean = sp.mean(self.zh) if self.zh is not None else 0.0
        mse = th.C_P * thmean * mass_air + th.G_ACC * zmean * mass_air + self.L0 * qmean * mass_air
        return {"water_kg": water, "vapour_kg": qmean * mass_air, "liquid_kg": liquid, "mse_J": mse}

    def diagnostics(self, r_min=1e-6):
        sp = self.sp
        c = self.cfg
        s0, s1, s2, s3, sinv = self.droplet_moments(r_min)
        mean = s1 / s0 if s0 > 0 else 0.0
        std = math.sqrt(max(s2 / s0 - mean ** 2, 0.0)) if s0 > 0 else 0.0
        tot = self.totals()
        V = c.grid.box ** 3
        d = {"t": self.t, "energy": sp.energy(self.uh), "dissipation": sp.dissipation(self.uh, c.fluid.nu),
             "theta_var": sp.mean_sq(self.thh) - sp.mean(self.thh) ** 2,
             "q_var": sp.mean_sq(self.qh) - sp.mean(self.qh) ** 2,
             "theta_mean": sp.mean(self.thh), "q_mean": sp.mean(self.qh),
             "r_mean": mean, "r_std": std, "relative_dispersion": std / mean if mean > 0 else 0.0,
             "N_c": s0 / V, "lwc": tot["liquid_kg"] / V,
             "effective_radius": s3 / s2 if s2 > 0 else 0.0,
             "growth_coefficient_cm_s": 100.0 * self.G0 * sinv / s0 if s0 > 0 else 0.0,
             "water_kg": tot["water_kg"], "mse_J": tot["mse_J"]}
        if c.droplets.init == "aerosol":
            # activated: larger than the critical radius of the particle's own Koehler curve (at T0)
            act = self.r > koehler.critical_radius(self.rd, self.kap, self.T0)
            d["N_act"] = float(self._allsum(np.array([self.mult[act].sum()]))[0]) / V
            d["z_mean"] = sp.mean(self.zh) if self.zh is not None else 0.0
        if self.steady_forcing:
            d.update(self.sources)
        if self.n_total:
            # S at the droplets from the current fields and positions: the state at time t
            d["S_mean"] = float(self._allsum(np.array([self._droplet_supersaturation().sum()]))[0]) / self.n_total
        return d

    def _record(self):
        for k, v in self.diagnostics().items():  # units: HISTORY_UNITS
            self.history.setdefault(k, []).append(float(v))

    def steps_to(self, t_end):
        """(number of whole ``run.dt`` steps, length of the shorter last step or 0) from now to ``t_end``.

        The shorter step lands on ``t_end`` when it is not a multiple of ``run.dt`` away (the
        integrating-factor RK3 and the implicit droplet growth take any step length). Raises
        :class:`ConfigError` if ``t_end`` is not after the current time.
        """
        dt = self.cfg.run.dt
        t_end = check_arg("run.t_end", t_end)
        remaining = t_end - self.t
        if not remaining > 1e-9 * dt:
            raise ConfigError(f"config key 'run.t_end' = {t_end:g} s is not after the time the run starts from, "
                              f"t = {self.t:g} s (step {self.nstep}, run.dt = {dt:g} s): there is nothing to run; "
                              "a restart needs run.t_end later than the restart file's time")
        n_full = int(math.floor(remaining / dt + 1e-9))
        rest = remaining - n_full * dt
        return n_full, (rest if rest > 1e-9 * dt else 0.0)

    def run(self, t_end=None, progress=False, checkpoint=None):
        """Advance to t_end (default run.t_end) exactly; returns the diagnostics history as arrays.

        ``checkpoint``: path of the restart file written every ``run.checkpoint_every`` steps
        (atomically, Header ``status = "checkpoint"``, ``complete = False``); the final state is
        not written here (see :meth:`save`).
        """
        c = self.cfg
        t_end = c.run.t_end if t_end is None else float(t_end)
        n_full, rest = self.steps_to(t_end)
        nsteps = n_full + (rest > 0)
        self._check_validity()
        if not self.history:
            self._record()
        for i in gpu.progress(range(nsteps), desc="dns", comm=self.comm, quiet=not progress):
            # the shorter last step is measured from the time reached, so that a run restarted from a
            # checkpoint takes bit for bit the same last step as the uninterrupted run
            self.step(c.run.dt if i < n_full else t_end - self.t)
            if i == nsteps - 1:
                self.t = t_end          # no round-off drift of the summed steps at the end
            if self.nstep % c.run.diag_every == 0 or i == nsteps - 1:
                self._record()
            if checkpoint and c.run.checkpoint_every and self.nstep % c.run.checkpoint_every == 0 \
                    and i < nsteps - 1:
                self.save(checkpoint, status="checkpoint")
        self._check_validity()
        return {k: np.array(v) for k, v in self.history.items()}

    def _check_validity(self):
        """Warn once per run (and keep in :attr:`warnings`) when T0 + theta leaves the formulas' range.

        The thermodynamics use Bolton's e_s (clouds.thermo.T_VALID_K); checked at the start and at
        the end of :meth:`run` (one inverse FFT and a min/max reduction).
        """
        import warnings

        self.warnings = getattr(self, "warnings", [])
        if self.warnings:
            return
        theta = self.xp.asarray(self.sp.inverse(self.thh)).real
        lo, hi = float(self.xp.min(theta)), float(self.xp.max(theta))
        if self.slab:
            from mpi4py import MPI

            lo = self.comm.allreduce(lo, op=MPI.MIN)
            hi = self.comm.allreduce(hi, op=MPI.MAX)
        for T, what in ((self.T0 + lo, "DNS temperature min(T0 + theta)"), (self.T0 + hi, "DNS temperature max(T0 + theta)")):
            msg = th.temperature_range_message(T, what) if math.isfinite(T) else None
            if msg is not None:
                msg += f" (at t = {self.t:g} s)"
                self.warnings.append(msg)
                if self.rank == 0:
                    warnings.warn(msg, th.ValidityWarning, stacklevel=3)
                return

    #: relative drift of total water and of c_p <theta> + L0 q_t allowed by :meth:`check_result`;
    #: both are conserved to round-off by the coupling (measured < 1e-13 in the tests)
    BUDGET_RTOL = 1e-9

    def check_result(self):
        """The solver's own checks after a run: None if they pass, else the reason (a string).

        Fails on non-finite fields, droplets or diagnostics, and on a drift of the total water or
        of the moist static energy (both conserved exactly by the coupling, module docstring; in the open
        box after subtracting the recorded sources, :attr:`sources`) larger
        than :attr:`BUDGET_RTOL` relative to the total water (times L0 for the energy). Collective
        under MPI; every rank gets the same answer.
        """
        xp = self.xp
        fields = (("u", self.uh), ("theta", self.thh), ("q_v", self.qh), ("zeta", self.zh))
        bad_fields = [name for name, a in fields if a is not None and not bool(xp.all(xp.isfinite(a)))]
        bad_drops = [name for name, a in (("position", self.pos), ("radius", self.r), ("velocity", self.vel))
                     if not np.all(np.isfinite(a))]
        flags = np.array([len(bad_fields), len(bad_drops)], dtype=float)
        if self.size > 1:
            flags = gpu.allreduce_sum(self.comm, flags)
        if flags[0] or flags[1]:
            names = bad_fields + bad_drops
            return (f"non-finite values in the solution ({', '.join(names) if names else 'on another rank'}) "
                    f"at t = {self.t:g} s; reduce run.dt or check the config")
        h = {k: np.asarray(v, dtype=float) for k, v in self.history.items()}
        bad_hist = sorted(k for k, v in h.items() if not np.all(np.isfinite(v)))
        if bad_hist:
            return f"non-finite diagnostics ({', '.join(bad_hist)}) at t = {self.t:g} s"
        if "water_kg" in h and h["water_kg"].size > 1:
            # open box (steady forcing): the totals change by the recorded sources
            w = h["water_kg"] - h.get("water_source_kg", 0.0)
            e = h["mse_J"] - h.get("mse_source_J", 0.0)
            scale = max(abs(w[0]), 1e-300)
            dw = abs(w[-1] - w[0]) / scale
            de = abs(e[-1] - e[0]) / (self.L0 * scale)
            if dw > self.BUDGET_RTOL:
                return (f"water budget check failed: total water changed by {dw:.3g} (relative) from "
                        f"t = {h['t'][0]:g} to {h['t'][-1]:g} s, allowed {self.BUDGET_RTOL:g}")
            if de > self.BUDGET_RTOL:
                return (f"energy budget check failed: c_p <theta> + g <zeta> + L0 q_t changed by {de:.3g} (relative to "
                        f"L0 times the water) from t = {h['t'][0]:g} to {h['t'][-1]:g} s, allowed {self.BUDGET_RTOL:g}")
        return None

    # ------------------------------------------------------------------ output and restart
    def _gather_droplets(self):
        arrs = (self.pos, self.vel, self.r, self.rd, self.kap, self.mult)
        if self.size == 1:
            return arrs
        parts = self.comm.allgather(arrs)
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(6))

    def save(self, path, status="complete", reason=None):
        """Write fields, droplets, history and config to HDF5 (restartable, atomic).

        Header attributes ``status`` ("complete": a finished result; "checkpoint": an intermediate
        restart file; "failed": the solver's checks failed, ``reason`` says why) and ``complete``
        (True only for "complete"). :meth:`restart` reads "complete" and "checkpoint" files.
        """
        if status not in ("complete", "checkpoint", "failed"):
            raise ValueError(f"status must be 'complete', 'checkpoint' or 'failed', got {status!r}")
        self._save_status = (status, reason)
        pos, vel, r, rd, kap, mult = self._gather_droplets()
        f = self._physical()
        uh, thh, qh = gpu.to_host(self.uh), gpu.to_host(self.thh), gpu.to_host(self.qh)
        zh = gpu.to_host(self.zh) if self.zh is not None else None
        if self.slab:
            parts = self.comm.gather((f, uh, thh, qh, zh), root=0)
            if self.rank == 0:
                f = np.concatenate([p[0] for p in parts], axis=1)
                uh = np.concatenate([p[1] for p in parts], axis=2)
                thh = np.concatenate([p[2] for p in parts], axis=1)
                qh = np.concatenate([p[3] for p in parts], axis=1)
                zh = np.concatenate([p[4] for p in parts], axis=1) if zh is not None else None
        if self.rank == 0:
            self._write(path, f, uh, thh, qh, pos, vel, r, rd, kap, mult, zh)
        if self.size > 1:
            self.comm.Barrier()      # the file exists on return, on every rank
        return path

    def _write(self, path, f, uh, thh, qh, pos, vel, r, rd, kap, mult, zh=None):
        from gpu.io import write_results

        data = {"fields/u": f[:3], "fields/theta": f[3], "fields/qv": f[4],
                "spectral/u": uh, "spectral/theta": thh, "spectral/qv": qh,
                "droplets/position": pos, "droplets/velocity": vel, "droplets/radius": r,
                "droplets/dry_radius": rd, "droplets/kappa": kap, "droplets/multiplicity": mult}
        if zh is not None:
            data["fields/zeta"], data["spectral/zeta"] = f[5], zh
        for k, v in self.history.items():
            data[f"history/{k}"] = np.array(v)
        params = {"time": self.t, "step": self.nstep, "config_json": __import__("json").dumps(to_dict(self.cfg))}
        status, reason = getattr(self, "_save_status", ("complete", None))
        params.update(status=status, complete=status == "complete", reason=reason or "")
        if self.steady_forcing:
            params.update(self.sources)
        units = {"fields/u": "m/s", "fields/theta": "K", "fields/qv": "kg/kg", "fields/zeta": "m", "droplets/position": "m",
                 "droplets/velocity": "m/s", "droplets/radius": "m", "droplets/dry_radius": "m",
                 "droplets/multiplicity": "1", "droplets/kappa": "1", "history/t": "s"}
        # spectral coefficients: unnormalised forward DFT (the sum over grid points), so the field's unit
        units.update({f"spectral/{k}": units[f"fields/{k}"] for k in ("u", "theta", "qv", "zeta")})
        params["spectral_normalisation"] = "unnormalised forward DFT (sum over the grid points)"
        units.update({f"history/{k}": HISTORY_UNITS.get(k, "") for k in self.history if k != "t"})
        write_results(path, data, params=params, units=units, config_text=self.config_text, config=self.cfg)
        return path

    @staticmethod
    def read_header(path):
        """Header attributes of a restart file, checked: a "complete" result or a "checkpoint".

        Raises :class:`ConfigError` naming the file for a failed run's output or a file that is not
        a DNS result (FileNotFoundError if it does not exist).
        """
        import os

        import h5py

        path = str(path)
        try:
            with h5py.File(path, "r") as f:
                if "Header" not in f:
                    raise ConfigError(f"restart file '{path}' has no /Header: not a clouds DNS result or checkpoint")
                header = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["Header"].attrs.items()}
        except OSError as exc:
            if not os.path.exists(path):
                raise FileNotFoundError(f"restart file '{path}' does not exist") from exc
            raise ConfigError(f"restart file '{path}' cannot be read as HDF5 ({exc})") from exc
        status = header.get("status", "complete")     # files from before the status attribute
        if status not in ("complete", "checkpoint"):
            raise ConfigError(f"restart file '{path}' is marked status = {status!r} "
                              f"({header.get('reason') or 'no reason recorded'}); restart from its checkpoint "
                              "or from a complete result")
        if "config_json" not in header or "time" not in header:
            raise ConfigError(f"restart file '{path}' is not a clouds DNS result or checkpoint "
                              "(no Header config_json/time)")
        return header

    @classmethod
    def restart(cls, path, comm=None, **overrides):
        """Resume a run from a file written by :meth:`save` (bitwise continuation in serial)."""
        import json

        from gpu.io import read_results

        cls.read_header(path)
        data, header = read_results(path)
        cfgd = json.loads(header["config_json"])
        for sec, vals in overrides.items():
            cfgd.setdefault(sec, {}).update(vals)
        self = cls(load_config(cfgd, DNSConfig), comm=comm, config_text=header.get("config"), _init=False)
        sp = self.sp
        xp = self.xp
        if "spectral/u" in data:   # exact continuation
            ys = slice(sp.q * sp.nyl, (sp.q + 1) * sp.nyl) if self.slab else slice(None)
            self.uh = xp.asarray(np.ascontiguousarray(data["spectral/u"][:, :, ys]))
            self.thh = xp.asarray(np.ascontiguousarray(data["spectral/theta"][:, ys]))
            self.qh = xp.asarray(np.ascontiguousarray(data["spectral/qv"][:, ys]))
            if "spectral/zeta" in data:
                self.zh = xp.asarray(np.ascontiguousarray(data["spectral/zeta"][:, ys]))
        else:                      # physical fields only (e.g. written by another tool)
            xs = slice(sp.x_lo, sp.x_hi)
            data["fields/u"] = data["fields/u"][:, xs]
            data["fields/theta"] = data["fields/theta"][xs]
            data["fields/qv"] = data["fields/qv"][xs]
            u = data["fields/u"]
            self.uh = xp.stack([sp.forward(xp.asarray(u[i])) for i in range(3)]) * sp.dealias
            self.thh = sp.forward(xp.asarray(data["fields/theta"])) * sp.dealias
            self.qh = sp.forward(xp.asarray(data["fields/qv"])) * sp.dealias
            if "fields/zeta" in data:
                self.zh = sp.forward(xp.asarray(data["fields/zeta"][xs])) * sp.dealias
        if self.zh is None and self.cfg.thermo.lapse:     # file written without lapse: no displacement yet
            self.zh = sp.forward(xp.zeros(sp.local_shape))
        elif not self.cfg.thermo.lapse:
            self.zh = None
        m = data["droplets/radius"].size
        mine = self._owned(data["droplets/position"])
        self.pos = np.ascontiguousarray(data["droplets/position"][mine])
        self.vel = np.ascontiguousarray(data["droplets/velocity"][mine])
        self.r = np.ascontiguousarray(data["droplets/radius"][mine])
        self.rd = np.ascontiguousarray(data["droplets/dry_radius"][mine])
        self.kap = np.ascontiguousarray(data["droplets/kappa"][mine])
        self.mult = np.ascontiguousarray(data["droplets/multiplicity"][mine])
        self.n_total = m
        self.t = float(header["time"])
        self.nstep = int(header["step"])
        self.history = {k.split("/", 1)[1]: list(v) for k, v in data.items() if k.startswith("history/")}
        if self.steady_forcing:
            self._sources = {k: float(header.get(k, 0.0)) for k in ("water_source_kg", "mse_source_J", "renewed")}
        self.ql_grid = self._liquid_grid()
        return self

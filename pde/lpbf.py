"""Single-track laser powder-bed fusion heat transfer with the multilevel space-time TD ROM.

``LPBFProblem(config).solve()`` builds the ML-VMS-TD model of arXiv:2510.00516 / 2510.23004 for

    rho c dT/dt - div(k grad T) = q(x, y, z, t)   on [0, L] x [-W/2, W/2] x [-D, 0],  t in [0, t_end]

with T(0) = T0, adiabatic faces (natural condition) and optionally a convective + linearised radiative
top surface, -k dT/dn = h_eff (T - T0), h_eff = h_conv + 4 eps sigma_SB T0^3 (linearised about T0;
documented simplification: the linear model cannot carry T^4).  The source is the moving Gaussian beam of
:mod:`pde.heat_source`.

Discretisation (documented choices)

* Level 0: tensor-product coarse 1D meshes over the whole block.  Levels l >= 1: tensor-product boxes that
  contain the whole track (x: track +- ``margin_x`` beam radii; y: +- ``halfwidth_y`` radii; z: top
  surface down to ``depth_z`` radii), each snapped outward to its parent vertices and refined ``ratio``
  times (finest spacing = coarse spacing / ratio^(levels - 1)).
  Fine-level 1D dofs vanish at box ends inside the block (ML-VMS condition) and are free on the top
  surface (natural condition there).  One time slab covers the whole scan, so the fine box is fixed in
  space-time; the moving-box full-order solver is :class:`pde.multilevel.MovingBoxHeatSolver`.
* Each level and direction has its own 1D basis (C-HiDeNN or Lagrange) -- also time (1D, dof at t = 0
  removed so T(0) = T0).
* Linear dependence between levels: nested tensor boxes cannot drop dofs without breaking the tensor
  structure; the ALS direction problems are non-singular for generic factors of the other directions
  (coarse factors are non-zero outside the fine box), so only the split between levels is non-unique,
  not the total field.  A tiny ridge ``ridge`` * (fine-level mass) fixes the split (default 0).
* The x-t load B[i, n] = int int phi_i psi_n eta P(t) g_x(x - x_s(t)) is compressed by truncated SVD with
  relative Frobenius tolerance ``svd_tol``; y and z loads are exact 1D projections.
"""
from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import scipy.sparse as sp

from gpu.config import ConfigError, load_config, param, to_dict

from .chidenn import CHiDeNNSpace, validate_hyperparameters
from .fem import LagrangeSpace
from .heat_source import GaussianBeam
from .materials import get_material
from .mesh import StructuredMesh
from .multilevel import refined_box_mesh
from .td import SeparatedProblem, load_1d, load_2d_xt, matrices_1d, truncated_svd

log = logging.getLogger(__name__)

SIGMA_SB = 5.670374419e-8  # W m^-2 K^-4 (CODATA 2018)


@dataclasses.dataclass
class MaterialConfig:
    name: str = param("Ti6Al4V", choices=("Ti6Al4V", "IN718"), doc="alloy")
    density: float | None = param(None, gt=0, doc="override rho [kg/m^3]")
    heat_capacity: float | None = param(None, gt=0, doc="override c_p [J/kg/K]")
    conductivity: float | None = param(None, gt=0, doc="override k [W/m/K]")


@dataclasses.dataclass
class LaserConfig:
    power: float = param(200.0, gt=0, doc="laser power P [W]")
    absorptivity: float = param(0.4, gt=0, le=1, doc="absorbed fraction eta")
    radius: float = param(50e-6, gt=0, doc="1/e^2 beam radius r_b [m]")
    penetration_depth: float = param(40e-6, ge=0, doc="1/e^2 depth of the volumetric source [m]; 0 = surface")
    speed: float = param(1.0, gt=0, doc="scan speed v [m/s]")
    start_x: float = param(0.3e-3, doc="track start x [m]")
    length: float = param(0.6e-3, gt=0, doc="track length [m]")


@dataclasses.dataclass
class DomainConfig:
    length: float = param(1.2e-3, gt=0, doc="block length along x [m]")
    width: float = param(0.8e-3, gt=0, doc="block width along y [m] (centred on the track)")
    depth: float = param(0.4e-3, gt=0, doc="block depth along -z [m]")
    T0: float = param(300.0, gt=0, doc="initial / ambient temperature [K]")
    h_conv: float = param(0.0, ge=0, doc="top-surface convection coefficient [W/m^2/K]")
    emissivity: float = param(0.0, ge=0, le=1, doc="top-surface emissivity (radiation linearised about T0)")
    t_end: float | None = param(None, gt=0, doc="end time [s]; default = end of the scan")


@dataclasses.dataclass
class SolverConfig:
    levels: int = param(2, ge=1, le=4, doc="number of ML-VMS levels")
    basis: str = param("chidenn", choices=("chidenn", "fem"), doc="basis of every level")
    order: int = param(2, ge=1, le=3, doc="C-HiDeNN p (s = p) or Lagrange order (1, 2)")
    dilation: float = param(4.0, ge=1, doc="C-HiDeNN dilation a (element sizes)")
    coarse_elements: list[int] = param(default_factory=lambda: [12, 8, 4], ge=1, doc="level-0 elements (x, y, z)")
    ratio: int = param(4, ge=1, doc="refinement ratio between consecutive levels")
    time_elements: int = param(60, ge=2, doc="time elements")
    time_basis: str = param("fem", choices=("chidenn", "fem"), doc="time basis")
    time_order: int = param(1, ge=1, le=3, doc="order of the time basis (Lagrange 1-2, C-HiDeNN p = s)")
    halfwidth_y: float = param(3.0, gt=0, doc="fine box half-width in y [beam radii]")
    depth_z: float = param(2.5, gt=0, doc="fine box depth [beam radii]")
    margin_x: float = param(3.0, gt=0, doc="fine box margin around the track in x [beam radii]")
    modes: int = param(20, ge=1, doc="TD modes per level")
    method: str = param("subspace", choices=("subspace", "fast", "greedy"), doc="TD solver")
    tol: float = param(1e-5, gt=0, doc="fixed-point tolerance")
    max_iter: int = param(30, ge=1, doc="fixed-point iterations (per mode for greedy)")
    svd_tol: float = param(1e-4, gt=0, lt=1, doc="x-t source SVD truncation (relative Frobenius)")
    ridge: float = param(0.0, ge=0, doc="ridge on fine-level mass (level split)")


@dataclasses.dataclass
class OutputConfig:
    snapshots: int = param(4, ge=1, doc="temperature snapshots written")
    melt_times: int = param(12, ge=1, doc="times at which melt-pool sizes are measured")


@dataclasses.dataclass
class LPBFConfig:
    material: MaterialConfig = dataclasses.field(default_factory=MaterialConfig)
    laser: LaserConfig = dataclasses.field(default_factory=LaserConfig)
    domain: DomainConfig = dataclasses.field(default_factory=DomainConfig)
    solver: SolverConfig = dataclasses.field(default_factory=SolverConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)


def _space_1d(axis, basis, order, dilation):
    mesh = StructuredMesh([axis])
    if basis == "fem" or mesh.n_elements < order:
        return LagrangeSpace(mesh, min(order, 2) if basis == "fem" else 1)
    return CHiDeNNSpace(mesh, s=order, p=order, dilation=dilation)


class LPBFProblem:
    """Single-track LPBF conduction model solved by multilevel space-time TD (module docstring).

    ``config``: :class:`LPBFConfig`, a dict, TOML text or a TOML path.  ``comm``: MPI communicator used for
    the 1D assemblies (results identical on any number of ranks).
    """

    def __init__(self, config=None, comm=None):
        if config is None:
            config = LPBFConfig()
        elif not isinstance(config, LPBFConfig):
            config = load_config(config, LPBFConfig)
        self.config = config
        self.comm = comm
        c = config
        try:
            self.material = get_material(c.material.name, density=c.material.density,
                                         heat_capacity=c.material.heat_capacity, conductivity=c.material.conductivity)
        except ValueError as exc:
            raise ConfigError(f"config key 'material': {exc}") from exc
        L = c.laser
        self.beam = GaussianBeam(L.power, L.absorptivity, L.radius, L.penetration_depth, L.speed,
                                 (L.start_x, 0.0), L.length)
        d = c.domain
        if L.start_x < 0 or L.start_x + L.length > d.length:
            raise ConfigError(f"config key 'laser.length': the track [{L.start_x}, {L.start_x + L.length}] m "
                              f"must lie inside the block [0, {d.length}] m")
        s = c.solver
        if len(s.coarse_elements) != 3:
            raise ConfigError("config key 'solver.coarse_elements' needs three integers (x, y, z)")
        if s.basis == "chidenn":
            try:
                validate_hyperparameters(s.order, s.order, s.dilation)
            except ValueError as exc:
                raise ConfigError(f"config key 'solver.order'/'solver.dilation': {exc}") from exc
        elif s.order > 2:
            raise ConfigError(f"config key 'solver.order' = {s.order}: Lagrange elements are order 1 or 2")
        self.t_end = d.t_end or self.beam.t_off
        self._build_meshes()
        h_fine = min(np.diff(ax).min() for ax in self.axes[-1][:2])
        if L.radius < h_fine:
            raise ConfigError(f"config key 'laser.radius' = {L.radius:g} m is below the finest mesh spacing "
                              f"{h_fine:g} m: refine (solver.levels / solver.ratio) or enlarge the beam")
        self.result = None

    # ------------------------------------------------------------------ discretisation
    def _build_meshes(self):
        c, b = self.config, self.beam
        d, s = c.domain, c.solver
        nx, ny, nz = s.coarse_elements
        coarse = StructuredMesh([np.linspace(0, d.length, nx + 1), np.linspace(-d.width / 2, d.width / 2, ny + 1),
                                 np.linspace(-d.depth, 0, nz + 1)])
        meshes = [coarse]
        r = b.radius
        lo = np.array([b.start[0] - s.margin_x * r, -s.halfwidth_y * r, -s.depth_z * max(r, b.penetration_depth)])
        hi = np.array([b.start[0] + b.length + s.margin_x * r, s.halfwidth_y * r, 0.0])
        parent = coarse
        for lev in range(1, s.levels):
            # every fine level targets the same nominal box; snapping to the parent vertices makes the
            # intermediate levels larger, so the hierarchy narrows towards the track automatically
            m = refined_box_mesh(parent, lo, hi, s.ratio)
            meshes.append(m)
            parent = m
        self.meshes = meshes
        self.axes = [m.axes for m in meshes]
        self.time_axis = np.linspace(0.0, self.t_end, s.time_elements + 1)

    def build(self):
        """Assemble 1D matrices (all level pairs), loads and the separated operator."""
        c, b, mat = self.config, self.beam, self.material
        s, dom = c.solver, c.domain
        L = len(self.meshes)
        spaces = [[_space_1d(ax, s.basis, s.order, s.dilation) for ax in self.axes[l]] for l in range(L)]
        Vt = _space_1d(self.time_axis, s.time_basis, s.time_order, s.dilation)
        self.spaces, self.Vt = spaces, Vt
        dom_lo = np.array([0.0, -dom.width / 2, -dom.depth])
        dom_hi = np.array([dom.length, dom.width / 2, 0.0])
        free = []
        for l in range(L):
            fl = []
            for dd in range(3):
                V = spaces[l][dd]
                keep = np.ones(V.n_dofs, bool)
                if l >= 1:
                    tol = 1e-9 * (dom_hi[dd] - dom_lo[dd])
                    if V.mesh.lower[0] > dom_lo[dd] + tol:
                        keep[0] = False
                    if V.mesh.upper[0] < dom_hi[dd] - tol:
                        keep[-1] = False
                fl.append(np.nonzero(keep)[0])
            free.append(fl)
        self.free = free
        tfree = np.arange(1, Vt.n_dofs)
        self.tfree = tfree
        # 1D matrices per direction and level pair
        Ms = [[[None] * L for _ in range(L)] for _ in range(3)]
        Ks = [[[None] * L for _ in range(L)] for _ in range(3)]
        Btop = [[None] * L for _ in range(L)]
        for dd in range(3):
            for l in range(L):
                for lp in range(L):
                    M, K, _ = matrices_1d(spaces[l][dd], spaces[lp][dd])
                    Ms[dd][l][lp] = M[free[l][dd]][:, free[lp][dd]]
                    Ks[dd][l][lp] = K[free[l][dd]][:, free[lp][dd]]
        for l in range(L):
            for lp in range(L):
                a = spaces[l][2].evaluate(np.array([[0.0]]))
                bb = spaces[lp][2].evaluate(np.array([[0.0]]))
                va = np.zeros(spaces[l][2].n_dofs); va[a.conn[0][a.conn[0] >= 0]] = a.vals[0][a.conn[0] >= 0]
                vb = np.zeros(spaces[lp][2].n_dofs); vb[bb.conn[0][bb.conn[0] >= 0]] = bb.vals[0][bb.conn[0] >= 0]
                Btop[l][lp] = sp.csr_matrix(np.outer(va[free[l][2]], vb[free[lp][2]]))
        self.top_vec = []
        for l in range(L):
            a = spaces[l][2].evaluate(np.array([[0.0]]))
            va = np.zeros(spaces[l][2].n_dofs); va[a.conn[0][a.conn[0] >= 0]] = a.vals[0][a.conn[0] >= 0]
            self.top_vec.append(va[free[l][2]])
        Mt, _, Ct = matrices_1d(Vt, Vt)
        Mt, Ct = Mt[tfree][:, tfree], Ct[tfree][:, tfree]
        T = [[Mt for lp in range(L)] for l in range(L)]
        Tc = [[Ct for lp in range(L)] for l in range(L)]
        rho_c, k = mat.rho_c, mat.conductivity
        h_eff = dom.h_conv + 4 * dom.emissivity * SIGMA_SB * dom.T0 ** 3
        self.h_eff = h_eff
        ops = [[Ms[0], Ms[1], Ms[2], Tc], [Ks[0], Ms[1], Ms[2], T], [Ms[0], Ks[1], Ms[2], T],
               [Ms[0], Ms[1], Ks[2], T]]
        coefs = [rho_c, k, k, k]
        if h_eff > 0:
            ops.append([Ms[0], Ms[1], Btop, T])
            coefs.append(h_eff)
        if s.ridge > 0 and L > 1:
            ridge_ops = []
            for dd in range(3):
                R = [[sp.csr_matrix((Ms[dd][l][lp].shape)) for lp in range(L)] for l in range(L)]
                for l in range(1, L):
                    R[l][l] = Ms[dd][l][l]
                ridge_ops.append(R)
            ops.append(ridge_ops + [[[Mt if l == lp else sp.csr_matrix(Mt.shape) for lp in range(L)] for l in range(L)]])
            coefs.append(s.ridge * rho_c / self.t_end)
        # loads: x-t SVD, exact y, z projections
        loads = []
        self.source_rank = []
        for l in range(L):
            Vx, Vy, Vz = spaces[l]
            Bxt = load_2d_xt(Vx, Vt, lambda x, t: b.gx_t(x, t))[free[l][0]][:, tfree]
            Ax, At = truncated_svd(Bxt, s.svd_tol)
            R = Ax.shape[1]
            by = load_1d(Vy, b.gy, n_sub=8)[free[l][1]]
            if b.penetration_depth > 0:
                bz = load_1d(Vz, b.fz, n_sub=8)[free[l][2]]
            else:
                bz = self.top_vec[l][:, None]
            loads.append([Ax, np.repeat(by, R, axis=1), np.repeat(bz, R, axis=1), At])
            self.source_rank.append(R)
        self.problem = SeparatedProblem(ops, coefs, loads)
        self.problem.comm = self.comm  # the 'fast' solver distributes its independent 1D mode solves
        # integration vectors for energy diagnostics
        self.w_space = [[self._integral_vec(spaces[l][dd], free[l][dd]) for dd in range(3)] for l in range(L)]
        return self.problem

    @staticmethod
    def _integral_vec(V, free):
        from .mesh import Quadrature
        from .fem import assemble_load

        q = Quadrature(V.mesh, V.default_quadrature() + 2)
        ev = V.evaluate(q.points, q.elem)
        return assemble_load(ev, q.weights, 1.0, V.n_dofs)[free]

    # ------------------------------------------------------------------ solve and post-process
    def solve(self, progress: bool = False):
        t0 = time.perf_counter()
        if not hasattr(self, "problem"):
            self.build()
        t1 = time.perf_counter()
        s = self.config.solver
        U = self.problem.solve(s.modes, s.method, tol=s.tol, max_iter=s.max_iter)
        t2 = time.perf_counter()
        self.result = LPBFResult(self, U, timings={"build_s": t1 - t0, "solve_s": t2 - t1})
        return self.result

    def equivalent_dofs(self) -> dict:
        """Space-time dofs of the full-order problem with the finest spacing everywhere, vs TD storage."""
        dom = self.config.domain
        hf = [np.diff(ax).min() for ax in self.axes[-1]]
        n_full = (dom.length / hf[0] + 1) * (dom.width / hf[1] + 1) * (dom.depth / hf[2] + 1)
        nt = len(self.tfree)
        td = sum(sum(len(f) for f in self.free[l]) + nt for l in range(len(self.meshes))) * self.config.solver.modes
        return {"full_spatial": float(n_full), "full_spacetime": float(n_full * nt), "td_unknowns": int(td)}


class LPBFResult:
    """TD factors of an :class:`LPBFProblem` solve with field evaluation and melt-pool measures."""

    def __init__(self, problem: LPBFProblem, U, timings):
        self.problem, self.U, self.timings = problem, U, timings

    def _basis(self, V, free, x, deriv=False):
        x = np.asarray(x, float)
        inside = (x >= V.mesh.lower[0] - 1e-15) & (x <= V.mesh.upper[0] + 1e-15)
        out = np.zeros((x.size, len(free)))
        if inside.any():
            ev = V.evaluate(x[inside][:, None])
            full = np.zeros((inside.sum(), V.n_dofs + 1))
            vals = ev.grads[:, :, 0] if deriv else ev.vals
            rows = np.repeat(np.arange(inside.sum()), ev.conn.shape[1])
            np.add.at(full, (rows, ev.conn.ravel()), vals.ravel())
            out[inside] = full[:, free]
        return out

    def temperature_grid(self, xs, ys, zs, t, time_derivative=False):
        """T (or dT/dt) on the tensor grid xs x ys x zs at time t [K, K/s]."""
        p = self.problem
        tb = self._basis(p.Vt, p.tfree, np.atleast_1d(t), deriv=time_derivative)[0]
        out = 0.0
        for l, Ul in enumerate(self.U):
            bx = self._basis(p.spaces[l][0], p.free[l][0], xs) @ Ul[0]
            by = self._basis(p.spaces[l][1], p.free[l][1], ys) @ Ul[1]
            bz = self._basis(p.spaces[l][2], p.free[l][2], zs) @ Ul[2]
            tm = tb @ Ul[3]
            out = out + np.einsum("im,jm,km,m->ijk", bx, by, bz, tm)
        return (0.0 if time_derivative else p.config.domain.T0) + out

    def temperature(self, points, t):
        """T at scattered points (n, 3) at time t."""
        pts = np.atleast_2d(points)
        p = self.problem
        tb = self._basis(p.Vt, p.tfree, np.atleast_1d(t))[0]
        out = np.zeros(len(pts))
        for l, Ul in enumerate(self.U):
            f = np.ones((len(pts), Ul[0].shape[1]))
            for dd in range(3):
                f *= self._basis(p.spaces[l][dd], p.free[l][dd], pts[:, dd]) @ Ul[dd]
            out += f @ (tb @ Ul[3])
        return p.config.domain.T0 + out

    def stored_energy(self, t) -> float:
        """int rho c (T - T0) dV at time t [J]."""
        p = self.problem
        tb = self._basis(p.Vt, p.tfree, np.atleast_1d(t))[0]
        e = 0.0
        for l, Ul in enumerate(self.U):
            f = np.ones(Ul[0].shape[1])
            for dd in range(3):
                f *= p.w_space[l][dd] @ Ul[dd]
            e += f @ (tb @ Ul[3])
        return float(p.material.rho_c * e)

    def boundary_loss(self, t) -> float:
        """int_0^t int_top h_eff (T - T0) dA dt' [J] (time integral with 64-point Gauss per time element)."""
        p = self.problem
        if p.h_eff == 0:
            return 0.0
        ts = p.time_axis[p.time_axis <= t]
        ts = np.concatenate([ts, [t]]) if ts[-1] < t else ts
        xg, wg = np.polynomial.legendre.leggauss(8)
        tot = 0.0
        for a, b in zip(ts[:-1], ts[1:]):
            tq = 0.5 * (b - a) * (xg + 1) + a
            tb = self._basis(p.Vt, p.tfree, tq)
            for l, Ul in enumerate(self.U):
                f = (p.w_space[l][0] @ Ul[0]) * (p.w_space[l][1] @ Ul[1]) * (p.top_vec[l] @ Ul[2])
                tot += 0.5 * (b - a) * np.sum(wg * (tb @ Ul[3] @ f))
        return float(p.h_eff * tot)

    def absorbed_energy(self, t) -> float:
        b = self.problem.beam
        return float(b.absorbed_power * min(max(t, 0.0), b.t_off))

    def melt_pool(self, t, n: int = 161, behind: float = 16.0) -> dict:
        """Peak temperature, melt-pool length / width / depth from the solidus isotherm (sampled on a
        window from ``behind`` radii behind to 3 radii ahead of the beam, 4 radii wide and deep; a pool longer
        than the window is reported truncated), and the solidification cooling rate at the trailing
        solidus point on the centreline (quasi-steady v |dT/dx|, plus the TD -dT/dt), at time t."""
        p = self.problem
        b, Ts = p.beam, p.material.solidus
        xs_, _ = b.position(t)
        r = b.radius
        dom = p.config.domain
        x = np.linspace(max(xs_ - behind * r, 0.0), min(xs_ + 3 * r, dom.length), n)
        y = np.linspace(0.0, 4 * r, 61)
        z = np.linspace(-min(4 * max(r, b.penetration_depth), dom.depth), 0.0, 61)
        T = self.temperature_grid(x, y, z, t)
        out = {"time": float(t), "peak_T": float(T.max()), "length": 0.0, "width": 0.0, "depth": 0.0,
               "cooling_rate": 0.0, "cooling_rate_dTdt": 0.0}
        melt = T >= Ts
        if melt.any():
            def extent(coord, mask_along):
                idx = np.nonzero(mask_along)[0]
                return coord[idx.min()], coord[idx.max()]

            cl = T[:, 0, -1]
            if (cl >= Ts).any():
                x0, x1 = extent(x, cl >= Ts)
                out["length"] = float(x1 - x0 + (x[1] - x[0]))
                # trailing edge: solidification cooling rate.  Quasi-steady estimate v |dT/dx| at the rear
                # solidus crossing (Rosenthal frame; robust), and the TD time derivative there for comparison.
                i1 = np.nonzero(cl >= Ts)[0].min()
                if i1 > 0:
                    g = (cl[i1] - cl[i1 - 1]) / (x[i1] - x[i1 - 1])
                    xr = x[i1 - 1] + (Ts - cl[i1 - 1]) / g if g != 0 else x[i1]
                    out["cooling_rate"] = float(b.speed * abs(g))
                    dT = self.temperature_grid(np.array([xr]), np.array([0.0]), np.array([0.0]), t, time_derivative=True)
                    out["cooling_rate_dTdt"] = float(-dT.ravel()[0])
            surf = T[:, :, -1] >= Ts
            if surf.any():
                out["width"] = float(2 * (y[np.nonzero(surf.any(axis=0))[0].max()] + (y[1] - y[0]) / 2))
            sec = T[:, 0, :] >= Ts
            if sec.any():
                out["depth"] = float(-z[np.nonzero(sec.any(axis=0))[0].min()] + (z[1] - z[0]) / 2)
        return out

    def green_error(self, t=None, n: int = 23) -> dict:
        """Error against the exact half-space Green's function (:func:`pde.analytic.green_gaussian`) on four
        lines along the track near the beam (centreline, surface off-axis, below the surface, off-axis deep),
        from 8 radii behind to 3 radii ahead.  Returns RMS and max errors relative to the peak rise."""
        from .analytic import green_gaussian

        p = self.problem
        b, mat = p.beam, p.material
        t = min(p.t_end, b.t_off) if t is None else t
        xs, _ = b.position(t)
        x = np.linspace(xs - 8 * b.radius, xs + 3 * b.radius, n)
        T0 = p.config.domain.T0
        errs, peak = [], 0.0
        for y, z in [(0, 0), (1.5 * b.radius, 0), (0, -b.radius), (3 * b.radius, -2 * b.radius)]:
            pts = np.stack([x, 0 * x + y, 0 * x + z], 1)
            Tg = green_gaussian(pts, t, b, mat.rho_c, mat.diffusivity, T0)
            errs.append(self.temperature(pts, t) - Tg)
            peak = max(peak, Tg.max() - T0)
        e = np.concatenate(errs)
        return {"rms_rel": float(np.sqrt(np.mean(e**2)) / peak), "max_rel": float(np.abs(e).max() / peak),
                "peak_rise_K": float(peak), "time": float(t)}

    def summary(self) -> dict:
        p = self.problem
        t_end = p.t_end
        mp = self.melt_pool(min(t_end, p.beam.t_off))
        E_in, E_st, E_loss = self.absorbed_energy(t_end), self.stored_energy(t_end), self.boundary_loss(t_end)
        return {
            "levels": len(p.meshes), "basis": p.config.solver.basis, "modes": p.config.solver.modes,
            "method": p.config.solver.method, "source_rank": p.source_rank,
            "residual": p.problem.residual_norm(self.U), "converged": bool(getattr(p.problem, "converged", False)),
            "melt_pool": mp, "energy": {"absorbed_J": E_in, "stored_J": E_st, "boundary_loss_J": E_loss,
                                        "relative_imbalance": (E_in - E_st - E_loss) / E_in},
            "dofs": p.equivalent_dofs(), "timings": self.timings,
            "material": dataclasses.asdict(p.material), "config": to_dict(p.config),
        }

    def write(self, path, json_path=None, snapshots: int | None = None):
        """HDF5 output (atomic, with header) of the factors, snapshots and melt-pool history."""
        from gpu.io import write_json, write_results

        p = self.problem
        nsnap = snapshots or p.config.output.snapshots
        times = np.linspace(0, p.t_end, nsnap + 1)[1:]
        dom = p.config.domain
        xs = np.linspace(0, dom.length, 97)
        ys = np.linspace(-dom.width / 2, dom.width / 2, 65)
        zs = np.linspace(-dom.depth, 0, 33)
        data = {"grid/x": xs, "grid/y": ys, "grid/z": zs, "snapshots/time": times}
        data["snapshots/T_top"] = np.stack([self.temperature_grid(xs, ys, zs[-1:], t)[:, :, 0] for t in times])
        data["snapshots/T_centre_xz"] = np.stack([self.temperature_grid(xs, ys[32:33], zs, t)[:, 0, :] for t in times])
        mt = np.linspace(0, min(p.t_end, p.beam.t_off), p.config.output.melt_times + 1)[1:]
        pools = [self.melt_pool(t) for t in mt]
        for key in ("peak_T", "length", "width", "depth", "cooling_rate"):
            data[f"melt_pool/{key}"] = np.array([m[key] for m in pools])
        data["melt_pool/time"] = mt
        for l, Ul in enumerate(self.U):
            for dd, name in enumerate("xyzt"):
                data[f"factors/level{l}/{name}"] = Ul[dd]
        units = {"grid/x": "m", "grid/y": "m", "grid/z": "m", "snapshots/time": "s", "snapshots/T_top": "K",
                 "snapshots/T_centre_xz": "K", "melt_pool/peak_T": "K", "melt_pool/length": "m",
                 "melt_pool/width": "m", "melt_pool/depth": "m", "melt_pool/cooling_rate": "K/s", "melt_pool/time": "s"}
        summ = self.summary()
        write_results(path, data, params={"summary": summ}, units=units)
        if json_path:
            write_json(json_path, summ)
        return summ

"""Full-order nonlinear heat conduction: k(T), c_p(T), latent heat of fusion and evaporative surface loss.

    dE(T)/dt - div(k(T) grad T) = q(x, t),     -k dT/dn = h_eff (T - T0) + q_ev(T) on the heated surface,

with the enthalpy per volume E(T) = rho (int c_p dT + L_f f_l(T)) (:func:`pde.materials.volumetric_enthalpy`; its
derivative is the apparent heat capacity) and the evaporative loss q_ev of :func:`pde.materials.evaporation_flux`.

Discretisation (documented choices):

* Tensor-product P1 (1D) / Q1 (3D) elements on graded axes; stiffness consistent, mass lumped (row sums).
* Kirchhoff transform phi(T) = int k dT / k_ref (:func:`pde.materials.kirchhoff`): the conduction term is
  k_ref K phi(T) with the constant stiffness K, interpolating phi nodally (Kirchhoff-transformed FEM; for steady 1D
  conduction the P1 nodal values of phi, hence of T, are exact).
* Backward Euler in time on the enthalpy: M_L (E(T^{n+1}) - E(T^n)) / dt + k_ref K phi(T^{n+1}) + A_s (h_eff (T - T0)
  + q_ev(T)) = F^{n+1} (F: the source averaged over the step).  Differencing E itself (not c_app dT) keeps the latent
  heat exactly: summing the equations (K 1 = 0) gives the discrete energy balance
  sum M_L (E^N - E^0) + losses = absorbed, to the Newton tolerance (:meth:`NonlinearHeatSolver.energy`).
* Newton's method per step over the nodal temperatures.  The Jacobian M_L E'(T) / dt + A_s (h + q_ev') + K diag(k/k_ref)
  becomes symmetric positive definite after the column scaling dT = diag(k_ref / k) y, so every Newton system is
  solved by conjugate gradients in 3D (Jacobi preconditioner, relative tolerance 1e-3 x the Newton residual: an
  inexact Newton method) and directly in 1D.  The step is damped: scaled so that no node moves more than ``max_update`` K, then halved until the residual
  norm decreases (backtracking line search; Dennis & Schnabel, *Numerical Methods for Unconstrained Optimization
  and Nonlinear Equations*, 1983, Sec. 6.3), for the steep latent-heat and evaporation terms.
  Each step stops when ||R|| <= ``tol`` || |F| + |M_L (E - E^n) / dt| + |K| |phi| + A_s |q| || (the residual's terms
  in magnitude); the iterations and residual of every step
  are recorded, and a step that does not converge in ``max_iter`` iterations raises :class:`gpu.io.ResultError`.

:func:`solve_track` runs the moving Gaussian beam of :mod:`pde.heat_source` on the half block y >= 0 (the beam and
the block are symmetric about y = 0; the plane y = 0 carries the natural condition), a fine uniform box around
the track, graded outward.  The multilevel TD solver of :mod:`pde.lpbf` is linear; :func:`solve_track_td` solves this
module's discrete nonlinear equations (one track, no evaporation) by space-time TD with a fixed-point iteration, and
this full-order solver is its reference.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gpu.io import ResultError

from ._kernels.heat_properties import nodal_terms, surface_evaporation
from .materials import Material, ThermalTable


# ------------------------------------------------------------------------------------------------ 1D P1 pieces
def p1_matrices(axis):
    """Consistent mass M, stiffness K (sparse) and lumped mass m (row sums of M) of P1 elements on ``axis``."""
    h = np.diff(np.asarray(axis, float))
    n = len(h) + 1
    dm = np.zeros(n)
    dm[:-1] += h / 3
    dm[1:] += h / 3
    dk = np.zeros(n)
    dk[:-1] += 1 / h
    dk[1:] += 1 / h
    M = sp.diags([h / 6, dm, h / 6], [-1, 0, 1], format="csr")
    K = sp.diags([-1 / h, dk, -1 / h], [-1, 0, 1], format="csr")
    m = np.zeros(n)
    m[:-1] += h / 2
    m[1:] += h / 2
    return M, K, m


def p1_load(axis, func, n_gauss: int = 4, n_sub: int = 4):
    """b_i = int phi_i(x) f(x) dx for the P1 hats on ``axis`` (Gauss-Legendre, ``n_gauss`` points on each of
    ``n_sub`` sub-intervals per element)."""
    a = np.asarray(axis, float)
    xg, wg = np.polynomial.legendre.leggauss(n_gauss)
    s = (np.arange(n_sub)[:, None] + 0.5 * (xg[None, :] + 1)) / n_sub  # local coordinates in [0, 1]
    w = np.repeat(wg[None, :] / (2 * n_sub), n_sub, 0)
    h = np.diff(a)
    pts = a[:-1, None, None] + h[:, None, None] * s[None]
    f = np.asarray(func(pts.ravel()), float).reshape(pts.shape) * (h[:, None, None] * w[None])
    b = np.zeros(len(a))
    b[:-1] += (f * (1 - s[None])).sum(axis=(1, 2))
    b[1:] += (f * s[None]).sum(axis=(1, 2))
    return b


def graded_axis(lo, hi, fine_lo, fine_hi, h_fine, growth: float = 1.4):
    """Nodes on [lo, hi]: uniform spacing ~h_fine on [fine_lo, fine_hi] (clipped to [lo, hi]), growing by the factor
    ``growth`` per element outside it."""
    fine_lo, fine_hi = max(lo, fine_lo), min(hi, fine_hi)
    n = max(1, int(np.ceil((fine_hi - fine_lo) / h_fine - 1e-9)))
    nodes = list(np.linspace(fine_lo, fine_hi, n + 1))
    h = (fine_hi - fine_lo) / n
    for side, end in ((-1, lo), (1, hi)):
        x, hs, out = (fine_lo if side < 0 else fine_hi), h, []
        while abs(end - x) > 1e-12 * max(abs(hi - lo), 1e-30):
            hs *= growth
            if abs(end - x) < 1.5 * hs:
                x = end
            else:
                x += side * hs
            out.append(x)
        nodes = (out[::-1] + nodes) if side < 0 else (nodes + out)
    return np.asarray(nodes)


# ------------------------------------------------------------------------------------------------ material model
@dataclasses.dataclass(frozen=True)
class ThermalModel:
    """Material terms of the nonlinear model as tables for the kernels.

    Constant properties are one-point tables (then E = rho c (T - T_ref), phi = T - T_ref: the linear model).
    ``L_f`` = 0 without latent heat; ``evaporation`` False leaves q_ev out."""

    T_k: np.ndarray
    k: np.ndarray
    T_c: np.ndarray
    c_p: np.ndarray
    rho: float
    T_ref: float
    L_f: float = 0.0
    T_s: float = 0.0
    T_l: float = 1.0
    evaporation: bool = False
    T_b: float = 0.0
    L_v: float = 0.0
    M: float = 0.0
    beta_r: float = 0.18
    h_eff: float = 0.0

    def __post_init__(self):
        if self.L_f > 0 and not self.T_l > self.T_s:
            raise ValueError(f"latent heat needs a melting range T_l > T_s, got [{self.T_s}, {self.T_l}] K")
        if self.evaporation and not (self.T_b > 0 and self.L_v > 0 and self.M > 0 and 0 <= self.beta_r < 1):
            raise ValueError("evaporation needs T_b, L_v, M > 0 and 0 <= beta_r < 1")

    @property
    def k_ref(self) -> float:
        return float(self.k[0])

    @classmethod
    def from_material(cls, material: Material, table: ThermalTable | None = None, *, temperature_dependent=False,
                      latent_heat=False, evaporation=False, beta_r=0.18, T0=300.0, h_eff=0.0):
        """The model of ``material`` (constant rho, c_p, k) or, with ``temperature_dependent``, of ``table``'s k(T),
        c_p(T) and density; ``latent_heat``: L_f of ``table`` released over [solidus, liquidus]; ``evaporation``:
        q_ev with the table's T_b, L_v, M and back-condensed fraction ``beta_r``."""
        if (temperature_dependent or latent_heat or evaporation) and table is None:
            raise ValueError("the nonlinear options need the material's thermal table")
        if temperature_dependent:
            T_k, k, T_c, c = table.arrays()
            rho = table.density
        else:
            T_k, k = np.array([T0]), np.array([material.conductivity])
            T_c, c = np.array([T0]), np.array([material.heat_capacity])
            rho = material.density
        kw = {}
        if latent_heat:
            kw.update(L_f=table.latent_heat, T_s=table.solidus, T_l=max(table.liquidus, table.solidus + 1.0))
        if evaporation:
            kw.update(evaporation=True, T_b=table.boiling, L_v=table.vaporisation_heat, M=table.molar_mass,
                      beta_r=beta_r)
        return cls(T_k, k, T_c, c, float(rho), float(T0), h_eff=float(h_eff), **kw)

    def terms(self, T):
        """(E, dE/dT, phi, k) at the nodal temperatures T."""
        T = np.ascontiguousarray(T, float)
        E, dE, phi, kT = (np.empty_like(T) for _ in range(4))
        nodal_terms(T, self.T_k, self.k, self.T_c, self.c_p, self.rho, self.L_f, self.T_s, self.T_l, self.T_ref,
                    self.k_ref, E, dE, phi, kT)
        return E, dE, phi, kT

    def surface_loss(self, T, nodes):
        """(q, dq/dT) of convection + linearised radiation + evaporation at the surface ``nodes`` [W/m^2]."""
        q = self.h_eff * (T[nodes] - self.T_ref)
        dq = np.full(len(nodes), self.h_eff)
        if self.evaporation:
            qe, dqe = np.empty(len(nodes)), np.empty(len(nodes))
            surface_evaporation(np.ascontiguousarray(T, float), nodes, self.T_b, self.L_v, self.M, self.beta_r, qe,
                                dqe)
            q, dq = q + qe, dq + dqe
        return q, dq


# ------------------------------------------------------------------------------------------------ the solver
class NonlinearHeatSolver:
    """Backward-Euler / Newton solver of the nonlinear heat equation on a tensor grid (module docstring).

    ``axes``: one (1D) or three (3D) node arrays; ``model``: :class:`ThermalModel`; ``surface``: (axis, side) of the
    face that loses heat (side 0: lower end, 1: upper end) or None; ``dirichlet``: (node indices, values) held fixed;
    ``T_init``: initial nodal temperatures (default ``model.T_ref``)."""

    def __init__(self, axes, model: ThermalModel, surface=None, dirichlet=None, T_init=None, tol: float = 1e-9,
                 max_iter: int = 40, max_update: float = 5000.0):
        self.axes = [np.asarray(a, float) for a in axes]
        self.shape = tuple(len(a) for a in self.axes)
        self.model, self.tol, self.max_iter, self.max_update = model, tol, max_iter, max_update
        mats = [p1_matrices(a) for a in self.axes]
        n = int(np.prod(self.shape))
        K = sp.csr_matrix((n, n))
        mL = np.ones(1)
        for d in range(len(self.axes)):
            term = sp.csr_matrix(np.ones((1, 1)))
            for e, (M, Kd, _) in enumerate(mats):
                term = sp.kron(term, Kd if e == d else M, format="csr")
            K = K + term
        for _, _, m in mats:
            mL = np.kron(mL, m)
        self.K, self.mL = (model.k_ref * K).tocsr(), mL
        self.absK = abs(self.K)
        idx = np.arange(n).reshape(self.shape)
        if surface is not None:
            ax, side = surface
            self.surf = np.ascontiguousarray(np.take(idx, -1 if side else 0, axis=ax).ravel())
            area = np.ones(1)
            for e, (_, _, m) in enumerate(mats):
                if e != ax:
                    area = np.kron(area, m)
            self.area = area
        else:
            self.surf, self.area = np.zeros(0, dtype=np.int64), np.zeros(0)
        fixed = np.zeros(n, bool)
        self.T = np.full(n, model.T_ref) if T_init is None else np.array(T_init, float).ravel()
        if dirichlet is not None:
            fixed[np.asarray(dirichlet[0])] = True
            self.T[np.asarray(dirichlet[0])] = dirichlet[1]
        self.free = np.nonzero(~fixed)[0]
        self.t = 0.0
        self.E0 = model.terms(self.T)[0]
        self.steps, self.iterations, self.residuals = 0, [], []
        self.absorbed = self.surface_lost = 0.0
        self.peak_T = float(self.T.max())

    def _residual(self, T, E_old, dt, F):
        E, dE, phi, kT = self.model.terms(T)
        R = self.mL * (E - E_old) / dt + self.K @ phi - F
        q, dq = self.model.surface_loss(T, self.surf)
        R[self.surf] += self.area * q
        return R, E, dE, kT, q, dq, phi

    def _scale(self, F, dE, dt, phi, q):
        """Norm of the sum of the magnitudes of the residual's terms (free rows): the residual's natural scale."""
        a = np.abs(F) + np.abs(self.mL * dE / dt) + self.absK @ np.abs(phi)
        a[self.surf] += self.area * np.abs(q)
        return float(np.linalg.norm(a[self.free]))

    def step(self, dt: float, F) -> dict:
        """Advance by dt with the nodal source F (W, averaged over the step); returns {"iterations", "residual"}."""
        T_old = self.T.copy()
        E_old = self.model.terms(T_old)[0]
        T = T_old.copy()
        fr = self.free
        R, E, dE, kT, q, dq, phi = self._residual(T, E_old, dt, F)
        for it in range(1, self.max_iter + 1):
            scale = self._scale(F, E - E_old, dt, phi, q) + 1e-300
            rn = float(np.linalg.norm(R[fr]))
            res = rn / scale
            if res <= self.tol:
                break
            D = self.mL * dE / dt
            D[self.surf] += self.area * dq
            s = self.model.k_ref / kT  # column scaling: (diag(D) S + K) y = -R, dT = S y, symmetric positive definite
            A = (self.K + sp.diags(D * s)).tocsr()[fr][:, fr]
            if len(self.axes) == 1:
                y = spla.spsolve(A.tocsc(), -R[fr])
            else:
                y, _ = spla.cg(A, -R[fr], rtol=1e-3 * min(1.0, res), maxiter=2000, M=sp.diags(1.0 / A.diagonal()))
            dT = s[fr] * y
            # damped Newton: updates capped at max_update K, halved until ||R|| decreases (Armijo-type backtracking)
            lam = min(1.0, self.max_update / max(float(np.abs(dT).max()), 1e-300))
            for _ in range(30):
                Tn = T.copy()
                Tn[fr] += lam * dT
                new = self._residual(Tn, E_old, dt, F)
                rnew = float(np.linalg.norm(new[0][fr]))
                if np.isfinite(rnew) and (rnew < (1 - 1e-4 * lam) * rn or lam < 1e-6):
                    break
                lam *= 0.5
            if not np.isfinite(rnew):
                raise ResultError(f"nonlinear heat solve: non-finite residual in step {self.steps + 1} "
                                  f"(t = {self.t + dt:.4g} s) after {it} Newton iterations; use a smaller time step")
            T = Tn
            R, E, dE, kT, q, dq, phi = new
        else:
            raise ResultError(f"nonlinear heat solve: Newton's method did not converge in step {self.steps + 1} "
                              f"(t = {self.t + dt:.4g} s): relative residual {res:.3g} after {self.max_iter} iterations, "
                              f"tolerance {self.tol:g}; use a smaller time step")
        self.T = T
        self.t += dt
        self.steps += 1
        self.iterations.append(it)
        self.residuals.append(res)
        self.absorbed += dt * float(F[fr].sum())
        self.surface_lost += dt * float((self.area * q).sum())
        self.peak_T = max(self.peak_T, float(T.max()))
        return {"iterations": it, "residual": res}

    def energy(self) -> dict:
        """Stored enthalpy sum M_L (E - E^0), absorbed and surface-lost energy so far [J], and the relative imbalance
        (meaningful without Dirichlet nodes, which exchange heat with the outside)."""
        stored = float((self.mL * (self.model.terms(self.T)[0] - self.E0)).sum())
        imb = (self.absorbed - stored - self.surface_lost) / self.absorbed if self.absorbed else float("nan")
        return {"absorbed_J": self.absorbed, "stored_J": stored, "surface_lost_J": self.surface_lost,
                "relative_imbalance": imb}

    def convergence(self) -> dict:
        """Newton iterations per step (max, mean, total; an iteration evaluates the residual and, unless it has converged,
        updates: a linear problem takes 2, one update and the check) and the largest final relative residual."""
        it = np.asarray(self.iterations or [0])
        return {"steps": self.steps, "newton_max": int(it.max()), "newton_mean": float(it.mean()),
                "newton_total": int(it.sum()), "residual_max": float(max(self.residuals or [0.0])),
                "tol": self.tol}

    def field(self):
        """Nodal temperatures on the tensor grid (shape of the axes)."""
        return self.T.reshape(self.shape)


# ------------------------------------------------------------------------------------------------ single track
def melt_pool_from_grid(axes, T3, T_melt) -> dict:
    """Melt-pool length (along x on y = 0, z = 0), width (2 x the largest y on the top surface) and depth (the
    largest -z on y = 0) of the region T >= T_melt on the half-block grid (y >= 0 from axes[1][0] = 0, top
    surface at axes[2][-1]); isotherm crossings linearly interpolated between nodes."""
    x, y, z = axes

    def reach(c, v):  # how far from c[0] the region v >= T_melt that starts at c[0] extends
        if v[0] < T_melt:
            return 0.0
        j = int(np.argmax(v < T_melt)) if (v < T_melt).any() else len(v) - 1
        if v[j] >= T_melt:
            return float(abs(c[j] - c[0]))
        w = (v[j - 1] - T_melt) / (v[j - 1] - v[j])
        return float(abs(c[j - 1] + w * (c[j] - c[j - 1]) - c[0]))

    line = T3[:, 0, -1]
    length = 0.0
    if (line >= T_melt).any():
        i = np.nonzero(line >= T_melt)[0]
        lo, hi = i.min(), i.max()
        xa = x[lo]
        if lo > 0:  # interpolate both ends
            xa = x[lo - 1] + (T_melt - line[lo - 1]) / (line[lo] - line[lo - 1]) * (x[lo] - x[lo - 1])
        xb = x[hi]
        if hi < len(x) - 1:
            xb = x[hi] + (line[hi] - T_melt) / (line[hi] - line[hi + 1]) * (x[hi + 1] - x[hi])
        length = float(xb - xa)
    width = 2 * max(reach(y, T3[i, :, -1]) for i in range(len(x)))
    depth = max(reach(z[::-1], T3[i, 0, ::-1]) for i in range(len(x)))
    return {"length": length, "width": float(width), "depth": float(depth)}


def fused_zone(axes, T_max, T_melt, x_cut) -> dict:
    """Fused zone of a scan (nodes whose peak temperature over the run reached ``T_melt``) in the cross-section
    nearest x = ``x_cut``: its width on the top surface (y-extent of the fused nodes, tracks merged or not, the end
    crossings interpolated linearly),
    ``depth_max``, and ``depth_min`` -- the smallest fused depth (nodal) over the nodes of that width (0 where two
    tracks left unfused metal between them: lack of fusion)."""
    x, y, z = axes
    i = int(np.argmin(np.abs(x - x_cut)))
    F = T_max[i] >= T_melt  # (ny, nz)
    top = F[:, -1]
    if not top.any():
        return {"x": float(x[i]), "width": 0.0, "depth_max": 0.0, "depth_min": 0.0}
    j = np.nonzero(top)[0]
    lo, hi = j.min(), j.max()
    v = T_max[i, :, -1]
    ya = y[lo] if lo == 0 else y[lo - 1] + (T_melt - v[lo - 1]) / (v[lo] - v[lo - 1]) * (y[lo] - y[lo - 1])
    yb = y[hi] if hi == len(y) - 1 else y[hi] + (v[hi] - T_melt) / (v[hi] - v[hi + 1]) * (y[hi + 1] - y[hi])
    depth = np.array([-z[np.nonzero(F[jj])[0].min()] if F[jj].any() else 0.0 for jj in range(lo, hi + 1)])
    return {"x": float(x[i]), "width": float(yb - ya), "depth_max": float(depth.max()),
            "depth_min": float(depth.min())}


def track_axes(beam, block, path, h_fine, box):
    """Node axes (x, y, z) of a scan over the block (length, width, depth) = ``block`` and whether the half block
    y >= 0 is used (one track on y = 0): spacing ``h_fine`` in the box around the tracks (``box``: +- box[0] radii in
    x, +- box[1] radii in y, box[2] x max(radius, depth) deep), graded by 1.4 outward (:func:`solve_track`)."""
    L, W, D = block
    r = beam.radius
    xs0, xs1 = beam.start[0], beam.start[0] + beam.length
    x = graded_axis(0.0, L, xs0 - box[0] * r, xs1 + box[0] * r, h_fine)
    half = path.tracks == 1 and beam.start[1] == 0.0
    if half:
        y = graded_axis(0.0, W / 2, 0.0, box[1] * r, h_fine)
    else:
        ys = [path.track_y(i) for i in range(path.tracks)]
        y = graded_axis(-W / 2, W / 2, min(ys) - box[1] * r, max(ys) + box[1] * r, h_fine)
    z = graded_axis(-D, 0.0, -box[2] * max(r, beam.penetration_depth), 0.0, h_fine)
    return x, y, z, half


def _depth_load(beam, z):
    """P1 load of the beam's depth profile on the z axis (a surface flux: the top node)."""
    if beam.penetration_depth > 0:
        return p1_load(z, beam.fz)
    bz = np.zeros(len(z))
    bz[-1] = 1.0
    return bz


def _time_nodes(t_end, dt):
    """Uniform backward-Euler time nodes on [0, t_end], steps <= dt."""
    n = max(1, int(np.ceil(t_end / dt - 1e-9)))
    return np.linspace(0.0, t_end, n + 1)


def solve_track(beam, block, model: ThermalModel, t_end: float, h_fine: float = 12.5e-6, dt: float = 5e-6,
                box=(3.0, 3.0, 2.5), tol: float = 1e-9, max_iter: int = 40, T_melt: float | None = None,
                path=None) -> dict:
    """Single track of ``beam`` (:class:`pde.heat_source.GaussianBeam`) -- or the tracks of ``path``
    (:class:`pde.heat_source.ScanPath` of that beam, hatch spacing along y) -- over the block (length, width,
    depth) = ``block`` [m] ([0, L] x [-W/2, W/2] x [-D, 0]), nonlinear ``model``, from T_ref to ``t_end``.  One
    track is solved on y >= 0 (symmetry), several on the whole width.

    Mesh: spacing ``h_fine`` in the box (tracks +- box[0] radii in x, +- box[1] radii in y, box[2] x max(radius,
    depth) deep), graded by 1.4 outward; ``dt``: time step (the switch-off and the turns are step boundaries when
    they are multiples of dt).  Returns a dict: ``peak_T`` (largest nodal T over all steps), ``peak_T_end``,
    ``melt_pool`` at t_end of the last track (the ``T_melt`` isotherm, e.g. the solidus; None: not measured; for
    several tracks measured about y = the last track's line on its side y > y_last), ``fused`` (:func:`fused_zone` at
    the middle of the tracks, with ``T_melt``), ``energy`` (full block), ``convergence`` (Newton), ``nodes``,
    ``wall_s``, ``axes`` and ``solver`` (its nodal field and peak-temperature field ``T_max``)."""
    from .heat_source import ScanPath

    path = ScanPath(beam, 1) if path is None else path
    x, y, z, half = track_axes(beam, block, path, h_fine, box)
    xs0, xs1 = beam.start[0], beam.start[0] + beam.length
    solver = NonlinearHeatSolver([x, y, z], model, surface=(2, 1), tol=tol, max_iter=max_iter)
    bz = _depth_load(beam, z)
    byz = [np.kron(p1_load(y, lambda yy, i=i: path.track_gy(i, yy)), bz) for i in range(path.tracks)]
    ts = _time_nodes(t_end, dt)
    tg, wg = np.polynomial.legendre.leggauss(3)
    T_max = solver.T.copy()
    t0 = time.perf_counter()
    for a, b in zip(ts[:-1], ts[1:]):
        F = np.zeros(solver.T.size)
        for tq, w in zip(0.5 * (b - a) * (tg + 1) + a, wg):  # the step average of the source
            for i in range(path.tracks):
                if i * path.t_track <= tq <= (i + 1) * path.t_track:
                    F += 0.5 * w * np.kron(p1_load(x, lambda xx, i=i, tq=tq: path.track_x_load(i, xx, tq)), byz[i])
        solver.step(b - a, F)
        np.maximum(T_max, solver.T, out=T_max)
    solver.T_max = T_max.reshape(solver.shape)
    T3 = solver.field()
    e = solver.energy()
    mp = None
    if T_melt is not None:
        if half:
            mp = melt_pool_from_grid((x, y, z), T3, T_melt)
        else:  # the side of the last track away from the others
            yl = path.track_y(path.tracks - 1)
            j = int(np.argmin(np.abs(y - yl)))
            mp = melt_pool_from_grid((x, y[j:] - y[j], z), T3[:, j:, :], T_melt)
    fused = None if T_melt is None else fused_zone((x, y, z), solver.T_max, T_melt, 0.5 * (xs0 + xs1))
    if fused is not None and half:  # the fused width of the half block starts on the symmetry plane
        fused["width"] *= 2
    f = 2.0 if half else 1.0
    return {"peak_T": solver.peak_T, "peak_T_end": float(T3.max()), "nodes": int(T3.size), "melt_pool": mp,
            "fused": fused, "energy": {k: (f * v if k.endswith("_J") else v) for k, v in e.items()},
            "convergence": solver.convergence(), "wall_s": time.perf_counter() - t0, "solver": solver,
            "axes": (x, y, z), "half_block": half}


# ------------------------------------------------------------------------------------------------ nonlinear TD
def _along(A, X, axis):
    """The 1D matrix A applied along ``axis`` of the nodal array X."""
    Xm = np.moveaxis(X, axis, 0)
    return np.moveaxis((A @ Xm.reshape(Xm.shape[0], -1)).reshape((A.shape[0],) + Xm.shape[1:]), 0, axis)


def reference_coefficients(model: ThermalModel, T_hi: float | None = None, n: int = 4001):
    """(C_ref, a, a_s) of the constant reference operator of :func:`solve_track_td`: C_ref = rho c_app(T_ref) and
    a = max C_ref k(T) / (k_ref rho c_app(T)), a_s = max C_ref / (rho c_app(T)) over [T_ref, T_hi] (default: 500 K
    beyond the last table point or the liquidus; both are constant further out), sampled at ``n`` points plus the
    table points.  For constant properties a = a_s = 1."""
    T_hi = T_hi if T_hi is not None else max(model.T_k[-1], model.T_c[-1], model.T_l if model.L_f > 0 else 0.0,
                                             model.T_ref) + 500.0
    T = np.unique(np.concatenate([np.linspace(model.T_ref, T_hi, n), model.T_k, model.T_c]))
    T = T[T >= model.T_ref]
    _, dE, _, kT = model.terms(T)
    C_ref = float(model.terms(np.array([model.T_ref]))[1][0])
    return C_ref, float(max(1.0, (C_ref * kT / (model.k_ref * dE)).max())), float(max(1.0, (C_ref / dE).max()))


def solve_track_td(beam, block, model: ThermalModel, t_end: float, h_fine: float = 12.5e-6, dt: float = 5e-6,
                   box=(3.0, 3.0, 2.5), modes: int = 20, tol: float = 1e-3, max_iter: int = 30,
                   td_tol: float = 1e-4, td_max_iter: int = 60, separation_tol: float = 1e-4,
                   separation_rank: int = 4000, svd_tol: float = 1e-8, T_melt: float | None = None,
                   method: str = "subspace", anderson: int = 0) -> dict:
    """Single track by the space-time TD reduced-order model with k(T), c_p(T) and latent heat: the discrete problem
    of :func:`solve_track` (same grid, lumped-mass Q1 elements, Kirchhoff-transformed conduction, enthalpy backward
    Euler, same step-averaged source) solved for all steps at once in separated form, by a fixed-point iteration.

    Unknown: the enthalpy per volume, scaled to kelvin, u = E(T) / C_ref (C_ref = rho c_app(T_ref); for constant
    properties u = T - T_ref).  The space-time system of all backward-Euler steps,

        C_ref (M_L (x) D_t) u + k_ref (K (x) I_t) phi(T(u)) + h_eff (A_s (x) I_t) (T(u) - T_ref) = F,

    (D_t: the backward difference of the steps, M_L (x) I_t the lumped mass, K = K_x M_y M_z + ... the Q1
    stiffness, A_s the lumped top-surface mass) is split into a constant, separated reference operator and a
    deviation moved to the right-hand side, evaluated at the previous iterate:

        [C_ref M_L (x) D_t + a k_ref K (x) I_t + a_s h_eff A_s (x) I_t] u^{i+1}
            = F - k_ref (K (x) I_t) (phi(T(u^i)) - a u^i) - h_eff (A_s (x) I_t) (T(u^i) - T_ref - a_s u^i).

    Every u^{i+1} is a linear TD solve (:class:`pde.td.SeparatedProblem`, ``modes`` modes, warm-started from u^i).
    This is the fixed-point (Picard) treatment of a nonlinear PGD with the nonlinear term taken at the previous
    iterate (Chinesta, Ammar & Cueto, Arch. Comput. Methods Eng. 17 (2010) 327, Sec. 5; Ammar et al., Commun. Math.
    Sci. 8 (2010) 671) with a constant linearisation: the relaxation (L-) scheme of Pop, Radu & Knabner, J. Comput.
    Appl. Math. 168 (2004) 365, written in the enthalpy as in the nonlinear Chernoff formula of Berger, Brezis &
    Rogers, RAIRO Anal. Numer. 13 (1979) 297 / Magenes, Nochetto & Verdi, M2AN 21 (1987) 655.  In the enthalpy the
    time term is linear, so the latent heat enters only through dphi/dE = k / (k_ref rho c_app), which the
    apparent heat capacity's peak makes *small*; the iteration contracts where a >= max(C_ref dphi/dE) / 2 and a_s
    >= max(C_ref / rho c_app) / 2: :func:`reference_coefficients` takes the maxima (a monotone contraction).
    The deviation is a full space-time array (T(u) is nonlinear in the modes); it is evaluated on the nodes and
    separated again by :func:`pde.td.separate_tensor` (relative tolerance ``separation_tol`` of ||a u||, at most
    ``separation_rank`` terms) -- the separated approximation of non-separable data (Zlotnik et al., Adv. Model.
    Simul. Eng. Sci. 2 (2015) 28).  So each iteration costs O(N_x N_y N_z N_t) for the nodal evaluation: no
    hyper-reduction is done.  The source's x-t block is compressed by truncated SVD (``svd_tol``).

    Acceleration (``anderson`` = m >= 1; default 0: the plain fixed point): Anderson mixing of depth m (Anderson,
    J. ACM 12 (1965) 547; the "type II" least-squares form of Walker & Ni, SIAM J. Numer. Anal. 49 (2011) 1715,
    Sec. 2, with the difference matrices of their Eq. (2.3)) on the nodal iterate: with g(u) the TD solve from the
    deviation at u and f_i = g(u_i) - u_i, the next deviation is evaluated at
    u_{i+1} = g(u_i) - dG gamma, gamma = argmin || f_i - dF gamma || over the last m differences dF, dG of f and g.
    Safeguard: when ||f_i|| > ||f_{i-1}|| the plain step u_{i+1} = g(u_i) is taken and the history restarts.  The
    fixed points are the same; ``change`` is then ||f_i|| / ||g(u_i)||, and the returned field is T(g(u_i)).
    Measured (Ti-6Al-4V, latent heat, 12.5 um, 0.2 ms, 20 modes): 9 iterations instead of 11 to a change of 1e-3,
    same field error against the full order, but not less CPU time (the first three TD solves, 60 ALS sweeps each,
    dominate; two one-round comparisons, in either order, differed by the run order, not by m): hence the default 0.

    Stopping: the relative change ||u^{i+1} - u^i|| / ||u^{i+1}|| <= ``tol`` (nodal Euclidean norm), or a deviation
    below ``separation_tol`` (constant properties: the first iterate is the linear TD solution, returned unchanged);
    after ``max_iter`` iterations the result is returned with ``converged`` False.  Every iteration records the
    change, the relative full-order residual ||R(T^i)|| / ||F|| of the backward-Euler equations (TD truncation
    included), the separated deviation's rank and remainder.

    One track on the half block y >= 0 only (as :func:`solve_track` for one track); no evaporation (a ValueError).
    Returns a dict like :func:`solve_track` (``peak_T``, ``peak_T_end``, ``melt_pool``, ``fused``, ``energy``,
    ``axes``, ``T_end``, ``T_max``) plus ``picard`` (per-iteration records), ``converged``, ``modes``,
    ``source_rank``, ``wall_s``, ``cpu_s``."""
    from gpu.config import check_arg

    from ._kernels.heat_properties import nodal_temperature
    from .heat_source import ScanPath
    from .td import SeparatedProblem, separate_tensor, truncated_svd

    for name, v, kw in (("t_end", t_end, {"gt": 0}), ("h_fine", h_fine, {"gt": 0}), ("dt", dt, {"gt": 0}),
                        ("tol", tol, {"gt": 0, "lt": 1}), ("td_tol", td_tol, {"gt": 0, "lt": 1}),
                        ("separation_tol", separation_tol, {"gt": 0, "lt": 1}),
                        ("svd_tol", svd_tol, {"gt": 0, "lt": 1}),
                        ("modes", modes, {"ge": 1}), ("max_iter", max_iter, {"ge": 1}),
                        ("td_max_iter", td_max_iter, {"ge": 1}), ("separation_rank", separation_rank, {"ge": 1}),
                        ("anderson", anderson, {"ge": 0})):
        check_arg(name, v, **kw)
    if model.evaporation:
        raise ValueError("solve_track_td: evaporation is not in the TD model (use the full-order solve_track)")
    if beam.start[1] != 0.0:
        raise ValueError("solve_track_td: one track on y = 0 (the half block) only")
    t0, c0 = time.perf_counter(), time.process_time()
    path = ScanPath(beam, 1)
    x, y, z, _ = track_axes(beam, block, path, h_fine, box)
    ts = _time_nodes(t_end, dt)
    hs = np.diff(ts)
    nt = len(hs)
    (Mx, Kx, mx), (My, Ky, my), (Mz, Kz, mz) = (p1_matrices(a) for a in (x, y, z))
    Dt = sp.diags([1.0 / hs, -1.0 / hs[1:]], [0, -1], format="csr")
    It = sp.identity(nt, format="csr")
    Etop = sp.csr_matrix(([1.0], ([len(z) - 1], [len(z) - 1])), shape=(len(z), len(z)))
    C_ref, a, a_s = reference_coefficients(model)
    kr, h = model.k_ref, model.h_eff
    ops = [[sp.diags(mx), sp.diags(my), sp.diags(mz), Dt], [Kx, My, Mz, It], [Mx, Ky, Mz, It], [Mx, My, Kz, It]]
    coefs = [C_ref, a * kr, a * kr, a * kr]
    if h > 0:
        ops.append([sp.diags(mx), sp.diags(my), Etop, It])
        coefs.append(a_s * h)
    # the source, step-averaged as in solve_track: F^n = Bx[:, n] (x) by (x) bz
    tg, wg = np.polynomial.legendre.leggauss(3)
    Bx = np.zeros((len(x), nt))
    for n, (ta, tb) in enumerate(zip(ts[:-1], ts[1:])):
        for tq, w in zip(0.5 * (tb - ta) * (tg + 1) + ta, wg):
            if 0.0 <= tq <= path.t_track:
                Bx[:, n] += 0.5 * w * p1_load(x, lambda xx, tq=tq: path.track_x_load(0, xx, tq))
    by, bz = p1_load(y, lambda yy: path.track_gy(0, yy)), _depth_load(beam, z)
    Ax, At = truncated_svd(Bx, svd_tol)
    R_src = Ax.shape[1]
    src = [Ax, np.repeat(by[:, None], R_src, 1), np.repeat(bz[:, None], R_src, 1), At]
    F = Bx[:, None, None, :] * by[None, :, None, None] * bz[None, None, :, None]
    F_norm = float(np.linalg.norm(F))
    mL = mx[:, None, None] * my[None, :, None] * mz[None, None, :]
    area = mx[:, None] * my[None, :]

    def stiffness(v):  # K v with K = K_x M_y M_z + M_x K_y M_z + M_x M_y K_z along the space axes of v
        vx, vy = _along(Mx, v, 0), _along(My, v, 1)
        return (_along(Mz, _along(My, _along(Kx, v, 0), 1), 2) + _along(Mz, _along(Ky, vx, 1), 2)
                + _along(Kz, _along(My, vx, 1), 2))

    def full_residual(T, phi):
        E = model.terms(T.ravel())[0].reshape(T.shape)
        R = mL[..., None] * _along(Dt, E, 3) + kr * stiffness(phi) - F
        if h > 0:
            R[:, :, -1, :] += h * area[..., None] * (T[:, :, -1, :] - model.T_ref)
        return R

    def temperature(v, guess):  # T(u) and phi(T(u)) on the nodes (the enthalpy inverse, guess: the previous T)
        Tn, ph = np.empty(v.size), np.empty(v.size)
        nodal_temperature(np.ascontiguousarray((C_ref * v).ravel()), np.ascontiguousarray(guess.ravel()), model.T_k,
                          model.k, model.T_c, model.c_p, model.rho, model.L_f, model.T_s, model.T_l, model.T_ref,
                          kr, Tn, ph)
        return Tn.reshape(v.shape), ph.reshape(v.shape)

    hist_f, hist_g = [], []  # the last anderson + 1 residuals f = g(u) - u and images g(u)

    def anderson_step(u_in, g_out):  # (u_next, mixed): Walker & Ni (2011) Sec. 2
        f = g_out - u_in
        if hist_f and (f * f).sum() > (hist_f[-1] * hist_f[-1]).sum():  # safeguard: residual grew -> plain step
            hist_f.clear()
            hist_g.clear()
        hist_f.append(f)
        hist_g.append(g_out)
        del hist_f[:-(anderson + 1)], hist_g[:-(anderson + 1)]
        if len(hist_f) < 2:
            return g_out, False
        dF = [(b - a_).ravel() for a_, b in zip(hist_f[:-1], hist_f[1:])]
        # m x m normal equations (cheap for m <= 5); element-wise sums, not BLAS dot (measured 7x the CPU time of
        # the sums for 1e6 entries on a loaded 2-core machine: threaded BLAS)
        gram = np.array([[float((p_ * q_).sum()) for q_ in dF] for p_ in dF])
        gamma = np.linalg.lstsq(gram, np.array([float((p_ * f.ravel()).sum()) for p_ in dF]), rcond=1e-10)[0]
        u_next = g_out.copy()
        for c_, a_, b in zip(gamma, hist_g[:-1], hist_g[1:]):
            u_next -= c_ * (b - a_)
        return u_next, True

    norm_ops = [Mx, My, Mz, sp.diags(hs)]
    U, u_old, T = None, None, np.full((len(x), len(y), len(z), nt), model.T_ref)
    dev_load = [np.zeros((len(v), 0)) for v in (x, y, z, ts[1:])]
    records, converged = [], False
    for it in range(1, max_iter + 1):
        loads = [np.hstack([s_, d_]) for s_, d_ in zip(src, dev_load)]
        problem = SeparatedProblem.single_level(ops, coefs, loads, norm_ops=norm_ops)
        U = problem.solve(modes, method, tol=td_tol, max_iter=td_max_iter,
                          init=None if U is None else [[f.copy() for f in U]])[0]
        g = np.einsum("im,jm,km,nm->ijkn", *U)
        T, phi = temperature(g, T)
        gn = float(np.linalg.norm(g))
        change = 1.0 if u_old is None else float(np.linalg.norm(g - u_old)) / max(gn, 1e-300)
        res = float(np.linalg.norm(full_residual(T, phi))) / F_norm
        if (it > 1 and change <= tol) or u_old is None or anderson == 0:
            u = g
        else:  # Anderson mixing on u (Walker & Ni 2011, Sec. 2), safeguarded: the next deviation is taken at u
            u, mixed = anderson_step(u_old, g)
            if mixed:
                T, phi = temperature(u, T)
        un = float(np.linalg.norm(u))
        # the deviation from the reference operator at this iterate, separated again
        G, g_err = separate_tensor(phi - a * u, separation_tol, separation_rank, scale=a * un)
        dev_load = [-kr * np.hstack([Kx @ G[0], Mx @ G[0], Mx @ G[0]]), np.hstack([My @ G[1], Ky @ G[1], My @ G[1]]),
                    np.hstack([Mz @ G[2], Mz @ G[2], Kz @ G[2]]), np.hstack([G[3]] * 3)]
        s_rank, s_err = 0, 0.0
        if h > 0:
            S, s_err = separate_tensor(T[:, :, -1, :] - model.T_ref - a_s * u[:, :, -1, :], separation_tol,
                                       separation_rank, scale=a_s * float(np.linalg.norm(u[:, :, -1, :])) + 1e-300)
            s_rank = S[0].shape[1]
            e_top = np.zeros((len(z), s_rank))
            e_top[-1] = 1.0
            dev_load = [np.hstack([dev_load[0], -h * mx[:, None] * S[0]]), np.hstack([dev_load[1], my[:, None] * S[1]]),
                        np.hstack([dev_load[2], e_top]), np.hstack([dev_load[3], S[2]])]
        records.append({"iteration": it, "change": change, "residual": res, "td_sweeps": len(problem.history),
                        "anderson_depth": len(hist_f),
                        "td_change": float(problem.history[-1][2]), "deviation_rank": int(G[0].shape[1]),
                        "deviation_error": g_err, "surface_rank": s_rank, "surface_error": s_err})
        u_old = u
        if u is not g and (it == max_iter or (G[0].shape[1] == 0 and s_rank == 0)):
            T, phi = temperature(g, T)  # the returned field is that of the last TD solve, T(g)
        if G[0].shape[1] == 0 and s_rank == 0:  # no deviation left: the next solve would repeat this one
            converged = True
            break
        if it > 1 and change <= tol:
            converged = True
            break
    T_end = T[..., -1]
    T_max = np.maximum(T.max(axis=3), model.T_ref)
    absorbed = float((hs * Bx.sum(axis=0)).sum() * by.sum() * bz.sum())
    stored = float((mL * model.terms(T_end.ravel())[0].reshape(T_end.shape)).sum())
    lost = float(h * (hs * (area[..., None] * (T[:, :, -1, :] - model.T_ref)).sum(axis=(0, 1))).sum())
    mp = None if T_melt is None else melt_pool_from_grid((x, y, z), T_end, T_melt)
    xs0, xs1 = beam.start[0], beam.start[0] + beam.length
    fused = None if T_melt is None else fused_zone((x, y, z), T_max, T_melt, 0.5 * (xs0 + xs1))
    if fused is not None:
        fused["width"] *= 2
    imb = (absorbed - stored - lost) / absorbed if absorbed else float("nan")
    return {"peak_T": float(T.max()), "peak_T_end": float(T_end.max()), "nodes": int(T_end.size), "steps": nt,
            "melt_pool": mp, "fused": fused, "energy": {"absorbed_J": 2 * absorbed, "stored_J": 2 * stored,
                                                        "surface_lost_J": 2 * lost, "relative_imbalance": imb},
            "picard": records, "converged": converged, "modes": modes, "source_rank": R_src,
            "reference": {"C_ref": C_ref, "a": a, "a_s": a_s}, "factors": U, "T_end": T_end, "T_max": T_max,
            "axes": (x, y, z), "half_block": True, "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0}

"""The scaled single-track LPBF case of the benchmarks, as a library function (CPU and GPU runs share it).

Ti-6Al-4V, P = 200 W, eta = 0.4, r_b = 50 um, d = 40 um, v = 1 m/s, a 0.6 mm track centred on a block of
S x (1.2 x 0.8 x 0.4) mm, T evaluated at t = 0.45 ms; multilevel C-HiDeNN-TD (p = s = 2, ratio 4 per level,
one level added per factor 4 of S up to 8 levels, finest spacing 25 um) with modes shared by the levels, the
``fast`` solver (fast diagonalisation, 1D mode solves), 3 time slabs of 48 P1 time elements in all.
``benchmarks/pde_lpbf.py`` (scaling study against full-order FEM) and the GPU benchmark use these configs.

>>> from pde.lpbf_cases import run_track_case, track_case_solver
>>> s = track_case_solver(64)                   # S = 64: five levels, 12 x 8 x 4 coarse elements
>>> s["levels"], s["coarse_elements"]
(5, [12, 8, 4])
>>> row = run_track_case(64, backend="cpu")     # doctest: +SKIP
>>> row["solve_s"], row["per_sweep_s"], row["green_rms_rel"]  # doctest: +SKIP
"""
from __future__ import annotations

import math
import time

import numpy as np

#: block of the S = 1 case (x, y, z) [m], track length [m], evaluation time [s], TD modes
BASE = (1.2e-3, 0.8e-3, 0.4e-3)
TRACK = 0.6e-3
T_EVAL = 0.45e-3
MODES = 24


def track_case_solver(scale: float, level_modes: str = "shared") -> dict:
    """``solver`` section of the multilevel C-HiDeNN-TD at block scale S (levels = 2 + log4 S, at most 8;
    coarse elements so that the finest spacing stays 25 um).  ``per_level``: each level its own 8 modes with
    coupled direct direction solves (subspace iteration)."""
    levels = min(8, 2 + int(round(math.log(scale, 4))) if scale > 1 else 2)
    ce = [int(round(12 * scale / 4 ** (levels - 2))), int(round(8 * scale / 4 ** (levels - 2))),
          max(2, int(round(4 * scale / 4 ** (levels - 2))))]
    out = {"levels": levels, "basis": "chidenn", "order": 2, "ratio": 4, "coarse_elements": ce, "time_elements": 48,
           "level_modes": level_modes, "method": "fast"}
    if level_modes == "per_level":
        out.update(method="subspace", modes=8)
    return out


def track_case_config(scale: float, solver: dict | None = None, modes: int = MODES) -> dict:
    """Full config dict of the case at block scale S with the ``solver`` section (default
    :func:`track_case_solver`); stopping rule: relative space-time L2 change < 3e-3, at most 100 sweeps."""
    L = np.asarray(BASE) * scale
    solver = track_case_solver(scale) if solver is None else solver
    return {"domain": {"length": float(L[0]), "width": float(L[1]), "depth": float(L[2]), "t_end": T_EVAL},
            "laser": {"start_x": float((L[0] - TRACK) / 2), "length": TRACK},
            "solver": {"method": "fast", "tol": 3e-3, "max_iter": 100, "modes": modes, "time_slabs": 3, **solver}}


def run_track_case(scale: float = 64, backend: str = "cpu", modes: int = MODES, validate: bool = True,
                   comm=None) -> dict:
    """Build and solve the case at block scale S on ``backend`` ("cpu", "cuda", "auto"; "cuda" without a
    usable GPU raises :class:`gpu.GPUUnavailableError` before any work).

    Returns a dict: ``backend`` (resolved), ``scale``, ``levels``, ``n1d`` (1D unknowns per mode),
    ``modes``, ``build_s`` (1D assembly, CPU on every backend), ``solve_s`` (the TD slabs: x-t loads and their
    SVD on the CPU, then the fixed point), ``td_solve_s`` (the fixed points alone: mode solves and Gram
    products, the part the backend runs), ``sweeps`` (fixed-point sweeps, all slabs), ``per_sweep_s`` =
    td_solve_s / sweeps,
    ``residual`` (largest relative TD residual), and with ``validate`` ``green_rms_rel`` (RMS error against the
    exact Green's function near the beam, relative to the peak rise) and ``energy_imbalance``; ``T_probe``:
    T at three points near the beam at t = 0.45 ms (to compare backends)."""
    from .lpbf import LPBFProblem

    P = LPBFProblem(track_case_config(scale, modes=modes), comm=comm, backend=backend)
    t0 = time.perf_counter()
    P.build()
    t1 = time.perf_counter()
    R = P.solve()
    t2 = time.perf_counter()
    sweeps = int(sum(P.sweeps))
    b = P.beam
    xs, _ = b.position(T_EVAL)
    probe = np.array([[xs, 0.0, 0.0], [xs - 4 * b.radius, b.radius, 0.0], [xs - 2 * b.radius, 0.0, -b.radius]])
    out = {"backend": P.backend, "scale": scale, "levels": len(P.meshes), "n1d": P.n_1d, "modes": modes,
           "build_s": t1 - t0, "solve_s": t2 - t1, "td_solve_s": R.timings["td_solve_s"], "sweeps": sweeps,
           "per_sweep_s": R.timings["td_solve_s"] / max(sweeps, 1),
           "residual": float(max(P.residuals)), "T_probe": R.temperature(probe, T_EVAL).tolist()}
    if validate:
        out["green_rms_rel"] = R.green_error(T_EVAL)["rms_rel"]
        out["energy_imbalance"] = 1.0 - (R.stored_energy(T_EVAL) + R.boundary_loss(T_EVAL)) / R.absorbed_energy(T_EVAL)
    return out

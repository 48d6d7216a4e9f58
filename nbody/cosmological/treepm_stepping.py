"""Time integration of TreePM gravity in cosmological variables (Springel 2005, MNRAS 364, 1105, sec. 3; GADGET-2/4).

Variables of the PM code (:mod:`nbody.cosmological.growth`): comoving ``x``, momentum ``p = a^2 dx/dt`` (t in
1/H0), comoving force ``F = -grad phi`` with ``lap phi = (3/2) Omega_m0 delta``, so ``dx/dt = p / a^2`` and
``dp/dt = F / a``. The kick-drift-kick operators of Springel (2005, sec. 3, the drift and kick operators
``D`` and ``K`` acting on x and p) are then

    drift  x -> x + p * int dt / a^2 = p * int_{a_i}^{a_f} da / (a^3 H(a)),
    kick   p -> p + F * int dt / a   = F * int_{a_i}^{a_f} da / (a^2 H(a)),

with ``H = E(a)`` in units of H0 (GADGET-2 tabulates the same integrals in ``drift.c``; here 8-point
Gauss-Legendre in ln a, :class:`CosmicFactors`).

Hierarchical KDK (Springel 2005, sec. 3 and 4; GADGET-2's TreePM scheme): the long-range (mesh) force kicks every
particle half a global step at its start and its end; inside the global step the short-range (tree) force kicks
each particle on its own power-of-two sub-step (bin ``b``: ``Delta ln a = Delta_global / 2^b``), all particles
drift together between the sub-step boundaries and only the particles whose sub-step ends there get a new
short-range force. A particle's bin comes from GADGET-2's criterion (Springel 2005, eq. 34)
``Delta t = sqrt(2 eta eps / |g|)`` in its comoving form (GADGET-2 ``timestep.c``): physical softening
``eps_phys = a eps_c`` (capped at ``softening_max_phys``), physical acceleration ``|F| / a^2``, and
``Delta ln a = H(a) Delta t``. A bin may grow (the step get finer) at any sub-step boundary and shrink only
where the coarser step's grid allows (block time steps, so the scheme stays synchronised).
"""
from __future__ import annotations

import math

import numpy as np

_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


class CosmicFactors:
    """The drift and kick integrals of Springel (2005, sec. 3) for ``E(a) = H(a) / H0`` (a callable).

    ``drift(a0, a1) = int da / (a^3 E)``, ``kick(a0, a1) = int da / (a^2 E)``: 8-point Gauss-Legendre in
    ``ln a`` (integrands ``exp(-2 x) / E`` and ``exp(-x) / E``, smooth; for steps ``Delta ln a <= 0.5`` the rule's
    error is far below round-off for LambdaCDM). Both are odd under ``a0 <-> a1`` (time-reversible KDK).
    Arrays broadcast.
    """

    def __init__(self, E):
        self.E = E

    def _integral(self, a0, a1, power):
        x0 = np.log(np.asarray(a0, dtype=float))
        x1 = np.log(np.asarray(a1, dtype=float))
        half = 0.5 * (x1 - x0)
        mid = 0.5 * (x1 + x0)
        x = mid[..., None] + half[..., None] * _GL_X
        vals = np.exp(-power * x) / self.E(np.exp(x))
        return half * np.sum(_GL_W * vals, axis=-1)

    def drift(self, a0, a1):
        """``int_{a0}^{a1} da / (a^3 E(a))`` = int dt / a^2 (t in 1/H0)."""
        return self._integral(a0, a1, 2.0)

    def kick(self, a0, a1):
        """``int_{a0}^{a1} da / (a^2 E(a))`` = int dt / a (t in 1/H0)."""
        return self._integral(a0, a1, 1.0)


def comoving_softening(eps_c: float, eps_max_phys: float, a: float) -> float:
    """The comoving softening at scale factor ``a``: ``eps_c`` while ``a eps_c <= eps_max_phys``, after that
    ``eps_max_phys / a`` (GADGET-2's ``SofteningHalo`` / ``SofteningHaloMaxPhys``); ``eps_max_phys = 0``: no cap."""
    if eps_max_phys > 0:
        return min(eps_c, eps_max_phys / a)
    return eps_c


def timestep_dlna(force, a: float, eps_c: float, eta: float, E_a: float):
    """GADGET-2's gravitational step (Springel 2005, eq. 34) as ``Delta ln a`` per particle: with the physical
    softening ``a eps_c`` and physical acceleration ``|F| / a^2``, ``Delta t = sqrt(2 eta a eps_c / (|F| / a^2))``
    and ``Delta ln a = E(a) Delta t`` (H0 = 1). Zero force: infinite step."""
    g = np.linalg.norm(force, axis=1) / (a * a)
    with np.errstate(divide="ignore"):
        return E_a * np.sqrt(2.0 * eta * a * eps_c / g)


def bins_for(dlna, dlna_global: float, max_bin: int):
    """The smallest bin ``b`` (``Delta_global / 2^b <= dlna``) per particle, capped at ``max_bin``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.ceil(np.log2(dlna_global / dlna))
    b = np.where(np.isfinite(b), b, 0.0)
    return np.clip(b, 0, max_bin).astype(np.int64)


class HierarchicalTreePMStep:
    """One global step ``a0 -> a1`` of the hierarchical KDK (module docstring).

    ``short_force(pos, active, eps_c)`` gives the (N, 3) short-range forces (``active``: a boolean mask of the
    particles whose force is needed; other rows may be 0); ``wrap(pos)`` maps positions into the box.
    :meth:`step` starts from synchronised ``pos``, ``p`` and the forces ``f_long``, ``f_short`` at ``pos``; the caller
    then computes the long-range force at the new positions and applies :meth:`closing_long_kick`.
    ``max_bin = 0`` is the plain KDK with the total force. The ticks are ``2^max_bin`` equal steps in ``ln a``.
    """

    def __init__(self, factors: CosmicFactors, short_force, wrap, eta: float, max_bin: int,
                 eps_c: float, eps_max_phys: float = 0.0):
        self.factors, self.short_force, self.wrap = factors, short_force, wrap
        self.eta, self.max_bin, self.eps_c, self.eps_max_phys = float(eta), int(max_bin), float(eps_c), eps_max_phys

    def eps_at(self, a: float) -> float:
        return comoving_softening(self.eps_c, self.eps_max_phys, a)

    def _new_bins(self, f_long, f_short, idx, a, tick, dlna_global, bins):
        """Bins of the particles ``idx`` starting a sub-step at ``tick``: the criterion's bin, at least the finest
        bin whose grid holds ``tick`` (a step may not straddle a coarser boundary)."""
        T = 1 << self.max_bin
        want = bins_for(timestep_dlna(f_long[idx] + f_short[idx], a, self.eps_at(a), self.eta,
                                      float(self.factors.E(a))), dlna_global, self.max_bin)
        aligned = 0
        while tick % (T >> aligned):
            aligned += 1
        bins[idx] = np.maximum(want, aligned)

    def closing_long_kick(self, p, f_long, a0: float, a1: float):
        """The long-range closing half kick of the global step a0 -> a1 (force at a1)."""
        return p + f_long * self.factors.kick(math.sqrt(a0 * a1), a1)

    def step(self, pos, p, f_long, f_short, a0: float, a1: float, comm=None):
        """Advance (pos, p) from a0 to a1 up to the long-range closing kick; returns (pos, p, f_short at a1,
        sub-steps started per bin). With ``comm`` (several ranks, each holding some particles) the sub-step
        boundaries are agreed over the ranks."""
        fac = self.factors
        x0, x1 = math.log(a0), math.log(a1)
        T = 1 << self.max_bin
        dlna_global = abs(x1 - x0)

        def a_of(t):
            return np.exp(x0 + (x1 - x0) * np.asarray(t, dtype=float) / T)

        p = p + f_long * fac.kick(a0, math.sqrt(a0 * a1))  # long-range opening half kick
        n = len(pos)
        bins = np.zeros(n, dtype=np.int64)
        if self.max_bin > 0:
            self._new_bins(f_long, f_short, np.arange(n), a0, 0, dlna_global, bins)
        counts = np.bincount(bins, minlength=self.max_bin + 1)
        start = np.zeros(n, dtype=np.int64)
        span = T >> bins
        p = p + f_short * fac.kick(a0, a_of(span / 2))[:, None]  # short-range opening half kicks
        tick = 0
        while tick < T:
            nxt = int(np.min(start + span, initial=T))
            if comm is not None and getattr(comm, "size", 1) > 1:
                nxt = comm.allreduce(nxt, op=_mpi_min())
            pos = self.wrap(pos + p * fac.drift(a_of(tick), a_of(nxt)))
            tick = nxt
            active = start + span == tick
            a = float(a_of(tick))
            f_new = self.short_force(pos, active, self.eps_at(a))
            f_short = np.where(active[:, None], f_new, f_short)
            idx = np.flatnonzero(active)
            mids = start[idx] + span[idx] / 2
            p[idx] += f_short[idx] * fac.kick(a_of(mids), a)[:, None]  # closing half kicks
            if tick == T:
                break
            self._new_bins(f_long, f_short, idx, a, tick, dlna_global, bins)
            counts += np.bincount(bins[idx], minlength=self.max_bin + 1)
            start[idx] = tick
            span[idx] = T >> bins[idx]
            p[idx] += f_short[idx] * fac.kick(a, a_of(tick + span[idx] / 2))[:, None]  # opening half kicks
        return pos, p, f_short, counts


def _mpi_min():
    from mpi4py import MPI

    return MPI.MIN

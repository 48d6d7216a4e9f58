"""Laser heat sources for LPBF: moving Gaussian volumetric (half-Gaussian in depth) or surface beam.

Definitions (the same ones the analytic references in :mod:`pde.analytic` use):

* In-plane Gaussian with 1/e^2 radius ``r_b`` (sigma = r_b / 2):
  g(x, y) = 2 / (pi r_b^2) exp(-2 ((x - x_s)^2 + (y - y_s)^2) / r_b^2), int g dx dy = 1.
* Volumetric: half-Gaussian in depth below the top surface z = 0 with 1/e^2 penetration depth d
  (sigma_z = d / 2): f(z) = 2 / (sqrt(2 pi) sigma_z) exp(-z^2 / (2 sigma_z^2)) for z <= 0, int f dz = 1.
  Surface (d = 0): the flux eta P g(x, y) enters through z = 0.
* q(x, y, z, t) = eta P(t) g(x, y) f(z): absorbed power eta P exactly, separable in x, y, z; the scan
  path x_s(t) = x_0 + v t couples x and t only (compressed by truncated SVD in :mod:`pde.lpbf`).
* The beam is on while 0 <= t <= length / v.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gaussian(u, sigma, amplitude=1.0):
    """``amplitude`` times the normalised 1D Gaussian density exp(-u^2 / (2 sigma^2)) / (sqrt(2 pi) sigma),
    int du = 1 (the amplitude multiplies before the division: one rounding order for every caller): the profile of a
    beam of 1/e^2 radius 2 sigma along one axis (module docstring), and the heat kernel of the diffusion
    equation with sigma^2 = 2 alpha tau (Carslaw & Jaeger, *Conduction of Heat in Solids*, 2nd ed. 1959,
    Sec. 10.2).  Written once here; :class:`GaussianBeam` and :mod:`pde.analytic` call it."""
    return amplitude * np.exp(-u ** 2 / (2 * sigma * sigma)) / (np.sqrt(2 * np.pi) * sigma)


@dataclass
class GaussianBeam:
    power: float              #: W
    absorptivity: float       #: -
    radius: float             #: 1/e^2 radius r_b [m]
    penetration_depth: float  #: 1/e^2 depth d [m]; 0 = surface flux
    speed: float              #: m/s (along +x)
    start: tuple = (0.0, 0.0)  #: (x_0, y_0) [m]
    length: float = 1e-3      #: scan length [m]

    def __post_init__(self):
        checks = {"power": self.power > 0, "absorptivity": 0 < self.absorptivity <= 1, "radius": self.radius > 0,
                  "penetration_depth": self.penetration_depth >= 0, "speed": self.speed > 0, "length": self.length > 0}
        for k, ok in checks.items():
            if not ok:
                rng = {"absorptivity": "in (0, 1]", "penetration_depth": ">= 0"}.get(k, "> 0")
                raise ValueError(f"laser {k} must be {rng}, got {getattr(self, k)!r}")

    @property
    def absorbed_power(self) -> float:
        return self.power * self.absorptivity

    @property
    def sigma(self) -> float:
        return 0.5 * self.radius

    @property
    def sigma_z(self) -> float:
        return 0.5 * self.penetration_depth

    @property
    def t_off(self) -> float:
        return self.length / self.speed

    def discontinuities(self) -> tuple:
        """Times at which the source jumps: switch-on (t = 0) and switch-off (t = length / v).  The straight
        track has no turns; a scan path with turns lists its turn times here too.  The time mesh of
        :mod:`pde.lpbf` puts a node on each (:func:`pde.lpbf.time_grid`)."""
        return (0.0, self.t_off)

    def on(self, t):
        return ((np.asarray(t) >= 0) & (np.asarray(t) <= self.t_off)).astype(float)

    def position(self, t):
        t = np.minimum(np.asarray(t, float), self.t_off)
        return self.start[0] + self.speed * t, self.start[1] + 0 * t

    # separable factors ------------------------------------------------------
    def gx_t(self, x, t):
        """Absorbed power times the normalised x-profile at time t (W/m): eta P(t) g_x(x - x_s(t))."""
        xs, _ = self.position(t)
        return gaussian(x - xs, self.sigma, self.absorbed_power * self.on(t))

    def gy(self, y):
        return gaussian(y - self.start[1], self.sigma)

    def fz(self, z):
        """Depth profile (1/m) on z <= 0; zero when the source is a surface flux."""
        if self.penetration_depth == 0:
            return np.zeros_like(np.asarray(z, float))
        z = np.asarray(z)
        return np.where(z <= 0, 2 * gaussian(z, self.sigma_z), 0.0)

    def q(self, X, t):
        """Volumetric heat source [W/m^3] at points X (n, 3)."""
        X = np.atleast_2d(X)
        return self.gx_t(X[:, 0], t) * self.gy(X[:, 1]) * self.fz(X[:, 2])


@dataclass
class ScanPath:
    """Several parallel tracks of one beam: ``tracks`` scan lines of ``beam``'s length and speed, spaced by the hatch
    distance ``hatch`` along y (track i at y_0 + i hatch), scanned one after the other without pause; ``serpentine``:
    every other track runs back (-x), else all run along +x from x_0 (the jump back is instantaneous).  Track i is on
    during [i t_track, (i + 1) t_track], t_track = length / v.  The absorbed power, profiles and depth profile are the
    beam's (module docstring)."""

    beam: GaussianBeam
    tracks: int = 1
    hatch: float = 100e-6
    serpentine: bool = True

    def __post_init__(self):
        if int(self.tracks) != self.tracks or self.tracks < 1:
            raise ValueError(f"scan path tracks must be an integer >= 1, got {self.tracks!r}")
        if not self.hatch > 0:
            raise ValueError(f"scan path hatch must be > 0, got {self.hatch!r}")

    @property
    def t_track(self) -> float:
        return self.beam.t_off

    @property
    def t_off(self) -> float:
        return self.tracks * self.t_track

    def discontinuities(self) -> tuple:
        """Switch-on, the turns between tracks and the switch-off."""
        return tuple(i * self.t_track for i in range(self.tracks + 1))

    def track_y(self, i: int) -> float:
        return self.beam.start[1] + i * self.hatch

    def position(self, t):
        """Beam centre (x, y) at time t (held at the end of the last track after switch-off)."""
        b = self.beam
        t = min(max(float(t), 0.0), self.t_off)
        i = min(int(t // self.t_track), self.tracks - 1)
        s = b.speed * (t - i * self.t_track)
        back = self.serpentine and i % 2 == 1
        return (b.start[0] + b.length - s if back else b.start[0] + s), self.track_y(i)

    def track_x_load(self, i: int, x, t):
        """eta P(t) g_x(x - x_s(t)) [W/m] of track i at time t (zero outside its on-interval)."""
        b = self.beam
        t0 = i * self.t_track
        if not (t0 <= t <= t0 + self.t_track):
            return np.zeros_like(np.asarray(x, float))
        s = b.speed * (t - t0)
        xs = b.start[0] + b.length - s if (self.serpentine and i % 2 == 1) else b.start[0] + s
        return gaussian(np.asarray(x, float) - xs, b.sigma, b.absorbed_power)

    def track_gy(self, i: int, y):
        return gaussian(np.asarray(y, float) - self.track_y(i), self.beam.sigma)

"""Airborne droplet-spectrum data: a simple documented layout, a reader, spectrum moments and c_m.

CSV layout (``*.csv``; lines starting with ``#`` are comments and may carry ``key: value`` metadata)::

    # clouds-spectrum v1
    # units: edges um; concentration cm^-3 per bin; time s
    # kind: tabulated            <- required for shipped files: see KINDS
    # source: Author A, Author B (year), Journal vol:pages, Table n: what was measured, where, altitude
    # T_K: 285                   <- optional: ambient temperature of the record(s) [K]
    # p_hPa: 850                 <- optional: ambient pressure of the record(s) [hPa]
    edges_um, 1.0, 2.0, 3.0, ...            <- n_bins + 1 bin edges (one row)
    0.0, 0.0, 12.5, 40.1, ...              <- time, then n_bins concentrations (one row per time)
    1.0, ...

HDF5 layout (``*.h5``/``*.hdf5``): datasets ``bin_edges`` [m] (n_bins + 1), ``time`` [s] (n_t),
``concentration`` [m^-3] (n_t, n_bins), each with a ``units`` attribute; metadata as file attributes.

Airborne probes (CDP, FSSP) report exactly this (counts per size bin per second).

Provenance. Every file shipped in ``clouds/data/`` states its ``kind`` (:data:`KINDS`) and its
``source``: spectra *tabulated* in, or *digitised* from a figure of, a published in-situ paper name
the paper, the table or figure, what was measured and the altitude/conditions. CAIPEEX spectra are
not public, and no tabulated droplet spectrum of monsoon (or comparable convective) clouds could be
sourced so far, so the package ships only ``clouds/data/synthetic_spectra.csv``: a **synthetic test
fixture** (gamma-shaped spectra with Poisson counting noise, :func:`make_synthetic`), not data.
:func:`shipped_spectra` lists the files by kind, so observed spectra added later are picked up by
``examples/clouds_growth_coefficient.py`` without mixing them with the fixture.

Growth-rate coefficient c_m. With the Mason (1971) growth law r dr/dt = G(T, p) (S - S_eq) (Rogers &
Yau 1989 eq. 7.18), the coefficient of diffusional growth rate of one droplet is dr/dt per unit
supersaturation, G/r [m/s]; the mean coefficient of a spectrum is its number-weighted mean
c_m = sum_i n_i G / r_i / sum_i n_i (:func:`growth_coefficient`, in cm/s, the unit of Bhowmik et
al., arXiv:2303.00987, who report c_m ~ 0.25e-3 - 1.5e-3 cm/s from CAIPEEX spectra). This operational
definition is the package's (:func:`clouds.growth.mean_growth_coefficient`); it has not been checked
against the paper's own equation, whose text was not available. Since G ~ 0.6-1.5e-10 m^2/s for warm
clouds, the paper's band corresponds to number-mean inverse radii of spectra with r ~ 4-60 um.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import diagnostics

DATA_DIR = Path(__file__).resolve().parent / "data"
SYNTHETIC = DATA_DIR / "synthetic_spectra.csv"
#: provenance kinds of a spectrum file (metadata ``kind``)
KINDS = ("tabulated", "digitised", "synthetic test fixture")


@dataclasses.dataclass
class ObservedSpectrum:
    edges: np.ndarray          # [m]
    time: np.ndarray           # [s]
    concentration: np.ndarray  # [m^-3] per bin, shape (n_t, n_bins)
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.edges = np.asarray(self.edges, float)
        self.time = np.asarray(self.time, float)
        self.concentration = np.atleast_2d(np.asarray(self.concentration, float))
        if self.edges.ndim != 1 or np.any(np.diff(self.edges) <= 0) or self.edges[0] < 0:
            raise ValueError("bin edges must be a non-negative increasing 1-D array")
        if self.concentration.shape != (self.time.size, self.edges.size - 1):
            raise ValueError(f"concentration must have shape (n_time, n_bins) = ({self.time.size}, "
                             f"{self.edges.size - 1}), got {self.concentration.shape}")
        if np.any(self.concentration < 0):
            raise ValueError("concentrations must be >= 0 (negative number concentration)")

    @property
    def kind(self):
        """Provenance (metadata ``kind``): one of :data:`KINDS`, or 'unknown' if the file does not say."""
        return str(self.meta.get("kind", "unknown")).strip().lower()

    @property
    def is_observed(self):
        """True for spectra tabulated in or digitised from a published in-situ measurement."""
        return self.kind in ("tabulated", "digitised")

    @property
    def centers(self):
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def moments(self, time_index=None, r_min=0.0):
        """N_c [m^-3], mean radius, sigma_r [m], relative dispersion, LWC [kg/m^3], r_eff [m].

        Bin-centre quadrature (the usual convention for probe data); bins below r_min are ignored.
        """
        rows = range(self.time.size) if time_index is None else [time_index]
        r = self.centers
        sel = r >= r_min
        out = {k: [] for k in ("N_c", "r_mean", "r_std", "relative_dispersion", "lwc", "effective_radius")}
        for i in rows:
            n = self.concentration[i] * sel
            m1, sd = diagnostics.dispersion_stats(r, n)
            out["N_c"].append(n.sum())
            out["r_mean"].append(m1)
            out["r_std"].append(sd)
            out["relative_dispersion"].append(sd / m1)
            out["lwc"].append(diagnostics.liquid_water(r, n))
            out["effective_radius"].append(diagnostics.effective_radius(r, n))
        return {k: np.array(v) if time_index is None else v[0] for k, v in out.items()}

    def sample(self, m, rng=None, time_index=0):
        """Draw m radii [m] from the spectrum at ``time_index`` (uniform within bins)."""
        rng = np.random.default_rng(rng)
        c = self.concentration[time_index]
        if c.sum() <= 0:
            raise ValueError("the spectrum at this time holds no droplets")
        b = rng.choice(c.size, size=m, p=c / c.sum())
        return self.edges[b] + rng.random(m) * np.diff(self.edges)[b]


def growth_coefficient(spec: ObservedSpectrum, T=None, p=None, r_min=0.0):
    """Mean growth-rate coefficient c_m = <G/r> [cm/s] of every time row of a spectrum.

    G = G(T, p) of the Mason (1971) growth law (:func:`clouds.growth.growth_parameter`); radii are
    bin centres (the probe convention of :meth:`ObservedSpectrum.moments`); bins with centre below
    ``r_min`` [m] are ignored. ``T`` [K] and ``p`` [Pa] default to the file's ``T_K``/``p_hPa``
    metadata; a ValueError names what is missing when neither is given.
    """
    from . import growth

    def _meta(key, scale):
        if key not in spec.meta:
            return None
        try:
            return float(spec.meta[key]) * scale
        except ValueError as exc:
            raise ValueError(f"spectrum metadata '{key}' = {spec.meta[key]!r} is not a number") from exc

    T = _meta("T_K", 1.0) if T is None else float(T)
    p = _meta("p_hPa", 100.0) if p is None else float(p)
    if T is None or p is None:
        raise ValueError("growth_coefficient needs the temperature T [K] and pressure p [Pa] (arguments, or "
                         "'T_K' and 'p_hPa' metadata in the spectrum file)")
    r = spec.centers
    keep = (r >= r_min) & (r > 0)
    if not np.any(keep):
        raise ValueError(f"no bins with centre radius >= r_min = {r_min:g} m")
    out = []
    for c in spec.concentration:
        w = c[keep]
        if w.sum() <= 0:
            out.append(np.nan)
            continue
        out.append(growth.mean_growth_coefficient(r[keep], T, p, w))
    return np.array(out)


def shipped_spectra(kind=None):
    """{path: ObservedSpectrum} of the spectrum files in ``clouds/data/`` (optionally one ``kind``).

    ``kind="observed"`` selects the tabulated and digitised ones.
    """
    out = {}
    for path in sorted(DATA_DIR.glob("*.csv")) + sorted(DATA_DIR.glob("*.h5")):
        spec = read_spectrum(path)
        if kind is None or spec.kind == kind or (kind == "observed" and spec.is_observed):
            out[path] = spec
    return out


def read_spectrum(path) -> ObservedSpectrum:
    """Read a spectrum file in the CSV or HDF5 layout of this module."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spectrum file '{path}' does not exist")
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            for k in ("bin_edges", "time", "concentration"):
                if k not in f:
                    raise ValueError(f"spectrum file '{path}' lacks dataset '{k}'")
            return ObservedSpectrum(f["bin_edges"][()], f["time"][()], f["concentration"][()],
                                    {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()})
    meta, edges, rows = {}, None, []
    for ln, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if ":" in s:
                k, v = s[1:].split(":", 1)
                meta[k.strip()] = v.strip()
            continue
        parts = [p.strip() for p in s.split(",")]
        if parts[0] == "edges_um":
            edges = np.array([float(x) for x in parts[1:]]) * 1e-6
            continue
        try:
            rows.append([float(x) for x in parts])
        except ValueError as exc:
            raise ValueError(f"{path}:{ln}: cannot parse row: {exc}") from exc
    if edges is None:
        raise ValueError(f"spectrum file '{path}' has no 'edges_um' row")
    arr = np.array(rows, float)
    if arr.ndim != 2 or arr.shape[1] != edges.size:
        raise ValueError(f"{path}: each data row needs time + {edges.size - 1} concentrations")
    return ObservedSpectrum(edges, arr[:, 0], arr[:, 1:] * 1e6, meta)


def write_spectrum_csv(path, spec: ObservedSpectrum, comment=""):
    lines = ["# clouds-spectrum v1", "# units: edges um; concentration cm^-3 per bin; time s"]
    lines += [f"# {k}: {v}" for k, v in spec.meta.items() if k in ("kind", "source", "T_K", "p_hPa")]
    if comment:
        lines += [f"# {c}" for c in comment.splitlines()]
    lines.append("edges_um, " + ", ".join(f"{e * 1e6:.6g}" for e in spec.edges))
    for t, c in zip(spec.time, spec.concentration):
        lines.append(f"{t:.6g}, " + ", ".join(f"{x * 1e-6:.6g}" for x in c))
    Path(path).write_text("\n".join(lines) + "\n")


def make_synthetic(seed=2023, n_times=12, sample_volume_cm3=2.0):
    """Synthetic probe spectra: gamma-shaped, N_c 100-600 cm^-3, dispersion 0.2-0.4, Poisson noise.

    Mimics a CDP (2-50 um diameter, here 1-25 um radius bins of 1 um) sampling ``sample_volume_cm3``
    per record. Relative dispersion is drawn linearly rising with N_c (as observed in monsoon
    clouds) so the eps-N_c regression example has something to find.
    """
    rng = np.random.default_rng(seed)
    edges = np.arange(1.0, 26.0, 1.0) * 1e-6
    r = 0.5 * (edges[1:] + edges[:-1])
    Nc = np.linspace(100e6, 600e6, n_times)
    eps = 0.2 + 0.3 * (Nc - 100e6) / 500e6 + rng.normal(0, 0.02, n_times)
    lwc = 0.6e-3
    conc = []
    for N, e in zip(Nc, eps):
        rmean = (3 * lwc / (4 * np.pi * 1000 * N)) ** (1 / 3) / (1 + 3 * e ** 2) ** (1 / 3)
        k = 1 / e ** 2
        from scipy import stats

        cdf = stats.gamma(a=k, scale=rmean / k).cdf(edges)
        expect = N * np.diff(cdf) * sample_volume_cm3 * 1e-6
        counts = rng.poisson(expect)
        conc.append(counts / (sample_volume_cm3 * 1e-6))
    return ObservedSpectrum(edges, np.arange(n_times, dtype=float), np.array(conc),
                            {"kind": "synthetic test fixture",
                             "source": f"synthetic: clouds.observations.make_synthetic(seed={seed}); not a measurement"})

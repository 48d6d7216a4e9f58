"""nbody: KETJU-style supermassive black hole dynamics (regularized integrator with PN terms in a softened tree simulation) and GADGET-compatible snapshots (nbody.snapshot).

The regularized few-body core (Rantala et al. 2020 MSTAR; Mannerkoski et al. 2023 KETJU):

* :class:`Particles` -- masses, positions, velocities, spins, GADGET types and IDs (arrays or Quantities):
  the one particle container of ICs, snapshots (:mod:`nbody.snapshot` converts), simulations and integrators;
* :class:`RegularizedIntegrator` -- LogH/TTL leapfrog in minimum-spanning-tree coordinates,
  Gragg-Bulirsch-Stoer extrapolation, PN terms to 3.5PN with spins, BH mergers;
* :mod:`nbody.orbits` -- two-body orbital elements and Peters (1964) inspiral formulas;
* :mod:`nbody.pn`, :mod:`nbody.mergers`, :mod:`nbody.units` -- the physics and the code units.
"""

import gpu  # noqa: F401,E402  first: caps Numba threads per MPI rank before Numba loads (gpu.threads)
from gpu.lazy import lazy_exports  # noqa: E402

#: public name -> submodule defining it (imported on first use; see gpu.lazy)
_EXPORTS = {
    "orbits": ".orbits:",
    "Particles": ".particles",
    "IntegrationRecord": ".regularized",
    "MergerEvent": ".regularized",
    "RegularizedIntegrator": ".regularized",
    "UnitSystem": ".units",
    "Simulation": ".simulation",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
__version__ = gpu.__version__

"""nbody: KETJU-style supermassive black hole dynamics (regularized integrator with PN terms in a softened tree simulation) and GADGET-compatible snapshots (nbody.snapshot).

The regularized few-body core (Rantala et al. 2020 MSTAR; Mannerkoski et al. 2023 KETJU):

* :class:`Particles` -- masses, positions, velocities, spins and BH flags (arrays or Quantities);
* :class:`RegularizedIntegrator` -- LogH/TTL leapfrog in minimum-spanning-tree coordinates,
  Gragg-Bulirsch-Stoer extrapolation, PN terms to 3.5PN with spins, BH mergers;
* :mod:`nbody.orbits` -- two-body orbital elements and Peters (1964) inspiral formulas;
* :mod:`nbody.pn`, :mod:`nbody.mergers`, :mod:`nbody.units` -- the physics and the code units.
"""
from . import orbits
from .particles import Particles
from .regularized import IntegrationRecord, MergerEvent, RegularizedIntegrator
from .units import UnitSystem
from .simulation import Simulation  # noqa: E402,F401  (KETJU galaxy simulations)

__all__ = ["IntegrationRecord", "Simulation", "MergerEvent", "Particles", "RegularizedIntegrator", "UnitSystem", "orbits"]

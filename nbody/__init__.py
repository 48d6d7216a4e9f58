"""nbody: KETJU-style supermassive black hole dynamics (regularized integrator with PN terms in a softened tree simulation) and GADGET-compatible snapshots (nbody.snapshot)."""
from .simulation import Simulation  # noqa: E402,F401  (KETJU galaxy simulations)

"""nbody.cosmological: a cosmological particle-mesh simulation (2LPT initial conditions, FastPM
kick-drift-kick factors, MPI slab mesh) producing GADGET-4 snapshots for ``cosmo``'s flow statistics;
TreePM gravity (:class:`TreePMGravity`, ``PMConfig(gravity="treepm")`` with the hierarchical KDK of
:mod:`nbody.cosmological.treepm_stepping`) and Ewald-summed
reference forces (:func:`ewald_accelerations`).

>>> import tempfile
>>> from nbody.cosmological import PMConfig, PMSimulation
>>> sim = PMSimulation(PMConfig(box=128.0, nside=16, nsteps=5, output_redshifts=[1.0, 0.0]))
>>> [p.name for p in sim.run(tempfile.mkdtemp())]          # GADGET-4 HDF5 snapshots at z = 1, 0
['snap_000.hdf5', 'snap_001.hdf5']
"""
from .growth import GrowthTables, growth_tables
from .ics import gaussian_field_k, lpt_displacements, lpt_particles
from .pm import ParticleMesh, measure_power
from .ewald import ewald_accelerations
from .simulation import CosmologyConfig, PMConfig, PMSimulation
from .treepm import TreePMGravity

__all__ = ["CosmologyConfig", "GrowthTables", "PMConfig", "PMSimulation", "ParticleMesh", "TreePMGravity",
           "ewald_accelerations", "gaussian_field_k", "growth_tables", "lpt_displacements", "lpt_particles",
           "measure_power"]

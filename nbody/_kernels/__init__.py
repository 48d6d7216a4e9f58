"""Numba kernels of nbody, one module per thing computed (plain float64/int64 arrays, G = 1 code units).

Regularized few-body integrator (MSTAR / AR-CHAIN): :mod:`~nbody._kernels.state` (layout of the state,
parameter and flag vectors), :mod:`~nbody._kernels.mst` (tree coordinates), :mod:`~nbody._kernels.forces`
(Newtonian and PN forces, energies), :mod:`~nbody._kernels.logh` (time-transformed leapfrog),
:mod:`~nbody._kernels.gbs` (extrapolation, step and order control, landing),
:mod:`~nbody._kernels.regularized` (the integration loop, merger test).

Galaxy simulation: :mod:`~nbody._kernels.direct` (softened and unsoftened direct sums),
:mod:`~nbody._kernels.tree_build` and :mod:`~nbody._kernels.tree_walk` (Barnes-Hut octree),
:mod:`~nbody._kernels.domain` (space-filling keys, top nodes, foreign walks), :mod:`~nbody._kernels.kdk`
(kick, drift, timestep bins), :mod:`~nbody._kernels.fewbody` (unsoftened fallback integrator of a
KETJU region), :mod:`~nbody._kernels.cuda_newton` (numba.cuda twin of the unsoftened N^2 force),
:mod:`~nbody._kernels.cuda_gravity` (the softened direct sum of the active set on the GPU).
"""

"""Layout of the regularized integrator's state, parameter and flag vectors (MSTAR / AR-CHAIN family).

The kernels of :mod:`nbody._kernels.mst`, :mod:`~nbody._kernels.forces`, :mod:`~nbody._kernels.logh`,
:mod:`~nbody._kernels.gbs` and :mod:`~nbody._kernels.regularized` work in G = 1 code units on plain
float64/int64 arrays. Layout of the GBS state vector ``y`` for ``N`` bodies::

    y[0]            physical time t
    y[1]            binding-energy variable B (= -(T - U) on the exact solution)
    y[2]            TTL auxiliary variable omega (tracks Omega = U)
    y[3:3+3N]       Q: tree coordinates of positions (node-wise, :mod:`nbody._kernels.mst`)
    y[3+3N:3+6N]    P: tree coordinates of velocities
    y[3+6N:3+9N]    spin angular momenta S (absolute; zero when unused)

``prm`` (float) holds the time-transformation coefficients (alpha, beta, gamma), the speed of light,
the local GBS tolerance and the merger radius in Schwarzschild radii; ``flg`` (int) the PN terms
switched on, the EIH cross terms, the GBS column range and the physical-time landing switch.
"""
from __future__ import annotations

# indices into the float parameter vector ``prm``
P_ALPHA, P_BETA, P_GAMMA, P_C, P_TOL, P_MERGE, P_NPRM = 0, 1, 2, 3, 4, 5, 6
# indices into the integer flag vector ``flg``
F_1PN, F_2PN, F_25PN, F_3PN, F_35PN, F_SPIN, F_CROSS, F_KMIN, F_KMAX, F_ANYPN, F_PHYSLAND, F_NFLG = range(12)

#: largest number of GBS columns (substep sequences n_k = 2k, k <= MAXK)
MAXK = 12




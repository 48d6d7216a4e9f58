"""Gragg-Bulirsch-Stoer extrapolation of the time-transformed leapfrog (serial and MPI drivers).

Hairer, Norsett & Wanner, *Solving ODEs I*, sect. II.9, as used by MSTAR
(Rantala et al. 2020, sect. 2.4):

* substep sequences n_k = 2k (k = 1 ... k_max); the leapfrog is symmetric, so
  its error expands in even powers of the substep and the tableau is built with
  Aitken-Neville in h^2:
  T_{j,k+1} = T_{j,k} + (T_{j,k} - T_{j-1,k}) / ((n_j / n_{j-k})^2 - 1);
* error estimate err_j = || T_{j,j} - T_{j,j-1} || / tol in a relative max norm
  (each tree edge relative to its own length; time relative to the step's time
  increment; see :func:`nbody._kernels.cpu.error_norm`);
* new step H_j = H * 0.94 (0.65 / err_j)^(1/(2j-1)), clamped to [0.02, 4] H;
* order control by work per unit step W_j = A_j / H_j, A_j = sum_{i<=j} n_i,
  with the ODEX convergence monitor at columns k-1, k, k+1;
* output times are hit exactly by a secant iteration on the fictitious step
  (t(H) is monotonic for the LogH transformation).

The serial loop runs entirely in Numba (:func:`nbody._kernels.cpu.integrate_to`).
With an MPI communicator of several ranks, :func:`integrate_to_mpi` runs the
same decisions in Python, but the substep sequences of one step are shared
among ranks (as MSTAR does) and gathered before the extrapolation, so the
result is bitwise identical to the serial one.
"""
from __future__ import annotations

import numpy as np

from ._kernels import cpu as K

neville_row = K.neville_row
step_factor = K.step_factor
error_norm = K.error_norm

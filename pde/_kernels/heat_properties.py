"""Nodal material terms of the nonlinear heat model (:mod:`pde.nonlinear`) on plain arrays.

One pass over the nodes evaluates the enthalpy per volume E(T), the apparent heat capacity dE/dT, the Kirchhoff
variable phi(T) and k(T) (:mod:`pde.materials`, where the formulae are written and cited), and on surface nodes the
evaporative flux and its slope.
"""
from __future__ import annotations

from numba import njit

from gpu.jit import refresh_stale_cache

from ..materials import apparent_heat_capacity, evaporation_flux, evaporation_flux_slope, kirchhoff, table_value, \
    temperature_of_enthalpy, volumetric_enthalpy


@njit(cache=True)
def nodal_terms(T, T_k, k, T_c, c_p, rho, L_f, T_s, T_l, T_ref, k_ref, E, dE, phi, kT):
    """E, dE/dT, phi, k at every node of T (outputs written in place; plain arrays and scalars: a Numba kernel's
    argument list)."""
    for i in range(T.shape[0]):
        E[i] = volumetric_enthalpy(T[i], T_c, c_p, rho, L_f, T_s, T_l, T_ref)
        dE[i] = apparent_heat_capacity(T[i], T_c, c_p, rho, L_f, T_s, T_l)
        phi[i] = kirchhoff(T[i], T_k, k, k_ref, T_ref)
        kT[i] = table_value(T[i], T_k, k)


@njit(cache=True)
def surface_evaporation(T, nodes, T_b, L_v, M, beta_r, q, dq):
    """q_ev and d q_ev / dT at the surface ``nodes`` of T (:func:`pde.materials.evaporation_flux`)."""
    for j in range(nodes.shape[0]):
        t = T[nodes[j]]
        q[j] = evaporation_flux(t, T_b, L_v, M, beta_r)
        dq[j] = evaporation_flux_slope(t, T_b, L_v, M, beta_r)


@njit(cache=True)
def nodal_temperature(E, T_guess, T_k, k, T_c, c_p, rho, L_f, T_s, T_l, T_ref, k_ref, T, phi):
    """T = E^-1(E) (:func:`pde.materials.temperature_of_enthalpy`, from ``T_guess``) and the Kirchhoff variable
    phi(T) at every node (outputs in place; plain arrays and scalars: a Numba kernel's argument list)."""
    for i in range(E.shape[0]):
        T[i] = temperature_of_enthalpy(E[i], T_c, c_p, rho, L_f, T_s, T_l, T_ref, T_guess[i])
        phi[i] = kirchhoff(T[i], T_k, k, k_ref, T_ref)


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit

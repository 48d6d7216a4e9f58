"""Initial conditions shared by the nbody integrator tests."""
import numpy as np

from nbody import Particles


def kepler_pair(e, a=1.0, m1=1.0, m2=1e-3, G=1.0, inclined=False):
    """Binary at periapsis in its centre-of-mass frame (G = 1 unless given)."""
    M = m1 + m2
    rp = a * (1 - e)
    vp = np.sqrt(G * M * (1 + e) / rp)
    pos = np.array([[0, 0, 0], [rp, 0, 0.0]])
    vel = np.array([[0, 0, 0], [0, vp, 0.0]])
    if inclined:
        c, s = np.cos(0.3), np.sin(0.3)
        R = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        pos, vel = pos @ R.T, vel @ R.T
    return Particles([m1, m2], pos, vel).to_com_frame()


def pythagorean():
    """Burrau's problem: masses 3, 4, 5 at rest at the vertices of a 3-4-5 triangle."""
    return Particles([3.0, 4.0, 5.0], [[1, 3, 0], [-2, -1, 0], [1, -1, 0.0]], np.zeros((3, 3)))


def hierarchical_triple(a_in=0.01, a_out=1.0, e_in=0.5):
    """Tight equal-mass binary (a_in) on a circular outer orbit around a third body."""
    m1 = m2 = 0.5
    m3 = 1.0
    rp = a_in * (1 - e_in)
    vp = np.sqrt((m1 + m2) * (1 + e_in) / rp)
    x_in = np.array([[rp / 2, 0, 0], [-rp / 2, 0, 0.0]])
    v_in = np.array([[0, vp / 2, 0], [0, -vp / 2, 0.0]])
    vout = np.sqrt((m1 + m2 + m3) / a_out)
    pos = np.vstack([x_in + [a_out * m3 / 2, 0, 0], [[-a_out * (m1 + m2) / 2, 0, 0]]])
    vel = np.vstack([v_in + [0, vout * m3 / 2, 0], [[0, -vout * (m1 + m2) / 2, 0]]])
    return Particles([m1, m2, m3], pos, vel).to_com_frame()

"""KETJU regions: membership, force splitting, unsoftened SMBH dynamics, boundary crossings."""
import numpy as np
import pytest

from nbody.direct import direct_forces
from nbody.ics import spherical_galaxy
from nbody.ketju import NewtonianFewBody, find_regions
from nbody.orbits import elements
from nbody.particles import Particles
from nbody.timestepping import ForceConfig, HierarchicalKDK, RegionConfig, ReplicatedForces, StepConfig


def test_find_regions_membership_and_merging():
    pos = np.array([[0, 0, 0], [0.05, 0, 0], [1, 0, 0],          # BHs 0, 1 (close), 2 (far)
                    [0.01, 0, 0], [0.5, 0, 0], [1.02, 0, 0], [0.07, 0.0, 0.0]], dtype=float)
    bh = np.array([0, 1, 2])
    regs = find_regions(pos, bh, r_ketju=0.03)
    # BHs 0 and 1 are 0.05 < 2 r_ketju apart: one region; star 3 near BH0, star 6 near BH1, star 5 near BH2
    assert len(regs) == 2
    sets = sorted(tuple(r.tolist()) for r in regs)
    assert sets == [(0, 1, 3, 6), (2, 5)]
    # candidates restrict membership (unsynchronised stars cannot join), BHs always belong
    regs = find_regions(pos, bh, r_ketju=0.03, candidates=[5])
    assert sorted(tuple(r.tolist()) for r in regs) == [(0, 1), (2, 5)]


def _engine(p, eps, r_ketju, gravity="direct", **steps):
    return HierarchicalKDK(p, eps, StepConfig(**steps), ReplicatedForces(ForceConfig(method=gravity)),
                           RegionConfig(r_ketju, NewtonianFewBody(eta=0.005)))


def test_region_members_are_kicked_by_the_external_field_only():
    p = spherical_galaxy(600, "hernquist", m_bh=0.02, seed=3, r_max=20)
    eps = 0.05
    eng = _engine(p, eps, r_ketju=0.3, dt_max=1 / 32, max_bin=10)
    eng.initialize()
    assert len(eng.regions) == 1
    members = eng.regions[0]
    assert len(members) > 3
    outside = np.setdiff1d(np.arange(len(p)), members)
    # external field on the members: softened direct sum over the non-members only
    for i in members[:5]:
        sub = np.concatenate([[i], outside])
        a, _ = direct_forces(p.pos[sub], p.mass[sub], eps, targets=[0])
        assert np.allclose(eng.acc_kick[i], a[0], rtol=1e-10, atol=1e-13)
    # members share one timestep bin, and nearby non-members have at most that step
    assert len(set(eng.bins[members].tolist())) == 1


def test_unsoftened_binary_inside_softening_keeps_kepler_orbit():
    """A BH binary with separation << eps: in a region it is Keplerian; softened it is not."""
    eps = 0.05
    a_bin = 0.02  # well inside the spline radius 2.8 eps = 0.14
    m = 0.01
    v = np.sqrt(2 * m / a_bin) / 2  # circular: relative speed sqrt(G M / a)
    pos = np.array([[-a_bin / 2, 0, 0], [a_bin / 2, 0, 0], [5.0, 0, 0], [-5.0, 1.0, 0]])
    vel = np.array([[0, -v, 0], [0, v, 0], [0, 0, 0], [0, 0, 0]])
    mass = np.array([m, m, 1e-6, 1e-6])
    ptype = np.array([5, 5, 4, 4])
    period = 2 * np.pi * np.sqrt(a_bin**3 / (2 * m))
    t_end = 8 * period
    dt_max = 2.0 ** np.floor(np.log2(period / 8))
    nblk = int(np.ceil(t_end / dt_max))

    def run(r_ketju):
        regions = RegionConfig(r_ketju, NewtonianFewBody(eta=0.002)) if r_ketju else None
        eng = HierarchicalKDK(Particles.from_arrays(mass, pos, vel, ptype), eps,
                              StepConfig(dt_max=dt_max, max_bin=12, eta=0.005),
                              ReplicatedForces(ForceConfig(method="direct")), regions)
        seps = []
        for _ in range(nblk):
            eng.advance_block()
            el = elements(m, m, eng.pos[0], eng.pos[1], eng.vel[0], eng.vel[1])
            seps.append((el["separation"], el["a"], el["e"]))
        return np.array(seps)

    reg = run(0.15)
    assert np.allclose(reg[:, 1], a_bin, rtol=1e-6)   # semi-major axis kept (Newtonian, unsoftened)
    assert np.all(reg[:, 2] < 1e-5)                   # stays circular
    soft = run(None)
    # softened gravity at r << eps is much weaker: the 'circular' velocity is too large, the orbit is not Keplerian
    assert np.max(np.abs(soft[:, 0] / a_bin - 1)) > 0.5


@pytest.mark.parametrize("member_criterion", ["speed", "boundary"])
def test_star_crossing_region_boundary_conserves_energy(member_criterion):
    """A star on a flyby enters and leaves a region: the energy has no jump at the membership changes.

    With r_ketju >= 2.8 eps the softened star-SMBH force is Newtonian at the boundary, so switching
    between the softened (tree) and the unsoftened (region) description is continuous; the only
    energy changes are the bulk leapfrog's, which we measure at the neighbouring steps.
    """
    eps, r_k = 0.01, 0.03
    pos = np.array([[0.0, 0, 0], [-0.3, 0.012, 0]])
    vel = np.array([[0.0, 0, 0], [3.0, 0, 0]])
    mass = np.array([1.0, 1e-3])
    hist = []

    def on_sync(e, ending):
        hist.append((sum(e.energy()), bool(e.region_of[1] >= 0)))

    eng = HierarchicalKDK(Particles.from_arrays(mass, pos, vel, np.array([5, 4])), eps,
                          StepConfig(dt_max=1 / 64, max_bin=20, eta=0.0005), ReplicatedForces(ForceConfig("direct")),
                          RegionConfig(r_k, NewtonianFewBody(eta=0.002), buffer_factor=3.0, eta_region=0.05,
                                       member_criterion=member_criterion), on_sync=on_sync)
    eng.initialize()
    E0 = sum(eng.energy())
    for _ in range(12):
        eng.advance_block()
    E = np.array([h[0] for h in hist])
    member = np.array([h[1] for h in hist])
    assert member.any() and not member[-1]  # it entered and left again
    changes = np.flatnonzero(member[1:] != member[:-1]) + 1
    assert len(changes) == 2
    dE = np.abs(np.diff(E))
    for c in changes:
        typical = np.max(dE[max(c - 6, 0):c - 1])
        assert dE[c - 1] < 3 * typical + 1e-12 * abs(E0)
    # inside the region the (unsoftened) energy is conserved by the few-body integrator
    inside = np.flatnonzero(member)
    assert np.ptp(E[inside[1:]]) < 1e-7 * abs(E0)
    assert abs(E[-1] - E0) < 5e-3 * abs(E0)


def _eccentric_binary_with_far_stars(a=0.01, e=0.7, m=0.5):
    M = 2 * m
    ra = a * (1 + e)
    va = np.sqrt(M / a * (1 - e) / (1 + e))
    pos = np.array([[-ra / 2, 0, 0], [ra / 2, 0, 0], [3.0, 0, 0], [-3.0, 0.5, 0]])
    vel = np.array([[0, -va / 2, 0], [0, va / 2, 0], [0, 0.3, 0], [0, -0.3, 0]])
    return pos, vel, np.array([m, m, 1e-4, 1e-4]), np.array([5, 5, 4, 4])


def _run_binary(pn, c, blocks, merger_radius_rs=3.0):
    from nbody.ketju import RegularizedRegionIntegrator

    pos, vel, mass, ptype = _eccentric_binary_with_far_stars()
    integ = RegularizedRegionIntegrator(tolerance=1e-10, pn=pn, c=c, merger_radius_rs=merger_radius_rs)
    eng = HierarchicalKDK(Particles.from_arrays(mass, pos, vel, ptype), 0.005, StepConfig(dt_max=1 / 128, max_bin=12, eta=0.01),
                          ReplicatedForces(ForceConfig("direct")), RegionConfig(0.02, integ))
    t, a_hist = [], []
    for _ in range(blocks):
        eng.advance_block()
        bh = np.flatnonzero(eng.ptype == 5)
        if len(bh) == 2:
            t.append(eng.t)
            a_hist.append(elements(0.5, 0.5, *eng.pos[bh], *eng.vel[bh])["a"])
    return eng, np.array(t), np.array(a_hist)


@pytest.mark.parametrize("pn", ["none", ("2.5PN",)])
def test_pn_radiation_reaction_in_region_follows_peters(pn):
    """Regions integrated by nbody.RegularizedIntegrator: with 2.5PN a hard eccentric binary decays at the
    Peters (1964) rate; without PN terms its orbit does not decay."""
    c = 100.0
    eng, t, a = _run_binary(pn, c, 4)
    if pn == "none":
        assert np.allclose(a, 0.01, rtol=1e-7)
    else:
        # orbit-averaged Peters rate da/dt = -64/5 G^3 m1 m2 M / (c^5 a^3) F(e), a and e from the start
        e = 0.7
        F = (1 + 73 / 24 * e**2 + 37 / 96 * e**4) / (1 - e**2) ** 3.5
        dadt = -64 / 5 * 0.25 / (c**5 * 0.01**3) * F
        slope = np.polyfit(np.concatenate([[0.0], t]), np.concatenate([[0.01], a]), 1)[0]
        assert slope == pytest.approx(dadt, rel=0.1)


@pytest.mark.parametrize("pn", ["none", ("2.5PN",)])
def test_pn_driven_merger_only_with_radiation_reaction(pn):
    """With 2.5PN the binary merges (remnant from the merger fits); without PN it does not."""
    eng, t, a = _run_binary(pn, 60.0, 20)
    if pn == "none":
        assert (eng.ptype == 5).sum() == 2 and not eng.merger_events
        assert np.allclose(a, 0.01, rtol=1e-7)
    else:
        assert (eng.ptype == 5).sum() == 1 and len(eng.merger_events) == 1
        assert eng.merger_events[0]["remnant_mass"] < 1.0  # mass radiated in GWs
        assert len(eng.mass) == 3


def test_region_timestep_boundary_criterion():
    """'boundary': a member may recede from its SMBH only to (1 + eta_region) r_ketju in one step."""
    from nbody.ketju import region_timestep

    r_k, eta_r = 0.03, 0.1
    pos = np.array([[0.0, 0, 0], [0.02, 0, 0], [0.001, 0, 0]])
    vel = np.array([[0.0, 0, 0], [0.5, 0, 0], [0.0, 5.0, 0]])  # star 2: fast but deep inside
    mass = np.array([1e-2, 1e-5, 1e-5])
    is_bh = np.array([True, False, False])
    members, nb = np.arange(3), np.array([], dtype=np.int64)
    kw = dict(acc_ext_cm=np.zeros(3), eps_cm=0.01, eta=0.025)
    dt_b = region_timestep(pos, vel, mass, is_bh, members, nb, eta_r, r_k, member_criterion="boundary", **kw)
    assert dt_b == pytest.approx(min(((1 + eta_r) * r_k - 0.02) / 0.5, ((1 + eta_r) * r_k - 0.001) / 5.0))
    dt_s = region_timestep(pos, vel, mass, is_bh, members, nb, eta_r, r_k, **kw)
    vcm = mass @ vel / mass.sum()
    assert dt_s == pytest.approx(eta_r * r_k / np.max(np.linalg.norm(vel - vcm, axis=1)))
    assert dt_b > 4 * dt_s  # the fast inner star no longer sets the step
    with pytest.raises(ValueError, match="member_criterion"):
        region_timestep(pos, vel, mass, is_bh, members, nb, eta_r, r_k, member_criterion="bogus", **kw)
    with pytest.raises(ValueError, match="region_member_criterion"):
        RegionConfig(r_k, NewtonianFewBody(), member_criterion="bogus")

"""pde: the MultiLevel Variational MultiScale (ML-VMS) method with the C-HiDeNN basis and the space-time
tensor-decomposition ROM, for laser powder-bed-fusion heat transfer.

Layers (docs/architecture.md): physics/analytic references (:mod:`pde.analytic`, :mod:`pde.heat_source`,
:mod:`pde.materials`), bases and meshes (:mod:`pde.mesh`, :mod:`pde.fem`, :mod:`pde.chidenn`), solvers
(:mod:`pde.multilevel`, :mod:`pde.td`, :mod:`pde.multilevel_td`; the full-order nonlinear heat solver
:mod:`pde.nonlinear`), the LPBF driver (:mod:`pde.lpbf`) and the CLI
(``python -m pde lpbf``).  Numba kernels live in :mod:`pde._kernels` (``shape_functions``, ``assembly``, ``heat_properties``).
"""

import gpu  # noqa: F401,E402  first: caps Numba threads per MPI rank before Numba loads (gpu.threads)
from gpu.lazy import lazy_exports  # noqa: E402

#: public name -> submodule defining it (imported on first use; see gpu.lazy)
_EXPORTS = {
    "CHiDeNNSpace": ".chidenn",
    "ZeroTraceCHiDeNNSpace": ".chidenn",
    "make_space": ".chidenn",
    "LagrangeSpace": ".fem",
    "solve_poisson": ".fem",
    "LPBFConfig": ".lpbf",
    "LPBFProblem": ".lpbf",
    "LPBFResult": ".lpbf",
    "NonlinearLPBFResult": ".lpbf",
    "MATERIALS": ".materials",
    "THERMAL_TABLES": ".materials",
    "get_material": ".materials",
    "get_thermal_table": ".materials",
    "ScanPath": ".heat_source",
    "NonlinearHeatSolver": ".nonlinear",
    "ThermalModel": ".nonlinear",
    "solve_track": ".nonlinear",
    "Quadrature": ".mesh",
    "StructuredMesh": ".mesh",
    "MovingBoxHeatSolver": ".multilevel",
    "MultilevelSpace": ".multilevel",
    "refined_box_mesh": ".multilevel",
    "solve_poisson_multilevel": ".multilevel",
    "MultilevelTDSpace": ".multilevel_td",
    "SeparatedProblem": ".td",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
__version__ = gpu.__version__

"""pde: the MultiLevel Variational MultiScale (ML-VMS) method with the C-HiDeNN basis and the space-time
tensor-decomposition ROM, for laser powder-bed-fusion heat transfer.

Layers (shared/DESIGN.md): physics/analytic references (:mod:`pde.analytic`, :mod:`pde.heat_source`,
:mod:`pde.materials`), bases and meshes (:mod:`pde.mesh`, :mod:`pde.fem`, :mod:`pde.chidenn`), solvers
(:mod:`pde.multilevel`, :mod:`pde.td`), the LPBF driver (:mod:`pde.lpbf`) and the CLI
(``python -m pde lpbf``).  Numba kernels live in :mod:`pde._kernels.cpu`.
"""
from .chidenn import CHiDeNNSpace, make_space
from .fem import LagrangeSpace, solve_poisson
from .lpbf import LPBFConfig, LPBFProblem, LPBFResult
from .materials import MATERIALS, get_material
from .mesh import Quadrature, StructuredMesh
from .multilevel import MovingBoxHeatSolver, MultilevelSpace, refined_box_mesh, solve_poisson_multilevel
from .td import SeparatedProblem

__all__ = [
    "CHiDeNNSpace", "LagrangeSpace", "LPBFConfig", "LPBFProblem", "LPBFResult", "MATERIALS", "MovingBoxHeatSolver",
    "MultilevelSpace", "Quadrature", "SeparatedProblem", "StructuredMesh", "get_material", "make_space",
    "refined_box_mesh", "solve_poisson", "solve_poisson_multilevel",
]

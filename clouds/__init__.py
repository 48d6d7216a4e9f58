"""clouds: Eulerian-Lagrangian particle-based model of cloud-droplet diffusional growth.

After Bhowmik, Hazra, Wang & Rao (arXiv:2303.00987), built from the standard formulation of the
model family (Vaillancourt et al. 2001; Kumar, Schumacher & Shaw 2013/2014; Götzfried et al. 2017;
Sardina et al. 2015; Grabowski & Abade 2017). Layers (docs/architecture.md):

* physics: :mod:`clouds.thermo`, :mod:`clouds.growth`, :mod:`clouds.koehler`,
  :mod:`clouds.autoconversion`, :mod:`clouds.diagnostics`, :mod:`clouds.observations`;
* kernels: :mod:`clouds._kernels.droplets` (implicit growth, interpolation/deposition, droplet motion),
  :mod:`clouds._kernels.parcel` (parcel growth with its S-derivative, eddy hopping);
* drivers: :class:`clouds.ParcelModel`, :class:`clouds.DNS` (with :mod:`clouds.spectral`),
  :mod:`clouds.dispersion` (parcel sweeps: eps-N_c driven by aerosol or updraft);
* entry points: ``python -m clouds parcel|dns`` and ``examples/clouds_*.py``.

Internal units are SI (m, s, K, Pa, kg); drivers accept astropy Quantities at the edge.
"""

import gpu  # noqa: F401,E402  first: caps Numba threads per MPI rank before Numba loads (gpu.threads)
from gpu.lazy import lazy_exports  # noqa: E402

#: public name -> submodule defining it (imported on first use; see gpu.lazy)
_EXPORTS = {
    "DNS": ".dns",
    "DNSConfig": ".dns",
    "make_config": ".dns",
    "Population": ".droplets",
    "EddyHopping": ".parcel",
    "ParcelModel": ".parcel",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
__version__ = gpu.__version__

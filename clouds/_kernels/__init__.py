"""Hot loops of the clouds package (Numba, float64, SI units). See :mod:`clouds._kernels.cpu`."""

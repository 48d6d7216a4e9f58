"""pde: the MultiLevel Variational MultiScale (ML-VMS) method with the C-HiDeNN basis and the space-time tensor-decomposition ROM, for laser powder-bed-fusion heat transfer."""

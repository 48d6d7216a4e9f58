"""clouds: Eulerian-Lagrangian particle-based model of cloud-droplet diffusional growth (turbulent fields with Lagrangian droplets, parcel model, growth coefficients, relative dispersion)."""

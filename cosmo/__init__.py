"""cosmo: E_G / V_G gravity forecasts from kSZ-reconstructed velocities and CMB lensing, and dark-matter flow statistics of N-body particles."""

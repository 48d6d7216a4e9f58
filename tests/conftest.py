"""Shared pytest setup: the MPI harness lives in tests/mpi_harness.py."""

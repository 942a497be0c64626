"""Sweeps: the grid of runs, where they train (local, Ray) and the run store."""

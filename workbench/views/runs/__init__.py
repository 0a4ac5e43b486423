"""Runs: every run kept, compared, repeated and resumed; sweeps and the trainers' race."""

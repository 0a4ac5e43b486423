"""Studies over runs: sweeps, the learning-rate finder and the trainers' race.
"""

"""Inspect: one row per layer (activations, gradients, filters) and the side panel."""

"""What each layer costs, in words for the builder: multiply-adds and activation memory.

The figures are the engine's (``engine.spec.check`` rows per card, ``infer_shapes`` and
``cost_totals`` for the network): multiply-adds of the dot products in one forward pass
of one example, and the bytes of the outputs a forward pass keeps (float32) for the
backward pass. A training step runs each product about three times (forward, the
weights' gradient, the input's gradient).
"""
import engine
from engine.core.spec import cost_totals


def count(n):
    """``115k``, ``1.62M``, ``2.56k``, ``0``: a count in three significant figures."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,}"


def size(n_bytes):
    """``18 KB``, ``4.5 KB``, ``1.2 MB``, ``40 B`` (powers of 1024)."""
    for factor, unit in ((2 ** 30, "GB"), (2 ** 20, "MB"), (2 ** 10, "KB")):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{n_bytes} B"


def card_cost(row):
    """The line a layer card shows, e.g. ``115k MACs · 36 KB`` (row: ``engine.spec.check``'s)."""
    return f"{count(row['macs'])} MACs · {size(row['act_bytes'])}" if row else ""


def card_tooltip(row, layer_defs, index):
    """The same in full: each expanded layer's output and what the figures mean."""
    if not row:
        return ""
    try:
        parts = [s for s in engine.infer_shapes(layer_defs) if s["source_index"] == index]
    except engine.EngineError:  # an invalid stack further down: no breakdown
        parts = []
    each = " + ".join(f"{s['type']} {size(s['act_bytes'])}" for s in parts) if len(parts) > 1 else ""
    return (f"{row['macs']:,} multiply-adds per example in a forward pass (about three times that to "
            f"train); {row['act_bytes']:,} bytes of activations per example{f' ({each})' if each else ''}, "
            f"kept for the backward pass.")


def totals(layer_defs):
    """``engine.spec.cost_totals`` of a valid stack, or None."""
    try:
        return cost_totals(engine.infer_shapes(layer_defs))
    except engine.EngineError:
        return None


def summary(layer_defs):
    """The stack header's cost, e.g. ``579k MACs forward, ~1.62M to train · 63 KB activations
    (per example)``."""
    t = totals(layer_defs)
    if t is None:
        return ""
    return (f"{count(t['forward_macs'])} MACs forward, ~{count(t['training_macs'])} to train · "
            f"{size(t['act_bytes'])} activations (per example)")

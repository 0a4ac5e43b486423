"""Sizes the engine refuses before allocating anything, each said with its number.

A tiny file can ask for a huge network (an fc of a million neurons is 167 bytes of
JSON): the engine checks what a stack would need before it allocates weights or
activations, and says what it found and what the limit is.
"""
from engine.core.errors import LimitError

MAX_PARAMS = 50_000_000              # 200 MB of float32 weights (and as much again of gradients)
MAX_EXAMPLE_BYTES = 256_000_000      # activations and window copies of one example, float32
MAX_SIDE = 8192                      # pixels along one side of a volume
MAX_LAYERS = 1_000                   # layer definitions in a network (each may expand to three)

# -- data (engine.datasets); the images' own memory limit is ``engine.datasets.MAX_BYTES`` --
MAX_CLASSES = 10_000                 # classes in a dataset (and class names made for them)
MAX_EXAMPLES = 20_000_000            # examples (labels) in one dataset: 160 MB of int64 labels
MAX_TEXT_BYTES = 2 ** 30             # text read from one CSV file, decompressed (1 GiB)
STATS_CHUNK = 2 ** 22                # pixel values turned into floats at a time by statistics

# -- running a network ----------------------------------------------------------------------
INFER_BYTES = 64_000_000             # activations a large inference batch holds at once (float32)


def _mb(n):
    return f"{n / 1e6:,.0f} MB" if n < 1e9 else f"{n / 1e9:,.1f} GB"


def example_bytes(layer):
    """Bytes of float32 one example needs in ``layer``: its output, and for a convolution
    the window copies it multiplies."""
    out = 4 * layer.out_sx * layer.out_sy * layer.out_depth
    if layer.layer_type == "conv":
        out += 4 * layer.out_sx * layer.out_sy * layer.sx * layer.sy * layer.in_depth
    return out


def check(layers, index_of=lambda layer: getattr(layer, "source_index", None)):
    """Raise LimitError (a SpecError) when the layers would need more than the limits allow."""
    params = sum(l.n_params for l in layers)
    if params > MAX_PARAMS:
        worst = max(layers, key=lambda l: l.n_params)
        raise LimitError(f"this network needs {params:,} parameters ({_mb(4 * params)} of weights); "
                        f"the limit is {MAX_PARAMS:,} ({_mb(4 * MAX_PARAMS)}): layer "
                        f"{index_of(worst)}, {worst.describe()}, alone has {worst.n_params:,}",
                        index_of(worst))
    total = sum(example_bytes(l) for l in layers)
    if total > MAX_EXAMPLE_BYTES:
        worst = max(layers, key=example_bytes)
        raise LimitError(f"one example needs {_mb(total)} of activations in this network; the limit "
                        f"is {_mb(MAX_EXAMPLE_BYTES)} (layer {index_of(worst)}, {worst.describe()}, "
                        f"needs {_mb(example_bytes(worst))})", index_of(worst))
    for layer in layers:
        if max(layer.out_sx, layer.out_sy) > MAX_SIDE:
            raise LimitError(f"layer {index_of(layer)}, {layer.describe()}: an output of "
                            f"{layer.out_sx}x{layer.out_sy} pixels is wider than {MAX_SIDE}, the "
                            f"limit", index_of(layer))


def check_layer_count(n, what="this network"):
    """Raise LimitError for more layer definitions than ``MAX_LAYERS``, before any is read."""
    if n > MAX_LAYERS:
        raise LimitError(f"{what} has {n:,} layers; the limit is {MAX_LAYERS:,}", None)

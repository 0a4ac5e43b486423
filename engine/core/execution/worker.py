"""``python -m engine.core.execution.worker``: a worker process (started by ``processes``, not by hand).

It holds a copy of the caller's net (its layers' options arrive as JSON, their weights as raw arrays, once per net), and for
each message runs its share of a training step or an inference pass with the weights
that came with it, replying with the gradients and outputs. It keeps the last step's
trace, so that the caller can fetch a layer's share of activations or gradients.
"""
import os
import signal
import sys
import warnings

import numpy as np

from engine.core import parallel
from engine.core.execution.plan import run
from engine.core.execution.processes import SPIN_SECONDS, Channel, _spin
from engine.core.layers import LAYER_TYPES
from engine.core.net import Net
from engine.core.wire import Garbled, pack, unpack


def net_from_blob(header, arrays, threads=1):
    """The net ``_net_blob`` described: layers built from their options as a spec builds them
    (no code runs but the engine's own), parameters and state copied from ``arrays``, whose
    dtypes and shapes must be the ones the layers allocate. A layer whose options ask for more
    parameters than its arrays hold is refused before it allocates them (so the options in a
    header cannot make the reader allocate either)."""
    dtype = np.dtype(header["dtype"])
    if dtype not in (np.float32, np.float64):
        raise Garbled(f"a setup message for a net of {dtype}")
    layers, arrays = [], list(arrays)
    for t, opts, in_shape, source in header["layers"]:
        layer = LAYER_TYPES[t](opts, None if t == "input" else tuple(in_shape))
        layer.source_index = source
        came = sum(a.size for a in arrays[:len(layer.param_attrs)])
        if len(arrays) < len(layer.param_attrs + layer.state_attrs) or came != layer.n_params:
            raise Garbled(f"a setup message's {t} layer of {layer.n_params:,} parameters "
                          f"with {came:,} values for them")
        layer.init_params(np.random.default_rng(0), dtype)
        for name in layer.param_attrs + layer.state_attrs:
            want, got = getattr(layer, name), arrays.pop(0)
            if got.shape != want.shape or got.dtype != want.dtype:
                raise Garbled(f"a setup message's {t} {name}: {got.dtype}{got.shape}, "
                              f"expected {want.dtype}{want.shape}")
            want[...] = got
        layers.append(layer)
    if arrays:
        raise Garbled("a setup message with arrays left over")
    return Net.from_layers(layers, dtype=dtype, seed=int(header["seed"]), threads=threads)


def serve(ch):
    ch.send(pack(("ready",)))
    net = trace = None
    while True:
        _spin(ch, SPIN_SECONDS)
        # A closed pipe (EOFError) ends the worker; so does garbage (anything that does
        # not unpack): there is no finding the next message after it, and the caller,
        # which waits with a deadline, starts a new worker.
        msg, arrays = unpack(ch.recv())
        kind = msg[0]
        if kind == "setup":
            net = net_from_blob(msg[2], arrays)
            trace = None
        elif kind == "step":
            _, n_total, err = msg
            params, grads, _, _ = net.flat_buffers()
            np.copyto(params, arrays[0])

            def train(x=arrays[1], y=arrays[2], net=net, grads=grads, n_total=n_total):
                nonlocal trace
                x = net.check_batch(x)  # the caller checked both: a few microseconds, kept
                y = net.loss_layer.targets(y, len(x), net.dtype)
                trace, _, _ = run(net, x, y, training=True, grads=grads, n_total=n_total)
                return trace.loss, (grads, trace.output)
            _reply(ch, err, train)
        elif kind == "infer":
            _, err = msg
            np.copyto(net.flat_buffers()[0], arrays[0])

            def infer(x=arrays[1], net=net):
                nonlocal trace
                trace, _, _ = run(net, net.check_batch(x))
                return None, (trace.output,)
            _reply(ch, err, infer)
        elif kind == "fetch":
            _, index, which = msg
            values = None if trace is None else (trace.acts if which == "act" else trace.grads)
            a = None if values is None else values[index]
            ch.send(pack(("ok",)) if a is None else pack(("ok",), a))


def _reply(ch, err, work):
    """Run ``work() -> (loss, arrays)`` under the caller's numpy error settings; send the
    result with any warnings, or the error (raised again in the caller)."""
    try:
        with np.errstate(**err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loss, arrays = work()
    except Exception as e:
        ch.send(pack(("error", type(e).__name__, str(e))))
        return
    ch.send(pack(("ok", loss, [str(w.message) for w in caught]), *arrays))


def main():
    ch = Channel(os.dup(0), os.dup(1))
    os.dup2(2, 1)  # anything printed goes to stderr, never into the channel
    sys.stdout = sys.stderr
    # Ctrl-C in a terminal reaches the whole process group: the caller decides what
    # to do, and the worker ends when the caller closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parallel.hold_freed_memory()
    try:
        serve(ch)
    except Exception:  # closed pipe, or garbage in it: this worker is done
        pass


if __name__ == "__main__":
    main()

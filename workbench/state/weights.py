"""Weights: a consistent copy of a network that nobody changes, for background jobs to read.

The session publishes one whenever the weights change (a new network, a loaded
snapshot, about once a second while training, the end of a run). It is made on the
thread that owns the live network, between batches, so it is never half-updated;
afterwards nothing writes to it, so any number of jobs may read it at once.
"""
import itertools
import pathlib

import numpy as np

from engine.data import predict as _predict
from engine.runs.snapshots import save_snapshot

_versions = itertools.count(1)

#: Weights with more parameters than this are saved by a child process (see ``Weights.save``).
CHILD_PARAMS = 1_000_000


def _save_layers(layers, dtype, path, meta, experiment):
    """In the child: the snapshot of a network made of ``layers``."""
    from engine.core.net import Net
    save_snapshot(Net.from_layers(layers, np.dtype(dtype)), path, meta, experiment)


class Weights:
    """An immutable snapshot of a network's weights with what a view needs to know about them.

    Parameters
    ----------
    net : engine.Net
        The live network; it is copied here, so call this where nothing else is
        changing it (the training thread between batches, or the GUI thread while idle).
    examples_seen : int
        Training examples the weights have seen in this run.
    trained : bool
        Loaded or trained weights, as opposed to a fresh random initialisation.
    run_id : int
        The session's run (fresh weights) they belong to.

    Attributes
    ----------
    version : int
        Increases with every snapshot, across runs.
    layers : tuple of dict
        Per layer (``net.layers`` order): ``index``, ``type``, ``description``,
        ``shape`` (sx, sy, depth), ``in_shape`` (sy, sx, depth), ``params``.
    """

    def __init__(self, net, examples_seen=0, trained=False, run_id=0):
        self._net = net.copy()
        self.version = next(_versions)
        self.examples_seen = int(examples_seen)
        self.trained = bool(trained or examples_seen)
        self.run_id = run_id
        self.layer_defs = self._net.layer_defs
        self.input_shape = tuple(self._net.input_shape)
        self.loss_type = self._net.loss_layer.layer_type
        self.num_outputs = self._net.num_outputs
        self.n_params = self._net.n_params
        self.layers = tuple(
            {"index": i, "type": l.layer_type, "description": l.describe(),
             "shape": (l.out_sx, l.out_sy, l.out_depth), "in_shape": (l.in_sy, l.in_sx, l.in_depth),
             "params": l.n_params}
            for i, l in enumerate(self._net.layers))
        # where each layer's parameters start in params_and_grads() order
        self._param_slots, k = [], 0
        for layer in self._net.layers:
            self._param_slots.append(k)
            k += len(layer.params_and_grads())

    @property
    def untrained(self):
        """True for freshly initialised weights that have not seen an example."""
        return not self.trained

    # -- passes (the engine's passes are safe from several threads at once) ------------
    def trace(self, x, y=None):
        """``net.trace(x, y)``: every layer's activations (and gradients, with targets ``y``)."""
        return self._net.trace(x, y)

    def forward(self, x):
        """The last layer's output for the batch ``x`` (network input, already scaled)."""
        return self._net.trace(x).output

    def predict(self, images, crop_count=1, batch_size=500, state=None):
        """Class probabilities (or scores) for stored images ``(N, H, W, C)``.

        ``state`` (a ``jobs.TaskState``) is checked between batches and told the progress.
        """
        outs = []
        for start in range(0, len(images), batch_size):
            if state is not None:
                state.check()
                state.set_progress(start / len(images))
            outs.append(_predict(self._net, images[start:start + batch_size], crop_count=crop_count))
        return np.concatenate(outs) if outs else np.zeros((0, self.num_outputs), np.float32)

    # -- parameters (copies) -------------------------------------------------------------
    def params(self):
        """Every parameter array (copies), in ``net.params_and_grads()`` order."""
        return [pg["params"].copy() for pg in self._net.params_and_grads()]

    def layer_params(self, index):
        """The parameter arrays of layer ``index`` (copies): conv filters then biases, fc weights then biases."""
        return [pg["params"].copy() for pg in self._net.layers[index].params_and_grads()]

    def param_slot(self, index):
        """Where layer ``index``'s parameters start in ``params()`` (and a trace's ``param_grads``)."""
        return self._param_slots[index]

    def network(self):
        """A copy of the network with these weights, for a caller to keep (an export)."""
        return self._net.copy()

    def to_json(self):
        """ConvNetJS's snapshot format, weights included."""
        return self._net.to_json()

    def save(self, path, meta=None, experiment=None, state=None):
        """Write a ConvNetJS snapshot, atomically; ``meta`` and ``experiment`` go under its
        ``workbench`` key (SnapshotError if the experiment does not describe these weights).

        More than ``CHILD_PARAMS`` parameters are written by a child process: making the
        JSON holds the GIL (a 52 MB snapshot written on a thread made the window's event
        loop late by up to 0.97 s). ``state`` (a ``jobs.TaskState``) can cancel that.
        """
        if self.n_params <= CHILD_PARAMS:
            save_snapshot(self._net, path, meta, experiment)
            return
        from workbench.tasks import child
        child.run(_save_layers, self._net.layers, self._net.dtype.name, str(path), meta, experiment,
                  state=state, what=pathlib.Path(path).name)

    # -- understanding the model (issue #14): read-only passes of the engine on this copy --------
    def explain(self, x, classes, method="saliency", **options):
        """``engine.explain.explain`` on these weights: ``(N, H, W)`` maps of the network input ``x``."""
        from engine.understand.explain import explain
        return explain(self._net, x, classes, method, **options)

    def unit_images(self, layer=None, **options):
        """``engine.unit_images.unit_images`` on these weights (inputs in the network's scaling)."""
        from engine.understand.unit_images import unit_images
        return unit_images(self._net, layer, **options)

    def embed(self, x, layer=None, method="tsne", **options):
        """``engine.embedding.embed`` on these weights: ``(points, features)``."""
        from engine.understand.embedding import embed
        return embed(self._net, x, layer, method, **options)

    def default_layers(self):
        """``{"cam": last conv or None, "hidden": the last hidden layer}`` (indices into ``layers``)."""
        from engine.understand.embedding import last_hidden_layer
        convs = [l["index"] for l in self.layers if l["type"] == "conv"]
        return {"cam": convs[-1] if convs else None, "hidden": last_hidden_layer(self._net)}

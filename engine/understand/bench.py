"""Timings and figures of ``engine.explain``, ``engine.unit_images`` and ``engine.embedding``
on the trained demo network, one JSON line each: ``python -m engine.understand.bench``.

The figures of docs/understand.md come from it. Timings on a shared machine
drift with the other work on it: run it a few times.
"""
import argparse
import json
import time

import numpy as np

from engine.core import parallel
from engine.data.containers import RESOURCES, network_input
from engine.data.mnist import load_mnist
from engine.runs.snapshots import load_snapshot
from engine.understand import embedding, unit_images
from engine.understand.explain import METHODS, deletion_test


def bench(examples=500, repeats=30, tsne_runs=3):
    """Timings and figures on the trained demo net, one JSON line each (see docs/understand.md)."""

    def line(**kw):
        print(json.dumps(kw), flush=True)

    net, _ = load_snapshot(RESOURCES / "snapshots" / "convnetjs-demo-trained.json")
    test = load_mnist().test
    x = network_input(test.images[:max(examples, 2000)], net.input_shape)
    classes = net.trace(x[:examples]).output.reshape(examples, -1).argmax(axis=1)
    line(blas=parallel.blas_info(), net="convnetjs-demo-trained", input="24x24 centre of 28x28")
    for name, fn in METHODS.items():
        fn(net, x[:1], classes[:1])  # warm up
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            fn(net, x[i:i + 1], classes[i:i + 1])
            times.append(time.perf_counter() - t0)
        ms = np.array(times) * 1000
        t0 = time.perf_counter()
        r = deletion_test(net, x[:examples], name, 0.1, classes=classes, rng=0)
        line(method=name, ms_one_example_median=round(float(np.median(ms)), 2),
             ms_one_example_max=round(float(ms.max()), 2), deletion_examples=examples,
             base_probability=round(r["base"], 4), drop_explained=round(r["explained"], 4),
             drop_random=round(r["random"], 4), drop_random_ink=round(r["random_ink"], 4),
             deletion_seconds=round(time.perf_counter() - t0, 2))
    for layer in [None] + [l.index for l in net.layers if l.layer_type == "conv"]:
        t0 = time.perf_counter()
        images = unit_images.unit_images(net, layer=layer)
        s = time.perf_counter() - t0
        extra = {}
        if layer is None:
            extra["classified_as_their_class"] = int((net.predict(images) == np.arange(10)).sum())
        line(unit_images="classes" if layer is None else f"layer {layer} filters",
             units=len(images), steps=200, seconds=round(s, 2), **extra)
    labels = test.labels[:2000]
    feats = embedding.activations(net, x[:2000])
    line(embedding="pca", points=2000, knn5_agreement=round(
        embedding.knn_agreement(embedding.pca(feats), labels), 4))
    for threads in (1, 2):
        for _ in range(tsne_runs):
            t0 = time.perf_counter()
            points, _ = embedding.embed(net, x[:2000], method="tsne", threads=threads)
            s = time.perf_counter() - t0
            line(embedding="tsne", points=2000, threads=threads, seconds=round(s, 2),
                 knn5_agreement=round(embedding.knn_agreement(points, labels), 4))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m engine.understand.bench",
                                description="Timings and figures of the explanations, unit images "
                                            "and embedding maps on the trained demo network.")
    p.add_argument("--examples", type=int, default=500, help="test images for the deletion test")
    p.add_argument("--tsne-runs", type=int, default=3, help="t-SNE runs per thread count")
    a = p.parse_args(argv)
    bench(a.examples, tsne_runs=a.tsne_runs)


if __name__ == "__main__":
    main()

"""The figures of teaching (``engine.teach``), one JSON line each:
``python -m engine teach-bench`` (or ``python -m engine.cli.teach_bench``).

1. Correct a style the trained demo network reads wrong: 10 generated drawings of a 1 with
   serifs (``engine.drawings``, rendered as the canvas renders strokes and turned into
   digits by ``to_mnist``), one teach of at most ``seconds``; then 10 new drawings of that
   style (other seeds), and the MNIST test accuracy before and after.
2. Own classes: circle, cross and triangle, 15 drawings each, a fresh network (the demo's,
   its last layer adapted to 3 classes) trained for at most ``class_seconds``; then 15 new
   drawings (5 of each).

Times drift with the other work on a shared machine; the accuracies are seeded.
"""
import argparse
import json
import os
import time

import numpy as np

from engine.core import parallel
from engine.data import drawings
from engine.data.containers import RESOURCES, predict
from engine.runs.experiment import Experiment
from engine.runs.snapshots import load_snapshot
from engine.runs.teach import as_pixels, examples_dataset, learn_classes, teach

PRESET = RESOURCES / "presets" / "convnetjs-demo.json"
SNAPSHOT = RESOURCES / "snapshots" / "convnetjs-demo-trained.json"
WRONG_STYLE = "one-serifs"
WRONG_LABEL = 1
CLASSES = ("circle", "cross", "triangle")


def correct_style(seconds=10.0, steps=None, seed=0, n_teach=10, n_new=10, style=WRONG_STYLE,
                  label=WRONG_LABEL, test_examples=None, mix_with="experiment"):
    """Teach ``n_teach`` drawings of ``style`` as ``label``; how ``n_new`` new ones read after."""
    net, _ = load_snapshot(SNAPSHOT)
    exp = Experiment.load(PRESET)
    taught = drawings.digits(style, n_teach, seed=seed + 1000)
    new = drawings.digits(style, n_new, seed=seed + 2000)
    before = predict(net, as_pixels(new)).argmax(axis=1)
    t0 = time.perf_counter()
    tuned, report = teach(net, exp, taught, np.full(n_teach, label), seconds=seconds, steps=steps,
                          seed=seed, test_examples=test_examples, mix_with=mix_with)
    after = predict(tuned, as_pixels(new)).argmax(axis=1)
    return {"what": "correct a style", "style": style, "label": label, "taught": n_teach,
            "new_right_before": int(np.sum(before == label)),
            "new_right_after": int(np.sum(after == label)), "new": n_new,
            "taught_right_before": report["examples_right_before"],
            "taught_right_after": report["examples_right_after"],
            "test_accuracy_before": report["test_accuracy_before"],
            "test_accuracy_after": report["test_accuracy_after"],
            "test_examples": report["test_examples"], "steps": report["steps"],
            "teach_seconds": round(report["seconds"], 2),
            "total_seconds": round(time.perf_counter() - t0, 2)}


def own_classes(seconds=20.0, steps=None, seed=0, n_each=15, n_new_each=5, classes=CLASSES):
    """A fresh network on ``n_each`` drawings of each class; how new drawings read."""
    exp = Experiment.load(PRESET)
    images = np.concatenate([drawings.digits(c, n_each, seed=seed + 10 * i) for i, c in enumerate(classes)])
    labels = np.repeat(np.arange(len(classes)), n_each)
    # every drawing trains: the new ones below are the held-out test
    ds = examples_dataset(images, labels, list(classes), test_fraction=0.0)
    net, _, report = learn_classes(exp, ds, seconds=seconds, steps=steps, seed=seed)
    new = np.concatenate([drawings.digits(c, n_new_each, seed=seed + 10 * i + 5000)
                          for i, c in enumerate(classes)])
    new_labels = np.repeat(np.arange(len(classes)), n_new_each)
    pred = predict(net, as_pixels(new)).argmax(axis=1)
    return {"what": "own classes", "classes": list(classes), "drawings": len(labels),
            "new_right": int(np.sum(pred == new_labels)), "new": len(new_labels),
            "train_right": report["examples_right_after"], "steps": report["steps"],
            "train_seconds": round(report["seconds"], 2)}


def bench(seconds=10.0, class_seconds=20.0, seeds=(0,)):
    def line(**kw):
        print(json.dumps(kw), flush=True)

    line(blas=parallel.blas_info(), cpus=os.cpu_count(), net="convnetjs-demo-trained")
    for s in seeds:
        line(seed=s, **correct_style(seconds=seconds, seed=s))
    for s in seeds:
        line(seed=s, **own_classes(seconds=class_seconds, seed=s))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m engine teach-bench", description=__doc__.split("\n")[0])
    add_arguments(p)
    a = p.parse_args(argv)
    bench(a.seconds, a.class_seconds, range(a.seeds))


def add_arguments(p):
    p.add_argument("--seconds", type=float, default=10.0, help="time of the teach (default 10)")
    p.add_argument("--class-seconds", type=float, default=20.0,
                   help="time to train on the own classes (default 20)")
    p.add_argument("--seeds", type=int, default=1, help="repeat with seeds 0..N-1 (default 1)")


if __name__ == "__main__":
    main()

"""What the CLI's commands share: experiment options, loading data, messages."""
import argparse
import os
import sys

from engine.core.errors import DataError
from engine.core.schedules import KINDS
from engine.core.trainer import METHODS
from engine.data import formats as datasets
from engine.runs.experiment import Experiment, data_from_file, preset

TRAINER_FLAGS = ("method", "learning_rate", "momentum", "batch_size", "l1_decay", "l2_decay")


def _progress_line(r, total, width=30):
    frac = min(1.0, r["examples_seen"] / total) if total else 0.0
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    return (f"\r[{bar}] {frac:5.1%}  epoch {r['epoch']:.2f}  loss {r['cost_loss']:.4f}  "
            f"train acc {r['train_accuracy']:.3f}  {r['examples_per_second']:,.0f} ex/s  "
            f"lr {r['learning_rate']:.3g}")


def experiment_from_args(a):
    """The experiment a ``train`` command runs: the preset or file, then the flags given."""
    exp = Experiment.load(a.spec) if a.spec else preset(a.preset or "convnetjs-demo")
    trainer = dict(exp.trainer)
    trainer.update({k: getattr(a, k) for k in TRAINER_FLAGS if getattr(a, k) is not None})
    augment = dict(exp.augment)
    if a.shift is not None:
        augment["shift"] = a.shift
    if a.flip is not None:
        augment["flip"] = a.flip
    schedule = exp.schedule
    if a.schedule == "constant":
        schedule = None
    elif a.schedule is not None:  # a new kind keeps the settings the experiment gave
        schedule = dict(schedule or {}, kind=a.schedule)
    changes = {k: getattr(a, k) for k in ("epochs", "validation", "seed")
               if getattr(a, k) is not None}
    if a.data is not None:  # absolute: sessions and records made here are opened from elsewhere
        changes["data"] = data_from_file(a.data, os.getcwd())
    return exp.replace(trainer=trainer, augment=augment, schedule=schedule, **changes)


def _load_data(path, quiet=False):
    """The dataset at ``path`` (None: bundled MNIST), with a progress line on a terminal and its notes."""
    show = not quiet and path is not None and sys.stderr.isatty()

    def progress(done, total):
        print(f"\rloading {path}: {done / total:5.1%}", end="", file=sys.stderr, flush=True)

    ds = datasets.load(path, progress=progress if show else None)
    if show:
        print(file=sys.stderr)
    for note in ds.notes:
        print(f"note: {note}", file=sys.stderr)
    return ds


def _fit_error(what, ds, problems, fix):
    return DataError(f"{what} does not fit {datasets.describe(ds)}: {'; '.join(problems)}{fix}")


def add_experiment_args(p, epochs=True):
    """The flags that pick an experiment and override its settings (train, lr-find, sweep)."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="bundled preset name (see 'presets'); default convnetjs-demo")
    src.add_argument("--spec", help="an experiment file (or a JSON list of layer_defs)")
    if epochs:
        p.add_argument("--epochs", type=float)
    p.add_argument("--method", choices=METHODS)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--l1-decay", type=float)
    p.add_argument("--l2-decay", type=float)
    p.add_argument("--schedule", choices=KINDS,
                   help="learning-rate schedule (keeps the experiment's settings for it)")
    p.add_argument("--shift", type=int, help="random shift in pixels (augmentation)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, help="random horizontal flips")
    p.add_argument("--validation", type=int, help="hold out this many training images "
                                                  "(the experiment's default: 5000)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--data", help="a dataset: IDX files, .npz, .csv or a folder of images per class "
                                  "(default: the experiment's; see 'data')")

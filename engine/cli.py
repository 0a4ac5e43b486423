"""``python -m engine``: train, evaluate and benchmark from the terminal."""
import argparse
import json
import sys
import time

import numpy as np

from . import Net, Trainer, parallel
from .data import Augment, accuracy, confusion_matrix, load_mnist, predict, split_validation
from .errors import EngineError
from .export.cli import add_parser as add_export_parser
from .presets import list_presets, load_preset
from .schedules import KINDS, Schedule
from .snapshots import load_snapshot, save_snapshot
from .trainer import METHODS
from .training import Run


def _progress_line(r, total, width=30):
    frac = min(1.0, r["examples_seen"] / total) if total else 0.0
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    return (f"\r[{bar}] {frac:5.1%}  epoch {r['epoch']:.2f}  loss {r['cost_loss']:.4f}  "
            f"train acc {r['train_accuracy']:.3f}  {r['examples_per_second']:,.0f} ex/s  "
            f"lr {r['learning_rate']:.3g}")


def cmd_train(a):
    preset = load_preset(a.preset) if not a.spec else load_preset(a.spec)
    trainer_opts = dict(preset.get("trainer", {}))
    for key in ("method", "learning_rate", "momentum", "batch_size", "l1_decay", "l2_decay"):
        v = getattr(a, key)
        if v is not None:
            trainer_opts[key] = v
    aug = dict(preset.get("augment", {}))
    if a.shift is not None:
        aug["shift"] = a.shift
    if a.flip:
        aug["flip"] = True
    epochs = a.epochs if a.epochs is not None else preset.get("epochs", 1)
    net = Net(preset["layer_defs"], seed=a.seed, threads=a.threads)
    trainer = Trainer(net, **trainer_opts)
    data = load_mnist(a.data)
    train, val = split_validation(data.train, a.validation, seed=0) if a.validation else (data.train, None)
    sched = dict(preset.get("schedule", {}))
    if a.schedule:
        sched["kind"] = a.schedule
    schedule = None
    if sched:
        sched.setdefault("base", trainer.learning_rate)
        sched.setdefault("total", int(epochs * len(train)))
        schedule = Schedule.from_dict(sched)
    sy = net.input_shape[0]
    augment = Augment(crop=aug.get("crop") if aug.get("crop") else (sy if train.shape[0] > sy else None),
                      shift=aug.get("shift", 0), flip=aug.get("flip", False))
    run = Run(trainer, train, val, None, augment=augment, schedule=schedule, epochs=epochs,
              eval_every=len(train), eval_examples=None, seed=a.seed)
    total = int(epochs * len(train))
    print(f"training {preset.get('name', 'network')} ({net.n_params:,} parameters) on "
          f"{len(train):,} MNIST images for {epochs:g} epochs, {trainer.method}, "
          f"batch {trainer.batch_size}", file=sys.stderr)
    t0 = time.time()
    last = {}
    for r in run.reports():
        if r["tag"] == "progress" and not a.quiet:
            print(_progress_line(r, total), end="", file=sys.stderr, flush=True)
            last = r
        elif r["tag"] == "eval" and "validation_accuracy" in r and not a.quiet:
            print(f"\n  validation accuracy {r['validation_accuracy']:.4f} at epoch {r['epoch']:.2f}",
                  file=sys.stderr)
        elif r["tag"] == "diverged":
            print(f"\nerror: {r['message']}", file=sys.stderr)
            return 3
    elapsed = time.time() - t0
    test_acc = accuracy(net, data.test, crop_count=a.crops)
    result = {"preset": preset.get("name"), "epochs": epochs, "examples_seen": run.examples_seen,
              "seconds": round(elapsed, 1), "examples_per_second": round(run.examples_seen / elapsed, 1),
              "test_accuracy": test_acc, "test_crops": a.crops}
    if val is not None:
        result["validation_accuracy"] = accuracy(net, val)
    if last:
        result["final_train_loss"] = last.get("cost_loss")
    print(file=sys.stderr)
    print(json.dumps(result))
    if a.out:
        save_snapshot(net, a.out, meta={"preset": preset.get("name"), "trainer": trainer.options(),
                                        "examples_seen": run.examples_seen, "test_accuracy": test_acc})
        print(f"wrote {a.out}", file=sys.stderr)
    return 0


def cmd_eval(a):
    net, meta = load_snapshot(a.snapshot)
    data = load_mnist(a.data)
    probs = predict(net, data.test.images, crop_count=a.crops)
    pred = probs.argmax(axis=1)
    acc = float(np.mean(pred == data.test.labels))
    k = max(net.num_outputs, data.num_classes)
    m = confusion_matrix(data.test.labels, pred, k)
    print(f"test accuracy {acc:.4f} ({int(np.sum(pred == data.test.labels))}/{len(pred)})"
          + (f", {a.crops} crops averaged" if a.crops > 1 else ""))
    print("confusion matrix (rows: true class, columns: predicted)")
    print("      " + "".join(f"{j:>6d}" for j in range(k)))
    for i in range(k):
        print(f"{i:>6d}" + "".join(f"{v:>6d}" for v in m[i]))
    return 0


def cmd_bench(a):
    from .bench import run
    sizes = [int(s) for s in a.batch_sizes.split(",")]
    compare = [c for c in a.compare.split(",") if c] if a.compare else []
    run(sizes, a.seconds, compare)
    return 0


def cmd_presets(a):
    for name, path in list_presets().items():
        p = load_preset(name)
        print(f"{name:18s} {p.get('description', '')}")
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a preset or spec file on MNIST")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--preset", default="convnetjs-demo",
                     help="bundled preset name (see 'presets'); default convnetjs-demo")
    src.add_argument("--spec", help="a JSON file: a list of layer_defs or a preset object")
    t.add_argument("--epochs", type=float)
    t.add_argument("--method", choices=METHODS)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--momentum", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--l1-decay", type=float)
    t.add_argument("--l2-decay", type=float)
    t.add_argument("--schedule", choices=KINDS)
    t.add_argument("--shift", type=int, help="random shift in pixels (augmentation)")
    t.add_argument("--flip", action="store_true", help="random horizontal flips")
    t.add_argument("--validation", type=int, default=0, help="hold out this many training images")
    t.add_argument("--crops", type=int, default=1, help="test-time crops to average (1 = centre)")
    t.add_argument("--seed", type=int)
    t.add_argument("--threads", type=int)
    t.add_argument("--data", help="a folder with the four MNIST IDX files (default: bundled)")
    t.add_argument("--out", help="write the trained snapshot (ConvNetJS JSON) here")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="test accuracy and confusion matrix of a snapshot")
    e.add_argument("snapshot")
    e.add_argument("--crops", type=int, default=1)
    e.add_argument("--data")
    e.set_defaults(func=cmd_eval)
    b = sub.add_parser("bench", help="training/inference examples per second (JSON lines)")
    b.add_argument("--batch-sizes", default="1,20,128")
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--compare", default="", help="comma list: torch, convnetjs")
    b.set_defaults(func=cmd_bench)
    s = sub.add_parser("presets", help="list the bundled presets")
    s.set_defaults(func=cmd_presets)
    add_export_parser(sub)
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    parallel.hold_freed_memory()
    try:
        return a.func(a)
    except (EngineError, ValueError, OSError) as e:
        print(f"\nerror: {e}" if a.command == "train" else f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

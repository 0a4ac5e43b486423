"""Time to a good network: ``python -m engine bench --to-accuracy 0.993 --preset NAME``.

Trains the experiment as ``python -m engine train`` does (its trainer, schedule,
augmentation, validation split and epochs), evaluates on the whole test set (centre
crops) every quarter epoch, and stops at the first evaluation at or above the target.
The seconds reported are those of training: the clock stops during the bench's own
evaluations, which a user's run does not make (``with_evaluations`` counts them too).
One JSON line per evaluation (with ``--progress``) and a last line with the result.
"""
import json
import sys
import time

from engine.core import parallel
from engine.data.containers import accuracy
from engine.runs.run import make_run


def run(exp, name, target, seed=0, out=sys.stdout, progress=False, per_epoch=4):
    """Train ``exp`` until its test accuracy reaches ``target``: the result's record."""
    parallel.hold_freed_memory()  # as the CLI and the app do
    dataset = exp.load_data()
    net = exp.build_net(seed=seed)
    trainer = exp.build_trainer(net)
    training = make_run(exp, net, trainer, dataset, test=False, seed=seed)
    n_train = len(training.train_set)
    total = int(round(exp.epochs * n_train))
    step = max(1, n_train // per_epoch)
    trained = evaluating = 0.0
    reached = None
    record = {}
    start = time.perf_counter()
    while training.examples_seen < total:
        until = min(total, (training.examples_seen // step + 1) * step)
        t0 = time.perf_counter()
        r = training.train_batches(until=until)
        trained += time.perf_counter() - t0
        if r["tag"] == "diverged":
            record = {"diverged": r.get("message", "the loss diverged")}
            break
        t0 = time.perf_counter()
        acc = accuracy(net, dataset.test)
        evaluating += time.perf_counter() - t0
        point = {"epoch": round(training.epoch, 3), "test_accuracy": acc,
                 "seconds": round(trained, 2), "examples_per_second": round(training.examples_seen / trained, 1)}
        if progress:
            print(json.dumps(point), file=out, flush=True)
        if acc >= target:
            reached = point
            break
    result = {"preset": name, "target": target, "seed": seed, "reached": reached is not None,
              "blas": parallel.blas_info(), "batch_size": trainer.batch_size,
              "epochs_planned": exp.epochs, **record}
    if reached is not None:
        result.update(seconds=reached["seconds"], epoch=reached["epoch"],
                      test_accuracy=reached["test_accuracy"],
                      with_evaluations=round(time.perf_counter() - start, 2))
    else:
        result.update(seconds=None, epoch=round(training.epoch, 3),
                      best_seconds_trained=round(trained, 2))
    print(json.dumps(result), file=out, flush=True)
    return result

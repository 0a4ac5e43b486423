"""``python -m engine``: train, evaluate, experiment and benchmark from the terminal."""
import argparse
import json
import logging
import os
import pathlib
import sys
import time

import numpy as np

from engine.core import options, parallel
from engine.core.errors import EngineError, OptionError
from engine.core.execution import processes
from engine.core.io import writable_target
from engine.data import formats as datasets
from engine.data.containers import accuracy, confusion_matrix, predict
from engine.export.cli import add_parser as add_export_parser
from engine.runs.experiment import Experiment, preset
from engine.runs.presets import list_presets
from engine.runs.snapshots import load_trained, save_snapshot

from .common import TRAINER_FLAGS, _fit_error, _load_data, _progress_line, add_experiment_args, experiment_from_args

log = logging.getLogger(__name__)

#: Command-line flags that set a trainer option of the experiment.










def cmd_data(a):
    print(json.dumps(datasets.summary(_load_data(a.path))))
    return 0


def _check_crops(a):
    if not 1 <= a.crops <= 9:
        raise OptionError(f"--crops must be 1 to 9 (the centre, corners and edges), got {a.crops}")


def _check_session_target(path):
    """Refuse, before any work, a ``--session`` folder that cannot become or be a session."""
    from engine.runs.session_folder import INFO, SessionError, SessionFolder, _empty
    path = pathlib.Path(path)
    if (path / INFO).exists():
        SessionFolder.open(path)  # a damaged session: said now
    elif path.exists() and (not path.is_dir() or not _empty(path)):
        raise SessionError(f"{path}: not a session, and not an empty folder to start one in")
    elif not path.exists() and not path.parent.is_dir():
        raise SessionError(f"{path}: the folder {path.parent} does not exist")


def _training_options(a):
    opts = {"test": False, "eval_examples": None, "keep_best": a.keep_best,
            "early_stop": a.early_stop, "save_every_seconds": a.save_every,
            "threads": a.threads}
    if a.eval_every is not None:
        if a.eval_every < 1:
            raise OptionError(f"--eval-every must be at least 1 example, got {a.eval_every}")
        opts["eval_every"] = a.eval_every
    if a.early_stop is not None and a.early_stop < 1:
        raise OptionError(f"--early-stop must be at least 1 evaluation, got {a.early_stop}")
    if not a.save_every > 0:
        raise OptionError(f"--save-every must be above 0 seconds, got {a.save_every}")
    if a.coach:
        from engine.runs.coach import Coach
        opts["coach"] = Coach()
    return opts


def _check_validation_for_best(a, exp):
    if (a.keep_best or a.early_stop is not None) and not exp.validation:
        flag = "--keep-best" if a.keep_best else "--early-stop"
        raise OptionError(f"{flag} watches the validation accuracy, and --validation 0 holds out "
                          f"no images to measure it on")


def cmd_train(a):
    _check_crops(a)
    if a.resume:
        return _resume(a)
    exp = experiment_from_args(a)
    for path in (a.out, a.save_experiment):  # refused now, not after the whole run
        if path:
            writable_target(path)
    if not a.session:
        return _train_new(a, exp, None)
    _check_session_target(a.session)
    from engine.runs.session_folder import SessionLock
    lock = SessionLock.take(a.session, create=True)  # one writer: a second is told now
    try:
        return _train_new(a, exp, lock)
    finally:
        lock.release()


def _train_new(a, exp, lock):
    opts = _training_options(a)
    data = _load_data(exp.data, a.quiet)
    problems = datasets.check_fit(exp.layer_defs, data)
    if problems and not a.fit_input:
        raise _fit_error(exp.name, data, problems,
                         " (add --fit-input to adapt the input layer and the class count)")
    if problems:
        defs, changes = datasets.fit_layer_defs(exp.layer_defs, data)
        augment = dict(exp.augment)
        if augment["crop"] and augment["crop"] != defs[0]["out_sy"]:
            changes.append(f"augmentation crop {augment['crop']} -> the input size")
            augment["crop"] = None
        exp = exp.replace(layer_defs=defs, augment=augment)
        print(f"adapted the network to the data: {', '.join(changes)}", file=sys.stderr)
    if a.validation is None:  # the experiment's default, on a dataset too small for it
        validation, note = exp.validation_for(len(data.train))
        if note:
            exp = exp.replace(validation=validation)
            print(f"note: {note}", file=sys.stderr)
    _check_validation_for_best(a, exp)
    if a.save_experiment:
        exp.save(a.save_experiment)
        print(f"wrote {a.save_experiment}", file=sys.stderr)
    opts.setdefault("eval_every", max(1, len(exp.splits(data)[0])))
    if a.session:
        from engine.runs.session_folder import SessionFolder
        session = SessionFolder.open_or_create(a.session, exp, lock=lock)
        training = session.start(data, exp, **opts)
        print(f"session {a.session}: {training.run_id}", file=sys.stderr)
        try:
            return _train_loop(a, training, data)
        finally:
            session.release()
    else:
        from engine.runs.session_folder import Training
        opts.pop("save_every_seconds")
        net = exp.build_net(threads=opts.pop("threads"))
        training = Training(net, exp.build_trainer(net), exp, data, **opts)
    return _train_loop(a, training, data)


def _resume(a):
    from engine.runs.session_folder import SessionFolder
    refused = [f for f, v in (("--spec", a.spec), ("--preset", a.preset), ("--session", a.session),
                              ("--validation", a.validation), ("--seed", a.seed),
                              ("--fit-input", a.fit_input),
                              ("--save-experiment", a.save_experiment)) if v]
    if refused:
        raise OptionError(f"{refused[0]} cannot be given with --resume (the session says it)")
    if a.out:
        writable_target(a.out)
    session = SessionFolder.open(a.resume, lock=True)  # one writer: a second is told now
    opts = _training_options(a)
    exp = session.experiment
    changes = {k: getattr(a, k) for k in TRAINER_FLAGS if getattr(a, k) is not None}
    if a.shift is not None:
        changes["augment.shift"] = a.shift
    if a.flip is not None:
        changes["augment.flip"] = a.flip
    if a.schedule is not None:
        changes["schedule.kind"] = a.schedule
    _check_validation_for_best(a, exp)
    data = _load_data(a.data or exp.data, a.quiet)
    training = session.resume(data, epochs=a.epochs, changes=changes, **opts)
    run = training.run
    print(f"session {a.resume}: going on with {training.run_id} from {run.examples_seen:,} "
          f"examples (epoch {run.epoch:.2f}) to epoch {run.epochs:g}", file=sys.stderr)
    try:
        return _train_loop(a, training, data)
    finally:
        session.release()


def _train_loop(a, training, data):
    """Train, print progress, and end as ``train`` does (the result as one JSON line)."""
    exp, net, trainer, run = training.experiment, training.net, training.trainer, training.run
    total = int(round(run.epochs * len(run.train_set)))
    schedule = f", {exp.schedule['kind']} schedule" if exp.schedule else ""
    print(f"training {exp.name} ({net.n_params:,} parameters) on {len(run.train_set):,} "
          f"images of {datasets.describe(data)} for {exp.epochs:g} epochs, {trainer.method}{schedule}, "
          f"batch {trainer.batch_size}", file=sys.stderr)
    t0 = time.time()
    start_seen = run.examples_seen
    last = {}
    alerts = set()
    for r in training.reports():
        for alert in r.get("alerts", ()):
            if alert["kind"] not in alerts:
                alerts.add(alert["kind"])
                print(f"\ncoach: {alert['message']}", file=sys.stderr)
        if r["tag"] == "progress":
            last = r
            if not a.quiet:
                print(_progress_line(r, total), end="", file=sys.stderr, flush=True)
                a.progress_shown = True  # an error after this starts on a new line
        elif r["tag"] == "eval" and "validation_accuracy" in r and not a.quiet:
            print(f"\n  validation accuracy {r['validation_accuracy']:.4f} at epoch {r['epoch']:.2f}"
                  + (" (best so far)" if r.get("best") and run.keep_best else ""), file=sys.stderr)
        elif r["tag"] == "done" and r.get("early_stopped"):
            print(f"\n{r['message']}", file=sys.stderr)
        elif r["tag"] == "diverged" or r.get("not_learning"):  # (a run at chance: as a divergence)
            print(f"\nerror: {r['message']}", file=sys.stderr)
            if a.out:  # the run went back to them
                save_snapshot(net, a.out, experiment=exp,
                              meta={"preset": exp.name, "trainer": trainer.options(),
                                    "examples_seen": run.examples_seen,
                                    "not_learning" if r.get("not_learning") else "diverged": r["message"]})
                print(f"wrote the last good weights to {a.out}", file=sys.stderr)
            training.finish()
            return _saved_elsewhere(a, training) or 3
    elapsed = time.time() - t0
    best = run.best if run.keep_best else None
    if best is not None:
        run.restore_best()
    test_acc = accuracy(net, data.test, crop_count=a.crops)
    seen = run.examples_seen - start_seen
    result = {"preset": exp.name, "data": data.name, "epochs": exp.epochs,
              "examples_seen": run.examples_seen, "seconds": round(elapsed, 1),
              "examples_per_second": round(seen / elapsed, 1) if elapsed > 0 else None,
              "test_accuracy": test_acc, "test_crops": a.crops}
    if run.validation is not None:
        result["validation_accuracy"] = accuracy(net, run.validation)
    if last:
        result["final_train_loss"] = last.get("cost_loss")
        result["final_learning_rate"] = last.get("learning_rate")
    if best is not None:
        result["best_examples_seen"] = best["examples_seen"]
    if training.session is not None:
        result["session"] = str(training.session.path)
        result["run"] = training.run_id
    metrics = {k: result[k] for k in ("test_accuracy", "validation_accuracy") if k in result}
    training.finish(**metrics)
    print(file=sys.stderr)
    print(json.dumps(result))
    if a.out:
        meta = {"preset": exp.name, "trainer": trainer.options(), "examples_seen": run.examples_seen,
                "test_accuracy": test_acc}
        if best is not None:
            meta.update(best_examples_seen=best["examples_seen"],
                        validation_accuracy=best["validation_accuracy"])
        try:
            save_snapshot(net, a.out, experiment=exp, meta=meta)
            print(f"wrote {a.out}" + (" (the best weights)" if best is not None else ""), file=sys.stderr)
        except (OSError, EngineError) as e:  # the run is not lost for it: written elsewhere
            fallback = _snapshot_elsewhere(a.out, net, exp, meta)
            print(f"error: cannot write {a.out} ({e}); the weights are in {fallback}", file=sys.stderr)
            return _saved_elsewhere(a, training) or SAVE_FAILED
    return _saved_elsewhere(a, training) or 0


#: The exit status of a run that trained but whose session (or --out) could not be saved
#: where asked: its work was written elsewhere, and the message says where.
SAVE_FAILED = 4


def _snapshot_elsewhere(out, net, exp, meta):
    """Write a snapshot that could not go to ``out`` to a new file of its own in the
    temporary folder (``NAME-XXXXXXXX.json``); returns its path."""
    import tempfile
    name = pathlib.Path(out).stem or "weights"
    fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".json")
    os.close(fd)
    save_snapshot(net, path, experiment=exp, meta=meta)
    return path


def _saved_elsewhere(a, training):
    """When the session could not be saved (a full disk, a read-only folder ...): the run
    goes to a new session folder beside --out or the session, or in the temporary folder,
    and the user is told where. Returns SAVE_FAILED then, else None."""
    if training.session is None or training.save_error is None:
        return None
    training._safely(training.save)  # once more: the fault may have passed
    if training.save_error is None:
        return None
    near = [pathlib.Path(a.out).resolve().parent] if getattr(a, "out", None) else []
    try:
        where = training.rescue(near)
    except EngineError as e:
        print(f"{_new_line(a)}error: could not save the session in {training.session.path} "
              f"({training.save_error}), nor the run "
              f"elsewhere: {e}", file=sys.stderr)
        return SAVE_FAILED
    print(f"{_new_line(a)}error: could not save the session in {training.session.path} "
          f"({training.save_error}); the run is "
          f"saved in {where} instead (go on with: python -m engine train --resume {where})",
          file=sys.stderr)
    return SAVE_FAILED


def cmd_eval(a):
    _check_crops(a)
    net, exp, _ = load_trained(a.snapshot)
    data = _load_data(a.data if a.data or exp is None else exp.data)
    # a snapshot may know more classes than the test images show; fewer cannot work
    classes = net.num_outputs if net.loss_layer.layer_type != "regression" else None
    problems = datasets.fit_problems(net.input_shape, classes if classes and classes < data.num_classes
                                     else None, data)
    if problems:
        raise _fit_error(a.snapshot, data, problems, "")
    probs = predict(net, data.test.images, crop_count=a.crops)
    pred = probs.argmax(axis=1)
    acc = float(np.mean(pred == data.test.labels))
    k = max(net.num_outputs, data.num_classes)
    m = confusion_matrix(data.test.labels, pred, k)
    print(f"test accuracy {acc:.4f} ({int(np.sum(pred == data.test.labels))}/{len(pred)})"
          + (f", {a.crops} crops averaged" if a.crops > 1 else "") + f" on {data.name}")
    if data.class_names != [str(i) for i in range(data.num_classes)]:
        print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(data.class_names)))
    print("confusion matrix (rows: true class, columns: predicted)")
    print("      " + "".join(f"{j:>6d}" for j in range(k)))
    for i in range(k):
        print(f"{i:>6d}" + "".join(f"{v:>6d}" for v in m[i]))
    return 0


def cmd_teach_bench(a):
    from engine.cli.teach_bench import bench
    bench(a.seconds, a.class_seconds, range(a.seeds))
    return 0


def cmd_bench(a):
    try:
        sizes = [int(s) for s in a.batch_sizes.split(",")]
    except ValueError:
        raise OptionError(f"--batch-sizes: expected whole numbers separated by commas, "
                          f"got {a.batch_sizes!r}") from None
    if any(s < 1 for s in sizes) or a.rounds < 1 or (a.seconds is not None and a.seconds <= 0):
        raise OptionError("bench: batch sizes and --rounds must be at least 1, --seconds above 0")
    compare = [c for c in a.compare.split(",") if c] if a.compare else []
    if a.to_accuracy is not None:
        if not 0 < a.to_accuracy <= 1:
            raise OptionError(f"--to-accuracy: expected a fraction in (0, 1], e.g. 0.993, got {a.to_accuracy}")
        from engine.cli import bench_accuracy
        exp = Experiment.load(a.spec) if a.spec else preset(a.preset or "fast")
        if a.epochs is not None:
            exp = exp.replace(epochs=a.epochs)
        result = bench_accuracy.run(exp, a.preset or (pathlib.Path(a.spec).stem if a.spec else "fast"),
                                    a.to_accuracy, seed=a.seed, progress=a.progress)
        return 0 if result["reached"] else 1
    if a.preset or a.spec:
        from engine.cli import bench_rounds
        exp = Experiment.load(a.spec) if a.spec else preset(a.preset)
        bench_rounds.run(exp, a.preset or pathlib.Path(a.spec).stem, sizes,
                         2.0 if a.seconds is None else a.seconds, a.rounds, compare)
        return 0
    from engine.cli.bench import run
    run(sizes, 5.0 if a.seconds is None else a.seconds, compare)
    return 0


def cmd_presets(a):
    for name in list_presets():
        print(f"{name:18s} {preset(name).description}")
    return 0


def cmd_layers(a):
    if a.readme:
        path = options.write_readme(None if a.readme is True else a.readme)
        print(f"wrote the layer table into {path}", file=sys.stderr)
    else:
        sys.stdout.write(options.markdown())
    return 0




def parser():
    p = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an experiment (a preset or a file) on MNIST or your "
                                     "data; flags override it",
                       description="Train the experiment of a preset or a file. Each flag given "
                                   "overrides that setting of the experiment.")
    add_experiment_args(t)
    t.add_argument("--crops", type=int, default=1, help="test-time crops to average (1 = centre)")
    t.add_argument("--fit-input", action="store_true",
                   help="adapt the input layer (size, channels) and the class count to the data")
    t.add_argument("--out", help="write the trained snapshot (ConvNetJS JSON, with the experiment)")
    t.add_argument("--save-experiment", metavar="PATH",
                   help="write the experiment as run (the file with the flags applied)")
    t.add_argument("--eval-every", type=int, metavar="EXAMPLES",
                   help="examples between validation evaluations (default: one epoch)")
    k = t.add_argument_group("sessions (a folder that keeps the run; see docs/experiments.md)")
    k.add_argument("--session", metavar="DIR",
                   help="keep the run in this session folder (made if missing): the weights, the "
                        "trainer's state, the curves; saved at the end and every --save-every seconds")
    k.add_argument("--resume", metavar="DIR",
                   help="go on with the session's last run: --epochs E more epochs (without "
                        "--epochs: to the end it planned); trainer flags change its settings")
    k.add_argument("--save-every", type=float, default=60.0, metavar="SECONDS",
                   help="save the session at least this often while training (default 60)")
    k.add_argument("--keep-best", action="store_true",
                   help="keep the weights with the best validation accuracy (the session's "
                        "best.json); --out and the test accuracy are then those weights'")
    k.add_argument("--early-stop", type=int, metavar="PATIENCE",
                   help="stop after PATIENCE evaluations without a better validation accuracy "
                        "(keeps the best weights, as --keep-best)")
    k.add_argument("--coach", action="store_true",
                   help="watch the training and print the coach's alerts (see docs/experiments.md)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="test accuracy and confusion matrix of a snapshot")
    e.add_argument("snapshot", help="a snapshot, or an experiment file with weights")
    e.add_argument("--crops", type=int, default=1)
    e.add_argument("--data", help="a dataset in any format 'data' reads (default: the data the "
                                  "snapshot was trained on, else the bundled MNIST)")
    e.set_defaults(func=cmd_eval)
    d = sub.add_parser("data", help="summary of a dataset as JSON (format, image shape, classes, counts)",
                       description="Summarise a dataset: IDX files (a folder or an images file), "
                                   "an .npz (x_train, y_train, x_test, y_test or x, y), a CSV "
                                   "(label, then pixels) or a folder of images per class.")
    d.add_argument("path")
    d.set_defaults(func=cmd_data)
    b = sub.add_parser("bench", help="training/inference examples per second (JSON lines)",
                       description="Without --preset/--spec: the ConvNetJS demo net, each framework "
                                   "in its own process one after another. With --preset or --spec: "
                                   "that experiment's network and trainer, engine and PyTorch "
                                   "(--compare torch) in alternating rounds; the median and the "
                                   "spread of the rounds.")
    src = b.add_mutually_exclusive_group()
    src.add_argument("--preset", help="bundled preset name (see 'presets')")
    src.add_argument("--spec", help="an experiment file (or a JSON list of layer_defs)")
    b.add_argument("--batch-sizes", default="1,20,128")
    b.add_argument("--seconds", type=float, default=None,
                   help="seconds per measurement (default 5) or per round (default 2)")
    b.add_argument("--rounds", type=int, default=5, help="rounds per framework (with --preset/--spec)")
    b.add_argument("--compare", default="", help="comma list: torch, convnetjs; with --preset/--spec: "
                                                 "torch, engine-alone (the engine without its worker)")
    b.add_argument("--to-accuracy", type=float, metavar="FRACTION",
                   help="train the experiment (default preset: fast), test every quarter epoch, "
                        "print the training seconds to reach this test accuracy (exit 1 if never)")
    b.add_argument("--seed", type=int, default=0, help="with --to-accuracy")
    b.add_argument("--epochs", type=float, help="with --to-accuracy: the experiment's epochs instead")
    b.add_argument("--progress", action="store_true", help="with --to-accuracy: a line per evaluation")
    b.set_defaults(func=cmd_bench)
    tb = sub.add_parser("teach-bench", help="teaching's figures on the demo network (JSON lines): "
                        "a style corrected by one teach, and three drawn classes learnt")
    from engine.cli.teach_bench import add_arguments as add_teach_bench_arguments
    add_teach_bench_arguments(tb)
    tb.set_defaults(func=cmd_teach_bench)
    s = sub.add_parser("presets", help="list the bundled presets")
    s.set_defaults(func=cmd_presets)
    y = sub.add_parser("layers", help="every layer type and its options (a Markdown table)")
    y.add_argument("--readme", nargs="?", const=True, metavar="PATH",
                   help="write the table between the layer-table markers of docs/layers.md (or PATH)")
    y.set_defaults(func=cmd_layers)
    add_export_parser(sub)
    from engine.cli.experiments import add_parsers
    add_parsers(sub)
    verbose = {"action": "count", "default": 0,
               "help": "say more on stderr: what the engine logs (-v: its steps, -vv: details), "
                       "and an error's traceback"}
    p.add_argument("-v", "--verbose", **verbose)
    for command in sub.choices.values():  # after the command too: python -m engine train -v
        command.add_argument("-v", "--verbose", dest="verbose_command", **verbose)
    return p


def start_logging(verbosity):
    """The engine's log on stderr: warnings (0), info (1) or everything (2 and more)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    engine_log = logging.getLogger("engine")
    engine_log.addHandler(handler)
    engine_log.setLevel(level)
    return handler


def _new_line(a):
    """A line break when a progress line is still open on stderr."""
    return "\n" if getattr(a, "progress_shown", False) else ""


def main(argv=None):
    a = parser().parse_args(argv)
    a.verbose = a.verbose + getattr(a, "verbose_command", 0)
    handler = start_logging(a.verbose)
    parallel.hold_freed_memory()
    try:
        try:
            return a.func(a)
        finally:
            # Here, where Ctrl-C is caught below, not in an exit handler it would interrupt.
            processes.shutdown()
    except BrokenPipeError:  # e.g. piped into head (before OSError, which it is)
        sys.stderr.close()
        return 0
    except (EngineError, ValueError, OSError) as e:
        if a.verbose:
            log.info("%s: where it came from", type(e).__name__, exc_info=e)
        print(f"{_new_line(a)}error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_new_line(a)}interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("engine").removeHandler(handler)

"""A training run's whole state in one file, so that it can go on exactly where it was.

A checkpoint holds the weights (running statistics included), the trainer's
accumulators (momentum, adagrad, adadelta, adam) and update count, the run's position
in the epoch and its data order, the random generators (the net's, for dropout; the
run's, for the data order and augmentation; the evaluation samples'), the evaluation
schedule, the resolved learning-rate schedule, the divergence watch and the best
weights kept. Resuming from one gives the weights an uninterrupted run would have
(bit for bit with the same threads; ``ENGINE_PROCESSES=0`` keeps the worker processes,
whose start-up changes how a batch is split, out of it).

The file is a ``.npz`` (numpy's zip of arrays, read without pickle): the arrays under
``net/0``, ``net/1``, ... ``trainer/gsum``, ``run/order``, ``run/good/0`` ... and one
uint8 array ``state.json`` with the plain data (the experiment, the counters, the
generators' states). It is written to a temporary file and renamed into place.

    ck = capture(net, trainer, run, experiment)
    write(path, ck)
    ck = read(path)
    net, trainer, run = restore(ck, dataset)            # a Run that goes on from there
"""
import io
import json
import os
import re
import zipfile
import zlib

import numpy as np

from engine.core import fields
from engine.core.errors import CheckpointError, DataError, EngineError
from engine.core.io import open_regular
from engine.runs.generators import generator_from_state, generator_state

FORMAT = "convnet-workbench checkpoint"
VERSION = 1




# -- random generators as plain data ---------------------------------------------------


#: The bit generators a checkpoint may name (a name from a file never picks any other
#: attribute of ``numpy.random``).




def data_fingerprint(dataset):
    """A short text that changes when the training or test images or labels do (counts,
    image shape and a checksum of the labels and of a sample of the pixels)."""
    crc = 0
    for part in (dataset.train, dataset.test):
        crc = zlib.crc32(np.ascontiguousarray(part.labels).tobytes(), crc)
        if len(part):
            idx = np.linspace(0, len(part) - 1, min(len(part), 64)).astype(np.int64)
            crc = zlib.crc32(np.ascontiguousarray(part.images[idx]).tobytes(), crc)
    h, w, c = dataset.image_shape
    return f"{len(dataset.train)}+{len(dataset.test)}x{h}x{w}x{c}:{crc:08x}"


# -- capture and restore -------------------------------------------------------------------
def capture(net, trainer, run=None, experiment=None, extra=None):
    """The state of a run now, as ``{"info": plain data, "arrays": {name: ndarray}}``.

    Call it between batches, on the thread that trains (for a ``Run``: while its
    ``reports()`` generator is suspended at a report). ``extra`` (plain data) is stored
    as it is, for the caller (e.g. ``engine.session``'s run id).
    """
    arrays = {f"net/{i}": a.copy() for i, a in enumerate(net.state_arrays())}
    t_info, t_arrays = trainer.state()
    arrays.update({f"trainer/{k}": v for k, v in t_arrays.items()})
    info = {"format": FORMAT, "version": VERSION, "dtype": str(net.dtype),
            "net_rng": generator_state(net.rng), "trainer": t_info,
            "experiment": None if experiment is None else experiment.to_json(),
            "run": None, "extra": extra}
    if run is not None:
        r_info, r_arrays = run.state()
        info["run"] = r_info
        arrays["run/order"] = r_arrays["order"]
        arrays.update({f"run/good/{i}": a for i, a in enumerate(r_arrays["good"])})
        arrays.update({f"run/best/{i}": a for i, a in enumerate(r_arrays["best"])})
    return {"info": info, "arrays": arrays}


def to_bytes(ck):
    """The ``.npz`` bytes of a checkpoint."""
    text = json.dumps(ck["info"], allow_nan=False)
    buf = io.BytesIO()
    np.savez(buf, **{"state.json": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)},
             **ck["arrays"])
    return buf.getvalue()


def write(path, ck):
    """Write a checkpoint to ``path`` atomically."""
    from engine.core.io import atomic_write_bytes
    atomic_write_bytes(path, to_bytes(ck))


def read(path):
    """A checkpoint from a file; CheckpointError naming the file when it is not one."""
    name = getattr(path, "name", str(path))
    if not os.path.lexists(path):
        raise CheckpointError(f"{name}: no such file")
    try:
        # open_regular: a FIFO or a device is refused at once, not waited on
        with open_regular(path, CheckpointError) as f, np.load(f, allow_pickle=False) as z:
            files = list(z.files)
            if "state.json" not in files:
                raise CheckpointError(f"{name}: not a checkpoint (no state.json)")
            info = json.loads(bytes(z["state.json"]).decode("utf-8"))
            arrays = {k: z[k] for k in files if k != "state.json"}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CheckpointError(f"{name}: not a checkpoint, or damaged ({e})") from None
    check(info, arrays, name)
    return {"info": info, "arrays": arrays}


#: The arrays a checkpoint may hold (any other name is refused).
ARRAY_NAME = re.compile(r"net/[0-9]{1,6}|trainer/(gsum|xsum)|run/order|run/(good|best)/[0-9]{1,6}")


def check(info, arrays, where="checkpoint"):
    """Check a checkpoint's plain data and arrays (types, ranges, dtypes, shapes) before
    any is used; CheckpointError naming the first that is wrong."""
    E = CheckpointError
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise E(f"{where}: not a {FORMAT}")
    version = fields.whole(info.get("version", 1), E, where, "version", lo=1)
    if version > VERSION:
        raise E(f"{where}: made by a newer version of the engine (checkpoint version {version})")
    if info.get("dtype", "float32") not in ("float32", "float64"):
        raise E(f"{where}: dtype must be 'float32' or 'float64', got {info.get('dtype')!r}")
    fields.mapping(info.get("net_rng"), E, where, "net_rng")
    fields.mapping(info.get("experiment"), E, where, "experiment", none=True)
    extra = fields.mapping(info.get("extra"), E, where, "extra", none=True) or {}
    fields.run_id(extra.get("run"), E, where, "extra.run", none=True)
    fields.text(extra.get("data"), E, where, "extra.data", none=True, max_len=1000)
    t = fields.mapping(info.get("trainer"), E, where, "trainer")
    fields.mapping(t.get("options"), E, where, "trainer.options", none=True)
    fields.whole(t.get("k", 0), E, where, "trainer.k")
    fields.whole(t.get("updates", 0), E, where, "trainer.updates")
    fields.text(t.get("state_method"), E, where, "trainer.state_method", none=True, max_len=100)
    for key, a in arrays.items():
        if not ARRAY_NAME.fullmatch(key):
            raise E(f"{where}: holds an array {key!r} that is not a checkpoint's")
        if key == "run/order":
            continue
        if a.dtype not in (np.float32, np.float64):
            raise E(f"{where}: {key} must hold float32 or float64 numbers, not {a.dtype}")
        if a.ndim > 4:
            raise E(f"{where}: {key} has {a.ndim} dimensions, more than a weight has")
        if not np.isfinite(a).all():
            raise E(f"{where}: {key} holds values that are not finite numbers (NaN or infinite)")
    run = fields.mapping(info.get("run"), E, where, "run", none=True)
    if run is None:
        if "run/order" in arrays:
            raise E(f"{where}: holds a data order (run/order) but no run")
        return
    n = fields.whole(run.get("train_examples"), E, where, "run.train_examples")
    seen = fields.whole(run.get("examples_seen"), E, where, "run.examples_seen")
    fields.whole(run.get("batches"), E, where, "run.batches", hi=max(seen, 0))
    fields.number(run.get("epochs"), E, where, "run.epochs", 0, 1e9, none=True)
    fields.whole(run.get("position"), E, where, "run.position", hi=n)
    fields.whole(run.get("next_eval"), E, where, "run.next_eval")
    fields.whole(run.get("eval_every"), E, where, "run.eval_every", lo=1)
    fields.whole(run.get("since_best", 0), E, where, "run.since_best")
    for key in ("rng", "eval_rng", "watch"):
        fields.mapping(run.get(key), E, where, f"run.{key}")
    fields.mapping(run.get("schedule"), E, where, "run.schedule", none=True)
    best = fields.mapping(run.get("best"), E, where, "run.best", none=True)
    if best is not None:
        fields.number(best.get("validation_accuracy"), E, where, "run.best.validation_accuracy",
                      0.0, 1.0, none=True)
        fields.whole(best.get("examples_seen", 0), E, where, "run.best.examples_seen")
    watch = run["watch"]
    for key in ("norm0", "good_norm", "best_loss"):
        fields.number(watch.get(key), E, where, f"run.watch.{key}", 0.0, none=True)
    fields.number(watch.get("best_acc", 0.0), E, where, "run.watch.best_acc", 0.0, 1.0)
    fields.whole(watch.get("low", 0), E, where, "run.watch.low")
    pool = watch.get("pool")
    if pool is not None:
        if not (isinstance(pool, list) and len(pool) == 3):
            raise E(f"{where}: run.watch.pool must be a list of 3 numbers")
        fields.number(pool[0], E, where, "run.watch.pool[0]")
        fields.number(pool[1], E, where, "run.watch.pool[1]")
        fields.whole(pool[2], E, where, "run.watch.pool[2]")
    order = arrays.get("run/order")
    if order is None:
        raise E(f"{where}: holds a run but not its data order (run/order)")
    if order.ndim != 1 or order.dtype.kind not in "iu":
        raise E(f"{where}: run/order must be a list of whole numbers, got {order.dtype} of "
                f"shape {order.shape}")
    if len(order) != n:
        raise E(f"{where}: run/order holds {len(order):,} positions, the run trained on "
                f"{n:,} images: the checkpoint is damaged")
    if n and (order.min() < 0 or order.max() >= n):
        raise E(f"{where}: run/order holds image numbers outside 0 to {n - 1:,}: the "
                f"checkpoint is damaged")


def _numbered(arrays, prefix):
    out = []
    while f"{prefix}{len(out)}" in arrays:
        out.append(arrays[f"{prefix}{len(out)}"])
    return out


def apply(ck, net, trainer=None, run=None):
    """Put a checkpoint's state into ``net`` (and ``trainer``, ``run``) built for it."""
    info, arrays = ck["info"], ck["arrays"]
    check(info, arrays)  # (read() did; a checkpoint made in memory is checked the same)
    weights = _numbered(arrays, "net/")
    have = net.state_arrays()
    if len(weights) != len(have) or any(w.shape != h.shape for w, h in zip(weights, have)):
        raise CheckpointError("the checkpoint's weights do not fit the network")
    net_rng = generator_from_state(info["net_rng"])
    try:
        if trainer is not None:
            t_arrays = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("trainer/")}
            unknown = set((info["trainer"].get("options") or {})) - set(trainer.options())
            if unknown:
                raise CheckpointError(f"checkpoint: unknown trainer option {sorted(unknown)[0]!r}")
            trainer.load_state(info["trainer"], t_arrays)
        if run is not None:
            if info.get("run") is None:
                raise CheckpointError("the checkpoint holds no run to go on with")
            good, best = _numbered(arrays, "run/good/"), _numbered(arrays, "run/best/")
            if any(a.shape != h.shape for a, h in zip(good + best, have)):
                raise CheckpointError("the checkpoint's kept weights do not fit the network")
            run.load_state(info["run"], {"order": arrays["run/order"], "good": good, "best": best})
    except (CheckpointError, DataError):  # (other training data: the caller says so)
        raise
    except EngineError as e:
        raise CheckpointError(f"checkpoint: {e}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
        raise CheckpointError(f"checkpoint: a saved value is not valid ({type(e).__name__}: {e})") from None
    for h, w in zip(have, weights):  # the weights last: nothing changes when a check fails
        np.copyto(h, w)
    net.rng = net_rng


def experiment_of(ck):
    """The Experiment a checkpoint was taken with (CheckpointError if it holds none)."""
    from engine.runs.experiment import Experiment
    obj = ck["info"].get("experiment")
    if obj is None:
        raise CheckpointError("the checkpoint does not say which experiment it belongs to")
    try:
        return Experiment.from_json(obj)
    except EngineError as e:
        raise CheckpointError(f"the checkpoint's experiment: {e}") from None


def restore(ck, dataset, experiment=None, **run_kwargs):
    """``(net, trainer, run)`` that go on from a checkpoint, on ``dataset``.

    ``experiment`` defaults to the checkpoint's own; ``run_kwargs`` go to
    ``engine.training.make_run`` (``test``, ``chunk_seconds``, ``eval_examples``, ``coach`` ...;
    the evaluation period and epochs come from the checkpoint).
    """
    exp = experiment if experiment is not None else experiment_of(ck)
    net = exp.build_net(dtype=np.dtype(ck["info"].get("dtype", "float32")),
                        threads=run_kwargs.pop("threads", None))
    trainer = exp.build_trainer(net)
    from engine.runs.run import make_run
    run = make_run(exp, net, trainer, dataset, **run_kwargs)
    apply(ck, net, trainer, run)
    return net, trainer, run

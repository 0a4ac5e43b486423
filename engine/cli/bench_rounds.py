"""Any experiment's network, engine against PyTorch, in alternating rounds.

    python -m engine bench --preset strong-convnet --batch-sizes 64 --compare torch
    python -m engine bench --spec my-net.json --batch-sizes 1,20,128 --compare torch

For each batch size, one process per framework holds the network and the same
batches (the experiment's training images, centre-cropped to the input; random
inputs when they do not fit). The parent then asks them for timed training rounds
in turn (engine, PyTorch, PyTorch, engine, ...: each goes first as often), so that
a busy machine slows both alike, and prints one JSON line per framework and batch
size with the median and the spread (lowest, highest) of its rounds, then the
ratio of the medians.

PyTorch runs the network of the PyTorch export (``engine.export.pytorch_export``'s
``model.py``, with the engine's initial weights) with ``torch.optim``'s closest rule
and ``weight_decay = l2_decay``: what a user writing it in PyTorch would run. Its
threads are PyTorch's default (``torch.get_num_threads()``). ``--compare engine-alone``
adds the engine without its worker processes (``ENGINE_PROCESSES=0``): whether the
worker pays on this machine, under its load at the time.
"""
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from engine.core.child import python_child
from engine.core.errors import EngineError
from engine.core.io import atomic_write_text

SERVE = "--serve-rounds"
SETUP_SECONDS = 120.0


# -- the serving side (one process per framework and batch size) ----------------------
def _batches(exp, shape, classes, batch, count=32):
    """``count`` batches ``(x, y)`` for a net whose input is ``shape``: the experiment's
    training images when they fit (centre-cropped), else random inputs."""
    from engine.data.containers import center_crop, to_float
    rng = np.random.default_rng(0)
    n = batch * count
    try:
        ds = exp.load_data()
        images = ds.train.images
        if images.shape[3] != shape[2] or images.shape[1] < shape[0] or images.shape[2] < shape[1]:
            raise ValueError
        idx = rng.choice(len(images), n)
        x = to_float(center_crop(images[idx], shape[0]))[:, :, :shape[1]]
        y = ds.train.labels[idx] % classes
    except Exception:  # noqa: BLE001 - no dataset, or one that does not fit: random
        x = rng.standard_normal((n,) + tuple(shape)).astype(np.float32)
        y = rng.integers(0, classes, n)
    x = np.ascontiguousarray(x, dtype=np.float32).reshape((count, batch) + tuple(shape))
    return x, y.reshape(count, batch)


def _engine_side(exp, batch):
    from engine.core import parallel
    from engine.core.execution import processes as workers
    parallel.hold_freed_memory()  # as the CLI and the app do
    net = exp.build_net(seed=0)
    trainer = exp.build_trainer(net)
    trainer.batch_size = batch
    x, y = _batches(exp, net.input_shape, net.num_outputs, batch)
    ready = workers.warm_up()  # measure training, not the worker processes' start

    def step(i):
        trainer.train(x[i % len(x)], y[i % len(y)])

    def info():
        return {"blas": parallel.blas_info(), "worker_processes": len(workers.pids()) if ready else 0,
                "workers_used": _workers_used(net)}
    return step, info


def _workers_used(net):
    """Whether the engine's last training steps shared their batches with its workers."""
    from engine.core import execution
    choice = getattr(execution, "worker_choice", None)
    return None if choice is None else choice(net)


_TORCH_RULES = {"sgd": "SGD", "nesterov": "SGD", "adam": "Adam", "adadelta": "Adadelta",
                "adagrad": "Adagrad", "windowgrad": "RMSprop"}


def torch_optimizer(torch, params, t):
    """torch.optim's closest rule to the engine trainer's options ``t``."""
    method, lr, wd = t["method"], t["learning_rate"], t["l2_decay"]
    if method == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(t["beta1"], t["beta2"]), eps=t["eps"],
                                weight_decay=wd)
    if method == "adadelta":  # ConvNetJS's adadelta has no learning rate: torch's 1.0
        return torch.optim.Adadelta(params, lr=1.0, rho=t["ro"], eps=t["eps"], weight_decay=wd)
    if method == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=t["eps"], weight_decay=wd)
    if method == "windowgrad":
        return torch.optim.RMSprop(params, lr=lr, alpha=t["ro"], eps=t["eps"], weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, momentum=t["momentum"], weight_decay=wd,
                           nesterov=method == "nesterov" and t["momentum"] > 0)


def torch_model(net):
    """The PyTorch export's module for ``net`` with its weights, in training mode."""
    import torch

    from engine.export.pytorch_export import _import_model, model_source, state_dict_arrays
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as folder:
        path = os.path.join(folder, "model.py")
        atomic_write_text(path, model_source(net, "bench"))
        import pathlib
        model = _import_model(pathlib.Path(folder))
    module = model.Network()
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state_dict_arrays(net).items()})
    return module.train()


def _torch_side(exp, batch):
    import torch
    from torch import nn
    net = exp.build_net(seed=0)
    torch.manual_seed(0)
    module = torch_model(net)
    opt = torch_optimizer(torch, module.parameters(), exp.trainer)
    x, y = _batches(exp, net.input_shape, net.num_outputs, batch)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))
    kind = net.loss_layer.layer_type
    if kind == "softmax":
        yt, loss_fn = torch.from_numpy(y.astype(np.int64)), nn.CrossEntropyLoss()
    elif kind == "svm":
        yt, loss_fn = torch.from_numpy(y.astype(np.int64)), nn.MultiMarginLoss()
    else:  # regression: one-hot targets of the same size
        yt = torch.from_numpy(np.eye(net.num_outputs, dtype=np.float32)[y % net.num_outputs])
        loss_fn = nn.MSELoss()

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module.scores(xt[i % len(xt)]), yt[i % len(yt)])
        loss.backward()
        opt.step()

    def info():
        return {"threads": torch.get_num_threads(), "version": torch.__version__}
    return step, info


def serve(stdin=sys.stdin, stdout=sys.stdout):
    """The serving side: a setup line, then one timed round per ``{"seconds": s}`` line."""
    from engine.runs.experiment import Experiment
    setup = json.loads(stdin.readline())
    exp = Experiment.from_json(setup["experiment"])
    side = _torch_side if setup["framework"] == "torch" else _engine_side
    step, info = side(exp, int(setup["batch"]))
    for i in range(3):  # warm up: first calls allocate, BLAS starts
        step(i)
    print(json.dumps({"ready": True}), file=stdout, flush=True)
    i = 0
    for line in stdin:
        seconds = float(json.loads(line)["seconds"])
        n = 0
        t0 = time.perf_counter()
        while True:
            step(i)
            i += 1
            n += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        print(json.dumps({"steps": n, "seconds": elapsed, **info()}), file=stdout, flush=True)


# -- the parent ---------------------------------------------------------------------
class _Side:
    """A serving process for one framework and batch size."""

    def __init__(self, framework, exp, batch):
        self.framework = framework
        env = dict(os.environ)
        if framework == "engine-alone":  # the engine without its worker processes
            env["ENGINE_PROCESSES"] = "0"
        self.proc = python_child(["-m", "engine.cli.bench_rounds", SERVE], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.send({"framework": framework, "experiment": exp.to_json(), "batch": batch})
        self.skipped = None
        reply = self.read(SETUP_SECONDS)
        if reply is None:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            if "No module named 'torch'" in err:
                self.skipped = "PyTorch is not installed (pip install torch)"
            else:
                self.skipped = (err.strip().splitlines() or ["did not start"])[-1]
            self.close()

    def send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        return json.loads(line) if line else None

    def round(self, seconds):
        self.send({"seconds": seconds})
        reply = self.read(max(60.0, 20 * seconds))
        if reply is None:
            raise EngineError(f"bench: the {self.framework} process stopped answering")
        return reply

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _order(frameworks, r):
    """Who runs first in round ``r``: ABBA, so that each goes first as often."""
    return frameworks if r % 2 == 0 else frameworks[::-1]


def run(exp, name, batch_sizes=(1, 20, 128), seconds=2.0, rounds=5, compare=(), out=sys.stdout):
    """Print one JSON line per framework and batch size (and the ratios); return the records."""
    unknown = [c for c in compare if c not in ("engine", "torch", "engine-alone", "convnetjs")]
    if unknown:
        raise EngineError(f"bench: cannot compare with {', '.join(unknown)} (known: torch, engine-alone)")
    frameworks = ["engine"] + [c for c in compare if c not in ("engine", "convnetjs")]
    records = []
    for batch in batch_sizes:
        sides = [_Side(fw, exp, batch) for fw in frameworks]
        live = [s for s in sides if s.skipped is None]
        rates = {s.framework: [] for s in live}
        extra = {}
        try:
            for r in range(rounds):
                for s in _order(live, r):
                    reply = s.round(seconds)
                    rates[s.framework].append(reply.pop("steps") * batch / reply.pop("seconds"))
                    extra[s.framework] = reply
        finally:
            for s in live:
                s.close()
        medians = {}
        for s in sides:
            rec = {"framework": s.framework, "net": name, "batch_size": batch}
            if s.skipped is not None:
                rec["skipped"] = s.skipped
            else:
                v = rates[s.framework]
                medians[s.framework] = statistics.median(v)
                rec.update({"train_examples_per_second": round(medians[s.framework], 1),
                            "lowest": round(min(v), 1), "highest": round(max(v), 1),
                            "rounds": [round(a, 1) for a in v], "seconds_per_round": seconds},
                           **extra[s.framework])
            records.append(rec)
            print(json.dumps(rec), file=out, flush=True)
        ratios = {f"engine_vs_{fw}": round(medians["engine"] / v, 2)
                  for fw, v in medians.items() if fw != "engine" and "engine" in medians}
        if ratios:
            rec = {"net": name, "batch_size": batch, **ratios, "of": "medians"}
            records.append(rec)
            print(json.dumps(rec), file=out, flush=True)
    return records


if __name__ == "__main__" and sys.argv[1:] == [SERVE]:
    serve()

"""Throughput of the engine on the ConvNetJS MNIST demo network, as JSON lines.

    python -m engine bench                       # the engine alone
    python -m engine bench --compare torch,convnetjs

Each measurement runs in its own subprocess, one after another, so that the
frameworks do not share threads or caches; compare figures from the same run only.
PyTorch (``pip install torch``) and ConvNetJS (node with ``npm install convnetjs``)
are optional: a framework that is not installed is reported as skipped.
"""
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

from engine.core.child import python_child
from engine.runs.presets import load_preset

DEMO = load_preset("convnetjs-demo")["layer_defs"]
INFER_BATCH = 1000
JS_BENCH = pathlib.Path(__file__).resolve().parents[2] / "tools" / "convnetjs_reference" / "bench.js"


def _mnist_batches(batch, count=64):
    from engine.data.containers import center_crop, to_float
    from engine.data.mnist import load_mnist
    ds = load_mnist()
    rng = np.random.default_rng(0)
    idx = rng.choice(len(ds.train), batch * count)
    x = to_float(center_crop(ds.train.images[idx], 24)).reshape(count, batch, 24, 24, 1)
    return x, ds.train.labels[idx].reshape(count, batch)


def _timed(step, seconds, batch):
    step(0)  # warm up
    n = 0
    i = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(i)
        i += 1
        n += batch
    return n / (time.perf_counter() - t0)


def worker_engine(batch, seconds):
    from engine import Net, Trainer
    from engine.core import parallel
    from engine.core.execution import processes as workers
    from engine.core.execution import worker_choice
    parallel.hold_freed_memory()  # as the CLI and the app do
    x, y = _mnist_batches(batch)
    ready = workers.warm_up()  # measure training, not the worker processes' start
    net = Net(DEMO, seed=0)
    trainer = Trainer(net, method="adadelta", batch_size=batch, l2_decay=0.001, eps=1e-6)
    def step(i):
        trainer.train(x[i % len(x)], y[i % len(y)])

    _settle(step, net, batch)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    train = _timed(step, seconds, batch)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    xi = x.reshape(-1, 24, 24, 1)[:INFER_BATCH]
    infer = _timed(lambda i: net.infer(xi), seconds / 2, len(xi))
    return {"train": train, "infer": infer, "rss_growth_mb": (rss1 - rss0) / 1024,
            "worker_processes": len(workers.pids()) if ready else 0, "blas": parallel.blas_info(),
            "worker_choice": worker_choice(net).get(batch, "no worker at this batch size")}


def _settle(step, net, batch, limit=10.0):
    """Train until the engine has chosen whether this batch size goes faster with the worker
    (its first check, about a second: ``engine.core.execution.WorkerChoice``), so that the
    timed steps are the steady state a run trains at, as the worker's start is not timed
    either. Its later re-checks fall inside the timed steps, as they do in a run."""
    from engine.core.execution import worker_choice
    t0 = time.perf_counter()
    i = 0
    while True:
        step(i)
        i += 1
        if worker_choice(net).get(batch) != "measuring" or time.perf_counter() - t0 > limit:
            return


def worker_torch(batch, seconds):
    import torch
    from torch import nn
    torch.manual_seed(0)
    x, y = _mnist_batches(batch)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))
    yt = torch.from_numpy(y)
    net = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 3),
                        nn.Flatten(), nn.Linear(256, 10))
    opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.001)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        opt.zero_grad()
        loss = loss_fn(net(xt[i % len(xt)]), yt[i % len(yt)])
        loss.backward()
        opt.step()

    train = _timed(step, seconds, batch)
    xi = xt.reshape(-1, 1, 24, 24)[:INFER_BATCH]
    with torch.no_grad():
        infer = _timed(lambda i: net(xi), seconds / 2, len(xi))
    return {"train": train, "infer": infer, "threads": torch.get_num_threads(),
            "version": torch.__version__}


def _run_worker(framework, batch, seconds):
    if framework == "convnetjs":
        node = shutil.which("node")
        if not node:
            return {"skipped": "node is not installed"}
        proc = subprocess.run([node, str(JS_BENCH), str(seconds), str(batch)],
                              capture_output=True, text=True, cwd=os.getcwd())
        if proc.returncode:
            return {"skipped": "convnetjs is not installed for node (npm install convnetjs)"
                    if "Cannot find module" in proc.stderr else proc.stderr.strip()[-300:]}
        return json.loads(proc.stdout)
    proc = python_child(["-m", "engine.cli.bench", "--worker", framework, str(batch), str(seconds)],
                        run=True, capture_output=True, text=True)
    if proc.returncode:
        if "No module named 'torch'" in proc.stderr:
            return {"skipped": "PyTorch is not installed (pip install torch)"}
        return {"skipped": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout)


def run(batch_sizes=(1, 20, 128), seconds=5.0, compare=(), out=sys.stdout):
    """Print one JSON line per framework and batch size; return the records."""
    records = []
    frameworks = ["engine"] + [c for c in compare if c != "engine"]
    for batch in batch_sizes:
        row = {}
        for fw in frameworks:
            # ConvNetJS processes one example at a time whatever the batch size.
            r = _run_worker(fw, batch, seconds)
            rec = {"framework": fw, "net": "convnetjs-demo", "batch_size": batch}
            if "skipped" in r:
                rec["skipped"] = r["skipped"]
            else:
                rec["train_examples_per_second"] = round(r["train"], 1)
                rec["infer_examples_per_second"] = round(r["infer"], 1)
                rec.update({k: v for k, v in r.items() if k not in ("train", "infer")})
                row[fw] = r["train"]
            records.append(rec)
        if "engine" in row:
            ratios = {f"engine_vs_{fw}": round(row["engine"] / v, 2)
                      for fw, v in row.items() if fw != "engine"}
            if ratios:
                records.append({"batch_size": batch, **ratios})
        for rec in records[-(len(frameworks) + (1 if len(row) > 1 else 0)):]:
            print(json.dumps(rec), file=out, flush=True)
    return records


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--worker":
    fw, batch, seconds = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    result = worker_engine(batch, seconds) if fw == "engine" else worker_torch(batch, seconds)
    print(json.dumps(result))

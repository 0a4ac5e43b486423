"""Measure the tour's learning-rate steps headless: python tools/tour_rates.py [explode|anneal] ...

explode: for each seed and chunk size (batches between the divergence checks; the app's
0.2 s chunks hold 1 to 1,000 batches from a very slow machine to a very fast one), train the
demo network with the "explode" step's settings and say when and how the run was stopped.
anneal: train with the "anneal" step's settings for the step's epochs and give the test
accuracy and the time. Both use the tour file's own settings (resources/tour/en.json).

Run it with the stock OpenBLAS kernels too: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...
"""
import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # this checkout's code

from engine.data import load_mnist  # noqa: E402
from engine.runs.run import make_run  # noqa: E402
from workbench.tour.steps import load_tour, step_experiment  # noqa: E402


def explode(dataset, rate, seeds, chunks, limit=5000):
    """``{(seed, chunk): (examples when stopped or None, report)}`` for the explode step."""
    tour = load_tour()
    out = {}
    for chunk in chunks:
        for seed in seeds:
            exp = step_experiment(tour, "explode").replace(seed=seed)
            if rate is not None:
                exp = exp.replace(trainer=dict(exp.trainer, learning_rate=rate))
            net = exp.build_net()
            run = make_run(exp, net, exp.build_trainer(net), dataset, test=False, eval_every=10 ** 9)
            r = None
            while run.examples_seen < max(limit, 2 * chunk * exp.trainer["batch_size"]):
                r = run.train_batches(max_batches=chunk)
                if r["tag"] == "diverged":
                    break
            out[seed, chunk] = (r["examples_seen"] if r["tag"] == "diverged" else None, r)
    return out


def anneal(dataset, seeds):
    """``[(seed, test accuracy, seconds)]`` of the anneal step's run."""
    tour = load_tour()
    out = []
    for seed in seeds:
        exp = step_experiment(tour, "anneal").replace(seed=seed)
        net = exp.build_net()
        run = make_run(exp, net, exp.build_trainer(net), dataset, eval_every=10 ** 9)
        t0 = time.perf_counter()
        acc = None
        for r in run.reports():
            if r["tag"] == "diverged":
                break
            if r["tag"] == "eval":
                acc = r.get("test_accuracy")
        out.append((seed, acc, time.perf_counter() - t0))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("explode", "anneal"))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--chunks", default="1,20,200,1000", help="batches per check (explode)")
    p.add_argument("--rate", type=float, help="another learning rate than the step's (explode)")
    a = p.parse_args()
    ds = load_mnist()
    from threadpoolctl import threadpool_info
    kernels = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"kernels: {kernels}")
    if a.what == "explode":
        chunks = [int(c) for c in a.chunks.split(",")]
        res = explode(ds, a.rate, range(a.seeds), chunks)
        for chunk in chunks:
            stopped = [res[s, chunk][0] for s in range(a.seeds)]
            msgs = [res[s, chunk][1].get("message", "") for s in range(a.seeds)]
            losses = [float(m.split("blew up to ")[1].split(" ")[0]) for m in msgs if "blew up to" in m]
            nan = sum("became" in m for m in msgs)
            print(f"chunk {chunk:5d} batches: stopped {sum(x is not None for x in stopped)}/{a.seeds} after "
                  f"({min(filter(None, stopped), default='-')}-"
                  f"{max(filter(None, stopped), default='-')} examples); NaN/inf {nan}, a finite loss "
                  f"blown up to {min(losses, default=float('nan')):.3g}-{max(losses, default=float('nan')):.3g}")
    else:
        for seed, acc, secs in anneal(ds, range(a.seeds)):
            print(f"seed {seed}: test accuracy {acc:.4f} in {secs:.1f} s")


if __name__ == "__main__":
    main()

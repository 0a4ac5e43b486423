"""A training worker's page faults a step: whether it keeps its buffers between steps.

    python tools/worker_faults.py [--steps 40] [--batch 20] [--runs 3]

Starts one engine worker process, trains the ConvNetJS demo net (threads=2: part of each
batch goes to the worker) for 10 warm-up steps, then counts the worker's minor page faults
(``/proc/PID/stat``) over ``--steps`` more. Prints one JSON line per run. A worker whose
malloc gives a step's freed window copies back to the system faults them in again every
step (84 a step, a fifth of its time, before ``engine.parallel.hold_freed_memory``); one
that keeps them, a handful. A figure, not a test: it moves with what else the machine runs
(the test suite checks the behaviour: tests/engine/test_workers.py).
"""
import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's engine, whatever is installed


def minor_faults(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    a = parser.parse_args(argv)
    import numpy as np

    import engine
    from engine.cli.bench import DEMO
    from engine.core.execution import processes as workers
    if not workers.enabled() or not pathlib.Path("/proc/self/stat").exists():
        sys.exit("needs worker processes and Linux /proc")
    for run in range(a.runs):
        workers.shutdown()
        if not workers.warm_up(1, timeout=60):
            sys.exit("the worker process did not start")
        worker = workers._pool.workers[0]
        net = engine.Net(DEMO, seed=0, threads=2)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((a.batch, 24, 24, 1)).astype(np.float32)
        y = rng.integers(0, 10, a.batch)
        for _ in range(10):
            net.train_step(x, y)
        steps, before = worker.step, minor_faults(worker.proc.pid)
        for _ in range(a.steps):
            net.train_step(x, y)
        faults = minor_faults(worker.proc.pid) - before
        print(json.dumps({"run": run + 1, "steps": a.steps, "batch": a.batch,
                          "steps_in_worker": worker.step - steps,
                          "worker_minor_faults_per_step": round(faults / a.steps, 2)}), flush=True)
    workers.shutdown()


if __name__ == "__main__":
    main()

"""CPU time of one training step on one core, engine and PyTorch alternating, for a busy machine.

    python tools/step_cpu_time.py strong-convnet 64 [steps]

On a machine shared with other jobs, wall-clock figures swing with the load (the bench's
rounds went from 5,000 to 90 examples per second at batch 1 as the load rose). The CPU
time a step takes on one core swings far less: it is the work, not the wait. Both run
single-threaded in this process (the engine with ``ENGINE_PROCESSES=0``, one thread,
one BLAS thread; PyTorch with ``torch.set_num_threads(1)``), a step each in turn, on the
same batches (``engine.bench_rounds``). Prints the best and the median step of each, as
examples per second of CPU time, and the ratio of the medians.
"""
import json
import os
import statistics
import sys
import time

os.environ["ENGINE_PROCESSES"] = "0"
os.environ["ENGINE_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv):
    import torch

    from engine.cli import bench_rounds
    from engine.runs.experiment import preset
    name, batch = argv[0], int(argv[1])
    steps = int(argv[2]) if len(argv) > 2 else 40
    torch.set_num_threads(1)
    exp = preset(name)
    sides = {"engine": bench_rounds._engine_side(exp, batch)[0],
             "torch": bench_rounds._torch_side(exp, batch)[0]}
    times = {k: [] for k in sides}
    for i in range(steps + 3):
        for k, step in sides.items():
            t0 = time.thread_time()
            step(i)
            if i >= 3:  # warm-up steps not counted
                times[k].append(time.thread_time() - t0)
    out = {"net": name, "batch_size": batch, "steps": steps}
    for k, v in times.items():
        out[k] = {"best_ex_per_cpu_s": round(batch / min(v)), "median_ex_per_cpu_s": round(batch / statistics.median(v))}
    out["engine_vs_torch"] = round(statistics.median(times["torch"]) / statistics.median(times["engine"]), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])

"""How fast datasets load and how much memory it takes, for every format (issue #12's figures).

    python tools/dataset_bench.py [--dir /tmp/dataset-bench]

Writes the datasets once into ``--dir`` (MNIST's 70,000 images as IDX raw and gzipped, as
.npz, as CSV; 10,000 PNG files of 32x32 RGB), then loads each in a fresh process and prints
one JSON line: seconds, the images' size as uint8, the peak of memory the load allocated
(tracemalloc: numpy's arrays and Python's objects) and the growth of the process's peak
resident memory over the load (VmHWM), each also as a multiple of the images' size. The time is
measured without tracemalloc (which slows allocations). Each process first loads a tiny dataset
of the same format, so that what a process pays once (Pillow's plugins, the decoding threads'
malloc arenas: about 10 MB) is not counted against the dataset.
"""
import argparse
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
import numpy as np
from engine import datasets
datasets.load({warm!r})  # once a process (Pillow's plugins, the decoding threads' malloc arenas, ...)
def status(key):  # resident memory now (VmRSS) or its peak since exec (VmHWM), bytes
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
base = status("VmRSS")
t = time.perf_counter()
ds = datasets.load({path!r})
seconds = time.perf_counter() - t
grew = status("VmHWM") - base
del ds
tracemalloc.start()
ds = datasets.load({path!r})
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
n = ds.train.images.nbytes + ds.test.images.nbytes
print(json.dumps({{"format": ds.format, "path": {path!r}, "images": len(ds.train) + len(ds.test),
                  "shape": list(ds.image_shape), "seconds": round(seconds, 3),
                  "images_mb": round(n / 2**20, 1), "traced_peak_mb": round(peak / 2**20, 1),
                  "traced_ratio": round(peak / n, 3), "rss_growth_mb": round(grew / 2**20, 1),
                  "rss_ratio": round(grew / n, 3)}}))
"""


def make_warmup(d):
    """A tiny dataset in every format, loaded first so that one-time costs of a process are not counted."""
    sys.path.insert(0, str(ROOT))
    from tests.engine import dataset_files as files
    x, y = files.images(20, 8, 8, 3)
    return {"idx": files.write_idx_folder(d / "warm-idx", (x[..., :1], y), (x[..., :1], y)),
            "npz": files.write_npz(d / "warm.npz", (x, y)),
            "csv": files.write_csv(d / "warm.csv", x, y),
            "folder": files.write_folder(d / "warm-png", (x, y))}


def make(d):
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from engine.data import load_mnist
    from tests.engine import dataset_files as files

    d.mkdir(parents=True, exist_ok=True)
    ds = load_mnist()
    train = (ds.train.images, ds.train.labels)
    test = (ds.test.images, ds.test.labels)
    out = {}
    out["idx"] = d / "mnist-idx"
    if not out["idx"].exists():
        files.write_idx_folder(out["idx"], train, test)
    out["idx-gz"] = ROOT / "resources" / "datasets" / "mnist"
    out["npz"] = d / "mnist.npz"
    if not out["npz"].exists():
        np.savez_compressed(out["npz"], x_train=train[0][..., 0], y_train=train[1],
                            x_test=test[0][..., 0], y_test=test[1])
    out["csv"] = d / "mnist-csv"
    if not out["csv"].exists():
        out["csv"].mkdir()
        files.write_csv(out["csv"] / "mnist_train.csv", *train, header=True)
        files.write_csv(out["csv"] / "mnist_test.csv", *test, header=True)
    out["png"] = d / "png32"
    if not out["png"].exists():
        rng = np.random.default_rng(0)
        for i in range(10000):
            c = out["png"] / f"class{i % 10}"
            c.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(c / f"{i:05d}.png")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="/tmp/dataset-bench")
    a = p.parse_args(argv)
    d = pathlib.Path(a.dir)
    paths = make(d)
    warm = make_warmup(d)
    for kind, path in paths.items():
        w = warm[{"idx-gz": "idx", "png": "folder"}.get(kind, kind)]
        code = MEASURE.format(root=str(ROOT), path=str(path), warm=str(w))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        print(proc.stdout.strip() or proc.stderr.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()

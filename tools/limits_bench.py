"""Peak memory of the engine on each bomb of issue 20, and of Net.predict on 100,000 images.

    python tools/limits_bench.py [--dir /tmp/limits-bench] [--only NAME ...]

Writes each bomb once into ``--dir``, then runs ``python -m engine data PATH`` on it (or a
short script, for the network cases) in a fresh process under ``/usr/bin/time -v`` and prints
one JSON line per case: the exit code, seconds, the peak resident memory of the process
(maximum resident set size) and the first line of what it said on stderr. The table in
docs/limits.md, "Data and memory limits", comes from this.
"""
import argparse
import gzip
import json
import pathlib
import re
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def idx(path, arr, code, gz=False):
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = head + arr.tobytes()
    path.write_bytes(gzip.compress(data, 6) if gz else data)


def build(d):
    """``{name: (what, argv)}`` of every case, its files written into ``d`` once."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cases = {}

    p = d / "ids.npz"
    if not p.exists():
        y = np.repeat(np.array([0, 10 ** 9, 2 * 10 ** 9], np.int64), 1000)
        np.savez(p, x=rng.integers(0, 256, (3000, 28, 28), dtype=np.uint8), y=y)
    cases["npz labels 0, 1e9, 2e9"] = ["data", str(p)]

    p = d / "big-label.csv"
    if not p.exists():
        rows = [f"{2000000000 if i == 0 else i % 2}," + ",".join(["0"] * 784) for i in range(100)]
        p.write_text("\n".join(rows) + "\n")
    cases["CSV label 2000000000"] = ["data", str(p)]

    q = d / "idx-labels"
    if not (q / "train-images-idx3-ubyte").exists():
        q.mkdir(exist_ok=True)
        n = 60000
        idx(q / "train-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        idx(q / "train-labels-idx1-ubyte", rng.integers(0, 13_277_756, n).astype(">i4"), 0x0C)
    cases["IDX labels up to 13,277,755"] = ["data", str(q)]

    q = d / "idx-label-bomb"
    if not (q / "train-labels-idx1-ubyte.gz").exists():
        q.mkdir(exist_ok=True)
        idx(q / "train-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8), 0x08)
        head = bytes([0, 0, 8, 1]) + (3_400_000_000).to_bytes(4, "big")
        block = gzip.compress(bytes(2 ** 26), 9)  # 64 MB of zeros; members concatenate
        with open(q / "train-labels-idx1-ubyte.gz", "wb") as f:
            f.write(gzip.compress(head))
            for _ in range(51):  # 3.4 GB once inflated
                f.write(block)
    cases["IDX labels header of 3.4 G labels (gzip)"] = ["data", str(q)]

    p = d / "bomb.csv.gz"
    if not p.exists():
        row = b"1," + b",".join([b"0"] * 784) + b"\n"
        block = gzip.compress(row * (2 ** 24 // len(row)), 9)  # 16 MB of rows
        with open(p, "wb") as f:
            for _ in range(3 * 2 ** 30 // 2 ** 24):  # 3 GB of valid rows
                f.write(block)
    cases["bomb.csv.gz, 3 GB of rows"] = ["data", str(p)]

    p = d / "two-gb.npz"
    if not p.exists():
        n = 2 * 10 ** 9 // 784
        x = np.lib.format.open_memmap(d / "x.npy", "w+", np.uint8, (n, 28, 28))
        for a in range(0, n, 100000):
            x[a:a + 100000] = rng.integers(0, 256, (min(100000, n - a), 28, 28), dtype=np.uint8)
        x.flush()
        del x
        np.save(d / "y.npy", (np.arange(n) % 10).astype(np.uint8))
        import zipfile
        with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            z.write(d / "x.npy", "x.npy")
            z.write(d / "y.npy", "y.npy")
        (d / "x.npy").unlink()
        (d / "y.npy").unlink()
    cases["2 GB .npz (2.0 GB of images)"] = ["data", str(p)]

    relu = ("import engine; d=[{'type':'input','out_sx':24,'out_sy':24,'out_depth':1}]"
            "+[{'type':'relu'}]*100000+[{'type':'softmax','num_classes':10}]\n"
            "try: engine.Net(d)\nexcept engine.SpecError as e: raise SystemExit(f'error: {e}')")
    cases["spec of 100,000 relu layers"] = ["-c", relu]
    predict = ("import numpy as np, engine, json; from engine.experiment import preset; "
               "net = preset('convnetjs-demo').build_net(seed=0); "
               "x = np.random.default_rng(0).random((100000, 24, 24, 1), np.float32) - 0.5; "
               "p = net.predict(x); print(len(p))")
    cases["Net.predict of 100,000 images (24x24 float32, demo net)"] = ["-c", predict]
    return cases


def measure(argv):
    cmd = ["/usr/bin/time", "-v", sys.executable] + (["-m", "engine"] + argv if argv[0] != "-c" else argv)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "ENGINE_PROCESSES": "0"})
    seconds = time.perf_counter() - t
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) * 1024
    said = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("\t")]
    status = re.search(r"Exit status: (\d+)", proc.stderr)
    return {"exit": int(status.group(1)) if status else proc.returncode, "seconds": round(seconds, 1),
            "peak_mb": round(peak / 2 ** 20), "said": (said[0] if said else "")[:200]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/limits-bench")
    ap.add_argument("--only", nargs="*", help="cases whose name contains one of these words")
    args = ap.parse_args()
    for name, argv in build(pathlib.Path(args.dir)).items():
        if args.only and not any(w in name for w in args.only):
            continue
        print(json.dumps({"case": name, **measure(argv)}), flush=True)


if __name__ == "__main__":
    main()

"""The exported train.py trains for real: in one process and under torchrun with two
processes (DistributedDataParallel over gloo), its loss falls, and the snapshot it writes
gives at least 90% on the MNIST test set in ``python -m engine eval`` and exports again."""
import json
import os
import re
import subprocess
import sys

import pytest

from engine.export import export_file, to_pytorch
from engine.runs.experiment import preset

pytest.importorskip("torch", reason="the export extra is not installed: pip install -e '.[export]'")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The demo preset, untrained (seeded initial weights), exported with the dataset."""
    out = tmp_path_factory.mktemp("train") / "demo"
    exp = preset("convnetjs-demo")
    to_pytorch(exp.build_net(seed=0), exp, out)
    return out


def run(cmd, cwd):
    # One BLAS/OpenMP thread a process: two busy threads on a shared 2-core machine slow
    # PyTorch down ten times (torchrun sets the same for its processes).
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def check_run(proc, snapshot, processes, cwd):
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["processes"] == processes and result["examples_seen"] == 11000
    losses = [line["loss"] for line in result["log"]]
    assert len(losses) >= 4 and losses[-1] < 0.5 * losses[0]
    # rank 0 alone logs: one line per progress point
    assert len(re.findall(r"^epoch .* loss", proc.stderr, re.M)) == len(losses)
    assert result["test_accuracy"] >= 0.9
    ev = subprocess.run([sys.executable, "-m", "engine", "eval", str(snapshot)], capture_output=True,
                        text=True, timeout=300, cwd=os.getcwd())
    assert ev.returncode == 0, ev.stderr
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", ev.stdout).group(1))
    assert accuracy >= 0.9
    assert accuracy == pytest.approx(result["test_accuracy"], abs=1e-4)  # the same network
    meta = json.loads(snapshot.read_text())["workbench"]
    assert meta["experiment"]["trainer"]["method"] == "adadelta" and meta["examples_seen"] == 11000
    # and it goes out again: the snapshot carries its experiment
    report = export_file(snapshot, "onnx", cwd / "again.onnx")
    assert report["passed"] and report["export_accuracy"] >= 0.9


def test_train_in_one_process(folder, tmp_path):
    proc = run([sys.executable, str(folder / "train.py"), "--epochs", "0.2", "--out", "s.json",
                "--log-every", "2000", "--cpu"], tmp_path)
    check_run(proc, tmp_path / "s.json", 1, tmp_path)


def test_train_with_torchrun_on_two_processes(folder, tmp_path):
    proc = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                str(folder / "train.py"), "--epochs", "0.2", "--out", "s.json", "--log-every", "2000"],
               tmp_path)
    check_run(proc, tmp_path / "s.json", 2, tmp_path)
    assert "(2 processes)" in proc.stderr


def test_bad_options_say_so(folder, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(folder / "train.py"), "--data", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("error:")
    assert "train-images-idx3-ubyte" in proc.stderr


def test_a_device_or_pipe_out_is_refused_before_training(folder, tmp_path):
    """``--out /dev/null`` or a FIFO: one line before any training, and the device stays a device."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for out in ("/dev/null", str(fifo)):
        proc = subprocess.run([sys.executable, str(folder / "train.py"), "--out", out, "--cpu",
                               "--epochs", "0.01"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=env)
        assert proc.returncode != 0 and "not a regular file" in proc.stderr.strip().splitlines()[-1]
        assert "epoch" not in proc.stderr
    import stat
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlinked_out_is_written_through(folder, tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    run([sys.executable, str(folder / "train.py"), "--epochs", "0.01", "--out", str(link), "--cpu",
         "--log-every", "100000"], tmp_path)
    assert link.is_symlink() and "layers" in json.loads(target.read_text())
    assert (target.stat().st_mode & 0o777) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

"""A FIFO (or a device) where a file is read is refused at once with one line naming it, never
waited on: every loader opens files through engine.io.open_regular. Each case has a timeout
so that a hang fails the test instead of stalling the suite."""
import json
import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

from engine.core.errors import EngineError

from . import dataset_files as df

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRESET = ROOT / "resources" / "presets" / "convnetjs-demo.json"


def cli(cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(map(str, args))}: still waiting after 20 s")


def refused(r, name):
    """Exit 2 with one line that names the file and says it is a pipe."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error:"), line
    assert name in line and "pipe" in line, line


def in_thread(function, *args):
    """``function(*args)``'s exception (None when it returned); fails if it is still running
    after 20 s."""
    out = {}

    def run():
        try:
            function(*args)
            out["error"] = None
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():
        pytest.fail(f"{getattr(function, '__qualname__', function)}: still waiting after 20 s")
    return out["error"]


@pytest.fixture
def fifo(tmp_path):
    def make(name):
        path = tmp_path / name
        os.mkfifo(path)
        return path
    return make


@pytest.mark.parametrize("args", [["eval", "{f}"], ["train", "--spec", "{f}", "--epochs", "0.001"],
                                  ["export", "{f}", "--to", "onnx", "--out", "m.onnx"]])
def test_json_commands(args, fifo, tmp_path):
    f = fifo("fifo.json")
    refused(cli(tmp_path, *[a.format(f=f.name) for a in args]), "fifo.json")


@pytest.mark.parametrize("name", ["fifo.npz", "fifo.csv", "fifo.csv.gz", "fifo"])
def test_data_files(name, fifo, tmp_path):
    fifo(name)
    refused(cli(tmp_path, "data", name), name)


def test_an_idx_file_in_a_folder(fifo, tmp_path):
    folder = tmp_path / "idx"
    df.write_idx_folder(folder, df.images(30))
    target = next(folder.glob("train-images*"))
    target.unlink()
    os.mkfifo(target)
    r = cli(tmp_path, "data", "idx")  # the pipe is not taken for an IDX file: no images file
    assert r.returncode == 2 and "found no IDX images file" in r.stderr, r.stderr


def test_an_experiment_whose_data_is_a_fifo(fifo, tmp_path):
    fifo("fifo.npz")
    exp = json.loads(PRESET.read_text())
    exp["data"] = "fifo.npz"
    (tmp_path / "exp.json").write_text(json.dumps(exp))
    refused(cli(tmp_path, "train", "--spec", "exp.json", "--epochs", "0.001"), "fifo.npz")


def test_a_fifo_png_in_a_class_folder(tmp_path):
    """One FIFO among readable images: skipped and named like any unreadable image (never
    waited on); a class of FIFOs only is an error that names one."""
    root = df.write_folder(tmp_path / "shapes", df.images(30))
    some = sorted(root.rglob("*.png"))[0]
    os.mkfifo(some.with_name("fifo.png"))
    r = cli(tmp_path, "data", root)
    assert r.returncode == 0, r.stderr
    for png in root.rglob("*.png"):
        if png.name != "fifo.png":
            png.unlink()
            os.mkfifo(png)
    r = cli(tmp_path, "data", root)
    assert r.returncode == 2 and "pipe" in r.stderr and ".png" in r.stderr, r.stderr


def test_a_checkpoint_that_is_a_fifo(fifo):
    from engine.runs import checkpoint
    e = in_thread(checkpoint.read, fifo("checkpoint-000001.npz"))
    assert isinstance(e, checkpoint.CheckpointError) and "pipe" in str(e), e


def test_a_session_json_that_is_a_fifo(tmp_path):
    from engine.runs.session_folder import INFO, Session, SessionError
    (tmp_path / "s").mkdir()
    os.mkfifo(tmp_path / "s" / INFO)
    e = in_thread(Session.open, tmp_path / "s")
    assert isinstance(e, SessionError) and INFO in str(e) and "pipe" in str(e), e


def test_a_run_record_that_is_a_fifo(tmp_path):
    from engine.runs import records as runs
    path = runs._path(tmp_path, "r1")
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    e = in_thread(runs.load_run, tmp_path, "r1")
    assert isinstance(e, runs.RunError) and "pipe" in str(e), e


def test_the_loader_in_process(fifo):
    from engine.data import formats as datasets
    e = in_thread(datasets.load, fifo("fifo.npz"))
    assert isinstance(e, EngineError) and "pipe" in str(e), e


def test_a_device_is_refused_by_every_opener(tmp_path):
    from engine.core.io import open_regular, read_bytes
    for opener in (open_regular, read_bytes):
        e = in_thread(opener, "/dev/zero")
        assert isinstance(e, EngineError) and "character device" in str(e), e
    assert in_thread(read_bytes, tmp_path) is not None
    (tmp_path / "a").write_bytes(b"abc")
    with open_regular(tmp_path / "a") as f:  # a regular file reads as usual (blocking again)
        assert f.read() == b"abc" and not (os.get_blocking(f.fileno()) is False)
    np.testing.assert_array_equal(np.frombuffer(read_bytes(tmp_path / "a"), np.uint8), [97, 98, 99])

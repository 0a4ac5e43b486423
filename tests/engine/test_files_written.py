"""Every writer writes regular files only: a device, a FIFO or a socket at the destination is
refused in one line before any work (and stays what it was); a symlink is written through to
its target; temporary files are the writer's own and none is left behind."""
import json
import os
import socket
import stat

import pytest

from engine.cli import main
from engine.core.io import atomic_write, atomic_write_many, atomic_write_text

DEMO = "resources/snapshots/convnetjs-demo-trained.json"


def make_char_device(path):
    """A character device (the same as /dev/null) at ``path``; skips when not permitted."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as e:
        pytest.skip(f"cannot make a device here: {e}")
    return path


def make_socket(path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    return s


@pytest.fixture
def specials(tmp_path):
    """``{kind: path}``: a FIFO, a socket and (where permitted) a character device."""
    out = {"fifo": tmp_path / "fifo.x"}
    os.mkfifo(out["fifo"])
    sock = make_socket(tmp_path / "sock.x")
    out["socket"] = tmp_path / "sock.x"
    try:
        os.mknod(tmp_path / "dev.x", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        out["device"] = tmp_path / "dev.x"
    except OSError:
        pass
    yield out
    sock.close()


KINDS = {"fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "device": stat.S_ISCHR}


def still_what_it_was(path, kind):
    return KINDS[kind](os.lstat(path).st_mode)


def no_temporary_files(folder):
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_write_function_refuses_what_is_not_a_regular_file(kind, specials, tmp_path):
    if kind not in specials:
        pytest.skip("no device here")
    path = specials[kind]
    called = []
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write(path, lambda f: called.append(1))
    assert not called and still_what_it_was(path, kind) and no_temporary_files(tmp_path)
    with pytest.raises(OSError, match="not a regular file"):  # nothing of a set is written
        atomic_write_many({tmp_path / "a.json": "{}", path: "{}"})
    assert not (tmp_path / "a.json").exists() and still_what_it_was(path, kind)


def test_two_writers_have_temporary_files_of_their_own(tmp_path, monkeypatch):
    """While one writer stages its file, another writes the same path: neither loses its
    temporary file, the last rename wins, nothing is left behind."""
    path = tmp_path / "a.json"

    def first(f):
        f.write(b"first")
        atomic_write_text(path, "second")  # another writer, in the middle of the first's write
        assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) == 1
    atomic_write(path, first)
    assert path.read_text() == "first" and no_temporary_files(tmp_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_onnx_export_refuses_a_special_file_before_any_work(kind, specials, tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    if kind not in specials:
        pytest.skip("no device here")
    path = specials[kind]
    assert main(["export", DEMO, "--to", "onnx", "--out", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a regular file" in err and str(path) in err
    assert still_what_it_was(path, kind)
    assert not os.path.lexists(str(path.with_name(path.stem + ".parity.json")))
    assert no_temporary_files(tmp_path)


def test_onnx_export_to_dev_null_is_refused_and_dev_null_stays_a_device(capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    assert main(["export", DEMO, "--to", "onnx", "--out", "/dev/null"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not os.path.exists("/dev/null.parity.json")


def test_onnx_export_writes_through_a_symlink(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    target = tmp_path / "real.onnx"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.onnx"
    link.symlink_to(target)
    assert main(["export", DEMO, "--to", "onnx", "--out", str(link), "--examples", "50"]) == 0
    assert link.is_symlink() and target.stat().st_size > 1000
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert json.loads((tmp_path / "link.parity.json").read_text())["passed"]
    assert no_temporary_files(tmp_path)


def test_pytorch_export_refuses_a_fifo_inside_its_folder(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "model.py")
    assert main(["export", DEMO, "--to", "pytorch", "--out", str(out), "--no-data"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(out / "model.py").st_mode)
    assert sorted(p.name for p in out.iterdir()) == ["model.py"] and no_temporary_files(tmp_path)


def test_pytorch_export_writes_through_a_symlink_in_its_folder(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "mine.md"
    elsewhere.write_text("old")
    (out / "README.md").symlink_to(elsewhere)
    assert main(["export", DEMO, "--to", "pytorch", "--out", str(out), "--no-data", "--examples", "50"]) == 0
    assert (out / "README.md").is_symlink() and elsewhere.read_text().startswith("# ")
    assert (out / "model.py").is_file() and no_temporary_files(tmp_path) and no_temporary_files(out)


def test_train_out_and_save_experiment_refuse_a_fifo_before_training(tmp_path, capsys):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for flag in ("--out", "--save-experiment"):
        assert main(["train", "--preset", "convnetjs-demo", "--epochs", "0.001", flag, str(fifo)]) == 2
        assert "not a regular file" in capsys.readouterr().err
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _writers(tmp_path):
    from engine import Net
    from engine.runs import records as runs
    from engine.runs.experiment import preset, save_experiment
    from engine.runs.snapshots import save_snapshot
    exp = preset("convnetjs-demo")
    net = Net.from_json(json.loads(open(DEMO).read()))
    return {
        "snapshot": lambda p: save_snapshot(net, p),
        "experiment": lambda p: exp.save(p),
        "experiment with weights": lambda p: save_experiment(exp, p, net),
        "runs csv": lambda p: runs.export_csv([], p),
    }


@pytest.mark.parametrize("writer", ["snapshot", "experiment", "experiment with weights", "runs csv"])
def test_the_engines_writers_refuse_a_fifo_and_write_through_a_symlink(writer, tmp_path):
    write = _writers(tmp_path)[writer]
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="pipe"):
        write(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write(link)
    assert link.is_symlink() and target.read_text() != "old" and no_temporary_files(tmp_path)

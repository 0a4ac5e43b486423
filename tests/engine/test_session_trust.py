"""Session folders a user (or a fault) may have changed: every field of session.json, the
checkpoint and the run records is checked before use (one-line errors, never a traceback,
never a path outside the folder); a save that fails keeps the new training (issue #20)."""
import errno
import json
import pathlib
import shutil

import numpy as np
import pytest

from engine.cli import SAVE_FAILED, main
from engine.core import io as engine_io
from engine.runs import checkpoint
from engine.runs.experiment import preset
from engine.runs.records import RunError, list_runs, load_run
from engine.runs.run import make_run
from engine.runs.session_folder import Session, SessionError
from engine.runs.snapshots import load_snapshot
from tests.engine.dataset_files import images


def tiny_experiment(**changes):
    exp = preset("convnetjs-demo")
    return exp.replace(layer_defs=TINY, augment=dict(exp.augment, crop=None, shift=0, flip=False),
                       **changes)


TINY = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
        {"type": "conv", "sx": 3, "filters": 3, "stride": 1, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 3}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An experiment of a tiny net on 600 8x8 images (an epoch in a fraction of a second),
    and a session that trained half an epoch of it: ``(experiment file, data, session)``."""
    root = tmp_path_factory.mktemp("tiny")
    x, y = images(700, classes=3)
    data = root / "tiny.npz"
    np.savez(data, x_train=x[:600], y_train=y[:600], x_test=x[600:], y_test=y[600:])
    exp = tiny_experiment(name="tiny", validation=100, seed=3, epochs=1, data=str(data))
    exp.save(root / "tiny.json")
    session = root / "session"
    assert main(["train", "--quiet", "--spec", str(root / "tiny.json"), "--epochs", "0.5",
                 "--session", str(session)]) == 0
    return root / "tiny.json", data, session


@pytest.fixture
def session(tiny, tmp_path):
    """A copy of the trained session, to damage."""
    path = tmp_path / "dual"
    shutil.copytree(tiny[2], path)
    return path


def edit_info(path, **changes):
    info = json.loads((path / "session.json").read_text())
    info.update(changes)
    (path / "session.json").write_text(json.dumps(info))


def one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def files_of(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and p.name != ".session.lock"}


# -- session.json ----------------------------------------------------------------------------
@pytest.mark.parametrize("changes, words", [
    ({"version": "1"}, "version"),
    ({"version": 2.5}, "version"),
    ({"checkpoint": [1, 2]}, "checkpoint"),
    ({"checkpoint": 5}, "checkpoint"),
    ({"checkpoint": "../base/checkpoint-000001.npz"}, "checkpoint"),
    ({"checkpoint": "/etc/passwd"}, "checkpoint"),
    ({"generation": -5}, "generation"),
    ({"generation": 10 ** 400}, "generation"),
    ({"generation": "abc"}, "generation"),
    ({"generation": True}, "generation"),
    ({"best": "x"}, "best"),
    ({"best": {"validation_accuracy": "high"}}, "best.validation_accuracy"),
    ({"best": {"file": "../../x.json"}}, "best.file"),
    ({"run": "../../etc/x"}, "run"),
    ({"examples_seen": -1}, "examples_seen"),
    ({"experiment": [1]}, "experiment"),
])
def test_a_wrong_field_in_session_json_is_a_one_line_error_and_nothing_trains(session, capsys, changes,
                                                                              words):
    edit_info(session, **changes)
    before = files_of(session)
    with pytest.raises(SessionError, match=words.replace(".", r"\.")):
        Session.open(session)
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.2"]) == 2
    one_line_error(capsys, words)
    assert files_of(session) == before  # nothing written, nothing lost


def test_runs_being_a_file_is_said_before_training(session, capsys):
    shutil.rmtree(session / "runs")
    (session / "runs").write_text("not a folder")
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.2"]) == 2
    one_line_error(capsys, "runs", "not a folder")


def test_a_checkpoint_path_never_leaves_the_folder(session, tmp_path):
    """A checkpoint named by session.json outside the folder is never read."""
    outside = tmp_path / "base"
    outside.mkdir()
    name = Session.open(session).info["checkpoint"]
    shutil.copy(session / name, outside / "checkpoint-000001.npz")
    edit_info(session, checkpoint="../base/checkpoint-000001.npz")
    read = []
    real = checkpoint.read
    checkpoint.read = lambda p: read.append(p) or real(p)
    try:
        with pytest.raises(SessionError):
            Session.open(session).checkpoint()
    finally:
        checkpoint.read = real
    assert read == []


# -- the checkpoint --------------------------------------------------------------------------
def rewrite_checkpoint(session, change):
    name = json.loads((session / "session.json").read_text())["checkpoint"]
    with np.load(session / name) as z:
        arrays = {k: z[k] for k in z.files}
    info = json.loads(bytes(arrays["state.json"]).decode())
    change(info, arrays)
    arrays["state.json"] = np.frombuffer(json.dumps(info).encode(), np.uint8)
    np.savez(session / name, **arrays)


@pytest.mark.parametrize("change, words", [
    (lambda i, a: a.__setitem__("run/order", a["run/order"] + 10_000), "run/order"),
    (lambda i, a: a.__setitem__("run/order", -a["run/order"] - 1), "run/order"),
    (lambda i, a: a.__setitem__("run/order", a["run/order"][:-7]), "run/order holds"),
    (lambda i, a: a.__setitem__("run/order", a["run/order"].astype(np.float32)), "run/order"),
    (lambda i, a: a.__setitem__("net/0", np.full_like(a["net/0"], np.nan)), "net/0"),
    (lambda i, a: a.__setitem__("net/0", a["net/0"].astype(np.int64)), "net/0"),
    (lambda i, a: a.__setitem__("../../x", a["net/0"]), "not a checkpoint's"),
    (lambda i, a: i["run"].__setitem__("position", 10 ** 9), "run.position"),
    (lambda i, a: i["run"].__setitem__("examples_seen", "many"), "run.examples_seen"),
    (lambda i, a: i["run"].__setitem__("eval_every", 0), "run.eval_every"),
    (lambda i, a: i["run"]["watch"].__setitem__("best_loss", "x"), "run.watch.best_loss"),
    (lambda i, a: i["run"]["watch"].__setitem__("pool", [1]), "run.watch.pool"),
    (lambda i, a: i["trainer"].__setitem__("k", -1), "trainer.k"),
    (lambda i, a: i.__setitem__("dtype", "object"), "dtype"),
    (lambda i, a: i["net_rng"].__setitem__("bit_generator", "seed"), "bit generator"),
    (lambda i, a: i["extra"].__setitem__("run", "../../../x"), "extra.run"),
    (lambda i, a: i["trainer"]["options"].__setitem__("net", 5), "unknown trainer option"),
])
def test_a_damaged_checkpoint_is_a_one_line_error(session, capsys, change, words):
    """Before: an out-of-range run/order gave IndexError, a truncated one "trained on 540
    images, this one has 540: not the same"."""
    rewrite_checkpoint(session, change)
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.2"]) == 2
    err = one_line_error(capsys, words)
    assert "not the same" not in err


def test_the_app_path_applying_a_damaged_checkpoint_is_a_checkpoint_error(session, tiny):
    """``checkpoint.apply`` (the app restores through it) checks what it is given, too."""
    rewrite_checkpoint(session, lambda i, a: a.__setitem__("run/order", a["run/order"] + 10_000))
    name = json.loads((session / "session.json").read_text())["checkpoint"]
    with np.load(session / name) as z:
        arrays = {k: z[k] for k in z.files if k != "state.json"}
        info = json.loads(bytes(z["state.json"]).decode())
    ck = {"info": info, "arrays": arrays}
    from engine.data.formats import load
    exp = checkpoint.experiment_of(ck)
    net = exp.build_net()
    trainer = exp.build_trainer(net)
    run = make_run(exp, net, trainer, load(str(tiny[1])))
    before = [a.copy() for a in net.state_arrays()]
    with pytest.raises(checkpoint.CheckpointError, match="run/order"):
        checkpoint.apply(ck, net, trainer, run)
    for a, b in zip(before, net.state_arrays()):  # nothing half applied
        np.testing.assert_array_equal(a, b)


# -- run records -----------------------------------------------------------------------------
@pytest.mark.parametrize("changes, words", [
    ({"id": "../../x"}, "id"),
    ({"id": "run-0099"}, "not its file's name"),
    ({"curves": "x"}, "curves"),
    ({"curves": {"progress": {"examples_seen": [1, 2], "seconds": [1]}}}, "one length"),
    ({"curves": {"eval": {"examples_seen": ["a"], "seconds": [1]}}}, "numbers"),
    ({"segments": [{"examples_from": 5, "examples_to": 2, "seconds": 1}]}, "examples_to"),
    ({"changes": [{"examples_seen": "x", "setting": "a", "from": 1, "to": 2}]}, "examples_seen"),
    ({"metrics": {"test_accuracy": "great"}}, "metrics.test_accuracy"),
    ({"wall_seconds": -3}, "wall_seconds"),
    ({"name": 5}, "name"),
    ({"process": {"pid": "me"}}, "process.pid"),
])
def test_a_wrong_field_in_a_run_record_is_a_run_error(session, capsys, changes, words):
    path = session / "runs" / "run-0001.json"
    rec = json.loads(path.read_text())
    rec.update(changes)
    path.write_text(json.dumps(rec))
    with pytest.raises(RunError, match=words):
        load_run(session, "run-0001")
    assert list_runs(session) == []  # the table skips it
    assert main(["runs", str(session)]) == 0
    # a resume goes on with the run all the same, in a new record; the damaged one is kept
    damaged = path.read_bytes()
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.1"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert path.read_bytes() == damaged
    assert [r["id"] for r in list_runs(session)] == ["run-0002"]


# -- a save that fails -----------------------------------------------------------------------
def failing_in(folder, error):
    """``tempfile.mkstemp`` that raises ``error`` for a temporary file in ``folder`` (or
    below): every save there fails as it starts (each writer makes its temporary file
    first), saves elsewhere work."""
    import tempfile
    folder = pathlib.Path(folder).resolve()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None:
            d = pathlib.Path(dir).resolve()
            if d == folder or folder in d.parents:
                raise error
        return real(*args, dir=dir, **kwargs)

    return mkstemp


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    PermissionError(errno.EACCES, "Permission denied", "session.json"),
    OSError(errno.ENAMETOOLONG, "File name too long", "checkpoint-9999.npz"),
], ids=["full disk", "read-only", "name too long"])
def test_a_failed_save_writes_the_run_elsewhere_and_says_where(session, tmp_path, capsys, monkeypatch,
                                                               error):
    """Before: exit 2, "[Errno 28] No space left on device" naming no file, the training
    gone (and an orphan checkpoint left)."""
    before = files_of(session)
    seen = Session.open(session).checkpoint()["info"]["run"]["examples_seen"]
    monkeypatch.setattr("tempfile.mkstemp", failing_in(session, error))
    out = tmp_path / "out" / "w.json"
    out.parent.mkdir()
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.5",
                 "--out", str(out)]) == SAVE_FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [ln for ln in err.splitlines() if ln.startswith("error: could not save the session")]
    assert len(line) == 1 and str(session) in line[0], err
    where = pathlib.Path(line[0].split("saved in ", 1)[1].split(" instead", 1)[0])
    assert where.parent == out.parent and where.name.startswith("dual-rescued-")
    monkeypatch.undo()
    # the session is as it was (no orphan checkpoint), the new training in the named folder
    assert files_of(session) == before
    rescued = Session.open(where)
    assert rescued.checkpoint()["info"]["run"]["examples_seen"] == seen + 250
    (record,) = rescued.runs()
    assert record["metrics"]["examples_seen"] == seen + 250 and record["status"] == "done"
    assert load_snapshot(out)[0] is not None  # --out written as asked
    assert main(["train", "--quiet", "--resume", str(where), "--epochs", "0.1"]) == 0


def test_an_out_that_cannot_be_written_after_training_goes_to_a_named_file(session, tmp_path, capsys,
                                                                           monkeypatch):
    out = tmp_path / "w.json"
    import engine.cli.commands as cli

    def refuse(net, path, **kw):
        if pathlib.Path(path) == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(net, path, **kw)

    real = cli.save_snapshot
    monkeypatch.setattr(cli, "save_snapshot", refuse)
    assert main(["train", "--quiet", "--resume", str(session), "--epochs", "0.2",
                 "--out", str(out)]) == SAVE_FAILED
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith(f"error: cannot write {out}")]
    assert len(line) == 1, err
    fallback = pathlib.Path(line[0].rsplit("the weights are in ", 1)[1])
    try:
        assert fallback.name.startswith("w-") and load_snapshot(fallback)[0] is not None
    finally:
        fallback.unlink()


def test_a_failed_commit_leaves_no_orphan_checkpoint(tiny, tmp_path, monkeypatch):
    from engine.data.formats import load
    data = load(str(tiny[1]))
    exp = tiny_experiment(validation=100, seed=1, epochs=0.3)
    s = Session.create(tmp_path / "s", exp, lock=True)
    tr = s.start(data, test=False, eval_examples=None)
    gen = tr.reports()
    next(gen)
    tr.save()
    kept = sorted(p.name for p in (tmp_path / "s").iterdir())
    real = engine_io.atomic_write_text

    def info_fails(path, text):
        if pathlib.Path(path).name == "session.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(engine_io, "atomic_write_text", info_fails)
    monkeypatch.setattr("engine.runs.session_folder.atomic_write_text", info_fails)
    next(gen)
    with pytest.raises(OSError):
        tr.save()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == kept
    assert s.info["generation"] == 1  # the next save is generation 2 again, not 3

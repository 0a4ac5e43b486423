"""The session's ``teaching`` (workbench.teaching): examples, their file, a teach's rules (issue #25)."""
import numpy as np
import pytest

from engine.cli.teach_bench import SNAPSHOT
from engine.core.errors import DataError
from engine.data import drawings
from engine.runs.snapshots import load_trained
from workbench.state.teaching import EXAMPLES_FILE, read_examples, write_examples


@pytest.fixture
def session(qtbot, dataset):
    from workbench.state.session import Session
    s = Session(dataset)
    net, exp, _ = load_trained(SNAPSHOT)
    s.load_snapshot(net, "demo", exp)
    s.teaching.teach_steps = 5
    s.teaching.test_examples = 500  # the tests look at what a teach does, not at its test accuracy
    yield s
    s.shutdown()


def add_ones(t, n=3):
    for d in drawings.digits("one-serifs", n, seed=4):
        t.add(d, 1)


def test_a_stopped_teach_keeps_what_it_learnt_and_undo_puts_the_weights_back(session, qtbot):
    t = session.teaching
    add_ones(t)
    t.teach_steps, t.teach_seconds = None, 600.0
    before = session.weights.params()
    with qtbot.waitSignal(t.taught, timeout=120000) as got:
        with qtbot.waitSignal(t.report, timeout=120000):  # a point of the live curve: it learns
            assert t.teach()
        t.stop()
    assert got.args[0]["stopped"] and got.args[0]["steps"] > 0 and "stopped early" in got.args[0]["summary"]
    assert not all(np.array_equal(a, b) for a, b in zip(session.weights.params(), before))
    assert session.weights_unsaved  # taught weights are in no file: closing asks about them
    t.undo_stack.undo()
    for a, b in zip(session.weights.params(), before):
        np.testing.assert_array_equal(a, b)
    t.undo_stack.redo()
    assert not all(np.array_equal(a, b) for a, b in zip(session.weights.params(), before))


def test_a_teach_is_not_applied_to_a_network_that_changed_meanwhile(session, qtbot):
    t = session.teaching
    add_ones(t)
    with qtbot.waitSignal(t.failed, timeout=120000) as got:
        assert t.teach()
        session.reset_weights()  # other weights while it taught (its result arrives after this)
    assert "not applied" in got.args[0]
    assert session.untrained and t.undo_stack.count() == 3  # the three adds, no teach


def test_a_teach_waits_for_examples_and_for_training_to_stop(session, qtbot):
    t = session.teaching
    with qtbot.waitSignal(t.failed) as got:
        assert not t.teach()
    assert "Add a few examples" in got.args[0]
    add_ones(t, 1)
    session.training.train(paused=True)
    try:
        assert "Training is running" in t.why_not()
    finally:
        session.training.stop(wait=True)
    assert t.why_not() is None


def test_labels_outside_the_classes_are_refused_and_nothing_is_added(session):
    t = session.teaching
    with pytest.raises(DataError, match="not one of the 10 classes"):
        t.add(np.zeros((28, 28), np.float32), 10)
    with pytest.raises(DataError, match="28x28"):
        t.add(np.zeros((20, 20), np.float32), 1)
    assert len(t) == 0 and t.undo_stack.count() == 0


def test_examples_are_kept_at_every_change_and_a_save_failure_is_said(session, tmp_path, qtbot):
    t = session.teaching
    t.use_folder(tmp_path)
    add_ones(t, 2)
    images, labels, names = read_examples(tmp_path / EXAMPLES_FILE)
    assert labels.tolist() == [1, 1] and names is None and images.shape == (2, 28, 28)
    t.new_classes(["a", "b"])
    assert read_examples(tmp_path / EXAMPLES_FILE)[2] == ["a", "b"]
    (tmp_path / EXAMPLES_FILE).unlink()
    (tmp_path / EXAMPLES_FILE).mkdir()  # a folder where the file goes: it cannot be written
    with qtbot.waitSignal(t.saveFailed) as got:
        t.add(np.ones((28, 28), np.float32) * 0.5, 0)
    assert "could not be saved" in got.args[0]
    assert len(t) == 1  # the example is kept in memory all the same


@pytest.mark.parametrize("bad", ["text", "pickle", "shape", "labels", "names"])
def test_a_damaged_or_hostile_examples_file_is_refused_with_a_sentence(tmp_path, bad):
    path = tmp_path / EXAMPLES_FILE
    ok = dict(images=np.zeros((2, 28, 28), np.uint8), labels=np.array([0, 1]), class_names=np.array(["a", "b"]),
              own=np.array(True))
    if bad == "text":
        path.write_text("not a zip")
    else:
        if bad == "pickle":
            ok["class_names"] = np.array([{"x": 1}, None], dtype=object)
        elif bad == "shape":
            ok["images"] = np.zeros((2, 5, 5), np.uint8)
        elif bad == "labels":
            ok["labels"] = np.array([0, 7])
        elif bad == "names":
            ok["class_names"] = np.array(["a", "../../etc"])
        with open(path, "wb") as f:
            np.savez(f, **ok)
    with pytest.raises(DataError):
        read_examples(path)


def test_the_examples_file_round_trips(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28).astype(np.uint8)
    write_examples(tmp_path / EXAMPLES_FILE, images, [2, 0, 1], ["x", "y", "z"])
    got = read_examples(tmp_path / EXAMPLES_FILE)
    np.testing.assert_array_equal(got[0], images)
    assert got[1].tolist() == [2, 0, 1] and got[2] == ["x", "y", "z"]


def test_a_teach_is_not_applied_to_a_network_edited_meanwhile(session, qtbot):
    t = session.teaching
    add_ones(t)
    with qtbot.waitSignal(t.failed, timeout=120000) as got:
        assert t.teach()
        layers = [dict(d) for d in session.doc.layers]
        layers[1]["filters"] = 0  # an invalid edit: the live network stays as it was
        session.doc.replace_layers(layers)
    assert "not applied" in got.args[0] and t.undo_stack.count() == 3

"""Trained weights that are in no file are never replaced without asking (issue #11): Open,
New, a preset, "Use the trained demo network" and closing all ask first."""
import json

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from engine.runs.snapshots import load_trained

from .conftest import TINY
from .test_open_and_save import fingerprint


class Questions(list):
    """The questions asked (dicts of title, text, buttons); ``answers`` are given in turn
    (then Discard, so that closing the window at the end of a test does not wait)."""

    answers = ()

    def ask(self, parent, title, text, buttons=None, default=None):
        self.append({"title": title, "text": text, "buttons": buttons})
        if self.answers:
            answer, *rest = self.answers
            self.answers = rest
            return answer
        return QMessageBox.Discard


@pytest.fixture
def asked(monkeypatch):
    questions = Questions()
    monkeypatch.setattr(QMessageBox, "question", questions.ask)
    return questions


@pytest.fixture
def trained_unchanged(tiny, qtbot):
    """Weights trained for three batches; the layers and settings as opened."""
    w, s = tiny, tiny.session
    assert s.training.step(3)
    qtbot.waitUntil(lambda: s.examples_seen == 60, timeout=10000)
    s.training.stop()
    assert not s.modified and s.weights_unsaved
    w.ask_to_save = True
    return w


COMMANDS = {
    "trained demo": lambda w, tmp: w.files.open_trained_demo(),
    "open": lambda w, tmp: w.files.open_path(str(tmp)),
    "new": lambda w, tmp: w.files.new_network(),
    "preset": lambda w, tmp: w.files.open_preset("mlp"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_replacing_trained_weights_asks_first(trained_unchanged, asked, tmp_path, command):
    w = trained_unchanged
    other = tmp_path / "other.json"
    other.write_text(json.dumps(TINY[:1] + [dict(TINY[1], filters=6)] + TINY[2:]))
    before = fingerprint(w)
    asked.answers = [QMessageBox.Cancel]
    assert not COMMANDS[command](w, other)
    assert len(asked) == 1 and asked[0]["title"] == "Save trained weights?"
    assert "60 examples" in asked[0]["text"] and asked[0]["buttons"] & QMessageBox.Save
    assert fingerprint(w) == before  # Cancel: nothing changed
    asked.answers = [QMessageBox.Discard]
    assert COMMANDS[command](w, other)
    assert not w.session.weights_unsaved and fingerprint(w) != before


def test_closing_with_unchanged_layers_asks_about_the_weights_and_saves_them(trained_unchanged, asked, tmp_path,
                                                                              monkeypatch):
    w, s = trained_unchanged, trained_unchanged.session
    trained = s.weights.params()
    path = tmp_path / "kept-weights.json"
    monkeypatch.setattr("workbench.window.files.QFileDialog.getSaveFileName", lambda *a, **k: (str(path), ""))
    asked.answers = [QMessageBox.Cancel, QMessageBox.Save]
    assert not w.close() and w.isVisible()  # Cancel: the window stays
    assert w.close()  # Save: the snapshot is written, then the window closes
    assert [q["title"] for q in asked] == ["Save trained weights?"] * 2
    net, exp, meta = load_trained(path)
    assert meta["examples_seen"] == 60 and exp.layer_defs == TINY
    for a, pg in zip(trained, net.params_and_grads()):
        np.testing.assert_array_equal(a, pg["params"])


def test_saved_or_untouched_weights_are_not_asked_about(trained_unchanged, asked, tmp_path):
    w, s = trained_unchanged, trained_unchanged.session
    assert w.files.save_weights(str(tmp_path / "w.json"))
    assert not s.weights_unsaved
    assert w.files.open_trained_demo()  # saved: nothing to ask
    assert w.files.open_preset("mlp")  # the demo's weights are in their file
    assert not asked


def test_weights_set_aside_by_an_edit_are_asked_about_too(trained_unchanged, asked):
    w, s = trained_unchanged, trained_unchanged.session
    w.doc.select(1)
    w.build_tab.properties.editors["filters"][1].setValue(5)  # a new structure: the trained weights set aside
    assert s.untrained and s.weights_unsaved
    asked.answers = [QMessageBox.Discard]
    assert w.files.open_preset("mlp")
    (question,) = asked  # one question, about the weights and the edit
    assert question["title"] == "Save your work?"
    assert "set aside" in question["text"] and "changes that are not saved" in question["text"]
    assert not s.weights_unsaved


def test_quitting_with_unsaved_weights_and_changes_asks_once(trained_unchanged, asked, tmp_path, monkeypatch):
    """Trained weights in no file and changed settings: one question about both (it asked
    "Save trained weights?" and then "Save changes?"); Save writes a snapshot that has both."""
    w, s = trained_unchanged, trained_unchanged.session
    s.set_trainer_option("momentum", 0.5)
    assert s.modified and s.weights_unsaved
    asked.answers = [QMessageBox.Cancel]
    assert not w.close() and w.isVisible()
    assert len(asked) == 1 and asked[0]["title"] == "Save your work?"
    assert "60 examples" in asked[0]["text"] and "changes to the experiment" in asked[0]["text"]
    asked.answers = [QMessageBox.Discard]
    assert w.close()
    assert len(asked) == 2  # one question for each try to close


def test_saving_unsaved_weights_and_changes_from_the_one_question(trained_unchanged, asked, tmp_path, monkeypatch):
    w, s = trained_unchanged, trained_unchanged.session
    s.set_trainer_option("momentum", 0.5)
    path = tmp_path / "both.json"
    monkeypatch.setattr("workbench.window.files.QFileDialog.getSaveFileName", lambda *a, **k: (str(path), ""))
    asked.answers = [QMessageBox.Save]
    assert w.close()
    assert len(asked) == 1
    _, exp, meta = load_trained(path)
    assert meta["examples_seen"] == 60 and exp.trainer["momentum"] == 0.5


def test_a_running_run_is_asked_about_and_stopped_before_it_is_saved(tiny, qtbot, asked, tmp_path, monkeypatch):
    w, s = tiny, tiny.session
    w.ask_to_save = True
    assert s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen > 0, timeout=10000)
    path = tmp_path / "running.json"
    monkeypatch.setattr("workbench.window.files.QFileDialog.getSaveFileName", lambda *a, **k: (str(path), ""))
    asked.answers = [QMessageBox.Save]
    assert w.close()
    assert "is training" in asked[0]["text"] and len(asked) == 1  # no second "Stop training?"
    assert not s.training.running
    _, _, meta = load_trained(path)
    assert meta["examples_seen"] == s.examples_seen  # the weights as the run stopped


def test_an_experiment_with_the_same_layers_keeps_the_weights_and_does_not_ask(trained_unchanged, asked, tmp_path):
    w, s = trained_unchanged, trained_unchanged.session
    version = s.weights.version
    same = tmp_path / "same.json"
    same.write_text(json.dumps(TINY))
    assert w.files.open_path(str(same))
    assert not asked and s.weights.version == version and s.weights_unsaved


def test_discarded_weights_are_gone_even_when_the_opened_network_is_invalid(trained_unchanged, asked, tmp_path):
    """Discard, then an invalid network opens: the trained weights are not kept to be counted
    in the status bar, asked about again, or saved under the new network's name."""
    w, s = trained_unchanged, trained_unchanged.session
    bad = tmp_path / "badlayer.json"
    bad.write_text(json.dumps(TINY[:1] + [dict(TINY[1], filters=-3)] + TINY[2:]))
    asked.answers = [QMessageBox.Discard]
    assert w.files.open_path(str(bad))
    assert not s.doc.valid and w.doc.name == "badlayer"
    assert s.examples_seen == 0 and not s.trained and not s.weights_unsaved
    assert "60" not in w.status.examples.text()  # the status bar no longer counts them
    n = len(asked)
    assert w.files.new_network() and len(asked) == n  # nothing left to ask about


def test_a_run_pauses_while_the_user_is_asked_and_goes_on_after_cancel(tiny, qtbot, asked, monkeypatch):
    """Nothing trains on behind the question (its count of examples stays true); Cancel
    lets the run go on."""
    w, s = tiny, tiny.session
    w.ask_to_save = True
    assert s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen > 0, timeout=10000)
    during = []
    real = asked.ask

    def ask(*a, **k):
        during.append((s.training.running, s.training.paused))
        return real(*a, **k)

    monkeypatch.setattr(QMessageBox, "question", ask)
    asked.answers = [QMessageBox.Cancel]
    assert not w.files.new_network()
    assert during == [(True, True)]  # paused while asked
    assert s.training.running and not s.training.paused  # Cancel: it goes on
    seen = s.examples_seen
    qtbot.waitUntil(lambda: s.examples_seen > seen, timeout=10000)
    s.training.stop()

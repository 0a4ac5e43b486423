"""The drag-and-drop builder, driven as a user drives it."""
import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

import engine
from engine.runs.presets import list_presets, load_preset
from workbench.state.layer_info import GROUPS


def drop_point(view, row):
    """A point in the upper half of card ``row`` (a drop there inserts before it)."""
    r = view.visualRect(view.model().index(row, 0))
    return QPoint(r.center().x(), r.center().y() - 5)


def below_last(view):
    r = view.visualRect(view.model().index(view.model().rowCount() - 1, 0))
    return QPoint(r.center().x(), r.bottom() + 30)


def drag_and_drop(view, mime, pos, action=Qt.CopyAction):
    """Deliver real drag enter/move/drop events with ``mime`` to the stack's viewport."""
    vp = view.viewport()
    enter = QDragEnterEvent(pos, action, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, action, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, move)
    assert move.isAccepted()
    marker = view.drop_marker
    drop = QDropEvent(QPointF(pos), action, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, drop)
    return marker, drop.isAccepted()


def palette_mime(window, layer_type):
    item = window.build_tab.palette_view.item_for(layer_type)
    return window.build_tab.palette_view.mimeData([item])


def card_texts(window):
    m = window.build_tab.stack.model()
    return [m.data(m.index(i, 0)) for i in range(m.rowCount())]


def test_palette_has_every_engine_layer_with_a_tooltip(window):
    types = window.build_tab.palette_view.layer_types()
    assert sorted(types) == sorted(engine.layers.LAYER_TYPES)
    assert [g for g, _ in GROUPS][0] == "Input"
    for t in types:
        tip = window.build_tab.palette_view.item_for(t).toolTip(0)
        assert len(tip) > 40 and "Drag" in tip


def test_opens_ready_with_the_demo_network(window):
    assert window.doc.name == "ConvNetJS MNIST demo"
    assert card_texts(window)[1] == "conv 5x5, 8 filters, stride 1, pad 2, relu"
    assert window.doc.valid and window.doc.total_params == 5994
    assert "5,994 parameters" in window.build_tab.stack_panel.header.text()
    assert window.train_tab.controls.train_button.isEnabled()


def test_drag_a_tile_into_the_stack(window):
    view = window.build_tab.stack
    before = len(window.doc.layers)
    # drop an fc tile onto the upper half of the last card (the softmax): inserted before it
    marker, ok = drag_and_drop(view, palette_mime(window, "fc"), drop_point(view, before - 1))
    assert ok and marker == before - 1
    assert view.drop_marker is None  # the marker goes away after the drop
    assert [d["type"] for d in window.doc.layers][-2:] == ["fc", "softmax"]
    assert card_texts(window)[-2] == "fc, 64 neurons, relu"
    assert window.doc.rows[-2]["out_depth"] == 64 and window.doc.rows[-2]["params"] == 256 * 64 + 64
    assert window.doc.valid
    assert f"{window.doc.total_params:,} parameters" in window.build_tab.stack_panel.header.text()
    assert window.doc.selected == before - 1


def test_drop_marker_follows_the_drag_and_leaves(window):
    view = window.build_tab.stack
    vp = view.viewport()
    mime = palette_mime(window, "relu")
    for row in (1, 3):
        pos = drop_point(view, row)
        QApplication.sendEvent(vp, QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
        QApplication.sendEvent(vp, QDragMoveEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
        assert view.drop_marker == row
    QApplication.sendEvent(vp, QDragLeaveEvent())
    assert view.drop_marker is None
    assert len(window.doc.layers) == 6


def test_reorder_by_dragging_a_card(window):
    view = window.build_tab.stack
    types = [d["type"] for d in window.doc.layers]
    # drag the first pool (row 2) below the second conv (before row 4)
    marker, ok = drag_and_drop(view, view.mime_for_row(2), drop_point(view, 4), Qt.MoveAction)
    assert ok
    assert [d["type"] for d in window.doc.layers] == ["input", "conv", "conv", "pool", "pool", "softmax"]
    assert window.doc.rows[2]["out_sx"] == 24 and window.doc.rows[3]["out_sx"] == 12
    window.undo_action.trigger()
    assert [d["type"] for d in window.doc.layers] == types


def test_delete_key_duplicate_and_undo_redo(window, qtbot):
    view = window.build_tab.stack
    view.setFocus()
    view.setCurrentIndex(view.model().index(2, 0))
    assert window.doc.selected == 2
    qtbot.keyClick(view.viewport(), Qt.Key_Delete)
    assert [d["type"] for d in window.doc.layers] == ["input", "conv", "conv", "pool", "softmax"]
    assert window.doc.rows[2]["out_sx"] == 24  # the second conv now sees 24x24
    window.doc.select(1)
    qtbot.keyClick(window, Qt.Key_D, Qt.ControlModifier)  # Edit > Duplicate layer
    assert [d["type"] for d in window.doc.layers][:3] == ["input", "conv", "conv"] and len(window.doc.layers) == 6
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert [d["type"] for d in window.doc.layers] == ["input", "conv", "pool", "conv", "pool", "softmax"]
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(window.doc.layers) == 5


def test_property_edit_updates_shapes_and_undoes(window):
    window.doc.select(1)
    editors = window.build_tab.properties.editors
    assert set(editors) >= {"sx", "filters", "stride", "pad", "activation"}
    f, spin = editors["filters"]
    assert spin.value() == 8 and spin.minimum() == 1 and spin.toolTip()
    spin.setValue(12)
    assert window.doc.layers[1]["filters"] == 12
    assert window.doc.rows[1]["out_depth"] == 12 and window.doc.rows[3]["params"] == 16 * (25 * 12 + 1)
    assert card_texts(window)[1] == "conv 5x5, 12 filters, stride 1, pad 2, relu"
    _, stride = editors["stride"]
    stride.setValue(2)
    assert window.doc.rows[1]["out_sx"] == 12
    _, act = editors["activation"]
    act.setCurrentIndex(act.findData("tanh"))
    assert window.doc.layers[1]["activation"] == "tanh" and window.doc.rows[1]["types"] == ["conv", "tanh"]
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert window.doc.layers[1]["stride"] == 1 and window.doc.layers[1]["activation"] == "relu"
    assert editors["stride"][1].value() == 1  # the editor shows the undone value
    window.redo_action.trigger()
    assert window.doc.layers[1]["stride"] == 2


def test_invalid_stack_is_explained_and_disables_training(window):
    view = window.build_tab.stack
    # a softmax dropped in the middle of the stack
    drag_and_drop(view, palette_mime(window, "softmax"), drop_point(view, 2))
    doc = window.doc
    assert not doc.valid and doc.error.layer_index == 2
    assert "a loss layer must be the last layer" in str(doc.error)
    assert "loss layer must be the last" in view.model().data(view.model().index(2, 0), Qt.ToolTipRole)
    assert "must be the last" in window.build_tab.stack_panel.header.text()
    assert not window.train_tab.controls.train_button.isEnabled()
    assert not window.train_action.isEnabled()
    window.undo_action.trigger()
    assert doc.valid and window.train_tab.controls.train_button.isEnabled()
    # a window too large for its input: the pool says so in place
    window.doc.select(4)
    window.build_tab.properties.editors["sx"][1].setValue(5)
    assert doc.valid and doc.rows[4]["out_sx"] == 3  # 5x5 windows, stride 3, on 12x12
    window.build_tab.properties.editors["sx"][1].setValue(13)
    assert "pool 13x13 stride 3: input is 12x12, smaller than the window" in str(doc.error)
    assert window.doc.rows[4] is None and window.doc.rows[3] is not None
    window.build_tab.properties.editors["sx"][1].setValue(3)
    assert doc.valid


def test_code_view_syncs_both_ways(window, qtbot):
    code = window.build_tab.code
    text = code.editor.toPlainText()
    assert json.loads(text) == window.doc.layers
    layers = json.loads(text)
    layers.insert(5, {"type": "fc", "num_neurons": 32, "activation": "sigmoid"})
    code.editor.setPlainText(json.dumps(layers))
    qtbot.waitUntil(lambda: len(window.doc.layers) == 7, timeout=3000)
    assert card_texts(window)[5] == "fc, 32 neurons, sigmoid"
    # broken JSON: an error with its position, the stack untouched
    code.editor.setPlainText('[{"type": "input", "out_sx": 24,,}]')
    assert code.apply_text() is False
    assert "line 1, column 33" in code.status.text() and len(window.doc.layers) == 7
    # parses but the spec is wrong: the stack shows it, the status names the line
    layers[1]["sx"] = 0
    code.editor.setPlainText(json.dumps(layers, indent=1))
    code.apply_text()
    assert window.doc.error.layer_index == 1
    assert "'sx' must be at least 1" in code.status.text() and code.status.text().startswith("line ")
    # a misspelt option is an error naming the closest known one (it was ignored: issue 20)
    layers[1]["sx"] = 5
    layers[1]["activaton"] = layers[1].pop("activation")
    code.editor.setPlainText(json.dumps(layers, indent=1))
    code.apply_text()
    assert window.doc.error.layer_index == 1
    assert "unknown option 'activaton': did you mean 'activation'?" in code.status.text()
    del layers[1]["activaton"]
    # and edits in the stack rewrite the text
    window.undo_action.trigger()
    assert json.loads(code.editor.toPlainText()) == window.doc.layers


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_preset_loads(window, name):
    window.files.open_preset(name)
    p = load_preset(name)
    assert window.doc.valid and window.build_tab.stack.model().rowCount() == len(p["layer_defs"])
    assert window.doc.total_params == sum(s["params"] for s in engine.infer_shapes(p["layer_defs"]))
    assert window.train_tab.controls.batch.value() == p["trainer"]["batch_size"]


@pytest.fixture
def warnings_shown(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


def test_bad_files_give_a_dialog_and_keep_the_network(window, tmp_path, warnings_shown):
    before = list(window.doc.layers)
    (tmp_path / "a.json").write_text("not json {")
    (tmp_path / "b.json").write_text('{"layers": "nope"}')
    (tmp_path / "c.json").write_text('[1, 2, 3]')
    snap = engine.Net(before, seed=0).to_json()
    del snap["layers"][1]["filters"][3]["w"]
    (tmp_path / "d.json").write_text(json.dumps(snap))
    assert not window.files.open_experiment(str(tmp_path / "a.json"))
    assert not window.files.open_experiment(str(tmp_path / "b.json"))
    assert not window.files.open_experiment(str(tmp_path / "c.json"))
    assert not window.files.open_snapshot(str(tmp_path / "d.json"))
    assert not window.files.open_snapshot(str(tmp_path / "a.json"))
    texts = [t for _, t in warnings_shown]
    assert "not valid JSON" in texts[0]
    assert "layer definitions" in texts[1]
    assert "every layer definition must be a JSON object" in texts[2]
    assert "filter 3" in texts[3] and "snapshot layer 1" in texts[3]
    assert "not valid JSON" in texts[4]
    assert window.doc.layers == before


def test_snapshot_weights_kept_until_the_structure_changes(window, tmp_path):
    net = engine.Net(window.doc.layers, seed=3)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(net.to_json()))
    assert window.files.open_snapshot(str(path))
    s = window.session
    loaded = s.weights
    assert not loaded.untrained
    np.testing.assert_array_equal(loaded.layer_params(1)[0], net.layers[1].weights)
    assert [d["type"] for d in window.doc.layers] == ["input", "conv", "relu", "pool", "conv", "relu", "pool", "softmax"]
    window.doc.select(1)
    window.build_tab.properties.editors["filters"][1].setValue(9)
    fresh = s.weights  # the new structure, with fresh weights, for every place
    assert fresh.layers[1]["shape"][2] == 9 and fresh.untrained and s.untrained
    window.undo_action.trigger()
    back = s.weights
    assert back.version > fresh.version and not back.untrained
    for a, b in zip(back.params(), loaded.params()):
        np.testing.assert_array_equal(a, b)


def test_save_and_reopen_spec_and_recent_files(window, tmp_path, settings):
    path = tmp_path / "mine.json"
    window.doc.select(1)
    window.build_tab.properties.editors["filters"][1].setValue(6)
    assert window.files.save_as(str(path))
    saved = json.loads(path.read_text())
    assert saved["layer_defs"] == window.doc.layers and saved["trainer"]["method"] == "adadelta"
    assert not list(tmp_path.glob("*.tmp"))
    window.files.open_preset("mlp")
    assert window.files.open_experiment(str(path))
    assert window.doc.layers[1]["filters"] == 6
    assert str(path.resolve()) in window.files.recent()
    assert [a.text() for a in window.files.recent_menu.actions()][0] == "mine.json"


def test_geometry_and_recent_files_persist(qtbot, dataset, settings, tmp_path):
    from workbench.window.main_window import MainWindow
    w = MainWindow(dataset, settings=settings)
    qtbot.addWidget(w)
    w.resize(1024, 640)
    w.show()
    w.tabs.setCurrentIndex(2)
    w.files.add_recent(str(tmp_path / "x.json"))
    w.close()
    w2 = MainWindow(dataset, settings=settings)
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (1024, 640)
    assert w2.tabs.currentIndex() == 2
    assert w2.files.recent() == [str((tmp_path / "x.json").resolve())]
    w2.close()


def test_double_click_adds_above_the_loss_layer(window, qtbot):
    window.doc.select(-1)
    item = window.build_tab.palette_view.item_for("dropout")
    window.build_tab.palette_view.itemDoubleClicked.emit(item, 0)
    assert [d["type"] for d in window.doc.layers][-2:] == ["dropout", "softmax"]
    window.doc.select(1)
    window.build_tab.palette_view.itemDoubleClicked.emit(window.build_tab.palette_view.item_for("batchnorm"), 0)
    assert window.doc.layers[2]["type"] == "batchnorm"


def test_learning_rate_field_takes_scientific_notation(window, qtbot):
    tp = window.train_tab.controls
    tp.method.setCurrentIndex(tp.method.findData("adam"))
    lr = tp.lr
    assert lr.isEnabled()
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "2e-3")
    lr.interpretText()
    assert lr.value() == 0.002 and window.session.settings.trainer["learning_rate"] == 0.002
    lr.stepBy(1)
    assert lr.value() == 0.004


def test_closing_with_unsaved_changes_asks(window, monkeypatch, tmp_path):
    window.ask_to_save = True
    window.doc.select(1)
    window.build_tab.properties.editors["filters"][1].setValue(5)
    answers = [QMessageBox.Cancel, QMessageBox.Save]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    path = tmp_path / "kept.json"
    monkeypatch.setattr("workbench.window.files.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(path), ""))
    assert not window.close()            # Cancel: the window stays
    assert window.isVisible()
    assert window.close()                # Save: written, then closed
    assert json.loads(path.read_text())["layer_defs"][1]["filters"] == 5

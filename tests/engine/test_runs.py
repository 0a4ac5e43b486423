"""Run records: plain functions over plain data for a runs table."""
import csv
import io
import json

import pytest

from engine.runs.experiment import preset
from engine.runs.records import (
    RunError,
    RunRecorder,
    annotate_run,
    delete_run,
    diff_settings,
    export_csv,
    list_runs,
    load_run,
    new_run_id,
    rename_run,
    runs_csv,
    save_run,
)


def record(session, lr, filters=8, test=0.9):
    exp = preset("convnetjs-demo").replace(
        trainer=dict(preset("convnetjs-demo").trainer, learning_rate=lr))
    exp.layer_defs[1]["filters"] = filters
    rec = RunRecorder(new_run_id(session), exp)
    for seen, loss in ((100, 2.0), (200, float("nan")), (300, 1.0)):
        rec.observe({"tag": "progress", "examples_seen": seen, "epoch": seen / 1000, "cost_loss": loss,
                     "train_accuracy": 0.5, "learning_rate": lr, "examples_per_second": 1000.0})
    rec.observe({"tag": "eval", "examples_seen": 300, "epoch": 0.3, "validation_accuracy": test - 0.01})
    rec.note_change("learning_rate", lr, lr / 2, 250)
    rec.observe({"tag": "done", "examples_seen": 300, "epoch": 0.3})
    rec.finish(test_accuracy=test)
    return save_run(session, rec.record)


def test_records_are_kept_listed_renamed_annotated_and_deleted(tmp_path):
    a = record(tmp_path, 0.01)
    b = record(tmp_path, 0.02, filters=16, test=0.95)
    assert (a["id"], b["id"]) == ("run-0001", "run-0002") and a["name"] == "run 1"
    runs = list_runs(tmp_path)
    assert [r["id"] for r in runs] == ["run-0001", "run-0002"]
    r = runs[0]
    assert r["status"] == "done" and r["metrics"]["test_accuracy"] == 0.9
    assert r["curves"]["progress"]["cost_loss"] == [2.0, None, 1.0]  # NaN kept as a gap, strict JSON
    assert r["changes"] == [{"examples_seen": 250, "setting": "learning_rate", "from": 0.01, "to": 0.005}]
    json.loads((tmp_path / "runs" / "run-0001.json").read_text())
    assert rename_run(tmp_path, "run-0001", " slow one ")["name"] == "slow one"
    assert annotate_run(tmp_path, "run-0001", "too low a rate")["note"] == "too low a rate"
    assert load_run(tmp_path, "run-0001")["name"] == "slow one"
    delete_run(tmp_path, "run-0002")
    assert [r["id"] for r in list_runs(tmp_path)] == ["run-0001"]
    assert new_run_id(tmp_path) == "run-0002"
    for bad in ("run-0009", "../etc/passwd", ".hidden"):
        with pytest.raises(RunError):
            load_run(tmp_path, bad)
    with pytest.raises(RunError, match="some text"):
        rename_run(tmp_path, "run-0001", "  ")


def test_settings_diff_and_csv(tmp_path):
    runs = [record(tmp_path, 0.01), record(tmp_path, 0.02, filters=16, test=0.95)]
    rows = diff_settings(runs, only_different=True)
    # the learning rate each run ended with (the change applied), and the filters
    assert rows == [{"setting": "learning_rate", "values": [0.005, 0.01], "differs": True},
                    {"setting": "layers.1.filters", "values": [8, 16], "differs": True}]
    every = diff_settings(runs)
    assert {"setting": "method", "values": ["adadelta", "adadelta"], "differs": False} in every
    table = list(csv.DictReader(io.StringIO(runs_csv(runs))))
    assert [t["id"] for t in table] == ["run-0001", "run-0002"]
    assert table[1]["test_accuracy"] == "0.95" and table[1]["layers.1.filters"] == "16"
    assert table[0]["learning_rate"] == "0.005" and table[0]["status"] == "done"
    export_csv(runs, tmp_path / "runs.csv")
    assert (tmp_path / "runs.csv").read_text() == runs_csv(runs)


def test_a_resumed_record_drops_what_was_trained_after_the_checkpoint(tmp_path):
    first = record(tmp_path, 0.01)
    rec = RunRecorder(first["id"], preset("convnetjs-demo"), record=first, examples_seen=200)
    r = rec.record
    assert r["curves"]["progress"]["examples_seen"] == [100, 200]
    assert r["curves"]["eval"]["examples_seen"] == [] and r["changes"] == []
    assert r["status"] == "running" and len(r["segments"]) == 2


def test_a_note_or_name_is_never_a_formula_in_the_csv(tmp_path):
    """A run's name or note from a file that starts like a formula (=, +, -, @) is text in
    the CSV (a leading '), so a spreadsheet never runs it; numbers stay numbers."""
    rid = record(tmp_path, 0.01)["id"]
    rename_run(tmp_path, rid, '=HYPERLINK("http://x","y")')
    annotate_run(tmp_path, rid, "@SUM(1+1)")
    table = list(csv.DictReader(io.StringIO(runs_csv(list_runs(tmp_path)))))
    cells = list(table[0].values())
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'@SUM(1+1)" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert float(table[0]["test_accuracy"]) == pytest.approx(0.9)

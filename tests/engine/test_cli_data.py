"""The CLI with your own data: 'data PATH', train/eval --data in every format, and networks that do not fit."""
import json
import subprocess
import sys

import numpy as np
import pytest

from engine.cli import main

from . import dataset_files as files


@pytest.fixture
def rgb_folder(tmp_path):
    train = files.images(90, 12, 12, 3, classes=3, seed=1)
    test = files.images(30, 12, 12, 3, classes=3, seed=2)
    return files.write_folder(tmp_path / "pets", train, test, class_names=["cat", "dog", "owl"])


def test_data_prints_a_json_summary(rgb_folder, capsys):
    assert main(["data", str(rgb_folder)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["name"] == "pets" and s["format"] == "folder" and s["source"] == str(rgb_folder)
    assert s["image_shape"] == [12, 12, 3] and s["channels"] == "RGB"
    assert s["num_classes"] == 3 and s["class_names"] == ["cat", "dog", "owl"]
    assert (s["train"], s["test"]) == (90, 30)
    assert s["train_per_class"] == [30, 30, 30] and s["test_per_class"] == [10, 10, 10]
    assert s["split"] == "given" and s["notes"] == []


def test_data_of_mnist_idx_files_and_a_bad_path(capsys):
    assert main(["data", "resources/datasets/mnist"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["format"] == "idx" and s["image_shape"] == [28, 28, 1] and (s["train"], s["test"]) == (60000, 10000)
    assert main(["data", "/nonexistent/data"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: /nonexistent/data: no such file or folder"


def test_notes_are_printed(tmp_path, capsys):
    x, y = files.images(40, 8, 8, 1)
    files.write_npz(tmp_path / "f.npz", (x.astype(np.float32) / 255, y))
    assert main(["data", str(tmp_path / "f.npz")]) == 0
    captured = capsys.readouterr()
    assert "note: f.npz: float32 pixels in [0, 1] multiplied by 255" in captured.err
    assert json.loads(captured.out)["notes"] == ["f.npz: float32 pixels in [0, 1] multiplied by 255"]


def test_a_network_that_does_not_fit_stops_with_one_line(rgb_folder, capsys):
    assert main(["train", "--data", str(rgb_folder), "--epochs", "0.1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err == ("error: ConvNetJS MNIST demo does not fit pets (12x12 RGB, 3 classes): the input takes "
                   "1 channel (grey) but the images have 3 channels (RGB); the input is 24x24, larger than "
                   "the 12x12 images; the network outputs 10 classes but the data has 3 (add --fit-input "
                   "to adapt the input layer and the class count)")


def test_fit_input_trains_and_eval_reads_the_same_data(rgb_folder, tmp_path, capsys):
    out = tmp_path / "net.json"
    assert main(["train", "--data", str(rgb_folder), "--fit-input", "--preset", "mlp", "--epochs", "2",
                 "--quiet", "--seed", "0", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "adapted the network to the data: input 28x28x1 -> 12x12x3, softmax classes 10 -> 3" in captured.err
    assert "on 72 images of pets (12x12 RGB, 3 classes)" in captured.err
    assert "note: holding out 18 of the 90 training images for validation" in captured.err
    result = json.loads(captured.out)
    assert result["data"] == "pets" and result["test_accuracy"] > 0.9  # the classes differ in brightness
    assert main(["eval", str(out), "--data", str(rgb_folder)]) == 0
    text = capsys.readouterr().out
    assert f"test accuracy {result['test_accuracy']:.4f} (" in text and text.splitlines()[0].endswith("on pets")
    assert "classes: 0 cat, 1 dog, 2 owl" in text
    # a snapshot made for MNIST does not fit these images
    assert main(["eval", "resources/snapshots/convnetjs-demo-trained.json", "--data", str(rgb_folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: resources/snapshots/convnetjs-demo-trained.json does not fit pets")
    assert "the input takes 1 channel (grey) but the images have 3 channels (RGB)" in err


@pytest.mark.parametrize("fmt", ["idx", "npz", "csv"])
def test_train_takes_every_format(fmt, tmp_path, capsys):
    train = files.images(60, 28, 28, 1, classes=10, seed=1)
    test = files.images(20, 28, 28, 1, classes=10, seed=2)
    path = {"idx": lambda: files.write_idx_folder(tmp_path / "idx", train, test, gz=True),
            "npz": lambda: files.write_npz(tmp_path / "d.npz", train, test),
            "csv": lambda: files.write_csv(tmp_path / "d.csv", *train)}[fmt]()
    assert main(["train", "--data", str(path), "--epochs", "0.5", "--quiet", "--seed", "0"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # half an epoch of what is left for training: the CSV is split by the tool (one of each
    # class's six images held out as test) and a fifth of a dataset this small is held out
    # for validation, with a note
    assert result["examples_seen"] == (24 if fmt != "csv" else 20)
    assert "note: holding out" in captured.err
    assert result["data"] == {"idx": "idx", "npz": "d", "csv": "d"}[fmt]


def test_module_entry_point_for_data(rgb_folder):
    proc = subprocess.run([sys.executable, "-m", "engine", "data", str(rgb_folder)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["class_names"] == ["cat", "dog", "owl"]


def test_verbose_says_what_the_engine_does_and_where_an_error_came_from(rgb_folder, tmp_path, capsys):
    assert main(["data", str(rgb_folder)]) == 0
    assert "INFO" not in capsys.readouterr().err  # quiet unless asked
    assert main(["data", str(rgb_folder), "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "INFO engine.data.formats: loaded pets" in err and "90 training and 30 test images" in err
    assert main(["-v", "data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in detect" in err
    assert err.rstrip().splitlines()[-1] == f"error: {tmp_path / 'nowhere'}: no such file or folder"
    assert main(["data", str(tmp_path / "nowhere")]) == 2
    assert "Traceback" not in capsys.readouterr().err  # one line without --verbose

"""ONNX export: every layer type, the presets and the trained demo give the engine's outputs
in onnxruntime; the checker passes; the report is honest; bad input writes nothing."""
import json

import numpy as np
import pytest

from engine import EngineError, Net
from engine.core.layers import LAYER_TYPES
from engine.export import ExportError, ParityError, export_file, load_source, onnx_export, to_onnx
from engine.runs.experiment import Experiment, preset, preset_names

from .export_nets import LAYER_TYPES_COVERED, NETS, engine_out, inputs_for, tolerance

onnx = pytest.importorskip("onnx", reason="the export extra is not installed: pip install -e '.[export]'")
ort = pytest.importorskip("onnxruntime", reason="the export extra is not installed")

DEMO = "resources/snapshots/convnetjs-demo-trained.json"


def run_model(path, x_nhwc):
    """The saved model's outputs in onnxruntime, independently of the exporter's own check."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "input" and out.name == "probabilities"
    x = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))
    return session.run(["probabilities"], {"input": x})[0]


def test_every_layer_type_is_covered():
    assert LAYER_TYPES_COVERED == sorted(LAYER_TYPES)


@pytest.mark.parametrize("name", sorted(NETS))
def test_layer_types_match_the_engine(name, tmp_path):
    net = NETS[name]()
    path = tmp_path / "model.onnx"
    report = to_onnx(net, path)
    x = inputs_for(net)
    reference = engine_out(net, x)
    out = run_model(path, x)
    assert out.shape == reference.shape and out.dtype == np.float32
    diff = np.abs(out - reference).max()
    assert diff <= tolerance(net, reference)
    if reference.shape[1] > 1 and net.layers[-1].layer_type != "regression":
        assert np.array_equal(out.argmax(1), reference.argmax(1))
    # the report says what was measured
    assert report["passed"] and report["examples"] == 1000
    assert report["max_abs_difference"] == pytest.approx(diff, abs=1e-9)
    assert json.loads((tmp_path / "model.parity.json").read_text()) == report
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]


def test_model_interface(tmp_path):
    net = NETS["conv_rect_stride_pad"]()
    to_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    inp, out = model.graph.input[0], model.graph.output[0]
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "input" and dims == ["N", 1, 28, 28]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "probabilities"
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 10]
    # any batch size, probabilities summing to 1
    x = inputs_for(net, 7)
    p = run_model(tmp_path / "m.onnx", x)
    assert p.shape == (7, 10) and np.allclose(p.sum(1), 1, atol=1e-6)
    assert "dropout" not in " ".join(n.op_type.lower() for n in model.graph.node)


def test_raw_outputs_for_svm_and_regression(tmp_path):
    for name, width in (("svm", 10), ("regression", 3)):
        net = NETS[name]()
        to_onnx(net, tmp_path / f"{name}.onnx")
        x = inputs_for(net, 50)
        out = run_model(tmp_path / f"{name}.onnx", x)
        assert out.shape == (50, width)
        assert not np.allclose(out.sum(1), 1)  # not squashed into probabilities
        model = onnx.load(str(tmp_path / f"{name}.onnx"))
        assert {p.key: p.value for p in model.metadata_props}["output"] == \
            {"svm": "scores", "regression": "values"}[name]


@pytest.mark.parametrize("name", preset_names())
def test_presets_match_the_engine(name, tmp_path):
    net = preset(name).build_net(seed=1)
    report = to_onnx(net, tmp_path / "p.onnx", experiment=preset(name))
    x = inputs_for(net)
    reference = engine_out(net, x)
    out = run_model(tmp_path / "p.onnx", x)
    assert np.abs(out - reference).max() <= 1e-5
    assert np.array_equal(out.argmax(1), reference.argmax(1))
    assert report["argmax_agreement"] == 1.0


def test_trained_demo_on_the_whole_test_set(tmp_path):
    """The trained demo net: the 10,000 MNIST test images, to 1e-5 and the same class for every one."""
    source = load_source(DEMO)
    report = to_onnx(source.net, tmp_path / "demo.onnx", examples=10000)
    assert report["examples"] == 10000 and report["argmax_agreement"] == 1.0
    x = inputs_for(source.net, 10000)
    reference = engine_out(source.net, x)
    out = run_model(tmp_path / "demo.onnx", x)
    assert np.abs(out - reference).max() <= 1e-5
    assert np.array_equal(out.argmax(1), reference.argmax(1))
    assert report["engine_accuracy"] == report["export_accuracy"] > 0.98


@pytest.mark.slow  # a figure that moves with the machine's load
def test_export_is_quick(tmp_path):
    """The demo net with its parity check in well under 5 s (about 0.3 s here)."""
    import time
    source = load_source(DEMO)
    t0 = time.perf_counter()
    to_onnx(source.net, tmp_path / "demo.onnx", experiment=source.experiment)
    assert time.perf_counter() - t0 < 5


def test_progress_is_reported(tmp_path):
    seen = []
    to_onnx(NETS["svm"](), tmp_path / "m.onnx", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


def test_training_while_exporting_is_harmless(tmp_path):
    """The export copies the weights first: a change after the call starts is not in the model."""
    net = NETS["svm"]()
    calls = []

    def progress(fraction, message):
        if not calls:
            net.layers[1].weights[...] = 0.0  # "training" moves the weights mid-export
        calls.append(fraction)

    report = to_onnx(net, tmp_path / "m.onnx", progress=progress)
    assert report["passed"]


# -- bad input: one clear line, nothing written ------------------------------------------------
def test_disagreement_writes_nothing(tmp_path, monkeypatch):
    real = onnx_export.run_onnxruntime
    monkeypatch.setattr(onnx_export, "run_onnxruntime", lambda data, x: real(data, x) + 1e-3)
    net = NETS["conv_rect_stride_pad"]()
    with pytest.raises(ParityError, match="differ from the engine's") as e:
        to_onnx(net, tmp_path / "m.onnx")
    assert e.value.report["max_abs_difference"] == pytest.approx(1e-3, rel=1e-2)
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_model_untouched_when_check_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the previous model")
    monkeypatch.setattr(onnx_export, "run_onnxruntime", lambda data, x: np.zeros((len(x), 10), np.float32))
    with pytest.raises(ParityError):
        to_onnx(NETS["svm"](), path)
    assert path.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_missing_packages_say_what_to_install(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(ExportError) as e:
        to_onnx(NETS["svm"](), tmp_path / "m.onnx")
    assert "pip install" in str(e.value) and "onnx" in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_paths(tmp_path):
    net = NETS["svm"]()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for path, words in ((tmp_path / "missing" / "m.onnx", "does not exist"),
                        (a_file / "m.onnx", "does not exist"),
                        (tmp_path, "is a folder")):
        with pytest.raises(ExportError, match=words):
            to_onnx(net, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_unreadable_snapshots(tmp_path):
    cases = {"missing.json": None, "garbage.json": "not json {", "truncated.json": '{"layers": [{"layer_',
             "empty.json": '{"layers": []}', "badlayer.json": '{"layers": [{"layer_type": "warp"}]}',
             "other.json": '{"hello": 1}'}
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(EngineError) as e:  # SnapshotError or ExportError
            export_file(tmp_path / name, "onnx", tmp_path / "out.onnx")
        assert name in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out.onnx").exists()


def test_experiment_files(tmp_path):
    """An experiment file with its weights exports; without weights it says what to do."""
    exp = preset("convnetjs-demo")
    bare = tmp_path / "exp.json"
    exp.save(bare)
    with pytest.raises(ExportError, match="without weights"):
        export_file(bare, "onnx", tmp_path / "m.onnx")
    net = exp.build_net(seed=2)
    with_weights = tmp_path / "exp-weights.json"
    with_weights.write_text(json.dumps(dict(exp.to_json(), weights=net.to_json())))
    report = export_file(with_weights, "onnx", tmp_path / "m.onnx")
    assert report["passed"]
    other = Experiment.load("resources/presets/mlp.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(dict(other.to_json(), weights=net.to_json())))
    with pytest.raises(ExportError, match="different network"):
        export_file(wrong, "onnx", tmp_path / "m2.onnx")
    assert not (tmp_path / "m2.onnx").exists()


def test_snapshot_loss_layer_after_conv_round_trips(tmp_path):
    net = NETS["loss_after_conv"]()
    assert net.layers[-2].layer_type == "conv" and net.layers[-1].num_inputs == 32
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(net.to_json()))
    assert export_file(path, "onnx", tmp_path / "m.onnx")["passed"]
    assert Net.from_json(json.loads(path.read_text())).num_outputs == 32


def test_a_layer_type_onnx_cannot_express_is_one_line(tmp_path):
    """There is none today; a layer type added to the engine without a converter must fail clearly."""
    net = NETS["svm"]()
    net.layers[2].layer_type = "warp"
    with pytest.raises(ExportError, match="layer 2, .*cannot express") as e:
        to_onnx(net, tmp_path / "m.onnx")
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []

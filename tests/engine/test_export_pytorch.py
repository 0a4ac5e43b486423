"""PyTorch export: the generated module gives the engine's outputs for every layer type, the
presets and the trained demo; its way back (to_convnetjs) is exact; train.py's update rules,
schedule, augmentation and validation split are the engine's; bad input writes nothing."""
import json

import numpy as np
import pytest

from engine import Net, Trainer
from engine.core.schedules import Schedule
from engine.core.trainer import METHODS
from engine.data import Augment, load_mnist, split_validation
from engine.export import ExportError, ParityError, export_file, load_source, pytorch_export, to_pytorch
from engine.runs.experiment import Experiment, preset, preset_names

from .export_nets import NETS, engine_out, import_file, inputs_for, tolerance

torch = pytest.importorskip("torch", reason="the export extra is not installed: pip install -e '.[export]'")

DEMO = "resources/snapshots/convnetjs-demo-trained.json"


def export(net, folder, experiment=None, **kwargs):
    kwargs.setdefault("copy_data", False)
    experiment = experiment or Experiment([{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 1}])
    return to_pytorch(net, experiment, folder, **kwargs)


def load_module(folder):
    model = import_file(folder / "model.py")
    return model, model.load(folder / "weights.pt")


def torch_out(module, x_nhwc):
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))).numpy()


@pytest.mark.parametrize("name", sorted(NETS))
def test_layer_types_match_the_engine(name, tmp_path):
    net = NETS[name]()
    folder = tmp_path / "out"
    report = export(net, folder)
    model, module = load_module(folder)
    x = inputs_for(net)
    reference = engine_out(net, x)
    out = torch_out(module, x)
    assert out.shape == reference.shape
    assert np.abs(out - reference).max() <= tolerance(net, reference)
    if reference.shape[1] > 1 and net.layers[-1].layer_type != "regression":
        assert np.array_equal(out.argmax(1), reference.argmax(1))
    assert report["passed"] and report["roundtrip_max_abs_difference"] == 0.0
    assert json.loads((folder / "parity.json").read_text()) == report
    # the way back: to_convnetjs gives the same network, weights bit for bit
    back = Net.from_json(json.loads(json.dumps(model.to_convnetjs(module))))
    assert [l.layer_type for l in back.layers] == [l.layer_type for l in net.layers]
    for a, b in zip(net.layers, back.layers):
        for attr in a.param_attrs:
            assert np.array_equal(getattr(a, attr), getattr(b, attr))
    assert np.abs(engine_out(back, x[:50]) - engine_out(net, x[:50])).max() <= tolerance(net, reference)


def test_folder_contents(tmp_path):
    net = preset("convnetjs-demo").build_net(seed=1)
    report = to_pytorch(net, preset("convnetjs-demo"), tmp_path / "demo")
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert names == ["README.md", "data", "experiment.json", "model.py", "parity.json", "train.py", "weights.pt"]
    assert report["data_copied"] is True
    assert sorted(p.name for p in (tmp_path / "demo" / "data").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert Experiment.load(tmp_path / "demo" / "experiment.json") == preset("convnetjs-demo")
    readme = (tmp_path / "demo" / "README.md").read_text()
    for words in ("python train.py", "torchrun --nproc_per_node", "--nnodes", "--rdzv-endpoint",
                  "python -m engine eval"):
        assert words in readme
    # the exported code needs only torch and numpy
    for f in ("model.py", "train.py"):
        text = (tmp_path / "demo" / f).read_text()
        imports = {line.split()[1].split(".")[0] for line in text.splitlines()
                   if line.startswith(("import ", "from "))}
        assert imports <= {"argparse", "gzip", "json", "math", "os", "pathlib", "sys", "tempfile", "time",
                           "numpy", "torch", "model"}, (f, imports)
    assert not list(tmp_path.glob(".*"))  # no staging folder left


@pytest.mark.parametrize("name", preset_names())
def test_presets_match_the_engine(name, tmp_path):
    net = preset(name).build_net(seed=1)
    report = export(net, tmp_path / name, preset(name))
    _, module = load_module(tmp_path / name)
    x = inputs_for(net)
    reference = engine_out(net, x)
    out = torch_out(module, x)
    assert np.abs(out - reference).max() <= 1e-5
    assert np.array_equal(out.argmax(1), reference.argmax(1))
    assert report["argmax_agreement"] == 1.0


def test_trained_demo_on_the_whole_test_set(tmp_path):
    source = load_source(DEMO)
    report = export(source.net, tmp_path / "demo", source.experiment, examples=10000)
    assert report["examples"] == 10000 and report["argmax_agreement"] == 1.0
    _, module = load_module(tmp_path / "demo")
    x = inputs_for(source.net, 10000)
    reference = engine_out(source.net, x)
    out = torch_out(module, x)
    assert np.abs(out - reference).max() <= 1e-5
    assert np.array_equal(out.argmax(1), reference.argmax(1))


@pytest.mark.slow  # a figure that moves with the machine's load
def test_export_is_quick(tmp_path):
    """The demo net with its parity check, dataset copy included, in under 5 s (about 1 s here)."""
    import time
    source = load_source(DEMO)
    t0 = time.perf_counter()
    to_pytorch(source.net, source.experiment, tmp_path / "demo")
    assert time.perf_counter() - t0 < 5


def test_experiment_travels_with_the_snapshot(tmp_path):
    """A snapshot carrying its experiment gives train.py those settings; --preset/--spec overrides."""
    exp = preset("convnetjs-demo").replace(epochs=7, validation=1234, trainer=dict(
        preset("convnetjs-demo").trainer, method="nesterov", learning_rate=0.02, l1_decay=1e-4),
        schedule={"kind": "step", "factor": 0.5, "every": 1000})
    net = exp.build_net(seed=0)
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(dict(net.to_json(), workbench={"experiment": exp.to_json()})))
    export_file(snap, "pytorch", tmp_path / "a", copy_data=False)
    written = json.loads((tmp_path / "a" / "experiment.json").read_text())
    assert written["epochs"] == 7 and written["validation"] == 1234
    assert written["trainer"]["method"] == "nesterov" and written["trainer"]["l1_decay"] == 1e-4
    assert written["schedule"]["kind"] == "step"
    export_file(snap, "pytorch", tmp_path / "b", experiment=preset("convnetjs-demo"), copy_data=False)
    assert json.loads((tmp_path / "b" / "experiment.json").read_text())["trainer"]["method"] == "adadelta"


def test_untrained_experiment_exports_for_training(tmp_path):
    exp = preset("mlp").replace(seed=4)
    path = tmp_path / "mlp.json"
    exp.save(path)
    report = export_file(path, "pytorch", tmp_path / "out", copy_data=False)
    assert "initial weights" in report["weights"]
    _, module = load_module(tmp_path / "out")
    x = inputs_for(exp.build_net(), 20)
    assert np.abs(torch_out(module, x) - engine_out(exp.build_net(), x)).max() <= 1e-5


def test_existing_folder_keeps_other_files(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "trained.json").write_text("mine")
    (folder / "model.py").write_text("old")
    export(NETS["svm"](), folder)
    assert (folder / "trained.json").read_text() == "mine"
    assert "class Network" in (folder / "model.py").read_text()


# -- bad input: one clear line, nothing written ------------------------------------------------
def test_disagreement_writes_nothing(tmp_path, monkeypatch):
    real = pytorch_export.state_dict_arrays

    def corrupted(net):
        arrays = real(net)
        name = next(k for k in arrays if k.endswith(".weight"))
        arrays[name] = arrays[name] * 1.01
        return arrays

    monkeypatch.setattr(pytorch_export, "state_dict_arrays", corrupted)
    with pytest.raises(ParityError, match="differ from the engine's") as e:
        export(NETS["conv_rect_stride_pad"](), tmp_path / "out")
    assert "\n" not in str(e.value) and e.value.report["passed"] is False
    assert list(tmp_path.iterdir()) == []


def test_missing_torch_says_what_to_install(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ExportError) as e:
        export(NETS["svm"](), tmp_path / "out")
    assert "pip install" in str(e.value) and "torch" in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folders(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for path, words in ((a_file, "is a file"), (tmp_path / "no" / "out", "does not exist")):
        with pytest.raises(ExportError, match=words):
            export(NETS["svm"](), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


# -- train.py's pieces against the engine's ----------------------------------------------------
MLP_L1 = [{"type": "input", "out_sx": 6, "out_sy": 6, "out_depth": 2},
          {"type": "conv", "sx": 3, "filters": 3, "pad": 1, "activation": "relu", "l1_decay_mul": 1.0},
          {"type": "fc", "num_neurons": 5, "activation": "tanh", "l2_decay_mul": 0.5},
          {"type": "softmax", "num_classes": 4}]


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small") / "out"
    net = Net(MLP_L1, seed=0)
    export(net, folder)
    train = import_file(folder / "train.py", extra_path=folder)
    return folder, net, train


@pytest.mark.parametrize("method", METHODS)
def test_update_rules_are_the_engines(method, small_folder):
    """Three steps of train.py's ConvNetJSTrainer equal the engine's Trainer, in float64,
    with L1 and L2 decay and per-layer multipliers."""
    folder, net0, train = small_folder
    opts = dict(method=method, learning_rate=0.05, momentum=0.8, l1_decay=0.01, l2_decay=0.02,
                ro=0.9, eps=1e-6, beta1=0.8, beta2=0.95)
    net = Net.from_json(net0.to_json(), dtype=np.float64)
    trainer = Trainer(net, batch_size=8, **opts)
    module = train.exported.load(folder / "weights.pt").double().train()
    optimizer = train.ConvNetJSTrainer(list(module.named_parameters()), train.exported.decay_multipliers(),
                                       **opts)
    rng = np.random.default_rng(1)
    for _step in range(3):
        x = rng.uniform(-0.5, 0.5, (8, 6, 6, 2))
        y = rng.integers(0, 4, 8)
        trainer.train(x, y)
        scores = module.scores(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
        (train.loss_sum(scores, torch.from_numpy(y), "softmax") / 8).backward()
        optimizer.step(8)
        optimizer.zero_grad()
    state = module.state_dict()
    assert np.allclose(state["conv1.weight"].numpy(), net.layers[1].weights.transpose(0, 3, 1, 2),
                       rtol=1e-9, atol=1e-12)
    assert np.allclose(state["fc3.weight"].numpy(), net.layers[3].weights, rtol=1e-9, atol=1e-12)
    assert np.allclose(state["fc5.bias"].numpy(), net.layers[5].biases, rtol=1e-9, atol=1e-12)
    moved = np.abs(net.layers[1].weights - net0.layers[1].weights).max()
    assert moved > 1e-4  # the steps did something


@pytest.mark.parametrize("loss", ["svm", "regression"])
def test_losses_are_the_engines(loss, small_folder):
    _, _, train = small_folder
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(6, 4 if loss == "svm" else 1))
    labels = rng.integers(0, 4, 6)
    k = scores.shape[1]
    net = Net.from_json({"layers": [  # the loss layer straight on the scores
        {"layer_type": "input", "out_sx": 1, "out_sy": 1, "out_depth": k},
        {"layer_type": loss, "out_sx": 1, "out_sy": 1, "out_depth": k, "num_inputs": k}]}, dtype=np.float64)
    targets = labels.astype(np.float64) if loss == "regression" else labels
    expected = net.trace(scores.reshape(6, 1, 1, k), targets).loss
    got = train.loss_sum(torch.from_numpy(scores), torch.from_numpy(labels), loss) / 6
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_schedule_split_and_augmentation_are_the_engines(small_folder):
    _, _, train = small_folder
    for kind, extra in (("step", {}), ("exponential", {}), ("cosine", {"minimum": 0.001}), ("constant", {})):
        s = {"kind": kind, "base": None, "factor": 0.5, "every": 700, "total": None, "minimum": 0.0, **extra}
        engine_s = Schedule(kind, base=0.1, factor=0.5, every=700, total=5000, minimum=s["minimum"])
        for seen in (0, 699, 700, 2500, 4999, 6000):
            assert train.learning_rate(s, 0.1, 5000, seen) == pytest.approx(engine_s(seen), rel=1e-12)
    data = load_mnist()
    ours_train, ours_val = train.split_validation(len(data.train), 5000)
    theirs_train, theirs_val = split_validation(data.train, 5000)
    assert np.array_equal(data.train.labels[ours_val], theirs_val.labels)
    assert np.array_equal(data.train.images[ours_train[:100]], theirs_train.images[:100])
    pixels = data.train.images[:64]
    for crop, shift, flip in ((24, 0, False), (24, 2, True), (None, 3, False), (None, 0, True)):
        ours = train.augment(pixels, crop, shift, flip, np.random.default_rng(7))
        theirs = Augment(crop=crop, shift=shift, flip=flip)(pixels, np.random.default_rng(7))
        assert np.array_equal(ours, theirs)


def test_fresh_weights_follow_convnetjs(small_folder):
    folder, _, train = small_folder
    module = train.exported.reset_parameters(train.exported.Network(), torch.Generator().manual_seed(0))
    assert torch.all(module.conv1.bias == 0.1) and torch.all(module.fc5.bias == 0.0)
    big = train.exported.Network()
    w = big.fc3.weight  # 5 x 108
    stds = []
    for seed in range(20):
        train.exported.reset_parameters(big, torch.Generator().manual_seed(seed))
        stds.append(float(w.detach().std()))
    assert np.mean(stds) == pytest.approx((1 / 108) ** 0.5, rel=0.05)


def test_a_layer_type_pytorch_cannot_express_is_one_line(tmp_path):
    net = NETS["svm"]()
    net.layers[2].layer_type = "warp"
    with pytest.raises(ExportError, match="layer 2, .*cannot express") as e:
        export(net, tmp_path / "out")
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []

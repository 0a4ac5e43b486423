"""What an export is checked on: the test images of the dataset in use, whatever its format,
when they fit the network's input (centre-cropped as training with a crop evaluates)."""
import numpy as np

from engine.data import formats as datasets
from engine.data import network_input
from engine.export.parity import parity_inputs
from engine.runs.experiment import Experiment

from . import dataset_files as df


def colour_net(size, classes=3):
    layers = [{"type": "input", "out_sx": size, "out_sy": size, "out_depth": 3},
              {"type": "conv", "sx": 3, "filters": 4, "stride": 1, "pad": 1, "activation": "relu"},
              {"type": "softmax", "num_classes": classes}]
    return layers


def test_a_folder_of_colour_pngs_is_checked_on_its_own_test_images(tmp_path):
    test = df.images(15, 16, 16, 3, seed=1)
    folder = df.write_folder(tmp_path / "shapes", df.images(30, 16, 16, 3), test)
    exp = Experiment(colour_net(16), name="shapes net", data=str(folder))
    net = exp.build_net(seed=0)
    x, labels, what = parity_inputs(net, exp)
    ds = datasets.load(folder)
    assert "random" not in what and what == "15 shapes test images, scaled p/255 - 0.5"
    np.testing.assert_array_equal(labels, ds.test.labels)
    np.testing.assert_array_equal(x, network_input(ds.test.images, (16, 16, 3)))


def test_images_larger_than_the_input_are_centre_cropped_as_training_with_a_crop_does(tmp_path):
    folder = df.write_folder(tmp_path / "shapes", df.images(30, 18, 18, 3), df.images(12, 18, 18, 3, seed=1))
    exp = Experiment(colour_net(16), name="cropped", data=str(folder), augment={"crop": 16})
    x, labels, what = parity_inputs(exp.build_net(seed=0), exp, examples=5)
    assert x.shape == (5, 16, 16, 3) and len(labels) == 5
    assert what == "5 shapes test images, centre-cropped to 16x16, scaled p/255 - 0.5"


def test_the_dataset_in_use_is_used_as_it_is_loaded(tmp_path):
    """The app passes the dataset it has loaded: no second read (the folder is gone)."""
    folder = df.write_folder(tmp_path / "shapes", df.images(30, 16, 16, 3), df.images(10, 16, 16, 3, seed=1))
    ds = datasets.load(folder)
    for f in sorted(folder.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    exp = Experiment(colour_net(16), name="gone", data=str(folder))
    x, labels, what = parity_inputs(exp.build_net(seed=0), exp, dataset=ds)
    assert what.startswith("10 shapes test images") and list(labels) == list(ds.test.labels)
    # without it, the data cannot be read and no other dataset fits: random inputs, said so
    assert "random 16x16x3 inputs" in parity_inputs(exp.build_net(seed=0), exp)[2]


def test_mnist_still_checks_a_network_the_data_does_not_fit(tmp_path):
    folder = df.write_folder(tmp_path / "shapes", df.images(30, 16, 16, 3), df.images(10, 16, 16, 3, seed=1))
    mnist = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
             {"type": "softmax", "num_classes": 10}]
    exp = Experiment(mnist, name="digits", data=str(folder))
    _, labels, what = parity_inputs(exp.build_net(seed=0), exp, examples=100)
    assert what == "100 MNIST test images, centre-cropped to 24x24, scaled p/255 - 0.5" and len(labels) == 100

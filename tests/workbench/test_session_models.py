"""The app's state as a few models: the session holds the document and the weights, and each of
its models (``data``, ``training``, ``predictions``, ``understanding``) has its own signals and
public methods, under one name each (issue #22)."""
import numpy as np
import pytest
from PySide6.QtCore import Signal

from engine.data import Dataset
from tests.workbench.conftest import TINY
from workbench.state.data import Data
from workbench.state.predictions import Predictions
from workbench.state.session import AppSession
from workbench.state.training import TrainingModel
from workbench.state.understanding import Understanding


def _signals(cls):
    """The signals ``cls`` declares itself (not QObject's)."""
    return {name for klass in cls.__mro__ if klass.__module__.startswith("workbench")
            for name, value in vars(klass).items() if isinstance(value, Signal)}


@pytest.fixture
def small(dataset):
    """300 training and 100 test images of MNIST: a run of one epoch is a few batches."""
    return Dataset(dataset.train.subset(np.arange(300)), dataset.test.subset(np.arange(100)), name="small")


@pytest.fixture
def session(qtbot, small):
    s = AppSession(small)
    s.load_experiment(s.experiment().replace(layer_defs=TINY, name="tiny", epochs=1))
    yield s
    s.shutdown()


def test_the_session_has_one_name_for_each_model_and_none_of_their_signals(session):
    assert isinstance(session.training, TrainingModel)
    assert isinstance(session.data, Data)
    assert isinstance(session.predictions, Predictions)
    assert isinstance(session.understanding, Understanding)
    mine = _signals(AppSession)
    assert mine == {"settingsChanged", "weightsChanged", "runStarted", "problem"}  # what it owns
    for model in (TrainingModel, Predictions, Data):
        assert not mine & _signals(model), f"the session re-emits {model.__name__}'s signals"
    for old in ("training_model", "last_training", "before_training", "save_every_seconds", "folder",
                "train", "pause", "resume", "toggle_training", "step", "stop", "running", "paused", "run",
                "may_stop_training", "confirm_stop",
                "drawn", "drawn_frame", "picture", "example", "inspect", "set_drawing", "predict_drawing",
                "sample_test_predictions", "evaluating", "evaluate", "cancel_evaluation",
                "dataset", "data_path", "dataset_version", "loading_dataset", "loading_data_path",
                "cancel_dataset_load", "describe_dataset"):
        assert not hasattr(session, old), f"the session still has {old!r}: it is a model's"


def test_the_training_model_trains_a_short_run_to_its_end_and_says_so(qtbot, session):
    t = session.training
    seen = []
    t.report.connect(lambda r: seen.append(r["examples_seen"]))
    with qtbot.waitSignal(t.runningChanged, timeout=5000) as started:
        assert t.train()
    assert started.args == [True] and t.running and t.current is not None
    with qtbot.waitSignal(t.finished, timeout=60000) as done:
        pass
    assert done.args == ["done"] and not t.running and t.current is None
    n_train = session.n_train()
    assert session.examples_seen == n_train == seen[-1]  # one epoch, counted in the session's weights
    assert session.weights.examples_seen == n_train  # published when the run ended
    assert t.last is not None and t.last["run_id"] == session.run_id and t.last["examples_seen"] == n_train


def test_the_training_model_stops_a_run_and_its_finished_says_stopped(qtbot, session):
    t = session.training
    session.set_epochs(50)  # longer than the test waits
    with qtbot.waitSignal(t.report, timeout=30000):
        assert t.train()
    with qtbot.waitSignal(t.finished, timeout=30000) as done:
        t.stop(wait=True)
        assert not t.running
    assert done.args == ["stopped"]
    assert 0 < session.examples_seen == t.last["examples_seen"] and session.weights_unsaved

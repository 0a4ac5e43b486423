"""The app's open path, fuzzed: whatever a file holds, the window either opens it or shows one
dialog and keeps everything as it was; nothing escapes as an exception."""
import copy
import json
import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QMessageBox

from tests.engine.test_fuzz_loaders import DEMO, EXPERIMENT_KEYS, PATHS, _mutate, specs, values

from .test_open_and_save import fingerprint

FUZZ = settings(max_examples=int(os.environ.get("APP_FUZZ_EXAMPLES", 40)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])


def snapshot_with(changes):
    snap = copy.deepcopy(DEMO)
    for path, value, delete in changes:
        try:
            _mutate(snap, path, value, delete)
        except (KeyError, IndexError, TypeError):
            pass
    return snap


file_contents = st.one_of(
    specs.map(json.dumps),
    st.lists(st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=3)
    .map(snapshot_with).map(json.dumps),
    st.dictionaries(st.sampled_from(EXPERIMENT_KEYS), values, max_size=5).map(json.dumps),
    st.text(max_size=80),
    st.binary(max_size=80),
)


INPUT = {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}
SOFTMAX = {"type": "softmax", "num_classes": 10}


@FUZZ
@given(content=file_contents)
# found by this test: a layer whose type is not a word crashed the window when its card was
# painted; a number too large for a spin box raised in the properties form
@example(content=json.dumps([INPUT, {"type": {}, "sx": [{}, 16]}, SOFTMAX]))
@example(content=json.dumps([INPUT, {"type": -53151, "filters": True, "drop_prob": True}, SOFTMAX]))
@example(content=json.dumps([INPUT, {"type": "conv", "sx": 3, "filters": 10 ** 30}, SOFTMAX]))
@example(content=json.dumps([INPUT, {"type": "conv", "sx": [1, 2], "filters": "8", "activation": ["relu"]},
                             SOFTMAX]))
def test_a_fuzzed_file_opens_or_is_one_dialog_with_nothing_changed(window, tmp_path_factory, monkeypatch, content):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    before = fingerprint(window)
    opened = window.files.open_path(str(path))
    if opened:
        assert not shown
        # and every place shows it: each layer's card and properties, the Train place
        for i in range(len(window.doc.layers)):
            window.doc.select(i)
            window.build_tab.grab()
        window.train_tab.grab()
    else:
        assert len(shown) == 1 and "\n" not in shown[0].strip(), shown
        assert fingerprint(window) == before

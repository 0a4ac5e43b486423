"""Files in and out: size-capped strict JSON, atomic writes that keep modes and links."""
import os
import stat

import pytest

from engine import EngineError, SnapshotError
from engine.core.io import atomic_write_text, read_json


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o640  # not mkstemp's 0600


def test_a_replaced_file_keeps_its_mode_and_a_symlink_stays_a_symlink(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    os.chmod(target, 0o604)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_text(link, "[1]")
    assert link.is_symlink() and target.read_text() == "[1]"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o604


@pytest.mark.parametrize("path", ["/dev/full", "/dev/null"])
def test_a_device_is_never_replaced_by_a_file(path):
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_text(path, "x")
    assert not os.path.isfile(path)


def test_a_folder_or_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(OSError, match="does not exist"):
        atomic_write_text(tmp_path / "nope" / "a.json", "x")


@pytest.mark.parametrize("path,words", [("/dev/zero", "not a regular file"),
                                        ("/", "is a folder")])
def test_reading_what_never_ends_is_refused_at_once(path, words):
    with pytest.raises(SnapshotError, match=words):
        read_json(path, SnapshotError)


@pytest.mark.parametrize("text,words", [("[" * 100000, "nested too deeply"),
                                        ('{"a": NaN}', "NaN is not a number JSON allows"),
                                        ('{"a": Infinity}', "Infinity"),
                                        (b"\xff\xfe", "not a text file"),
                                        ("{", "not valid JSON")])
def test_json_that_is_not_strict_json_is_a_clear_error(tmp_path, text, words):
    p = tmp_path / "x.json"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(EngineError, match=words):
        read_json(p)


@pytest.mark.parametrize("content", [b"", b"\n  \r\n\t"], ids=["empty", "blank"])
def test_an_empty_file_says_it_is_empty(tmp_path, content):
    """Not json's "not valid JSON, or truncated (Expecting value: line 1 column 1 (char 0))"."""
    p = tmp_path / "empty.json"
    p.write_bytes(content)
    with pytest.raises(SnapshotError) as e:
        read_json(p, SnapshotError)
    assert str(e.value) == "empty.json: the file is empty"


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path):
    p = tmp_path / "big.json"
    with open(p, "wb") as f:
        f.truncate(300 * 2 ** 20)  # sparse: no disk used
    with pytest.raises(EngineError, match="larger than 256 MB"):
        read_json(p)


def test_a_deeply_nested_field_is_refused_when_read_not_later_when_copied(tmp_path):
    """A 600-deep list inside a layer parses (json's limit is about 1,000) but made
    copy.deepcopy recurse past Python's limit when an experiment was built from it."""
    import json

    from engine.runs.experiment import Experiment, ExperimentError
    layers = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1, "note": 0},
              {"type": "softmax", "num_classes": 10}]
    p = tmp_path / "deep.json"
    p.write_text(json.dumps(layers).replace('"note": 0', '"note": ' + "[" * 600 + "]" * 600))
    with pytest.raises(ExperimentError, match="nested too deeply"):
        Experiment.load(p)
    # 64 levels are read; a snapshot is about 6 deep
    p.write_text(json.dumps(layers).replace('"note": 0', '"note": ' + "[" * 62 + "]" * 62))
    assert Experiment.load(p).layer_defs[0]["note"] is not None


def test_a_network_over_the_limits_is_a_limit_error_that_is_a_spec_error():
    import engine
    from engine.core.errors import LimitError
    huge = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
            {"type": "fc", "num_neurons": 10 ** 7}, {"type": "softmax", "num_classes": 10}]
    with pytest.raises(LimitError, match="the limit is 50,000,000") as e:
        engine.infer_shapes(huge)
    assert isinstance(e.value, engine.SpecError) and e.value.layer_index == 1
    with pytest.raises(LimitError):
        engine.Net(huge)


def test_reading_a_small_file_does_not_allocate_the_cap(tmp_path):
    """read(n) allocates n bytes before it reads: reading up to the 256 MB cap did so for
    every file, however small."""
    import tracemalloc
    p = tmp_path / "small.json"
    p.write_text("[1, 2, 3]")
    tracemalloc.start()
    try:
        assert read_json(p) == [1, 2, 3]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1e6


def test_one_csv_writer_for_run_records_and_sweeps():
    from engine.core.io import csv_text
    text = csv_text(["a", "b", "c", "d"], [[None, 0.123456789, {"k": 1}, 'say "hi"']])
    assert text == 'a,b,c,d\n,0.123457,"{""k"": 1}","say ""hi"""\n'

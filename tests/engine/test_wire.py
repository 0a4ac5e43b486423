"""The one message format of the engine's children (engine.core.wire): what ``pack`` makes
``unpack`` gives back equal, and bytes it did not make are ``Garbled`` (one clear error)
before anything runs or is allocated for what a header claims."""
import json
import pickle
import tracemalloc

import numpy as np
import pytest

from engine.core import wire


def _frame(payload):
    return len(payload).to_bytes(8, "little") + payload


def _meta(header, specs):
    return _frame(json.dumps([header, specs]).encode())


def test_messages_round_trip_every_kind_of_array():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros((0, 4)), np.array([3], np.int64),
              np.array([True, False]), np.arange(4, dtype=np.int32), np.arange(5, dtype=np.uint8),
              np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]]  # not contiguous: sent as if it were
    header, back = wire.unpack(wire.pack(("ok", np.float32(1.5), np.int64(3), ["warned"], {"a": None}),
                                         *arrays))
    assert header == ("ok", 1.5, 3, ["warned"], {"a": None})
    assert len(back) == len(arrays)
    for a, b in zip(arrays, back):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_only_plain_arrays_and_values_are_packed():
    with pytest.raises(TypeError, match="cannot go in a message"):
        wire.pack(("ok",), np.array([object()]))
    with pytest.raises(TypeError, match="cannot go in a message"):
        wire.pack(("ok",), np.zeros(2, np.float16))
    with pytest.raises(TypeError, match="cannot go in a message"):
        wire.pack(("ok", object()))


class _Touch:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_frame_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    frame = pickle.dumps(((("setup", 1, b""), []), _Touch(marker)))
    with pytest.raises(wire.Garbled, match="not one"):
        wire.unpack(_frame(frame))
    with pytest.raises(wire.Garbled):
        wire.unpack(frame)  # without a length in front: its first 8 bytes as one
    assert not marker.exists()


@pytest.mark.parametrize("spec", [[[2 ** 31 - 1], "<f8"], [[4], "|O"], [[4], ">f4"], [[4], "<f2"], [[2], "<U8"],
                                  [[-1], "<f4"], [[1] * 9, "<f4"], [[2.0], "<f4"], [[True], "<f4"],
                                  [[2, 2], "<f4", "x"], ["a", "<f4"], [[4], ["<f4"]], {"shape": [4]}])
def test_a_header_cannot_describe_arrays_that_did_not_come(spec):
    with pytest.raises(wire.Garbled, match="described as"):
        wire.unpack(_meta(["ok"], [spec]) + b"\x00" * 16)


def test_a_header_claiming_huge_arrays_allocates_nothing():
    """Eight dimensions of 16 (4 G elements of float64): refused from the header, with no
    more memory than the message itself (traced allocations: deterministic, no timing)."""
    buf = _meta(["ok"], [[[16] * 8, "<f8"]]) + b"\x00" * 64
    tracemalloc.start()
    try:
        with pytest.raises(wire.Garbled, match="shorter than its arrays"):
            wire.unpack(buf)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 16


@pytest.mark.parametrize("cut", [0, 3, 8, 20, -9, -1])
def test_a_truncated_message_is_garbled(cut):
    buf = wire.pack(("step", 20, {"over": "raise"}), np.arange(4, dtype=np.float32), np.ones(3))
    with pytest.raises(wire.Garbled):
        wire.unpack(buf[:cut])


def test_bytes_after_the_arrays_are_garbled():
    buf = wire.pack(("ok",), np.arange(4, dtype=np.float32))
    with pytest.raises(wire.Garbled, match="longer than its arrays"):
        wire.unpack(buf + b"\x00")


def test_a_header_length_beyond_the_cap_or_the_message_is_refused_before_reading():
    with pytest.raises(wire.Garbled, match="header of"):
        wire.unpack((2 ** 63).to_bytes(8, "little") + b"[[],[]]")
    big = _meta(["x" * wire.MAX_HEADER], [])
    with pytest.raises(wire.Garbled, match="header of"):
        wire.unpack(big)
    assert wire.unpack(big, max_header=2 * wire.MAX_HEADER)[0] == ("x" * wire.MAX_HEADER,)


@pytest.mark.parametrize("meta", [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"{}", b"[1, 2]",
                                  b'[["ok"], [], 3]', b'["ok", []]', b'[["ok"], {}]', b"NaN", b""])
def test_a_header_that_is_not_one_is_garbled(meta):
    """Deeply nested JSON, bytes that are not UTF-8, JSON of another form."""
    with pytest.raises(wire.Garbled):
        wire.unpack(_frame(meta))

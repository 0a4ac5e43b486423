"""In the app, a FIFO opened as a dataset, or as a picture to draw from, is an error at once:
nothing is left "loading", and closing does not wait for a reader stuck on the pipe."""
import os
import threading


def test_open_dataset_on_a_fifo_fails_at_once(window, qtbot, tmp_path, data_dialogs):
    s = window.session
    mnist = s.data.dataset
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with qtbot.waitSignal(s.data.failed, timeout=20000) as failed:  # a hang fails here
        assert s.open_dataset(str(fifo))
    assert "fifo.npz" in failed.args[0]["message"] and "pipe" in failed.args[0]["message"]
    qtbot.waitUntil(lambda: not s.data.busy, timeout=20000)
    assert s.data.dataset is mnist
    warn = [d for d in data_dialogs if d[0] == "warn"][-1]
    assert "fifo.npz" in warn[2] and "pipe" in warn[2]


def test_a_fifo_picture_is_refused(tmp_path):
    from workbench.views.draw.canvas import load_image_file
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    out = []

    def read():
        try:
            load_image_file(fifo)
        except ValueError as e:
            out.append(e)
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "still waiting on the pipe after 20 s"
    assert out and "pipe" in str(out[0]) and "fifo.png" in str(out[0])

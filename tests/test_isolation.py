"""The test run is a guest in the user's home (tests/isolation.py): it leaves a killed app's
session there exactly as it was, a test that writes there fails by name, and a modal dialog
nobody answers fails its test with its text instead of hanging the run.

Each check runs pytest in another process, with ``HOME`` pointed at a temporary "real" home."""
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

from engine.cli import main as cli
from tests.engine.dataset_files import write_small_mnist

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARKER = ".app-open.json"
SESSION = pathlib.Path(".local", "share", "convnet-workbench", "convnet-workbench", "session")


def run_pytest(real_home, *args, cwd=ROOT):
    """pytest in another process whose user's home is ``real_home`` (XDG variables unset)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(real_home), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    # a generous limit that only a hang reaches: without the isolation, the restore
    # question below waits for ever
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=280)


def fingerprint(folder):
    """Every file's bytes (hashed), size, mode and mtime, and every folder's, under ``folder``."""
    out = {}
    for path in sorted(pathlib.Path(folder).rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(folder))] = (digest, st.st_size, st.st_mode, st.st_mtime_ns)
    return out


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_apps_session_in_the_real_home_is_left_byte_for_byte(tmp_path, monkeypatch, capsys):
    home = tmp_path / "real-home"
    folder = home / SESSION
    small = write_small_mnist(tmp_path / "small.npz", 300, 100)
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    folder.parent.mkdir(parents=True)
    assert cli(["train", "--quiet", "--data", str(small), "--validation", "50", "--epochs", "0.1",
                "--seed", "3", "--session", str(folder)]) == 0
    capsys.readouterr()
    # the app was killed while it worked there: its marker names a process that is gone
    (folder / MARKER).write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname(),
                                                        "started": "2026-11-30T12:00:00"}))
    config = home / ".config" / "convnet-workbench"
    config.mkdir(parents=True)
    (config / "convnet-workbench.conf").write_text("[session]\nfolder=\n")
    before = fingerprint(home)
    assert any("checkpoint-" in name for name in before) and any(MARKER in name for name in before)
    # the tests that start the app from its entry point, as a user would
    proc = run_pytest(home, "tests/workbench/test_app.py")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert fingerprint(home) == before


def test_a_test_that_writes_into_the_real_home_fails_by_name(tmp_path):
    home = tmp_path / "real-home"
    (home / SESSION).mkdir(parents=True)
    (home / SESSION / "session.json").write_text("{}")
    tests = tmp_path / "suite"
    tests.mkdir()
    (tests / "test_guest.py").write_text(textwrap.dedent(f"""
        import os, pathlib

        def test_a_polite_guest(tmp_path):
            (pathlib.Path(os.environ["HOME"]) / "note.txt").write_text("mine")  # its own home

        def test_a_rude_guest():
            (pathlib.Path({str(home / SESSION)!r}) / "checkpoint-000014.npz").write_bytes(b"x")

        def test_after_it():
            pass
    """))
    proc = run_pytest(home, "-p", "tests.isolation", "-c", os.devnull, "--rootdir", str(tests),
                      str(tests / "test_guest.py"), cwd=tests)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "3 passed, 1 error" in out  # the rude guest passes, then errors at its teardown
    assert "ERROR at teardown of test_a_rude_guest" in out
    assert "test_a_rude_guest changed the app's folders in the real home" in out
    assert "added " + str(home / SESSION / "checkpoint-000014.npz") in out
    assert "the real home's app folders changed" in out  # and the run's end says it again


def test_a_modal_dialog_nobody_answers_fails_its_test_with_its_text(tmp_path):
    tests = tmp_path / "suite"
    tests.mkdir()
    (tests / "test_dialogs.py").write_text(textwrap.dedent("""
        import pytest
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QMessageBox

        def test_a_question_nobody_answers(qtbot):
            answer = QMessageBox.question(None, "Save first?", "Your network has unsaved changes.")
            assert answer == QMessageBox.Yes  # never reached with Yes

        @pytest.mark.expects_modal
        def test_a_question_the_test_answers_itself(qtbot):
            box = QMessageBox(QMessageBox.Question, "Restore?", "Restore the last session?",
                              QMessageBox.Yes | QMessageBox.No)
            QTimer.singleShot(4000, lambda: box.done(QMessageBox.Yes))  # past the watchdog's grace
            assert box.exec() == QMessageBox.Yes
    """))
    proc = run_pytest(tmp_path / "real-home", "-p", "tests.isolation", "-c", os.devnull, "--rootdir",
                      str(tests), "-o", "qt_api=pyside6", str(tests / "test_dialogs.py"), cwd=tests)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 1 passed" in out
    assert "FAILED test_dialogs.py::test_a_question_nobody_answers" in out
    assert "QMessageBox 'Save first?': 'Your network has unsaved changes.'" in out

"""Tests are guests: each runs as a user of its own, and no modal dialog waits for ever.

A pytest plugin (``tests/conftest.py`` loads it; ``-p tests.isolation`` loads it elsewhere):

- **A home of its own.** For the whole run, ``HOME`` and the ``XDG_*`` folders point at a
  temporary folder (so that what is computed at collection or in a session fixture is not
  the user's either), and for each test at a folder of that test's own beside its
  ``tmp_path`` (``<tmp_path>-home``: beside, not inside, so that a test listing its
  ``tmp_path`` finds only its own files): ``HOME``, ``XDG_CONFIG_HOME``,
  ``XDG_DATA_HOME``, ``XDG_CACHE_HOME`` and ``TMPDIR``. ``tempfile``'s cached folder is
  forgotten, and Qt's settings paths (which Qt computes once per process, unlike
  ``QStandardPaths``) are pointed at the test's config folder.
- **The guard.** The app's folders in the real home (data, config, cache: named after the
  app, or after pytest-qt's application) are listed with sizes and mtimes when the run
  starts and after every test. A test after which they changed errors, naming what
  changed; and the run fails at its end if they differ from the start, naming the tests.
- **The modal watchdog.** A modal window (a question, a message box, any modal dialog, a
  popup menu) that a test did not expect is closed after ``MODAL_GRACE_SECONDS`` and the
  test fails with the dialog's title and text, instead of waiting until faulthandler's
  dump. Progress dialogs are left alone (they wait for work, not for an answer). A test
  that expects a modal window answers it itself (or monkeypatches ``QMessageBox``) and
  says so with ``@pytest.mark.expects_modal``.
"""
import os
import pathlib
import sys
import tempfile
import time

import pytest

#: the names the app's folders have: the app's own, and pytest-qt's application's (the
#: name a test's ``QStandardPaths`` would use)
APP_NAMES = ("convnet-workbench", "pytest-qt-qapp")
USER_VARIABLES = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")
MODAL_GRACE_SECONDS = 3.0


def app_folders(env):
    """The folders the app (or a test's Qt application) would keep its data, settings and
    cache in for the user whose environment is ``env``."""
    home = pathlib.Path(env.get("HOME") or os.path.expanduser("~"))
    roots = [pathlib.Path(env.get("XDG_DATA_HOME") or home / ".local" / "share"),
             pathlib.Path(env.get("XDG_CONFIG_HOME") or home / ".config"),
             pathlib.Path(env.get("XDG_CACHE_HOME") or home / ".cache"),
             home / ".qttest" / "share", home / ".qttest" / "config", home / ".qttest" / "cache",
             home / "Library" / "Application Support", home / "Library" / "Caches",  # macOS
             pathlib.Path(env.get("APPDATA") or home / "AppData" / "Roaming"),  # Windows
             pathlib.Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")]
    seen, out = set(), []
    for root in roots:
        for name in APP_NAMES:
            if root / name not in seen:
                seen.add(root / name)
                out.append(root / name)
    return out


def listing(folders):
    """``{path: (kind, size, mtime_ns)}`` of everything in ``folders`` (missing ones: nothing)."""
    out = {}
    for folder in folders:
        try:
            st = os.lstat(folder)
        except OSError:
            continue
        out[str(folder)] = ("dir", 0, st.st_mtime_ns)
        for top, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = os.path.join(top, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                kind = "dir" if name in dirs else "file"
                out[path] = (kind, st.st_size, st.st_mtime_ns)
    return out


def difference(before, after, most=8):
    """What changed between two listings, as short lines."""
    lines = [f"added {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    lines += [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return lines[:most] + ([f"... and {len(lines) - most} more"] if len(lines) > most else [])


class HomeGuard:
    """The real home's app folders, listed at the start, after every test and at the end."""

    def __init__(self, folders):
        self.folders = folders
        self.start = self.last = listing(folders)
        self.culprits = []  # (test id, lines)

    def check(self, who):
        """The lines of what changed since the last check (empty if nothing), blamed on ``who``."""
        now = listing(self.folders)
        if now == self.last:
            return []
        lines = difference(self.last, now)
        self.last = now
        self.culprits.append((who, lines))
        return lines


_guard_key = pytest.StashKey[HomeGuard]()
_real_env_key = pytest.StashKey[dict]()
_session_home_key = pytest.StashKey[str]()
_dog_key = pytest.StashKey[object]()


def pytest_configure(config):
    config.addinivalue_line("markers", "expects_modal: the test shows a modal window and answers or "
                                       "closes it itself (the modal watchdog leaves it alone)")
    real = {k: os.environ.get(k) for k in USER_VARIABLES + ("TMPDIR", "APPDATA", "LOCALAPPDATA")}
    config.stash[_real_env_key] = real
    config.stash[_guard_key] = HomeGuard(app_folders({k: v for k, v in real.items() if v}))
    # collection and session fixtures run as a user of the run's own, too
    home = tempfile.mkdtemp(prefix="convnet-workbench-tests-")
    config.stash[_session_home_key] = home
    for name in USER_VARIABLES:
        sub = os.path.join(home, name.lower())
        os.makedirs(sub, exist_ok=True)
        os.environ[name] = sub


def pytest_unconfigure(config):
    real = config.stash.get(_real_env_key, None)
    if real is None:
        return
    for name in USER_VARIABLES:
        if real[name] is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = real[name]
    import shutil
    shutil.rmtree(config.stash[_session_home_key], ignore_errors=True)


def _point_qt_at(config_home):
    """Qt's settings paths are computed once per process: point them at this test's folder."""
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QSettings, QStandardPaths
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        QSettings.setPath(fmt, QSettings.UserScope, str(config_home))
    # on systems where Qt's locations do not follow HOME, still never the app's own folders
    QStandardPaths.setTestModeEnabled(True)


@pytest.fixture(autouse=True)
def own_home(request, tmp_path, monkeypatch):
    """This test's own ``HOME``, XDG folders and ``TMPDIR`` (see the module); returns the folder."""
    base = tmp_path.parent / f"{tmp_path.name}-home"
    places = {"HOME": base / "home", "XDG_CONFIG_HOME": base / "config", "XDG_DATA_HOME": base / "data",
              "XDG_CACHE_HOME": base / "cache", "TMPDIR": base / "tmp"}
    for name, path in places.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches the folder it found first
    _point_qt_at(places["XDG_CONFIG_HOME"])
    yield base
    _point_qt_at(pathlib.Path(request.config.stash[_session_home_key]) / "xdg_config_home")
    guard = request.config.stash[_guard_key]
    changed = guard.check(request.node.nodeid)
    if changed:
        pytest.fail(f"{request.node.nodeid} changed the app's folders in the real home:\n  "
                    + "\n  ".join(changed), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    guard = session.config.stash.get(_guard_key, None)
    if guard is None:
        return
    guard.check("(outside any test: collection, or a module or session fixture)")
    if listing(guard.folders) != guard.start:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    guard = config.stash.get(_guard_key, None)
    if guard is None or listing(guard.folders) == guard.start:
        return
    tr = terminalreporter
    tr.section("the real home's app folders changed", sep="=", red=True, bold=True)
    for line in difference(guard.start, listing(guard.folders), most=20):
        tr.line(line)
    tr.line("changed while these ran:" if guard.culprits else "(no test was running when they changed)")
    for who, lines in guard.culprits:
        tr.line(f"  {who}: " + "; ".join(lines))


# -- the modal watchdog -------------------------------------------------------------------------
class ModalWatchdog:
    """Closes modal windows that stay open longer than ``grace`` seconds, and remembers them.

    ``caught`` holds one line a window: its kind, title and text."""

    def __init__(self, grace=MODAL_GRACE_SECONDS, interval_ms=100):
        from PySide6.QtCore import QTimer
        self.grace = grace
        self.caught = []
        self.reported = 0
        self._first_seen = {}  # the widget's address -> when first seen
        self._ignored = {_address(w) for w in self._modal_windows()}  # left open before this test
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._look)

    @staticmethod
    def _modal_windows():
        from PySide6.QtWidgets import QApplication, QMenu, QProgressDialog
        found = []
        for w in QApplication.topLevelWidgets():
            try:
                if not w.isVisible() or isinstance(w, QProgressDialog):
                    continue
                if w.isModal() or isinstance(w, QMenu):  # a menu's exec() waits as a dialog's does
                    found.append(w)
            except RuntimeError:  # deleted on the C++ side meanwhile
                continue
        return found

    def start(self):
        self._timer.start()

    def stop(self):
        self._timer.stop()

    def _look(self):
        now = time.monotonic()
        keep = {}
        for w in self._modal_windows():
            key = _address(w)
            if key in self._ignored:
                continue
            first = keep[key] = self._first_seen.get(key, now)
            if now - first >= self.grace:
                self.caught.append(describe(w))
                _close(w)
                keep.pop(key)
        self._first_seen = keep

    def message(self, start=0):
        lines = self.caught[start:]
        return (f"{len(lines)} unexpected modal window(s) stayed open {self.grace:g} s and were closed "
                f"(as if Escape were pressed); a test that expects one answers it and is marked "
                f"@pytest.mark.expects_modal:\n  " + "\n  ".join(lines))


def _address(w):
    """A widget's identity (a widget made in C++ gets a new Python wrapper at every look)."""
    import shiboken6
    return shiboken6.getCppPointer(w)[0]


def describe(w):
    """A modal window in one line: its class, title and text (a message box's, else its labels')."""
    from PySide6.QtWidgets import QLabel, QMessageBox
    title = w.windowTitle()
    if isinstance(w, QMessageBox):
        text = " ".join(t for t in (w.text(), w.informativeText()) if t)
    else:
        text = " ".join(lb.text() for lb in w.findChildren(QLabel) if lb.text())
    text = " ".join(text.split())
    return f"{type(w).__name__} {title!r}: {text[:300]!r}"


def _close(w):
    from PySide6.QtWidgets import QDialog
    if isinstance(w, QDialog):
        w.done(QDialog.Rejected)  # ends its exec(), whether or not it has an Escape button
    w.close()
    w.hide()


@pytest.fixture(autouse=True)
def modal_watchdog(own_home, request):
    """The watchdog of a test that uses Qt (see the module); None for a test that does not."""
    if "qapp" not in request.fixturenames:
        yield None
        return
    app = request.getfixturevalue("qapp")
    # the entry point names the shared application: the next test gets it back
    names = (app.applicationName(), app.organizationName())
    request.addfinalizer(lambda: (app.setApplicationName(names[0]), app.setOrganizationName(names[1])))
    if request.node.get_closest_marker("expects_modal"):
        yield None
        return
    dog = ModalWatchdog()
    request.node.stash[_dog_key] = dog
    dog.start()
    yield dog
    dog.stop()
    if len(dog.caught) > dog.reported:  # opened in the test's teardown
        start, dog.reported = dog.reported, len(dog.caught)
        pytest.fail(dog.message(start), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    finally:
        dog = item.stash.get(_dog_key, None)
        if dog is not None and len(dog.caught) > dog.reported:
            dog.reported = len(dog.caught)
            pytest.fail(dog.message(), pytrace=False)

"""The tour's steps as data: ``resources/tour/<language>.json``, read and checked.

The file holds the words and, for each step, what it points at, what "Show me" does and
what counts as done, so that a step can be edited or translated without touching code.
This module only reads and checks it (no Qt); ``workbench.tour.tour`` carries it out.

A step::

    {"id": "conv", "title": "...", "text": "...", "try": "...",
     "place": "inspect",                       # the place (tab) it happens in
     "widgets": [{"name": "layerRow", "index": 1}, {"name": "networkView"}],
     "show_me": [{"do": "place", "place": "inspect"}, ...],
     "done": {"place": "inspect", "event": "inspected"},
     "examples": 8}                            # optional: show that many digits in the panel

``widgets`` are outlined in order of preference: the first one that is on screen (a
widget with that ``objectName``; ``index`` picks among several with the same name).

Show-me actions (``do``): ``place`` (show a place), ``select_layer`` (``index``),
``inspect`` (``source`` test/train, ``index``), ``scroll_to`` (``name``, ``index``; ``first``:
an earlier one of the same name to keep in view with it, when both fit),
``trained_demo`` (open the bundled trained demo network), ``draw`` (``strokes``: lists of
``[x, y]`` points, fractions of the canvas), ``stop``, ``settings`` (``trainer``: options;
``schedule``: "constant" or a kind with settings; ``epochs``), ``reset_weights``, ``train``,
``evaluate``, ``worst_cell`` (once the evaluation is in, the confusion matrix's largest
off-diagonal cell: its examples in the gallery), ``confused_example`` (a test digit the
network gets wrong, onto the canvas).

Done conditions (all that are given must hold): ``place`` (that place is showing),
``layer_selected`` (a layer is selected), ``visible`` (a widget, as in ``widgets``, is on
screen), ``event`` (the session said so since the step began: ``inspected``,
``drawingPredicted``, ``report``, ``finished``, ``evaluated``) with ``how`` (for finished),
``min_examples`` (for report) and ``schedule`` (true: the run had a schedule).
"""
import json
import pathlib

from engine.data import RESOURCES

TOUR_DIR = RESOURCES / "tour"
FORMAT = "convnet-workbench tour"

ACTIONS = {"place": {"place"}, "select_layer": {"index"}, "inspect": {"source", "index"},
           "scroll_to": {"name", "index", "first"}, "trained_demo": set(), "draw": {"strokes"}, "stop": set(),
           "settings": {"trainer", "schedule", "epochs"}, "reset_weights": set(), "train": set(),
           "evaluate": set(), "worst_cell": set(), "confused_example": set()}
EVENTS = ("inspected", "drawingPredicted", "report", "finished", "evaluated")
DONE_KEYS = {"place", "layer_selected", "visible", "event", "how", "min_examples", "schedule"}
STEP_KEYS = {"id", "title", "text", "try", "place", "widgets", "show_me", "done", "examples"}
LABELS = ("back", "show_me", "next", "finish", "end", "restore", "keep", "start", "not_now", "step",
          "done", "your_turn", "elsewhere", "end_title", "confused")


class TourError(ValueError):
    """A tour file that cannot be used, with what is wrong and where."""


def _need(cond, where, what):
    """Raise TourError(``where: what``) unless ``cond``; ``what`` may be a callable (made only then)."""
    if not cond:
        raise TourError(f"{where}: {what() if callable(what) else what}")


def _check_target(t, where):
    _need(isinstance(t, dict) and isinstance(t.get("name"), str) and t["name"], where,
          "a widget is {\"name\": objectName, \"index\": n (optional)}")
    _need(set(t) <= {"name", "index"}, where, lambda: f"unknown key {sorted(set(t) - {'name', 'index'})[0]!r}")
    _need(isinstance(t.get("index", 0), int) and t.get("index", 0) >= 0, where, "'index' must be a whole number >= 0")


def _check_step(s, k):
    where = f"step {k + 1}"
    _need(isinstance(s, dict), where, "must be an object")
    where = f"step {k + 1} ({s.get('id', '?')})"
    unknown = sorted(set(s) - STEP_KEYS)
    _need(not unknown, where, lambda: f"unknown key {unknown[0]!r} (known: {', '.join(sorted(STEP_KEYS))})")
    for key in ("id", "title", "text", "try", "place"):
        _need(isinstance(s.get(key), str) and s[key].strip(), where, f"'{key}' must be non-empty text")
    _need(isinstance(s.get("widgets"), list) and s["widgets"], where, "'widgets' must list at least one widget")
    for t in s["widgets"]:
        _check_target(t, where)
    _need(isinstance(s.get("show_me"), list) and s["show_me"], where, "'show_me' must list at least one action")
    for a in s["show_me"]:
        _need(isinstance(a, dict) and a.get("do") in ACTIONS, where,
              lambda a=a: f"unknown action {a.get('do') if isinstance(a, dict) else a!r} (known: {', '.join(ACTIONS)})")
        extra = sorted(set(a) - {"do"} - ACTIONS[a["do"]])
        _need(not extra, where, lambda a=a, extra=extra: f"action {a['do']!r}: unknown key {extra[0]!r}")
        if a["do"] == "scroll_to":
            _check_target({k: v for k, v in a.items() if k not in ("do", "first")}, where)
            _need(isinstance(a.get("first", 0), int) and 0 <= a.get("first", 0) <= a.get("index", 0), where,
                  "action 'scroll_to': 'first' must be a whole number from 0 to its 'index'")
        if a["do"] == "draw":
            ok = isinstance(a.get("strokes"), list) and all(
                isinstance(st, list) and st and all(isinstance(p, list) and len(p) == 2 and
                                                    all(isinstance(c, (int, float)) and 0 <= c <= 1 for c in p)
                                                    for p in st) for st in a["strokes"])
            _need(ok, where, "action 'draw': 'strokes' are lists of [x, y] points, each in [0, 1]")
    d = s.get("done")
    _need(isinstance(d, dict) and d, where, "'done' must say what counts as done")
    unknown = sorted(set(d) - DONE_KEYS)
    _need(not unknown, where, lambda: f"'done': unknown key {unknown[0]!r} (known: {', '.join(sorted(DONE_KEYS))})")
    _need(d.get("event") is None or d["event"] in EVENTS, where,
          f"'done': unknown event {d.get('event')!r} (known: {', '.join(EVENTS)})")
    if "visible" in d:
        _check_target(d["visible"], where)
    _need(isinstance(s.get("examples", 0), int) and 0 <= s.get("examples", 0) <= 16, where,
          "'examples' must be a whole number from 0 to 16")


def check_tour(obj):
    """Check a tour object (as read from its file); returns it, or raises TourError."""
    _need(isinstance(obj, dict) and obj.get("format") == FORMAT, "the tour", f"'format' must be {FORMAT!r}")
    for key in ("name", "title", "offer", "start", "end"):
        _need(isinstance(obj.get(key), str) and obj[key].strip(), "the tour", f"'{key}' must be non-empty text")
    labels = obj.get("labels")
    _need(isinstance(labels, dict), "the tour", "'labels' must be an object")
    for key in LABELS:
        _need(isinstance(labels.get(key), str) and labels[key], "the tour", f"label {key!r} is missing")
    lesson = obj.get("lesson")
    _need(isinstance(lesson, dict) and isinstance(lesson.get("preset"), str), "the tour",
          "'lesson' must name the preset the tour teaches on")
    steps = obj.get("steps")
    _need(isinstance(steps, list) and steps, "the tour", "'steps' must be a non-empty list")
    for k, s in enumerate(steps):
        _check_step(s, k)
    ids = [s["id"] for s in steps]
    _need(len(set(ids)) == len(ids), "the tour", "two steps have the same 'id'")
    return obj


def load_tour(language="en", path=None):
    """The tour in ``language`` (or the file at ``path``), checked."""
    path = pathlib.Path(path) if path is not None else TOUR_DIR / f"{language}.json"
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TourError(f"{path.name}: {e}") from None
    try:
        return check_tour(obj)
    except TourError as e:
        raise TourError(f"{path.name}: {e}") from None


def step(tour, step_id):
    """The step called ``step_id``."""
    for s in tour["steps"]:
        if s["id"] == step_id:
            return s
    raise KeyError(step_id)


def lesson_experiment(tour):
    """The experiment the tour teaches on: its ``lesson`` preset with the lesson's changes."""
    from engine.runs.experiment import preset
    spec = tour["lesson"]
    return preset(spec["preset"]).replace(**{k: v for k, v in spec.items() if k != "preset"})


def with_settings(experiment, action):
    """``experiment`` as a ``settings`` action leaves it (what Show me sets through the session,
    for running a step headless: the measurements and the tests of the rates)."""
    changes = {}
    if "schedule" in action:
        sched = action["schedule"]
        if sched in ("constant", None):
            changes["schedule"] = None
        else:
            changes["schedule"] = dict({"base": None}, **sched)
    if "trainer" in action:
        changes["trainer"] = dict(experiment.trainer, **action["trainer"])
    if "epochs" in action:
        changes["epochs"] = action["epochs"]
    return experiment.replace(**changes)


def step_experiment(tour, step_id, experiment=None):
    """The experiment a step's Show me trains with, from ``experiment`` (default: the lesson's)."""
    exp = lesson_experiment(tour) if experiment is None else experiment
    for a in step(tour, step_id)["show_me"]:
        if a["do"] == "settings":
            exp = with_settings(exp, a)
    return exp

"""``python -m engine sweep | lr-find | race | runs``: experimenting from the terminal."""
import json
import math
import sys
import time

from engine.core.errors import OptionError


def add_parsers(sub):
    """Add the commands to the CLI's subparsers."""
    from engine.cli.common import add_experiment_args
    from engine.studies.race import DEMO_TRAINERS

    s = sub.add_parser("sweep", help="train over a grid or a random sample of settings; "
                                     "DIR/runs.csv and a session per run",
                       description="Train the experiment once per combination of settings. A setting "
                                   "is a trainer option (learning_rate, batch_size, method, l2_decay, "
                                   "momentum ...), layers.N.OPTION (an option of layer_defs[N]), "
                                   "schedule.*, augment.* or epochs.")
    add_experiment_args(s)
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--grid", nargs="+", metavar="SETTING=V1,V2",
                     help="every combination of these values, e.g. learning_rate=0.003,0.01 "
                          "method=adadelta,sgd layers.1.filters=8,16")
    how.add_argument("--random", type=int, metavar="N",
                     help="N runs with settings drawn from --ranges")
    s.add_argument("--ranges", nargs="+", metavar="SETTING=LOW:HIGH|V1,V2",
                   help="with --random: a range (log-uniform when it spans a decade or more, "
                        "whole numbers when both ends are) or a list to choose from")
    s.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_sweep)

    f = sub.add_parser("lr-find", help="sweep the learning rate over a few hundred batches and "
                                       "suggest one (one JSON line)",
                       description="Train a copy of the network while the learning rate grows "
                                   "exponentially, and suggest a tenth of the rate where the smoothed "
                                   "loss was lowest. Takes the same options as train.")
    add_experiment_args(f, epochs=False)
    f.add_argument("--start", type=float, default=1e-6, help="the first rate (default 1e-6)")
    f.add_argument("--end", type=float, default=10.0, help="the largest rate (default 10)")
    f.add_argument("--batches", type=int, default=300, help="batches of the sweep (default 300)")
    f.add_argument("--seconds", type=float, default=10.0,
                   help="time allowed, loading the data included (default 10)")
    f.add_argument("--curve", action="store_true", help="add the rates and the smoothed losses")
    f.set_defaults(func=cmd_lr_find)

    r = sub.add_parser("race", help="several trainers, several seeds: mean curves with a band",
                       description="Train the same network with several trainers (ConvNetJS's "
                                   "comparison demo: " + ", ".join(DEMO_TRAINERS) + "), each over "
                                   "several seeds, and print each trainer's final validation "
                                   "accuracy and loss as mean, sd, min and max (JSON lines).")
    add_experiment_args(r)
    r.add_argument("--methods", default=",".join(DEMO_TRAINERS),
                   help="comma list (default: all seven)")
    r.add_argument("--seeds", type=int, default=3, help="seeds per trainer (default 3)")
    r.add_argument("--points", type=int, default=20, help="measurements along each run")
    r.add_argument("--interleave", action="store_true", help="a stretch of each run in turn")
    r.add_argument("--out", help="write the whole summary (curves and bands) as JSON")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_race)

    u = sub.add_parser("runs", help="the runs kept in a session folder (a table, CSV, or a diff)")
    u.add_argument("session", help="a session folder (train --session, or one of a sweep's)")
    u.add_argument("--csv", metavar="PATH", help="write the runs as CSV ('-': to stdout)")
    u.add_argument("--diff", nargs="+", metavar="RUN", help="the settings in which these runs differ")
    u.set_defaults(func=cmd_runs)


def _experiment(a):
    from engine.cli.common import experiment_from_args
    if not hasattr(a, "epochs"):
        a.epochs = None
    return experiment_from_args(a)


def _data(exp, quiet=False):
    from engine.cli.common import _fit_error, _load_data
    from engine.data import formats as datasets
    data = _load_data(exp.data, quiet)
    problems = datasets.check_fit(exp.layer_defs, data)
    if problems:
        raise _fit_error(exp.name, data, problems, "")
    return data


def cmd_sweep(a):
    from engine.runs.experiment import ExperimentError
    from engine.studies.sweep import grid_settings, parse_ranges, parse_settings, random_settings, run_sweep
    exp = _experiment(a)
    if exp.seed is None:  # every run from the same weights and data order
        exp = exp.replace(seed=0)
    if a.grid:
        if a.ranges:
            raise OptionError("--ranges goes with --random; --grid takes the values itself")
        plan = grid_settings(parse_settings(a.grid))
    else:
        if not a.ranges:
            raise OptionError("--random N needs --ranges SETTING=LOW:HIGH|V1,V2 ...")
        plan = random_settings(parse_ranges(a.ranges), a.random, seed=exp.seed)
    from engine.studies.sweep import check_plan
    check_plan(exp, plan)  # before loading anything
    from pathlib import Path
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExperimentError(f"{out}: the folder exists and is not empty")
    data = _data(exp, a.quiet)
    print(f"sweep: {len(plan)} runs of {exp.name} for {exp.epochs:g} epochs into {out}",
          file=sys.stderr)
    t0 = time.perf_counter()

    def progress(ev):
        if ev["tag"] == "report" and not a.quiet and ev["report"]["tag"] == "progress":
            r = ev["report"]
            print(f"\r  run {ev['index'] + 1}/{ev['runs']}  epoch {r['epoch']:.2f}  loss "
                  f"{r['cost_loss']:.3f}  {r['examples_per_second']:,.0f} ex/s   ", end="",
                  file=sys.stderr, flush=True)
            a.progress_shown = True  # an error after this starts on a new line
        elif ev["tag"] == "result":
            row = ev["row"]
            what = " ".join(f"{k}={v}" for k, v in row["settings"].items())
            acc = row["test_accuracy"]
            print(f"\r  run {ev['index'] + 1}/{ev['runs']}  {what}: test accuracy "
                  f"{acc if acc is None else format(acc, '.4f')}, {row['seconds']:.1f} s"
                  + ("" if row["status"] == "done" else f" ({row['status']})") + " " * 10,
                  file=sys.stderr)
            a.progress_shown = False
            print(json.dumps({"run": row["run"], **row["settings"],
                              **{k: row[k] for k in ("test_accuracy", "val_accuracy", "seconds",
                                                     "status")}}), flush=True)

    rows = run_sweep(exp, plan, data, out, progress=progress, threads=a.threads)
    print(f"wrote {out / 'runs.csv'} ({len(rows)} runs, {time.perf_counter() - t0:.0f} s)",
          file=sys.stderr)
    return 0


def cmd_lr_find(a):
    from engine.studies.lrfind import find_learning_rate
    t0 = time.perf_counter()
    exp = _experiment(a)
    if not a.seconds > 0:
        raise OptionError(f"--seconds must be above 0, got {a.seconds}")
    if not (a.start > 0 and a.end > a.start and math.isfinite(a.end)):
        raise OptionError(f"--start and --end must be rates with 0 < start < end, got "
                          f"{a.start:g} and {a.end:g}")
    if a.batches < 10:
        raise OptionError(f"--batches must be at least 10, got {a.batches}")
    data = None if exp.trainer["method"] == "adadelta" else _data(exp, quiet=True)
    net = None
    if data is not None:
        net = exp.build_net(threads=a.threads, seed=exp.seed if exp.seed is not None else 0)
    left = a.seconds - (time.perf_counter() - t0) - 0.2  # the answer printed within the time
    result = find_learning_rate(exp, data, net=net, start=a.start, end=a.end, batches=a.batches,
                                seconds=max(0.5, left))
    out = {"preset": exp.name, "method": exp.trainer["method"], "momentum": exp.trainer["momentum"],
           "batch_size": exp.trainer["batch_size"],
           **{k: result[k] for k in ("suggested_learning_rate", "reason", "min_loss_rate",
                                     "batches", "examples", "ended")},
           "seconds": round(time.perf_counter() - t0, 2)}
    if a.curve:
        out["rates"], out["losses"] = result["rates"], result["losses"]
    print(json.dumps(out))
    return 0


def cmd_race(a):
    from engine.studies.race import Race
    exp = _experiment(a)
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    if a.seeds < 1:
        raise OptionError(f"--seeds must be at least 1, got {a.seeds}")
    if a.out:
        from engine.core.io import writable_target
        writable_target(a.out)
    race = Race(exp, _data(exp, a.quiet), methods=methods, seeds=a.seeds,
                points=a.points, interleave=a.interleave)
    print(f"race: {len(methods)} trainers x {a.seeds} seeds of {exp.name} for {exp.epochs:g} "
          f"epochs ({race.examples[-1]:,} examples each)", file=sys.stderr)

    def progress(fraction):
        if not a.quiet:
            print(f"\r  {fraction:6.1%}", end="", file=sys.stderr, flush=True)
            a.progress_shown = True

    result = race.run(progress=progress)
    if not a.quiet:
        print(file=sys.stderr)
        a.progress_shown = False
    for m in methods:
        res = result["results"][m]
        print(json.dumps({"method": m, "trainer": res["trainer"], "diverged": res["diverged"],
                          "validation_accuracy": res["final"]["validation_accuracy"],
                          "cost_loss": res["final"]["cost_loss"],
                          "seconds": round(sum(r["seconds"] for r in res["runs"]), 1)}))
    if a.out:
        from engine.core.io import atomic_write_text
        from engine.runs.records import clean
        atomic_write_text(a.out, json.dumps(clean(result), allow_nan=False))
        print(f"wrote {a.out}", file=sys.stderr)
    return 0


def cmd_runs(a):
    from engine.runs.records import diff_settings, runs_csv
    from engine.runs.session_folder import SessionFolder
    session = SessionFolder.open(a.session)
    runs = session.runs()
    if a.diff:
        by_id = {r["id"]: r for r in runs}
        missing = [i for i in a.diff if i not in by_id]
        if missing:
            raise OptionError(f"no run {missing[0]!r} in {a.session} (runs: {', '.join(by_id)})")
        chosen = [by_id[i] for i in a.diff]
        print("setting".ljust(24) + "".join(r["id"].ljust(16) for r in chosen))
        for row in diff_settings(chosen, only_different=True):
            print(row["setting"].ljust(24) + "".join(json.dumps(v).ljust(16) for v in row["values"]))
        return 0
    if a.csv:
        text = runs_csv(runs)
        if a.csv == "-":
            sys.stdout.write(text)
        else:
            from engine.runs.records import export_csv
            export_csv(runs, a.csv)
            print(f"wrote {a.csv}", file=sys.stderr)
        return 0
    for r in runs:
        m = r.get("metrics", {})
        acc = m.get("test_accuracy")
        print(f"{r['id']}  {r['created']}  {r['status']:<13} "
              f"test {'-' if acc is None else format(acc, '.4f')}  "
              f"{m.get('epochs') or 0:.2f} epochs  {r.get('examples_per_second') or 0:,.0f} ex/s  "
              f"{r['name']}" + (f"  ({r['note']})" if r.get("note") else ""))
    return 0

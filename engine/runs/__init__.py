"""What a run is: experiments (``experiment``), the headless run and its divergence watch (``run``),
checkpoints, session folders, run records (``records``), snapshots, presets, settings and the coach.

The run records' names are this package's too (``engine.runs.list_runs``), as before the move.
"""
from .records import (
    CSV_COLUMNS,
    EVAL_FIELDS,
    FORMAT,
    PROGRESS_FIELDS,
    RUNS_DIR,
    RunError,
    RunRecorder,
    annotate_run,
    check_record,
    clean,
    delete_run,
    diff_settings,
    export_csv,
    list_runs,
    load_run,
    new_run_id,
    now_iso,
    rename_run,
    run_settings,
    runs_csv,
    save_run,
)

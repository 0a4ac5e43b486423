"""``python -m engine``: the command line (train, eval, data, export, sweep, ...).

``commands`` holds the commands, ``common`` what they share, ``experiments`` the
sweep, lr-find, race and runs commands, ``bench`` the benchmark.
"""
from .commands import (
    SAVE_FAILED,
    cmd_bench,
    cmd_data,
    cmd_eval,
    cmd_layers,
    cmd_presets,
    cmd_teach_bench,
    cmd_train,
    log,
    main,
    parser,
    start_logging,
)
from .common import TRAINER_FLAGS, add_experiment_args, experiment_from_args

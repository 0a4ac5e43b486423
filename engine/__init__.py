"""A numpy deep-learning engine that speaks ConvNetJS.

The public surface is described in docs/engine-api.md: ``Net``, ``Trainer``,
``infer_shapes``, ``SpecError``, ``engine.digits`` and ``engine.explain``; ``engine.teach(net,
experiment, images, labels, seconds=...)`` fine-tunes a network on a learner's drawings
(``engine.teach``'s module: ``from engine.teach import ...``). The engine never imports Qt.
"""
from engine.core.aliases import install as _install_aliases

# old import paths, kept for one release (the modules moved: docs/architecture.md)
__getattr__ = _install_aliases({
    'engine.bench': 'engine.cli.bench',
    'engine.bench_accuracy': 'engine.cli.bench_accuracy',
    'engine.bench_rounds': 'engine.cli.bench_rounds',
    'engine.checkpoint': 'engine.runs.checkpoint',
    'engine.cli_experiments': 'engine.cli.experiments',
    'engine.coach': 'engine.runs.coach',
    'engine.datasets': 'engine.data.formats',
    'engine.datasets._common': 'engine.data.formats._common',
    'engine.datasets.csvfile': 'engine.data.formats.csvfile',
    'engine.datasets.fit': 'engine.data.formats.fit',
    'engine.datasets.folder': 'engine.data.formats.folder',
    'engine.datasets.idx': 'engine.data.formats.idx',
    'engine.datasets.npz': 'engine.data.formats.npz',
    'engine.digits': 'engine.data.digits',
    'engine.drawings': 'engine.data.drawings',
    'engine.embedding': 'engine.understand.embedding',
    'engine.errors': 'engine.core.errors',
    'engine.execution': 'engine.core.execution',
    'engine.execution.plan': 'engine.core.execution.plan',
    'engine.execution.processes': 'engine.core.execution.processes',
    'engine.execution.worker': 'engine.core.execution.worker',
    'engine.experiment': 'engine.runs.experiment',
    'engine.explain': 'engine.understand.explain',
    'engine.explain_bench': 'engine.understand.bench',
    'engine.fields': 'engine.core.fields',
    'engine.io': 'engine.core.io',
    'engine.kernels': 'engine.core.kernels',
    'engine.layers': 'engine.core.layers',
    'engine.layers.base': 'engine.core.layers.base',
    'engine.layers.dotproducts': 'engine.core.layers.dotproducts',
    'engine.layers.dropout': 'engine.core.layers.dropout',
    'engine.layers.loss': 'engine.core.layers.loss',
    'engine.layers.nonlinearities': 'engine.core.layers.nonlinearities',
    'engine.layers.normalization': 'engine.core.layers.normalization',
    'engine.layers.pool': 'engine.core.layers.pool',
    'engine.limits': 'engine.core.limits',
    'engine.lrfind': 'engine.studies.lrfind',
    'engine.net': 'engine.core.net',
    'engine.options': 'engine.core.options',
    'engine.parallel': 'engine.core.parallel',
    'engine.presets': 'engine.runs.presets',
    'engine.race': 'engine.studies.race',
    'engine.schedules': 'engine.core.schedules',
    'engine.session': 'engine.runs.session_folder',
    'engine.settings': 'engine.runs.settings',
    'engine.snapshots': 'engine.runs.snapshots',
    'engine.spec': 'engine.core.spec',
    'engine.sweep': 'engine.studies.sweep',
    'engine.tasks': 'engine.core.tasks',
    'engine.teach': 'engine.runs.teach',
    'engine.teach_bench': 'engine.cli.teach_bench',
    'engine.trace': 'engine.core.trace',
    'engine.trainer': 'engine.core.trainer',
    'engine.training': 'engine.runs.run',
    'engine.unit_images': 'engine.understand.unit_images',
}, __name__)
from engine.core.errors import DataError, EngineError, LimitError, OptionError, SnapshotError, SpecError
from engine.core.net import Net
from engine.core.spec import expand, infer_shapes
from engine.core.trace import Trace
from engine.core.trainer import METHODS, Trainer
from engine.data import digits
from engine.runs.teach import teach
from engine.understand import explain

__all__ = ["Net", "Trace", "Trainer", "METHODS", "infer_shapes", "expand", "SpecError", "LimitError", "SnapshotError",
           "DataError", "EngineError", "OptionError", "digits", "explain", "teach"]

"""The app's state as a few models, each with its own signals and public methods.

``workbench.state.session.AppSession`` holds the document and the weights and owns the rest:
``session.data`` (the dataset: load, cancel, overview), ``session.training`` (Train, Pause,
Step, Stop: the run, its thread, its record, where the last run stopped, the folder runs are
kept in), ``session.predictions`` (Inspect, Draw, the gallery, Evaluate) and
``session.understanding``. Places connect each model's signals and call its methods
directly; the session re-emits none of them. See docs/architecture.md, "The app's state".
"""

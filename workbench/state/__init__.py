"""The app's state as a few models, each with its own signals and public methods.

``workbench.session.AppSession`` holds the document and the weights and composes them:
``session.data`` (the dataset: load, cancel, overview), ``session.training`` (the
run, its record, where the last run stopped, the folder runs are kept in),
``session.predictions`` (Inspect, Draw, the gallery, Evaluate) and
``session.understanding``. See docs/architecture.md, "The app's state".
"""

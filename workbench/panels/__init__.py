"""The panels of the main window; each can be run on its own: ``python -m workbench.panels.NAME``."""

"""The convnet-workbench desktop application."""

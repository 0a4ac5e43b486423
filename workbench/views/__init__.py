"""The places of the window (one folder each, ``place.py`` its main widget) and the widgets
several places share."""

"""The main window: the shell that puts the places, menus and status bar together.
"""

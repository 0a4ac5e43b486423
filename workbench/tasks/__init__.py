"""Plain-data work the app hands to background jobs: no Qt here.
"""

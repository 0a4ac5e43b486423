"""Data: the dataset box, the dataset dialogs and the place that shows the dataset in use."""

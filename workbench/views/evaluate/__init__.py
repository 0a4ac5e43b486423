"""Evaluate: test accuracy, the confusion matrix and the examples behind each cell."""

"""Draw: the canvas, the 28x28 digit the network sees, the probabilities as you draw."""

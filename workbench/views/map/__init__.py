"""Map: a layer's activations for thousands of images, laid out by t-SNE or PCA."""

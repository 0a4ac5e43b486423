"""Build: the palette, the stack of layer cards, their properties and the JSON tab."""

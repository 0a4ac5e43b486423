"""Why the network says what it says: explanations, unit images and the embedding map.
"""

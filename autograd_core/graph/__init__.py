"""The recorded graph: nodes, the one traversal, the backward engine, the inverse-neuron rules."""

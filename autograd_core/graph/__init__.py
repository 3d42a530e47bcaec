"""The recorded graph: nodes, the one traversal, the backward engine and the inverse-neuron rules."""

"""Pictures of the computation graph and of training.

This package will hold the graph model (forward graph, backward "inverse network", neuron-level
view), its rendering with Graphviz, and matplotlib plots of training. It depends on
``autograd_core`` only (it may use ``nn`` to group nodes into layers and neurons), and nothing
else in the project imports it.
"""

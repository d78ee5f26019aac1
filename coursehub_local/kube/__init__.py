"""A small stateful Kubernetes API server that real helm, kubectl and the Python client work against."""

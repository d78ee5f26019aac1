"""What stands behind each EKS cluster of the local stack: a Kubernetes API and controllers doing what EKS does."""

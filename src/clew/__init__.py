"""clew: a GitOps engine for Kubernetes."""

"""What starts a reconcile: webhook pushes, reconcile requests, drift of managed objects."""

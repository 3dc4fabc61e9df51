"""plan: pair desired with live objects, default namespaces, order stages, diff."""

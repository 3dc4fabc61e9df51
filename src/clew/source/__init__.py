"""source: resolve a Git ref (or take a local directory) and hand out an immutable snapshot."""

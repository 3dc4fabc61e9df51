"""apply: staged server-side apply, the ApplySet inventory, and prune."""

"""render: a snapshot path to plain objects — plain YAML/JSON trees, Kustomize, Helm."""

// The pod sandbox's pause process (what registry.k8s.io/pause runs), built here because no
// registry is reachable: it holds the Pod's namespaces and reaps zombies until it is stopped.
module clew.dev/tools/pause

go 1.26.0

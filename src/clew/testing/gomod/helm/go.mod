// Wrapper module: builds the helm CLI from helm.sh/helm/v3 with every dependency pinned by the
// go.sum beside this file (the render stage's tests run the real helm, like the control plane).
module clew.dev/tools/helm

go 1.26.0

require helm.sh/helm/v3 v3.22.0

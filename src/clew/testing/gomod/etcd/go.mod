// Wrapper module: builds etcd from go.etcd.io/etcd/server/v3, whose own go.mod has replace
// directives that make `go install ...@version` refuse it.
module clew.dev/tools/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.16

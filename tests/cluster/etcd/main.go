// Command etcd is the etcd server, built from the go.etcd.io/etcd/server/v3 version that the pinned
// Kubernetes release requires (so the API server is tested against the etcd it is released with).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

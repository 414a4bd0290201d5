// SPDX-License-Identifier: GPL-3.0-or-later

// Command etcd runs etcd's own entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

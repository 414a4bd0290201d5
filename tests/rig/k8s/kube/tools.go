// SPDX-License-Identifier: GPL-3.0-or-later

//go:build tools

// Package tools names the commands this module builds, so that `go mod tidy` keeps
// what they need. build.sh builds them in one `go build` invocation.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

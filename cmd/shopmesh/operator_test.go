package main

import (
	"os"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// deploy/nats/users.conf, which nats.conf and the cluster include, is the
// services' plans as they are now (go generate ./... rewrites it).
func TestNATSUsersFileIsCurrent(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/nats/users.conf")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != natsauth.Config(allPlans(defaultConfig())) {
		t.Fatal("deploy/nats/users.conf is stale: run go generate ./...")
	}
}

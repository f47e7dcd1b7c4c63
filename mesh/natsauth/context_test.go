package natsauth_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// The context is where the nats CLI reads it, with the field names it
// reads, and only its owner may read the password in it.
func TestContextIsWhereTheNATSCLIFindsIt(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	want := natsauth.Context{Description: "test", URL: "nats://127.0.0.1:4222", User: natsauth.Admin, Password: "secret"}
	path, err := natsauth.WriteContext("shopmesh", want)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "nats", "context", "shopmesh.json") {
		t.Fatalf("written to %s", path)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("context file %v, mode %v", err, info.Mode())
	}
	b, _ := os.ReadFile(path)
	var fields map[string]string
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["url"] != want.URL || fields["user"] != want.User || fields["password"] != want.Password {
		t.Fatalf("context fields %v", fields)
	}
	got, found, err := natsauth.ReadContext("shopmesh")
	if err != nil || !found || got != want {
		t.Fatalf("read back %+v %v %v", got, found, err)
	}
	if _, found, err := natsauth.ReadContext("other"); found || err != nil {
		t.Fatalf("a missing context: %v %v", found, err)
	}
}

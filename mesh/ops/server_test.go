package ops_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/ops"
)

// The embedded server says at once why it cannot start.
func TestStartServerSaysWhyItCannotStart(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		opts ops.ServerOptions
		want string
	}{
		"client port taken":  {ops.ServerOptions{Addr: taken.Addr().String(), StoreDir: t.TempDir()}, "NATS address " + taken.Addr().String() + " is not free"},
		"monitor port taken": {ops.ServerOptions{Addr: "127.0.0.1:0", MonitorAddr: taken.Addr().String(), StoreDir: t.TempDir()}, "NATS monitoring address"},
		"storage is a file":  {ops.ServerOptions{Addr: "127.0.0.1:0", StoreDir: file}, "JetStream storage " + file},
	}
	for name, c := range cases {
		s, err := ops.StartServer(c.opts)
		if err == nil {
			s.Shutdown()
			t.Errorf("%s: started", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", name, err, c.want)
		}
	}
}

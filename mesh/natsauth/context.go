package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Context is a nats CLI context: where the server is and who to be. The
// shop writes one for its operator user, so that `nats --context shopmesh
// stream ls` and the shopmesh tools find the embedded server and its
// generated password without anyone copying them.
type Context struct {
	Description string `json:"description"`
	URL         string `json:"url"`
	User        string `json:"user"`
	Password    string `json:"password"`
}

// ContextPath is where the nats CLI looks for the context called name:
// $XDG_CONFIG_HOME/nats/context, or ~/.config/nats/context (also on macOS,
// where the CLI does not follow the platform's own config directory).
func ContextPath(name string) (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("nats context: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "nats", "context", name+".json"), nil
}

// WriteContext writes c as the context called name, readable by its owner
// only: it holds a password.
func WriteContext(name string, c Context) (string, error) {
	path, err := ContextPath(name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("nats context: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("nats context: %w", err)
	}
	return path, os.Rename(tmp, path)
}

// ReadContext reads the context called name; ok is false when there is
// none.
func ReadContext(name string) (c Context, ok bool, err error) {
	path, err := ContextPath(name)
	if err != nil {
		return c, false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("nats context %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, false, fmt.Errorf("nats context %s: %w", path, err)
	}
	return c, true, nil
}

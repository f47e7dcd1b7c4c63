package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
)

// A command's log line is an error only when the runtime failed it; a
// rule's refusal, or a command cut short by its context (the service
// stopping), is not something an operator must look into.
func TestCommandLogLevels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{nil, "debug"},
		{errors.New("out of stock"), "info"},
		{fmt.Errorf("%w: %w", ErrWrite, context.Canceled), "info"},
		{fmt.Errorf("%w: %w", ErrWrite, errors.New("no responders")), "error"},
		{ErrConflict, "error"},
		{ErrProjectionStopped, "error"},
		{context.DeadlineExceeded, "error"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		logCommand(context.Background(), zerolog.New(&out).Level(zerolog.DebugLevel), "orders.place", c.err, 0)
		var line struct{ Level string }
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Level != c.want {
			t.Errorf("%v: logged at %s, want %s", c.err, line.Level, c.want)
		}
	}
}

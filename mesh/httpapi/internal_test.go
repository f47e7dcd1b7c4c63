package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
)

// A service's own failure reaches the client as a bare 500, so its cause
// must be in the log: the one place it is known.
func TestInternalLogsTheCauseOfThe500(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	err := httpapi.Internal(context.Background(), zerolog.New(&log), errors.New("the disk is on fire"))
	var se huma.StatusError
	if !errors.As(err, &se) || se.GetStatus() != http.StatusInternalServerError {
		t.Fatalf("answer %v, want a 500", err)
	}
	if strings.Contains(err.Error(), "disk") {
		t.Fatalf("the 500 %q tells the client the cause", err)
	}
	if !strings.Contains(log.String(), "the disk is on fire") {
		t.Fatalf("log %q does not give the cause", log.String())
	}
}

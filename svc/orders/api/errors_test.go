package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/orders/app"
)

// A query that fails for a reason no problem names is answered with a bare
// 500; its cause is in the log, or nowhere.
func TestAnUnexpectedErrorIsLoggedBeforeThe500(t *testing.T) {
	t.Parallel()
	_, api := humatest.New(t)
	var log bytes.Buffer
	failing := mesh.QueryFunc[app.GetOrder, app.View](func(context.Context, app.GetOrder) (app.View, error) {
		return app.View{}, errors.New("the read model is on fire")
	})
	Register(api, app.Application{Queries: app.Queries{Get: failing}}, httpapi.NewCustomerTokens("test-admin-token"), httpapi.NewFollowers(nil), zerolog.New(&log))

	if resp := api.Get("/orders/o1"); resp.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", resp.Code, resp.Body)
	}
	if !strings.Contains(log.String(), "the read model is on fire") {
		t.Fatalf("log %q does not give the cause", log.String())
	}
}

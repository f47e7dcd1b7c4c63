package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
)

// problem is the one place where inventory's errors become HTTP problems.
func (h handlers) problem(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, app.ErrUnknownProduct), errors.Is(err, app.ErrNotFound):
		return huma.Error404NotFound("no such product")
	case errors.Is(err, app.ErrBelowReserved):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, app.ErrNoChange):
		return huma.Error422UnprocessableEntity("invalid adjustment", &huma.ErrorDetail{Location: "body.delta", Message: "must not be 0"})
	case errors.Is(err, app.ErrTooMuch):
		return huma.Error422UnprocessableEntity(err.Error())
	case errors.Is(err, app.ErrBadReason):
		return huma.Error422UnprocessableEntity("invalid adjustment", &huma.ErrorDetail{Location: "body.reason", Message: err.Error()})
	case errors.Is(err, paging.ErrBadCursor):
		return huma.Error400BadRequest("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	case mesh.Retryable(err):
		return httpapi.Unavailable("inventory")
	}
	return httpapi.Internal(ctx, h.log, err)
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/orders/app"
)

// problem is the one place where the orders service's errors become HTTP
// problems. An error none of them names is the service's own failure: the
// client gets a bare 500, so its cause is logged here, where it is known.
func (h handlers) problem(ctx context.Context, err error) error {
	var field *app.FieldError
	var busy *mesh.Busy
	switch {
	case errors.As(err, &busy):
		retry := strconv.Itoa(int(busy.RetryAfter.Round(time.Second).Seconds()))
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(
			fmt.Sprintf("the shop is busy: %d orders are open and about %.0f end per second, so a new one could not be paid before it expires; try again in %s s", busy.Open, busy.Rate, retry)),
			http.Header{"Retry-After": {retry}})
	case errors.As(err, &field):
		return huma.Error422UnprocessableEntity("invalid order", &huma.ErrorDetail{
			Location: "body." + field.Field, Message: field.Message,
		})
	case errors.Is(err, app.ErrNotFound):
		return huma.Error404NotFound("no such order")
	case errors.Is(err, app.ErrNotCancellable):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, app.ErrIdempotencyMismatch):
		return huma.Error422UnprocessableEntity(err.Error(), &huma.ErrorDetail{
			Location: "header.Idempotency-Key", Message: "already used for an order with a different body",
		})
	case errors.Is(err, paging.ErrBadCursor):
		return huma.Error400BadRequest("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	case mesh.Retryable(err):
		return httpapi.Unavailable("orders")
	}
	return httpapi.Internal(ctx, h.log, err)
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

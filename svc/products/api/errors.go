package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/products/app"
)

// problem is the one place where the catalog's errors become HTTP problems.
func (h handlers) problem(ctx context.Context, err error) error {
	var field *app.FieldError
	switch {
	case errors.As(err, &field):
		return huma.Error422UnprocessableEntity("invalid product", &huma.ErrorDetail{
			Location: "body." + field.Field, Message: field.Message,
		})
	case errors.Is(err, app.ErrNotFound):
		return huma.Error404NotFound("no such product")
	case errors.Is(err, app.ErrSKUTaken), errors.Is(err, app.ErrAlreadyExists):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, app.ErrStaleVersion):
		return huma.Error412PreconditionFailed(err.Error())
	case errors.Is(err, paging.ErrBadCursor):
		return huma.Error400BadRequest("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	case mesh.Retryable(err):
		return httpapi.Unavailable("the catalog")
	}
	// The cause is logged by the command pipeline, not shown to callers.
	return httpapi.Internal(ctx, h.log, err)
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

// noVersion is what an If-Match naming none of this service's entity tags
// asks for: it can never match, so the write fails with 412 (RFC 9110,
// 13.1.1), whatever the tag's form.
const noVersion = -1

// parseIfMatch returns the version an If-Match header names: 0 for none or
// "*" (any), the first strong tag in it that is one of ours, or noVersion.
// A weak tag never matches, as If-Match compares strongly. (A list naming
// two of our versions is taken at its first: clients send one tag, the
// ETag they read.)
func parseIfMatch(h string) int64 {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
			continue
		}
		if v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return noVersion
}

func toMoney(p Price) events.Money { return events.Money{Amount: p.Amount, Currency: p.Currency} }

package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/products/domain"
)

var errBadIfMatch = errors.New(`If-Match must be an ETag such as "3"`)

// problem is the one place where the catalog's errors become HTTP problems.
func problem(err error) error {
	var field *domain.FieldError
	switch {
	case errors.As(err, &field):
		return huma.Error422UnprocessableEntity("invalid product", &huma.ErrorDetail{
			Location: "body." + field.Field, Message: field.Message,
		})
	case errors.Is(err, domain.ErrNotFound):
		return huma.Error404NotFound("no such product")
	case errors.Is(err, domain.ErrSKUTaken), errors.Is(err, domain.ErrAlreadyExists):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, domain.ErrStaleVersion):
		return huma.Error412PreconditionFailed(err.Error())
	case errors.Is(err, errBadIfMatch):
		return huma.Error400BadRequest(err.Error(), &huma.ErrorDetail{Location: "header.If-Match", Message: err.Error()})
	case errors.Is(err, mesh.ErrBadCursor):
		return huma.Error400BadRequest("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	case errors.Is(err, mesh.ErrConflict):
		return huma.Error503ServiceUnavailable("the catalog is busy; try again")
	}
	// The cause is logged by the command pipeline, not shown to callers.
	return huma.Error500InternalServerError("internal error")
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

// parseIfMatch returns the version an If-Match header names; 0 means any.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "W/")
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, errBadIfMatch
	}
	return v, nil
}

func toMoney(p Price) events.Money { return events.Money{Amount: p.Amount, Currency: p.Currency} }

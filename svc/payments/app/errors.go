package app

import "github.com/shopmesh/shopmesh/svc/payments/domain"

// The errors the use cases return, which the api turns into HTTP problems.
// They are the domain's own (errors.Is matches them), named here so that
// the api depends on the application alone.
var (
	ErrNotFound      = domain.ErrNotFound
	ErrNotRefundable = domain.ErrNotRefundable
)

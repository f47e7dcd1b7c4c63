package app

import "github.com/shopmesh/shopmesh/svc/inventory/domain"

// The errors the use cases return, which the api turns into HTTP problems.
// They are the domain's own (errors.Is matches them), named here so that
// the api depends on the application alone.
var (
	ErrUnknownProduct = domain.ErrUnknownProduct
	ErrBelowReserved  = domain.ErrBelowReserved
	ErrNoChange       = domain.ErrNoChange
	ErrTooMuch        = domain.ErrTooMuch
	ErrBadReason      = domain.ErrBadReason
)

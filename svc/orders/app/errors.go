package app

import "github.com/shopmesh/shopmesh/svc/orders/domain"

// What the api sees of the domain: the errors the use cases return, which
// it turns into HTTP problems, and the types and checks of their input.
// They are the domain's own (errors.Is and errors.As match them), named
// here so that the api depends on the application alone.
var (
	ErrNotFound            = domain.ErrNotFound
	ErrNotCancellable      = domain.ErrNotCancellable
	ErrIdempotencyMismatch = domain.ErrIdempotencyMismatch
)

type (
	// Line is one product and quantity of an order to place.
	Line = domain.Line
	// FieldError is an order that breaks a rule, with the field at fault.
	FieldError = domain.FieldError
)

// ValidCustomer reports whether id may name a customer.
func ValidCustomer(id string) bool { return domain.ValidCustomer(id) }

package app

import "github.com/shopmesh/shopmesh/svc/products/domain"

// What the api sees of the domain: the errors the use cases return, which
// it turns into HTTP problems, and the type of their input. They are the
// domain's own (errors.Is and errors.As match them), named here so that
// the api depends on the application alone.
var (
	ErrNotFound      = domain.ErrNotFound
	ErrAlreadyExists = domain.ErrAlreadyExists
	ErrSKUTaken      = domain.ErrSKUTaken
	ErrStaleVersion  = domain.ErrStaleVersion
)

type (
	// Draft is the editable fields of a product to create or update.
	Draft = domain.Draft
	// FieldError is a draft that breaks a rule, with the field at fault.
	FieldError = domain.FieldError
)

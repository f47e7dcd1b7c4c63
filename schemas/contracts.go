package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// Contracts is what a reader holds each event to: the checked-in schema
// of its type, save that a field the schema does not name is tolerated
// (ADR 12: a newer producer may add one). A missing field, a null, a
// value of the wrong type, a negative amount or a currency that is not
// one breaks it. The runtime asks it before any projection applies an
// event or any reaction handles one (mesh.Contracts), and sets aside what
// breaks it.
type Contracts struct {
	shapes map[string]*shape
	// reasons are the same schemas compiled by the validator, which says
	// why a body does not fit its shape.
	reasons *Validator
}

// NewContracts compiles the checked-in schemas for readers. It fails if a
// schema says something its shape cannot check.
func NewContracts() (*Contracts, error) {
	docs, err := checkedDocs()
	if err != nil {
		return nil, err
	}
	c := &Contracts{shapes: make(map[string]*shape, len(docs))}
	for eventType, doc := range docs {
		if c.shapes[eventType], err = compileShape(doc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", eventType, err)
		}
	}
	if c.reasons, err = newValidator(true); err != nil {
		return nil, err
	}
	return c, nil
}

// Check returns why body breaks the contract of eventType, or nil. A type
// with no schema (a message that is not an event, an event of a newer
// producer) breaks nothing here: readers skip it (ADR 12).
func (c *Contracts) Check(eventType string, body []byte) error {
	s, ok := c.shapes[eventType]
	if !ok || s.fits(body) {
		return nil
	}
	// A shape is as strict as its schema, or stricter (a property named
	// twice): the validator has the last word, and says why.
	return c.reasons.reason(eventType, body)
}

// reason is why body breaks the schema of eventType, on one line (it goes
// in a dead letter's header), or nil when it does not.
func (v *Validator) reason(eventType string, body []byte) error {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: the body is not JSON: %w", eventType, err)
	}
	var invalid *validator.ValidationError
	if err := v.byType[eventType].Validate(doc); errors.As(err, &invalid) {
		return fmt.Errorf("%s: %s", eventType, strings.Join(leaves(invalid), "; "))
	} else if err != nil {
		return fmt.Errorf("%s: %w", eventType, err)
	}
	return nil
}

// leaves are the causes at the bottom of a validation error, each
// "at '<where>': <what>".
func leaves(e *validator.ValidationError) []string {
	if len(e.Causes) == 0 {
		return []string{e.Error()}
	}
	var out []string
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

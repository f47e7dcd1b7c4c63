package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"

	"github.com/buger/jsonparser"
)

// shape is what one schema requires of a JSON value, compiled from the
// part of JSON Schema the generator writes: types, properties, required
// properties, array items, minimum and pattern. It checks a body in a
// single pass over its bytes, without building a document, which a
// general validator does (about 45 µs an event, where this takes a few):
// every reader checks every event it reads, and the saga reads about
// twenty-five an order. A keyword it does not know fails its compilation,
// so that a schema never says more than the readers check.
type shape struct {
	kind     string // "object", "array", "string", "integer", "number" or "boolean"
	props    map[string]property
	required int // how many properties are required; each has its bit
	items    *shape
	minimum  *big.Rat
	pattern  *regexp.Regexp
}

// property is the shape of one property of an object, and its bit among
// the required ones (-1 when it may be left out).
type property struct {
	shape *shape
	bit   int
}

// ignored are keywords that ask nothing of a reader's value: names and
// notes, formats (which, as for the validator, annotate and do not
// assert), and additionalProperties, which a reader does not hold a
// producer to: a field added by a newer producer is tolerated (ADR 12).
var ignored = map[string]bool{
	"$schema": true, "$id": true, "title": true, "description": true, "format": true, "additionalProperties": true,
}

// kinds are the types a shape checks.
var kinds = map[string]bool{"object": true, "array": true, "string": true, "integer": true, "number": true, "boolean": true}

// compileShape compiles a schema document, as encoding/json reads it
// with numbers kept as json.Number.
func compileShape(doc map[string]any) (*shape, error) {
	s := &shape{}
	kind, ok := doc["type"].(string)
	if !ok {
		return nil, fmt.Errorf("type %v is not one type", doc["type"])
	}
	if !kinds[kind] {
		return nil, fmt.Errorf("type %q is not checked by readers", kind)
	}
	s.kind = kind
	for key, v := range doc {
		if err := s.compileKeyword(key, v, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return s, nil
}

func (s *shape) compileKeyword(key string, v any, doc map[string]any) error {
	switch key {
	case "properties":
		return s.compileProperties(v, doc["required"])
	case "required":
		if _, ok := doc["properties"].(map[string]any); !ok {
			return errors.New("required without properties")
		}
		return nil // compiled with the properties
	case "items":
		return s.compileItems(v)
	case "minimum":
		return s.compileMinimum(v)
	case "pattern":
		return s.compilePattern(v)
	}
	if key == "type" || ignored[key] {
		return nil
	}
	return errors.New("readers do not check this keyword")
}

func (s *shape) compileItems(v any) error {
	doc, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%v is not a schema", v)
	}
	var err error
	s.items, err = compileShape(doc)
	return err
}

func (s *shape) compileMinimum(v any) error {
	n, ok := v.(json.Number)
	if ok {
		s.minimum, ok = new(big.Rat).SetString(n.String())
	}
	if !ok {
		return fmt.Errorf("%v is not a number", v)
	}
	return nil
}

func (s *shape) compilePattern(v any) error {
	p, ok := v.(string)
	if !ok {
		return fmt.Errorf("%v is not a pattern", v)
	}
	var err error
	s.pattern, err = regexp.Compile(p)
	return err
}

func (s *shape) compileProperties(v, required any) error {
	props, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%v is not a map of schemas", v)
	}
	s.props = make(map[string]property, len(props))
	for name, p := range props {
		doc, ok := p.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not a schema", name, p)
		}
		sub, err := compileShape(doc)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.props[name] = property{shape: sub, bit: -1}
	}
	return s.compileRequired(required)
}

func (s *shape) compileRequired(v any) error {
	if v == nil {
		return nil
	}
	names, ok := v.([]any)
	if !ok || len(names) > 64 {
		return fmt.Errorf("required %v is not a list of at most 64 names", v)
	}
	for _, n := range names {
		name, _ := n.(string)
		p, ok := s.props[name]
		if !ok || p.bit >= 0 {
			return fmt.Errorf("required %q is not a property, or is named twice", n)
		}
		p.bit = s.required
		s.props[name] = p
		s.required++
	}
	return nil
}

// fits reports whether body, a whole event, keeps the shape. A body that
// is not JSON does not.
func (s *shape) fits(body []byte) bool {
	if !json.Valid(body) {
		return false
	}
	v, t, _, err := jsonparser.Get(body)
	return err == nil && s.fitsValue(v, t)
}

// fitsValue checks one value, as jsonparser gives it: a string without
// its quotes, anything else as written.
func (s *shape) fitsValue(v []byte, t jsonparser.ValueType) bool {
	switch s.kind {
	case "object":
		return t == jsonparser.Object && s.fitsObject(v)
	case "array":
		return t == jsonparser.Array && s.fitsArray(v)
	case "string":
		return t == jsonparser.String && s.fitsString(v)
	case "integer":
		return t == jsonparser.Number && isInteger(v) && s.fitsMinimum(v)
	case "number":
		return t == jsonparser.Number && s.fitsMinimum(v)
	case "boolean":
		return t == jsonparser.Boolean
	}
	return false
}

// fitsObject checks each property it knows, and that every required one
// is there. A property it does not know is a producer's newer field, and
// left alone (ADR 12). A property named twice must fit both times, which
// is stricter than the validator (it keeps the last); Contracts.Check
// asks the validator before it refuses.
func (s *shape) fitsObject(v []byte) bool {
	var seen uint64
	ok := true
	err := jsonparser.ObjectEach(v, func(key, value []byte, t jsonparser.ValueType, _ int) error {
		p, known := s.props[string(key)]
		if !known {
			return nil
		}
		if !p.shape.fitsValue(value, t) {
			ok = false
			return errMisfit
		}
		if p.bit >= 0 {
			seen |= 1 << p.bit
		}
		return nil
	})
	return ok && err == nil && seen == 1<<s.required-1
}

// errMisfit stops a walk at the first value that does not fit.
var errMisfit = errors.New("does not fit")

func (s *shape) fitsArray(v []byte) bool {
	ok := true
	_, err := jsonparser.ArrayEach(v, func(value []byte, t jsonparser.ValueType, _ int, _ error) {
		if ok && s.items != nil {
			ok = s.items.fitsValue(value, t)
		}
	})
	return ok && err == nil
}

func (s *shape) fitsString(v []byte) bool {
	if s.pattern == nil {
		return true
	}
	str, err := jsonparser.ParseString(v)
	return err == nil && s.pattern.MatchString(str)
}

// fitsMinimum compares a number with the minimum exactly, as the
// validator does: in integers while both fit in 64 bits, else as
// fractions.
func (s *shape) fitsMinimum(v []byte) bool {
	if s.minimum == nil {
		return true
	}
	if s.minimum.IsInt() && s.minimum.Num().IsInt64() && isPlainInteger(v) {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n >= s.minimum.Num().Int64()
		}
	}
	r, ok := new(big.Rat).SetString(string(v))
	return ok && r.Cmp(s.minimum) >= 0
}

// isInteger reports whether a JSON number is a whole one, however it is
// written (1.0 and 1e2 are, as JSON Schema counts them).
func isInteger(v []byte) bool {
	if isPlainInteger(v) {
		return true
	}
	r, ok := new(big.Rat).SetString(string(v))
	return ok && r.IsInt()
}

// isPlainInteger reports whether v is written as digits alone, maybe
// after a minus sign.
func isPlainInteger(v []byte) bool {
	digits := bytes.TrimPrefix(v, []byte("-"))
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

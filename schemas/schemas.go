// Package schemas holds the JSON Schema of every event and the AsyncAPI
// document of the mesh, generated from the Go contracts in package events
// (and, for the AsyncAPI document's receivers, the services' plans) and
// checked in, so that services written in other languages can validate
// what they read. Run `go generate ./...` after changing an event or a
// plan; a test fails while the files are out of date.
//
// The schemas hold a producer to what it writes, no field more
// (additionalProperties: false; Validator). A reader holds an event to
// them but tolerates fields a newer producer adds (ADR 12): Contracts,
// which the runtime checks every event against before it is applied.
package schemas

//go:generate go run ./gen

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
	"github.com/nats-io/nats.go/jetstream"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
)

//go:embed *.json
var files embed.FS

// FileName is the schema file of an event type.
func FileName(eventType string) string { return eventType + ".json" }

// Generate returns the schema document of every event, keyed by file
// name. The AsyncAPI document is generated apart (AsyncAPI), as it needs
// the services' plans.
func Generate() (map[string][]byte, error) {
	out := make(map[string][]byte)
	for _, e := range events.All() {
		data, err := generate(e)
		if err != nil {
			return nil, err
		}
		out[FileName(e.EventType())] = data
	}
	return out, nil
}

func generate(e events.Event) ([]byte, error) {
	r := &jsonschema.Reflector{ExpandedStruct: true, DoNotReference: true}
	s := r.ReflectFromType(reflect.TypeOf(e))
	s.ID = jsonschema.ID("https://shopmesh.dev/schemas/" + FileName(e.EventType()))
	s.Title = e.EventType()
	s.Description = "Body of the " + e.EventType() + " event."
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", e.EventType(), err)
	}
	return append(data, '\n'), nil
}

// Checked returns the checked-in event schema files, keyed by file name.
func Checked() (map[string][]byte, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && strings.HasPrefix(e.Name(), "shopmesh.") {
			if out[e.Name()], err = files.ReadFile(e.Name()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// CheckedAsyncAPI returns the checked-in AsyncAPI document.
func CheckedAsyncAPI() ([]byte, error) { return files.ReadFile(AsyncAPIFile) }

// Validator checks event bodies against the checked-in schemas.
type Validator struct {
	byType map[string]*validator.Schema
}

// NewValidator compiles every checked-in schema.
func NewValidator() (*Validator, error) { return newValidator(false) }

// newValidator compiles every checked-in schema; a tolerant one lets an
// object have properties its schema does not name, as a reader must
// (ADR 12).
func newValidator(tolerant bool) (*Validator, error) {
	docs, err := checkedDocs()
	if err != nil {
		return nil, err
	}
	c := validator.NewCompiler()
	v := &Validator{byType: make(map[string]*validator.Schema)}
	for eventType, doc := range docs {
		if tolerant {
			tolerate(doc)
		}
		name := FileName(eventType)
		if err := c.AddResource(name, doc); err != nil {
			return nil, err
		}
		if v.byType[eventType], err = c.Compile(name); err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
	}
	return v, nil
}

// checkedDocs reads every checked-in event schema, by event type, as
// the validator reads JSON (numbers kept as json.Number).
func checkedDocs() (map[string]map[string]any, error) {
	checked, err := Checked()
	if err != nil {
		return nil, err
	}
	docs := make(map[string]map[string]any, len(checked))
	for name, data := range checked {
		doc, err := validator.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("schema %s is not an object", name)
		}
		docs[strings.TrimSuffix(name, ".json")] = m
	}
	return docs, nil
}

// tolerate removes additionalProperties from a schema and the schemas of
// its properties and items: the keywords through which the generator
// nests them (the readers' shapes refuse any other).
func tolerate(schema map[string]any) {
	delete(schema, "additionalProperties")
	if props, ok := schema["properties"].(map[string]any); ok {
		for _, p := range props {
			if p, ok := p.(map[string]any); ok {
				tolerate(p)
			}
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		tolerate(items)
	}
}

// Validate checks one event body against the schema of its type.
func (v *Validator) Validate(eventType string, body []byte) error {
	s, ok := v.byType[eventType]
	if !ok {
		return fmt.Errorf("no schema for event type %q", eventType)
	}
	doc, err := validator.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: body is not JSON: %w", eventType, err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%s: %w", eventType, err)
	}
	return nil
}

// ValidateStream checks every message in a stream against its schema.
func (v *Validator) ValidateStream(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	n := 0
	err := mesh.ReadStream(ctx, js, stream, "", func(m jetstream.Msg) error {
		if err := v.Validate(m.Headers().Get("ce-type"), m.Data()); err != nil {
			return fmt.Errorf("%s: %w", m.Subject(), err)
		}
		n++
		return nil
	})
	return n, err
}

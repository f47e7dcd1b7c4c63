package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// The OpenAPI documents are what clients are generated from and what the
// try-it pages run, so they are linted like code: every operation named
// and explained, every error with an example that fits its status, every
// example valid against its schema, and names code generators can use.
func TestOpenAPIDocumentsLint(t *testing.T) {
	t.Parallel()
	s, c := ephemeralShop(t)
	cfg := s.cfg
	operationIDs := map[string]string{}
	schemas := map[string]any{}
	documents := []string{"console"} // the console's API, beside the services'
	for _, svc := range allServices(cfg) {
		documents = append(documents, svc.Name())
	}
	for _, doc := range documents {
		name := doc + "/openapi.json"
		data := c.Do(http.MethodGet, "/"+name, nil, nil).Expect(http.StatusOK).Body
		l := newLinter(t, name, data)
		l.servers(s.httpURL)
		l.operations(operationIDs)
		l.schemaNames(schemas)
		l.examples()
	}
}

// linter checks one document.
type linter struct {
	t    *testing.T
	name string
	doc  map[string]any
	c    *validator.Compiler
}

func newLinter(t *testing.T, name string, data []byte) *linter {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	raw, err := validator.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := validator.NewCompiler()
	if err := c.AddResource(name, raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &linter{t: t, name: name, doc: doc, c: c}
}

func (l *linter) errorf(format string, args ...any) {
	l.t.Helper()
	l.t.Errorf(l.name+": "+format, args...)
}

// servers: try-it calls the shop that served the document.
func (l *linter) servers(want string) {
	servers, _ := l.doc["servers"].([]any)
	if len(servers) == 0 {
		l.errorf("no servers")
		return
	}
	if url := servers[0].(map[string]any)["url"]; url != want {
		l.errorf("server %v, want %s (where the document was read)", url, want)
	}
}

// operation is one operation of the document, with its JSON pointer.
type operation struct {
	ptr, method, path string
	op                map[string]any
}

func (l *linter) eachOperation() []operation {
	var ops []operation
	paths, _ := l.doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if m, ok := op.(map[string]any); ok && method != "parameters" {
				ops = append(ops, operation{ptr: pointer("paths", path, method), method: method, path: path, op: m})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ptr < ops[j].ptr })
	return ops
}

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// operations: an operationId (camelCase, unique across the shop), a
// summary, a description and tags; every 4xx and 5xx answers a problem
// with an example.
func (l *linter) operations(seen map[string]string) {
	for _, o := range l.eachOperation() {
		where := strings.ToUpper(o.method) + " " + o.path
		id, _ := o.op["operationId"].(string)
		switch {
		case !camelCase.MatchString(id):
			l.errorf("%s: operationId %q is not camelCase", where, id)
		case seen[id] != "":
			l.errorf("%s: operationId %q also names %s", where, id, seen[id])
		}
		seen[id] = where
		for _, field := range []string{"summary", "description"} {
			if text, _ := o.op[field].(string); strings.TrimSpace(text) == "" {
				l.errorf("%s: no %s", where, field)
			}
		}
		if tags, _ := o.op["tags"].([]any); len(tags) == 0 {
			l.errorf("%s: no tags", where)
		}
		l.problems(o, where)
	}
}

// problems: every error response is a problem document with examples of
// its own status.
func (l *linter) problems(o operation, where string) {
	responses, _ := o.op["responses"].(map[string]any)
	if _, ok := responses["default"]; ok {
		l.errorf("%s: a default response instead of its errors", where)
	}
	for code, r := range responses {
		status, _ := strconv.Atoi(code)
		if status < 400 {
			continue
		}
		content, _ := r.(map[string]any)["content"].(map[string]any)
		mt, _ := content["application/problem+json"].(map[string]any)
		if mt == nil {
			l.errorf("%s %s: not application/problem+json", where, code)
			continue
		}
		examples := mediaExamples(mt)
		if len(examples) == 0 {
			l.errorf("%s %s: no problem example", where, code)
		}
		for _, ex := range examples {
			p, _ := ex.(map[string]any)
			if p["status"] != float64(status) || p["title"] != http.StatusText(status) || p["detail"] == "" {
				l.errorf("%s %s: example %v does not fit the status", where, code, ex)
			}
		}
	}
}

var pascalCase = regexp.MustCompile(`^[A-Z][a-zA-Z0-9]*$`)

// schemaNames: PascalCase, and one name is one schema across the shop, so
// clients generated from several documents do not get two types of a name.
func (l *linter) schemaNames(seen map[string]any) {
	components, _ := l.doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name, s := range schemas {
		if !pascalCase.MatchString(name) {
			l.errorf("schema name %q is not PascalCase", name)
		}
		if other, ok := seen[name]; ok && !reflect.DeepEqual(other, s) {
			l.errorf("schema %s differs from another document's %s", name, name)
		}
		seen[name] = s
	}
}

// examples: every request body has an example, and every example of a
// body, a parameter, a response or a schema's property is valid against
// the schema it illustrates.
func (l *linter) examples() {
	for _, o := range l.eachOperation() {
		where := strings.ToUpper(o.method) + " " + o.path
		if body, ok := o.op["requestBody"].(map[string]any); ok {
			mt, _ := body["content"].(map[string]any)["application/json"].(map[string]any)
			if len(mediaExamples(mt)) == 0 {
				l.errorf("%s: request body without an example", where)
			}
			l.check(where+" request", o.ptr+"/requestBody/content/application~1json/schema", mediaExamples(mt))
		}
		params, _ := o.op["parameters"].([]any)
		for i, p := range params {
			pm := p.(map[string]any)
			l.check(fmt.Sprintf("%s parameter %v", where, pm["name"]), fmt.Sprintf("%s/parameters/%d/schema", o.ptr, i), mediaExamples(pm))
		}
		responses, _ := o.op["responses"].(map[string]any)
		for code, r := range responses {
			content, _ := r.(map[string]any)["content"].(map[string]any)
			for ct, mt := range content {
				l.check(where+" "+code, pointer("paths", o.path, o.method, "responses", code, "content", ct, "schema"), mediaExamples(mt.(map[string]any)))
			}
		}
	}
	components, _ := l.doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name, s := range schemas {
		l.schemaExamples(name, pointer("components", "schemas", name), s.(map[string]any))
	}
}

// schemaExamples checks the examples of a schema and of its parts.
func (l *linter) schemaExamples(where, ptr string, s map[string]any) {
	if ex, ok := s["examples"].([]any); ok {
		l.check(where, ptr, ex)
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		if pm, ok := p.(map[string]any); ok {
			l.schemaExamples(where+"."+name, ptr+"/properties/"+escape(name), pm)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		l.schemaExamples(where+"[]", ptr+"/items", items)
	}
}

// check validates examples against the schema at ptr in the document.
func (l *linter) check(where, ptr string, examples []any) {
	if len(examples) == 0 {
		return
	}
	schema, err := l.c.Compile(l.name + "#" + ptr)
	if err != nil {
		l.errorf("%s: schema %s: %v", where, ptr, err)
		return
	}
	for _, ex := range examples {
		if err := schema.Validate(ex); err != nil {
			l.errorf("%s: example %v is not valid: %v", where, ex, err)
		}
	}
}

// mediaExamples are the example values of a media type or a parameter.
// Numbers are float64, as the validator takes them.
func mediaExamples(mt map[string]any) []any {
	var out []any
	if ex, ok := mt["example"]; ok {
		out = append(out, ex)
	}
	named, _ := mt["examples"].(map[string]any)
	for _, ex := range named {
		if v, ok := ex.(map[string]any)["value"]; ok {
			out = append(out, v)
		}
	}
	return out
}

// pointer is the JSON pointer of the given keys.
func pointer(keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("/" + escape(k))
	}
	return b.String()
}

func escape(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

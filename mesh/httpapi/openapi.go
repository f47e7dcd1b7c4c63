package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
	"github.com/shopmesh/shopmesh/mesh/paging"
)

// The OpenAPI documents are the services' contract with their callers and
// the source of every generated client, so they show what the shop really
// answers: a server to try them on, and for each error status an example
// of the problem document that comes back.

// problemJSON is the media type of every error response (RFC 9457).
const problemJSON = "application/problem+json"

// Problem is an example of an error an operation answers with, shown in
// its OpenAPI document under the response of its status.
type Problem struct {
	Status int
	Detail string
	// Errors locate what was wrong in the request, as validation does.
	Errors []*huma.ErrorDetail
}

// problemsKey holds an operation's examples of problems in its Metadata.
const problemsKey = "shopmesh.problems"

// Problems are examples of what an operation answers when it fails, to set
// as its Metadata. A status the operation lists without an example here
// gets the service's (ServiceDoc.Problems), else one made for the status.
func Problems(examples ...Problem) map[string]any {
	return map[string]any{problemsKey: examples}
}

// Example is a request body's example, to set as an operation's
// RequestBody: Huma adds the schema of the body to it. The value is a Go
// value of the body's type, so the example always has the body's shape
// (and the documents' test checks it against the schema).
func Example(summary string, value any) *huma.RequestBody {
	return &huma.RequestBody{Content: map[string]*huma.MediaType{
		"application/json": {Examples: map[string]*huma.Example{"example": {Summary: summary, Value: value}}},
	}}
}

// documentErrors completes an operation's error responses for its
// document. It runs as a group modifier, after Huma has made a response
// of each status in op.Errors, and may run twice on the same operation.
func documentErrors(service []Problem) func(op *huma.Operation) {
	return func(op *huma.Operation) {
		addResponses(op)
		own, _ := op.Metadata[problemsKey].([]Problem)
		for code, resp := range op.Responses {
			status, err := strconv.Atoi(code)
			if err != nil || status < 400 || resp.Content[problemJSON] == nil {
				continue
			}
			resp.Content[problemJSON].Example = nil
			resp.Content[problemJSON].Examples = problemExamples(pick(status, own, service, op))
		}
	}
}

// addResponses documents the errors every operation of its kind can
// answer, whatever its handler does: 401 without the token its security
// asks for, 413 and 415 for a body too big or not JSON (readBodies).
func addResponses(op *huma.Operation) {
	errResp := op.Responses[strconv.Itoa(http.StatusInternalServerError)]
	if errResp == nil {
		return // no errors declared: Huma shows a default one
	}
	add := func(status int) {
		if op.Responses[strconv.Itoa(status)] == nil {
			op.Responses[strconv.Itoa(status)] = &huma.Response{
				Description: http.StatusText(status),
				Content:     map[string]*huma.MediaType{problemJSON: {Schema: errResp.Content[problemJSON].Schema}},
			}
		}
	}
	if len(op.Security) > 0 {
		add(http.StatusUnauthorized)
	}
	if op.RequestBody != nil {
		add(http.StatusRequestEntityTooLarge)
		add(http.StatusUnsupportedMediaType)
	}
}

// pick returns the examples of status: the operation's own, else the
// service's, else one that fits the status and the operation.
func pick(status int, own, service []Problem, op *huma.Operation) []Problem {
	for _, list := range [][]Problem{own, service} {
		var out []Problem
		for _, p := range list {
			if p.Status == status {
				out = append(out, p)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []Problem{fitting(status, op)}
}

// fitting is an example of status for op when none was given: the details
// are those the shop's own code answers with.
func fitting(status int, op *huma.Operation) Problem {
	p := Problem{Status: status, Detail: http.StatusText(status)}
	switch status {
	case http.StatusBadRequest:
		p.Detail = "invalid cursor"
		p.Errors = []*huma.ErrorDetail{{Location: "query.cursor", Message: paging.ErrBadCursor.Error(), Value: "not-a-cursor"}}
	case http.StatusUnauthorized:
		p.Detail = unauthorized(op.Security)
	case http.StatusRequestTimeout, http.StatusRequestEntityTooLarge:
		_, p.Detail = bodyProblem(exampleBodyError(status))
	case http.StatusUnsupportedMediaType:
		p.Detail = notJSON("application/x-www-form-urlencoded")
	case http.StatusUnprocessableEntity:
		p.Detail = "validation failed"
		p.Errors = invalidParameter(op)
	case http.StatusInternalServerError:
		p.Detail = "internal error"
	case http.StatusServiceUnavailable:
		p.Detail = "the shop is busy; try again"
	}
	return p
}

// exampleBodyError is the error reading a body gives for status.
func exampleBodyError(status int) error {
	if status == http.StatusRequestEntityTooLarge {
		return &http.MaxBytesError{Limit: MaxBodyBytes}
	}
	return timeoutError{}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// invalidParameter is how Huma's validation answers a bad value of op's
// first parameter with a pattern or a maximum.
func invalidParameter(op *huma.Operation) []*huma.ErrorDetail {
	for _, p := range op.Parameters {
		switch s := p.Schema; {
		case s == nil:
		case s.Pattern != "":
			return []*huma.ErrorDetail{{Location: p.In + "." + p.Name, Message: "expected string to match pattern " + s.Pattern, Value: "not an id!"}}
		case s.Maximum != nil:
			return []*huma.ErrorDetail{{Location: p.In + "." + p.Name, Message: fmt.Sprintf("expected number <= %v", *s.Maximum), Value: *s.Maximum * 10}}
		}
	}
	return nil
}

// problemExamples are the examples of one response, named by their order.
func problemExamples(ps []Problem) map[string]*huma.Example {
	out := make(map[string]*huma.Example, len(ps))
	for i, p := range ps {
		name := "problem"
		if len(ps) > 1 {
			name = fmt.Sprintf("problem%d", i+1)
		}
		out[name] = &huma.Example{Summary: p.Detail, Value: huma.ErrorModel{
			Title: http.StatusText(p.Status), Status: p.Status, Detail: p.Detail, Errors: p.Errors,
		}}
	}
	return out
}

// serveSpec serves the service's OpenAPI document at prefix/openapi.json
// and .yaml (and their OpenAPI 3.0 forms), in place of Huma's: each
// request gets a document whose server is the shop as that request
// reached it, so try-it and generated clients call the right address,
// whatever --http-addr or a proxy in front says.
func (h *HTTP) serveSpec(prefix string, api huma.API) {
	forms := []struct {
		suffix, contentType string
		render              func(*huma.OpenAPI) ([]byte, error)
	}{
		{".json", "application/openapi+json", func(o *huma.OpenAPI) ([]byte, error) { return json.Marshal(o) }},
		{".yaml", "application/openapi+yaml", (*huma.OpenAPI).YAML},
		{"-3.0.json", "application/openapi+json", (*huma.OpenAPI).Downgrade},
		{"-3.0.yaml", "application/openapi+yaml", (*huma.OpenAPI).DowngradeYAML},
	}
	for _, f := range forms {
		h.mux.HandleFunc("GET "+prefix+"/openapi"+f.suffix, func(w http.ResponseWriter, r *http.Request) {
			doc := *api.OpenAPI() // a shallow copy: only the servers differ per request
			doc.Servers = []*huma.Server{{URL: baseURL(r), Description: "This shop, at the address your request reached (shopmesh run --http-addr)."}}
			data, err := f.render(&doc)
			if err != nil {
				WriteProblem(w, http.StatusInternalServerError, "the document could not be rendered")
				return
			}
			w.Header().Set("Content-Type", f.contentType)
			_, _ = w.Write(data)
		})
	}
}

// baseURL is the shop's address as the request reached it: behind a proxy
// that says so, the proxy's (X-Forwarded-Proto and -Host). A host that is
// not one gives "/", which OpenAPI reads as the document's own server.
func baseURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	u, err := url.Parse(scheme + "://" + host)
	if err != nil || host == "" || u.Host != host || u.User != nil || u.Path != "" || u.RawQuery != "" {
		return "/"
	}
	return u.String()
}

// tidyErrorModel registers the problem schema before any operation does,
// with examples of this shop in place of Huma's ("Property foo is
// required…", an example.com instance) that generated clients and
// try-it would otherwise show for every error.
func tidyErrorModel(registry huma.Registry) {
	registry.Schema(reflect.TypeFor[huma.ErrorModel](), true, "ErrorModel")
	s := registry.Map()["ErrorModel"]
	if s == nil {
		return
	}
	examples := map[string][]any{
		"title": {"Not Found"}, "status": {404}, "detail": {"no such product"},
		"type": nil, "instance": nil,
	}
	for name, ex := range examples {
		if p := s.Properties[name]; p != nil {
			p.Examples = ex
		}
	}
}

// AsyncAPI serves the mesh's AsyncAPI document (JSON) at /asyncapi.json,
// as YAML at /asyncapi.yaml, and links both from the landing page.
func (h *HTTP) AsyncAPI(doc []byte) {
	var b bytes.Buffer
	if err := yaml.Convert(&b, bytes.NewReader(doc)); err != nil {
		h.log.Error().Err(err).Msg("asyncapi.yaml not served")
	} else {
		h.serveBytes("/asyncapi.yaml", "application/yaml", b.Bytes())
	}
	h.serveBytes("/asyncapi.json", "application/json", doc)
	h.asyncAPI = true
}

func (h *HTTP) serveBytes(path, contentType string, data []byte) {
	h.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(data)
	})
}

package console

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
)

// SignUp is a new customer's name.
type SignUp struct {
	Name string `json:"name" minLength:"1" maxLength:"40" example:"Alice" doc:"What to call the customer: a letter or digit, then letters, digits, spaces, '.', '_' or '-'."`
}

// NewCustomer is a customer made at sign-up, and their token.
type NewCustomer struct {
	CustomerID string    `json:"customerId" example:"alice-k3f9q2mx" doc:"The name, with a suffix no one chose: a customer id no one had before."`
	Token      string    `json:"token" doc:"Send it as Authorization: Bearer <token>."`
	ExpiresAt  time.Time `json:"expiresAt"`
}

type signUpOutput struct{ Body NewCustomer }

func (c *Console) registerCustomers(api huma.API, tags []string) {
	huma.Register(api, huma.Operation{
		OperationID: "signUp", Method: http.MethodPost, Path: "/console/customers",
		Summary: "Become a new customer (demo shop only)",
		Description: "Makes a customer id no one had before from the name (the name and a random suffix) and " +
			"returns a day's token for it. A token for an existing customer needs the admin " +
			"(POST /orders/customer-tokens), so signing up gives no one another's orders. Open only in the demo shop " +
			"(shopmesh run --demo); 403 otherwise.",
		Tags: tags, DefaultStatus: http.StatusCreated,
		RequestBody: httpapi.Example("Alice signs up", SignUp{Name: "Alice"}),
		Errors:      []int{http.StatusForbidden, http.StatusUnprocessableEntity},
		Metadata: httpapi.Problems(httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "invalid name",
			Errors: []*huma.ErrorDetail{{Location: "body.name", Message: nameRule}}}),
	}, c.signUp)
}

func (c *Console) signUp(_ context.Context, in *struct{ Body SignUp }) (*signUpOutput, error) {
	if !c.opts.Demo {
		return nil, huma.Error403Forbidden("sign-up is open only in the demo shop (shopmesh run --demo); " +
			"ask the admin for a token (POST /orders/customer-tokens)")
	}
	slug, ok := customerSlug(in.Body.Name)
	if !ok {
		return nil, huma.Error422UnprocessableEntity("invalid name", &huma.ErrorDetail{
			Location: "body.name", Message: nameRule, Value: in.Body.Name})
	}
	id := slug + "-" + strings.ToLower(rand.Text()[:8])
	token, expires := c.opts.Tokens.Issue(id, 24*time.Hour, time.Now())
	return &signUpOutput{Body: NewCustomer{CustomerID: id, Token: token, ExpiresAt: expires}}, nil
}

// nameRule is what customerSlug takes: what a customer id is made of, and
// a first character a customer id may start with.
const nameRule = "start with a letter or digit, then use letters, digits, spaces, '.', '_' or '-'"

// customerSlug is name as the start of a customer id: lower case, with
// dashes for spaces. It starts with a letter or a digit, as a customer id
// must: the orders service refuses any other, and a customer signed up as
// "-alice-k3f9q2mx" could not place an order.
func customerSlug(name string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() == 0:
			return "", false
		case r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

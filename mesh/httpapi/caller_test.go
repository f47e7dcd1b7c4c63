package httpapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/httpapi"
)

func TestCustomerTokens(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tokens := httpapi.NewCustomerTokens("the-admin-token-of-the-shop")
	good, expires := tokens.Issue("alice", time.Hour, now)
	if !expires.After(now) {
		t.Fatalf("expires %v", expires)
	}
	if who, err := tokens.Verify(good, now); err != nil || who != "alice" {
		t.Fatalf("verify = %q %v", who, err)
	}
	payload, sig, _ := strings.Cut(strings.TrimPrefix(good, "smc1."), ".")
	otherShop, _ := httpapi.NewCustomerTokens("another-admin-token-entirely").Issue("alice", time.Hour, now)
	bobs, _ := tokens.Issue("bob", time.Hour, now)
	bobPayload, _, _ := strings.Cut(strings.TrimPrefix(bobs, "smc1."), ".")
	cases := map[string]struct {
		token string
		at    time.Time
	}{
		"expired":               {good, now.Add(2 * time.Hour)},
		"from another shop":     {otherShop, now},
		"payload swapped":       {"smc1." + bobPayload + "." + sig, now},
		"signature cut":         {"smc1." + payload + "." + sig[:10], now},
		"no prefix":             {strings.TrimPrefix(good, "smc1."), now},
		"empty":                 {"", now},
		"the admin token":       {"the-admin-token-of-the-shop", now},
		"garbage after the dot": {"smc1." + payload + ".!!!", now},
	}
	for name, c := range cases {
		if _, err := tokens.Verify(c.token, c.at); !errors.Is(err, httpapi.ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
}

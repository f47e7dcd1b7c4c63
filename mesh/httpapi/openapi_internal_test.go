package httpapi

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

// The document's server is the shop as the caller reached it, so try-it
// works on any --http-addr and behind a proxy that says where it is.
func TestBaseURLIsWhereTheRequestCameIn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, host, proto, fwdHost string
		tls                        bool
		want                       string
	}{
		{name: "direct", host: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "tls", host: "shop.example:443", tls: true, want: "https://shop.example:443"},
		{name: "proxy", host: "orders:8080", proto: "https", fwdHost: "shop.example", want: "https://shop.example"},
		{name: "odd proto ignored", host: "localhost:8080", proto: "gopher", want: "http://localhost:8080"},
		{name: "not a host", host: "localhost:8080", fwdHost: "evil.example/path?x", want: "/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/orders/openapi.json", nil)
			r.Host = c.host
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
			if c.fwdHost != "" {
				r.Header.Set("X-Forwarded-Host", c.fwdHost)
			}
			if got := baseURL(r); got != c.want {
				t.Fatalf("baseURL = %q, want %q", got, c.want)
			}
		})
	}
}

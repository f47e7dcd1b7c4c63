package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// `shopmesh token` signs offline what the shop accepts.
func TestTokenCommandIssuesWhatTheShopAccepts(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	var out strings.Builder
	if err := tokenCommand([]string{"--admin-token", meshtest.AdminToken, "carol"}, &out); err != nil {
		t.Fatal(err)
	}
	carol := meshtest.NewClient(t, m.shop.httpURL)
	carol.Header = http.Header{"Authorization": {"Bearer " + strings.TrimSpace(out.String())}}
	carol.Do(http.MethodGet, "/orders", nil, nil).Expect(http.StatusOK)
	for _, bad := range [][]string{{"carol"}, {"--admin-token", "short", "carol"}, {"--admin-token", meshtest.AdminToken, "no spaces"}} {
		if err := tokenCommand(bad, &out); err == nil {
			t.Errorf("token %v accepted", bad)
		}
	}
}

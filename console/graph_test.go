package console

import (
	"slices"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory"
	"github.com/shopmesh/shopmesh/svc/orders"
	"github.com/shopmesh/shopmesh/svc/payments"
	"github.com/shopmesh/shopmesh/svc/payments/gateway"
	"github.com/shopmesh/shopmesh/svc/products"
)

func TestSubjectsMatchLikeNATS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		filter, subject string
		want            bool
	}{
		{"orders.order.*.placed", "orders.order.X.placed", true},
		{"orders.order.*.placed", "orders.order.X.confirmed", false},
		{"orders.order.*.placed", "orders.order.placed", false},
		{"products.>", "products.product.P.created", true},
		{"products.>", "products", false},
		{"orders.order.*", "orders.order.X.placed", false},
	}
	for _, c := range cases {
		if got := matches(c.filter, c.subject); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.filter, c.subject, got, c.want)
		}
	}
}

// The mesh is drawn from the services' plans: each reaction is an edge,
// each projection of another's stream too, and an event goes to the
// services whose edges take it.
func TestTheGraphIsDrawnFromThePlans(t *testing.T) {
	t.Parallel()
	var plans []mesh.Plan
	for _, s := range []mesh.Service{products.New(), inventory.New(), orders.New(orders.Config{}), payments.New(gateway.New(gateway.Options{}))} {
		plans = append(plans, s.Plan())
	}
	g := newGraph(plans)
	want := map[string][]string{
		"orders.order.X.placed":            {"inventory"},
		"orders.order.X.stock_reserved":    {"payments"},
		"orders.order.X.cancelled":         {"inventory", "payments"},
		"inventory.reservation.X.accepted": {"orders"},
		"inventory.stock.P.reserved":       nil,
		"payments.payment.X.captured":      {"orders"},
		"products.product.P.created":       {"inventory", "orders"},
		"orders.timer.X":                   nil,
	}
	for subject, to := range want {
		got := g.receivers(subject)
		slices.Sort(got)
		if !slices.Equal(got, to) && !(len(got) == 0 && len(to) == 0) {
			t.Errorf("%s goes to %v, want %v", subject, got, to)
		}
	}
}

package subject

import "testing"

func TestOfBuildsFourTokens(t *testing.T) {
	t.Parallel()
	if got := Of("orders", "order", "O1", "placed"); got != "orders.order.O1.placed" {
		t.Fatalf("Of() = %q", got)
	}
	if got := Of("orders", "order", "O1", Any); got != "orders.order.O1.*" {
		t.Fatalf("Of() with Any = %q", got)
	}
	if got := EntityOf("orders", "order", "O1"); got != Entity(Of("orders", "order", "O1", "placed")) {
		t.Fatalf("EntityOf() = %q, not the entity of its subjects", got)
	}
}

// Every reading of a subject, on the shapes the mesh has: a four-token
// event, a three-token fired deadline, and subjects too short to name an
// entity.
func TestReadingASubject(t *testing.T) {
	t.Parallel()
	cases := []struct {
		subject                                    string
		entity, filter, service, id, pattern, with string
	}{
		{
			"orders.order.O1.placed",
			"orders.order.O1", "orders.order.O1.*", "orders", "O1", "orders.order.*.placed", "orders.order.{id}.placed",
		},
		{
			"inventory.stock.P1.reserved",
			"inventory.stock.P1", "inventory.stock.P1.*", "inventory", "P1", "inventory.stock.*.reserved", "inventory.stock.{id}.reserved",
		},
		{
			"orders.order..placed", // a zero value's subject: no id yet
			"orders.order.", "orders.order..*", "orders", "", "orders.order.*.placed", "orders.order.{id}.placed",
		},
		{
			"orders.deadline.O1",
			"orders.deadline.O1", "orders.deadline.O1.*", "orders", "O1", "orders.deadline.*", "orders.deadline.{id}",
		},
		{"orders.order", "orders.order", "orders.order.*", "orders", "", "orders.order", "orders.order"},
		{"orders", "orders", "orders.*", "orders", "", "orders", "orders"},
		{"", "", ".*", "", "", "", ""},
	}
	for _, c := range cases {
		if got := Entity(c.subject); got != c.entity {
			t.Errorf("Entity(%q) = %q, want %q", c.subject, got, c.entity)
		}
		if got := EntityFilter(c.subject); got != c.filter {
			t.Errorf("EntityFilter(%q) = %q, want %q", c.subject, got, c.filter)
		}
		if got := Service(c.subject); got != c.service {
			t.Errorf("Service(%q) = %q, want %q", c.subject, got, c.service)
		}
		if got := ID(c.subject); got != c.id {
			t.Errorf("ID(%q) = %q, want %q", c.subject, got, c.id)
		}
		if got := Pattern(c.subject); got != c.pattern {
			t.Errorf("Pattern(%q) = %q, want %q", c.subject, got, c.pattern)
		}
		if got := WithID(c.subject, "{id}"); got != c.with {
			t.Errorf("WithID(%q, {id}) = %q, want %q", c.subject, got, c.with)
		}
	}
}

// A subject built by Of reads back as the parts it was built from.
func TestOfReadsBack(t *testing.T) {
	t.Parallel()
	s := Of("payments", "payment", "O7", "captured")
	if Service(s) != "payments" || ID(s) != "O7" || Entity(s) != "payments.payment.O7" {
		t.Fatalf("%q reads back as service %q, id %q, entity %q", s, Service(s), ID(s), Entity(s))
	}
	if EntityFilter(s) != Of("payments", "payment", "O7", Any) {
		t.Fatalf("EntityFilter(%q) = %q", s, EntityFilter(s))
	}
}

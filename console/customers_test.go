package console

import "testing"

// A customer id starts with a letter or a digit, or the orders service
// refuses it: a name that would start one otherwise is refused at sign-up,
// instead of giving a token that can place no order.
func TestCustomerSlug(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, slug string
		ok         bool
	}{
		{"Alice", "alice", true},
		{"  Mary Ann-Smith_2.0 ", "mary-ann-smith_2.0", true},
		{"7 dwarfs", "7-dwarfs", true},
		{"\u212a", "k", true}, // the Kelvin sign is a K in lower case
		{"-alice", "", false},
		{".bob", "", false},
		{"_x", "", false},
		{"---", "", false},
		{"Al!ce", "", false},
		{"Zoë", "", false},
		{"   ", "", false},
	}
	for _, c := range cases {
		if slug, ok := customerSlug(c.name); slug != c.slug || ok != c.ok {
			t.Errorf("customerSlug(%q) = %q, %t; want %q, %t", c.name, slug, ok, c.slug, c.ok)
		}
	}
}

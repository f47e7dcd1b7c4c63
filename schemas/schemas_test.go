package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
)

func TestCheckedInSchemasAreCurrent(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Checked()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s is out of date: run go generate ./...", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s has no event type any more: run go generate ./...", name)
		}
	}
}

func TestValidatorRejectsWrongBodies(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(events.ProductDeleted{ProductID: "p1"})
	cases := []struct {
		name, eventType, body string
		ok                    bool
	}{
		{"valid", events.ProductDeleted{}.EventType(), string(good), true},
		{"missing field", events.ProductDeleted{}.EventType(), `{}`, false},
		{"unknown field", events.ProductDeleted{}.EventType(), `{"productId":"p","extra":1}`, false},
		{"wrong type", events.ProductDeleted{}.EventType(), `{"productId":7}`, false},
		{"unknown event type", "shopmesh.nothing.v1", `{}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Validate(c.eventType, []byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("Validate() error = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// A reaction whose filter matches no channel would be missing from the
// document: generating it fails instead.
func TestAsyncAPIRefusesAFilterWithoutAChannel(t *testing.T) {
	ok := Receiver{Service: "orders", Durable: "orders-timers", Stream: "ORDERS", Subjects: []string{events.DeadlineSubject("*")}}
	if _, err := AsyncAPI([]Receiver{ok}); err != nil {
		t.Fatal(err)
	}
	bad := Receiver{Service: "orders", Durable: "orders-odd", Stream: "ORDERS", Subjects: []string{"orders.nothing.*"}}
	if _, err := AsyncAPI([]Receiver{bad}); err == nil {
		t.Fatal("a filter matching no channel was accepted")
	}
}

func TestSubjectMatches(t *testing.T) {
	cases := []struct {
		filter, subject string
		want            bool
	}{
		{"orders.order.*.placed", "orders.order.ID.placed", true},
		{"orders.order.*.placed", "orders.order.ID.confirmed", false},
		{"orders.>", "orders.order.ID.placed", true},
		{"orders.deadline.*", "orders.deadline.ID", true},
		{"orders.deadline.*", "orders.deadline.ID.x", false},
		{"orders.*", "orders", false},
	}
	for _, c := range cases {
		if got := subjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v", c.filter, c.subject, got)
		}
	}
}

// The pattern a reaction subscribes with for an event type matches that
// event's channel and no other, so each receive operation of the document
// sits on the channel of the events the reaction handles.
func TestAsyncAPIChannelsAreTheEventsPatterns(t *testing.T) {
	chans := allChannels()
	for _, e := range events.All() {
		pattern := events.Pattern(e)
		var matched []string
		for _, ch := range chans {
			if subjectMatches(pattern, strings.ReplaceAll(ch.address, "{id}", "ID")) {
				matched = append(matched, ch.key)
			}
		}
		if len(matched) != 1 || matched[0] != channelKey(e.EventType()) {
			t.Errorf("%s (%s) matches channels %v", pattern, e.EventType(), matched)
		}
	}
}

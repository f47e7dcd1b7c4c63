package schemas

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/subject"
)

// AsyncAPIFile is the AsyncAPI 3.0 document of the whole mesh. It is
// written by `go generate ./...` from cmd/shopmesh, which knows the
// services' plans (this package cannot import the services).
const AsyncAPIFile = "asyncapi.json"

// Receiver is a durable consumer through which a service reacts to the
// events on Subjects (NATS filters) of Stream: a mesh.Durable of its
// plan, passed in by the caller, so the document cannot drift from what
// is provisioned.
type Receiver struct {
	Service  string
	Durable  string
	Stream   string
	Subjects []string
}

// channel is one subject pattern of the mesh and its one message.
type channel struct {
	key, address, description string
	message                   map[string]any
}

// AsyncAPI describes every event as a channel (its subject pattern), a
// message (its schema file) and a send operation of the owning service,
// and each subject a receiver filters on as a receive operation of its
// service. A filter that matches no channel is an error: the document
// would hide a reaction.
func AsyncAPI(receivers []Receiver) ([]byte, error) {
	chans := allChannels()
	channels, messages, operations := map[string]any{}, map[string]any{}, map[string]any{}
	for _, ch := range chans {
		messages[ch.key] = ch.message
		channels[ch.key] = map[string]any{
			"address": ch.address, "description": ch.description,
			"parameters": map[string]any{"id": map[string]string{"description": "The entity's id: a product for products and stock, an order otherwise."}},
			"messages":   map[string]any{ch.key: ref("#/components/messages/" + ch.key)},
		}
		if ch.key == deadlineKey {
			continue // JetStream publishes it
		}
		sender := subject.Service(ch.address)
		operations["send_"+ch.key] = operation("send", ch.key, sender, "Published by the "+sender+" service.", "")
	}
	for _, r := range receivers {
		if err := addReceives(operations, chans, r); err != nil {
			return nil, err
		}
	}
	doc := map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{
			"title": "ShopMesh event mesh", "version": "1.0.0",
			"description": "Every event of the four services, who publishes it and who reacts to it through which " +
				"durable consumer. Metadata rides in NATS headers (CloudEvents binary mode: ce-id, ce-type, ce-source, " +
				"ce-time, ce-correlationid, ce-causationid, traceparent).",
		},
		"defaultContentType": "application/json",
		"channels":           channels,
		"operations":         operations,
		"components":         map[string]any{"messages": messages},
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	return append(data, '\n'), err
}

// deadlineKey is the channel of fired payment deadlines, which JetStream
// publishes (from the order's timer), not a service.
const deadlineKey = "orders_deadline"

// allChannels are the channels of every event of the registry, each at
// its own subject with the id as a parameter, and of the order's payment
// deadline: a timer orders schedules and the message JetStream publishes
// when it fires, which orders reacts to.
func allChannels() []channel {
	var out []channel
	for _, e := range events.All() {
		out = append(out, channel{
			key: channelKey(e.EventType()), address: subject.WithID(e.EventSubject(), "{id}"),
			description: "The " + e.EventType() + " event.",
			message: map[string]any{
				"name": e.EventType(), "contentType": "application/json",
				"payload": ref(FileName(e.EventType())),
			},
		})
	}
	deadline := map[string]any{
		"type": "object", "required": []string{"orderId"}, "additionalProperties": false,
		"properties": map[string]any{"orderId": map[string]string{"type": "string"}},
	}
	return append(out,
		channel{
			key: "orders_timer", address: events.TimerSubject("{id}"),
			description: "An order's payment deadline, scheduled when it is placed (a JetStream scheduled message: Nats-Schedule @at, Nats-Schedule-Target orders.deadline.{id}).",
			message:     map[string]any{"name": "orders.timer", "contentType": "application/json", "payload": deadline},
		},
		channel{
			key: deadlineKey, address: events.DeadlineSubject("{id}"),
			description: "An order's payment deadline, published by JetStream when its timer fires.",
			message:     map[string]any{"name": "orders.deadline", "contentType": "application/json", "payload": deadline},
		})
}

// channelKey names the channel of an event type:
// "shopmesh.orders.order.placed.v1" is on "orders_order_placed".
func channelKey(eventType string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(eventType, "shopmesh."), ".v1")
	return strings.ReplaceAll(name, ".", "_")
}

// addReceives adds a receive operation of r's service for each channel
// one of r's filters matches.
func addReceives(operations map[string]any, chans []channel, r Receiver) error {
	for _, filter := range r.Subjects {
		matched := false
		for _, ch := range chans {
			if !subjectMatches(filter, strings.ReplaceAll(ch.address, "{id}", "ID")) {
				continue
			}
			matched = true
			desc := fmt.Sprintf("Through the durable pull consumer %s on the stream %s (filters: %s), shared by "+
				"the service's replicas, so each message is handled once per service; acknowledged once the "+
				"command it causes is stored and retried until then; a malformed message is set aside in DEADLETTER.", r.Durable, r.Stream, strings.Join(sorted(r.Subjects), ", "))
			op := operation("receive", ch.key, r.Service, "The "+r.Service+" service reacts through "+r.Durable+".", desc)
			op["x-shopmesh-durable"] = map[string]any{"name": r.Durable, "stream": r.Stream, "filterSubjects": r.Subjects}
			operations["receive_"+strings.ReplaceAll(r.Durable, "-", "_")+"_"+ch.key] = op
		}
		if !matched {
			return fmt.Errorf("asyncapi: %s of %s filters %s, which no channel matches", r.Durable, r.Service, filter)
		}
	}
	return nil
}

func operation(action, key, service, summary, description string) map[string]any {
	op := map[string]any{
		"action":   action,
		"channel":  ref("#/channels/" + key),
		"summary":  summary,
		"tags":     []map[string]string{{"name": service}},
		"messages": []map[string]string{ref("#/channels/" + key + "/messages/" + key)},
	}
	if description != "" {
		op["description"] = description
	}
	return op
}

func ref(to string) map[string]string { return map[string]string{"$ref": to} }

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// subjectMatches reports whether a NATS filter (with * and >) matches a
// subject.
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

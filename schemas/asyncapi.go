package schemas

import (
	"encoding/json"
	"strings"

	"github.com/shopmesh/shopmesh/events"
)

// AsyncAPIFile is the AsyncAPI 3.0 document of the whole mesh.
const AsyncAPIFile = "asyncapi.json"

// AsyncAPI describes every event as a channel (its subject pattern), a
// message (its schema file) and a send operation of the owning service.
func AsyncAPI() ([]byte, error) {
	channels, messages, operations := map[string]any{}, map[string]any{}, map[string]any{}
	for _, e := range events.All() {
		name := strings.TrimSuffix(strings.TrimPrefix(e.EventType(), "shopmesh."), ".v1")
		key := strings.ReplaceAll(name, ".", "_")
		messages[key] = map[string]any{
			"name": e.EventType(), "contentType": "application/json",
			"payload": map[string]string{"$ref": FileName(e.EventType())},
		}
		channels[key] = map[string]any{
			"address":    addressOf(name),
			"parameters": map[string]any{"id": map[string]string{"description": "The entity's id: a product for products and stock, an order otherwise."}},
			"messages":   map[string]any{key: map[string]string{"$ref": "#/components/messages/" + key}},
		}
		operations["send_"+key] = map[string]any{
			"action":   "send",
			"channel":  map[string]string{"$ref": "#/channels/" + key},
			"summary":  "Published by the " + strings.SplitN(name, ".", 2)[0] + " service.",
			"messages": []map[string]string{{"$ref": "#/channels/" + key + "/messages/" + key}},
		}
	}
	doc := map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{
			"title": "ShopMesh event mesh", "version": "1.0.0",
			"description": "Every event of the four services. Metadata rides in NATS headers (CloudEvents binary mode: ce-id, ce-type, ce-source, ce-time, ce-correlationid, ce-causationid, traceparent).",
		},
		"defaultContentType": "application/json",
		"channels":           channels,
		"operations":         operations,
		"components":         map[string]any{"messages": messages},
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	return append(data, '\n'), err
}

// addressOf turns "orders.order.placed" into "orders.order.{id}.placed".
func addressOf(name string) string {
	parts := strings.Split(name, ".")
	return parts[0] + "." + parts[1] + ".{id}." + parts[2]
}

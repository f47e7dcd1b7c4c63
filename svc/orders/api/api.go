// Package api exposes orders over HTTP with Huma.
package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/orders/app"
)

// Money is an amount in integer minor units and its ISO 4217 currency.
type Money = events.Money

// Item is one line of an order with the price fixed at placement.
type Item struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice Money  `json:"unitPrice"`
}

// Order is an order as readers see it.
type Order struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customerId"`
	Items      []Item    `json:"items"`
	Total      Money     `json:"total"`
	Status     string    `json:"status" enum:"pending,awaiting_payment,confirmed,rejected,cancelled,expired"`
	Reason     string    `json:"reason,omitempty" doc:"Why the order was rejected, cancelled or expired."`
	PaymentID  string    `json:"paymentId,omitempty"`
	ExpiresAt  time.Time `json:"expiresAt" doc:"When an unpaid order expires."`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Version    int64     `json:"version"`
}

// OrderLine is a product and quantity in a new order.
type OrderLine struct {
	ProductID string `json:"productId" minLength:"1" maxLength:"64" pattern:"^[0-9A-Za-z_-]+$" doc:"A product's id, from GET /products." example:"01JQ3Z8M6W5T2V9R4K7XPN0B1C"`
	Quantity  int64  `json:"quantity" minimum:"1" maximum:"1000" example:"2"`
}

// NewOrder is what a customer sends to place an order.
type NewOrder struct {
	CustomerID   string      `json:"customerId,omitempty" maxLength:"100" example:"alice" doc:"Who orders. With a customer token, that customer: leave it out, or give the same. With the admin token, required."`
	Items        []OrderLine `json:"items" minItems:"1" maxItems:"50"`
	PaymentToken string      `json:"paymentToken" example:"tok_visa" doc:"tok_visa succeeds, tok_chargeDeclined declines."`
}

type orderOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Order
}

// OrderPath is the order id in an operation's path.
type OrderPath struct {
	ID string `path:"id" pattern:"^[0-9A-Za-z_-]{1,64}$" doc:"The order's id, from POST /orders or GET /orders."`
}

// exampleProduct is a product id as the catalog makes them (a ULID). No
// shop has it: the operations that take one say where to get a real one.
const exampleProduct = "01JQ3Z8M6W5T2V9R4K7XPN0B1C"

// Problems are examples of the orders service's errors, for its document.
var Problems = []httpapi.Problem{
	{Status: http.StatusNotFound, Detail: "no such order"},
	{Status: http.StatusConflict, Detail: app.ErrNotCancellable.Error()},
	{Status: http.StatusServiceUnavailable, Detail: "orders are busy; try again"},
}

// placeProblems are the ways placing an order fails.
var placeProblems = httpapi.Problems(
	httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "invalid order", Errors: []*huma.ErrorDetail{
		{Location: "body.items[0].productId", Message: "no such product: " + exampleProduct}}},
	httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: app.ErrIdempotencyMismatch.Error(), Errors: []*huma.ErrorDetail{
		{Location: "header.Idempotency-Key", Message: "already used for an order with a different body"}}},
	httpapi.Problem{Status: http.StatusForbidden, Detail: "a customer places orders for themselves only"},
	httpapi.Problem{Status: http.StatusServiceUnavailable, Detail: "the shop is busy: 1200 orders are open and about 1 end " +
		"per second, so a new one could not be paid before it expires; try again in 30 s"},
	httpapi.Problem{Status: http.StatusServiceUnavailable, Detail: "orders are busy; try again"},
)

// Register adds the orders operations to api; tokens issues customer
// tokens, and log gets the cause of every error answered with a 500.
// followers bounds the clients that follow the orders as they change.
func Register(api huma.API, a app.Application, tokens *httpapi.CustomerTokens, followers *httpapi.Followers, log zerolog.Logger) {
	h := handlers{app: a, tokens: tokens, log: log}
	tags := []string{"orders"}
	huma.Register(api, huma.Operation{
		OperationID: "placeOrder", Method: http.MethodPost, Path: "/orders", Summary: "Place an order",
		Description: "Places an order for the customer of the token (with the admin token, for the customerId in the " +
			"body). Each line names a product by its id: take one from GET /products (an item's `id`) and put it in " +
			"place of the example's, which no shop has, and give the product stock with PUT /inventory/{productId}. " +
			"The order is accepted as pending; follow it with GET /orders/{id} or GET /orders/changes until a " +
			"terminal status (confirmed, rejected, cancelled or expired). Send an Idempotency-Key to retry safely: " +
			"a retry with the same key returns the same order.",
		DefaultStatus: http.StatusAccepted, Tags: tags, Security: httpapi.CustomerSecurity,
		RequestBody: httpapi.Example("Two of a product for alice, paid by card", NewOrder{CustomerID: "alice",
			Items: []OrderLine{{ProductID: exampleProduct, Quantity: 2}}, PaymentToken: "tok_visa"}),
		Metadata: placeProblems,
		Errors:   []int{http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, h.place)
	huma.Register(api, huma.Operation{
		OperationID: "getOrder", Method: http.MethodGet, Path: "/orders/{id}", Summary: "Read an order",
		Description: "One order, with its status and why it ended. A customer reads only their own orders (another's " +
			"is 404, as if it did not exist); the admin reads any.",
		Tags: tags, Errors: []int{http.StatusNotFound}, Security: httpapi.CustomerSecurity,
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "listOrders", Method: http.MethodGet, Path: "/orders", Summary: "List orders, newest first",
		Description: "Orders a page at a time, newest first, optionally of one status. A customer lists their own " +
			"orders (naming another customer is 403); the admin lists anyone's, or one customer's with customerId.",
		Tags: tags, Errors: []int{http.StatusBadRequest, http.StatusForbidden}, Security: httpapi.CustomerSecurity,
		Metadata: httpapi.Problems(httpapi.Problem{Status: http.StatusForbidden, Detail: "a customer lists their own orders only"}),
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "cancelOrder", Method: http.MethodPost, Path: "/orders/{id}/cancel", Summary: "Cancel an order",
		Description: "Cancels an order that has not ended: the stock of an unpaid order is released, a confirmed " +
			"order is refunded. An order that has already ended is 409. A customer cancels only their own orders.",
		Tags: tags, Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
		Security: httpapi.CustomerSecurity,
	}, h.cancel)
	huma.Register(api, huma.Operation{
		OperationID: "getOrderTimeline", Method: http.MethodGet, Path: "/orders/{id}/timeline",
		Summary: "Every event of every service about an order",
		Description: "The order's saga as it happened: every event of orders, inventory and payments about this " +
			"order, in the order they were stored, with their subjects and bodies. A customer sees only their own orders'.",
		Tags: tags, Errors: []int{http.StatusNotFound}, Security: httpapi.CustomerSecurity,
	}, h.timeline)
	httpapi.RegisterStream(api, followers, huma.Operation{
		OperationID: "watchOrders", Method: http.MethodGet, Path: "/orders/changes",
		Summary: "Orders as they change, live (Server-Sent Events)",
		Description: "First a `watching` event, once changes are followed; then an `order` event with the whole order " +
			"each time one changes, for every order or those of one `id` or `customerId`. A client that falls far behind " +
			"(1,024 changes of any order), or does not take an event within 5 seconds, is disconnected rather than slowing " +
			"the shop down; reconnect and read the orders you follow once with GET /orders/{id}. " +
			"Each order's changes come in order, each once; one whose `version` is not above what GET gave you is older, " +
			"and can be passed over. A customer follows only their own orders. One client address follows at most 16 " +
			"streams of changes at once (429 beyond), and the shop at most 256 in all (503 beyond), both with a Retry-After " +
			"(shopmesh run --followers-per-address, --max-followers).",
		Tags: tags, Security: httpapi.CustomerSecurity, Errors: []int{http.StatusUnauthorized},
	}, map[string]any{"watching": Watching{}, "order": Order{}}, h.changes(), h.watch)
	huma.Register(api, huma.Operation{
		OperationID: "issueCustomerToken", Method: http.MethodPost, Path: "/orders/customer-tokens",
		Summary: "Issue a customer token (demo identity provider)",
		Description: "Signs a bearer token for a customer with a key derived from the admin token (admin). Customers " +
			"place, read, list, follow and cancel only their own orders with it: send it as Authorization: Bearer <token>.",
		Tags: tags, Security: httpapi.AdminSecurity,
		RequestBody: httpapi.Example("A day for alice", CustomerTokenRequest{CustomerID: "alice", TTLSeconds: 86400}),
		Metadata: httpapi.Problems(httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "invalid customer",
			Errors: []*huma.ErrorDetail{{Location: "body.customerId", Message: "must be 1-100 letters, digits, '.', '_', '@' or '-'"}}}),
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, h.issueToken)
}

// Watching opens a stream of order changes: every change after it is sent.
type Watching struct {
	ID         string `json:"id,omitempty"`
	CustomerID string `json:"customerId,omitempty"`
}

type watchInput struct {
	ID         string `query:"id" maxLength:"64" doc:"Only this order."`
	CustomerID string `query:"customerId" maxLength:"100" doc:"Only this customer's orders."`
}

// changes follows every order once for all their followers, each change
// encoded once; each follower keeps the orders it asked for.
func (h handlers) changes() *httpapi.Broadcast[app.View] {
	follow := func(ctx context.Context) <-chan app.View {
		changes, err := h.app.Queries.Watch.Handle(ctx, app.WatchOrders{})
		if err != nil {
			h.log.Warn().Err(err).Msg("cannot follow the orders")
			closed := make(chan app.View)
			close(closed)
			return closed
		}
		return changes
	}
	return httpapi.NewBroadcast("orders", "order", follow, func(v app.View) any { return toOrder(v) })
}

// watch follows the orders in asks for; a customer follows only their own.
func (h handlers) watch(ctx context.Context, in *watchInput) httpapi.Follow[Watching, app.View] {
	if caller := httpapi.CallerOf(ctx); !caller.Admin {
		in.CustomerID = caller.Customer
	}
	q := app.WatchOrders{ID: in.ID, CustomerID: in.CustomerID}
	return httpapi.Follow[Watching, app.View]{Watching: Watching(*in), Keep: q.Keeps}
}

type handlers struct {
	app    app.Application
	tokens *httpapi.CustomerTokens
	log    zerolog.Logger
}

type placeInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Retrying with the same key returns the same order; reusing it for another order is a 422."`
	Body           NewOrder
}

func (h handlers) place(ctx context.Context, in *placeInput) (*orderOutput, error) {
	customer, err := customerFor(httpapi.CallerOf(ctx), in.Body.CustomerID)
	if err != nil {
		return nil, err
	}
	in.Body.CustomerID = customer
	id := orderID(customer, in.IdempotencyKey)
	lines := make([]app.Line, len(in.Body.Items))
	for i, it := range in.Body.Items {
		lines[i] = app.Line{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	hash := requestHash(in.Body)
	cmd := app.PlaceOrder{
		// The cause names the body as well as the key: the same request
		// again makes the same event, which JetStream drops as a duplicate;
		// another body under the same key makes another event, which the
		// order's position refuses, and decided again it is a 422. With the
		// key alone, racing bodies made one event id, and every client was
		// told the winner's order was its own.
		RequestID: "place/" + id + "/" + hash[:16], OrderID: id, CustomerID: in.Body.CustomerID, Lines: lines,
		PaymentToken: in.Body.PaymentToken, RequestHash: hash,
	}
	if err := h.app.Commands.Place.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	out, err := h.read(ctx, id)
	if err == nil {
		out.Location = "/orders/" + id
	}
	return out, err
}

// customerFor is who an order is placed for: the customer of the token,
// or, with the admin token, the customer the body names.
func customerFor(caller httpapi.Caller, named string) (string, error) {
	switch {
	case caller.Admin && named == "":
		return "", huma.Error422UnprocessableEntity("invalid order", &huma.ErrorDetail{
			Location: "body.customerId", Message: "is required with the admin token"})
	case caller.Admin:
		return named, nil
	case named != "" && named != caller.Customer:
		return "", huma.Error403Forbidden("a customer places orders for themselves only")
	}
	return caller.Customer, nil
}

// orderID derives the order's id from the customer's Idempotency-Key, so
// every replica maps a retry to the same order; without a key each request
// is a new order.
func orderID(customerID, key string) string {
	if key == "" {
		return ulid.Make().String()
	}
	sum := sha256.Sum256([]byte(customerID + "\n" + key))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16])
}

func requestHash(o NewOrder) string {
	data, _ := json.Marshal(o)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (h handlers) get(ctx context.Context, in *OrderPath) (*orderOutput, error) {
	return h.read(ctx, in.ID)
}

// read returns an order the caller may see. Another customer's order is
// "not found", as if it did not exist.
func (h handlers) read(ctx context.Context, id string) (*orderOutput, error) {
	v, err := h.app.Queries.Get.Handle(ctx, app.GetOrder{ID: id})
	if err == nil && !httpapi.CallerOf(ctx).May(v.CustomerID) {
		err = app.ErrNotFound
	}
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &orderOutput{ETag: etag(v.Version), Body: toOrder(v)}, nil
}

type listInput struct {
	CustomerID string `query:"customerId" maxLength:"100" doc:"Only this customer's orders (the admin's filter; a customer's own orders anyway)."`
	Status     string `query:"status" enum:"pending,awaiting_payment,confirmed,rejected,cancelled,expired" doc:"Only orders in this status."`
	Cursor     string `query:"cursor" maxLength:"200" doc:"Opaque cursor from the previous page's nextCursor."`
	Limit      int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Orders per page."`
}

// OrderPage is one page of orders.
type OrderPage struct {
	Items      []Order `json:"items"`
	NextCursor string  `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type listOutput struct {
	Body OrderPage
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	if caller := httpapi.CallerOf(ctx); !caller.Admin {
		if in.CustomerID != "" && in.CustomerID != caller.Customer {
			return nil, huma.Error403Forbidden("a customer lists their own orders only")
		}
		in.CustomerID = caller.Customer
	}
	q := app.ListOrders{Filter: app.Filter{CustomerID: in.CustomerID, Status: in.Status}, Cursor: in.Cursor, Limit: in.Limit}
	page, err := h.app.Queries.List.Handle(ctx, q)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &listOutput{}
	out.Body.Items = make([]Order, 0, len(page.Items))
	for _, v := range page.Items {
		out.Body.Items = append(out.Body.Items, toOrder(v))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func (h handlers) cancel(ctx context.Context, in *OrderPath) (*orderOutput, error) {
	if _, err := h.read(ctx, in.ID); err != nil {
		return nil, err // not the caller's to cancel
	}
	cmd := app.CancelOrder{RequestID: ulid.Make().String(), OrderID: in.ID, Reason: "cancelled by the customer"}
	if err := h.app.Commands.Cancel.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.read(ctx, in.ID)
}

// Timeline is every event about an order, in the order they were stored.
type Timeline struct {
	OrderID string          `json:"orderId"`
	Events  []TimelineEvent `json:"events"`
}

// TimelineEvent is one event of an order's timeline.
type TimelineEvent struct {
	Time        time.Time       `json:"time" doc:"When the event was stored."`
	Service     string          `json:"service" doc:"The service that published it."`
	Type        string          `json:"type" doc:"Its CloudEvents type." example:"shopmesh.orders.order.placed.v1"`
	Subject     string          `json:"subject" doc:"Its NATS subject."`
	Stream      string          `json:"stream"`
	Sequence    uint64          `json:"sequence" doc:"Its sequence in the stream."`
	Data        json.RawMessage `json:"data" doc:"Its body, as the event's JSON Schema (schemas/) describes it."`
	ID          string          `json:"id" doc:"Its CloudEvents id (ce-id)."`
	CausationID string          `json:"causationId" doc:"The id of the event (or request) that caused it (ce-causationid)."`
	TraceID     string          `json:"traceId" doc:"The trace it belongs to, from its traceparent: one trace per order."`
}

type timelineOutput struct {
	Body Timeline
}

func (h handlers) timeline(ctx context.Context, in *OrderPath) (*timelineOutput, error) {
	if _, err := h.read(ctx, in.ID); err != nil {
		return nil, err // not the caller's to see
	}
	entries, err := h.app.Queries.Timeline.Handle(ctx, app.GetTimeline{ID: in.ID})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &timelineOutput{Body: Timeline{OrderID: in.ID, Events: make([]TimelineEvent, len(entries))}}
	for i, e := range entries {
		out.Body.Events[i] = TimelineEvent(e)
	}
	return out, nil
}

// CustomerToken is a token issued to a customer.
type CustomerToken struct {
	CustomerID string    `json:"customerId"`
	Token      string    `json:"token" doc:"Send it as Authorization: Bearer <token>."`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// CustomerTokenRequest asks for a customer's token.
type CustomerTokenRequest struct {
	CustomerID string `json:"customerId" minLength:"1" maxLength:"100" example:"alice"`
	TTLSeconds int    `json:"ttlSeconds,omitempty" minimum:"60" maximum:"2592000" default:"86400" doc:"How long the token is valid, in seconds (a day unless given)."`
}

type issueTokenInput struct {
	Body CustomerTokenRequest
}

type issueTokenOutput struct{ Body CustomerToken }

func (h handlers) issueToken(_ context.Context, in *issueTokenInput) (*issueTokenOutput, error) {
	if !app.ValidCustomer(in.Body.CustomerID) {
		return nil, huma.Error422UnprocessableEntity("invalid customer", &huma.ErrorDetail{
			Location: "body.customerId", Message: "must be 1-100 letters, digits, '.', '_', '@' or '-'"})
	}
	ttl := time.Duration(cmp.Or(in.Body.TTLSeconds, 86400)) * time.Second
	token, expires := h.tokens.Issue(in.Body.CustomerID, ttl, time.Now())
	return &issueTokenOutput{Body: CustomerToken{CustomerID: in.Body.CustomerID, Token: token, ExpiresAt: expires}}, nil
}

func toOrder(v app.View) Order {
	items := make([]Item, len(v.Items))
	for i, it := range v.Items {
		items[i] = Item{ProductID: it.ProductID, Name: it.Name, Quantity: it.Quantity,
			UnitPrice: it.UnitPrice}
	}
	return Order{
		ID: v.ID, CustomerID: v.CustomerID, Items: items, Total: v.Total,
		Status: v.Status, Reason: v.Reason, PaymentID: v.PaymentID, ExpiresAt: v.ExpiresAt,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Version: v.Version,
	}
}

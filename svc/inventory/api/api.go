// Package api exposes inventory over HTTP with Huma.
package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
)

// Stock is a product's count as readers see it.
type Stock struct {
	ProductID string `json:"productId" example:"01JQ3Z8M6W5T2V9R4K7XPN0B1C"`
	OnHand    int64  `json:"onHand" doc:"Units in the warehouse."`
	Reserved  int64  `json:"reserved" doc:"Units held for orders awaiting payment."`
	Available int64  `json:"available" doc:"Units that can still be ordered: onHand - reserved."`
	Version   int64  `json:"version" doc:"Increases with every change; the ETag."`
}

type stockOutput struct {
	ETag string `header:"ETag"`
	Body Stock
}

// ProductPath is the product id in an operation's path.
type ProductPath struct {
	ProductID string `path:"productId" pattern:"^[0-9A-Za-z_-]{1,64}$" doc:"The product's id, from GET /products."`
}

// Problems are examples of inventory's errors, for its document.
var Problems = []httpapi.Problem{
	{Status: http.StatusNotFound, Detail: "no such product"},
	{Status: http.StatusConflict, Detail: app.ErrBelowReserved.Error() + ": 5 reserved, 4 would be on hand"},
	{Status: http.StatusServiceUnavailable, Detail: "inventory is busy; try again"},
}

// StockCount is the count on hand to set.
type StockCount struct {
	OnHand int64 `json:"onHand" minimum:"0" maximum:"1000000000" doc:"Units in the warehouse."`
}

// StockAdjustment changes the count on hand by a delta.
type StockAdjustment struct {
	Delta  int64  `json:"delta" minimum:"-1000000000" maximum:"1000000000" doc:"Positive restocks, negative writes off."`
	Reason string `json:"reason" minLength:"1" maxLength:"200" example:"restock from supplier"`
}

// StockPage is one page of products running low.
type StockPage struct {
	Items      []Stock `json:"items"`
	NextCursor string  `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// Register adds inventory's operations to api; followers bounds the
// clients that follow the stock as it changes.
func Register(api huma.API, a app.Application, followers *httpapi.Followers, log zerolog.Logger) {
	h := handlers{app: a, log: log}
	tags := []string{"inventory"}
	huma.Register(api, huma.Operation{
		OperationID: "getStock", Method: http.MethodGet, Path: "/inventory/{productId}", Summary: "Read a product's stock",
		Description: "How many units of a product are on hand, held for orders awaiting payment, and available to " +
			"order. Every product of the catalog has stock, 0 until it is set.",
		Tags: tags, Errors: []int{http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "setStock", Method: http.MethodPut, Path: "/inventory/{productId}", Summary: "Set the count on hand",
		Description: "Sets the units on hand after a count (admin). It may not fall below what orders hold (409). " +
			"Setting the count it already has changes nothing.",
		Security: httpapi.AdminSecurity, Tags: tags, RequestBody: httpapi.Example("Ten on hand", StockCount{OnHand: 10}),
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, h.set)
	huma.Register(api, huma.Operation{
		OperationID: "adjustStock", Method: http.MethodPost, Path: "/inventory/{productId}/adjustments", Summary: "Restock or write off",
		Description: "Adds units to those on hand (a positive delta) or writes some off (a negative one), with a " +
			"reason (admin). A write-off may not take on hand below what orders hold (409).",
		Security: httpapi.AdminSecurity, Tags: tags,
		RequestBody: httpapi.Example("Five restocked", StockAdjustment{Delta: 5, Reason: "restock from supplier"}),
		Metadata: httpapi.Problems(httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "invalid adjustment",
			Errors: []*huma.ErrorDetail{{Location: "body.delta", Message: "must not be 0"}}}),
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, h.adjust)
	httpapi.RegisterStream(api, followers, huma.Operation{
		OperationID: "watchStock", Method: http.MethodGet, Path: "/inventory/changes",
		Summary: "Stock as it changes, live (Server-Sent Events)",
		Description: "First a `watching` event, once changes are followed; then a `stock` event with a product's whole " +
			"stock each time it changes (set, adjusted, reserved, released, committed). A client that falls far behind " +
			"(1,024 changes), or does not take an event within 5 seconds, is disconnected rather than slowing the shop " +
			"down; reconnect and read the stock once with GET /inventory/{productId}. " +
			"Each product's changes come in order, each once; one whose `version` is not above what GET gave you is older, " +
			"and can be passed over. One client address follows at most 16 streams of changes at once (429 beyond), " +
			"and the shop at most 256 in all (503 beyond), both with a Retry-After (shopmesh run --followers-per-address, --max-followers).",
		Tags: tags, Errors: []int{http.StatusServiceUnavailable},
	}, map[string]any{"watching": StockWatching{}, "stock": Stock{}}, h.changes(), h.watch)
	huma.Register(api, huma.Operation{
		OperationID: "listLowStock", Method: http.MethodGet, Path: "/inventory", Summary: "List products running low",
		Description: "The products with fewer units available than belowAvailable, a page at a time: what to restock.",
		Tags:        tags, Errors: []int{http.StatusBadRequest},
	}, h.low)
}

// StockWatching opens a stream of stock changes: every change after it is
// sent.
type StockWatching struct {
	Following string `json:"following" example:"stock" doc:"What the stream follows."`
}

type handlers struct {
	app app.Application
	log zerolog.Logger
}

// changes follows the stock once for all its followers, each change
// encoded once.
func (h handlers) changes() *httpapi.Broadcast[app.Stock] {
	follow := func(ctx context.Context) <-chan app.Stock {
		changes, err := h.app.Queries.Watch.Handle(ctx, app.WatchStock{})
		if err != nil {
			h.log.Warn().Err(err).Msg("cannot follow the stock")
			closed := make(chan app.Stock)
			close(closed)
			return closed
		}
		return changes
	}
	return httpapi.NewBroadcast("inventory", "stock", follow, func(v app.Stock) any { return toStock(v) })
}

// watch follows every product's stock.
func (h handlers) watch(context.Context, *struct{}) httpapi.Follow[StockWatching, app.Stock] {
	return httpapi.Follow[StockWatching, app.Stock]{Watching: StockWatching{Following: "stock"}}
}

func (h handlers) get(ctx context.Context, in *ProductPath) (*stockOutput, error) {
	v, err := h.app.Queries.Get.Handle(ctx, app.GetStock{ProductID: in.ProductID})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &stockOutput{ETag: etag(v.Version), Body: toStock(v)}, nil
}

func (h handlers) set(ctx context.Context, in *struct {
	ProductPath
	Body StockCount
}) (*stockOutput, error) {
	cmd := app.SetStock{RequestID: ulid.Make().String(), ProductID: in.ProductID, OnHand: in.Body.OnHand}
	if err := h.app.Commands.SetStock.Handle(ctx, cmd); err != nil && !errors.Is(err, app.ErrNoChange) {
		return nil, h.problem(ctx, err)
	}
	return h.get(ctx, &in.ProductPath)
}

func (h handlers) adjust(ctx context.Context, in *struct {
	ProductPath
	Body StockAdjustment
}) (*stockOutput, error) {
	cmd := app.AdjustStock{RequestID: ulid.Make().String(), ProductID: in.ProductID, Delta: in.Body.Delta, Reason: in.Body.Reason}
	if err := h.app.Commands.AdjustStock.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.get(ctx, &in.ProductPath)
}

type lowInput struct {
	BelowAvailable int64  `query:"belowAvailable" minimum:"1" default:"10" doc:"Lists products with fewer units available than this."`
	Cursor         string `query:"cursor" maxLength:"200" doc:"Opaque cursor from the previous page's nextCursor."`
	Limit          int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Products per page."`
}

type lowOutput struct {
	Body StockPage
}

func (h handlers) low(ctx context.Context, in *lowInput) (*lowOutput, error) {
	page, err := h.app.Queries.Low.Handle(ctx, app.LowStock{Below: in.BelowAvailable, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &lowOutput{}
	out.Body.Items = make([]Stock, 0, len(page.Items))
	for _, v := range page.Items {
		out.Body.Items = append(out.Body.Items, toStock(v))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func toStock(v app.Stock) Stock {
	return Stock{ProductID: v.ProductID, OnHand: v.OnHand, Reserved: v.Reserved, Available: v.Available, Version: v.Version}
}

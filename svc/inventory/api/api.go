// Package api exposes inventory over HTTP with Huma.
package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/oklog/ulid/v2"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
	"github.com/shopmesh/shopmesh/svc/inventory/store"
)

// Stock is a product's count as readers see it.
type Stock struct {
	ProductID string `json:"productId"`
	OnHand    int64  `json:"onHand" doc:"Units in the warehouse."`
	Reserved  int64  `json:"reserved" doc:"Units held for orders awaiting payment."`
	Available int64  `json:"available" doc:"Units that can still be ordered: onHand - reserved."`
	Version   int64  `json:"version"`
}

type stockOutput struct {
	ETag string `header:"ETag"`
	Body Stock
}

// ProductPath is the product id in an operation's path.
type ProductPath struct {
	ProductID string `path:"productId" pattern:"^[0-9A-Za-z_-]{1,64}$"`
}

// Register adds inventory's operations to api.
func Register(api huma.API, a app.Application) {
	h := handlers{app: a}
	tags := []string{"inventory"}
	huma.Register(api, huma.Operation{
		OperationID: "get-stock", Method: http.MethodGet, Path: "/inventory/{productId}",
		Summary: "Read a product's stock", Tags: tags, Errors: []int{http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "set-stock", Method: http.MethodPut, Path: "/inventory/{productId}",
		Summary: "Set the count on hand", Security: mesh.AdminSecurity, Tags: tags,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict},
	}, h.set)
	huma.Register(api, huma.Operation{
		OperationID: "adjust-stock", Method: http.MethodPost, Path: "/inventory/{productId}/adjustments",
		Summary: "Restock or write off", Security: mesh.AdminSecurity, Tags: tags,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict},
	}, h.adjust)
	huma.Register(api, huma.Operation{
		OperationID: "list-low-stock", Method: http.MethodGet, Path: "/inventory",
		Summary: "List products running low", Tags: tags, Errors: []int{http.StatusBadRequest},
	}, h.low)
}

type handlers struct{ app app.Application }

func (h handlers) get(ctx context.Context, in *ProductPath) (*stockOutput, error) {
	v, err := h.app.Queries.Get.Handle(ctx, app.GetStock{ProductID: in.ProductID})
	if err != nil {
		return nil, problem(err)
	}
	return &stockOutput{ETag: etag(v.Version), Body: toStock(v)}, nil
}

func (h handlers) set(ctx context.Context, in *struct {
	ProductPath
	Body struct {
		OnHand int64 `json:"onHand" minimum:"0" maximum:"1000000000"`
	}
}) (*stockOutput, error) {
	cmd := app.SetStock{RequestID: ulid.Make().String(), ProductID: in.ProductID, OnHand: in.Body.OnHand}
	if err := h.app.Commands.SetStock.Handle(ctx, cmd); err != nil && !errors.Is(err, domain.ErrNoChange) {
		return nil, problem(err)
	}
	return h.get(ctx, &in.ProductPath)
}

func (h handlers) adjust(ctx context.Context, in *struct {
	ProductPath
	Body struct {
		Delta  int64  `json:"delta" minimum:"-1000000000" maximum:"1000000000" doc:"Positive restocks, negative writes off."`
		Reason string `json:"reason" minLength:"1" maxLength:"200" example:"restock from supplier"`
	}
}) (*stockOutput, error) {
	cmd := app.AdjustStock{RequestID: ulid.Make().String(), ProductID: in.ProductID, Delta: in.Body.Delta, Reason: in.Body.Reason}
	if err := h.app.Commands.AdjustStock.Handle(ctx, cmd); err != nil {
		return nil, problem(err)
	}
	return h.get(ctx, &in.ProductPath)
}

type lowInput struct {
	BelowAvailable int64  `query:"belowAvailable" minimum:"1" default:"10" doc:"Lists products with fewer units available than this."`
	Cursor         string `query:"cursor" maxLength:"200"`
	Limit          int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type lowOutput struct {
	Body struct {
		Items      []Stock `json:"items"`
		NextCursor string  `json:"nextCursor,omitempty"`
	}
}

func (h handlers) low(ctx context.Context, in *lowInput) (*lowOutput, error) {
	page, err := h.app.Queries.Low.Handle(ctx, app.LowStock{Below: in.BelowAvailable, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, problem(err)
	}
	out := &lowOutput{}
	out.Body.Items = make([]Stock, 0, len(page.Items))
	for _, v := range page.Items {
		out.Body.Items = append(out.Body.Items, toStock(v))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func toStock(v store.View) Stock {
	return Stock{ProductID: v.ProductID, OnHand: v.OnHand, Reserved: v.Reserved, Available: v.Available, Version: v.Version}
}

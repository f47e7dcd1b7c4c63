// Package api exposes payments over HTTP with Huma.
package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/payments/app"
)

// Money is an amount in integer minor units and its ISO 4217 currency.
type Money = events.Money

// Payment is an order's payment as readers see it.
type Payment struct {
	ID        string    `json:"id"`
	OrderID   string    `json:"orderId"`
	Status    string    `json:"status" enum:"captured,declined,refunded"`
	Amount    Money     `json:"amount"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int64     `json:"version"`
}

type paymentOutput struct {
	ETag string `header:"ETag"`
	Body Payment
}

// PaymentPath is the payment id in an operation's path.
type PaymentPath struct {
	ID string `path:"id" pattern:"^[0-9A-Za-z_-]{1,80}$" doc:"The payment's id, from GET /payments or an order's paymentId."`
}

// Problems are examples of the payments service's errors, for its document.
var Problems = []httpapi.Problem{
	{Status: http.StatusNotFound, Detail: "no such payment"},
	{Status: http.StatusConflict, Detail: app.ErrNotRefundable.Error()},
	{Status: http.StatusServiceUnavailable, Detail: "payments are busy; try again"},
}

// Register adds the payments operations to api.
func Register(api huma.API, a app.Application, log zerolog.Logger) {
	h := handlers{app: a, log: log}
	tags := []string{"payments"}
	huma.Register(api, huma.Operation{
		OperationID: "getPayment", Method: http.MethodGet, Path: "/payments/{id}", Summary: "Read a payment",
		Description: "One payment: captured, declined or refunded, with its amount and the gateway's reason (admin). " +
			"Payments are the back office's: a customer follows theirs through the order.",
		Tags: tags, Errors: []int{http.StatusUnauthorized, http.StatusNotFound}, Security: httpapi.AdminSecurity,
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "listPayments", Method: http.MethodGet, Path: "/payments", Summary: "List payments",
		Description: "Payments a page at a time, by order id (admin); only an order's (it has one) with orderId, " +
			"or only those in one status.",
		Tags: tags, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized}, Security: httpapi.AdminSecurity,
		Metadata: httpapi.Problems(httpapi.Problem{Status: http.StatusBadRequest, Detail: paging.ErrBadCursor.Error()}),
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "refundPayment", Method: http.MethodPost, Path: "/payments/{id}/refund", Summary: "Refund a captured payment",
		Description: "Gives a captured payment's money back (admin); the order is cancelled in turn and its stock " +
			"released. Only a captured payment can be refunded (409 otherwise).",
		Security: httpapi.AdminSecurity, Tags: tags,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, h.refund)
}

type handlers struct {
	app app.Application
	log zerolog.Logger
}

func (h handlers) get(ctx context.Context, in *PaymentPath) (*paymentOutput, error) {
	p, err := h.app.Queries.Get.Handle(ctx, app.GetPayment{ID: in.ID})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &paymentOutput{ETag: fmt.Sprintf(`"%d"`, p.Version), Body: toPayment(p)}, nil
}

type listInput struct {
	OrderID string `query:"orderId" maxLength:"64" pattern:"^[0-9A-Za-z_-]*$" doc:"Only the payment of this order (an order has one)."`
	Status  string `query:"status" enum:"captured,declined,refunded" doc:"Only payments in this status."`
	Cursor  string `query:"cursor" maxLength:"200" doc:"Opaque cursor from the previous page's nextCursor."`
	Limit   int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Payments per page."`
}

// PaymentPage is one page of payments.
type PaymentPage struct {
	Items      []Payment `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type listOutput struct {
	Body PaymentPage
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	q := app.ListPayments{OrderID: in.OrderID, Status: in.Status, Cursor: in.Cursor, Limit: in.Limit}
	page, err := h.app.Queries.List.Handle(ctx, q)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &listOutput{}
	out.Body.Items = make([]Payment, 0, len(page.Items))
	for _, p := range page.Items {
		out.Body.Items = append(out.Body.Items, toPayment(p))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func (h handlers) refund(ctx context.Context, in *PaymentPath) (*paymentOutput, error) {
	cmd := app.RefundPayment{RequestID: ulid.Make().String(), PaymentID: in.ID, Reason: "refunded by an admin"}
	if err := h.app.Commands.Refund.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.get(ctx, in)
}

func toPayment(p app.Payment) Payment {
	return Payment{
		ID: p.ID, OrderID: p.OrderID, Status: p.Status, Amount: p.Amount,
		Reason: p.Reason, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}

// problem is the one place where payments errors become HTTP problems.
func (h handlers) problem(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, app.ErrNotFound):
		return huma.Error404NotFound("no such payment")
	case errors.Is(err, paging.ErrBadCursor):
		return huma.Error400BadRequest(err.Error())
	case errors.Is(err, app.ErrNotRefundable):
		return huma.Error409Conflict(err.Error())
	case mesh.Retryable(err):
		return httpapi.Unavailable("payments")
	}
	return httpapi.Internal(ctx, h.log, err)
}

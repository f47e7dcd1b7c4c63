package events

import "time"

// Streams and subjects of the orders service.
const (
	OrdersStream  = "ORDERS"
	OrdersService = "orders"
	orderEntity   = "order"
)

// OrderEntity is one order.
func OrderEntity(orderID string) string { return Entity(OrdersService, orderEntity, orderID) }

// OrderFilter matches every event of one order.
func OrderFilter(orderID string) string { return EntityFilter(OrdersService, orderEntity, orderID) }

// TimerSubject is where an order's payment deadline is scheduled; when it
// fires, JetStream publishes the message to DeadlineSubject.
func TimerSubject(orderID string) string { return "orders.timer." + orderID }

// DeadlineSubject receives the fired payment-deadline timer of an order.
func DeadlineSubject(orderID string) string { return "orders.deadline." + orderID }

// OrderItem is one line of an order with the price fixed at placement.
type OrderItem struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice Money  `json:"unitPrice"`
}

// OrderPlaced records a customer's order, priced from the catalog.
type OrderPlaced struct {
	OrderID      string      `json:"orderId"`
	CustomerID   string      `json:"customerId"`
	Items        []OrderItem `json:"items"`
	Total        Money       `json:"total"`
	PaymentToken string      `json:"paymentToken"`
	ExpiresAt    time.Time   `json:"expiresAt"`
	// RequestHash fingerprints the request that placed the order, so a
	// retry with the same Idempotency-Key but another body is refused.
	RequestHash string `json:"requestHash"`
}

// OrderStockReserved records that inventory holds the order's stock; it is
// now awaiting payment.
type OrderStockReserved struct {
	OrderID string `json:"orderId"`
	Total   Money  `json:"total"`
	// PaymentToken is carried so payments can charge without a lookup.
	PaymentToken string `json:"paymentToken"`
}

// OrderConfirmed records a paid order.
type OrderConfirmed struct {
	OrderID   string `json:"orderId"`
	PaymentID string `json:"paymentId"`
}

// OrderRejected records an order that could not be reserved.
type OrderRejected struct {
	OrderID  string   `json:"orderId"`
	Reason   string   `json:"reason"`
	Products []string `json:"products"`
}

// OrderCancelled records an order ended by the customer or by a declined
// payment.
type OrderCancelled struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"`
	// WasConfirmed is true when a paid order was cancelled: it is refunded.
	WasConfirmed bool `json:"wasConfirmed"`
}

// OrderExpired records an order whose payment did not arrive in time.
type OrderExpired struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"`
}

// The subject of each event, its entity's id in the third token.
func (e OrderPlaced) EventSubject() string        { return orderSubject(e.OrderID, "placed") }
func (e OrderStockReserved) EventSubject() string { return orderSubject(e.OrderID, "stock_reserved") }
func (e OrderConfirmed) EventSubject() string     { return orderSubject(e.OrderID, "confirmed") }
func (e OrderRejected) EventSubject() string      { return orderSubject(e.OrderID, "rejected") }
func (e OrderCancelled) EventSubject() string     { return orderSubject(e.OrderID, "cancelled") }
func (e OrderExpired) EventSubject() string       { return orderSubject(e.OrderID, "expired") }

// An order that ends takes its payment deadline with it (mesh.Unscheduler):
// the timer is removed as the event is stored, and never fires.
func (e OrderConfirmed) Unschedules() string { return TimerSubject(e.OrderID) }
func (e OrderRejected) Unschedules() string  { return TimerSubject(e.OrderID) }
func (e OrderCancelled) Unschedules() string { return TimerSubject(e.OrderID) }
func (e OrderExpired) Unschedules() string   { return TimerSubject(e.OrderID) }

// The versioned CloudEvents type of each event.
func (OrderPlaced) EventType() string        { return orderType("placed") }
func (OrderStockReserved) EventType() string { return orderType("stock_reserved") }
func (OrderConfirmed) EventType() string     { return orderType("confirmed") }
func (OrderRejected) EventType() string      { return orderType("rejected") }
func (OrderCancelled) EventType() string     { return orderType("cancelled") }
func (OrderExpired) EventType() string       { return orderType("expired") }

func orderSubject(id, event string) string { return Subject(OrdersService, orderEntity, id, event) }

func orderType(event string) string { return typeName(OrdersService, orderEntity, event) }

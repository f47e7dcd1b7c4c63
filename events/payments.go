package events

// Streams and subjects of the payments service.
const (
	PaymentsStream  = "PAYMENTS"
	PaymentsService = "payments"
	paymentEntity   = "payment"
)

// PaymentEntity is one order's payment.
func PaymentEntity(orderID string) string { return Entity(PaymentsService, paymentEntity, orderID) }

// PaymentFilter matches every payment event of one order.
func PaymentFilter(orderID string) string {
	return EntityFilter(PaymentsService, paymentEntity, orderID)
}

// PaymentCaptured records money taken for an order.
type PaymentCaptured struct {
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
	Amount    Money  `json:"amount"`
}

// PaymentDeclined records a charge the gateway refused.
type PaymentDeclined struct {
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
	Reason    string `json:"reason"`
}

// PaymentRefunded records captured money given back.
type PaymentRefunded struct {
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
	Amount    Money  `json:"amount"`
	Reason    string `json:"reason"`
}

// The subject of each event, its entity's id in the third token.
func (e PaymentCaptured) EventSubject() string { return paymentSubject(e.OrderID, "captured") }
func (e PaymentDeclined) EventSubject() string { return paymentSubject(e.OrderID, "declined") }
func (e PaymentRefunded) EventSubject() string { return paymentSubject(e.OrderID, "refunded") }

// The versioned CloudEvents type of each event.
func (PaymentCaptured) EventType() string {
	return typeName(PaymentsService, paymentEntity, "captured")
}
func (PaymentDeclined) EventType() string {
	return typeName(PaymentsService, paymentEntity, "declined")
}
func (PaymentRefunded) EventType() string {
	return typeName(PaymentsService, paymentEntity, "refunded")
}

func paymentSubject(id, event string) string {
	return Subject(PaymentsService, paymentEntity, id, event)
}

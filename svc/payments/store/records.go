package store

import (
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/svc/payments/app"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
)

// paymentRecord is how a payment is kept in the file and shown in the KV
// read model. Its JSON is the one the domain type used to carry, so files
// written before are read the same.
type paymentRecord struct {
	ID        string       `json:"id"`
	OrderID   string       `json:"orderId"`
	Status    string       `json:"status"`
	Amount    events.Money `json:"amount"`
	Reason    string       `json:"reason,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
	Version   int64        `json:"version"`
}

func toRecord(p domain.Payment) paymentRecord { return paymentRecord(p) }

func (r paymentRecord) domain() domain.Payment { return domain.Payment(r) }

func (r paymentRecord) app() app.Payment { return app.Payment(r) }

package mesh

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Contracts says whether an event keeps the contract of its type: what a
// reader may rely on in its body (ShopMesh's are the JSON Schemas of
// package schemas). The runtime asks before any projection applies an
// event or any reaction handles one, so no service can forget to, and an
// event that breaks its contract takes the one path of an event that
// cannot be applied: set aside with the reason, counted, never applied
// (ADR 12, ADR 14). It must be safe for concurrent use.
type Contracts interface {
	// Check returns why body breaks the contract of eventType, or nil. A
	// type it does not know (a message that is not an event, or the event
	// of a newer producer) breaks nothing: readers skip it (ADR 12).
	Check(eventType string, body []byte) error
}

// ContractFunc adapts a function to Contracts.
type ContractFunc func(eventType string, body []byte) error

// Check calls f.
func (f ContractFunc) Check(eventType string, body []byte) error { return f(eventType, body) }

// ErrBrokenContract marks an event refused because it breaks the
// contract of its type; the reason follows it.
var ErrBrokenContract = errors.New("the event breaks its contract")

// errNoContracts is a node asked to run a service without Contracts:
// its events would reach its state unchecked.
var errNoContracts = errors.New("the node has no Contracts to check events against")

func checkContract(c Contracts, e Envelope) error {
	if err := c.Check(e.Type, e.Data); err != nil {
		return fmt.Errorf("%w: %w", ErrBrokenContract, err)
	}
	return nil
}

// checkedProjector refuses an event that breaks its contract before the
// projector sees it; the projection sets it aside, as it does every event
// its projector refuses.
type checkedProjector struct {
	contracts Contracts
	p         Projector
}

func (c checkedProjector) Apply(tx *bolt.Tx, e Envelope) ([]View, error) {
	if err := checkContract(c.contracts, e); err != nil {
		return nil, err
	}
	return c.p.Apply(tx, e)
}

// checkedHandler refuses an event that breaks its contract before h sees
// it: no retry can mend it, so it goes to the dead letters at once, live
// or redriven.
func checkedHandler(c Contracts, h Handler) Handler {
	return func(ctx context.Context, e Envelope) error {
		if err := checkContract(c, e); err != nil {
			return Permanent(err)
		}
		return h(ctx, e)
	}
}

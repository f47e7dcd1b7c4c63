package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// TestServiceUsersMayDoOnlyTheirOwnWork connects to a running shop as
// each service's user and tries what a compromised service would: forge
// another service's events or dead letters, change, purge or delete
// streams, take over, drain or ack another service's reaction, write
// another's read model, or listen in on another's replies. The server
// refuses every one. That the saga itself works under these permissions
// is what every other test of this package shows.
func TestServiceUsersMayDoOnlyTheirOwnWork(t *testing.T) {
	t.Parallel()
	s := startTestShop(t, testConfig(t))
	defer s.close()
	plans := allPlans(s.cfg)
	for _, p := range plans {
		t.Run(p.Service, func(t *testing.T) {
			denied := newDenials()
			nc, err := nats.Connect(s.natsURL, append(natsauth.Options(p.Service, s.creds), nats.ErrorHandler(denied.record))...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			forbidden := forbiddenFor(p, plans)
			for _, subject := range forbidden {
				if err := nc.Publish(subject, []byte(`{"forged":true}`)); err != nil {
					t.Fatal(err)
				}
			}
			for _, subject := range []string{"_INBOX.>", "_INBOX_" + other(p, plans) + ".>", "orders.>", "$JS.ACK.>", "shopmesh.redrive.>"} {
				if _, err := nc.SubscribeSync(subject); err != nil {
					t.Fatal(err)
				}
				forbidden = append(forbidden, subject)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			denied.await(t, forbidden)
		})
	}
}

// forbiddenFor lists what p's user must not publish, given every plan.
func forbiddenFor(p mesh.Plan, plans []mesh.Plan) []string {
	subjects := []string{
		"$JS.API.STREAM.CREATE.EVIL",
		"$JS.API.STREAM.UPDATE." + p.Writes.Name,
		"$JS.API.STREAM.DELETE." + p.Writes.Name,
		"$JS.API.STREAM.PURGE." + p.Writes.Name,
		"$JS.API.STREAM.MSG.DELETE." + p.Writes.Name,
		"$JS.API.STREAM.SNAPSHOT." + p.Writes.Name,
		"$JS.API.STREAM.DELETE." + mesh.DeadLetterStream,
		"$JS.API.STREAM.PURGE." + mesh.DeadLetterStream,
		"$JS.API.STREAM.MSG.DELETE." + mesh.DeadLetterStream,
		"$JS.API.CONSUMER.DURABLE.CREATE." + p.Writes.Name + ".evil",
		"$JS.API.META.LEADER.STEPDOWN",
		"$JS.API.SERVER.REMOVE",
		"$KV.evil.key",
	}
	for _, o := range plans {
		if o.Service == p.Service {
			for _, d := range o.Durables { // provisioning is the operator's
				subjects = append(subjects, consumerAPI("DELETE", d), consumerAPI("CREATE", d))
			}
			continue
		}
		subjects = append(subjects,
			o.Service+".thing.forged.happened",
			"deadletter."+o.Service+".forged",
			"$KV."+o.Bucket+".forged",
			"$JS.API.STREAM.PURGE."+o.Writes.Name,
			"$JS.API.STREAM.DELETE.KV_"+o.Bucket,
		)
		for _, d := range o.Durables {
			subjects = append(subjects,
				consumerAPI("DELETE", d), consumerAPI("CREATE", d), consumerAPI("CREATE", d)+".>",
				consumerAPI("MSG.NEXT", d),
				fmt.Sprintf("$JS.ACK.%s.%s.1.1.1.1700000000000000000.0", d.Stream, d.Name),
				fmt.Sprintf("$JS.ACK.hub.ACCHASH.%s.%s.1.1.1.1700000000000000000.0.token", d.Stream, d.Name),
			)
		}
	}
	return subjects
}

func consumerAPI(verb string, d mesh.Durable) string {
	return "$JS.API.CONSUMER." + verb + "." + d.Stream + "." + d.Name
}

// other is the name of a service that is not p's.
func other(p mesh.Plan, plans []mesh.Plan) string {
	for _, o := range plans {
		if o.Service != p.Service {
			return o.Service
		}
	}
	return ""
}

// denials collects the subjects the server refused, from its
// permission-violation errors.
type denials struct {
	mu      sync.Mutex
	seen    map[string]bool
	changed chan struct{}
}

func newDenials() *denials {
	return &denials{seen: map[string]bool{}, changed: make(chan struct{}, 1)}
}

var violation = regexp.MustCompile(`(?i)permissions violation for (?:publish|subscription) to "([^"]+)"`)

func (d *denials) record(_ *nats.Conn, _ *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	m := violation.FindStringSubmatch(err.Error())
	if m == nil {
		return
	}
	d.mu.Lock()
	d.seen[m[1]] = true
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// await waits until every subject was refused, or fails naming those that
// were let through. The refusals were sent before the reply to the flush
// that preceded this; only their callbacks may still be on their way.
func (d *denials) await(t *testing.T, subjects []string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		var allowed []string
		for _, s := range subjects {
			if !d.seen[s] {
				allowed = append(allowed, s)
			}
		}
		d.mu.Unlock()
		if len(allowed) == 0 {
			return
		}
		select {
		case <-d.changed:
		case <-timeout:
			slices.Sort(allowed)
			t.Fatalf("allowed, want refused:\n%s", strings.Join(allowed, "\n"))
		}
	}
}

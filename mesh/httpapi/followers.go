package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// Default bounds of the followers of a process's streams of changes: what
// one household or office needs, and what a 2-core machine serves without
// the shop's own work slowing down (docs/performance.md, "Followers").
const (
	DefaultFollowersPerAddress = 16
	DefaultMaxFollowers        = 256
)

// Followers bounds the clients that follow a stream of changes at once,
// per client address and in all, across every stream of the process. A
// follower costs little (Broadcast), but each holds a connection, a
// goroutine and its buffers for as long as it likes: without a bound,
// 1,500 clients that never read cut the shop's orders per second to a
// fifth (issue 19).
type Followers struct {
	metrics    *observe.Metrics
	mu         sync.Mutex
	perAddress int
	max        int
	trusted    []netip.Prefix
	by         map[netip.Prefix]int
	byStream   map[string]int
	total      int
}

// NewFollowers admits the default numbers of followers
// (DefaultFollowersPerAddress, DefaultMaxFollowers) and trusts no proxy
// until Bound says otherwise; metrics may be nil.
func NewFollowers(metrics *observe.Metrics) *Followers {
	return &Followers{
		metrics: metrics, perAddress: DefaultFollowersPerAddress, max: DefaultMaxFollowers,
		by: map[netip.Prefix]int{}, byStream: map[string]int{},
	}
}

// Bound admits at most perAddress followers from one client address (an
// IPv6 client's /64) and max in all. X-Forwarded-For is believed only
// from a peer in trusted (a proxy in front of the shop); anyone else is
// known by the address it connects from.
func (f *Followers) Bound(perAddress, max int, trusted []netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perAddress, f.max, f.trusted = perAddress, max, trusted
}

// Admit is the middleware of an operation whose clients follow stream:
// each is admitted before its handler runs, and holds its place until the
// handler returns; one over the bounds gets its problem instead.
// RegisterStream adds it; a stream served otherwise (the console's feed)
// adds it to its operation's Middlewares, and its refusals to its Errors.
func (f *Followers) Admit(api huma.API, stream string) func(huma.Context, func(huma.Context)) {
	return func(hc huma.Context, next func(huma.Context)) {
		leave, err := f.admit(stream, hc.RemoteAddr(), hc.Header("X-Forwarded-For"))
		if err != nil {
			writeRefusal(api, hc, err)
			return
		}
		defer leave()
		next(hc)
	}
}

// admit takes a place for a follower of stream from the client at
// remoteAddr, who sent forwardedFor, and returns how to give it back; or
// the problem that turns it away: 429 when its address holds its share,
// 503 when the process is full.
func (f *Followers) admit(stream, remoteAddr, forwardedFor string) (leave func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	client := f.client(remoteAddr, forwardedFor)
	switch {
	case f.by[client] >= f.perAddress:
		return nil, retryLater(http.StatusTooManyRequests, addressRetry,
			fmt.Sprintf("this address follows %d streams of changes already, the most it may; close one, or try again later", f.perAddress))
	case f.total >= f.max:
		return nil, retryLater(http.StatusServiceUnavailable, fullRetry,
			fmt.Sprintf("the shop has %d followers of its changes, the most it serves; try again later", f.max))
	}
	f.by[client]++
	f.byStream[stream]++
	f.total++
	f.metrics.ObserveFollowers(stream, f.byStream[stream])
	var once sync.Once
	return func() { once.Do(func() { f.leave(stream, client) }) }, nil
}

func (f *Followers) leave(stream string, client netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total--
	f.byStream[stream]--
	f.metrics.ObserveFollowers(stream, f.byStream[stream])
	if f.by[client]--; f.by[client] <= 0 {
		delete(f.by, client)
	}
}

// dropped counts a follower of stream disconnected for falling behind.
func (f *Followers) dropped(stream string) { f.metrics.ObserveDropped(stream) }

// When a follower turned away may come back, in seconds: an address that
// holds its share waits for one of its own followers to leave, which may
// be long; a full process frees a place whenever anyone leaves or is
// dropped. The longer wait also spares the shop a crowd asking again and
// again: 1,500 clients at 5 s were 300 refusals a second.
const (
	addressRetry = "30"
	fullRetry    = "10"
)

// retryLater is a problem with a Retry-After of seconds: a follower
// turned away may come back once others have left.
func retryLater(status int, seconds, detail string) error {
	return huma.ErrorWithHeaders(huma.NewError(status, detail), http.Header{"Retry-After": {seconds}})
}

// client is the address a follower is counted under: the peer's, or, when
// the peer is a trusted proxy, the last address of X-Forwarded-For that
// is not one of the trusted proxies. An IPv6 client is counted by its
// /64, which one household or machine usually holds whole. f.mu is held.
func (f *Followers) client(remoteAddr, forwardedFor string) netip.Prefix {
	peer, err := netip.ParseAddrPort(remoteAddr)
	addr := peer.Addr().Unmap()
	if err != nil {
		addr = netip.IPv6Unspecified() // not TCP (a test's pipe): all such count as one
	}
	if f.isTrusted(addr) {
		addr = f.forwarded(addr, forwardedFor)
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// forwarded walks X-Forwarded-For from the right, past the trusted
// proxies, to the client the nearest of them saw; a value that does not
// parse stops the walk at the last address known.
func (f *Followers) forwarded(peer netip.Addr, header string) netip.Addr {
	hops := strings.Split(header, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		peer = addr.Unmap()
		if !f.isTrusted(peer) {
			return peer
		}
	}
	return peer
}

func (f *Followers) isTrusted(addr netip.Addr) bool {
	for _, p := range f.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

package httpapi

import (
	"net/netip"
	"testing"
)

// A follower is counted under its connection's address, an IPv6 client
// under its /64; X-Forwarded-For counts only from a trusted proxy, and
// then its last hop that is no trusted proxy.
func TestFollowersAreCountedByClientAddress(t *testing.T) {
	t.Parallel()
	f := NewFollowers(nil)
	f.Bound(16, 256, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	cases := []struct {
		name, remote, forwarded, want string
	}{
		{"IPv4", "192.0.2.7:5123", "", "192.0.2.7/32"},
		{"IPv4 in IPv6", "[::ffff:192.0.2.7]:5123", "", "192.0.2.7/32"},
		{"IPv6 by its /64", "[2001:db8:1:2:aaaa::1]:5123", "", "2001:db8:1:2::/64"},
		{"an untrusted peer's header is ignored", "192.0.2.7:5123", "203.0.113.9", "192.0.2.7/32"},
		{"a trusted proxy's client", "10.1.2.3:5123", "203.0.113.9", "203.0.113.9/32"},
		{"past the trusted proxies", "10.1.2.3:5123", "198.51.100.1, 203.0.113.9, 10.9.9.9", "203.0.113.9/32"},
		{"a proxy with no header", "10.1.2.3:5123", "", "10.1.2.3/32"},
		{"a header that does not parse", "10.1.2.3:5123", "nonsense", "10.1.2.3/32"},
	}
	for _, c := range cases {
		if got := f.client(c.remote, c.forwarded); got.String() != c.want {
			t.Errorf("%s: counted as %s, want %s", c.name, got, c.want)
		}
	}
}

// A place given back twice is given back once.
func TestAFollowersPlaceIsGivenBackOnce(t *testing.T) {
	t.Parallel()
	f := NewFollowers(nil)
	f.Bound(1, 1, nil)
	leave, err := f.admit("s", "192.0.2.7:1", "")
	if err != nil {
		t.Fatal(err)
	}
	leave()
	leave()
	if f.total != 0 || len(f.by) != 0 {
		t.Fatalf("after leaving twice: %d followers, %v", f.total, f.by)
	}
}

package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Caller is who sent a request: the admin, a customer, or nobody.
type Caller struct {
	Admin    bool
	Customer string
}

// Anonymous reports that the request carried no valid token.
func (c Caller) Anonymous() bool { return !c.Admin && c.Customer == "" }

// May reports whether the caller may see or act on what belongs to
// customer: the admin may, and the customer may.
func (c Caller) May(customer string) bool {
	return c.Admin || (c.Customer != "" && c.Customer == customer)
}

type callerKey struct{}

// CallerOf returns who sent the request being handled.
func CallerOf(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// WithCaller returns ctx for a request sent by c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CustomerTokens issues and checks customer tokens: a customer id and an
// expiry, signed with HMAC-SHA256. The key is derived from the admin
// token, so every process of a shop that shares the admin token accepts
// the tokens any of them issued, and changing the admin token revokes them
// all. It is a demo's identity provider: a real shop would check tokens
// from its own.
type CustomerTokens struct {
	key []byte
}

// NewCustomerTokens derives the signing key from the admin token.
func NewCustomerTokens(adminToken string) *CustomerTokens {
	mac := hmac.New(sha256.New, []byte(adminToken))
	mac.Write([]byte("shopmesh customer tokens v1"))
	return &CustomerTokens{key: mac.Sum(nil)}
}

const tokenPrefix = "smc1."

type tokenClaims struct {
	Subject string `json:"sub"`
	Expires int64  `json:"exp"`
}

// Issue returns a token for customer that expires after ttl.
func (t *CustomerTokens) Issue(customer string, ttl time.Duration, now time.Time) (string, time.Time) {
	expires := now.Add(ttl).Truncate(time.Second)
	claims, _ := json.Marshal(tokenClaims{Subject: customer, Expires: expires.Unix()})
	payload := base64.RawURLEncoding.EncodeToString(claims)
	return tokenPrefix + payload + "." + base64.RawURLEncoding.EncodeToString(t.sign(payload)), expires
}

// ErrBadToken means a customer token is malformed, forged or expired.
var ErrBadToken = errors.New("invalid or expired customer token")

// Verify returns the customer a token was issued to.
func (t *CustomerTokens) Verify(token string, now time.Time) (string, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	payload, sig, ok2 := strings.Cut(rest, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || !ok2 || err != nil || !hmac.Equal(mac, t.sign(payload)) {
		return "", ErrBadToken
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var c tokenClaims
	if err != nil || json.Unmarshal(data, &c) != nil || c.Subject == "" || now.Unix() >= c.Expires {
		return "", ErrBadToken
	}
	return c.Subject, nil
}

func (t *CustomerTokens) sign(payload string) []byte {
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}

// identify reads the Authorization header: the admin token, a customer
// token, or nothing valid.
func identify(header, adminToken string, customers *CustomerTokens) Caller {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return Caller{}
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(adminToken)) == 1 {
		return Caller{Admin: true}
	}
	if customer, err := customers.Verify(token, time.Now()); err == nil {
		return Caller{Customer: customer}
	}
	return Caller{}
}

// Command caddy is the load balancer of compose.yml: Caddy with only the
// modules deploy/caddy/Caddyfile uses (the HTTP server, the Caddyfile
// adapter, reverse_proxy, header and request_body), not Caddy's standard
// set. It builds here from Go modules alone in a fraction of the time the
// standard build takes, which is what lets CI build it on a fresh machine.
//
// It is a module of its own, so Caddy is no dependency of shopmesh:
//
//	cd deploy/caddy && go build -o caddy .
//	./caddy validate --config Caddyfile --adapter caddyfile
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/requestbody"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func main() { caddycmd.Main() }

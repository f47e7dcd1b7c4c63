// Package natsauth gives each service a NATS user that may do what its
// mesh.Plan says and nothing more, and an operator user (Admin) that
// provisions the plans and runs the tools.
//
// A service user may publish only its own events and dead letters, read
// the streams it reads, pull and ack its own durable consumers, and write
// its own KV bucket and its own snapshot bucket. It may not create, change, purge or delete a stream,
// touch another service's consumer or bucket, or publish another service's
// events: a compromised or buggy service cannot forge facts, wedge a
// reaction or destroy history. One exception, which permissions cannot
// close: nats-server allows roll-ups on a stream that allows schedules
// (ORDERS, for the payment deadlines), so the orders service's user could
// purge its own stream with a Nats-Rollup header. Timers in a stream of
// their own would close it (ADR 21).
//
// The same permissions serve the embedded server (Users, with generated
// passwords) and a standalone nats-server (Config, with passwords from the
// environment), so what the tests check is what a cluster runs.
package natsauth

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/shopmesh/shopmesh/mesh"
)

// Admin is the operator user: it provisions streams, buckets and durable
// consumers, and it is who the tools and the nats CLI connect as.
const Admin = "admin"

// InboxPrefix is where service's replies arrive. Each service has its
// own, so it can subscribe to its replies and to no one else's.
func InboxPrefix(service string) string { return "_INBOX_" + service }

// Permissions are what plan's service may do, given every plan of the mesh
// (all): a consumer of another service's stream is named in all, and is
// kept out of reach even on a stream both read.
func Permissions(plan mesh.Plan, all []mesh.Plan) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: publishAllowed(plan), Deny: consumersDenied(plan, all)},
		Subscribe: &server.SubjectPermission{
			Allow: append([]string{InboxPrefix(plan.Service) + ".>"}, redriveSubjects(plan)...),
		},
		// Replies to redrive requests, which come from the operator.
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// publishAllowed lists what the service may publish: its events, its dead
// letters, and the JetStream API calls its projection, reactions, views
// and redrives make.
func publishAllowed(p mesh.Plan) []string {
	allow := slices.Clone(p.Writes.Subjects)
	allow = append(allow, "deadletter."+p.Service+".>", "$JS.API.INFO", "$JS.FC.>")
	for _, s := range p.Streams() {
		allow = append(allow, reading(s.Name)...)
		if s.Archive { // a replay reads what the stream no longer holds there
			allow = append(allow, reading(mesh.ArchiveStream(s.Name))...)
		}
	}
	if p.Bucket != "" {
		kv := "KV_" + p.Bucket
		allow = append(allow, reading(kv)...)
		allow = append(allow, "$KV."+p.Bucket+".>")
	}
	// Its snapshots: written, read and replaced in its own object store
	// bucket (replacing one purges the chunks of the one before).
	obs := "OBJ_" + mesh.SnapshotBucket(p.Service)
	allow = append(allow, reading(obs)...)
	allow = append(allow, "$O."+mesh.SnapshotBucket(p.Service)+".>", "$JS.API.STREAM.PURGE."+obs)
	// Redrives read the dead letter they are asked to handle.
	allow = append(allow, "$JS.API.STREAM.INFO."+mesh.DeadLetterStream, "$JS.API.STREAM.MSG.GET."+mesh.DeadLetterStream,
		"$JS.API.DIRECT.GET."+mesh.DeadLetterStream)
	for _, d := range p.Durables {
		allow = append(allow,
			"$JS.API.CONSUMER.MSG.NEXT."+d.Stream+"."+d.Name,
			// Acks are replies on the consumer's subjects: the older form,
			// and the newer one that adds a domain and an account hash.
			"$JS.ACK."+d.Stream+"."+d.Name+".>",
			"$JS.ACK.*.*."+d.Stream+"."+d.Name+".>",
		)
	}
	slices.Sort(allow)
	return slices.Compact(allow)
}

// reading is the JetStream API that reading stream takes: its info, a
// message by sequence or by subject, and ordered consumers, which are
// ephemeral and are created, pulled and deleted under names of their own.
//
// Their acks are allowed too, though an ordered consumer takes none: each
// message it delivers names an ack subject as its reply, and a reply the
// user may not publish to is one the server tracks for a minute, for the
// responses it allows (about 150 bytes each, and a scan of them all every
// 4096 deliveries: a tenth of the CPU of a projection's replay, and tens
// of MB under load). Other services' durables stay out of reach
// (consumersDenied).
func reading(stream string) []string {
	return []string{
		"$JS.ACK." + stream + ".*.>",
		"$JS.ACK.*.*." + stream + ".*.>",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.DIRECT.GET." + stream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.INFO." + stream + ".*",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".*",
		"$JS.API.CONSUMER.DELETE." + stream + ".*",
	}
}

// consumersDenied keeps every durable consumer on a stream the service
// reads out of reach of the ephemeral-consumer grants above: no service
// may redefine, delete or (unless it is its own) pull from one. A deny
// wins over an allow.
func consumersDenied(p mesh.Plan, all []mesh.Plan) []string {
	var deny []string
	for _, other := range all {
		for _, d := range other.Durables {
			if !slices.ContainsFunc(p.Streams(), func(s mesh.StreamSpec) bool { return s.Name == d.Stream }) {
				continue // not granted in the first place
			}
			name := d.Stream + "." + d.Name
			deny = append(deny,
				"$JS.API.CONSUMER.CREATE."+name,
				"$JS.API.CONSUMER.CREATE."+name+".>",
				"$JS.API.CONSUMER.DELETE."+name,
			)
			if other.Service != p.Service {
				deny = append(deny, "$JS.API.CONSUMER.MSG.NEXT."+name,
					"$JS.ACK."+name+".>", "$JS.ACK.*.*."+name+".>")
			}
		}
	}
	return deny
}

func redriveSubjects(p mesh.Plan) []string {
	var subs []string
	for _, d := range p.Durables {
		subs = append(subs, mesh.RedriveSubject(d.Name))
	}
	return subs
}

// Credentials are the NATS users' passwords, by user name.
type Credentials map[string]string

// UserNames are the users of plans: one per service, and Admin.
func UserNames(plans []mesh.Plan) []string {
	names := make([]string, 0, len(plans)+1)
	for _, p := range plans {
		names = append(names, p.Service)
	}
	return append(names, Admin)
}

// Generate makes a random password for each user: the embedded server's
// users live as long as the process, so nothing needs to be kept.
func Generate(users []string) Credentials {
	c := Credentials{}
	for _, u := range users {
		b := make([]byte, 24)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		c[u] = hex.EncodeToString(b)
	}
	return c
}

// PasswordVar is the environment variable that holds user's password, for
// shopmesh and, through Config, for nats-server.
func PasswordVar(user string) string {
	return "SHOPMESH_NATS_" + strings.ToUpper(user) + "_PASSWORD"
}

// FromEnv reads the users' passwords from their PasswordVar.
func FromEnv(users []string) (Credentials, error) {
	c := Credentials{}
	var missing []string
	for _, u := range users {
		pw := os.Getenv(PasswordVar(u))
		if pw == "" {
			missing = append(missing, PasswordVar(u))
			continue
		}
		c[u] = pw
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no NATS password in %s (the dev defaults are in .env: set -a; . ./.env; set +a)",
			strings.Join(missing, ", "))
	}
	return c, nil
}

// Users are the embedded server's users for plans, with passwords c.
func Users(plans []mesh.Plan, c Credentials) []*server.User {
	users := []*server.User{{Username: Admin, Password: c[Admin]}}
	for _, p := range plans {
		users = append(users, &server.User{Username: p.Service, Password: c[p.Service], Permissions: Permissions(p, plans)})
	}
	return users
}

// Options connect as user with its password; a service user also gets
// its own inbox prefix, the only one it may subscribe to.
func Options(user string, c Credentials) []nats.Option {
	opts := []nats.Option{nats.UserInfo(user, c[user])}
	if user != Admin {
		opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(user)))
	}
	return opts
}

// Config is the nats-server configuration of the users of plans, with
// every password taken from its PasswordVar in the server's environment:
// the file holds no secret, and the same file serves dev and production.
func Config(plans []mesh.Plan) string {
	var b strings.Builder
	b.WriteString("# Generated by `shopmesh nats-users` from the services' plans; do not edit.\n")
	b.WriteString("# Each password comes from the environment (see .env for the dev defaults).\n")
	b.WriteString("authorization {\n  users = [\n")
	fmt.Fprintf(&b, "    # The operator: provisions streams, buckets and consumers; the tools use it.\n")
	fmt.Fprintf(&b, "    { user: %s, password: $%s }\n", Admin, PasswordVar(Admin))
	for _, p := range plans {
		perms := Permissions(p, plans)
		fmt.Fprintf(&b, "    {\n      user: %s, password: $%s\n      permissions: {\n", p.Service, PasswordVar(p.Service))
		fmt.Fprintf(&b, "        publish: {\n          allow: %s\n          deny: %s\n        }\n",
			list(perms.Publish.Allow, 10), list(perms.Publish.Deny, 10))
		fmt.Fprintf(&b, "        subscribe: { allow: %s }\n", list(perms.Subscribe.Allow, 0))
		fmt.Fprintf(&b, "        allow_responses: { max: %d, expires: %q }\n", perms.Response.MaxMsgs, perms.Response.Expires)
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

// list writes subjects as a quoted list, one per line indented by indent,
// or on one line when indent is 0. Quoted, a $ is not a variable.
func list(subjects []string, indent int) string {
	quoted := make([]string, len(subjects))
	for i, s := range subjects {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	if indent == 0 {
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	pad := strings.Repeat(" ", indent+2)
	return "[\n" + pad + strings.Join(quoted, "\n"+pad) + "\n" + strings.Repeat(" ", indent) + "]"
}

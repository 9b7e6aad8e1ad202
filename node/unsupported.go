package node

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/logthrottle"
)

// unsupportedInterval is the least time between two lines about one API
// key requested by one client software: clients that get their connection
// closed reconnect and retry, kafka-python's group consumer several times
// a second.
const unsupportedInterval = time.Minute

// unsupportedLog reports requests for API keys or versions the broker
// does not serve. Kafka closes the connection for those, and so does
// Chronik; without a word in the log an operator would not know why a
// client hangs or retries. It remembers, per connection, the client
// software named by the connection's ApiVersions request (v3+), and
// throttles the lines per (client software, API key).
type unsupportedLog struct {
	log      *slog.Logger
	throttle *logthrottle.Throttle

	mu sync.Mutex
	// software maps a connection to "name version" from its
	// ApiVersions; entries go when the connection closes, so the map is
	// bounded by the connection limit.
	software map[broker.ConnID]string
}

func newUnsupportedLog(log *slog.Logger, now func() time.Time) *unsupportedLog {
	u := &unsupportedLog{
		log:      log,
		throttle: logthrottle.MustNew(logthrottle.Config{Interval: unsupportedInterval, KeysMax: logthrottle.DefaultKeysMax, Now: now}),
		software: map[broker.ConnID]string{},
	}
	return u
}

// sawRequest remembers the client software of an ApiVersions v3+ request.
func (u *unsupportedLog) sawRequest(id broker.ConnID, req *broker.Request) {
	av, ok := req.Msg.(*kmsg.ApiVersionsRequest)
	if !ok || av.Version < 3 || av.ClientSoftwareName == "" {
		return
	}
	u.mu.Lock()
	u.software[id] = av.ClientSoftwareName + " " + av.ClientSoftwareVersion
	u.mu.Unlock()
}

// closed forgets a connection.
func (u *unsupportedLog) closed(id broker.ConnID) {
	u.mu.Lock()
	delete(u.software, id)
	u.mu.Unlock()
}

// check reports whether err (from broker.ParseRequest) refused an API key
// or version the broker does not serve, and if so logs it, throttled.
func (u *unsupportedLog) check(id broker.ConnID, remote string, err error) bool {
	var unsupported *broker.UnsupportedAPIError
	if !errors.As(err, &unsupported) {
		return false // the request was malformed instead
	}
	key, version := unsupported.Key, unsupported.Version
	u.mu.Lock()
	software, ok := u.software[id]
	u.mu.Unlock()
	if !ok {
		software = "unknown"
	}
	name := kmsg.NameForKey(key)
	if name == "" {
		name = fmt.Sprintf("API key %d", key)
	}
	what := fmt.Sprintf("%s v%d", name, version)
	if unsupported.Served {
		what += " (this version is not supported)"
	} else if hint := unsupportedHints[key]; hint != "" {
		what += " (" + hint + ")"
	}
	u.throttle.Log(u.log, software+"\x00"+name, slog.LevelWarn, slog.LevelWarn, "unsupported API: "+what,
		"client_id", unsupported.ClientID, "client_software", software, "remote", remote)
	return true
}

// unsupportedHints says, for API keys of features Chronik lacks, which
// feature it is.
var unsupportedHints = func() map[int16]string {
	m := map[int16]string{}
	// Transactions are served; committing offsets in one is not yet.
	m[kmsg.TxnOffsetCommit.Int16()] = "sending offsets to a transaction is not supported yet"
	for _, k := range []kmsg.Key{kmsg.SASLHandshake, kmsg.SASLAuthenticate} {
		m[k.Int16()] = "SASL authentication is not supported"
	}
	for _, k := range []kmsg.Key{kmsg.DescribeACLs, kmsg.CreateACLs, kmsg.DeleteACLs} {
		m[k.Int16()] = "ACLs are not supported"
	}
	return m
}()

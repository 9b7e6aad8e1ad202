package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded client request.
type Request struct {
	Conn          ConnID
	Seq           uint64 // position in the connection's request stream; opaque to the broker
	CorrelationID int32
	ClientID      *string
	// ClientHost is the client's address as Kafka shows it in group
	// descriptions ("/127.0.0.1"); the host sets it for the requests that
	// make a group member (JoinGroup, ConsumerGroupHeartbeat) only.
	ClientHost string
	Msg        kmsg.Request // decoded body, its version set
	// Listener is the listener the request arrived on. Its zero value is
	// the client listener, so a request nobody marked is untrusted.
	Listener Listener

	// internal, when set, receives the response instead of the Replier:
	// the request came from this broker itself (a broker calling its own
	// controller).
	internal func(kmsg.Response)
	// clientID holds the string ClientID points to, so that parsing a
	// request allocates the pointer's target with the Request.
	clientID string
}

// Listener names one of a broker's listeners (Kafka's listener names):
// which APIs a request may use depends on where it came in.
type Listener uint8

const (
	// ListenerClient is the Kafka listener clients use. Control-plane APIs
	// are neither advertised nor accepted on it, and replica fetches only
	// from registered brokers (routeAllowed).
	ListenerClient Listener = iota
	// ListenerControl is the inter-broker listener of a cluster (Kafka's
	// controller.listener.names and inter.broker.listener.name in one):
	// other brokers' registrations, heartbeats, ISR changes, producer-id
	// block requests and replica fetches arrive on it.
	ListenerControl
)

// String names the listener in log lines.
func (l Listener) String() string {
	if l == ListenerControl {
		return "control"
	}
	return "client"
}

// handlerFunc handles one request. It answers through b.reply, at once or
// later (produce waiting for a sync, fetch long-polling). A returned error
// closes the connection: Kafka's rule for requests it cannot make sense of.
type handlerFunc func(b *Broker, nowMs int64, req *Request) error

// apiHandler is one row of the API table.
type apiHandler struct {
	key        int16
	minVersion int16
	maxVersion int16
	handle     handlerFunc
	// control says the API belongs to the control plane: served only on
	// ListenerControl (and to the broker itself, sendPeer).
	control bool
}

// apiTable maps API keys to their handlers; each api file registers itself
// in init and ApiVersions is derived from the table.
var apiTable = map[int16]*apiHandler{}

// apiKeysMax bounds the API keys the table can hold (kmsg's are below it).
const apiKeysMax = 256

// apiByKey is apiTable as an array, for the lookup of every request: a
// map lookup per request showed in profiles.
var apiByKey [apiKeysMax]*apiHandler

// lookupAPI returns key's row of the API table, nil if none.
func lookupAPI(key int16) *apiHandler {
	if key < 0 || int(key) >= len(apiByKey) {
		return nil
	}
	return apiByKey[key]
}

// registerAPI adds an API to the table. It panics on a duplicate key or a
// version range kmsg cannot encode, both programming errors caught by any
// test that loads the package.
func registerAPI(key, minVersion, maxVersion int16, handle handlerFunc) {
	addAPI(key, minVersion, maxVersion, handle, false)
}

// registerControlAPI adds a control-plane API (broker to controller or
// broker to broker) to the table: served on the control listener only.
func registerControlAPI(key, minVersion, maxVersion int16, handle handlerFunc) {
	addAPI(key, minVersion, maxVersion, handle, true)
}

// addAPI is registerAPI and registerControlAPI.
func addAPI(key, minVersion, maxVersion int16, handle handlerFunc, control bool) {
	if _, dup := apiTable[key]; dup {
		panic(fmt.Sprintf("broker: API key %d registered twice", key))
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		panic(fmt.Sprintf("broker: kmsg has no request for key %d", key))
	}
	if minVersion < 0 || minVersion > maxVersion || maxVersion > req.MaxVersion() {
		panic(fmt.Sprintf("broker: API key %d range %d-%d invalid (kmsg max %d)", key, minVersion, maxVersion, req.MaxVersion()))
	}
	if key < 0 || int(key) >= apiKeysMax {
		panic(fmt.Sprintf("broker: API key %d outside the table's 0-%d", key, apiKeysMax-1))
	}
	h := &apiHandler{key: key, minVersion: minVersion, maxVersion: maxVersion, handle: handle, control: control}
	apiTable[key] = h
	apiByKey[key] = h
}

// SupportedAPIs lists the whole API table sorted by key: every API
// ParseRequest decodes, on any listener. ApiVersions answers
// AdvertisedAPIs.
func SupportedAPIs() []kmsg.ApiVersionsResponseApiKey {
	return listAPIs(func(*apiHandler) bool { return true })
}

// AdvertisedAPIs lists, sorted by key, the APIs ApiVersions reports on
// listener l: on the client listener every API but the control plane's,
// on the control listener all of them.
func AdvertisedAPIs(l Listener) []kmsg.ApiVersionsResponseApiKey {
	if l == ListenerControl {
		return SupportedAPIs()
	}
	return listAPIs(func(h *apiHandler) bool { return !h.control })
}

// listAPIs lists the rows of the table that keep accepts, sorted by key.
func listAPIs(keep func(*apiHandler) bool) []kmsg.ApiVersionsResponseApiKey {
	keys := make([]int, 0, len(apiTable))
	for k := range apiTable {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(keys))
	for _, k := range keys {
		if h := apiTable[int16(k)]; keep(h) {
			out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: h.key, MinVersion: h.minVersion, MaxVersion: h.maxVersion})
		}
	}
	return out
}

// ErrMalformedRequest is wrapped by every ParseRequest failure; the
// connection that sent the frame is closed.
var ErrMalformedRequest = errors.New("broker: malformed request")

// UnsupportedAPIError is the ParseRequest failure for an API key the
// broker does not serve, or a version outside the range it serves. It
// wraps ErrMalformedRequest (Kafka closes the connection in both cases)
// and carries what the I/O layer needs to say which client asked for what.
type UnsupportedAPIError struct {
	Key     int16
	Version int16
	// Served says the key is served, at other versions.
	Served bool
	// MinVersion and MaxVersion are the served range when Served.
	MinVersion, MaxVersion int16
	// ClientID is the request header's client id ("" when null or
	// unreadable).
	ClientID string
}

// Error implements error.
func (e *UnsupportedAPIError) Error() string {
	if e.Served {
		return fmt.Sprintf("%v: API key %d version %d outside supported range %d-%d", ErrMalformedRequest, e.Key, e.Version, e.MinVersion, e.MaxVersion)
	}
	return fmt.Sprintf("%v: unsupported API key %d (version %d)", ErrMalformedRequest, e.Key, e.Version)
}

// Unwrap makes errors.Is(err, ErrMalformedRequest) hold.
func (e *UnsupportedAPIError) Unwrap() error { return ErrMalformedRequest }

// ParseRequest decodes one request frame (the size prefix removed). It is a
// pure function, safe on any goroutine, so the I/O layer decodes in
// parallel. When the frame is an ApiVersions request of a version above
// the supported maximum, early is the response to send instead (Kafka
// answers in v0 with UNSUPPORTED_VERSION and the supported ranges, without
// parsing the body, so that newer clients can downgrade); it lists the
// client listener's APIs, since ParseRequest does not know the listener
// (no broker sends an ApiVersions version it does not serve).
// Any other unknown key, unsupported version or undecodable body is an
// error: Kafka closes the connection in those cases.
func ParseRequest(frame []byte) (req *Request, early kmsg.Response, err error) {
	if len(frame) < 8 {
		return nil, nil, fmt.Errorf("%w: frame of %d bytes is shorter than a request header", ErrMalformedRequest, len(frame))
	}
	key := int16(binary.BigEndian.Uint16(frame[0:]))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	correlationID := int32(binary.BigEndian.Uint32(frame[4:]))
	h := lookupAPI(key)
	if h == nil {
		return nil, nil, &UnsupportedAPIError{Key: key, Version: version, ClientID: headerClientID(frame[8:])}
	}
	if version < h.minVersion || version > h.maxVersion {
		if key == apiKeyApiVersions && version > h.maxVersion {
			resp := &kmsg.ApiVersionsResponse{Version: 0, ErrorCode: kerrUnsupportedVersion, ApiKeys: AdvertisedAPIs(ListenerClient)}
			return &Request{CorrelationID: correlationID, Msg: &kmsg.ApiVersionsRequest{Version: 0}}, resp, nil
		}
		return nil, nil, &UnsupportedAPIError{Key: key, Version: version, Served: true,
			MinVersion: h.minVersion, MaxVersion: h.maxVersion, ClientID: headerClientID(frame[8:])}
	}
	msg := kmsg.RequestForKey(key)
	msg.SetVersion(version)
	rest := frame[8:]
	// Request header v1: nullable client id (int16 length). Flexible
	// requests use header v2, which adds tagged fields after it; the client
	// id itself stays a classic nullable string.
	clientLen := int16(0)
	if len(rest) < 2 {
		return nil, nil, fmt.Errorf("%w: missing client id", ErrMalformedRequest)
	}
	clientLen = int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	var clientID []byte
	hasClientID := clientLen >= 0 // -1 is a null client id
	if hasClientID {
		if int(clientLen) > len(rest) {
			return nil, nil, fmt.Errorf("%w: client id of %d bytes overruns frame", ErrMalformedRequest, clientLen)
		}
		clientID = rest[:clientLen]
		rest = rest[clientLen:]
	} else if clientLen != -1 {
		return nil, nil, fmt.Errorf("%w: invalid client id length %d", ErrMalformedRequest, clientLen)
	}
	if msg.IsFlexible() {
		var err error
		rest, err = skipTaggedFields(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: request header tags: %v", ErrMalformedRequest, err)
		}
	}
	if err := msg.ReadFrom(rest); err != nil {
		return nil, nil, fmt.Errorf("%w: decode API key %d version %d: %v", ErrMalformedRequest, key, version, err)
	}
	req = &Request{CorrelationID: correlationID, Msg: msg}
	if hasClientID {
		req.clientID = string(clientID)
		req.ClientID = &req.clientID
	}
	return req, nil, nil
}

// clientIDBytesMax bounds the client id an UnsupportedAPIError quotes.
const clientIDBytesMax = 256

// headerClientID reads, for an error message, the client id of a request
// header (v1+: an int16 length and the bytes, -1 for null), cut to
// clientIDBytesMax; "" when null or unreadable.
func headerClientID(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	if n < 0 {
		return ""
	}
	b = b[2:]
	return string(b[:min(n, len(b), clientIDBytesMax)])
}

// skipTaggedFields skips a tagged-field section (KIP-482) with kmsg's
// SkipTags, which stops at the first read past the end (tagReader.Ok).
func skipTaggedFields(b []byte) ([]byte, error) {
	r := tagReader{src: b}
	kmsg.SkipTags(&r)
	if r.bad != "" {
		return nil, errors.New(r.bad)
	}
	return r.src, nil
}

// tagReader is the kmsg.TagReader over a request header's bytes: a read
// past the end, or a malformed varint, fails it (Ok), and SkipTags stops.
type tagReader struct {
	src []byte
	bad string // why the section is malformed; "" while it is not
}

// Uvarint reads a varint that fits 32 bits, as tags, counts and sizes do.
func (r *tagReader) Uvarint() uint32 {
	if r.bad != "" {
		return 0
	}
	v, n := binary.Uvarint(r.src)
	if n <= 0 || v > math.MaxUint32 {
		r.bad = "bad uvarint in tagged fields"
		return 0
	}
	r.src = r.src[n:]
	return uint32(v)
}

// Span returns the next n bytes.
func (r *tagReader) Span(n int) []byte {
	if r.bad != "" {
		return nil
	}
	if n < 0 || n > len(r.src) {
		r.bad = fmt.Sprintf("tagged field of %d bytes overruns %d", n, len(r.src))
		return nil
	}
	s := r.src[:n]
	r.src = r.src[n:]
	return s
}

// Ok says nothing read so far was malformed.
func (r *tagReader) Ok() bool { return r.bad == "" }

// EncodeResponse appends resp with its response header (correlation id,
// plus tagged fields for flexible versions except ApiVersions, whose
// response header is always v0 so clients can parse it before knowing the
// broker's versions), without the size prefix.
func EncodeResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiKeyApiVersions {
		dst = append(dst, 0)
	}
	return resp.AppendTo(dst)
}

// HandleRequest dispatches a parsed request.
func (b *Broker) HandleRequest(nowMs int64, req *Request) {
	b.observeNow(nowMs)
	if b.closed {
		b.env.Replier.CloseConn(req.Conn, "broker shutting down")
		return
	}
	h := lookupAPI(req.Msg.Key())
	if h == nil { // ParseRequest guarantees this cannot happen
		panic(fmt.Sprintf("broker: invariant violated: request with unregistered key %d reached HandleRequest", req.Msg.Key()))
	}
	if f, ok := req.Msg.(*kmsg.FetchRequest); ok {
		normalizeFetch(f) // before anything reads its replica id
	}
	// Before parking: a refused request must change nothing, not even
	// the parked queue.
	if reason := b.refusedOnListener(h, req); reason != "" {
		b.env.Replier.CloseConn(req.Conn, reason)
		return
	}
	if !b.caughtUp() && !servedBeforeCatchUp(req) {
		b.park(nowMs, req)
		return
	}
	if err := h.handle(b, nowMs, req); err != nil {
		b.env.Replier.CloseConn(req.Conn, err.Error())
	}
}

// reply sends resp for req, setting its version to the request's.
func (b *Broker) reply(req *Request, resp kmsg.Response) {
	if resp != nil {
		resp.SetVersion(req.Msg.GetVersion())
	}
	if req.internal != nil {
		req.internal(resp)
		return
	}
	b.env.Replier.Reply(req, resp)
}

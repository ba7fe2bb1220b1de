package client

import "fmt"

// The wire types below are the JSON bodies of the crdtd HTTP API (docs/http-api.md). The daemon
// encodes its responses with these same structs, so field names and order here are the API. They
// are plain values with no behaviour; copying one is safe, sharing one between goroutines is safe
// only for reading.

// Limits of the API. The daemon enforces them; the client checks IDs before sending.
const (
	// MaxIDLength is the longest cart or item ID, in bytes. IDs are 1–128 characters of
	// [A-Za-z0-9._:@-].
	MaxIDLength = 128
	// MaxAddQuantity is the largest quantity one add may carry; the smallest is 1.
	MaxAddQuantity = 1_000_000
	// MaxSetQuantity is the largest quantity a set may give a line; 0 removes the line.
	MaxSetQuantity = 1_000_000
	// MaxPriceCents is the largest unit price, in cents (ten billion in the currency's unit).
	MaxPriceCents = 1_000_000_000_000
)

// CartList is the body of GET /v1/carts: the names of all carts the node knows, sorted.
type CartList struct {
	Carts []string `json:"carts"`
}

// Line is one item of a cart view. Only items with a quantity above zero appear.
type Line struct {
	Item           string `json:"item"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	SubtotalCents  int64  `json:"subtotal_cents"`
}

// CartView is the body of GET /v1/carts/{cart} and of every mutation's response: the lines
// sorted by item, and the total. An unknown cart is an empty view, not an error. Items is an
// empty array, never null, on the wire.
type CartView struct {
	Cart       string `json:"cart"`
	Items      []Line `json:"items"`
	TotalCents int64  `json:"total_cents"`
	// Overflow is true when concurrent edits on several nodes pushed a
	// quantity, subtotal or the total beyond what an int64 holds; those
	// figures are then capped at 9223372036854775807. Removing lines brings
	// the cart back in range. Omitted when false.
	Overflow bool `json:"overflow,omitempty"`
}

// AddItemRequest is the body of POST /v1/carts/{cart}/items. Quantity must be in
// 1..[MaxAddQuantity]. UnitPriceCents is optional: nil (the field is absent on the wire) leaves the
// item's price unchanged, while a pointer to 0 makes the item free. The pointer is how JSON tells
// "not given" from zero; it is wire shape only, not an optional-config convention.
type AddItemRequest struct {
	Item           string `json:"item"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents *int64 `json:"unit_price_cents,omitempty"`
}

// SetItemRequest is the body of PUT /v1/carts/{cart}/items/{item}. At least one field must be
// given; a nil field is absent on the wire and leaves that part of the line unchanged. Quantity is
// in 0..[MaxSetQuantity] (0 removes the line); UnitPriceCents in 0..[MaxPriceCents].
type SetItemRequest struct {
	Quantity       *int64 `json:"quantity,omitempty"`
	UnitPriceCents *int64 `json:"unit_price_cents,omitempty"`
}

// Member is one cluster member as the node's membership sees it. State is one of "alive",
// "suspect", "dead" or "left".
type Member struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Replica string `json:"replica"`
	APIAddr string `json:"api_addr"`
	State   string `json:"state"`
}

// MemberList is the body of GET /v1/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// MemberCounts counts the members the node knows by state.
type MemberCounts struct {
	Alive   int `json:"alive"`
	Suspect int `json:"suspect"`
	Dead    int `json:"dead"`
	Left    int `json:"left"`
}

// PeerStatus is what a node knows about the consistency of one peer: whether their digests
// agreed at the last check, how long ago that check was, and how stale the peer's heartbeat
// object is here. HeartbeatStalenessSeconds is -1 if no heartbeat was ever seen.
type PeerStatus struct {
	Name                      string  `json:"name"`
	Replica                   string  `json:"replica"`
	State                     string  `json:"state"`
	DigestAgrees              bool    `json:"digest_agrees"`
	DigestCheckedSecondsAgo   float64 `json:"digest_checked_seconds_ago"`
	HeartbeatStalenessSeconds float64 `json:"heartbeat_staleness_seconds"`
}

// Status is the body of GET /v1/status. Digest is the hex root of the node's anti-entropy digest;
// two nodes with equal digests hold equal state. Peers are sorted by name.
type Status struct {
	Node          string       `json:"node"`
	Replica       string       `json:"replica"`
	APIAddr       string       `json:"api_addr"`
	GossipAddr    string       `json:"gossip_addr"`
	Version       string       `json:"version"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Carts         int          `json:"carts"`
	Digest        string       `json:"digest"`
	Members       MemberCounts `json:"members"`
	Peers         []PeerStatus `json:"peers"`
}

// Health is the body of GET /healthz.
type Health struct {
	Status string `json:"status"`
}

// ErrorCode is the machine-readable kind of an API error.
type ErrorCode string

// The error codes of the API, each with the HTTP status it travels with.
const (
	CodeInvalidArgument  ErrorCode = "invalid_argument"   // 400
	CodeUnauthorized     ErrorCode = "unauthorized"       // 401
	CodeNotFound         ErrorCode = "not_found"          // 404
	CodeMethodNotAllowed ErrorCode = "method_not_allowed" // 405
	CodeTooLarge         ErrorCode = "too_large"          // 413
	CodeInternal         ErrorCode = "internal"           // 500
	CodeUnavailable      ErrorCode = "unavailable"        // 503
)

// ErrorBody is the body of every 4xx/5xx response: {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an [ErrorBody].
type ErrorDetail struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// APIError is an error response from the node, as returned by [Client] methods. Use errors.As to
// get at it. StatusCode is the HTTP status; Code and Message come from the [ErrorBody] (when the
// body was not one, Code is derived from the status and Message is the status text).
type APIError struct {
	StatusCode int
	Code       ErrorCode
	Message    string
}

// Error returns the message followed by the code and HTTP status.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.StatusCode)
}

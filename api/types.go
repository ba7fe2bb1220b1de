package api

// CartList is the body of GET /v1/carts: one page of the names of the carts that have at least
// one line, sorted. Next is the name to pass as ?after= for the following page; it is absent on
// the last page.
type CartList struct {
	Carts []string `json:"carts"`
	Next  string   `json:"next,omitempty"`
}

// Line is one item of a cart view. Only items with a quantity above zero appear. UnitPriceCents
// and SubtotalCents are null when the item's price is unknown: it was never set, or a remove on
// one device and a concurrent add without a price on another left a line whose price nobody
// gave. An unknown price is never 0: a shop would sell the item for nothing.
type Line struct {
	Item           string `json:"item"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents *int64 `json:"unit_price_cents"`
	SubtotalCents  *int64 `json:"subtotal_cents"`
}

// CartView is the body of GET /v1/carts/{cart} and of every mutation's response: the lines
// sorted by item, and the total. An unknown cart is an empty view, not an error. Items is an
// empty array, never null, on the wire. TotalCents sums the lines whose price is known;
// UnpricedItems counts the others, so a total is complete only when UnpricedItems is 0.
type CartView struct {
	Cart          string `json:"cart"`
	Items         []Line `json:"items"`
	TotalCents    int64  `json:"total_cents"`
	UnpricedItems int    `json:"unpriced_items"`
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
// two nodes with equal digests hold equal state. Carts counts the carts with at least one line
// (those GET /v1/carts lists); EmptyCarts the carts whose lines were all removed, which a node
// keeps so that a stale peer cannot bring the lines back. Both are maintained, not counted on
// each request. Peers are sorted by name.
type Status struct {
	Node          string  `json:"node"`
	Replica       string  `json:"replica"`
	APIAddr       string  `json:"api_addr"`
	GossipAddr    string  `json:"gossip_addr"`
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Ready is what GET /readyz answers: the node serves writes and, when it was given seeds, has
	// joined one. NotReady says why not (for instance "not joined: no seed reachable: ...").
	Ready    bool   `json:"ready"`
	NotReady string `json:"not_ready,omitempty"`
	// Warnings lists what the operator should fix, such as gossip without a key on a network.
	Warnings   []string `json:"warnings,omitempty"`
	Carts      int      `json:"carts"`
	EmptyCarts int      `json:"empty_carts"`
	Digest     string   `json:"digest"`
	// DigestLoading is set while a node that just started builds its digest from its data file's
	// index (in the background, a few seconds a million carts): Digest is partial meanwhile, and
	// the node repairs nothing.
	DigestLoading bool         `json:"digest_loading,omitempty"`
	Members       MemberCounts `json:"members"`
	Peers         []PeerStatus `json:"peers"`
}

// Health is the body of GET /healthz.
type Health struct {
	Status string `json:"status"`
}

// Cents returns a pointer to c, for the optional and nullable money fields of the wire types.
func Cents(c int64) *int64 { return &c }

// Activity is the body of GET /v1/activity: this node's running totals, which a live view (the
// cluster page) reads every second and turns into rates by taking differences. Operations counts
// the local cart operations this node acknowledged, device syncs that changed a cart included
// (crdtd_operations_total summed over kinds); RemoteMerges the deltas and repairs from peers that
// changed its state (crdtd_remote_merges_total summed over channels). ReplicationLag is
// crdtd_replication_lag_seconds: the time from a change's origin timestamp to its application on
// this node.
type Activity struct {
	Operations     uint64    `json:"operations_total"`
	RemoteMerges   uint64    `json:"remote_merges_total"`
	ReplicationLag Histogram `json:"replication_lag_seconds"`
}

// Histogram is a cumulative histogram as Prometheus keeps one: Count observations summing to
// Sum, and for each bucket the number of observations at most its upper bound (Le). Observations
// above the last bound are counted in Count only.
type Histogram struct {
	Count   uint64            `json:"count"`
	Sum     float64           `json:"sum"`
	Buckets []HistogramBucket `json:"buckets"`
}

// HistogramBucket is one bucket of a [Histogram]: Count observations were at most Le.
type HistogramBucket struct {
	Le    float64 `json:"le"`
	Count uint64  `json:"count"`
}

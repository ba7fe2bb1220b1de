package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/loadgen"
)

// Output formats for -o/--output.
const (
	formatTable = "table"
	formatJSON  = "json"
)

var outputFormats = []string{formatTable, formatJSON}

// printer prints the results of commands in one output format (etcdctl's printer idea). Each
// method writes one complete result.
type printer interface {
	cart(api.CartView) error
	cartList(api.CartList) error
	members(api.MemberList) error
	status(api.Status) error
	benchReport(loadgen.Report) error
	syncReport(syncReport) error
}

func newPrinter(format string, w io.Writer, tty bool) (printer, error) {
	switch format {
	case formatTable:
		return &tablePrinter{w: w, tty: tty}, nil
	case formatJSON:
		return &jsonPrinter{w: w}, nil
	}
	return nil, fmt.Errorf("unknown output format %q", format)
}

// jsonPrinter prints the API's JSON, indented by two spaces. The values are the client's wire
// structs, so field names and order are those of the API, and slices keep the API's order.
type jsonPrinter struct {
	w io.Writer
}

func (p *jsonPrinter) print(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (p *jsonPrinter) cart(v api.CartView) error      { return p.print(v) }
func (p *jsonPrinter) cartList(v api.CartList) error  { return p.print(v) }
func (p *jsonPrinter) members(v api.MemberList) error { return p.print(v) }
func (p *jsonPrinter) status(v api.Status) error      { return p.print(v) }

// benchReport prints the report's own JSON, whose field names scripts rely on.
func (p *jsonPrinter) benchReport(v loadgen.Report) error { return p.print(v) }

// syncReport prints what a device's sync did; the API has no JSON for it (a sync speaks
// msgpack), so its field names are cartctl's own, and stable.
func (p *jsonPrinter) syncReport(v syncReport) error { return p.print(v) }

// tablePrinter prints tables. On a terminal the columns are aligned and have a header; piped, each
// row is its fields joined by tabs, with no header and no summary rows, so that cut, awk and
// sort see only data (gh's convention). Use -o json for everything else.
type tablePrinter struct {
	w   io.Writer
	tty bool
}

func (p *tablePrinter) cart(v api.CartView) error {
	t := newTable(p.w, p.tty)
	t.header("ITEM", "QTY", "UNIT PRICE", "SUBTOTAL")
	for _, l := range v.Items {
		t.row(l.Item, strconv.FormatInt(l.Quantity, 10), formatPrice(l.UnitPriceCents), formatPrice(l.SubtotalCents))
	}
	if p.tty {
		t.row("TOTAL", "", "", FormatCents(v.TotalCents))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if p.tty && v.UnpricedItems > 0 {
		_, err := fmt.Fprintf(p.w, "%d of the items have no price; the total leaves them out\n", v.UnpricedItems)
		return err
	}
	return nil
}

func (p *tablePrinter) cartList(v api.CartList) error {
	t := newTable(p.w, p.tty)
	for _, c := range v.Carts {
		t.row(c)
	}
	return t.flush()
}

// syncReport prints a line per cart saying what happened on a terminal; piped, a row per cart:
// name, changes pushed, lines now, whether the node's answer changed the device's cart.
func (p *tablePrinter) syncReport(v syncReport) error {
	t := newTable(p.w, p.tty)
	for _, r := range v.Carts {
		if p.tty {
			t.row(r.Cart, r.summary())
		} else {
			t.row(r.Cart, strconv.Itoa(r.Pushed), strconv.Itoa(r.Lines), strconv.FormatBool(r.Received))
		}
	}
	return t.flush()
}

func (p *tablePrinter) members(v api.MemberList) error {
	t := newTable(p.w, p.tty)
	t.header("NAME", "STATE", "ADDR", "API", "REPLICA")
	for _, m := range v.Members {
		if p.tty {
			t.row(orDash(m.Name), orDash(m.State), orDash(m.Addr), orDash(m.APIAddr), orDash(m.Replica))
		} else {
			t.row(m.Name, m.State, m.Addr, m.APIAddr, m.Replica)
		}
	}
	return t.flush()
}

func (p *tablePrinter) status(v api.Status) error {
	if !p.tty {
		return p.statusRows(v)
	}
	t := newTable(p.w, true)
	t.row("Node:", orDash(v.Node))
	t.row("Replica:", orDash(v.Replica))
	t.row("API:", orDash(v.APIAddr))
	t.row("Gossip:", orDash(v.GossipAddr))
	t.row("Version:", orDash(v.Version))
	t.row("Uptime:", formatSeconds(v.UptimeSeconds))
	if v.Ready {
		t.row("Ready:", "yes")
	} else {
		t.row("Ready:", "no: "+orDash(v.NotReady))
	}
	for _, w := range v.Warnings {
		t.row("Warning:", w)
	}
	t.row("Carts:", fmt.Sprintf("%d (and %d emptied)", v.Carts, v.EmptyCarts))
	if v.DigestLoading {
		t.row("Digest:", orDash(v.Digest)+" (loading: repairs wait until it is built)")
	} else {
		t.row("Digest:", orDash(v.Digest))
	}
	m := v.Members
	t.row("Members:", fmt.Sprintf("%d alive, %d suspect, %d dead, %d left", m.Alive, m.Suspect, m.Dead, m.Left))
	if len(v.Peers) == 0 {
		t.row("Peers:", "none")
		return t.flush()
	}
	if err := t.flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(p.w, "\n"); err != nil {
		return err
	}
	t = newTable(p.w, true)
	t.header("PEER", "STATE", "DIGEST", "CHECKED", "HEARTBEAT", "REPLICA")
	for _, peer := range v.Peers {
		digest := "differs"
		if peer.DigestAgrees {
			digest = "agrees"
		}
		heartbeat := "never"
		if peer.HeartbeatStalenessSeconds >= 0 {
			heartbeat = formatSeconds(peer.HeartbeatStalenessSeconds)
		}
		t.row(peer.Name, peer.State, digest, formatSeconds(peer.DigestCheckedSecondsAgo)+" ago", heartbeat, peer.Replica)
	}
	return t.flush()
}

// statusRows prints the status as key-tab-value rows, then one row per peer starting with "peer":
// name, state, digest agreement (true/false), seconds since the digest check, heartbeat
// staleness in seconds (-1 if never seen), replica. Seconds are rounded to the millisecond.
func (p *tablePrinter) statusRows(v api.Status) error {
	t := newTable(p.w, false)
	t.row("node", v.Node)
	t.row("replica", v.Replica)
	t.row("api_addr", v.APIAddr)
	t.row("gossip_addr", v.GossipAddr)
	t.row("version", v.Version)
	t.row("uptime_seconds", formatFloat(v.UptimeSeconds))
	t.row("ready", strconv.FormatBool(v.Ready))
	if v.NotReady != "" {
		t.row("not_ready", v.NotReady)
	}
	for _, w := range v.Warnings {
		t.row("warning", w)
	}
	t.row("carts", strconv.Itoa(v.Carts))
	t.row("empty_carts", strconv.Itoa(v.EmptyCarts))
	t.row("digest", v.Digest)
	t.row("members_alive", strconv.Itoa(v.Members.Alive))
	t.row("members_suspect", strconv.Itoa(v.Members.Suspect))
	t.row("members_dead", strconv.Itoa(v.Members.Dead))
	t.row("members_left", strconv.Itoa(v.Members.Left))
	for _, peer := range v.Peers {
		t.row("peer", peer.Name, peer.State, strconv.FormatBool(peer.DigestAgrees),
			formatFloat(peer.DigestCheckedSecondsAgo), formatFloat(peer.HeartbeatStalenessSeconds), peer.Replica)
	}
	return t.flush()
}

func (p *tablePrinter) benchReport(rep loadgen.Report) error {
	if !p.tty {
		return p.benchRows(rep)
	}
	t := newTable(p.w, true)
	t.row("Nodes:", strings.Join(rep.Nodes, ", "))
	load := fmt.Sprintf("%d workers, closed loop", rep.Concurrency)
	if rep.Rate > 0 {
		load = fmt.Sprintf("%d workers, open loop at %s ops/s", rep.Concurrency, formatFloat(rep.Rate))
	}
	t.row("Load:", fmt.Sprintf("%s, mix %s, seed %d", load, rep.Mix, rep.Seed))
	duration := formatSeconds(rep.DurationSeconds)
	if rep.Interrupted {
		duration += " (interrupted)"
	}
	t.row("Duration:", duration)
	t.row("Operations:", fmt.Sprintf("%d (%d failed)", rep.Ops, rep.Failed))
	t.row("Throughput:", fmt.Sprintf("%.1f ops/s", rep.Throughput))
	errs := "none"
	if len(rep.Errors) > 0 {
		var parts []string
		for _, kind := range slices.Sorted(maps.Keys(rep.Errors)) {
			parts = append(parts, fmt.Sprintf("%s %d", kind, rep.Errors[kind]))
		}
		errs = strings.Join(parts, ", ")
	}
	t.row("Errors:", errs)
	c := rep.Convergence
	conv := "not measured (needs --convergence-samples and two or more nodes)"
	if c.Samples+c.Timeouts+c.Errors > 0 {
		conv = fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d samples, %d timed out, %d failed)",
			formatMillis(c.P50), formatMillis(c.P90), formatMillis(c.P99), formatMillis(c.Max),
			c.Samples, c.Timeouts, c.Errors)
	}
	t.row("Convergence:", conv)
	cleanup := fmt.Sprintf("none: the run's carts (%s...) are left in place; --cleanup clears them", loadgen.CartPrefix)
	if cl := rep.Cleanup; cl != (loadgen.CleanupReport{}) {
		cleanup = fmt.Sprintf("cleared %d carts on every node", cl.Carts)
		if cl.Failed > 0 {
			cleanup += fmt.Sprintf("; %d clears failed, leaving carts behind (cartctl list shows them)", cl.Failed)
		}
	}
	t.row("Cleanup:", cleanup)
	if err := t.flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(p.w, "\n"); err != nil {
		return err
	}

	t = newTable(p.w, true)
	t.header("OP", "OPS", "FAILED", "OPS/S", "P50", "P90", "P99", "MAX")
	opRow := func(name string, ops, failed int64, tput float64, l loadgen.Latency) {
		t.row(name, strconv.FormatInt(ops, 10), strconv.FormatInt(failed, 10), fmt.Sprintf("%.1f", tput),
			formatMillis(l.P50), formatMillis(l.P90), formatMillis(l.P99), formatMillis(l.Max))
	}
	for _, name := range rep.OpNames() {
		o := rep.ByOp[name]
		opRow(name, o.Ops, o.Failed, o.Throughput, o.Latency)
	}
	opRow("all", rep.Ops, rep.Failed, rep.Throughput, rep.Latency)
	return t.flush()
}

// benchRows prints a bench report as rows of tab-separated fields, each led by a key:
// "duration_seconds", "ops", "failed", "throughput", then "error KIND COUNT" per kind of error,
// "op NAME OPS FAILED OPS/S P50 P90 P99 MAX" per operation and for "all", and
// "convergence SAMPLES TIMEOUTS ERRORS P50 P90 P99 MAX", and "cleanup CARTS FAILED" when the
// run cleaned up; latencies in milliseconds.
func (p *tablePrinter) benchRows(rep loadgen.Report) error {
	t := newTable(p.w, false)
	t.row("duration_seconds", formatFloat(rep.DurationSeconds))
	t.row("ops", strconv.FormatInt(rep.Ops, 10))
	t.row("failed", strconv.FormatInt(rep.Failed, 10))
	t.row("throughput", formatFloat(rep.Throughput))
	for _, kind := range slices.Sorted(maps.Keys(rep.Errors)) {
		t.row("error", kind, strconv.FormatInt(rep.Errors[kind], 10))
	}
	opRow := func(name string, ops, failed int64, tput float64, l loadgen.Latency) {
		t.row("op", name, strconv.FormatInt(ops, 10), strconv.FormatInt(failed, 10), formatFloat(tput),
			formatFloat(l.P50), formatFloat(l.P90), formatFloat(l.P99), formatFloat(l.Max))
	}
	for _, name := range rep.OpNames() {
		o := rep.ByOp[name]
		opRow(name, o.Ops, o.Failed, o.Throughput, o.Latency)
	}
	opRow("all", rep.Ops, rep.Failed, rep.Throughput, rep.Latency)
	c := rep.Convergence
	t.row("convergence", strconv.Itoa(c.Samples), strconv.Itoa(c.Timeouts), strconv.Itoa(c.Errors),
		formatFloat(c.P50), formatFloat(c.P90), formatFloat(c.P99), formatFloat(c.Max))
	if cl := rep.Cleanup; cl != (loadgen.CleanupReport{}) {
		t.row("cleanup", strconv.Itoa(cl.Carts), strconv.Itoa(cl.Failed))
	}
	return t.flush()
}

// formatMillis formats a latency in milliseconds for people: "0.42ms", "12.3ms", "1.52s".
func formatMillis(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}

// formatSeconds formats a number of seconds for people: "400ms", "12.5s", "1h2m3.4s".
func formatSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d >= time.Second || d <= -time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// orDash shows an empty field as "-" in an aligned table, where a blank would shift the eye.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatFloat formats a figure for a piped table: rounded to three decimals (a millisecond, for
// seconds), without trailing zeros. The API's figures are raw floats such as 11.872239326999999;
// scripts reading rows want 11.872, and -o json keeps the API's value.
func formatFloat(f float64) string {
	r := math.Round(f*1000) / 1000
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// table writes rows: aligned by a tabwriter on a terminal, tab-separated otherwise.
type table struct {
	w   io.Writer
	tty bool
	tw  *tabwriter.Writer
	err error // first write error when not on a terminal
}

func newTable(w io.Writer, tty bool) *table {
	t := &table{w: w, tty: tty}
	if tty {
		t.tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	}
	return t
}

// header writes a header row, on a terminal only.
func (t *table) header(cols ...string) {
	if t.tty {
		t.row(cols...)
	}
}

func (t *table) row(cols ...string) {
	for i, c := range cols {
		cols[i] = sanitize(c)
	}
	line := strings.Join(cols, "\t") + "\n"
	if t.tty {
		_, _ = io.WriteString(t.tw, line) // the error comes back from Flush
		return
	}
	if t.err == nil {
		_, t.err = io.WriteString(t.w, line)
	}
}

func (t *table) flush() error {
	if t.tty {
		return t.tw.Flush()
	}
	return t.err
}

// sanitize replaces control characters, so that a field from the node can neither break the
// table's rows and columns nor send escape sequences to the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// formatPrice formats a price that may be unknown: "-" for unknown, never 0.00.
func formatPrice(cents *int64) string {
	if cents == nil {
		return "-"
	}
	return FormatCents(*cents)
}

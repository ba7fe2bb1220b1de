package gossip

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// genuineNode is a member as a node of this build announces itself.
func genuineNode() memberlist.Node {
	return memberlist.Node{
		Name: "n1", Addr: net.IPv4(10, 0, 0, 1).To4(), Port: 7946,
		PMin: memberlist.ProtocolVersionMin, PMax: memberlist.ProtocolVersionMax, PCur: memberlist.ProtocolVersion2Compatible,
	}
}

// TestAliveCheck feeds the alive check members as memberlist hands them
// over: each refused one names what is wrong with it, and genuine ones
// pass. A message with fewer than 6 versions never reaches the check
// (memberlist refuses it once an AliveDelegate is set; see
// TestBogusAliveKeepsAntiEntropy); versions it lacks read as 0 here.
func TestAliveCheck(t *testing.T) {
	t.Parallel()
	mc := DefaultLocalConfig().Memberlist
	a := newAliveCheck(mc)
	tests := []struct {
		name  string
		tweak func(nd *memberlist.Node)
		want  string // substring of the error; "" to accept
	}{
		{"genuine", func(*memberlist.Node) {}, ""},
		{"IPv4 in 16 bytes", func(nd *memberlist.Node) { nd.Addr = net.IPv4(10, 0, 0, 1) }, ""},
		{"IPv6", func(nd *memberlist.Node) { nd.Addr = net.IPv6loopback }, ""},
		{"name of 255 bytes", func(nd *memberlist.Node) { nd.Name = strings.Repeat("n", 255) }, ""},
		{"a later memberlist understanding 1..6", func(nd *memberlist.Node) { nd.PMax = 6 }, ""},
		{"delegate understanding 0..3", func(nd *memberlist.Node) { nd.DMax = 3 }, ""},

		{"no versions", func(nd *memberlist.Node) { nd.PMin, nd.PMax, nd.PCur = 0, 0, 0 }, "protocol versions 0..0 speaking 0"},
		{"only a current version", func(nd *memberlist.Node) { nd.PMin, nd.PMax = 0, 0 }, "protocol versions 0..0 speaking 2"},
		{"minimum 0", func(nd *memberlist.Node) { nd.PMin = 0 }, "protocol versions 0..5"},
		{"min above max", func(nd *memberlist.Node) { nd.PMin, nd.PMax = 5, 1 }, "protocol versions 5..1"},
		{"speaking 6", func(nd *memberlist.Node) { nd.PMax, nd.PCur = 6, 6 }, "speaking 6"},
		{"speaking 0", func(nd *memberlist.Node) { nd.PCur = 0 }, "speaking 0"},
		{"speaking outside its own range", func(nd *memberlist.Node) { nd.PMin, nd.PMax, nd.PCur = 1, 1, 2 }, "protocol versions 1..1"},
		{"speaking another valid version", func(nd *memberlist.Node) { nd.PCur = 3 }, "speaking 3"},
		{"range without ours", func(nd *memberlist.Node) { nd.PMin, nd.PCur = 3, 3 }, "protocol versions 3..5"},
		{"range narrowed to ours", func(nd *memberlist.Node) { nd.PMin, nd.PMax = 3, 3 }, "protocol versions 3..3 speaking 2"},
		{"delegate speaking 200", func(nd *memberlist.Node) { nd.DMax, nd.DCur = 255, 200 }, "delegate protocol versions 0..255 speaking 200"},
		{"delegate min above ours", func(nd *memberlist.Node) { nd.DMin, nd.DMax = 1, 1 }, "delegate protocol versions 1..1"},

		{"empty name", func(nd *memberlist.Node) { nd.Name = "" }, "empty name"},
		{"name of 256 bytes", func(nd *memberlist.Node) { nd.Name = strings.Repeat("n", 256) }, "name of 256 bytes"},
		{"port 0", func(nd *memberlist.Node) { nd.Port = 0 }, "port 0"},
		{"no address", func(nd *memberlist.Node) { nd.Addr = nil }, "IP address of 0 bytes"},
		{"address of 3 bytes", func(nd *memberlist.Node) { nd.Addr = []byte{10, 0, 0} }, "IP address of 3 bytes"},
		{"0.0.0.0", func(nd *memberlist.Node) { nd.Addr = net.IPv4zero.To4() }, "not a unicast address"},
		{"::", func(nd *memberlist.Node) { nd.Addr = net.IPv6unspecified }, "not a unicast address"},
		{"multicast", func(nd *memberlist.Node) { nd.Addr = net.IPv4(224, 0, 0, 1) }, "not a unicast address"},
		{"broadcast", func(nd *memberlist.Node) { nd.Addr = net.IPv4bcast }, "not a unicast address"},
	}
	for _, tt := range tests {
		nd := genuineNode()
		tt.tweak(&nd)
		err := a.NotifyAlive(&nd)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: accepted, want refused", tt.name)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: got %q, want it to say %q", tt.name, err, tt.want)
		}
	}
}

// TestAliveCheckOwnVersions checks the rule against the versions the node
// speaks, not fixed ones: a cluster configured to speak other versions
// accepts its own members and refuses ours.
func TestAliveCheckOwnVersions(t *testing.T) {
	t.Parallel()
	mc := DefaultLocalConfig().Memberlist
	mc.ProtocolVersion = 3
	mc.DelegateProtocolMin, mc.DelegateProtocolMax, mc.DelegateProtocolVersion = 1, 2, 1
	a := newAliveCheck(mc)
	theirs := genuineNode()
	theirs.PCur, theirs.DMin, theirs.DMax, theirs.DCur = 3, 1, 2, 1
	if err := a.NotifyAlive(&theirs); err != nil {
		t.Errorf("member of the same versions refused: %v", err)
	}
	ours := genuineNode()
	if err := a.NotifyAlive(&ours); err == nil {
		t.Error("member speaking protocol 2 and delegate 0 accepted by a node speaking 3 and 1")
	}
}

// stubAlive is a caller's AliveDelegate that records what it is asked.
type stubAlive struct {
	asked []string
	err   error
}

func (s *stubAlive) NotifyAlive(nd *memberlist.Node) error {
	s.asked = append(s.asked, nd.Name)
	return s.err
}

// TestAliveCheckWrapsCallers checks that a caller's Alive delegate is asked
// about the members gossip accepts, and only those, and that its refusal
// stands.
func TestAliveCheckWrapsCallers(t *testing.T) {
	t.Parallel()
	mc := DefaultLocalConfig().Memberlist
	stub := &stubAlive{err: errors.New("not in my cluster")}
	mc.Alive = stub
	a := newAliveCheck(mc)
	bad := genuineNode()
	bad.Name = "bad"
	bad.PCur = 0
	if err := a.NotifyAlive(&bad); err == nil || strings.Contains(err.Error(), "not in my cluster") {
		t.Errorf("bogus member: got %v, want gossip's refusal", err)
	}
	good := genuineNode()
	if err := a.NotifyAlive(&good); err == nil || !strings.Contains(err.Error(), "not in my cluster") {
		t.Errorf("genuine member: got %v, want the caller's refusal", err)
	}
	if want := []string{"n1"}; strings.Join(stub.asked, ",") != strings.Join(want, ",") {
		t.Errorf("caller's delegate asked about %q, want %q", stub.asked, want)
	}
}

// TestConfigDelegateProtocolVersion: New refuses a node that would speak a
// delegate version outside its own range, since the alive check would then
// refuse the node's own alive message.
func TestConfigDelegateProtocolVersion(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Memberlist.DelegateProtocolMin, c.Memberlist.DelegateProtocolMax, c.Memberlist.DelegateProtocolVersion = 1, 2, 3
	n, err := New(c)
	if !errors.Is(err, ErrConfig) {
		if n != nil {
			_ = n.Shutdown()
		}
		t.Fatalf("New: got %v, want ErrConfig", err)
	}
}

// portZeroTransport advertises port 0, an address the alive check refuses.
type portZeroTransport struct{ *memberlist.NetTransport }

func (t portZeroTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	addr, _, err := t.NetTransport.FinalAdvertiseAddr(ip, port)
	return addr, 0, err
}

// TestNewRefusesOwnInvalidAddress: a node whose transport advertises an
// address the alive check refuses is not created (memberlist would have
// left it out of its own member list).
func TestNewRefusesOwnInvalidAddress(t *testing.T) {
	t.Parallel()
	c := validConfig()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		Logger:    newMemberlistLogger(testLogger(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Memberlist.Transport = portZeroTransport{nt}
	n, err := New(c)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "invalid address") {
		if n != nil {
			_ = n.Shutdown()
		}
		t.Fatalf("New: got %v, want ErrConfig", err)
	}
}

package cli

import (
	"strings"
	"testing"
)

func TestNewCmdAdd(t *testing.T) {
	type args struct {
		Cart, Item, Output string
		Qty                int64
		Price              priceFlag
	}
	tests := []struct {
		argv    []string
		want    args
		wantErr bool
	}{
		{argv: []string{"alice", "apple"}, want: args{Cart: "alice", Item: "apple", Qty: 1, Output: "table"}},
		{argv: []string{"alice", "apple", "--qty", "3", "--price", "1.25"},
			want: args{Cart: "alice", Item: "apple", Qty: 3, Price: priceFlag{Cents: 125, Given: true}, Output: "table"}},
		{argv: []string{"alice", "apple", "-n", "1000000", "--price", "0", "-o", "json"},
			want: args{Cart: "alice", Item: "apple", Qty: 1000000, Price: priceFlag{Given: true}, Output: "json"}},
		{argv: []string{"alice"}, wantErr: true},
		{argv: []string{}, wantErr: true},
		{argv: []string{"alice", "apple", "pear"}, wantErr: true},
		{argv: []string{"alice", "apple", "--qty", "0"}, wantErr: true},
		{argv: []string{"alice", "apple", "--qty", "1000001"}, wantErr: true},
		{argv: []string{"alice", "apple", "--qty", "two"}, wantErr: true},
		{argv: []string{"alice", "apple", "--qty", "-1"}, wantErr: true},
		{argv: []string{"alice", "apple", "-n", "1.5"}, wantErr: true},
		{argv: []string{"alice", "apple", "--price", "1.255"}, wantErr: true},
		{argv: []string{"alice", "apple", "--price", "-1"}, wantErr: true},
		{argv: []string{"alice", "apple", "--bogus"}, wantErr: true},
		{argv: []string{"alice", "apple", "-o", "yaml"}, wantErr: true},
		{argv: []string{"al ice", "apple"}, wantErr: true},
		{argv: []string{"alice", "a/b"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *addOptions
		cmd := newCmdAdd(testFactory(t), func(o *addOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		g := args{Cart: got.Cart, Item: got.Item, Output: got.Output, Qty: got.Qty.N, Price: got.Price}
		if g != tt.want {
			t.Errorf("argv %q: got %+v, want %+v", tt.argv, g, tt.want)
		}
	}
}

func TestNewCmdSet(t *testing.T) {
	type args struct {
		Cart, Item string
		Qty        int64
		Price      priceFlag
	}
	tests := []struct {
		argv    []string
		want    args
		wantErr bool
	}{
		{argv: []string{"alice", "apple", "5"}, want: args{Cart: "alice", Item: "apple", Qty: 5}},
		{argv: []string{"alice", "apple", "0"}, want: args{Cart: "alice", Item: "apple", Qty: 0}},
		{argv: []string{"alice", "apple", "7", "--price", "3"},
			want: args{Cart: "alice", Item: "apple", Qty: 7, Price: priceFlag{Cents: 300, Given: true}}},
		{argv: []string{"alice", "apple"}, wantErr: true},
		{argv: []string{"alice", "apple", "-1"}, wantErr: true},
		{argv: []string{"alice", "apple", "-1", "--price", "2"}, wantErr: true},
		{argv: []string{"alice", "apple", "--", "-1"}, wantErr: true},
		{argv: []string{"alice", "apple", "1000001"}, wantErr: true},
		{argv: []string{"alice", "apple", "2.5"}, wantErr: true},
		{argv: []string{"alice", "apple", "1", "2"}, wantErr: true},
		{argv: []string{"alice", "apple", "1", "--price", "1e3"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *setOptions
		cmd := newCmdSet(testFactory(t), func(o *setOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		g := args{Cart: got.Cart, Item: got.Item, Qty: got.Qty, Price: got.Price}
		if g != tt.want {
			t.Errorf("argv %q: got %+v, want %+v", tt.argv, g, tt.want)
		}
	}
}

func TestNewCmdRemove(t *testing.T) {
	tests := []struct {
		argv       []string
		cart, item string
		wantErr    bool
	}{
		{argv: []string{"alice", "apple"}, cart: "alice", item: "apple"},
		{argv: []string{"a:b@c", "x.y_z-1"}, cart: "a:b@c", item: "x.y_z-1"},
		{argv: []string{"alice"}, wantErr: true},
		{argv: []string{"alice", "apple", "x"}, wantErr: true},
		{argv: []string{"alice", strings.Repeat("x", 129)}, wantErr: true},
	}
	for _, tt := range tests {
		var got *removeOptions
		cmd := newCmdRemove(testFactory(t), func(o *removeOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		if got.Cart != tt.cart || got.Item != tt.item {
			t.Errorf("argv %q: got cart %q item %q, want %q %q", tt.argv, got.Cart, got.Item, tt.cart, tt.item)
		}
	}
}

// TestNewCmdCartOnly covers the commands that take exactly one CART.
func TestNewCmdCartOnly(t *testing.T) {
	tests := []struct {
		argv    []string
		want    string
		wantErr bool
	}{
		{argv: []string{"alice"}, want: "alice"},
		{argv: []string{"alice", "-o", "json"}, want: "alice"},
		{argv: []string{}, wantErr: true},
		{argv: []string{"alice", "bob"}, wantErr: true},
		{argv: []string{"ali/ce"}, wantErr: true},
	}
	for _, tt := range tests {
		var show, clr string
		showCmd := newCmdShow(testFactory(t), func(o *showOptions) error { show = o.Cart; return nil })
		err := runTestCmd(t, showCmd, tt.argv...)
		checkUsageError(t, append([]string{"show"}, tt.argv...), err, tt.wantErr)
		if err == nil && show != tt.want {
			t.Errorf("show %q: got cart %q, want %q", tt.argv, show, tt.want)
		}
		clearCmd := newCmdClear(testFactory(t), func(o *clearOptions) error { clr = o.Cart; return nil })
		err = runTestCmd(t, clearCmd, tt.argv...)
		checkUsageError(t, append([]string{"clear"}, tt.argv...), err, tt.wantErr)
		if err == nil && clr != tt.want {
			t.Errorf("clear %q: got cart %q, want %q", tt.argv, clr, tt.want)
		}
	}
}

// TestNewCmdNoArgs covers the commands that take no arguments.
func TestNewCmdNoArgs(t *testing.T) {
	tests := []struct {
		argv       []string
		wantOutput string
		wantErr    bool
	}{
		{argv: []string{}, wantOutput: "table"},
		{argv: []string{"-o", "json"}, wantOutput: "json"},
		{argv: []string{"--output=json", "--timeout", "3s", "--node", "127.0.0.1:1"}, wantOutput: "json"},
		{argv: []string{"extra"}, wantErr: true},
		{argv: []string{"--timeout", "0s"}, wantErr: true},
		{argv: []string{"--timeout", "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		var list, members, status string
		f := testFactory(t)
		cmds := map[string]struct {
			run func() error
			got *string
		}{
			"list": {func() error {
				return runTestCmd(t, newCmdList(f, func(o *listOptions) error { list = o.Output; return nil }), tt.argv...)
			}, &list},
			"members": {func() error {
				return runTestCmd(t, newCmdMembers(f, func(o *membersOptions) error { members = o.Output; return nil }), tt.argv...)
			}, &members},
			"status": {func() error {
				return runTestCmd(t, newCmdStatus(f, func(o *statusOptions) error { status = o.Output; return nil }), tt.argv...)
			}, &status},
		}
		for name, c := range cmds {
			err := c.run()
			checkUsageError(t, append([]string{name}, tt.argv...), err, tt.wantErr)
			if err == nil && *c.got != tt.wantOutput {
				t.Errorf("%s %q: got output format %q, want %q", name, tt.argv, *c.got, tt.wantOutput)
			}
		}
	}
}

func TestNewCmdCompletion(t *testing.T) {
	tests := []struct {
		argv    []string
		want    string
		wantErr bool
	}{
		{argv: []string{"bash"}, want: "bash"},
		{argv: []string{"powershell"}, want: "powershell"},
		{argv: []string{"tcsh"}, wantErr: true},
		{argv: []string{}, wantErr: true},
		{argv: []string{"bash", "zsh"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *completionOptions
		cmd := newCmdCompletion(testFactory(t), func(o *completionOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if err == nil && got.Shell != tt.want {
			t.Errorf("argv %q: got shell %q, want %q", tt.argv, got.Shell, tt.want)
		}
	}
}

func TestAddRun(t *testing.T) {
	runModes(t, "add", func(base baseOptions) error {
		return runAdd(t.Context(), &addOptions{baseOptions: base, Cart: "alice", Item: "cherry", Qty: quantityFlag{N: 12},
			Price: priceFlag{Cents: 5, Given: true}})
	})
}

func TestAddRunKeepsPrice(t *testing.T) {
	runModes(t, "add_keep_price", func(base baseOptions) error {
		return runAdd(t.Context(), &addOptions{baseOptions: base, Cart: "alice", Item: "apple", Qty: quantityFlag{N: 1}})
	})
}

func TestSetRun(t *testing.T) {
	runModes(t, "set", func(base baseOptions) error {
		return runSet(t.Context(), &setOptions{baseOptions: base, Cart: "alice", Item: "bread", Qty: 3,
			Price: priceFlag{Cents: 275, Given: true}})
	})
}

func TestRemoveRun(t *testing.T) {
	runModes(t, "remove", func(base baseOptions) error {
		return runRemove(t.Context(), &removeOptions{baseOptions: base, Cart: "alice", Item: "apple"})
	})
}

func TestClearRun(t *testing.T) {
	runModes(t, "clear", func(base baseOptions) error {
		return runClear(t.Context(), &clearOptions{baseOptions: base, Cart: "alice"})
	})
}

func TestShowRun(t *testing.T) {
	runModes(t, "show", func(base baseOptions) error {
		return runShow(t.Context(), &showOptions{baseOptions: base, Cart: "alice"})
	})
}

// TestShowRunUnknownPrice: a line whose price is unknown shows "-", never
// 0.00, and the terminal says the total leaves it out.
func TestShowRunUnknownPrice(t *testing.T) {
	runModes(t, "show_unpriced", func(base baseOptions) error {
		return runShow(t.Context(), &showOptions{baseOptions: base, Cart: "carol"})
	})
}

// TestStatusRunNotReady: a node that has not joined says why, on a
// terminal and piped.
func TestStatusRunNotReady(t *testing.T) {
	saved := fakeStatus
	t.Cleanup(func() { fakeStatus = saved })
	fakeStatus.Ready = false
	fakeStatus.NotReady = "not joined: no seed reachable: EOF (the seed hung up: wrong or missing gossip key, or a different cluster label?)"
	fakeStatus.Warnings = []string{"gossip is not encrypted and listens beyond loopback"}
	fakeStatus.DigestLoading = true
	runModes(t, "status_not_ready", func(base baseOptions) error {
		return runStatus(t.Context(), &statusOptions{baseOptions: base})
	})
}

func TestShowRunUnknownCart(t *testing.T) {
	runModes(t, "show_empty", func(base baseOptions) error {
		return runShow(t.Context(), &showOptions{baseOptions: base, Cart: "nobody"})
	})
}

func TestListRun(t *testing.T) {
	runModes(t, "list", func(base baseOptions) error {
		return runList(t.Context(), &listOptions{baseOptions: base})
	})
}

func TestMembersRun(t *testing.T) {
	runModes(t, "members", func(base baseOptions) error {
		return runMembers(t.Context(), &membersOptions{baseOptions: base})
	})
}

func TestStatusRun(t *testing.T) {
	runModes(t, "status", func(base baseOptions) error {
		return runStatus(t.Context(), &statusOptions{baseOptions: base})
	})
}

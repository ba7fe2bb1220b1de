package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/api"
)

// TestAppRoutesAreOpenButTheAPIIsNot: with a token, the browser app's
// pages and files load without it (they hold no data, and the page must
// load to ask for the token), while the API still refuses.
func TestAppRoutesAreOpenButTheAPIIsNot(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.APIToken = "tok" })
	base := "http://" + d.APIAddr()
	get := func(path, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{"/", "/carts/alice", "/cluster"} {
		resp, body := get(path, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s without a token: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Content-Security-Policy") == "" || !strings.Contains(body, `type="module"`) {
			t.Errorf("GET %s: no CSP, or not the app", path)
		}
	}
	for _, path := range []string{"/v1/carts/alice", "/v1/carts/alice/events", "/v1/activity", "/metrics", "/carts/alice/x"} {
		if resp, _ := get(path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, resp.StatusCode)
		}
	}
	if resp, _ := get("/assets/nothing.js", ""); resp.StatusCode != 404 {
		t.Errorf("GET an unknown asset: %d, want 404", resp.StatusCode)
	}
	resp, body := get("/v1/activity", "tok")
	var a api.Activity
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &a) != nil || len(a.ReplicationLag.Buckets) == 0 {
		t.Fatalf("GET /v1/activity: %d %s", resp.StatusCode, body)
	}
}

package loadgen

import (
	"net/http"

	"github.com/crdtd/crdtd/client"
)

// pool is the connections of one run and the HTTP client over them. Every client of the run
// shares one [transport], which keeps up to idlePerHost idle connections per node: net/http's
// default of 2 would make most workers open a new connection per request.
type pool struct {
	tr *transport
	hc *http.Client
}

func newPool(idlePerHost int) *pool {
	fallback := http.DefaultTransport.(*http.Transport).Clone() // for https nodes
	fallback.MaxIdleConns = 0
	fallback.MaxIdleConnsPerHost = idlePerHost
	tr := newTransport(fallback, idlePerHost)
	return &pool{
		tr: tr,
		hc: &http.Client{
			Transport: tr,
			// The API never redirects, and a redirected POST would lose its body.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// client returns a client of node over the pool that retries as client.Config.Retries says
// (negative: never). Without views, its cart calls do not decode the node's answers
// (client.Config.SkipCartViews), so that the load generator leaves more of a shared machine's
// CPU to the node it measures. Its HTTP client has no timeout per attempt: every call's context
// carries Config.OpTimeout.
func (p *pool) client(node, token string, retries int, views bool) (*client.Client, error) {
	return client.New(client.Config{BaseURL: node, Token: token, HTTPClient: p.hc, Retries: retries, SkipCartViews: !views})
}

// closeIdle closes the pool's idle connections.
func (p *pool) closeIdle() {
	p.tr.CloseIdleConnections()
}

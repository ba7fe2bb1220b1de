package loadgen

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/crdtd/crdtd/client"
)

// pool is the connections of one run and the HTTP clients over them. Every client of the run
// shares one [transport], which keeps up to idlePerHost idle connections per node: net/http's
// default of 2 would make most workers open a new connection per request.
type pool struct {
	tr *transport
	// views decodes answers in full: the sampler needs to see its marker.
	views *http.Client
	// noViews hands the client an empty object for every successful answer that is a JSON
	// object: the workers need only the outcome of an operation (see skipViews).
	noViews *http.Client
}

func newPool(idlePerHost int, tc *tls.Config) *pool {
	fallback := http.DefaultTransport.(*http.Transport).Clone() // for https nodes
	if tc != nil {
		fallback.TLSClientConfig = tc
	}
	fallback.MaxIdleConns = 0
	fallback.MaxIdleConnsPerHost = idlePerHost
	tr := newTransport(fallback, idlePerHost)
	// The API never redirects, and a redirected POST would lose its body (client.New's default
	// client does the same).
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &pool{
		tr:      tr,
		views:   &http.Client{Transport: tr, CheckRedirect: noRedirect},
		noViews: &http.Client{Transport: skipViews{next: tr}, CheckRedirect: noRedirect},
	}
}

// client returns a client of node over the pool that retries as client.Config.Retries says
// (negative: never) and decodes cart views only if views is set. Its HTTP client has no
// timeout per attempt: every call's context carries Config.OpTimeout.
func (p *pool) client(node, token string, retries int, views bool) (*client.Client, error) {
	hc := p.noViews
	if views {
		hc = p.views
	}
	return client.New(client.Config{BaseURL: node, Token: token, HTTPClient: hc, Retries: retries})
}

// closeIdle closes the pool's idle connections.
func (p *pool) closeIdle() {
	p.tr.CloseIdleConnections()
}

// skipViews is the RoundTripper of the workers' clients. It reads a successful answer to its end
// (so that the connection goes back to the pool) and, when the answer is a JSON object within
// client.MaxResponseBytes, gives the client "{}" in its place: the client then decodes two bytes
// instead of a cart view, whose decoding costs more CPU than the rest of the call, CPU that the
// node sharing the machine would not get. Any other answer, an API error or a body that is not
// an object, reaches the client as the node sent it, so that it fails and is counted as it would
// be otherwise. The node still builds and sends every view: what is measured is the API as
// clients use it. It is safe for concurrent use.
type skipViews struct {
	next http.RoundTripper
}

// answers holds the buffers skipViews reads answers into, so that the bytes of a view are not
// allocated anew for every call.
var answers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// RoundTrip implements http.RoundTripper.
func (s skipViews) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	buf := answers.Get().(*bytes.Buffer)
	defer answers.Put(buf)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, client.MaxResponseBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, err // as the client's own read would have failed: the node did not answer
	}
	data := buf.Bytes()
	if len(data) > 0 && data[0] == '{' && len(data) <= client.MaxResponseBytes {
		resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
	} else {
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(bytes.Clone(data))), int64(len(data))
	}
	return resp, nil
}

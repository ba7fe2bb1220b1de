package daemon

import (
	"net/http"
	"sync"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/web"
)

// The browser app: pages at /, /carts/{cart} and /cluster and
// their files below /assets/, all from the binary. They are open (no
// token: see authenticate) because they hold no data; the page asks for the
// token before it calls the API.

// webApp prepares the app's files on first use, once per process: they are
// the same for every node, and a node that nobody browses pays nothing.
var webApp = sync.OnceValues(web.New)

// appPage serves the named page of the app.
func appPage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		app, err := webApp()
		if err != nil {
			writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
			return
		}
		app.Page(name).ServeHTTP(w, r)
	}
}

// handleAsset serves GET /assets/{name}.
func handleAsset(w http.ResponseWriter, r *http.Request) {
	app, err := webApp()
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
		return
	}
	app.ServeAsset(w, r)
}

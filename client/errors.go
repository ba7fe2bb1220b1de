package client

import (
	"fmt"
	"time"

	"github.com/crdtd/crdtd/api"
)

// APIError is an error response from the node, as returned by [Client] methods. Use errors.As to
// get at it. StatusCode is the HTTP status; Code and Message come from the [api.ErrorBody] (when the
// body was not one, Code is derived from the status and Message is the status text).
type APIError struct {
	StatusCode int
	Code       api.ErrorCode
	Message    string
	// RetryAfter is how long the node asked the caller to wait before trying again, from a
	// Retry-After header (a 409 sync_behind, a 503); 0 when it sent none. A caller that retries
	// on its own waits at least this long.
	RetryAfter time.Duration
}

// Error returns the message followed by the code and HTTP status.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.StatusCode)
}

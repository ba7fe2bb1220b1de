package api

// ErrorCode is the machine-readable kind of an API error.
type ErrorCode string

// The error codes of the API, each with the HTTP status it travels with.
const (
	CodeInvalidArgument  ErrorCode = "invalid_argument"       // 400
	CodeUnauthorized     ErrorCode = "unauthorized"           // 401
	CodeNotFound         ErrorCode = "not_found"              // 404
	CodeMethodNotAllowed ErrorCode = "method_not_allowed"     // 405
	CodeTooLarge         ErrorCode = "too_large"              // 413
	CodeUnsupportedMedia ErrorCode = "unsupported_media_type" // 415
	// CodeIdempotencyKeyReused refuses a request whose Idempotency-Key was used by a different
	// request (another method, path or body); nothing is applied.
	CodeIdempotencyKeyReused ErrorCode = "idempotency_key_reused" // 422
	// CodeSyncRefused refuses a device sync whose push is not the device's own new changes,
	// breaks a cart limit, or carries timestamps too far ahead; nothing is applied.
	CodeSyncRefused ErrorCode = "sync_refused" // 422
	// CodeSyncBehind defers a device sync whose push removes changes the node has not seen yet
	// (the device learned them from another node); nothing is applied, and a retry after
	// Retry-After, or a sync with the other node, succeeds.
	CodeSyncBehind  ErrorCode = "sync_behind" // 409
	CodeInternal    ErrorCode = "internal"    // 500
	CodeUnavailable ErrorCode = "unavailable" // 503
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

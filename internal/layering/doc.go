// Package layering has no code. Its test enforces the module's layering
// rules, which would otherwise stay a convention until a change broke one:
//
//   - crdt and cart (and their subpackages) are pure: their non-test files
//     import no net, os or log package (log/slog included), directly or
//     through another package of this module; they read no clock
//     (time.Now, time.Since, time.Until), start no timer and no goroutine.
//   - gossip imports neither crdt nor cart, not even indirectly.
//   - api imports nothing of this module (checked once the package exists).
//   - client imports nothing under internal/.
//
// Imports come from `go list -deps` (the build for this platform, without
// tests); clock reads, timers, goroutines and the imports of files built
// only for other platforms come from parsing every non-test file of crdt
// and cart. Run it with `go test ./internal/layering/`.
package layering

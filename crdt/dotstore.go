package crdt

// DotStore is a store of dots that lives inside a causal CRDT and shares the
// causal context of its container: a [DotSet], a [DotFun], or a product of
// them such as the cart's line. [ORMap] holds one per key.
//
// The join of two stores with their contexts follows Almeida, Shoker and
// Baquero, "Delta State Replicated Data Types" (2018), section 5: a dot
// survives if both sides hold it, or if one side holds it and the other
// side's context has never seen it. A dot one side's context has seen but its
// store lacks was removed there, and stays removed.
//
// Implementations are plain values whose methods do not retain or modify
// their arguments.
type DotStore[S any] interface {
	// MergeDots joins other, whose container has context otherCtx, into the
	// receiver, whose container has context ctx, and returns the result and
	// whether it differs from the receiver. It may update the receiver in
	// place; it must not modify other. ctx is the receiver's context before
	// the contexts themselves are merged.
	MergeDots(ctx *CausalContext, other S, otherCtx *CausalContext) (S, bool)

	// EachDot calls yield for every dot in the store, in any order, stopping
	// when yield returns false.
	EachDot(yield func(Dot) bool)

	// IsEmpty reports whether the store holds no dots.
	IsEmpty() bool

	// Clone returns a deep copy.
	Clone() S

	// Equal reports whether the two stores hold the same dots and values.
	Equal(other S) bool

	// EncodeStore writes the store canonically with e.
	EncodeStore(e *Encoder)

	// DecodeStore reads a store written by EncodeStore. The receiver is
	// ignored; it exists so a type parameter can name the method.
	DecodeStore(r *Reader) (S, error)
}

// MergesByCopy is implemented by a [DotStore] whose MergeDots never
// changes what the receiver, or any store sharing its memory, holds: when
// the join differs from the receiver, it returns a new store (which may
// append in place, past the end of every store sharing the array).
// [DotSet] and [DotFun] do, and so does a struct of them merged field by
// field. An [ORMap] shares such stores between a map and its copies
// instead of copying them, so that a copy for an edit ([ORMap.CloneForKey])
// costs the map of keys and the causal context, however many dots the
// stores hold.
type MergesByCopy interface {
	// MergesByCopy marks the store; it does nothing.
	MergesByCopy()
}

// DotLookup is implemented by a [DotStore] that can tell whether it holds a
// dot without listing its dots: [DotSet] and [DotFun] do, in time
// logarithmic in their runs; a struct of them can by asking each field (the
// cart's line does). [ORMap.Update] checks with it that a mutation
// supersedes only dots of its key's store, a lookup per superseded dot,
// where a store without it costs a set of every dot it holds: a set of a
// line of many adds supersedes them all.
type DotLookup interface {
	// Has reports whether the store holds d: exactly the dots EachDot
	// lists. (A struct that embeds one DotFun gets that field's Has, which
	// misses the other fields' dots: Update then merges its deltas whole,
	// correct but slow.)
	Has(d Dot) bool
}

// Payload is the constraint on the values of a [DotFun]: immutable values,
// fixed when their dot is created, with a canonical encoding. Two stores that
// hold the same dot always hold equal payloads for it. Payloads that compare
// equal (==) must encode to the same bytes: a DotFun keeps consecutive dots
// with equal payloads as one run and writes the run's payload for each.
type Payload[V any] interface {
	comparable
	// EncodePayload writes the value with e.
	EncodePayload(e *Encoder)
	// DecodePayload reads a value written by EncodePayload; the receiver is
	// ignored.
	DecodePayload(r *Reader) (V, error)
}

package crdt

// FastMerge reports whether m.Merge(o) takes the indexed path that visits
// only the keys holding dots of o's context, rather than every key of m.
// Tests use it to show that they reach that path.
func FastMerge[K Key, V DotStore[V]](m, o *ORMap[K, V]) bool {
	return !o.ctx.IsEmpty() && o.ctx.sizeAtMost(len(m.entries)/4)
}

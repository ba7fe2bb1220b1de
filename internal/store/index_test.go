package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"
)

// indexModel is what the index should hold: per stored key, the entry it
// was last written with, or none.
type indexModel map[string]*Entry

func (m indexModel) counts() Counts {
	var c Counts
	for _, e := range m {
		if e != nil {
			c.Entries++
			if e.Listed {
				c.Listed++
			}
		}
	}
	return c
}

func (m indexModel) listed(prefix string) []string {
	var out []string
	for k, e := range m {
		if e != nil && e.Listed && len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestIndexMatchesModel commits random writes (stores with and without an
// entry, deletes) and checks counts, entries and every page of listed keys
// against the model, also after reopening the store.
func TestIndexMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir := t.TempDir()
		opts := Options{NoSync: true, LockTimeout: 50 * time.Millisecond}
		s := newTestStore(t, dir, opts)
		model := indexModel{}
		keys := rapid.SampledFrom([]string{"c/a", "c/b", "c/c", "c/d", "c/e", "h/x", "c/f", "c/g"})
		for range rapid.IntRange(1, 12).Draw(rt, "writes") {
			w := Write{Objects: map[string][]byte{}, Index: map[string]Entry{}}
			for range rapid.IntRange(1, 4).Draw(rt, "objects") {
				k := keys.Draw(rt, "key")
				switch rapid.IntRange(0, 5).Draw(rt, "op") {
				case 0:
					w.Objects[k] = nil
					delete(w.Index, k)
				case 1:
					w.Objects[k] = []byte("state")
					delete(w.Index, k)
				default:
					w.Objects[k] = []byte("state")
					w.Index[k] = Entry{Hash: rapid.Uint64Range(1, 3).Draw(rt, "hash"), Listed: rapid.Bool().Draw(rt, "listed")}
				}
			}
			if err := s.Commit(context.Background(), w); err != nil {
				rt.Fatal(err)
			}
			for k := range w.Objects {
				if e, ok := w.Index[k]; ok {
					model[k] = &e
				} else {
					model[k] = nil
				}
			}
		}
		check := func(s *Store) {
			if got, want := s.Counts(), model.counts(); got != want {
				rt.Fatalf("counts %+v, want %+v", got, want)
			}
			got := map[string]Entry{}
			if err := s.Entries(func(k string, e Entry) bool { got[k] = e; return true }); err != nil {
				rt.Fatal(err)
			}
			for k, e := range model {
				if g, ok := got[k]; (e != nil) != ok || (ok && g != *e) {
					rt.Fatalf("entry %q: got %+v (%v), want %+v", k, g, ok, e)
				}
			}
			if len(got) != model.counts().Entries {
				rt.Fatalf("%d entries, want %d", len(got), model.counts().Entries)
			}
			limit := rapid.IntRange(1, 3).Draw(rt, "limit")
			var paged []string
			after := ""
			for {
				page, more, err := s.ListedAfter("c/", after, limit)
				if err != nil {
					rt.Fatal(err)
				}
				if len(page) > limit || (more && len(page) != limit) {
					rt.Fatalf("page of %d (more %v) with limit %d", len(page), more, limit)
				}
				paged = append(paged, page...)
				if !more {
					break
				}
				after = page[len(page)-1]
			}
			if want := model.listed("c/"); !slices.Equal(paged, want) {
				rt.Fatalf("pages %q, want %q", paged, want)
			}
		}
		check(s)
		if err := s.Close(); err != nil {
			rt.Fatal(err)
		}
		s = newTestStore(t, dir, opts)
		defer s.Close()
		check(s)
	})
}

// TestIndexValidation refuses entries without their object.
func TestIndexValidation(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	defer s.Close()
	for name, w := range map[string]Write{
		"no object":      {Index: map[string]Entry{"a": {Hash: 1}}},
		"deleted object": {Objects: map[string][]byte{"a": nil}, Index: map[string]Entry{"a": {Hash: 1}}},
		"hash 0":         {Objects: map[string][]byte{"a": {}}, Index: map[string]Entry{"a": {}}},
	} {
		must.ErrorIs(t, s.Commit(context.Background(), w), ErrInvalidKey, name)
	}
	must.Equal(t, Counts{}, s.Counts())
}

// TestBuildIndexMigratesFormat2 opens a data file as the previous format
// left it (objects, no index) and checks BuildIndex gives every object its
// entry, in several batches.
func TestBuildIndexMigratesFormat2(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	n := buildIndexBatch + 7
	objs := make(map[string][]byte, n)
	for i := range n {
		objs[fmt.Sprintf("c/%06d", i)] = []byte{byte(i)}
	}
	must.NoError(t, s.Commit(context.Background(), Write{Objects: objs}))
	must.NoError(t, s.Close())

	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	must.NoError(t, err)
	must.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		return errors.Join(tx.DeleteBucket(bucketIndex), tx.DeleteBucket(bucketListed),
			meta.Delete(keyIndexed), meta.Delete(keyCounts), meta.Put(keyFormat, u64(2)))
	}))
	must.NoError(t, db.Close())

	s = newTestStore(t, dir, testOptions(t))
	defer s.Close()
	must.False(t, s.Indexed(), "a format 2 file has no index")
	must.NoError(t, s.BuildIndex(func(key string, state []byte) (Entry, error) {
		return Entry{Hash: uint64(state[0]) + 1, Listed: state[0]%2 == 0}, nil
	}))
	must.True(t, s.Indexed())
	c := s.Counts()
	must.Equal(t, n, c.Entries)
	seen := 0
	must.NoError(t, s.Entries(func(k string, e Entry) bool {
		must.Equal(t, uint64(objs[k][0])+1, e.Hash, k)
		seen++
		return true
	}))
	must.Equal(t, n, seen)
	listed := 0
	for _, v := range objs {
		if v[0]%2 == 0 {
			listed++
		}
	}
	must.Equal(t, listed, c.Listed)
}

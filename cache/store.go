package cache

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// itemOverhead is what an entry holds besides its key and the bytes it
// counts: the store's list element and map entries, the item, the entry
// and, for an answer, its struct. TestEntriesCostWhatTheyCount measures
// the heap against it.
const itemOverhead = 400

// Store holds the cached answers of every source of a gateway within one
// bound in bytes, so that the bound is the gateway's, however many sources
// it serves. An entry counts its key, what it holds (an answer's encoded
// bytes, a compressed copy once one is made) and a fixed overhead. The
// least recently used go first when a new one would pass the bound; an
// expired one as soon as a lookup or the sweep finds it; a set's entries
// all at once when its generation moves on (a write, a change seen in the
// database, another replica's word), so that only live entries are held
// and counted.
type Store struct {
	max int64

	mu     sync.Mutex
	lru    list.List // of *item; front: the most recently used
	items  map[string]*list.Element
	groups map[string]map[*list.Element]struct{} // owner and set: what is freed at once
	bytes  int64
	owned  map[string]int64 // bytes per owner

	stop chan struct{}
	once sync.Once
}

// item is one entry with its accounting.
type item struct {
	key   string
	owner string
	group string // groupOf(owner, set)
	size  int64
	keep  time.Time // removed after this (the TTL, or twice it with stale answers)
	e     *entry
	stats *SetStats // the set's figures, for evictions
}

// sweepEvery is how often expired entries are looked for.
const sweepEvery = 10 * time.Second

// NewStore returns a store bounded by maxBytes (DefaultMaxBytes when not
// positive). Close stops its sweep.
func NewStore(maxBytes int64) *Store {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	s := &Store{max: maxBytes, items: map[string]*list.Element{}, groups: map[string]map[*list.Element]struct{}{},
		owned: map[string]int64{}, stop: make(chan struct{})}
	go s.sweep()
	return s
}

// Close stops the sweep and drops every entry.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	s.mu.Lock()
	s.lru.Init()
	s.items = map[string]*list.Element{}
	s.groups = map[string]map[*list.Element]struct{}{}
	s.owned = map[string]int64{}
	s.bytes = 0
	s.mu.Unlock()
}

// Max is the bound in bytes.
func (s *Store) Max() int64 { return s.max }

// Bytes is what the live entries count.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// OwnerBytes is what one owner's live entries count.
func (s *Store) OwnerBytes(owner string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned[owner]
}

// Len is the number of live entries.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

func groupOf(owner, set string) string { return owner + "\x00" + set }

// get returns the entry under key, unless it has expired (then it is
// removed), and marks it the most recently used.
func (s *Store) get(key string, now time.Time) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getLocked(s.items[key], now)
}

// getBytes is get with the key in a buffer: the lookup allocates nothing.
func (s *Store) getBytes(key []byte, now time.Time) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getLocked(s.items[string(key)], now)
}

// getLocked is the entry of a map element (nil: none), under the lock.
func (s *Store) getLocked(el *list.Element, now time.Time) *entry {
	if el == nil {
		return nil
	}
	it := el.Value.(*item)
	if now.After(it.keep) {
		s.remove(el)
		return nil
	}
	s.lru.MoveToFront(el)
	return it.e
}

// put keeps an entry until keep, unless live says (under the store's lock,
// so that no invalidation slips between the check and the insert) that
// the generation it was read under has moved on, or it is larger than a
// quarter of the bound. The least recently used entries go until the rest
// fits. It reports whether the entry was kept.
func (s *Store) put(it *item, live func() bool) bool {
	it.size += int64(2*len(it.key)) + itemOverhead // the key is held by the map and the item
	if it.size > s.max/4 {
		return false // one answer may not push out most of the cache
	}
	s.mu.Lock()
	if !live() {
		s.mu.Unlock()
		return false
	}
	if el, ok := s.items[it.key]; ok {
		s.remove(el)
	}
	el := s.lru.PushFront(it)
	s.items[it.key] = el
	g := s.groups[it.group]
	if g == nil {
		g = map[*list.Element]struct{}{}
		s.groups[it.group] = g
	}
	g[el] = struct{}{}
	s.bytes += it.size
	s.owned[it.owner] += it.size
	var evicted []*SetStats
	for s.bytes > s.max && s.lru.Len() > 1 {
		back := s.lru.Back()
		if st := back.Value.(*item).stats; st != nil {
			evicted = append(evicted, st)
		}
		s.remove(back)
	}
	s.mu.Unlock()
	for _, st := range evicted {
		st.Evictions.Add(1)
	}
	return true
}

// grow counts n more bytes for the entry under key, if it is still held:
// a compressed copy made after it was kept.
func (s *Store) grow(key string, e *entry, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok && el.Value.(*item).e == e {
		el.Value.(*item).size += n
		s.bytes += n
		s.owned[el.Value.(*item).owner] += n
	}
}

// remove drops one entry; the lock is held.
func (s *Store) remove(el *list.Element) {
	it := el.Value.(*item)
	s.lru.Remove(el)
	delete(s.items, it.key)
	if g := s.groups[it.group]; g != nil {
		delete(g, el)
		if len(g) == 0 {
			delete(s.groups, it.group)
		}
	}
	s.bytes -= it.size
	if s.owned[it.owner] -= it.size; s.owned[it.owner] == 0 {
		delete(s.owned, it.owner)
	}
}

// dropGroup frees every entry of one owner's set.
func (s *Store) dropGroup(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := range s.groups[group] {
		s.remove(el)
	}
}

// dropOwner frees every entry of one owner (a source's cache).
func (s *Store) dropOwner(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := owner + "\x00"
	for name, g := range s.groups {
		if strings.HasPrefix(name, prefix) {
			for el := range g {
				s.remove(el)
			}
		}
	}
}

// sweep removes expired entries, so that an answer nobody asks for again
// is not held until the LRU reaches it.
func (s *Store) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.expire(now)
		}
	}
}

// expire removes every entry past its time.
func (s *Store) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := s.lru.Back(); el != nil; {
		prev := el.Prev()
		if now.After(el.Value.(*item).keep) {
			s.remove(el)
		}
		el = prev
	}
}

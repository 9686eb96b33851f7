// Package cache is a query cache in front of a data source. A Source wraps
// any sources.Source and is one itself, so neither the HTTP layer nor the
// source kinds know it is there.
//
// Keys are the canonical form of the plan's query (plan.QueryKey) plus the
// metadata version and the entity set's write generation, so equivalent
// URLs share an entry and a write through the gateway makes every older
// entry of its set unreachable at once. Counts are cached apart from pages.
// Identical concurrent misses run one database query. Entries live in
// go-cache under a per-set TTL; the package bounds their total size in
// bytes and evicts the least recently used.
package cache

// Package cache is the answer cache at the HTTP edge: per source, an
// Answers that the OData server consults before it plans a request
// (Recall), asks for whole answers and counts it renders once for every
// caller asking the same (Answer, Count), and tells of each write
// (Written). It knows no HTTP server (the answers carry what a response
// needs) and no database: the sources never know it is there.
//
// An answer is kept as it is sent: the encoded body, with holes where the
// parts that differ per request go (the service root, a nextLink's own
// query options), filled in at answer time, and a gzip copy made once. So
// an entry costs what it counts, and a repeated request, recognised by its
// fingerprint without being parsed or planned again (Recall), is a lookup
// and a copy.
//
// Keys are the canonical form of the planned request plus the metadata
// version and the entity set's write generation, so equivalent URLs share
// an entry and a write through the gateway makes every older entry of its
// set unreachable at once; those entries are freed then too. Counts are
// cached apart from pages. Identical concurrent misses run one database
// query. Every source of a gateway keeps its entries in one Store, bounded
// in bytes, which evicts the least recently used.
package cache

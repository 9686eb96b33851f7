// Package replicas carries what the replicas of one gateway tell each
// other: a write's invalidation of the cached answers of its set, a
// source's schema reload, a change of the registrations in the shared
// state store, and each set's write generation, which every replica reads
// so that none answers from before a write another one acknowledged. The
// one implementation, RedisBus, works over Redis pub/sub and keys, and
// keeps the gateway serving when Redis is gone.
package replicas

import "context"

// Message is what replicas tell each other.
type Message struct {
	Kind   string // KindInvalidate, KindReload or KindRegistry
	Source string // "" with KindInvalidate: every source
	Set    string // "" with KindInvalidate: every set of the source
}

// Kinds of Message.
const (
	KindInvalidate = ""
	KindReload     = "reload"
	// KindRegistry: registrations changed in the shared state store; look
	// now instead of at the next poll.
	KindRegistry = "registry"
)

// Bus carries write invalidations and metadata reloads between replicas
// of the gateway.
type Bus interface {
	// Publish tells the other replicas.
	Publish(m Message)
	// Subscribe delivers the other replicas' messages; after a lost
	// connection, an invalidation of everything, since messages could
	// have been missed. The returned function ends the subscription.
	Subscribe(fn func(m Message)) (unsubscribe func())
	// Err is nil while the bus works, else what is wrong.
	Err() error
	Close() error
}

// Generations is implemented by buses that keep, for every entity set, a
// generation all replicas share: a write moves it on before it answers,
// and every cached answer is filed under the generation read before it was
// loaded. A replica that reads the set's generation on each request can
// then never answer from before a write another replica acknowledged,
// however late the invalidation message arrives.
type Generations interface {
	Generation(ctx context.Context, source, set string) (uint64, error)
	Advance(ctx context.Context, source, set string) error
}

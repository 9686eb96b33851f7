package replicas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/odatagw/odatagw/internal/retry"
)

// RedisBus is a Bus over Redis pub/sub. When Redis cannot be reached the
// gateway keeps serving: caches fall back to their TTL, the log says so
// once, and Err reports it; once the subscription is back, every cache is
// flushed, since invalidations may have been missed meanwhile.
type RedisBus struct {
	client  *redis.Client
	channel string
	prefix  string
	self    string
	log     *slog.Logger

	mu       sync.Mutex
	handlers map[int]func(Message)
	nextID   int
	ps       *redis.PubSub // the live subscription, closed by Close to unblock a read
	lastErr  atomic.Pointer[error]
	live     atomic.Bool // subscribed now: other replicas' messages arrive
	cancel   context.CancelFunc
	done     chan struct{}
}

type busMessage struct {
	Replica string `json:"r"`
	Kind    string `json:"k,omitempty"`
	Source  string `json:"s"`
	Set     string `json:"t"`
}

// NewRedisBus connects to the Redis at url (redis://host:port/db) and
// listens on prefix + ":invalidate". It does not fail when Redis is down.
func NewRedisBus(url, prefix string, log *slog.Logger) (*RedisBus, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	opt.MaxRetries = 1
	id := make([]byte, 8)
	rand.Read(id)
	if prefix == "" {
		prefix = "odatagw"
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBus{client: redis.NewClient(opt), channel: prefix + ":invalidate", prefix: prefix, self: hex.EncodeToString(id), handlers: map[int]func(Message){},
		log: log, cancel: cancel, done: make(chan struct{})}
	go b.listen(ctx)
	return b, nil
}

func (b *RedisBus) setErr(err error) {
	prev := b.lastErr.Swap(&err)
	wasOK := prev == nil || *prev == nil
	switch {
	case err != nil && wasOK:
		b.log.Warn("Redis unreachable: caches fall back to their TTL for changes made through other replicas", "error", err)
	case err == nil && !wasOK:
		b.log.Info("Redis reachable again; invalidations are shared again")
	}
}

var _ Generations = (*RedisBus)(nil)

// genKey is where a set's shared generation lives.
func genKey(prefix, source, set string) string { return prefix + ":gen:" + source + ":" + set }

// Generation reads a set's shared generation (0 before any write): one
// GET, a fraction of a millisecond beside Redis.
func (b *RedisBus) Generation(ctx context.Context, source, set string) (uint64, error) {
	if !b.live.Load() {
		return 0, errors.New("the Redis server is unreachable") // no request waits on a timeout meanwhile
	}
	n, err := b.client.Get(ctx, genKey(b.prefix, source, set)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Advance moves a set's shared generation on.
func (b *RedisBus) Advance(ctx context.Context, source, set string) error {
	return b.client.Incr(ctx, genKey(b.prefix, source, set)).Err()
}

// Err reports the last problem with Redis, or nil.
func (b *RedisBus) Err() error {
	if p := b.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// PublishFlush asks every replica listening on prefix to drop the entries
// of one set of a source, or all of the source's when set is "", or all of
// every source's when source is "" too. It is what `odatagw cache flush`
// sends; it needs no running gateway of its own.
func PublishFlush(ctx context.Context, url, prefix, source, set string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	if prefix == "" {
		prefix = "odatagw"
	}
	client := redis.NewClient(opt)
	defer client.Close()
	msg, _ := json.Marshal(busMessage{Replica: "cli", Source: source, Set: set})
	n, err := client.Publish(ctx, prefix+":invalidate", msg).Result()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no gateway is listening on that Redis; nothing was flushed")
	}
	return nil
}

func (b *RedisBus) Publish(m Message) {
	msg, _ := json.Marshal(busMessage{Replica: b.self, Kind: m.Kind, Source: m.Source, Set: m.Set})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.client.Publish(ctx, b.channel, msg).Err(); err != nil {
		b.setErr(err)
	}
}

func (b *RedisBus) Subscribe(fn func(Message)) func() {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.handlers[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.handlers, id)
		b.mu.Unlock()
	}
}

func (b *RedisBus) deliver(m Message) {
	b.mu.Lock()
	hs := make([]func(Message), 0, len(b.handlers))
	for _, h := range b.handlers {
		hs = append(hs, h)
	}
	b.mu.Unlock()
	for _, h := range hs {
		h(m)
	}
}

// listen keeps a subscription open, reconnecting with a bounded backoff.
func (b *RedisBus) listen(ctx context.Context) {
	defer close(b.done)
	subscribed := false
	retry.Forever(ctx, func(ctx context.Context, _ bool) error {
		ps := b.client.Subscribe(ctx, b.channel)
		defer ps.Close()
		b.mu.Lock()
		b.ps = ps
		b.mu.Unlock()
		if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
			return err
		}
		b.setErr(nil)
		if subscribed {
			// messages may have been missed while away: start afresh
			b.deliver(Message{})
		}
		subscribed = true
		b.live.Store(true)
		defer b.live.Store(false)
		return b.receive(ctx, ps)
	}, b.setErr)
}

// Subscribed reports whether the subscription is live, so that messages
// other replicas publish now reach this one.
func (b *RedisBus) Subscribed() bool { return b.live.Load() }

func (b *RedisBus) receive(ctx context.Context, ps *redis.PubSub) error {
	for {
		// the read is bounded by its timeout, not by ctx: look at ctx each turn
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var netErr interface{ Timeout() bool }
			if errors.As(err, &netErr) && netErr.Timeout() {
				// quiet channel: prove the connection still works
				if perr := ps.Ping(ctx); perr != nil {
					return perr
				}
				continue
			}
			return err
		}
		msg, ok := m.(*redis.Message)
		if !ok {
			continue
		}
		var bm busMessage
		if json.Unmarshal([]byte(msg.Payload), &bm) != nil || bm.Replica == b.self {
			continue
		}
		b.deliver(Message{Kind: bm.Kind, Source: bm.Source, Set: bm.Set})
	}
}

func (b *RedisBus) Close() error {
	b.cancel()
	b.mu.Lock()
	if b.ps != nil {
		b.ps.Close()
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.log.Warn("the Redis listener did not stop in time")
	}
	return b.client.Close()
}

package replicas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/odatagw/odatagw/internal/retry"
)

// RedisBus is a Bus over Redis pub/sub. When Redis cannot be reached the
// gateway keeps serving: caches fall back to their TTL, the log says so
// once, and Err reports it; once the subscription is back, every cache is
// flushed, since invalidations may have been missed meanwhile.
type RedisBus struct {
	pool    *redis.Pool // for GET, INCR and PUBLISH
	url     string
	channel string
	prefix  string
	self    string
	log     *slog.Logger

	mu       sync.Mutex
	handlers map[int]func(Message)
	nextID   int
	sub      redis.Conn // the live subscription's connection, closed by Close to unblock a read
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

// ioTimeout bounds every exchange with Redis but the subscription's
// wait for messages: no request waits long on a Redis that went away.
const ioTimeout = 2 * time.Second

// dial connects to the Redis at url (redis:// or rediss://, with its
// user, password and database).
func dial(ctx context.Context, url string) (redis.Conn, error) {
	return redis.DialURLContext(ctx, url, redis.DialConnectTimeout(ioTimeout), redis.DialReadTimeout(ioTimeout), redis.DialWriteTimeout(ioTimeout))
}

// checkURL refuses what is not a Redis URL before anything dials it.
func checkURL(raw string) error {
	u, err := neturl.Parse(raw)
	if err != nil {
		return errors.New("the Redis URL cannot be read: redis://[user:password@]host:port[/db], or rediss:// for TLS")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("a Redis URL begins with redis:// or rediss://, not %s://", u.Scheme)
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if _, err := strconv.Atoi(db); err != nil {
			return fmt.Errorf("the Redis URL's database %q is not a number", db)
		}
	}
	return nil
}

// NewRedisBus connects to the Redis at url (redis://host:port/db) and
// listens on prefix + ":invalidate". It does not fail when Redis is down.
func NewRedisBus(url, prefix string, log *slog.Logger) (*RedisBus, error) {
	if err := checkURL(url); err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	rand.Read(id)
	if prefix == "" {
		prefix = "odatagw"
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBus{url: url, channel: prefix + ":invalidate", prefix: prefix, self: hex.EncodeToString(id), handlers: map[int]func(Message){},
		log: log, cancel: cancel, done: make(chan struct{})}
	b.pool = &redis.Pool{MaxIdle: 8, IdleTimeout: time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) { return dial(ctx, url) }}
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
	n, err := redis.Uint64(b.do(ctx, "GET", genKey(b.prefix, source, set)))
	if errors.Is(err, redis.ErrNil) {
		return 0, nil
	}
	return n, err
}

// Advance moves a set's shared generation on.
func (b *RedisBus) Advance(ctx context.Context, source, set string) error {
	_, err := b.do(ctx, "INCR", genKey(b.prefix, source, set))
	return err
}

// posKey is where a source's newest write position lives, as sixteen hex
// digits, so that comparing the strings compares the numbers.
func posKey(prefix, source string) string { return prefix + ":pos:" + source }

// raisePosition sets the position to the larger of the kept one and the
// one given, in one step however many replicas write at once.
var raisePosition = redis.NewScript(1, `local v = redis.call('GET', KEYS[1])
if v == false or ARGV[1] > v then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`)

// RaisePosition records that a write reached pos in a source's database
// (its WAL position), unless a newer one is recorded.
func (b *RedisBus) RaisePosition(ctx context.Context, source string, pos uint64) error {
	c, err := b.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = raisePosition.DoContext(ctx, c, posKey(b.prefix, source), fmt.Sprintf("%016x", pos))
	return err
}

// Position reads the newest write position of a source (0 before any):
// one GET, before a read goes to a standby.
func (b *RedisBus) Position(ctx context.Context, source string) (uint64, error) {
	if !b.live.Load() {
		return 0, errors.New("the Redis server is unreachable")
	}
	v, err := redis.String(b.do(ctx, "GET", posKey(b.prefix, source)))
	if errors.Is(err, redis.ErrNil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 16, 64)
}

// do runs one command on a pooled connection.
func (b *RedisBus) do(ctx context.Context, cmd string, args ...any) (any, error) {
	c, err := b.pool.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return redis.DoContext(c, ctx, cmd, args...)
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
	if prefix == "" {
		prefix = "odatagw"
	}
	c, err := dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	msg, _ := json.Marshal(busMessage{Replica: "cli", Source: source, Set: set})
	n, err := redis.Int(redis.DoContext(c, ctx, "PUBLISH", prefix+":invalidate", msg))
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
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if _, err := b.do(ctx, "PUBLISH", b.channel, msg); err != nil {
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
		c, err := dial(ctx, b.url)
		if err != nil {
			return err
		}
		defer c.Close()
		b.mu.Lock()
		b.sub = c
		b.mu.Unlock()
		if ctx.Err() != nil { // Close came between the dial and here
			return ctx.Err()
		}
		ps := redis.PubSubConn{Conn: c}
		if err := ps.Subscribe(b.channel); err != nil {
			return err
		}
		// the subscription's confirmation
		switch v := ps.ReceiveWithTimeout(ioTimeout).(type) {
		case error:
			return v
		case redis.Subscription:
		default:
			return errors.New("the Redis server did not confirm the subscription")
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

func (b *RedisBus) receive(ctx context.Context, ps redis.PubSubConn) error {
	for {
		// the read is bounded by its timeout, not by ctx: look at ctx each turn
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m := ps.ReceiveWithTimeout(5 * time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch v := m.(type) {
		case error:
			var netErr interface{ Timeout() bool }
			if errors.As(v, &netErr) && netErr.Timeout() {
				// quiet channel: prove the connection still works (its
				// answer comes as a Pong, below)
				if err := ps.Ping(""); err != nil {
					return err
				}
				continue
			}
			return v
		case redis.Message:
			var bm busMessage
			if json.Unmarshal(v.Data, &bm) != nil || bm.Replica == b.self {
				continue
			}
			b.deliver(Message{Kind: bm.Kind, Source: bm.Source, Set: bm.Set})
		}
	}
}

func (b *RedisBus) Close() error {
	b.cancel()
	b.mu.Lock()
	if b.sub != nil {
		b.sub.Close()
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.log.Warn("the Redis listener did not stop in time")
	}
	return b.pool.Close()
}

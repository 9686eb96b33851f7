package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/sources"
)

// Reads may go to streaming standbys; everything that writes, and
// everything that must see the newest data (change tracking's log and
// counts kept by its triggers aside), goes to the primary. A read after a
// write must never answer from before it: the primary's WAL position is
// read after each commit (the fence), shared with the gateway's other
// replicas, and a standby serves a read only once it has replayed that
// far. Replay only moves forward, so a replay position read before the
// statement starts is a floor for what the statement sees.
const (
	// standbyWait bounds how long a read waits for a standby to replay
	// the newest write before it reads from the primary instead.
	standbyWait = 250 * time.Millisecond
	// standbyPoll is how often a waiting read asks the standby again.
	standbyPoll = 2 * time.Millisecond
	// monitorEvery is how often each standby's lag, health and replay
	// position are read: a standby whose last known position is behind
	// the newest write takes no read while another is past it, so a
	// fresh position keeps the reads spread.
	monitorEvery = 100 * time.Millisecond
	// probeTimeout bounds one probe, and a standby's connection attempt:
	// a standby that does not answer is skipped within a second.
	probeTimeout = time.Second
	// the backoff of a failed standby's retries
	minBackoff, maxBackoff = time.Second, 30 * time.Second
	// unsureFor is how long reads stay on the primary after a write
	// whose position could not be read.
	unsureFor = 10 * time.Second
	// pageHeader is the most a position read on the primary can lie past
	// the end of the last record (a WAL page's long header), tolerated
	// when measuring lag, never when fencing.
	pageHeader = 40
)

// standby is one read-only copy of the database.
type standby struct {
	address  string // host:port/database, for the page and the metrics
	pool     *pgxpool.Pool
	dsn      string        // with the password it took from the primary: kept out of every error shown
	replayed atomic.Uint64 // the WAL position replayed, as last read
	reads    atomic.Int64

	mu      sync.Mutex
	state   string
	lag     time.Duration
	err     string
	retry   time.Time
	backoff time.Duration
	// reading are the reads under way that have not answered yet: when
	// the standby leaves the rotation for a failure, they are cancelled
	// and run on the primary rather than wait on a standby that may
	// never answer
	reading map[uint64]context.CancelCauseFunc
	readID  uint64
}

// errStandbyGone is why a read under way on a standby was cancelled.
var errStandbyGone = errors.New("the standby left the rotation")

// watch registers a read under way, to be cancelled if the standby
// fails meanwhile.
func (sb *standby) watch(cancel context.CancelCauseFunc) uint64 {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.reading == nil {
		sb.reading = map[uint64]context.CancelCauseFunc{}
	}
	sb.readID++
	sb.reading[sb.readID] = cancel
	return sb.readID
}

// unwatch is told the read answered (or failed by itself).
func (sb *standby) unwatch(id uint64) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	delete(sb.reading, id)
}

// routing spreads a source's reads over its standbys.
type routing struct {
	name     string
	primary  *pgxpool.Pool
	standbys []*standby
	next     atomic.Uint64
	fence    atomic.Uint64 // the newest write's position this replica knows
	// unsureUntil: a write's position could not be read; until then
	// (Unix nanoseconds) every read goes to the primary
	unsureUntil atomic.Int64
	positions   sources.Positions
	maxLag      time.Duration
	log         *slog.Logger

	toPrimary struct{ none, behind, failed, unknown atomic.Int64 }

	samplesMu sync.Mutex
	samples   []sample // the primary's position over the last minutes

	stop context.CancelFunc
	done chan struct{}
}

// sample is the primary's WAL position at a time.
type sample struct {
	at  time.Time
	pos uint64
}

// primaryPosSQL reads the primary's WAL position as a number of bytes:
// what it has flushed, which after a commit reaches past the commit's
// record and is all a standby can be sent (WAL written but not flushed
// yet, by a read that set hint bits say, waits for the WAL writer; the
// insert position may lie a page header past the last record). A session
// that commits without waiting for the flush (synchronous_commit off) may
// not have flushed its commit yet: there the insert position is the one
// past it. replayPosSQL reads a standby's.
const (
	primaryPosSQL = `SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END - '0/0')::bigint`
	replayPosSQL  = `SELECT pg_is_in_recovery(), COALESCE((pg_last_wal_replay_lsn() - '0/0')::bigint, 0)`
)

// openStandbys makes a pool per standby DSN, reads where each stands and
// starts watching them. A standby that is down is no error: it is
// skipped until it answers.
func openStandbys(ctx context.Context, opts sources.Options, primary *pgxpool.Pool) (*routing, error) {
	if len(opts.Standbys) == 0 {
		return nil, nil
	}
	pc := primary.Config().ConnConfig
	r := &routing{name: opts.Name, primary: primary, positions: opts.Positions, maxLag: opts.MaxStandbyLag, log: opts.Logger, done: make(chan struct{})}
	for _, raw := range opts.Standbys {
		full := inheritCredentials(raw, pc.User, pc.Password)
		cfg, err := pgxpool.ParseConfig(full)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("postgres: standby %s: %s", dsn.Redact(raw), dsn.Scrub(err.Error(), full))
		}
		cfg.MaxConns = int32(opts.MaxConnections)
		for k, v := range pc.RuntimeParams {
			if _, set := cfg.ConnConfig.RuntimeParams[k]; !set {
				cfg.ConnConfig.RuntimeParams[k] = v
			}
		}
		if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > probeTimeout {
			cfg.ConnConfig.ConnectTimeout = probeTimeout
		}
		cfg.ConnConfig.DialFunc, cfg.ConnConfig.LookupFunc = pc.DialFunc, pc.LookupFunc
		cfg.HealthCheckPeriod = 15 * time.Second
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("postgres: standby %s: %s", dsn.Redact(raw), dsn.Scrub(err.Error(), full))
		}
		r.standbys = append(r.standbys, &standby{address: address(cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
			pool: pool, dsn: full, state: sources.StandbyStarting})
	}
	// a read right after a start must not be older than the start: the
	// primary's position now is the first fence
	if pos, err := position(ctx, primary, primaryPosSQL); err == nil {
		r.fence.Store(pos)
		r.sample(time.Now(), pos)
	}
	r.probeAll(ctx)
	watch, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.monitor(watch)
	return r, nil
}

// inheritCredentials gives a standby DSN the primary's user and password
// where it names none: a streaming standby has the primary's roles.
func inheritCredentials(raw, user, password string) string {
	withUser := withUser(raw, user)
	if _, own := dsn.Split(raw); own != "" {
		return withUser
	}
	return dsn.Join(withUser, password)
}

// withUser names user in a DSN that names none (in its user part, its
// user parameter, or user=).
func withUser(raw, user string) string {
	if !strings.Contains(raw, "://") {
		for _, f := range strings.Fields(raw) {
			if strings.HasPrefix(f, "user=") {
				return raw
			}
		}
		return raw + " user='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(user) + "'"
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil && u.User.Username() != "" {
		return raw
	}
	if q := u.Query().Get("user"); q != "" {
		user = q
	}
	u.User = url.User(user)
	return u.String()
}

// address names a standby without its credentials.
func address(host string, port uint16, database string) string {
	return net.JoinHostPort(host, fmt.Sprint(port)) + "/" + database
}

// position runs a statement that reads one WAL position.
func position(ctx context.Context, pool *pgxpool.Pool, sql string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var n int64
	err := pool.QueryRow(ctx, sql).Scan(&n)
	return uint64(n), err
}

// reader chooses where a read runs: a standby in rotation that has
// replayed the newest write (waiting for one a bounded time), else the
// primary. The standby is nil for the primary.
func (r *routing) reader(ctx context.Context) (*pgxpool.Pool, *standby) {
	if r == nil {
		return nil, nil
	}
	if time.Now().UnixNano() < r.unsureUntil.Load() {
		r.toPrimary.unknown.Add(1)
		return r.primary, nil
	}
	fence := r.fence.Load()
	if r.positions != nil {
		shared, err := r.positions.Position(ctx, r.name)
		if err != nil {
			// another replica's write may be newer than any standby:
			// only the primary is sure to hold it
			r.toPrimary.unknown.Add(1)
			return r.primary, nil
		}
		fence = max(fence, shared)
	}
	n := uint64(len(r.standbys))
	start := r.next.Add(1)
	var waitOn *standby
	for i := range n {
		sb := r.standbys[(start+i)%n]
		if !sb.serving() {
			continue
		}
		if sb.replayed.Load() >= fence {
			sb.reads.Add(1)
			return sb.pool, sb
		}
		if waitOn == nil && sb.lagNow() < standbyWait {
			// one a long way behind would keep the read waiting in vain
			waitOn = sb
		}
	}
	if waitOn == nil {
		if r.inRotation() {
			r.toPrimary.behind.Add(1)
		} else {
			r.toPrimary.none.Add(1)
		}
		return r.primary, nil
	}
	if waitOn.await(ctx, fence) {
		waitOn.reads.Add(1)
		return waitOn.pool, waitOn
	}
	r.toPrimary.behind.Add(1)
	return r.primary, nil
}

// inRotation reports whether any standby is in rotation.
func (r *routing) inRotation() bool {
	for _, sb := range r.standbys {
		if sb.serving() {
			return true
		}
	}
	return false
}

// lagNow is the standby's lag as last measured.
func (sb *standby) lagNow() time.Duration {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.lag
}

// serving reports whether the standby is in rotation.
func (sb *standby) serving() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.state == sources.StandbyServing
}

// await asks the standby how far it has replayed until it reaches pos or
// standbyWait passes.
func (sb *standby) await(ctx context.Context, pos uint64) bool {
	deadline := time.Now().Add(standbyWait)
	for {
		var inRecovery bool
		var replayed int64
		qctx, cancel := context.WithDeadline(ctx, deadline)
		err := sb.pool.QueryRow(qctx, replayPosSQL).Scan(&inRecovery, &replayed)
		cancel()
		if err != nil {
			if ctx.Err() == nil && time.Now().Before(deadline) {
				sb.failed(err)
			}
			return false
		}
		sb.replayedTo(uint64(replayed))
		if inRecovery && uint64(replayed) >= pos {
			return true
		}
		if !inRecovery || time.Now().Add(standbyPoll).After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(standbyPoll):
		}
	}
}

// replayedTo moves the replayed position on, never back.
func (sb *standby) replayedTo(pos uint64) {
	for {
		old := sb.replayed.Load()
		if pos <= old || sb.replayed.CompareAndSwap(old, pos) {
			return
		}
	}
}

// failed takes the standby out of rotation until its next retry.
func (sb *standby) failed(err error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.backoff = min(max(sb.backoff*2, minBackoff), maxBackoff)
	sb.retry = time.Now().Add(sb.backoff)
	sb.err = dsn.Scrub(err.Error(), sb.dsn)
	sb.state = sources.StandbyDown
	// a standby that restarts may come back having replayed less than it
	// showed before: its position is read again before it serves
	sb.replayed.Store(0)
	for id, cancel := range sb.reading {
		cancel(errStandbyGone)
		delete(sb.reading, id)
	}
}

// standbyFailure reports whether a read's error is the standby's rather
// than the query's: its connection, its shutdown, or a query cancelled
// for a conflict with the replay. The read is worth running on the
// primary.
func standbyFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300" || c == "40001" || c == "25006"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || isClosedConn(err)
}

// readFailed is told a read on sb failed with err, under ctx, on the
// standby under rctx: when the standby is at fault, or left the rotation
// while the read waited on it, the read runs again on the primary (and a
// failing standby leaves the rotation).
func (r *routing) readFailed(sb *standby, err error, ctx, rctx context.Context) bool {
	if ctx.Err() == nil && errors.Is(context.Cause(rctx), errStandbyGone) {
		r.toPrimary.failed.Add(1)
		return true
	}
	if !standbyFailure(err) {
		return false
	}
	sb.failed(err)
	r.log.Warn("a standby failed a read; it is out of rotation until it answers again, and the read ran on the primary",
		"source", r.name, "standby", sb.address, "error", dsn.Scrub(err.Error(), sb.dsn))
	r.toPrimary.failed.Add(1)
	return true
}

// wrote raises the fence to the primary's position after a commit, here
// and for the gateway's other replicas, before the write is answered.
func (r *routing) wrote(ctx context.Context, pos uint64) {
	for {
		old := r.fence.Load()
		if pos <= old || r.fence.CompareAndSwap(old, pos) {
			break
		}
	}
	if r.positions == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := r.positions.RaisePosition(ctx, r.name, pos); err != nil {
		r.log.Warn("the newest write's position could not be shared; the other replicas read from the primary until they can read it",
			"source", r.name, "error", err)
	}
}

// unsure is told that a commit's position could not be read: the reads of
// the next seconds go to the primary, after which the monitor's newer
// samples of the primary make a fence past the write.
func (r *routing) unsure(err error) {
	r.log.Warn("the position of a write could not be read; reads go to the primary for a while", "source", r.name, "error", err)
	r.unsureUntil.Store(time.Now().Add(unsureFor).UnixNano())
	if pos, err := position(context.Background(), r.primary, primaryPosSQL); err == nil {
		r.wrote(context.Background(), pos)
	}
}

// monitor reads the primary's position and each standby's, every
// monitorEvery, until the source closes.
func (r *routing) monitor(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(monitorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if pos, err := position(ctx, r.primary, primaryPosSQL); err == nil {
			r.sample(time.Now(), pos)
		}
		r.probeAll(ctx)
	}
}

// probeAll reads every standby's state at once: one that hangs does not
// hold up the others.
func (r *routing) probeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, sb := range r.standbys {
		sb.mu.Lock()
		waiting := sb.state == sources.StandbyDown && time.Now().Before(sb.retry)
		sb.mu.Unlock()
		if waiting {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.probe(ctx, sb)
		}()
	}
	wg.Wait()
}

// probe reads one standby's replay position and decides its state.
func (r *routing) probe(ctx context.Context, sb *standby) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var inRecovery bool
	var replayed int64
	err := sb.pool.QueryRow(ctx, replayPosSQL).Scan(&inRecovery, &replayed)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return // closing
		}
		was := sb.stateNow()
		sb.failed(err)
		if was != sources.StandbyDown {
			r.log.Warn("a standby does not answer; its reads go elsewhere until it does", "source", r.name, "standby", sb.address, "error", dsn.Scrub(err.Error(), sb.dsn))
		}
		return
	}
	sb.replayedTo(uint64(replayed))
	lag := r.lagOf(uint64(replayed), time.Now())
	sb.mu.Lock()
	defer sb.mu.Unlock()
	was := sb.state
	sb.lag, sb.err = lag, ""
	switch {
	case !inRecovery:
		sb.state = sources.StandbyPromoted
	case lag > r.maxLag:
		sb.state = sources.StandbyLagging
	default:
		sb.state, sb.backoff = sources.StandbyServing, 0
	}
	if was != sb.state && was != sources.StandbyStarting {
		r.log.Info("a standby changed state", "source", r.name, "standby", sb.address, "state", sb.state, "lag", lag.Round(time.Millisecond))
	}
}

func (sb *standby) stateNow() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.state
}

// keepSamples bounds the primary's positions kept (two minutes of them):
// lag beyond reads as the whole span.
const keepSamples = 1200

// sample keeps the primary's position at a time.
func (r *routing) sample(at time.Time, pos uint64) {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	if n := len(r.samples); n > 0 && r.samples[n-1].pos == pos {
		return // nothing written since: the older sample says when
	}
	r.samples = append(r.samples, sample{at, pos})
	if len(r.samples) > keepSamples {
		r.samples = append(r.samples[:0], r.samples[len(r.samples)-keepSamples:]...)
	}
}

// lagOf is how long ago the primary first stood past a standby's
// replayed position: how old the newest write the standby lacks is.
func (r *routing) lagOf(replayed uint64, now time.Time) time.Duration {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	for _, s := range r.samples {
		if s.pos > replayed+pageHeader {
			return now.Sub(s.at)
		}
	}
	return 0
}

// report is the routing's state for the metrics and the page.
func (r *routing) report() sources.StandbyReport {
	rep := sources.StandbyReport{AllGone: true, PrimaryReads: map[string]int64{
		sources.PrimaryNoStandby: r.toPrimary.none.Load(), sources.PrimaryBehind: r.toPrimary.behind.Load(),
		sources.PrimaryFailed: r.toPrimary.failed.Load(), sources.PrimaryUnknown: r.toPrimary.unknown.Load()}}
	for _, sb := range r.standbys {
		sb.mu.Lock()
		st := sources.StandbyState{Address: sb.address, State: sb.state, Lag: sb.lag, Reads: sb.reads.Load(), Error: sb.err}
		if sb.state == sources.StandbyDown {
			st.Retry = sb.retry
		}
		sb.mu.Unlock()
		if st.State == sources.StandbyServing {
			rep.AllGone = false
		}
		rep.Standbys = append(rep.Standbys, st)
	}
	return rep
}

func (r *routing) close() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	for _, sb := range r.standbys {
		sb.pool.Close()
	}
}

// CheckStandbys reads each standby as odatagw check reports it: how far
// behind the primary it is, and whether its schema is the primary's (a
// standby of another database, or one restored from an old backup, would
// answer otherwise or fail).
func (s *Source) CheckStandbys(ctx context.Context) []sources.StandbyCheck {
	if s.standbys == nil {
		return nil
	}
	schemas := s.opts.Schemas
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	primary, perr := introspect(ctx, s.pool, schemas)
	var out []sources.StandbyCheck
	for _, sb := range s.standbys.standbys {
		c := sources.StandbyCheck{Address: sb.address}
		var inRecovery bool
		var replayed, ageMS int64
		err := sb.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), COALESCE((pg_last_wal_replay_lsn() - '0/0')::bigint, 0),
			COALESCE((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0)`).Scan(&inRecovery, &replayed, &ageMS)
		switch {
		case err != nil:
			c.Error = dsn.Scrub(err.Error(), sb.dsn)
		case !inRecovery:
			c.Error = "it is not a standby (not in recovery): a primary of its own takes no part in the primary's writes"
		default:
			if pos, err := position(ctx, s.pool, primaryPosSQL); err == nil {
				c.BytesBehind = max(int64(pos)-replayed, 0)
			}
			if c.BytesBehind > pageHeader {
				c.Behind = time.Duration(ageMS) * time.Millisecond
			}
			if perr == nil {
				if tables, err := introspect(ctx, sb.pool, schemas); err != nil {
					c.Error = dsn.Scrub(err.Error(), sb.dsn)
				} else {
					c.Differences = schemaDifferences(primary, tables)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// schemaDifferences names the tables and columns the gateway serves from
// the primary that a standby lacks or types otherwise.
func schemaDifferences(primary, standby []sources.Table) []string {
	have := map[string]map[string]string{}
	for _, t := range standby {
		cols := map[string]string{}
		for _, c := range t.Columns {
			cols[c.Name] = c.DBType
		}
		have[t.Schema+"."+t.Name] = cols
	}
	var out []string
	for _, t := range primary {
		name := t.Schema + "." + t.Name
		cols, ok := have[name]
		if !ok {
			out = append(out, "table "+name+" is missing")
			continue
		}
		for _, c := range t.Columns {
			switch got, ok := cols[c.Name]; {
			case !ok:
				out = append(out, "column "+name+"."+c.Name+" is missing")
			case got != c.DBType:
				out = append(out, fmt.Sprintf("column %s.%s is %s, not %s", name, c.Name, got, c.DBType))
			}
		}
	}
	return out
}

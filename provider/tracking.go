package provider

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// invalidateChannel is where Redis sends client-tracking invalidations to
// a RESP2 connection that redirects them to itself.
const invalidateChannel = "__redis__:invalidate"

// subscription is the session's pub/sub connection and, when Redis client
// tracking could be turned on for it, the tracking that rides on it.
type subscription struct {
	ps *redis.PubSub
	// tracking is set when the connection tracks the flags' keys: Redis
	// then tells it of every write to them, raw HSETs included.
	tracking *atomic.Bool
	// trackingErr is why tracking is off, when it was asked for.
	trackingErr *atomic.Value
	close       func()
}

// subscribe opens the session's subscription. With client tracking on
// (WithClientTracking, the default) and a single-server client (not
// Cluster, Ring or Sentinel failover), it opens it from a client of its own
// made from the same options, whose connections run, before anything else,
//
//	CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX P:flag: [PREFIX simple]
//
// so that Redis tells this very connection, on __redis__:invalidate, of
// every write to a flag's keys, whoever makes it — the tutorial's
// application, redis-cli — at no cost in commands while nothing changes
// (docs/design.md §11). Tracking lives and dies with the connection: a
// reconnection (a new session) turns it on again before subscribing.
func (p *Provider) subscribe(ctx context.Context) *subscription {
	sub := &subscription{tracking: new(atomic.Bool), trackingErr: new(atomic.Value), close: func() {}}
	c, ok := p.client.(*redis.Client)
	if !p.cfg.tracking || !ok || c.Options().Addr == "FailoverClient" {
		sub.ps = p.client.Subscribe(ctx)
		return sub
	}
	opt := *c.Options()
	opt.Protocol = 2 // invalidations as pub/sub messages, which PubSub reads
	opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns = 1, 0, 0
	// Options holds its maintenance-notification config by pointer, which
	// go-redis writes on; the copy must not share the user's. RESP2 carries
	// no such notifications anyway.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	userOnConnect := opt.OnConnect
	prefixes := p.store.TrackingPrefixes()
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if userOnConnect != nil {
			if err := userOnConnect(ctx, cn); err != nil {
				return err
			}
		}
		sub.tracking.Store(false)
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			sub.trackingErr.Store(err)
			return nil // tracking is a bonus: the connection is still good
		}
		args := []any{"CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST"}
		for _, pre := range prefixes {
			args = append(args, "PREFIX", pre)
		}
		if err := cn.Do(ctx, args...).Err(); err != nil {
			sub.trackingErr.Store(err)
			return nil
		}
		sub.tracking.Store(true)
		return nil
	}
	tc := redis.NewClient(&opt)
	sub.ps = tc.Subscribe(ctx)
	sub.close = func() { _ = tc.Close() }
	return sub
}

// why returns why tracking is off, for the log.
func (s *subscription) why() any {
	if v := s.trackingErr.Load(); v != nil {
		return v
	}
	return "not available for this client (Cluster, Ring, Sentinel, or WithClientTracking(false))"
}

package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkRedisAuth pings Redis once: an answer that says the password is
// missing or wrong is final (retrying cannot fix it), so serve stops with
// a message saying how to give it. Any other error (Redis not up yet) is
// left to the provider's retries and /readyz.
func checkRedisAuth(ctx context.Context, rdb redis.UniversalClient) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := rdb.Ping(pctx).Err()
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "NOAUTH"):
		return errors.New("serve: Redis needs a password: give it in REDIS_URL (redis://:PASSWORD@host:6379/0, or redis://USER:PASSWORD@host:6379/0 for an ACL user)")
	case strings.HasPrefix(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"), strings.Contains(msg, "invalid username-password"):
		return errors.New("serve: Redis refused the user or password in REDIS_URL (WRONGPASS): check redis://USER:PASSWORD@host:6379/0")
	case strings.HasPrefix(msg, "NOPERM"):
		return errors.New("serve: the Redis user of REDIS_URL may not run PING (NOPERM): see the minimal ACL in the README")
	}
	return nil
}

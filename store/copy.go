package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redisflags/redisflags/evaluator"
)

// Copy copies every flag in from's index into to and returns how many it
// wrote. It is the migration from one prefix or server to another, such as
// from the tutorial's "feature-flags" on a single Redis to
// "{feature-flags}" on Redis Cluster:
//
//	n, err := store.Copy(ctx, store.New(old), store.New(cluster, store.WithKeyPrefix("{feature-flags}")))
//
// It reads every flag first (allowlists whole, whatever from's
// WithLargeSetThreshold), and writes nothing when one of them does not parse
// or does not validate: the error then names every such flag. It then
// upserts the flags in key order, each in its own transaction with its
// change notice on to's channel, so providers of the destination follow
// along. A flag already in to is replaced. Versions are to's (1 for a new
// flag, the stored one plus one otherwise) and updatedAt is the time of the
// copy. opts apply to every write (Actor names who copied, in to's audit
// trail). Index entries without a flag are skipped; simple flags (see
// WithSimpleFlags) are plain string keys, not in the index, and are not
// copied. When a write fails part way, Copy returns the number written so
// far and the error; running it again completes the copy.
func Copy(ctx context.Context, from, to *Store, opts ...WriteOption) (int, error) {
	return CopyWithProgress(ctx, from, to, nil, opts...)
}

// CopyWithProgress is Copy, calling progress (when not nil) after each flag
// written with the number written so far and the total.
func CopyWithProgress(ctx context.Context, from, to *Store, progress func(done, total int), opts ...WriteOption) (int, error) {
	flags, err := copySource(ctx, from)
	if err != nil {
		return 0, err
	}
	for i, f := range flags {
		if _, err := to.Upsert(ctx, f, opts...); err != nil {
			return i, fmt.Errorf("copy flags to %q: %d of %d written: %w", to.keys.prefix, i, len(flags), err)
		}
		if progress != nil {
			progress(i+1, len(flags))
		}
	}
	return len(flags), nil
}

// CopyPlan says what Copy would do, writing nothing: the keys of the flags
// it would create in to and of those it would replace, each sorted. It
// fails as Copy would when a source flag cannot be copied.
func CopyPlan(ctx context.Context, from, to *Store) (create, replace []string, err error) {
	flags, err := copySource(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, len(flags))
	for i, f := range flags {
		keys[i] = f.Key
	}
	recs, err := to.Load(ctx, keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("copy flags to %q: %w", to.keys.prefix, err)
	}
	for _, r := range recs {
		if errors.Is(r.Err, ErrNotFound) {
			create = append(create, r.Key)
		} else {
			replace = append(replace, r.Key)
		}
	}
	return create, replace, nil
}

// copySource reads and checks every flag of from, in key order.
func copySource(ctx context.Context, from *Store) ([]evaluator.Flag, error) {
	// A store of from's key space with defaults: every allowlist loaded, no
	// simple flags.
	src := New(from.rdb, WithKeyPrefix(from.keys.prefix))
	recs, err := src.LoadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy flags from %q: %w", from.keys.prefix, err)
	}
	flags := make([]evaluator.Flag, 0, len(recs))
	var errs []error
	for _, r := range recs {
		switch {
		case errors.Is(r.Err, ErrNotFound):
			continue
		case r.Err != nil:
			errs = append(errs, r.Err)
			continue
		}
		if err := evaluator.Validate(r.Flag); err != nil {
			errs = append(errs, fmt.Errorf("flag %q: %w", r.Key, err))
			continue
		}
		if err := checkNotPartial(r.Flag); err != nil {
			errs = append(errs, err)
			continue
		}
		flags = append(flags, r.Flag)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("copy flags from %q: nothing written, %d flags cannot be copied: %w", from.keys.prefix, len(errs), errors.Join(errs...))
	}
	return flags, nil
}

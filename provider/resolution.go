package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
)

// This file is the provider's untyped surface, for the edges that cannot
// say which type they want (OFREP, the tutorial's evaluate route, the CLI's
// explanations, the console): one flag resolved without a type (Resolve),
// the list of flags (Flags), a revision of the snapshot (Revision), change
// notices (Watch, changes.go) and the provider's state (State). Every edge
// answers through these, so that no mapping lives beside the provider's
// (docs/design.md §8, §9).

// PayloadSuffix makes the companion key of a tutorial flag: "K:payload" is
// K's payload when K is on, and the caller's default when K is off or has no
// payload in the environment (docs/design.md §8). Over OFREP K itself is a
// switch (a boolean); its payload is read under this key. The typed methods
// answer "K:payload" the same way, so one key means one thing in every
// language. ':' is never valid in a flag key, so it cannot collide.
const PayloadSuffix = ":payload"

// Kind is what a flag is, as far as its evaluation goes.
type Kind string

// The kinds of flags.
const (
	// KindTutorial is a flag of the tutorial's model: on or off, with an
	// optional payload per environment.
	KindTutorial Kind = "tutorial"
	// KindVariant is a flag with variants (rules, splits), such as those
	// imported from the OpenFeature spec.
	KindVariant Kind = "variant"
	// KindLaunchDarkly is a variant flag imported from LaunchDarkly,
	// evaluated with LaunchDarkly's semantics.
	KindLaunchDarkly Kind = "launchdarkly"
	// KindFlagd is a variant flag imported from flagd, evaluated with
	// flagd's semantics (evaluator.SemanticsFlagd).
	KindFlagd Kind = "flagd"
)

func kindOf(c *evaluator.Compiled) Kind {
	switch {
	case c.LaunchDarkly():
		return KindLaunchDarkly
	case c.Flagd():
		return KindFlagd
	case c.IsVariantFlag():
		return KindVariant
	}
	return KindTutorial
}

// Resolution is one flag resolved without a type: what OFREP and the HTTP
// routes answer, with the explanation the CLI and console show.
type Resolution struct {
	// Key is the key asked for (with PayloadSuffix when it was a payload).
	Key string
	// Value is the JSON value served; nil means "the caller's default" (an
	// error; a payload key whose flag is off or has no payload; a variant
	// flag disabled without an off variant). A tutorial flag's own key
	// serves true or false.
	Value json.RawMessage
	// Variant is the variant served ("on"/"off" for tutorial flags; the
	// variation index for LaunchDarkly flags); empty on error.
	Variant string
	// Reason is the OpenFeature reason, as the typed methods report it.
	Reason of.Reason
	// ErrorCode is set when the flag could not be evaluated; ErrorMessage
	// then says why, naming the flag.
	ErrorCode    of.ErrorCode
	ErrorMessage string
	// Metadata is the flag metadata (shared and read-only: do not modify);
	// nil on error.
	Metadata map[string]any
	// Explanation says which step decided, and with which bucket.
	Explanation Explanation
}

// Explanation is why a flag resolved as it did: for "who gets what, and
// why" in the CLI and the console, and the tutorial's evaluate route.
type Explanation struct {
	// Kind is the flag's kind; empty when the flag could not be found or
	// parsed.
	Kind Kind
	// Environment, Subject and Region are what the context mapped to
	// (docs/design.md §5).
	Environment, Subject, Region string
	// Outcome is the deciding step under the tutorial's names
	// ("allowlist-user", "rollout-miss", "rule-match", "fallthrough", …);
	// empty on error.
	Outcome string
	// On is whether a tutorial flag is on; for variant flags, whether a
	// variant was served.
	On bool
	// Percent is the environment's rolloutPercent when the rollout step
	// was reached, else 0.
	Percent int
	// Bucket is the subject's bucket, 0–99, under the flag's own bucketing
	// (Scheme): the one the rollout step compared, or for a tutorial flag
	// decided earlier the one it would have compared. -1 when there is none
	// (no subject, or a variant flag that did not split).
	Bucket int
	// Scheme names the flag's bucketing: "sha256", "md5-canary", "murmur3"
	// or "launchdarkly".
	Scheme string
	// Payload is a tutorial flag's payload in the environment, whether or
	// not it was served; nil when there is none.
	Payload json.RawMessage
}

// Resolve evaluates one flag for fc without a type (see Resolution). It
// never blocks on the network in snapshot mode, except for allowlists kept
// in Redis, and is safe for concurrent use.
func (p *Provider) Resolve(ctx context.Context, flag string, fc of.FlattenedContext) Resolution {
	var ev evaluation
	p.evaluate(ctx, flag, fc, &ev)
	var d of.ProviderResolutionDetail
	ev.detail(&d)
	res := Resolution{Key: flag, Variant: d.Variant, Reason: d.Reason}
	var t target
	_ = p.targetOf(fc, &t)
	res.Explanation = Explanation{Environment: t.environment, Subject: t.subject, Region: t.region, Bucket: -1}
	if ev.err != nil {
		rd := d.ResolutionDetail()
		res.ErrorCode, res.ErrorMessage, res.Variant = rd.ErrorCode, rd.ErrorMessage, ""
		return res
	}
	res.Metadata = ev.metadata
	x := &res.Explanation
	x.Outcome = ev.result.Outcome.String()
	x.Percent = ev.result.Percent
	x.Scheme = ev.scheme.String()
	x.Bucket = ev.result.Bucket
	switch {
	case ev.ld:
		x.Kind = KindLaunchDarkly
	case ev.flagd:
		x.Kind = KindFlagd
		// flagd's subject is the targeting key alone, and region is an
		// ordinary attribute (see flagdInput).
		x.Subject, _ = fc[of.TargetingKey].(string)
		x.Region = ""
	case ev.variant:
		x.Kind = KindVariant
	default:
		x.Kind = KindTutorial
	}
	if ev.variant {
		x.On = ev.payload != nil
		if ev.payload != nil && ev.payload.Kind != evaluator.KindNone {
			res.Value = ev.payload.Raw
		}
		return res
	}
	x.On = ev.result.On
	if x.Bucket < 0 && t.subject != "" {
		x.Bucket = evaluator.BucketWith(ev.scheme, baseKey(flag), t.environment, t.subject, false)
	}
	hasPayload := ev.payload != nil && ev.payload.Kind != evaluator.KindNone
	if hasPayload {
		x.Payload = ev.payload.Raw
	}
	switch {
	case !ev.payloadKey:
		res.Value = jsonFalse
		if ev.result.On {
			res.Value = jsonTrue
		}
	case ev.result.On && hasPayload:
		res.Value = ev.payload.Raw
	case ev.result.On:
		res.Reason = of.DefaultReason // on without a payload: the caller's default
	}
	return res
}

var (
	jsonTrue  = json.RawMessage("true")
	jsonFalse = json.RawMessage("false")
)

func baseKey(flag string) string {
	if len(flag) > len(PayloadSuffix) && flag[len(flag)-len(PayloadSuffix):] == PayloadSuffix {
		return flag[:len(flag)-len(PayloadSuffix)]
	}
	return flag
}

// evaluatePayloadKey evaluates "base:payload": base, read as its payload by
// every type. Only tutorial flags have one.
func (p *Provider) evaluatePayloadKey(ctx context.Context, base string, fc of.FlattenedContext, ev *evaluation) {
	if baseKey(base) != base {
		e := of.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q is not a flag key: only one %s suffix is allowed", base+PayloadSuffix, PayloadSuffix))
		ev.err = &e
		return
	}
	p.evaluate(ctx, base, fc, ev)
	if ev.err != nil {
		return
	}
	if ev.variant {
		e := of.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q has variants, not a payload: ask for %q itself", base, base))
		*ev = evaluation{err: &e}
		return
	}
	ev.payloadKey = true
}

// FlagInfo is one flag as the provider holds it.
type FlagInfo struct {
	// Key is the flag key.
	Key string
	// Kind is the flag's kind; empty when Err is set.
	Kind Kind
	// Definition is the stored definition (a copy the caller owns); the
	// zero Flag when Err is set.
	Definition evaluator.Flag
	// Err is why the stored flag does not parse or compile (it then
	// resolves with PARSE_ERROR); nil otherwise.
	Err error
	// EnvErrs are the environments whose stored fields do not parse (each
	// resolves with PARSE_ERROR; Definition leaves them out, so it must
	// not be written back); nil when there are none.
	EnvErrs map[string]error
}

// ErrNotLoaded is returned by Flags before the first load.
var ErrNotLoaded = errors.New("redisflags: no flags loaded yet")

// Flags returns every flag, sorted by key, those that do not parse
// included (with Err). In snapshot mode it reads the snapshot (ErrNotLoaded
// before the first load); with direct reads it loads every flag from Redis.
func (p *Provider) Flags(ctx context.Context) ([]FlagInfo, error) {
	var snap *snapshot
	if p.cfg.direct {
		recs, err := p.store.LoadAll(ctx)
		if err != nil {
			return nil, err
		}
		snap = fullSnapshot(recs, nil)
	} else {
		if snap = p.snap.Load(); snap == nil {
			return nil, ErrNotLoaded
		}
	}
	keys := snap.sortedKeys()
	out := make([]FlagInfo, 0, len(keys))
	for _, k := range keys {
		e, _ := snap.flags.get(k.Name)
		fi := FlagInfo{Key: k.Name, Err: e.err, EnvErrs: maps.Clone(e.envErrs)}
		if e.compiled != nil {
			fi.Kind, fi.Definition = k.Kind, e.compiled.Definition()
		}
		out = append(out, fi)
	}
	return out, nil
}

// Revision identifies what the snapshot holds: equal revisions mean equal
// stored flags (it sums a hash of every key with its stored fingerprint), in this
// process and in any other provider over the same data. It changes with
// every change the snapshot takes in, so it suits ETags. Empty before the
// first load and with direct reads.
func (p *Provider) Revision() string {
	if s := p.snap.Load(); s != nil {
		return s.revision
	}
	return ""
}

// Key is a flag key with its kind.
type Key struct {
	// Name is the flag key.
	Name string
	// Kind is the flag's kind; empty for a flag that does not parse.
	Kind Kind
}

// Keys returns the snapshot's flag keys, sorted (a copy the caller owns),
// and its revision, read from the same snapshot; nil and "" before the
// first load and with direct reads.
func (p *Provider) Keys() ([]Key, string) {
	if s := p.snap.Load(); s != nil {
		return slices.Clone(s.sortedKeys()), s.revision
	}
	return nil, ""
}

// State returns the provider's state as it last reported it: NOT_READY
// before Init has loaded and after Shutdown, READY, STALE while Redis is
// lost (the last snapshot, or the fallback file, is served), ERROR when
// Init gave up.
func (p *Provider) State() of.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.status {
	case statusReady:
		return of.ReadyState
	case statusStale, statusFallback:
		return of.StaleState
	case statusError:
		return of.ErrorState
	}
	return of.NotReadyState
}

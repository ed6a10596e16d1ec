// Package evaluator holds the redisflags flag model, its validation, its
// compilation into an immutable form, and pure evaluation.
//
// It does no I/O and imports nothing from Redis or OpenFeature: data reaches it
// as a [Flag] definition (the JSON form of the Redis feature-flags tutorial),
// [Compile] validates it and precomputes everything evaluation needs, and
// [Compiled.Evaluate] answers without allocating.
//
// Evaluation follows the tutorial's six steps, in order:
//
//  1. flag defaultEnabled false           → off, [FlagDisabled]
//  2. no such environment                 → off, [EnvironmentMissing]
//  3. environment enabled false           → off, [EnvironmentDisabled]
//  4. subject in the user allowlist       → on,  [AllowlistUser]
//  5. region in the region allowlist      → on,  [AllowlistRegion]
//  6. bucket < rolloutPercent             → on,  [RolloutHit]; else off, [RolloutMiss]
//
// The bucket is sha256("<flagKey>:<environment>:<subject>"), its first four bytes
// read as a big-endian uint32 (the first 8 lower-case hex digits), modulo 100;
// see [Bucket].
//
// Usage:
//
//	c, err := evaluator.Compile(def)
//	if err != nil { … } // a *ValidationError naming the flag and the field
//	r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "user-123"})
//	if r.On { … }
package evaluator

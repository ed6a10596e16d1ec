// Package importer reads flag definitions written for other systems and
// turns them into redisflags definitions ([evaluator.Flag]), and writes
// redisflags' own JSON form back out.
//
// Four formats are read, each by its own function (or by [Import], which
// [Detect]s the format):
//
//   - [ImportNative]: redisflags' JSON form, the Redis feature-flags
//     tutorial's — an array of definitions as [Export] writes it, the
//     tutorial's list response {"flags": […]}, or one definition.
//   - [ImportSpec]: the OpenFeature specification's test-flag format (the
//     flags its gherkin suites evaluate), whose targeting is a CEL
//     expression.
//   - [ImportFlagd]: flagd's flag definitions, whose targeting is JSON
//     Logic, translated into ordered native rules.
//   - [LaunchDarkly]: LaunchDarkly's server-side flag data (flags and
//     segments), translated into variant flags that evaluate as
//     LaunchDarkly's Go SDK does (its own options, LD…, and a result that
//     lists what is unsupported per flag).
//
// An import is all or nothing: any problem in any flag returns an [*Error]
// listing every problem, each naming its flag and field (and, for JSON
// Logic, the operator), and no flags, so a caller writes nothing. Problems
// wrap [ErrInvalid] (the input is wrong) or [ErrUnsupported] (the input is
// right but redisflags cannot express it exactly). [WithSkip] leaves named
// flags out. Flags imported from flagd and the OpenFeature spec apply to every
// environment (they have none); native definitions keep theirs, and
// LaunchDarkly's may be imported into one ([LDEnvironment]).
//
// Usage:
//
//	flags, err := importer.ImportFlagd(data)
//	if err != nil { … } // *importer.Error: every problem, by flag
//	for _, f := range flags {
//		if _, err := st.Upsert(ctx, f); err != nil { … }
//	}
//
// # flagd's JSON Logic
//
// A targeting yields a variant name, or null for the default variant with
// reason DEFAULT. Translated: if (else-if chains and nested ifs become
// successive rules; a final else becomes a rule without conditions), and,
// or, !, !!, ==, !=, ===, !==, <, <=, >, >= (also the three-argument
// between), in (an attribute in an array of literals; a literal substring
// of a string attribute), var (with "$flagd.flagKey" folded into the flag
// key, and "$flagd.timestamp" the evaluation time), starts_with,
// ends_with, sem_ver (=, !=, <, <=, >, >=, and ^ and ~ as exact version
// ranges), fractional (a split with bucketing "murmur3-flagd", bucketed by
// flag key and targeting key or by an explicit {"var": name},
// "targetingKey" included; weights not summing to 100 are scaled when that
// is exact), and {"$ref": name} into "$evaluators". Comparisons with a
// literal and literals compared with each other are folded. Everything
// else — other operators, a var with a default, comparing two attributes —
// is an [ErrUnsupported] problem naming the flag and the operator.
//
// Every imported flag follows [evaluator.SemanticsFlagd]: it reads the
// context as flagd does (the targeting key alone is the subject; "region"
// and "environment" are ordinary attributes of any type; dotted names are
// paths), parses versions as flagd does, and its fractional answers with
// reason TARGETING_MATCH, or — no targeting key, a bucket-by value that is
// not a string — the default variant with reason DEFAULT. Where flagd's
// two evaluators disagree, it follows flagd's Go evaluator: a missing or
// null bucket-by value falls back to flag key and targeting key (flagd-core
// serves the default variant), and bucket values are hashed as UTF-8.
//
// The translation is exact for contexts whose attributes have the JSON type
// the targeting compares them with, or are missing or null, and, for
// flagd's own operators (sem_ver, starts_with, ends_with, fractional) and
// strict equality, for attributes of any type: a differential test
// (flagd_differential_test.go) checks it against @openfeature/flagd-core
// over 10,000 generated contexts. It differs from flagd where JSON Logic
// coerces types in a loose comparison: redisflags compares types strictly
// (the string "29" does not equal 29, true does not equal 1; "in" does not
// search array attributes), as flagd's Go evaluator answers false where
// flagd-core fails such a comparison with GENERAL.
package importer

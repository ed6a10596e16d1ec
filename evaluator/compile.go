package evaluator

import (
	"errors"
	"slices"
	"strings"
)

// Compiled is a validated flag with everything evaluation needs precomputed:
// allowlists as sets, the payload decoded per type, and the metadata of every
// (environment, outcome) pair. It is immutable after [Compile] returns and
// safe for concurrent use; nothing it returns may be modified by callers.
type Compiled struct {
	key            string
	defaultEnabled bool
	version        int64
	// envs are the environments sorted by name, in one allocation: for the
	// handful a flag has, a scan is as fast as a map and far smaller.
	envs []CompiledEnvironment
	// def is the definition without its Environments, which live in
	// envs[i].def (Definition puts them back); hasEnvs says whether the
	// definition's map was non-nil.
	def     Flag
	hasEnvs bool
	scheme  Scheme
	salt    string       // Flag.Salt, for BucketLaunchDarkly
	variant *variantFlag // nil for a tutorial flag
	large   bool         // an environment left an allowlist in Redis
	rollout bool         // an environment has a progressive rollout
}

// CompiledEnvironment is one environment of a [Compiled] flag. Immutable.
type CompiledEnvironment struct {
	name     string
	users    stringSet
	regions  stringSet
	payload  *Payload // shared by the flags of a Compiler with the same stored text
	version  int64
	def      Environment
	rollout  *CompiledRollout             // nil without a progressive rollout
	metadata *[numOutcomes]map[string]any // shared by a Compiler's flags
	enabled  bool
	// largeUsers, largeRegions: the allowlist stayed in Redis; ask
	// Input.Members.
	largeUsers, largeRegions bool
}

// Compile validates f (see [Validate]) and precomputes its evaluation form.
// The returned flag keeps its own deep copy of f.
func Compile(f Flag) (*Compiled, error) { return compile(f, nil) }

// Compiler compiles many flags that share their read-only metadata maps: a
// snapshot of N flags in E environments holds one map per distinct
// (environment, outcome, version) instead of up to 7·N·E. Not safe for
// concurrent use; the flags it returns are.
type Compiler struct {
	meta map[metaKey]map[string]any
	// payloads shares decoded payloads by their stored text and strs small
	// strings (names, timestamps, allowlist members) among the flags.
	payloads map[string]*Payload
	strs     map[string]string
	metaSets map[metaSetKey]*[numOutcomes]map[string]any
}

// metaSetKey names one environment's metadata maps: those of the outcomes
// in mask, for a flag without metadata of its own.
type metaSetKey struct {
	env       string
	version   int64
	expiresAt string
	mask      uint16
}

// noMetadata is the metadata of an environment of a variant flag, whose
// metadata is the flag's own (read-only).
var noMetadata [numOutcomes]map[string]any

// maxInterned bounds what a Compiler shares: longer texts are rarely
// repeated and would only grow its caches.
const (
	maxInternedPayload = 512
	maxInternedString  = 64
)

// noPayload is the payload of every environment without one (read-only).
var noPayload Payload

// payload decodes raw, sharing the result with earlier identical texts.
func (k *Compiler) payload(raw []byte) (*Payload, error) {
	if len(raw) == 0 {
		return &noPayload, nil
	}
	if k != nil && len(raw) <= maxInternedPayload {
		if p, ok := k.payloads[string(raw)]; ok {
			return p, nil
		}
	}
	p, err := DecodePayload(raw)
	if err != nil {
		return nil, err
	}
	if p.Kind == KindNone {
		return &noPayload, nil
	}
	pp := &p
	if k != nil && len(raw) <= maxInternedPayload {
		if k.payloads == nil {
			k.payloads = map[string]*Payload{}
		}
		k.payloads[string(raw)] = pp
	}
	return pp, nil
}

// str returns s, or an equal string the Compiler saw before.
func (k *Compiler) str(s string) string {
	if k == nil || s == "" || len(s) > maxInternedString {
		return s
	}
	if t, ok := k.strs[s]; ok {
		return t
	}
	if k.strs == nil {
		k.strs = map[string]string{}
	}
	s = strings.Clone(s)
	k.strs[s] = s
	return s
}

// strs interns every member of list in place.
func (k *Compiler) strList(list []string) {
	for i, s := range list {
		list[i] = k.str(s)
	}
}

type metaKey struct {
	env       string
	outcome   Outcome
	version   int64
	expiresAt string
}

// NewCompiler returns a Compiler with an empty metadata cache.
func NewCompiler() *Compiler { return &Compiler{meta: map[metaKey]map[string]any{}} }

// Compile is [Compile], sharing metadata with the other flags of k.
func (k *Compiler) Compile(f Flag) (*Compiled, error) { return compile(f, k) }

func (k *Compiler) metadata(env string, o Outcome, version int64, f *Flag) map[string]any {
	if k == nil || len(f.Metadata) > 0 {
		return flagMetadata(env, o, version, f)
	}
	key := metaKey{env, o, version, f.ExpiresAt}
	m, ok := k.meta[key]
	if !ok {
		m = flagMetadata(env, o, version, f)
		k.meta[key] = m
	}
	return m
}

// metadataSet returns the metadata maps of every outcome possible in env,
// shared with the other environments of k of the same name, version and
// kill date.
func (k *Compiler) metadataSet(name string, f *Flag, env *Environment, variant bool) *[numOutcomes]map[string]any {
	if variant {
		return &noMetadata
	}
	var mask uint16
	for o := FlagDisabled; o < numOutcomes; o++ {
		if possible(f, env, o) {
			mask |= 1 << o
		}
	}
	key := metaSetKey{name, f.Version, f.ExpiresAt, mask}
	shared := k != nil && len(f.Metadata) == 0
	if shared {
		if m, ok := k.metaSets[key]; ok {
			return m
		}
	}
	m := new([numOutcomes]map[string]any)
	for o := FlagDisabled; o < numOutcomes; o++ {
		if mask&(1<<o) != 0 {
			m[o] = k.metadata(name, o, f.Version, f)
		}
	}
	if shared {
		if k.metaSets == nil {
			k.metaSets = map[metaSetKey]*[numOutcomes]map[string]any{}
		}
		k.metaSets[key] = m
	}
	return m
}

// flagMetadata is Metadata plus the flag's kill date and its own metadata.
func flagMetadata(env string, o Outcome, version int64, f *Flag) map[string]any {
	m := Metadata(env, o, version)
	if f.ExpiresAt != "" {
		m["expiresAt"] = f.ExpiresAt
	}
	for k, v := range compileMetadata(&ValidationError{}, f.Metadata) {
		m[k] = v
	}
	return m
}

// possible reports whether an evaluation in env can end with outcome o, so
// that metadata is built only for outcomes that can happen.
func possible(f *Flag, env *Environment, o Outcome) bool {
	switch o {
	case FlagDisabled:
		return !f.DefaultEnabled
	case EnvironmentDisabled:
		return f.DefaultEnabled && !env.Enabled
	case AllowlistUser:
		return f.DefaultEnabled && env.Enabled && (len(env.AllowlistUsers) > 0 || env.LargeUsers > 0)
	case AllowlistRegion:
		return f.DefaultEnabled && env.Enabled && (len(env.AllowlistRegions) > 0 || env.LargeRegions > 0)
	case RolloutHit:
		return f.DefaultEnabled && env.Enabled && (env.RolloutPercent > 0 || env.Rollout != nil)
	case RolloutMiss:
		return f.DefaultEnabled && env.Enabled && (env.RolloutPercent < 100 || env.Rollout != nil)
	}
	return false
}

func compile(f Flag, k *Compiler) (*Compiled, error) {
	v := validate(f)
	var vf *variantFlag
	if f.IsVariantFlag() {
		vf = compileVariants(v, &f)
	}
	if err := v.orNil(); err != nil {
		return nil, err
	}
	// The environments are copied one by one below into envs; the map
	// itself is not kept, so only the rest of the definition is cloned.
	envMap := f.Environments
	f.Environments = nil
	f = f.Clone()
	scheme, _ := ParseScheme(f.Bucketing)
	f.Key, f.Description, f.UpdatedAt = k.str(f.Key), k.str(f.Description), k.str(f.UpdatedAt)
	c := &Compiled{
		key:            f.Key,
		defaultEnabled: f.DefaultEnabled,
		version:        f.Version,
		envs:           make([]CompiledEnvironment, len(envMap)),
		hasEnvs:        envMap != nil,
		scheme:         scheme,
		salt:           f.Salt,
		variant:        vf,
	}
	if vf != nil && f.ExpiresAt != "" {
		m := map[string]any{"expiresAt": f.ExpiresAt}
		for key, val := range vf.metadata {
			m[key] = val
		}
		vf.metadata = m
	}
	for i, name := range sortedKeys(envMap) {
		env := envMap[name]
		payload, err := k.payload(env.Value)
		if err != nil {
			v := &ValidationError{Flag: f.Key}
			v.add("environments."+name+".value", "%v", err)
			return nil, v
		}
		name = k.str(name)
		env.UpdatedAt = k.str(env.UpdatedAt)
		if string(env.Value) == string(payload.Raw) {
			env.Value = payload.Raw // the same bytes: keep one copy
		} else {
			env.Value = slices.Clone(env.Value)
		}
		env.AllowlistUsers = slices.Clone(env.AllowlistUsers)
		env.AllowlistRegions = slices.Clone(env.AllowlistRegions)
		env.Rollout = env.Rollout.Clone()
		k.strList(env.AllowlistUsers)
		k.strList(env.AllowlistRegions)
		ce := &c.envs[i]
		*ce = CompiledEnvironment{
			name:         name,
			enabled:      env.Enabled,
			users:        ownedStringSet(env.AllowlistUsers),
			regions:      ownedStringSet(env.AllowlistRegions),
			largeUsers:   env.LargeUsers > 0,
			largeRegions: env.LargeRegions > 0,
			payload:      payload,
			version:      f.Version,
			def:          env,
		}
		if env.Rollout != nil {
			ce.rollout = compileProgressive(&ValidationError{}, "", env.Rollout)
			if vf != nil {
				ce.rollout.variantIdx = vf.index[env.Rollout.Variant]
			}
			c.rollout = true
		}
		ce.metadata = k.metadataSet(name, &f, &env, vf != nil)
		c.large = c.large || env.HasLargeAllowlist()
	}
	c.def = f // without its Environments: they are kept in envs[i].def
	return c, nil
}

// Metadata builds the flag metadata of one evaluation: "environment",
// "evaluationReason" (the tutorial's reason name) and, when version > 0,
// "version" as an int64. [Compiled] builds these once per environment and
// outcome; this function is for callers that have no compiled flag.
func Metadata(environment string, o Outcome, version int64) map[string]any {
	m := map[string]any{"environment": environment, "evaluationReason": o.String()}
	if version > 0 {
		m["version"] = version
	}
	return m
}

// HasLargeAllowlist reports whether some environment of c left an
// allowlist in Redis, so that evaluations need Input.Members.
func (c *Compiled) HasLargeAllowlist() bool { return c.large }

// Key returns the flag key.
func (c *Compiled) Key() string { return c.key }

// Scheme returns the flag's bucketing scheme (Flag.Bucketing).
func (c *Compiled) Scheme() Scheme { return c.scheme }

// Version returns the stored version, 0 when unknown.
func (c *Compiled) Version() int64 { return c.version }

// Definition returns a deep copy of the definition the flag was compiled from.
func (c *Compiled) Definition() Flag {
	f := c.def.Clone()
	if c.hasEnvs {
		f.Environments = make(map[string]Environment, len(c.envs))
		for i := range c.envs {
			f.Environments[c.envs[i].name] = c.envs[i].def.clone()
		}
	}
	return f
}

// Environment returns the named environment, or nil.
func (c *Compiled) Environment(name string) *CompiledEnvironment { return c.env(name) }

// env finds an environment by name: a scan for the usual handful, a binary
// search (envs is sorted) for more. It does not allocate.
func (c *Compiled) env(name string) *CompiledEnvironment {
	if len(c.envs) <= smallSetMax {
		for i := range c.envs {
			if c.envs[i].name == name {
				return &c.envs[i]
			}
		}
		return nil
	}
	lo, hi := 0, len(c.envs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.envs[m].name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(c.envs) && c.envs[lo].name == name {
		return &c.envs[lo]
	}
	return nil
}

// Evaluate runs the evaluation steps for in. It does not allocate.
func (c *Compiled) Evaluate(in Input) Result {
	r, _ := c.EvaluateEnv(in)
	return r
}

// EvaluateEnv is Evaluate that also returns the environment it evaluated
// (nil when the flag has none of that name), so that callers reach its
// payload and metadata without a second lookup. It does not allocate.
func (c *Compiled) EvaluateEnv(in Input) (Result, *CompiledEnvironment) {
	env := c.env(in.Environment)
	if c.variant != nil {
		return c.evalVariant(&in, env, nil), env
	}
	return c.evalTutorial(&in, env)
}

// evalTutorial runs the tutorial's six steps.
func (c *Compiled) evalTutorial(in *Input, env *CompiledEnvironment) (Result, *CompiledEnvironment) {
	f := Facts{
		FlagKey:        c.key,
		DefaultEnabled: c.defaultEnabled,
		Environment:    in.Environment,
		Subject:        in.Subject,
		Scheme:         c.scheme,
	}
	if env != nil {
		f.EnvFound = true
		f.EnvEnabled = env.enabled
		f.Percent = env.def.RolloutPercent
		if env.rollout != nil {
			f.Rollout, f.Now = env.rollout, in.Now
		}
		f.UserListed = in.Subject != "" && env.users.has(in.Subject)
		f.RegionListed = !f.UserListed && in.Region != "" && env.regions.has(in.Region)
		if (env.largeUsers || env.largeRegions) && !f.UserListed && !f.RegionListed && f.DefaultEnabled && f.EnvEnabled {
			var err error
			if f.UserListed, f.RegionListed, err = env.askLarge(c.key, in); err != nil {
				return Result{Bucket: -1, Err: MembershipUnavailable}, env
			}
		}
	}
	return Decide(f), env
}

// askLarge asks in.Members about the allowlists left in Redis.
func (e *CompiledEnvironment) askLarge(flagKey string, in *Input) (user, region bool, err error) {
	if in.Members == nil {
		return false, false, errNoMembership
	}
	if e.largeUsers && in.Subject != "" {
		if user, err = in.Members.IsMember(flagKey, e.name, ListUsers, in.Subject); err != nil || user {
			return user, false, err
		}
	}
	if e.largeRegions && in.Region != "" {
		region, err = in.Members.IsMember(flagKey, e.name, ListRegions, in.Region)
	}
	return false, region, err
}

var errNoMembership = errors.New("no membership oracle for a large allowlist")

// Metadata returns the shared, read-only metadata for an outcome in the
// named environment. For an environment the flag does not have it builds a
// new map (that path is rare: the flag is off with environment-missing).
// A variant flag's metadata is its own (see FlagMetadata), whatever the
// environment and outcome.
func (c *Compiled) Metadata(environment string, o Outcome) map[string]any {
	if c.variant != nil {
		return c.variant.metadata
	}
	if env := c.env(environment); env != nil && o < numOutcomes && o != NoOutcome {
		return env.Metadata(o)
	}
	return flagMetadata(environment, o, c.version, &c.def)
}

// Metadata returns the shared, read-only metadata of an outcome in this
// environment.
func (e *CompiledEnvironment) Metadata(o Outcome) map[string]any {
	if o < numOutcomes && e.metadata[o] != nil {
		return e.metadata[o]
	}
	// Only reachable for an outcome possible() ruled out: a bug, but answer.
	return Metadata(e.name, o, e.version)
}

// Name returns the environment name.
func (e *CompiledEnvironment) Name() string { return e.name }

// Payload returns the environment's decoded payload (read-only).
func (e *CompiledEnvironment) Payload() *Payload { return e.payload }

// Percent returns the environment's rolloutPercent.
func (e *CompiledEnvironment) Percent() int { return e.def.RolloutPercent }

// Package ldcompat is what the tests comparing redisflags with
// LaunchDarkly share: LaunchDarkly's Go SDK v7 started fully offline, and the
// conversions LaunchDarkly's OpenFeature provider (go-sdk-contrib's
// providers/launchdarkly) makes between OpenFeature and LaunchDarkly —
// contexts in, reasons and error codes out. That provider's module is not
// served by the module proxy these tests build with, so the conversions are
// written from its documented behaviour; Provider puts them together as a
// go-sdk provider for benchmarks of the whole client path.
//
// Test support only: nothing outside tests imports it.
package ldcompat

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldreason"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	"github.com/launchdarkly/go-server-sdk/v7/ldcomponents"
	"github.com/launchdarkly/go-server-sdk/v7/ldfiledata"
	of "github.com/open-feature/go-sdk/openfeature"
)

// ErrNoKey is ToContext's error for a context without targetingKey or key
// (LaunchDarkly's provider then answers TARGETING_KEY_MISSING).
var ErrNoKey = errors.New("key and targetingKey attributes are missing")

// FileClient starts LaunchDarkly's Go SDK fully offline on the flag data
// file at path: its file data source, no events, no diagnostics, no
// logging, no network. The client is closed when tb ends.
func FileClient(tb testing.TB, path string) *ld.LDClient {
	tb.Helper()
	c, err := ld.MakeCustomClient("sdk-offline-key", ld.Config{
		DataSource:       ldfiledata.DataSource().FilePaths(path),
		Events:           ldcomponents.NoEvents(),
		DiagnosticOptOut: true,
		Logging:          ldcomponents.NoLogging(),
	}, 5*time.Second)
	if err != nil {
		tb.Fatalf("LaunchDarkly offline client on %s: %v", path, err)
	}
	if !c.Initialized() {
		tb.Fatalf("LaunchDarkly offline client on %s: not initialized", path)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// ToContext builds LaunchDarkly's context from a flattened OpenFeature
// context as LaunchDarkly's OpenFeature provider does: "kind" picks the kind
// (default "user"); kind "multi" takes each object attribute as the context
// of that kind; the key is targetingKey, else "key"; "anonymous" and
// "privateAttributes" are metadata; every other attribute is an attribute.
// The map is not modified.
func ToContext(fc map[string]any) (ldcontext.Context, error) {
	kind := ldcontext.DefaultKind
	if k, ok := fc["kind"].(string); ok && strings.TrimSpace(k) != "" {
		kind = ldcontext.Kind(k)
	}
	if kind != ldcontext.MultiKind {
		return single(kind, fc)
	}
	mb := ldcontext.NewMultiBuilder()
	for name, v := range fc {
		inner, ok := v.(map[string]any)
		if name == "kind" || !ok {
			continue
		}
		c, err := single(ldcontext.Kind(name), inner)
		if err != nil {
			return ldcontext.Context{}, err
		}
		mb.Add(c)
	}
	return mb.Build(), nil
}

func single(kind ldcontext.Kind, m map[string]any) (ldcontext.Context, error) {
	key, ok := m[of.TargetingKey].(string)
	if !ok {
		if key, ok = m["key"].(string); !ok || strings.TrimSpace(key) == "" {
			return ldcontext.Context{}, ErrNoKey
		}
	}
	b := ldcontext.NewBuilder(key).Kind(kind)
	if anon, ok := m["anonymous"].(bool); ok {
		b.Anonymous(anon)
	}
	if private, ok := m["privateAttributes"].([]string); ok {
		b.Private(private...)
	}
	for name, v := range m {
		switch name {
		case of.TargetingKey, "kind", "key", "privateAttributes", "anonymous":
			continue
		}
		b.SetValue(name, ldvalue.CopyArbitraryValue(v))
	}
	return b.Build(), nil
}

// Reason maps a LaunchDarkly reason kind onto the reason LaunchDarkly's
// OpenFeature provider reports: OFF → DISABLED, TARGET_MATCH →
// TARGETING_MATCH, ERROR → ERROR, the others under their own names.
func Reason(k ldreason.EvalReasonKind) of.Reason {
	switch k {
	case ldreason.EvalReasonOff:
		return of.DisabledReason
	case ldreason.EvalReasonTargetMatch:
		return of.TargetingMatchReason
	case ldreason.EvalReasonError:
		return of.ErrorReason
	}
	return of.Reason(k)
}

// ErrorCode maps a LaunchDarkly error kind onto an OpenFeature error code.
func ErrorCode(k ldreason.EvalErrorKind) of.ErrorCode {
	switch k {
	case ldreason.EvalErrorClientNotReady:
		return of.ProviderNotReadyCode
	case ldreason.EvalErrorFlagNotFound:
		return of.FlagNotFoundCode
	case ldreason.EvalErrorMalformedFlag:
		return of.ParseErrorCode
	case ldreason.EvalErrorUserNotSpecified:
		return of.TargetingKeyMissingCode
	case ldreason.EvalErrorWrongType:
		return of.TypeMismatchCode
	}
	return of.GeneralCode
}

package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// world is the state of one scenario. Scenarios run one at a time; each
// gets a fresh world, its own providers, domains and API instances, all
// shut down when it ends.
type world struct {
	fx   *fixture
	mode mode

	b        *binding
	cleanups []func() error

	// the evaluation being described
	flagType     string // Boolean, String, Integer, Float, Object
	key          string
	defaultValue any
	targetingKey string
	attrs        map[string]any
	options      []of.Option

	details of.InterfaceEvaluationDetails
	evalErr error
	evals   int

	hook *recordingHook // "a client with added hook"

	// evaluation options with hooks (@evaluation-options)
	orderLog *[]string

	// immutability: the attributes as they were before the evaluation
	attrsBefore map[string]any

	async time.Duration // how long the asynchronous evaluation took

	merging *mergingState // contextMerging.feature

	skipped bool // the scenario was skipped (see skip)
}

func (w *world) cleanup(fn func() error) { w.cleanups = append(w.cleanups, fn) }

func (w *world) close() error {
	var errs []error
	for i := len(w.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, w.cleanups[i]())
	}
	return errors.Join(errs...)
}

// use binds p under a fresh domain and makes it the scenario's provider.
func (w *world) use(ctx context.Context, p of.FeatureProvider, wait bool) error {
	var (
		b   *binding
		err error
	)
	if wait {
		b, err = bind(ctx, w.mode.name, p)
	} else {
		b, err = bindAsync(ctx, w.mode.name, p)
	}
	if b != nil {
		w.cleanup(b.close)
		w.b = b
	}
	return err
}

func (w *world) newProvider(opts ...provider.Option) *provider.Provider {
	return provider.New(w.fx.rdb, append(append([]provider.Option{}, w.mode.opts...), opts...)...)
}

// ---- providers ------------------------------------------------------------

func (w *world) aStableProvider(ctx context.Context) error {
	return w.use(ctx, w.newProvider(), true)
}

// aNotReadyProvider binds a provider whose Redis does not answer and whose
// initialization is still waiting for it: the SDK reports NOT_READY and
// answers evaluations itself with PROVIDER_NOT_READY. The step returns once
// the initialization is under way, so that the scenario's shutdown cannot
// overtake it (an Init that starts after Shutdown starts the provider
// again, by design).
func (w *world) aNotReadyProvider(ctx context.Context) error {
	rdb := unreachable(w.fx.t)
	p := &initSignal{
		Provider: provider.New(rdb, append(append([]provider.Option{}, w.mode.opts...), provider.WithInitTimeout(time.Minute))...),
		started:  make(chan struct{}),
	}
	ictx, cancel := context.WithCancel(context.Background())
	w.cleanup(func() error { cancel(); return nil })
	if err := w.use(ictx, p, false); err != nil {
		return err
	}
	select {
	case <-p.started:
	case <-time.After(5 * time.Second):
		return errors.New("the SDK did not start initializing the provider within 5s")
	}
	return waitState(w.b.client, of.NotReadyState, time.Second)
}

// initSignal is our provider, closing started when its initialization
// begins.
type initSignal struct {
	*provider.Provider
	started chan struct{}
	once    sync.Once
}

func (p *initSignal) InitWithContext(ctx context.Context, ec of.EvaluationContext) error {
	p.once.Do(func() { close(p.started) })
	return p.Provider.InitWithContext(ctx, ec)
}

// anErrorProvider binds a provider whose Redis does not answer within its
// initialization timeout: initialization fails and the SDK reports ERROR.
func (w *world) anErrorProvider(ctx context.Context) error {
	rdb := unreachable(w.fx.t)
	p := provider.New(rdb, append(append([]provider.Option{}, w.mode.opts...), provider.WithInitTimeout(200*time.Millisecond))...)
	err := w.use(ctx, p, true)
	if err == nil {
		return errors.New("initialization succeeded without Redis")
	}
	return waitState(w.b.client, of.ErrorState, 2*time.Second)
}

// aFatalProvider: redisflags never reports PROVIDER_FATAL — a Redis that
// does not answer (or refuses the credentials) may answer later, so the
// provider keeps retrying. The scenario would test a stub, not this
// provider: skipped.
func (w *world) aFatalProvider(ctx context.Context) error {
	return skip(ctx, w, "redisflags never enters FATAL: every Redis failure is retried (see conformance/README.md)")
}

// aStaleProvider binds a provider to a redis-server of its own, waits for
// it to be ready, then kills the server: the provider keeps serving its last
// flags and reports PROVIDER_STALE.
func (w *world) aStaleProvider(ctx context.Context) error {
	srv := redistest.Start(w.fx.t)
	rdb := srv.Client(w.fx.t)
	seed(w.fx.t, rdb, w.fx.flags)
	p := provider.New(rdb, append(append([]provider.Option{}, w.mode.opts...), provider.WithHealthInterval(100*time.Millisecond))...)
	if err := w.use(ctx, p, true); err != nil {
		return err
	}
	srv.Kill()
	return waitState(w.b.client, of.StaleState, 15*time.Second)
}

func (w *world) aProvider(ctx context.Context, status string) error {
	switch status {
	case "stable":
		return w.aStableProvider(ctx)
	case "not ready":
		return w.aNotReadyProvider(ctx)
	case "error":
		return w.anErrorProvider(ctx)
	case "fatal":
		return w.aFatalProvider(ctx)
	case "stale":
		return w.aStaleProvider(ctx)
	}
	return fmt.Errorf("unknown provider status %q", status)
}

func (w *world) providerStatusShouldBe(want string) error {
	if got := w.b.client.State(); string(got) != want {
		return fmt.Errorf("provider status %s, want %s", got, want)
	}
	return nil
}

// ---- the evaluation -------------------------------------------------------

// unescape undoes the \" escapes the feature files use inside table cells.
func unescape(s string) string { return strings.ReplaceAll(s, `\"`, `"`) }

// parseTyped reads a value written in a feature file as the given type.
func parseTyped(typ, s string) (any, error) {
	switch strings.ToLower(typ) {
	case "boolean":
		return strconv.ParseBool(s)
	case "string":
		return s, nil
	case "integer":
		return strconv.ParseInt(s, 10, 64)
	case "float":
		return strconv.ParseFloat(s, 64)
	case "object":
		var v any
		if err := json.Unmarshal([]byte(unescape(s)), &v); err != nil {
			return nil, fmt.Errorf("object value %q: %w", s, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

func (w *world) aFlag(typ, key, def string) error {
	v, err := parseTyped(typ, def)
	if err != nil {
		return err
	}
	w.flagType, w.key, w.defaultValue = strings.ToLower(typ), key, v
	return nil
}

func (w *world) aContextEntry(key, typ, value string) error {
	v, err := parseTyped(typ, value)
	if err != nil {
		return err
	}
	if w.attrs == nil {
		w.attrs = map[string]any{}
	}
	w.attrs[key] = v
	return nil
}

func (w *world) aNullContextEntry(key string) error {
	if w.attrs == nil {
		w.attrs = map[string]any{}
	}
	w.attrs[key] = nil
	return nil
}

func (w *world) evalContext() of.EvaluationContext {
	return of.NewEvaluationContext(w.targetingKey, w.attrs)
}

// evaluate runs the typed *ValueDetails method for the flag's type.
func (w *world) evaluate(ctx context.Context, c *of.Client, ec of.EvaluationContext, opts ...of.Option) (of.InterfaceEvaluationDetails, error) {
	var (
		d   of.InterfaceEvaluationDetails
		err error
	)
	switch w.flagType {
	case "boolean":
		var r of.BooleanEvaluationDetails
		r, err = c.BooleanValueDetails(ctx, w.key, w.defaultValue.(bool), ec, opts...)
		d = of.InterfaceEvaluationDetails{Value: r.Value, EvaluationDetails: r.EvaluationDetails}
	case "string":
		var r of.StringEvaluationDetails
		r, err = c.StringValueDetails(ctx, w.key, w.defaultValue.(string), ec, opts...)
		d = of.InterfaceEvaluationDetails{Value: r.Value, EvaluationDetails: r.EvaluationDetails}
	case "integer":
		var r of.IntEvaluationDetails
		r, err = c.IntValueDetails(ctx, w.key, w.defaultValue.(int64), ec, opts...)
		d = of.InterfaceEvaluationDetails{Value: r.Value, EvaluationDetails: r.EvaluationDetails}
	case "float":
		var r of.FloatEvaluationDetails
		r, err = c.FloatValueDetails(ctx, w.key, w.defaultValue.(float64), ec, opts...)
		d = of.InterfaceEvaluationDetails{Value: r.Value, EvaluationDetails: r.EvaluationDetails}
	case "object":
		d, err = c.ObjectValueDetails(ctx, w.key, w.defaultValue, ec, opts...)
	default:
		return d, fmt.Errorf("no flag described yet (type %q)", w.flagType)
	}
	return d, err
}

func (w *world) evaluatedWithDetails(ctx context.Context) error {
	w.details, w.evalErr = w.evaluate(ctx, w.b.client, w.evalContext(), w.options...)
	w.evals++
	return nil
}

// sameValue compares a resolved value with one written in a feature file.
func sameValue(typ string, got any, want string) error {
	v, err := parseTyped(typ, want)
	if err != nil {
		return err
	}
	if typ == "object" {
		// Compare JSON forms: numbers may be float64 or int64.
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(v)
		var g, x any
		_ = json.Unmarshal(gb, &g)
		_ = json.Unmarshal(wb, &x)
		got, v = g, x
	}
	if !reflect.DeepEqual(got, v) {
		return fmt.Errorf("value %#v, want %#v", got, v)
	}
	return nil
}

func (w *world) resolvedDetailsValueShouldBe(want string) error {
	if err := sameValue(w.flagType, w.details.Value, want); err != nil {
		return fmt.Errorf("%w (reason %s, error %s %s)", err, w.details.Reason, w.details.ErrorCode, w.details.ErrorMessage)
	}
	return nil
}

func (w *world) reasonShouldBe(want string) error {
	if got := string(w.details.Reason); got != want {
		return fmt.Errorf("reason %q, want %q (error %s %s)", got, want, w.details.ErrorCode, w.details.ErrorMessage)
	}
	return nil
}

func (w *world) errorCodeShouldBe(want string) error {
	if got := string(w.details.ErrorCode); got != want {
		return fmt.Errorf("error code %q, want %q (%s)", got, want, w.details.ErrorMessage)
	}
	if want != "" && w.evalErr == nil {
		return errors.New("the error code is set but the evaluation returned no error")
	}
	return nil
}

func (w *world) flagKeyShouldBe(want string) error {
	if w.details.FlagKey != want {
		return fmt.Errorf("flag key %q, want %q", w.details.FlagKey, want)
	}
	return nil
}

func (w *world) variantShouldBe(want string) error {
	if w.details.Variant != want {
		return fmt.Errorf("variant %q, want %q", w.details.Variant, want)
	}
	return nil
}

func (w *world) metadataShouldContain(table *godog.Table) error {
	md := w.details.FlagMetadata
	for _, row := range table.Rows[1:] {
		key, typ, value := row.Cells[0].Value, row.Cells[1].Value, row.Cells[2].Value
		var (
			got any
			err error
		)
		switch typ {
		case "String":
			got, err = md.GetString(key)
		case "Integer":
			got, err = md.GetInt(key)
		case "Float":
			got, err = md.GetFloat(key)
		case "Boolean":
			got, err = md.GetBool(key)
		default:
			return fmt.Errorf("unknown metadata type %q", typ)
		}
		if err != nil {
			return fmt.Errorf("metadata %q: %w (metadata %v)", key, err, md)
		}
		want, err := parseTyped(typ, value)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("metadata %q = %#v, want %#v", key, got, want)
		}
	}
	return nil
}

func (w *world) metadataIsEmpty() error {
	if len(w.details.FlagMetadata) != 0 {
		return fmt.Errorf("metadata %v, want none", w.details.FlagMetadata)
	}
	return nil
}

// ---- registration ----------------------------------------------------------

func (w *world) register(sc *godog.ScenarioContext) {
	sc.Step(`^a (stable|not ready|error|fatal|stale) provider$`, w.aProvider)
	sc.Step(`^the provider status should be "([^"]*)"$`, w.providerStatusShouldBe)

	sc.Step(`^an? ([A-Za-z]+)-flag with key "([^"]*)" and a (?:fallback|default) value "(.*)"$`, w.aFlag)
	sc.Step(`^a context containing a key "([^"]*)", with type "([^"]*)" and with value "(.*)"$`, func(k, typ, v string) error { return w.aContextEntry(k, typ, v) })
	sc.Step(`^a context containing a key "([^"]*)" with null value$`, w.aNullContextEntry)
	sc.Step(`^the flag was evaluated with details$`, w.evaluatedWithDetails)
	sc.Step(`^the resolved details value should be "(.*)"$`, w.resolvedDetailsValueShouldBe)
	sc.Step(`^the reason should be "([^"]*)"$`, w.reasonShouldBe)
	sc.Step(`^the error-code should be "([^"]*)"$`, w.errorCodeShouldBe)
	sc.Step(`^the flag key should be "([^"]*)"$`, w.flagKeyShouldBe)
	sc.Step(`^the variant should be "([^"]*)"$`, w.variantShouldBe)
	sc.Step(`^the resolved metadata should contain$`, w.metadataShouldContain)
	sc.Step(`^the resolved metadata is empty$`, w.metadataIsEmpty)

	sc.Step(`^a client with added hook$`, w.aClientWithAddedHook)
	sc.Step(`^the "([^"]*)" hook should have been executed$`, w.hookShouldHaveBeenExecuted)
	sc.Step(`^the "([^"]*)" hooks should be called with evaluation details$`, w.hooksCalledWithDetails)

	sc.Step(`^evaluation options containing specific hooks$`, w.evaluationOptionsWithHooks)
	sc.Step(`^the flag was evaluated with details using the evaluation options$`, w.evaluatedWithDetails)
	sc.Step(`^the specified hooks should execute during evaluation$`, w.specifiedHooksExecute)
	sc.Step(`^the hook order should be maintained$`, w.hookOrderMaintained)

	sc.Step(`^an evaluation context with modifiable data$`, w.modifiableContext)
	sc.Step(`^the original evaluation context should remain unmodified$`, w.contextUnmodified)
	sc.Step(`^the evaluation details should be immutable$`, w.detailsImmutable)

	sc.Step(`^the flag was evaluated with details asynchronously$`, w.evaluatedAsynchronously)
	sc.Step(`^the evaluation should complete without blocking$`, w.completedWithoutBlocking)

	w.registerLegacy(sc)
	w.registerMerging(sc)
}

package conformance_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/cucumber/godog"
	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/provider"
)

// Steps of contextMerging.feature. The provider under test is ours, wrapped
// so that the test can read back the context the SDK handed it (the
// "retrievable context"): the wrapper records the flattened context and
// delegates every call.

// recordingProvider is our provider, recording the last context it was
// asked to evaluate with. Init, Shutdown and events are the provider's own.
type recordingProvider struct {
	*provider.Provider
	mu   sync.Mutex
	last of.FlattenedContext
}

func (r *recordingProvider) record(fc of.FlattenedContext) {
	r.mu.Lock()
	r.last = maps.Clone(fc)
	r.mu.Unlock()
}

func (r *recordingProvider) BooleanEvaluation(ctx context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	r.record(fc)
	return r.Provider.BooleanEvaluation(ctx, flag, def, fc)
}

func (r *recordingProvider) StringEvaluation(ctx context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	r.record(fc)
	return r.Provider.StringEvaluation(ctx, flag, def, fc)
}

func (r *recordingProvider) FloatEvaluation(ctx context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	r.record(fc)
	return r.Provider.FloatEvaluation(ctx, flag, def, fc)
}

func (r *recordingProvider) IntEvaluation(ctx context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	r.record(fc)
	return r.Provider.IntEvaluation(ctx, flag, def, fc)
}

func (r *recordingProvider) ObjectEvaluation(ctx context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	r.record(fc)
	return r.Provider.ObjectEvaluation(ctx, flag, def, fc)
}

// mergingState is what contextMerging.feature builds up.
type mergingState struct {
	rec         *recordingProvider
	levels      []string // the table of levels, by increasing precedence
	api         map[string]any
	transaction map[string]any
	invocation  map[string]any
	beforeHook  map[string]any
}

// contextHook adds its attributes to the context in its before stage.
type contextHook struct {
	of.UnimplementedHook
	attrs map[string]any
}

func (h contextHook) Before(context.Context, of.HookContext, of.HookHints) (*of.EvaluationContext, error) {
	ec := of.NewTargetlessEvaluationContext(h.attrs)
	return &ec, nil
}

func (w *world) retrievableContextProvider(ctx context.Context) error {
	rec := &recordingProvider{Provider: w.newProvider()}
	w.merging = &mergingState{rec: rec}
	return w.use(ctx, rec, true)
}

func addTo(m *map[string]any, key, value string) {
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)[key] = value
}

// addAtLevel adds key=value to a level's context. API and Client levels
// merge into what is already set there.
func (w *world) addAtLevel(key, value, level string) error {
	st := w.merging
	switch level {
	case "API":
		addTo(&st.api, key, value)
		w.b.api.SetEvaluationContext(of.NewTargetlessEvaluationContext(maps.Clone(st.api)))
	case "Transaction":
		addTo(&st.transaction, key, value)
	case "Client":
		attrs := maps.Clone(w.b.client.EvaluationContext().Attributes())
		addTo(&attrs, key, value)
		w.b.client.SetEvaluationContext(of.NewTargetlessEvaluationContext(attrs))
	case "Invocation":
		addTo(&st.invocation, key, value)
	case "Before Hooks":
		addTo(&st.beforeHook, key, value)
	default:
		return fmt.Errorf("unknown context level %q", level)
	}
	return nil
}

func (w *world) someFlagEvaluated(ctx context.Context) error {
	st := w.merging
	if st.transaction != nil {
		ctx = of.WithTransactionContext(ctx, of.NewTargetlessEvaluationContext(st.transaction))
	}
	var opts []of.Option
	if st.beforeHook != nil {
		opts = append(opts, of.WithHooks(contextHook{attrs: st.beforeHook}))
	}
	d, err := w.b.client.BooleanValueDetails(ctx, "boolean-flag", false, of.NewTargetlessEvaluationContext(st.invocation), opts...)
	if err != nil {
		return fmt.Errorf("evaluating boolean-flag: %w", err)
	}
	if !d.Value {
		return fmt.Errorf("boolean-flag resolved to false (%s)", d.Reason)
	}
	return nil
}

func (w *world) mergedContextContains(key, value string) error {
	st := w.merging
	st.rec.mu.Lock()
	defer st.rec.mu.Unlock()
	if st.rec.last == nil {
		return fmt.Errorf("the provider was not asked to evaluate")
	}
	if got, ok := st.rec.last[key]; !ok || got != value {
		return fmt.Errorf("merged context has %s = %#v, want %q (context %v)", key, got, value, st.rec.last)
	}
	return nil
}

func (w *world) levelsTable(table *godog.Table) error {
	w.merging.levels = nil
	for _, row := range table.Rows {
		w.merging.levels = append(w.merging.levels, row.Cells[0].Value)
	}
	return nil
}

func (w *world) entriesDownTo(level, key, value string) error {
	i := slices.Index(w.merging.levels, level)
	if i < 0 {
		return fmt.Errorf("level %q is not in the table %v", level, w.merging.levels)
	}
	for _, l := range w.merging.levels[:i+1] {
		// Each level gets the value, the lower ones first, so that only
		// precedence decides which one the provider sees.
		v := value
		if l != level {
			v = l
		}
		if err := w.addAtLevel(key, v, l); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) registerMerging(sc *godog.ScenarioContext) {
	sc.Step(`^a stable provider with retrievable context is registered$`, w.retrievableContextProvider)
	sc.Step(`^A context entry with key "([^"]*)" and value "([^"]*)" is added to the "([^"]*)" level$`, w.addAtLevel)
	sc.Step(`^Some flag was evaluated$`, w.someFlagEvaluated)
	sc.Step(`^The merged context contains an entry with key "([^"]*)" and value "([^"]*)"$`, w.mergedContextContains)
	sc.Step(`^A table with levels of increasing precedence$`, w.levelsTable)
	sc.Step(`^Context entries for each level from API level down to the "([^"]*)" level, with key "([^"]*)" and value "([^"]*)"$`, w.entriesDownTo)
}
